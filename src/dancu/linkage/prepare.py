"""Vietnamese-aware preparation of person rows for probabilistic linkage.

Rows come in the exchange format (docs/data-format.md). Each becomes a flat
record of the columns the Splink model compares: accent-folded name parts,
the name's words in a fixed order (to recognise "An Nguyễn Văn" as
"Nguyễn Văn An"), the parts of a partial birth date, and every unit
reference converted to today's commune and province, so that a pre-2025
code and its successor compare equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa
from sqlalchemy.orm import Session

from dancu import tabular
from dancu.registry.dates import PartialDate
from dancu.text import fold, split_full_name
from dancu.units import services as units

# The columns of a prepared record, in the order the model's input table holds them.
PREPARED_COLUMNS: tuple[str, ...] = (
    "unique_id", "pin", "family_f", "middle_f", "given_f", "name_words", "birth_year", "birth_month",
    "birth_day", "birth_date", "sex", "commune", "province", "hometown", "hometown_province",
    "birthplace", "birthplace_province", "relatives",
)
# Integer and list-of-text columns; every other prepared column is text.
INTEGER_COLUMNS = frozenset({"birth_year", "birth_month", "birth_day"})
LIST_COLUMNS = frozenset({"relatives"})
_RELATIVE_COLUMNS = ("father_record_id", "mother_record_id", "spouse_record_id")


class UnitNormaliser:
    """Unit references (``26740``, ``legacy:26740``) -> (today's commune code, its province code).

    Built once from the unit tables through ``dancu.units.services``; a
    reference that names no unit, or one with no successor today, gives
    ``(None, None)``: an unknown place is missing evidence, not a mismatch.
    """

    def __init__(self, session: Session) -> None:
        by_id: dict[int, tuple[str, str]] = {}
        for province in units.list_provinces(session):
            for commune in units.list_communes(session, province.code):
                by_id[commune.id] = (commune.code, commune.province_code)
        self._today = {ref: by_id[unit_id] for ref, unit_id in units.unit_ref_index(session).items()
                       if unit_id in by_id}

    def __call__(self, ref: str | None) -> tuple[str | None, str | None]:
        return self._today.get((ref or "").strip(), (None, None))


def _text(value: str | None) -> str | None:
    """Folded text, or None for an empty value: Splink treats NULL as "not known"."""
    folded = fold(value or "")
    return folded or None


def _pin(value: str | None) -> str | None:
    digits = (value or "").strip()
    return digits if len(digits) == 12 and digits.isdigit() else None


def _birth(value: str | None) -> PartialDate:
    try:
        return PartialDate.parse(value or "")
    except ValueError:
        # linkage reads whatever a source holds; an impossible date is simply unknown
        return PartialDate(None)


def prepare_row(row: dict[str, str], normalise_unit: UnitNormaliser) -> dict[str, str | int | None]:
    """One exchange-format row as the model's input record."""
    family, middle, given = (row.get("family_name") or "", row.get("middle_name") or "", row.get("given_name") or "")
    if not (family or given) and row.get("full_name"):
        family, middle, given = split_full_name(row["full_name"])
    family_f, middle_f, given_f = _text(family), _text(middle), _text(given)
    words = " ".join(sorted(" ".join(p for p in (family_f, middle_f, given_f) if p).split()))
    birth = _birth(row.get("birth_date"))
    # the commune someone lives in: the permanent residence, else the temporary one
    commune, province = normalise_unit(row.get("permanent_unit") or row.get("temporary_unit"))
    hometown, hometown_province = normalise_unit(row.get("hometown_unit"))
    birthplace, birthplace_province = normalise_unit(row.get("birth_registration_unit"))
    sex = (row.get("sex") or "").strip().upper()
    relatives = sorted({ref for column in _RELATIVE_COLUMNS if (ref := (row.get(column) or "").strip())})
    return {
        "unique_id": row["record_id"].strip(),
        "pin": _pin(row.get("pin")),
        "family_f": family_f,
        "middle_f": middle_f,
        "given_f": given_f,
        "name_words": words or None,
        "birth_year": birth.year,
        "birth_month": birth.month,
        "birth_day": birth.day,
        "birth_date": birth.iso() or None,
        "sex": sex if sex in ("M", "F") else None,
        "commune": commune,
        "province": province,
        "hometown": hometown,
        "hometown_province": hometown_province,
        "birthplace": birthplace,
        "birthplace_province": birthplace_province,
        # the records this one names as father, mother or spouse: never the same person
        "relatives": relatives or None,
    }


def _arrow_type(column: str) -> pa.DataType:
    if column in INTEGER_COLUMNS:
        return pa.int32()
    return pa.list_(pa.string()) if column in LIST_COLUMNS else pa.string()


SCHEMA = pa.schema([(column, _arrow_type(column)) for column in PREPARED_COLUMNS])


def prepare_table(rows: Iterable[dict[str, str]], normalise_unit: UnitNormaliser, batch_size: int = 50_000,
                  advance: Callable[[int], None] | None = None) -> pa.Table:
    """Prepared rows as an Arrow table, built batch by batch so that memory holds
    columns, not one Python dict per person."""
    batches: list[pa.RecordBatch] = []
    columns: dict[str, list] = {column: [] for column in PREPARED_COLUMNS}
    size = 0

    def flush() -> None:
        nonlocal size
        batches.append(pa.RecordBatch.from_pydict(columns, schema=SCHEMA))
        for values in columns.values():
            values.clear()
        if advance is not None:
            advance(size)
        size = 0

    for row in rows:
        for column, value in prepare_row(row, normalise_unit).items():
            columns[column].append(value)
        size += 1
        if size == batch_size:
            flush()
    flush()
    return pa.Table.from_batches(batches, schema=SCHEMA)


# ---- reading files in the exchange format --------------------------------------------------------

# The exchange format's columns; a wider file (an agency's extract) reads too, its other columns ignored.
PERSON_FILE = tabular.Layout(tabular.COLUMNS, closed=False)


def read_rows(path: Path, encoding: str = tabular.DEFAULT_ENCODING,
              rejected: list[tabular.Rejection] | None = None) -> Iterator[dict[str, str]]:
    """Rows of an exchange-format file (CSV or JSON Lines, optionally gzipped) as dicts of its columns.

    The file is read as `dancu import` reads it (``dancu.tabular``): a fault of
    the whole file raises ValueError; a row that cannot be read, or has no
    ``record_id``, is left out and added to ``rejected``.
    """
    return tabular.rows(path, PERSON_FILE, encoding, rejected)
