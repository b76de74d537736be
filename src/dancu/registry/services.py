"""The registry's domain logic: search, read with purpose, registrar actions, history.

Every read of a person's data goes through a function here that takes a
purpose and writes it to the access log in the same transaction. Every change
is a ``RegistryEvent`` holding what changed, so a record can be rewound to any
past date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import Row, Select, func, or_, select
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor
from dancu.audit.services import record_access, record_accesses, require_purpose
from dancu.crypto import decrypt_text, encrypt_text
from dancu.db import ConcurrentChange, lock_key, lock_row
from dancu.registry import policy, quality
from dancu.registry.dates import PartialDate
from dancu.registry.models import (
    STANDING,
    Household,
    HouseholdMember,
    Person,
    RegistryEvent,
    Residence,
    ResidenceApplication,
    ResidenceKind,
    VitalStatus,
)
from dancu.registry.pin import make_pin
from dancu.registry.policy import RULES, HouseholdNotFound, PersonNotFound, authorize
from dancu.registry.reference import ETHNIC_GROUPS
from dancu.registry.schemas import (
    BirthRegistration,
    CorrectionInput,
    DeathInput,
    EventView,
    HouseholdMemberView,
    HouseholdView,
    PermanentResidenceInput,
    PersonDetail,
    PersonQuery,
    PersonRegistration,
    PersonSummary,
    QualityReport,
    QualityView,
    RelativeView,
    ResidenceView,
    SearchPage,
    TemporaryResidenceInput,
    UnitQualityRow,
)
from dancu.registry.search import apply_name_match
from dancu.text import fold, join_name, normalize
from dancu.units import services as units

SENSITIVE_FIELDS = frozenset({"religion"})


class RegistryError(ValueError):
    """A registrar action that the register's rules refuse; the message is for the user."""

    code = "registry.refused"


def _today() -> dt.date:
    return dt.date.today()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _load(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise PersonNotFound(f"no person with id {person_id}")
    return person


def lock_person(session: Session, person_id: int, expected_version: int | None = None) -> Person:
    """The person, locked until the transaction ends: every change of a person starts here.

    A change reads the record (its current residence, household, status),
    decides, then writes; two at once for one person would both decide on the
    same state (two moves leaving two current residences). The lock makes the
    second wait and decide on what the first wrote. ``expected_version`` is the
    version the caller read the record at: when it changed since (a double
    submit, two registrars at once), the change is refused.
    """
    person = lock_row(session, Person, person_id)
    if person is None:
        raise PersonNotFound(f"no person with id {person_id}")
    check_version(person, expected_version)
    return person


def check_version(person: Person, expected_version: int | None) -> None:
    """Refuses a change decided on an older read of the record (``expected_version``)."""
    if expected_version is not None and person.version != expected_version:
        raise ConcurrentChange("this record was changed since you opened it; reload it and try again")


def _lock_authorized(session: Session, actor: Actor, action: str, person_id: int, expected_version: int | None,
                     **targets) -> Person:
    """Locks the person, then checks the action's rule, then the version read.

    The lock comes first so that the scope is decided on a state no concurrent
    change can alter (a person moving out of the area at that instant is not
    changed once more by the area left); the version comes last so that an
    out-of-area person answers as missing, never as "changed". A role that may
    never do the action is refused before anything is locked or looked up.
    """
    actor.require(*RULES[action].roles)
    person = lock_person(session, person_id)
    authorize(session, actor, action, person_id=person_id, **targets)
    check_version(person, expected_version)
    return person


def _commune(session: Session, unit_id: int):
    unit = units.get_unit(session, unit_id)
    if unit is None or unit.level != "commune" or unit.scheme != units.current_scheme(session):
        raise RegistryError(f"unit {unit_id} is not a commune in force today")
    return unit


# ---- search --------------------------------------------------------------------------------


def _birth_display(person: Person | Row) -> str:
    return PartialDate(person.birth_year, person.birth_month, person.birth_day).display()


def _label(session: Session, unit_id: int | None) -> str:
    return units.unit_label(session, unit_id) if unit_id else ""


# Lists read only these, as plain rows: no ORM objects to build (every search pays for them) and no
# sensitive field to decrypt.
_SUMMARY_COLUMNS = (
    Person.id, Person.pin, Person.full_name, Person.birth_year, Person.birth_month, Person.birth_day, Person.sex,
    Person.home_unit_id, Person.status, Person.quality_issues,
)


def _summary(session: Session, person: Row) -> PersonSummary:
    return PersonSummary(
        id=person.id, pin=person.pin, full_name=person.full_name, birth_date=_birth_display(person), sex=person.sex,
        home_unit_id=person.home_unit_id, home_unit_label=_label(session, person.home_unit_id), status=person.status,
        quality_issues=[code for code in person.quality_issues.split(",") if code],
    )


def _total(session: Session, stmt: Select, page: int, page_size: int, rows_on_page: int) -> int:
    """Matches in all; a first page that is not full already says how many (most PIN lookups)."""
    if page == 1 and rows_on_page < page_size:
        return rows_on_page
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def search_persons(session: Session, actor: Actor, query: PersonQuery, purpose: str) -> SearchPage:
    authorize(session, actor, "search_persons")
    purpose = require_purpose(purpose)
    stmt = select(*_SUMMARY_COLUMNS)
    order: list = []
    text_query = query.text.strip()
    pin = query.pin or (text_query if text_query.isdigit() and len(text_query) == 12 else None)
    if pin:
        # A retired record still answers for its PIN: its page leads to the survivor.
        stmt = stmt.where(Person.pin == pin)
    elif query.birth_year is None and query.birth_date is None and query.unit_id is None and not text_query:
        raise RegistryError("give a name, a PIN, a date of birth or a commune to search")
    else:
        stmt = stmt.where(STANDING)
        if text_query:
            stmt, order = apply_name_match(session, stmt, text_query)
    if query.birth_date:
        date = PartialDate.parse(query.birth_date)
        stmt = stmt.where(Person.birth_year == date.year)
        if date.month:
            stmt = stmt.where(Person.birth_month == date.month)
        if date.day:
            stmt = stmt.where(Person.birth_day == date.day)
    elif query.birth_year:
        stmt = stmt.where(Person.birth_year == query.birth_year)
    if query.unit_id:
        stmt = stmt.where(Person.home_unit_id.in_(units.units_within(session, query.unit_id)))
    scope = policy.scope_condition(session, actor)
    if scope is not None:
        stmt = stmt.where(scope)
    rows = session.execute(
        stmt.order_by(*order, Person.id).limit(query.page_size).offset((query.page - 1) * query.page_size)
    ).all()
    total = _total(session, stmt, query.page, query.page_size, len(rows))
    page = SearchPage(
        items=[_summary(session, p) for p in rows],
        total=total,
        page=query.page,
        page_size=query.page_size,
    )
    record_accesses(
        session, actor, "search_hit", "person", [p.id for p in rows], purpose,
        detail=f"query={text_query or pin or ''} birth={query.birth_date or query.birth_year or ''}",
    )
    return page


# ---- reading a record, now or as of a past date --------------------------------------------


def _decoded_changes(changes: dict) -> dict[str, list]:
    return {
        field: [decrypt_text(v) if field in SENSITIVE_FIELDS and v else v for v in values]
        for field, values in changes.items()
    }


def _encoded_change(field: str, before, after) -> list:
    if field in SENSITIVE_FIELDS:
        return [encrypt_text(before) if before else before, encrypt_text(after) if after else after]
    return [before, after]


_FIELD_ATTRS = (
    "pin", "family_name", "middle_name", "given_name", "full_name", "other_names", "birth_year", "birth_month",
    "birth_day", "sex", "nationalities", "citizenship_basis", "naturalized_on", "ethnicity_code", "religion",
    "birth_place_status", "birth_registration_unit_id", "birth_country", "hometown_status", "hometown_unit_id",
    "father_id", "mother_id", "spouse_id", "status", "status_date", "home_unit_id",
)


def _snapshot(person: Person) -> dict:
    return {name: getattr(person, name) for name in _FIELD_ATTRS}


def _plain(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    return getattr(value, "value", value)


def _rewind(state: dict, events: Iterable[RegistryEvent], as_of: dt.date) -> dict:
    """Undo, newest first, every change that took effect after ``as_of``."""
    for event in sorted(events, key=lambda e: (e.effective_on, e.id), reverse=True):
        if event.effective_on <= as_of:
            break
        for field, (before, _after) in _decoded_changes(event.changes).items():
            if field in state:
                state[field] = before
    return state


def get_person(session: Session, actor: Actor, person_id: int, purpose: str,
               as_of: dt.date | None = None, *, relatives: bool = True) -> PersonDetail:
    """The record (as of a past date), with the relatives and household members of the actor's area.

    Their names and birth dates are shown, so each is logged as read too; a caller that passes on only the
    person's own data (e-ID claims) asks for ``relatives=False`` and reads (and logs) the person alone.
    """
    purpose = require_purpose(purpose)
    from dancu.registry.merge import survivor_of  # here: the merge module builds on this one
    requested_id, person_id = person_id, survivor_of(session, person_id)
    authorize(session, actor, "read_person", person_id=person_id)
    person = _load(session, person_id)
    events = session.scalars(
        select(RegistryEvent).where(RegistryEvent.person_id == person_id).order_by(RegistryEvent.effective_on,
                                                                                   RegistryEvent.id)
    ).all()
    state = {name: _plain(value) for name, value in _snapshot(person).items()}
    if as_of is not None:
        birth = PartialDate(person.birth_year, person.birth_month, person.birth_day).earliest()
        if birth and birth > as_of:
            raise PersonNotFound(f"this person was not born yet on {as_of.isoformat()}")
        state = _rewind(state, events, as_of)
        events = [e for e in events if e.effective_on <= as_of]

    residences = sorted(
        (r for r in person.residences if as_of is None or r.valid_from <= as_of),
        key=lambda r: (r.valid_from, r.id), reverse=True,
    )
    current_permanent = next(
        (r for r in residences if r.kind == ResidenceKind.PERMANENT and _open_on(r, as_of)), None
    )
    household = None
    # A person staying in the area may have their household elsewhere: its members are not shown then.
    if (relatives and current_permanent and current_permanent.household_id
            and policy.unit_in_scope(session, actor, current_permanent.unit_id)):
        household = _household_view(session, current_permanent.household_id, as_of)
    related, shown = [], []
    for relation in ("father", "mother", "spouse") if relatives else ():
        relative_id = state[f"{relation}_id"]
        if relative_id and policy.person_in_scope(session, actor, relative_id):
            relative = session.get(Person, relative_id)
            related.append(RelativeView(relation=relation, person_id=relative.id,
                                        full_name=relative.full_name, birth_date=_birth_display(relative)))
            shown.append(relative.id)
        elif relative_id:
            # Outside the actor's area: that there is such a relative, nothing about who.
            related.append(RelativeView(relation=relation))
    birth = PartialDate(state["birth_year"], state["birth_month"], state["birth_day"])
    issues = [c for c in person.quality_issues.split(",") if c]
    status = quality.QualityStatus(tuple(issues))
    detail = PersonDetail(
        id=person.id, redirected_from=requested_id if requested_id != person_id else None, version=person.version,
        as_of=as_of, pin=state["pin"], family_name=state["family_name"],
        middle_name=state["middle_name"], given_name=state["given_name"],
        full_name=join_name(state["family_name"], state["middle_name"], state["given_name"]) or state["full_name"],
        other_names=state["other_names"], birth_date=birth.display(), birth_date_iso=birth.iso(),
        sex=state["sex"], nationalities=[n for n in (state["nationalities"] or "").split(";") if n],
        citizenship_basis=state["citizenship_basis"],
        naturalized_on=state["naturalized_on"], ethnicity_code=state["ethnicity_code"],
        ethnicity=ETHNIC_GROUPS.get(state["ethnicity_code"]) if state["ethnicity_code"] else None,
        religion=state["religion"], birth_place_status=state["birth_place_status"],
        birth_registration_unit_id=state["birth_registration_unit_id"],
        birth_registration_unit_label=_label(session, state["birth_registration_unit_id"]) or None,
        birth_country=state["birth_country"], hometown_status=state["hometown_status"],
        hometown_unit_id=state["hometown_unit_id"],
        hometown_unit_label=_label(session, state["hometown_unit_id"]) or None,
        status=state["status"], status_date=state["status_date"], home_unit_id=state["home_unit_id"],
        relatives=related,
        residences=[
            ResidenceView(id=r.id, kind=r.kind.value, unit_id=r.unit_id, unit_label=_label(session, r.unit_id),
                          address_line=r.address_line, household_id=r.household_id, valid_from=r.valid_from,
                          valid_to=r.valid_to if as_of is None or (r.valid_to and r.valid_to <= as_of) else None,
                          expires_on=r.expires_on)
            for r in residences
        ],
        household=household,
        events=[
            EventView(id=e.id, kind=e.kind, effective_on=e.effective_on, recorded_at=e.recorded_at, actor=e.actor,
                      reason=e.reason, changes=_decoded_changes(e.changes))
            for e in reversed(events)
        ],
        quality=QualityView(dimensions=status.as_dict(), issues=issues),
    )
    record_access(session, actor, "read", "person", person_id, purpose,
                  detail=f"as_of={as_of.isoformat()}" if as_of else "")
    # Relatives and household members appear on the record with name and birth date: those are reads too.
    shown += [m.person_id for m in household.members if m.person_id != person_id] if household else []
    record_accesses(session, actor, "read_relative", "person", shown, purpose, detail=f"record of person {person_id}")
    return detail


def _open_on(residence: Residence, as_of: dt.date | None) -> bool:
    if as_of is None:
        return residence.valid_to is None
    return residence.valid_from <= as_of and (residence.valid_to is None or residence.valid_to > as_of)


def _household_view(session: Session, household_id: int, as_of: dt.date | None = None) -> HouseholdView:
    household = session.get(Household, household_id)
    if household is None:
        raise HouseholdNotFound(f"no household with id {household_id}")
    members = [
        m for m in household.members
        if (m.valid_to is None if as_of is None else m.valid_from <= as_of and (m.valid_to is None or m.valid_to > as_of))
    ]
    members.sort(key=lambda m: (m.relationship_to_head != "head", m.person.birth_year or 0))
    return HouseholdView(
        id=household.id, code=household.code, unit_id=household.unit_id, unit_label=_label(session, household.unit_id),
        address_line=household.address_line, head_person_id=household.head_person_id,
        members=[
            HouseholdMemberView(person_id=m.person_id, full_name=m.person.full_name,
                                birth_date=_birth_display(m.person), relationship_to_head=m.relationship_to_head,
                                valid_from=m.valid_from)
            for m in members
        ],
    )


def get_household(session: Session, actor: Actor, household_id: int, purpose: str) -> HouseholdView:
    household = session.get(Household, household_id)
    authorize(session, actor, "read_household", household=household)
    if household is None:
        raise policy.household_not_found(household_id)
    view = _household_view(session, household_id)
    record_accesses(session, actor, "read_household", "person", [m.person_id for m in view.members], purpose,
                    detail=f"household={view.code}")
    return view


# ---- registrar actions ---------------------------------------------------------------------


def _event(session: Session, actor: Actor, person: Person, kind: str, effective_on: dt.date,
           changes: dict | None = None, unit_id: int | None = None, reason: str = "") -> RegistryEvent:
    event = RegistryEvent(
        person_id=person.id, kind=kind, effective_on=effective_on, recorded_at=_now(), actor=actor.username,
        unit_id=unit_id, reason=reason, changes=changes or {},
    )
    person.version += 1
    session.add(event)
    session.flush()
    return event


def _apply(person: Person, values: dict) -> dict:
    """Set attributes and return the {field: [before, after]} of what really changed."""
    changes = {}
    for field, value in values.items():
        before = getattr(person, field)
        if before != value:
            changes[field] = _encoded_change(field, _plain(before), _plain(value))
            setattr(person, field, value)
    return changes


def _next_pin(session: Session, province_code: str, birth_year: int, sex) -> str:
    prefix = make_pin(province_code, birth_year, sex, 0)[:6]
    # Serials are assigned in order within a prefix; the lock keeps two
    # concurrent registrations from taking the same one.
    lock_key(session, f"pin-serial:{prefix}")
    last = session.scalar(select(func.max(Person.pin)).where(Person.pin.like(f"{prefix}%")))
    serial = int(last[6:]) + 1 if last else 1
    return make_pin(province_code, birth_year, sex, serial)


def _current_residence(session: Session, person_id: int, kind: ResidenceKind) -> Residence | None:
    return session.scalar(
        select(Residence).where(Residence.person_id == person_id, Residence.kind == kind, Residence.valid_to.is_(None))
    )


def _current_membership(session: Session, person_id: int) -> HouseholdMember | None:
    return session.scalar(
        select(HouseholdMember).where(HouseholdMember.person_id == person_id, HouseholdMember.valid_to.is_(None))
    )


def _require_alive(person: Person) -> None:
    if person.status == VitalStatus.DECEASED:
        raise RegistryError("this person is recorded as deceased")


def register_person(session: Session, actor: Actor, data: PersonRegistration) -> int:
    """Enter a person who is not in the register (naturalized, born abroad, omitted).

    A registrar with an area registers the person together with their permanent residence in it: a person
    without residence is in nobody's area, and would vanish from the registrar who entered them.
    """
    residence = data.residence
    authorize(session, actor, "register_person", unit_id=residence.unit_id if residence else None)
    if residence is None and policy.scope_units(session, actor) is not None:
        raise RegistryError("give the permanent residence in your area of the person you register")
    birth = PartialDate.parse(data.birth_date)
    for unit_id in (data.birth_registration_unit_id, data.hometown_unit_id):
        if unit_id is not None and units.get_unit(session, unit_id) is None:
            raise RegistryError(f"unknown unit {unit_id}")
    full_name = normalize(join_name(data.family_name, data.middle_name, data.given_name))
    person = Person(
        pin=data.pin, family_name=normalize(data.family_name), middle_name=normalize(data.middle_name),
        given_name=normalize(data.given_name), full_name=full_name, name_folded=fold(full_name),
        other_names=data.other_names, birth_year=birth.year, birth_month=birth.month, birth_day=birth.day,
        sex=data.sex, nationalities=";".join(data.nationalities), citizenship_basis=data.citizenship_basis,
        naturalized_on=data.naturalized_on, ethnicity_code=data.ethnicity_code, religion=data.religion,
        birth_place_status=data.birth_place_status, birth_registration_unit_id=data.birth_registration_unit_id,
        birth_country=data.birth_country, hometown_status=data.hometown_status,
        hometown_unit_id=data.hometown_unit_id,
    )
    session.add(person)
    session.flush()
    _event(session, actor, person, "person_registered", _today(), reason=data.reason)
    if residence is not None:
        unit = _commune(session, residence.unit_id)
        household = _household_to_join(session, actor, "register_person", residence.household_id, unit.id)
        _settle(session, actor, person, unit.id, residence.address_line, household, residence.relationship_to_head,
                residence.effective_on or _today(), "permanent_residence_registered", residence.reason)
    quality.recompute(session, [person.id])
    return person.id


def register_birth(session: Session, actor: Actor, data: BirthRegistration) -> int:
    authorize(session, actor, "register_birth", unit_id=data.birth_registration_unit_id,
              relative_ids=(data.mother_id, data.father_id))
    unit = _commune(session, data.birth_registration_unit_id)
    parents = {}
    # The child joins a parent's current household: no parent may move meanwhile (ids in order: no deadlock).
    for parent_id in sorted({pid for pid in (data.mother_id, data.father_id) if pid is not None}):
        lock_person(session, parent_id)
    for relation, parent_id in (("mother", data.mother_id), ("father", data.father_id)):
        if parent_id is not None:
            parent = _load(session, parent_id)
            if parent.birth_year and data.birth_date.year - parent.birth_year < quality.MIN_PARENT_AGE:
                raise RegistryError(f"the {relation} is too young to be a parent of this child")
            parents[relation] = parent
    hometown = data.hometown_unit_id or next(
        (p.hometown_unit_id for p in (parents.get("father"), parents.get("mother")) if p and p.hometown_unit_id), None
    )
    registered_on = data.registered_on or _today()
    full_name = normalize(join_name(data.family_name, data.middle_name, data.given_name))
    person = Person(
        pin=_next_pin(session, unit.province_code.zfill(3), data.birth_date.year, data.sex),
        family_name=normalize(data.family_name), middle_name=normalize(data.middle_name),
        given_name=normalize(data.given_name), full_name=full_name, name_folded=fold(full_name),
        birth_year=data.birth_date.year, birth_month=data.birth_date.month, birth_day=data.birth_date.day,
        sex=data.sex, nationalities=";".join(data.nationalities), ethnicity_code=data.ethnicity_code,
        birth_registration_unit_id=unit.id, hometown_unit_id=hometown,
        father_id=data.father_id, mother_id=data.mother_id,
    )
    session.add(person)
    session.flush()
    _event(session, actor, person, "birth_registered", registered_on, unit_id=unit.id,
           changes={"pin": [None, person.pin]})

    # A newborn takes permanent residence with a parent (Law on Residence, art. 19).
    household_id = data.household_id
    if household_id is None:
        for parent in (parents.get("mother"), parents.get("father")):
            membership = parent and _current_membership(session, parent.id)
            if membership:
                if not policy.unit_in_scope(session, actor, membership.household.unit_id):
                    raise RegistryError("the parents' household is in another commune: the birth is registered "
                                        "there, or give a household of your area")
                household_id = membership.household_id
                break
    if household_id is None and policy.scope_units(session, actor) is not None:
        # Without a household the child would have no residence: in nobody's area, not even this registrar's.
        raise RegistryError("the parents have no household: give the household the child joins")
    if household_id is not None:
        household = session.get(Household, household_id)
        authorize(session, actor, "register_birth", household=household)
        if household is None:
            raise policy.household_not_found(household_id)
        parent_memberships = [_current_membership(session, p.id) for p in parents.values()]
        parent_roles = {m.relationship_to_head for m in parent_memberships if m and m.household_id == household_id}
        relationship = ("child" if parent_roles & {"head", "spouse"}
                        else "grandchild" if parent_roles & {"child", "child_in_law"} else "other_relative")
        _settle(session, actor, person, household.unit_id, household.address_line, household, relationship,
                registered_on, "permanent_residence_registered", "with the parents at birth registration")
    quality.recompute(session, [person.id, *(p.id for p in parents.values())])
    return person.id


def _settle(session: Session, actor: Actor, person: Person, unit_id: int, address_line: str,
            household: Household | None, relationship: str, effective_on: dt.date, kind: str, reason: str) -> None:
    """Open a permanent residence (and household membership), closing the previous one."""
    previous = _current_residence(session, person.id, ResidenceKind.PERMANENT)
    if previous is not None:
        if effective_on < previous.valid_from:
            raise RegistryError("the new residence cannot start before the current one")
        previous.valid_to = effective_on
    membership = _current_membership(session, person.id)
    if membership is not None:
        membership.valid_to = effective_on
        old_household = membership.household
        if old_household.head_person_id == person.id:
            old_household.head_person_id = None
    if household is None:
        household = Household(code=_next_household_code(session, unit_id), unit_id=unit_id, address_line=address_line,
                              established_on=effective_on, head_person_id=person.id)
        session.add(household)
        session.flush()
        relationship = "head"
    elif relationship == "head":
        if household.head_person_id and household.head_person_id != person.id:
            raise RegistryError("this household already has a head")
        household.head_person_id = person.id
    changes = _apply(person, {"home_unit_id": unit_id})
    event = _event(session, actor, person, kind, effective_on, changes=changes, unit_id=unit_id, reason=reason)
    session.add(Residence(person_id=person.id, kind=ResidenceKind.PERMANENT, unit_id=unit_id,
                          address_line=address_line, household_id=household.id, valid_from=effective_on,
                          event_id=event.id))
    session.add(HouseholdMember(household_id=household.id, person_id=person.id, relationship_to_head=relationship,
                                valid_from=effective_on))
    session.flush()


def _next_household_code(session: Session, unit_id: int) -> str:
    unit = units.get_unit(session, unit_id)
    prefix = f"{unit.code}-"
    lock_key(session, f"household-code:{prefix}")
    count = session.scalar(select(func.count()).select_from(Household).where(Household.code.like(f"{prefix}%")))
    return f"{prefix}{count + 1:07d}"


def _permanent_change(session: Session, actor: Actor, person_id: int, data: PermanentResidenceInput,
                      kind: str, must_have_current: bool, expected_version: int | None,
                      application: ResidenceApplication | None) -> None:
    action = "move_permanent_residence" if must_have_current else "register_permanent_residence"
    person = _lock_authorized(session, actor, action, person_id, expected_version, unit_id=data.unit_id,
                              application=application)
    _require_alive(person)
    unit = _commune(session, data.unit_id)
    current = _current_residence(session, person_id, ResidenceKind.PERMANENT)
    if must_have_current and current is None:
        raise RegistryError("this person has no permanent residence to move from; register one instead")
    if not must_have_current and current is not None:
        raise RegistryError("this person already has a permanent residence; use 'move' to change it")
    household = _household_to_join(session, actor, action, data.household_id, unit.id)
    _settle(session, actor, person, unit.id, data.address_line, household, data.relationship_to_head,
            data.effective_on or _today(), kind, data.reason)
    quality.recompute(session, [person.id])


def _household_to_join(session: Session, actor: Actor, action: str, household_id: int | None,
                       unit_id: int) -> Household | None:
    """The household a person joins (None: they found a new one); it must be in the area and in ``unit_id``."""
    if household_id is None:
        return None
    household = session.get(Household, household_id)
    authorize(session, actor, action, household=household)
    if household is None:
        raise policy.household_not_found(household_id)
    if household.dissolved_on is not None:
        raise RegistryError(f"the household {household.code} is dissolved")
    if household.unit_id != unit_id:
        raise RegistryError("the household is registered in another commune")
    return household


def register_permanent_residence(session: Session, actor: Actor, person_id: int, data: PermanentResidenceInput,
                                 expected_version: int | None = None,
                                 application: ResidenceApplication | None = None) -> None:
    """``application``: the person's accepted application to this commune, which authorises a registrar of
    the commune to register someone from outside their area (registry.applications)."""
    _permanent_change(session, actor, person_id, data, "permanent_residence_registered", must_have_current=False,
                      expected_version=expected_version, application=application)


def move_permanent_residence(session: Session, actor: Actor, person_id: int, data: PermanentResidenceInput,
                             expected_version: int | None = None,
                             application: ResidenceApplication | None = None) -> None:
    _permanent_change(session, actor, person_id, data, "moved", must_have_current=True,
                      expected_version=expected_version, application=application)


def register_temporary_residence(session: Session, actor: Actor, person_id: int, data: TemporaryResidenceInput,
                                 expected_version: int | None = None,
                                 application: ResidenceApplication | None = None) -> None:
    person = _lock_authorized(session, actor, "register_temporary_residence", person_id, expected_version,
                              unit_id=data.unit_id, application=application)
    _require_alive(person)
    unit = _commune(session, data.unit_id)
    if person.home_unit_id == unit.id:
        raise RegistryError("temporary residence cannot be in the commune of permanent residence")
    previous = _current_residence(session, person_id, ResidenceKind.TEMPORARY)
    if previous is not None:
        previous.valid_to = max(data.valid_from, previous.valid_from)
    event = _event(session, actor, person, "temporary_residence_registered", data.valid_from, unit_id=unit.id,
                   changes={"temporary_unit_id": [previous.unit_id if previous else None, unit.id]})
    session.add(Residence(person_id=person.id, kind=ResidenceKind.TEMPORARY, unit_id=unit.id,
                          address_line=data.address_line, valid_from=data.valid_from, expires_on=data.expires_on,
                          event_id=event.id))
    session.flush()
    quality.recompute(session, [person.id])


def record_death(session: Session, actor: Actor, person_id: int, data: DeathInput,
                 expected_version: int | None = None) -> None:
    person = _lock_authorized(session, actor, "record_death", person_id, expected_version)
    _require_alive(person)
    birth = PartialDate(person.birth_year, person.birth_month, person.birth_day).earliest()
    if birth and data.date_of_death < birth:
        raise RegistryError("the date of death is before the date of birth")
    changes = _apply(person, {"status": VitalStatus.DECEASED, "status_date": data.date_of_death})
    _event(session, actor, person, "death_recorded", data.date_of_death, changes=changes, reason=data.reason)
    for residence in session.scalars(select(Residence).where(Residence.person_id == person_id,
                                                             Residence.valid_to.is_(None))):
        residence.valid_to = max(data.date_of_death, residence.valid_from)
    membership = _current_membership(session, person_id)
    if membership is not None:
        membership.valid_to = max(data.date_of_death, membership.valid_from)
        if membership.household.head_person_id == person_id:
            membership.household.head_person_id = None
    session.flush()
    quality.recompute(session, [person.id])


def correct_person(session: Session, actor: Actor, person_id: int, data: CorrectionInput,
                   expected_version: int | None = None) -> dict:
    """Correct recorded data; returns the {field: [before, after]} recorded."""
    values = data.changed_fields()
    person = _lock_authorized(session, actor, "correct_person", person_id, expected_version,
                              relative_ids=[values.get(relation) for relation in ("father_id", "mother_id",
                                                                                  "spouse_id")])
    if not values:
        raise RegistryError("nothing to correct")
    if "birth_date" in values:
        birth = PartialDate.parse(values.pop("birth_date"))
        values.update(birth_year=birth.year, birth_month=birth.month, birth_day=birth.day)
    if "nationalities" in values:
        values["nationalities"] = ";".join(values["nationalities"])
    for relation in ("father_id", "mother_id", "spouse_id"):
        if relation in values:
            if values[relation] == person_id:
                raise RegistryError("a person cannot be their own relative")
    for unit_field in ("birth_registration_unit_id", "hometown_unit_id"):
        if unit_field in values and units.get_unit(session, values[unit_field]) is None:
            raise RegistryError(f"unknown unit {values[unit_field]}")
    if {"family_name", "middle_name", "given_name"} & values.keys():
        names = {k: normalize(values.get(k, getattr(person, k))) for k in ("family_name", "middle_name", "given_name")}
        values.update(names)
        values["full_name"] = join_name(names["family_name"], names["middle_name"], names["given_name"])
        values["name_folded"] = fold(values["full_name"])
    # Parents, old and new, may gain or lose "child older than parent"; the other holder of an old PIN may
    # lose "duplicate PIN" (holders of the new one are found by recompute).
    old_parents, old_pin = (person.father_id, person.mother_id), person.pin
    changes = _apply(person, values)
    changes.pop("name_folded", None)
    if not changes:
        raise RegistryError("the corrected values are the same as the recorded ones")
    _event(session, actor, person, "data_corrected", _today(), changes=changes, reason=data.reason)
    session.flush()
    involved = [pid for pid in (*old_parents, person.father_id, person.mother_id) if pid is not None]
    if old_pin and "pin" in changes:
        involved += session.scalars(select(Person.id).where(Person.pin == old_pin))
    quality.recompute(session, [person.id, *involved])
    return _decoded_changes(changes)


def population_size(session: Session) -> int:
    """How many persons the register holds (a count, no personal data: not logged)."""
    return session.scalar(select(func.count()).select_from(Person)) or 0


# ---- data quality --------------------------------------------------------------------------


def quality_report(session: Session, actor: Actor, province_code: str | None = None) -> QualityReport:
    authorize(session, actor, "quality_report")
    scope = policy.scope_units(session, actor)
    unit_ids = None
    if province_code:
        unit_ids = [u.id for u in units.list_communes(session, province_code)]
    if scope is not None:
        unit_ids = [u for u in (unit_ids if unit_ids is not None else scope) if u in set(scope)]
    tallies = quality.tally_by_unit(session, unit_ids)
    rows, totals = [], {}
    for tally in sorted(tallies.values(), key=lambda t: -t.persons):
        for code, count in tally.rule_counts.items():
            totals[code] = totals.get(code, 0) + count
        rows.append(UnitQualityRow(
            unit_id=tally.unit_id, unit_label=_label(session, tally.unit_id) or "—", persons=tally.persons,
            correct=tally.passing["correct"], sufficient=tally.passing["sufficient"], clean=tally.passing["clean"],
            live=tally.passing["live"], all_ok=tally.passing_all, top_rules=tally.rule_counts.most_common(3),
        ))
    return QualityReport(
        province_code=province_code, persons=sum(r.persons for r in rows), rows=rows,
        rule_totals=dict(sorted(totals.items(), key=lambda kv: -kv[1])),
    )


def persons_failing(session: Session, actor: Actor, rule: str, unit_id: int | None, purpose: str,
                    page: int = 1, page_size: int = 20) -> SearchPage:
    """Persons failing one quality rule, for the registrar to fix."""
    authorize(session, actor, "persons_failing")
    if rule not in quality.RULES:
        raise RegistryError(f"unknown rule {rule!r}")
    stmt = select(*_SUMMARY_COLUMNS).where(or_(Person.quality_issues == rule, Person.quality_issues.like(f"{rule},%"),
                                    Person.quality_issues.like(f"%,{rule}"), Person.quality_issues.like(f"%,{rule},%")),
                                           STANDING)
    if unit_id:
        stmt = stmt.where(Person.home_unit_id.in_(units.units_within(session, unit_id)))
    scope = policy.scope_condition(session, actor)
    if scope is not None:
        stmt = stmt.where(scope)
    rows = session.execute(stmt.order_by(Person.id).limit(page_size).offset((page - 1) * page_size)).all()
    total = _total(session, stmt, page, page_size, len(rows))
    result = SearchPage(
        items=[_summary(session, p) for p in rows],
        total=total, page=page, page_size=page_size,
    )
    record_accesses(session, actor, "quality_review", "person", [p.id for p in rows], purpose, detail=f"rule={rule}")
    return result
