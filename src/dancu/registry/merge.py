"""Merging two records of one person, keeping history, and undoing a merge exactly.

A merge retires one record into a surviving one: the survivor takes the
retired record's values where its own are missing (and its name as another
name), relatives pointing at the retired record point at the survivor, and
the retired record's open residences and household memberships are closed.
The retired record itself stays, with its events, as a source of the
survivor; reading it (by id, or finding it by its PIN) leads to the survivor.

Every row the merge changes is stored as it was before (``PersonMerge.before``)
and undo writes those rows back as they were, column for column. Both are
registry events in the persons' timelines; the events themselves stay, since
history is never rewritten.
"""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from dancu.accounts.services import Actor
from dancu.crypto import decrypt_text, encrypt_text
from dancu.db import lock_row
from dancu.registry import quality, services
from dancu.registry.dates import PartialDate
from dancu.registry.models import (
    Household,
    HouseholdMember,
    Person,
    PersonMerge,
    RegistryEvent,
    Residence,
)
from dancu.registry.policy import authorize
from dancu.text import normalize

# Values the survivor takes from the retired record when it has none of its own.
FILLED_FIELDS = ("pin", "sex", "ethnicity_code", "birth_registration_unit_id", "hometown_unit_id", "birth_country",
                 "father_id", "mother_id", "spouse_id")
RELATIONS = ("father_id", "mother_id", "spouse_id")
# A chain of redirects longer than this is a corrupted table, not a history.
MAX_REDIRECTS = 50
_TABLES = {"person": Person, "residence": Residence, "household_member": HouseholdMember, "household": Household}


class MergeError(services.RegistryError):
    """A merge or an undo that the register's rules refuse; the message is for the user."""

    code = "registry.merge_refused"


class MergeNotFound(LookupError):
    code = "registry.merge_not_found"


# ---- rows as JSON and back ---------------------------------------------------------------------


def _dump(row) -> dict:
    values = {}
    for column in row.__table__.columns:
        value = getattr(row, column.key)
        if column.key in services.SENSITIVE_FIELDS and value:
            value = encrypt_text(value)
        elif isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        values[column.key] = value
    return values


def _load_value(column: sa.Column, value):
    if value is None:
        return None
    if column.key in services.SENSITIVE_FIELDS:
        return decrypt_text(value)
    if isinstance(column.type, sa.DateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(column.type, sa.Date):
        return dt.date.fromisoformat(value)
    if isinstance(column.type, sa.Enum) and column.type.enum_class is not None:
        return column.type.enum_class(value)
    return value


def _restore(session: Session, before: dict) -> None:
    for table, rows in before.items():
        model = _TABLES[table]
        for row_id, values in rows.items():
            row = session.get(model, int(row_id))
            for column in model.__table__.columns:
                setattr(row, column.key, _load_value(column, values[column.key]))
                # written even when equal to the current value: else updated_at's onupdate would replace it
                flag_modified(row, column.key)


class _Before:
    """Collects each changed row once, as it was before the first change."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict]] = {table: {} for table in _TABLES}

    def keep(self, row) -> None:
        self.rows[row.__tablename__].setdefault(str(row.id), _dump(row))


# ---- redirects -------------------------------------------------------------------------------


def _active(session: Session):
    return select(PersonMerge).where(PersonMerge.undone_at.is_(None))


def survivor_of(session: Session, person_id: int) -> int:
    """The record that stands for ``person_id`` today: itself, or the survivor it was merged into."""
    current = person_id
    for _ in range(MAX_REDIRECTS):
        target = session.scalar(select(PersonMerge.survivor_id).where(PersonMerge.retired_id == current,
                                                                       PersonMerge.undone_at.is_(None)))
        if target is None:
            return current
        current = target
    raise MergeError(f"the merges of person {person_id} form a loop")


def persons_with_pin(session: Session, pin: str) -> list[int]:
    """The records standing for the persons who carry ``pin``: a retired record's PIN leads to its survivor."""
    found = session.scalars(select(Person.id).where(Person.pin == pin).order_by(Person.id)).all()
    return sorted({survivor_of(session, person_id) for person_id in found})


def retired_ids(session: Session) -> set[int]:
    """Records retired by a merge that stands: not persons of their own any more."""
    return set(session.scalars(select(PersonMerge.retired_id).where(PersonMerge.undone_at.is_(None))))


def merges_of(session: Session, person_id: int) -> list[PersonMerge]:
    """Merges that involve a person, most recent first (undone ones too: they are history)."""
    return list(session.scalars(
        select(PersonMerge).where(or_(PersonMerge.survivor_id == person_id, PersonMerge.retired_id == person_id))
        .order_by(PersonMerge.id.desc())))


def retired_record(merge: PersonMerge) -> dict:
    """The retired record's own data as it was before the merge: the survivor's source."""
    values = dict(merge.before["person"][str(merge.retired_id)])
    values.pop("religion", None)
    return values


# ---- merge and undo --------------------------------------------------------------------------


def _event(session: Session, actor: Actor, person: Person, kind: str, changes: dict, reason: str) -> RegistryEvent:
    return services._event(session, actor, person, kind, services._today(), changes=changes, reason=reason)


def _filled(survivor: Person, retired: Person) -> dict:
    """The survivor's values after taking what only the retired record knows."""
    values = {field: getattr(retired, field) for field in FILLED_FIELDS
              if getattr(survivor, field) in (None, "") and getattr(retired, field) not in (None, "")}
    own = PartialDate(survivor.birth_year, survivor.birth_month, survivor.birth_day)
    other = PartialDate(retired.birth_year, retired.birth_month, retired.birth_day)
    consistent = own.year is None or (own.year == other.year and own.month in (None, other.month))
    if consistent and len(other.iso() or "") > len(own.iso() or ""):
        values.update(birth_year=other.year, birth_month=other.month, birth_day=other.day)
    names = [name for name in survivor.other_names.split(";") if name]
    if normalize(retired.full_name) not in (survivor.full_name, *names):
        joined = ";".join([*names, normalize(retired.full_name)])
        if len(joined) <= 200:
            values["other_names"] = joined
    return values


def merge_persons(session: Session, actor: Actor, survivor_id: int, retired_id: int, reason: str,
                  origin: str = "") -> PersonMerge:
    """Retire ``retired_id`` into ``survivor_id``. Flushes; the caller commits."""
    for person_id in (survivor_id, retired_id):
        authorize(session, actor, "merge_persons", person_id=person_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise MergeError("give a reason for the merge (at least 3 characters)")
    if survivor_id == retired_id:
        raise MergeError("a record cannot be merged into itself")
    # Both records locked (in id order: a merge the other way round waits instead of deadlocking), so that
    # two merges of one record at once cannot both find it unmerged, nor a registrar change it meanwhile.
    locked = {person_id: services.lock_person(session, person_id) for person_id in sorted((survivor_id, retired_id))}
    survivor, retired = locked[survivor_id], locked[retired_id]
    for person in (survivor, retired):
        if survivor_of(session, person.id) != person.id:
            raise MergeError(f"person {person.id} was already merged into another record")
    if retired_id in {getattr(survivor, r) for r in RELATIONS} or survivor_id in {getattr(retired, r) for r in RELATIONS}:
        raise MergeError("one record names the other as a relative: they are two persons")

    before, today = _Before(), services._today()
    relatives = session.scalars(select(Person).where(or_(*(getattr(Person, r) == retired_id for r in RELATIONS)),
                                                     Person.id.not_in((survivor_id, retired_id)))).all()
    residences = session.scalars(select(Residence).where(Residence.person_id == retired_id,
                                                         Residence.valid_to.is_(None))).all()
    memberships = session.scalars(select(HouseholdMember).where(HouseholdMember.person_id == retired_id,
                                                                HouseholdMember.valid_to.is_(None))).all()
    headed = session.scalars(select(Household).where(Household.head_person_id == retired_id)).all()
    for row in (survivor, retired, *relatives, *residences, *memberships, *headed):
        before.keep(row)

    filled = _filled(survivor, retired)
    survivor_changes = services._apply(survivor, filled)
    retired_changes = services._apply(retired, {"home_unit_id": None})
    for residence in residences:
        residence.valid_to = max(today, residence.valid_from)
    for membership in memberships:
        membership.valid_to = max(today, membership.valid_from)
    survivor_households = {m.household_id for m in session.scalars(
        select(HouseholdMember).where(HouseholdMember.person_id == survivor_id, HouseholdMember.valid_to.is_(None)))}
    for household in headed:
        household.head_person_id = survivor_id if household.id in survivor_households else None

    merge = PersonMerge(survivor_id=survivor_id, retired_id=retired_id, actor=actor.username,
                        merged_at=services._now(), reason=reason[:500], origin=origin[:120], before=before.rows)
    session.add(merge)
    session.flush()
    _event(session, actor, survivor, "records_merged",
           {**survivor_changes, "merged_person_id": [None, retired_id], "merge_id": [None, merge.id]}, reason)
    _event(session, actor, retired, "merged_into",
           {**retired_changes, "merged_into_person_id": [None, survivor_id], "merge_id": [None, merge.id]}, reason)
    for relative in relatives:
        changes = services._apply(relative, {r: survivor_id for r in RELATIONS if getattr(relative, r) == retired_id})
        _event(session, actor, relative, "relative_merged", {**changes, "merge_id": [None, merge.id]}, reason)
    session.flush()
    quality.recompute(session, [survivor_id, retired_id, *(relative.id for relative in relatives)])
    return merge


def get_merge(session: Session, merge_id: int) -> PersonMerge:
    merge = session.get(PersonMerge, merge_id)
    if merge is None:
        raise MergeNotFound(f"no merge with id {merge_id}")
    return merge


def undo_merge(session: Session, actor: Actor, merge_id: int, reason: str) -> PersonMerge:
    """Write back every row the merge changed, as it was. Flushes; the caller commits.

    Refused when a later merge involves either record or either record
    changed since: writing old rows back would then erase those changes.
    """
    authorize(session, actor, "undo_merge")
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise MergeError("give a reason for undoing the merge (at least 3 characters)")
    merge = get_merge(session, merge_id)
    for person_id in (merge.survivor_id, merge.retired_id):
        authorize(session, actor, "undo_merge", person_id=person_id)
    # As the merge did: both records, then the merge itself, so that two undos at once write back once.
    for person_id in sorted((merge.survivor_id, merge.retired_id)):
        services.lock_person(session, person_id)
    merge = lock_row(session, PersonMerge, merge.id)
    if merge.undone_at is not None:
        raise MergeError("this merge was already undone")
    persons = [int(person_id) for person_id in merge.before["person"]]
    later = session.scalar(_active(session).where(PersonMerge.id > merge.id, or_(
        PersonMerge.survivor_id.in_(persons), PersonMerge.retired_id.in_(persons))).limit(1))
    if later is not None:
        raise MergeError(f"undo the later merge {later.id} of these records first")
    merge_events = {event.id for event in session.scalars(select(RegistryEvent).where(
        RegistryEvent.person_id.in_(persons), RegistryEvent.recorded_at >= merge.merged_at))
        if event.changes.get("merge_id") == [None, merge.id]}
    changed_since = session.scalar(select(RegistryEvent.id).where(
        RegistryEvent.person_id.in_(persons), RegistryEvent.recorded_at >= merge.merged_at,
        RegistryEvent.id.not_in(merge_events or {0})).limit(1))
    if changed_since is not None:
        raise MergeError("these records changed after the merge: undoing it would erase that change")

    current = {person_id: services._snapshot(services._load(session, person_id)) for person_id in persons}
    _restore(session, merge.before)
    session.flush()
    merge.undone_at, merge.undone_by = services._now(), actor.username
    for person_id in persons:
        person = services._load(session, person_id)
        restored = services._snapshot(person)
        changes = {field: services._encoded_change(field, services._plain(current[person_id][field]),
                                                   services._plain(restored[field]))
                   for field in restored if current[person_id][field] != restored[field]}
        changes["merge_id"] = [merge.id, None]
        # the event must not touch the restored row: updated_at is part of the state put back
        session.add(RegistryEvent(person_id=person_id, kind="merge_undone", effective_on=services._today(),
                                  recorded_at=services._now(), actor=actor.username, reason=reason[:500],
                                  changes=changes))
    session.flush()
    return merge
