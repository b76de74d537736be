"""Data quality: is each record correct, sufficient, clean and live?

Project 06 asks for data that is "đúng, đủ, sạch, sống". Each rule below
belongs to one of those four dimensions; a person's ``quality_issues`` holds
the codes of the rules it fails, so reports and search can show why.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.orm import Session, aliased

from dancu.registry.dates import PartialDate
from dancu.registry.models import (
    STANDING,
    HouseholdMember,
    Person,
    PlaceStatus,
    Residence,
    ResidenceKind,
    VitalStatus,
)
from dancu.registry.pin import InvalidPin, pin_mismatches

CORRECT, SUFFICIENT, CLEAN, LIVE = "correct", "sufficient", "clean", "live"
DIMENSIONS = (CORRECT, SUFFICIENT, CLEAN, LIVE)

# rule code -> dimension. Codes are stable identifiers (stored, translated in the UI).
RULES: dict[str, str] = {
    "missing_pin": SUFFICIENT,
    "missing_name": SUFFICIENT,
    "missing_birth_year": SUFFICIENT,
    "missing_sex": SUFFICIENT,
    "missing_ethnicity": SUFFICIENT,
    "missing_birth_place": SUFFICIENT,
    "missing_hometown": SUFFICIENT,
    "no_residence": SUFFICIENT,
    "invalid_pin": CORRECT,
    "pin_birth_year_mismatch": CORRECT,
    "pin_sex_mismatch": CORRECT,
    "impossible_birth_date": CORRECT,
    "birth_in_future": CORRECT,
    "implausible_age": CORRECT,
    "death_before_birth": CORRECT,
    "duplicate_pin": CLEAN,
    "child_older_than_parent": CLEAN,
    "duplicate_current_residence": CLEAN,
    "deceased_with_new_residence": LIVE,
    "deceased_without_date": LIVE,
    "expired_temporary_residence": LIVE,
}

MAX_AGE = 120
# A parent younger than this at the child's birth is taken as a linking error.
MIN_PARENT_AGE = 12

_ROW_COLUMNS = (
    Person.id, Person.pin, Person.family_name, Person.given_name, Person.birth_year, Person.birth_month,
    Person.birth_day, Person.sex, Person.ethnicity_code, Person.birth_place_status,
    Person.birth_registration_unit_id, Person.hometown_status, Person.hometown_unit_id, Person.status,
    Person.status_date, Person.home_unit_id, Person.quality_issues,
)


def row_issues(row, today: dt.date) -> list[str]:
    """Rules that can be decided from the person's own columns."""
    issues = []
    if not row.pin:
        issues.append("missing_pin")
    if not row.given_name or not row.family_name:
        issues.append("missing_name")
    if row.birth_year is None:
        issues.append("missing_birth_year")
    if row.sex is None:
        issues.append("missing_sex")
    if row.ethnicity_code is None:
        issues.append("missing_ethnicity")
    if row.birth_place_status == PlaceStatus.KNOWN and row.birth_registration_unit_id is None:
        issues.append("missing_birth_place")
    if row.hometown_status == PlaceStatus.KNOWN and row.hometown_unit_id is None:
        issues.append("missing_hometown")
    if row.pin:
        try:
            for problem in pin_mismatches(row.pin, row.birth_year, row.sex):
                issues.append("pin_birth_year_mismatch" if "year" in problem else "pin_sex_mismatch")
        except InvalidPin:
            issues.append("invalid_pin")
    birth = PartialDate(row.birth_year, row.birth_month, row.birth_day)
    if birth.impossibility():
        issues.append("impossible_birth_date")
    else:
        earliest = birth.earliest()
        if earliest and earliest > today:
            issues.append("birth_in_future")
        if earliest and row.status == VitalStatus.ALIVE and today.year - earliest.year > MAX_AGE:
            issues.append("implausible_age")
        if earliest and row.status_date and row.status_date < earliest and row.status == VitalStatus.DECEASED:
            issues.append("death_before_birth")
    if row.status == VitalStatus.DECEASED and row.status_date is None:
        issues.append("deceased_without_date")
    return issues


def encode(issues: Iterable[str]) -> str:
    """The stored form of a set of rule codes."""
    return ",".join(sorted(set(issues)))


# Persons to check: ids, a query returning ids, or None for the whole register.
Persons = list[int] | Select | None


def _set_based_issues(session: Session, persons: Persons, today: dt.date) -> dict[int, set[str]]:
    """Rules that compare a person with other rows (other persons, residences).

    Restricted to some persons, the result also names the others they
    involve: whoever shares their PIN, and their parents and children in a
    "child older than parent" pair.
    """
    found: dict[int, set[str]] = defaultdict(set)

    def restrict(query, column):
        return query.where(column.in_(persons)) if persons is not None else query

    # Among standing records only: a record retired by a merge shares its PIN with the survivor by design.
    duplicated = (select(Person.pin).where(Person.pin.is_not(None), STANDING)
                  .group_by(Person.pin).having(func.count() > 1))
    if persons is not None:
        duplicated = duplicated.where(Person.pin.in_(select(Person.pin).where(Person.id.in_(persons))))
    for (pid,) in session.execute(select(Person.id).where(Person.pin.in_(duplicated), STANDING)):
        found[pid].add("duplicate_pin")

    for parent_column in (Person.father_id, Person.mother_id):
        parent = aliased(Person)
        pairs = (
            select(Person.id, parent.id)
            .join(parent, parent.id == parent_column)
            .where(Person.birth_year.is_not(None), parent.birth_year.is_not(None),
                   Person.birth_year - parent.birth_year < MIN_PARENT_AGE)
        )
        # Two queries, not one with OR: each side then probes its own index.
        for query in [pairs] if persons is None else [pairs.where(Person.id.in_(persons)),
                                                      pairs.where(parent.id.in_(persons))]:
            for child_id, parent_id in session.execute(query):
                found[child_id].add("child_older_than_parent")
                found[parent_id].add("child_older_than_parent")

    # Two current residences of one kind, or two current households: what concurrent moves left before the
    # unique indexes of migration 0009, which keep new ones out of the tables.
    for table, group in ((Residence, (Residence.kind,)), (HouseholdMember, ())):
        query = (select(table.person_id).where(table.valid_to.is_(None))
                 .group_by(table.person_id, *group).having(func.count() > 1))
        for (pid,) in session.execute(restrict(query, table.person_id)):
            found[pid].add("duplicate_current_residence")

    query = (
        select(Person.id).join(Residence, Residence.person_id == Person.id)
        .where(Person.status == VitalStatus.DECEASED, Person.status_date.is_not(None),
               Residence.valid_from > Person.status_date)
    )
    for (pid,) in session.execute(restrict(query, Person.id)):
        found[pid].add("deceased_with_new_residence")

    query = select(Residence.person_id).where(
        Residence.kind == ResidenceKind.TEMPORARY, Residence.valid_to.is_(None),
        Residence.expires_on.is_not(None), Residence.expires_on < today,
    )
    for (pid,) in session.execute(restrict(query, Residence.person_id)):
        found[pid].add("expired_temporary_residence")

    has_residence = select(Residence.person_id).where(
        Residence.person_id == Person.id, Residence.valid_to.is_(None)
    ).exists()
    query = select(Person.id).where(Person.status == VitalStatus.ALIVE, ~has_residence)
    for (pid,) in session.execute(restrict(query, Person.id)):
        found[pid].add("no_residence")
    return found


def _store(session: Session, updates: list[dict]) -> int:
    """Write changed findings ({"pid", "issues"} each) in one executemany; how many."""
    if updates:
        table = Person.__table__
        session.connection().execute(
            update(table).where(table.c.id == bindparam("pid")).values(quality_issues=bindparam("issues")), updates)
    return len(updates)


def recompute(session: Session, person_ids: Iterable[int] | None = None, batch: int = 20_000) -> int:
    """Recompute ``quality_issues`` for the given persons (all when None).

    Returns how many records changed. Only changed rows are written, so a
    re-run over a clean register costs reads only.
    """
    ids = None
    if person_ids is not None:
        # Whoever shares a PIN with these persons may gain or lose "duplicate_pin".
        ids = set(person_ids)
        holders = select(Person.pin).where(Person.id.in_(ids), Person.pin.is_not(None))
        ids = sorted(ids.union(session.scalars(select(Person.id).where(Person.pin.in_(holders)))))
    today = dt.date.today()
    changed = 0
    id_chunks = [ids[i:i + batch] for i in range(0, len(ids), batch)] if ids is not None else [None]
    for chunk in id_chunks:
        cross = _set_based_issues(session, chunk, today)
        last_id = 0
        while True:
            query = select(*_ROW_COLUMNS).order_by(Person.id).limit(batch)
            query = query.where(Person.id.in_(chunk)) if chunk is not None else query.where(Person.id > last_id)
            rows = session.execute(query).all()
            if not rows:
                break
            updates = []
            for row in rows:
                encoded = encode([*row_issues(row, today), *cross.get(row.id, ())])
                if encoded != row.quality_issues:
                    updates.append({"pid": row.id, "issues": encoded})
            changed += _store(session, updates)
            if chunk is not None:
                break
            last_id = rows[-1].id
    session.flush()
    return changed


def add_cross_issues(session: Session, persons: Select, batch: int = 20_000) -> int:
    """Add the findings of the rules that compare persons, keeping what is stored.

    For a load that only adds rows (an import, whose rows were written with
    their own-row findings): new persons can give others a finding (a shared
    PIN, a parent younger than a new child) but never take one away, so only
    the persons with a finding are read and written. Returns how many changed.
    """
    found = _set_based_issues(session, persons, dt.date.today())
    table = Person.__table__
    ids = sorted(found)
    changed = 0
    for start in range(0, len(ids), batch):
        stored = session.execute(
            select(table.c.id, table.c.quality_issues).where(table.c.id.in_(ids[start:start + batch])))
        updates = [
            {"pid": pid, "issues": merged}
            for pid, issues in stored
            if (merged := encode([*QualityStatus.from_column(issues).issues, *found[pid]])) != issues
        ]
        changed += _store(session, updates)
    return changed


@dataclass(frozen=True)
class QualityStatus:
    issues: tuple[str, ...]

    @classmethod
    def from_column(cls, value: str) -> QualityStatus:
        return cls(tuple(code for code in value.split(",") if code))

    def passes(self, dimension: str) -> bool:
        return not any(RULES.get(code) == dimension for code in self.issues)

    def failing(self, dimension: str) -> list[str]:
        return [code for code in self.issues if RULES.get(code) == dimension]

    def as_dict(self) -> dict[str, bool]:
        return {dimension: self.passes(dimension) for dimension in DIMENSIONS}


@dataclass
class UnitQuality:
    unit_id: int | None
    persons: int = 0
    passing_all: int = 0
    passing: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0))
    rule_counts: Counter = field(default_factory=Counter)


def tally_by_unit(session: Session, unit_ids: list[int] | None = None) -> dict[int | None, UnitQuality]:
    """Per home commune: persons, how many pass each dimension, which rules fail."""
    query = select(Person.home_unit_id, Person.quality_issues, func.count()).where(STANDING).group_by(
        Person.home_unit_id, Person.quality_issues
    )
    if unit_ids is not None:
        query = query.where(Person.home_unit_id.in_(unit_ids))
    tallies: dict[int | None, UnitQuality] = {}
    for unit_id, issues, count in session.execute(query):
        tally = tallies.setdefault(unit_id, UnitQuality(unit_id))
        status = QualityStatus.from_column(issues)
        tally.persons += count
        for dimension in DIMENSIONS:
            if status.passes(dimension):
                tally.passing[dimension] += count
        if not status.issues:
            tally.passing_all += count
        for code in status.issues:
            tally.rule_counts[code] += count
    return tallies
