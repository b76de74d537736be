"""Person search behind one interface, with a backend per database.

PostgreSQL: the folded name (``dancu_fold``, built on unaccent) equal to the
query or starting with it, through a B-tree; when nobody carries that name,
trigram similarity (pg_trgm) finds near misses. SQLite: an FTS5 index of the
folded name. Both find "Nguyễn Văn An" from "nguyen van an" and rank an exact
(accented) match first.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Integer, Select, case, column, func, select, text
from sqlalchemy.orm import Session

from dancu.db import is_postgres
from dancu.registry.models import Person
from dancu.text import fold, normalize

# Above this similarity a name counts as a match: tolerant of one typo in a
# three-word name, strict enough that "Nguyễn Văn X" does not match every Nguyễn Văn.
TRIGRAM_THRESHOLD = 0.6


@dataclass(frozen=True)
class NameMatch:
    """Which persons match a name query, and in what order."""

    condition: object
    order_by: list


def _ranking(raw: str, folded: str) -> list:
    return [
        case((Person.full_name == raw, 0), else_=1),
        case((Person.name_folded == folded, 0), else_=1),
    ]


def _like_prefix(folded: str) -> str:
    escaped = folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + " %"


def _postgres_match(session: Session, raw: str, folded: str) -> NameMatch:
    # The folded query is computed in Python (fold() == dancu_fold(), which the
    # tests check) so that the planner sees constants it can take to an index.
    exact_or_prefix = (Person.name_folded == folded) | Person.name_folded.like(_like_prefix(folded))
    if session.scalar(select(Person.id).where(exact_or_prefix).limit(1)) is not None:
        # Someone carries this name (or a longer one starting with it): a
        # B-tree range, however common the name is.
        return NameMatch(exact_or_prefix, _ranking(raw, folded) + [Person.full_name])
    # Nobody does: a misspelt or partly remembered name, matched by trigram similarity.
    session.execute(
        text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"), {"t": str(TRIGRAM_THRESHOLD)}
    )
    return NameMatch(Person.name_folded.op("%")(folded),
                     _ranking(raw, folded) + [func.similarity(Person.name_folded, folded).desc()])


def _fts_expression(folded: str) -> str:
    # Every word must occur; the last one may be a prefix (type-ahead). Words
    # are quoted so that FTS5 operators typed by a user are taken literally.
    # Control characters (NUL ends an FTS5 string early) are dropped with the quotes.
    words = ["".join(ch for ch in w if ch != '"' and ch.isprintable()) for w in folded.split()]
    words = [w for w in words if w]
    if not words:
        return '""'
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " AND ".join(quoted)


def _sqlite_match(raw: str, folded: str) -> NameMatch:
    matching = text("SELECT rowid FROM person_fts WHERE person_fts MATCH :expr").bindparams(
        expr=_fts_expression(folded)
    ).columns(column("rowid", Integer))
    return NameMatch(Person.id.in_(matching), _ranking(raw, folded) + [Person.full_name])


def name_match(session: Session, query_text: str) -> NameMatch:
    raw = normalize(query_text)
    folded = fold(raw)
    if is_postgres(session):
        return _postgres_match(session, raw, folded)
    return _sqlite_match(raw, folded)


def apply_name_match(session: Session, query: Select, query_text: str) -> tuple[Select, list]:
    match = name_match(session, query_text)
    return query.where(match.condition), match.order_by
