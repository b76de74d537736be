"""Who may do what in the register: the rule of every registry action, written down once.

A registrar works inside a scope (a commune, or a province); an administrator
and an auditor have none. An action touches more than the person it is
addressed to: a move writes into a target commune, a correction may link a
father, a mother or a spouse, a birth joins a household. The scope rule must
hold for *every* person, unit and household the action touches, so each rule
below lists all of them, and ``authorize`` checks them in the services (never
in a router or a page, which only pass the request on).

One exception is written into the rules themselves: under the Law on Residence
the police of the destination commune register a move-in or a stay of a
person who lives elsewhere. They may do so only on the citizen's own
application (``ResidenceApplication``), accepted by a registrar of the
destination commune; the accepted application stands in for the person's
scope, for that person and that commune only.

What an actor may not see must look like what does not exist: a person or a
household outside the actor's area answers exactly as a missing one
(``PersonNotFound`` / ``HouseholdNotFound``, the same message), so ids cannot
be probed. Units are public reference data, so a target commune outside the
area is refused openly (``PermissionDenied``).

``ROUTES`` maps every registry API and console route to its action, so that a
route without a rule is caught by the generated authorization test
(tests/registry/test_authorization_matrix.py).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, PermissionDenied, Role
from dancu.registry.models import Household, Person, Residence
from dancu.units import services as units


class PersonNotFound(LookupError):
    """No such person, or one outside the actor's area: the two are told apart by nobody."""

    code = "registry.person_not_found"


class HouseholdNotFound(LookupError):
    """No such household, or one outside the actor's area."""

    code = "registry.household_not_found"


class ApplicationNotFound(LookupError):
    """No such residence application, or one to a commune outside the actor's area."""

    code = "registry.application_not_found"


def person_not_found(person_id: int) -> PersonNotFound:
    return PersonNotFound(f"no person with id {person_id}")


def household_not_found(household_id: int) -> HouseholdNotFound:
    return HouseholdNotFound(f"no household with id {household_id}")


class Check(enum.StrEnum):
    """Something an action touches that must lie inside the actor's area (in this order, see ``authorize``)."""

    PERSON = "person"  # the person read or changed lives or stays in the area
    RELATIVES = "relatives"  # every father, mother or spouse the action links or shows
    HOUSEHOLD = "household"  # the household read or joined
    APPLICATION_UNIT = "application_unit"  # a residence application: its destination commune
    ORIGIN_UNIT = "origin_unit"  # a departure notice: the commune the person left
    TARGET_UNIT = "target_unit"  # the commune the action writes into


READERS = (Role.REGISTRAR, Role.ADMIN, Role.AUDITOR)
WRITERS = (Role.REGISTRAR, Role.ADMIN)


@dataclass(frozen=True)
class Rule:
    """``refuses``: outside the area, the action is refused (as "not found" for persons, households and
    applications; openly for a commune). ``filters``: outside the area, the thing is left out of what the
    action shows (a list, a relative's name) and the action proceeds."""

    roles: tuple[Role, ...]
    refuses: frozenset[Check]
    filters: frozenset[Check]
    summary: str
    # An accepted residence application of this person to the target commune stands in for PERSON.
    by_application: bool = False


def _rule(roles: tuple[Role, ...], summary: str, refuses: tuple[Check, ...] = (), filters: tuple[Check, ...] = (),
          by_application: bool = False) -> Rule:
    return Rule(roles, frozenset(refuses), frozenset(filters), summary, by_application)


_C = Check
_RESIDENCE = "the person (or their accepted application), the commune, and the household joined (in that commune)"
RULES: dict[str, Rule] = {
    "search_persons": _rule(READERS, "persons of the area only", filters=(_C.PERSON,)),
    "read_person": _rule(READERS, "the person; relatives and household members of the area only, each read logged",
                         refuses=(_C.PERSON,), filters=(_C.RELATIVES, _C.HOUSEHOLD)),
    "register_person": _rule(WRITERS, "a registrar with an area registers the person with a residence in it",
                             refuses=(_C.TARGET_UNIT, _C.HOUSEHOLD)),
    "correct_person": _rule(WRITERS, "the person and every father, mother or spouse linked",
                            refuses=(_C.PERSON, _C.RELATIVES)),
    "register_birth": _rule(WRITERS, "the commune of registration, each parent, and the household the child joins",
                            refuses=(_C.TARGET_UNIT, _C.RELATIVES, _C.HOUSEHOLD)),
    "register_permanent_residence": _rule(WRITERS, _RESIDENCE, refuses=(_C.PERSON, _C.TARGET_UNIT, _C.HOUSEHOLD),
                                          by_application=True),
    "move_permanent_residence": _rule(WRITERS, _RESIDENCE, refuses=(_C.PERSON, _C.TARGET_UNIT, _C.HOUSEHOLD),
                                      by_application=True),
    "register_temporary_residence": _rule(WRITERS, "the person (or their accepted application) and the commune",
                                          refuses=(_C.PERSON, _C.TARGET_UNIT), by_application=True),
    "record_death": _rule(WRITERS, "the person", refuses=(_C.PERSON,)),
    "read_household": _rule(READERS, "the household", refuses=(_C.HOUSEHOLD,)),
    "quality_report": _rule(READERS, "communes of the area only", filters=(_C.PERSON,)),
    "persons_failing": _rule(READERS, "persons of the area only", filters=(_C.PERSON,)),
    "merge_persons": _rule(WRITERS, "both records (linkage review)", refuses=(_C.PERSON,)),
    "undo_merge": _rule(WRITERS, "both records of the merge", refuses=(_C.PERSON,)),
    "file_application_in_person": _rule(WRITERS, "the destination commune; the verified chip card proves who applies",
                                        refuses=(_C.TARGET_UNIT,)),
    "list_applications": _rule(WRITERS, "applications to communes of the area", filters=(_C.APPLICATION_UNIT,)),
    "read_application": _rule(WRITERS, "an application to a commune of the area: only what it shows",
                              refuses=(_C.APPLICATION_UNIT,)),
    "decide_application": _rule(WRITERS, "an application to a commune of the area; accepting performs the move",
                                refuses=(_C.APPLICATION_UNIT,)),
    "list_departures": _rule(WRITERS, "accepted moves of persons who left the area", filters=(_C.ORIGIN_UNIT,)),
}

# The registrar console (/registry/...) is for registrars and administrators (web.deps.RegistrarActor): an auditor
# reads through the API and the access-log pages. A console route's roles are its actions' roles within these.
CONSOLE_ROLES = WRITERS

# (method, path) of every registry route -> the actions it performs. Console action forms have one path per slug.
ROUTES: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/api/v1/persons"): ("search_persons",),
    ("GET", "/api/v1/persons/{person_id}"): ("read_person",),
    ("POST", "/api/v1/persons"): ("register_person",),
    ("PATCH", "/api/v1/persons/{person_id}"): ("correct_person",),
    ("POST", "/api/v1/births"): ("register_birth",),
    ("POST", "/api/v1/persons/{person_id}/permanent-residence"): ("register_permanent_residence",),
    ("POST", "/api/v1/persons/{person_id}/moves"): ("move_permanent_residence",),
    ("POST", "/api/v1/persons/{person_id}/temporary-residence"): ("register_temporary_residence",),
    ("POST", "/api/v1/persons/{person_id}/death"): ("record_death",),
    ("GET", "/api/v1/households/{household_id}"): ("read_household",),
    ("GET", "/api/v1/quality/report"): ("quality_report",),
    ("GET", "/api/v1/quality/failing"): ("persons_failing",),
    ("POST", "/api/v1/residence-applications"): ("file_application_in_person",),
    ("GET", "/api/v1/residence-applications"): ("list_applications",),
    ("GET", "/api/v1/residence-applications/{application_id}"): ("read_application",),
    ("POST", "/api/v1/residence-applications/{application_id}/decision"): ("decide_application",),
    ("GET", "/api/v1/residence-departures"): ("list_departures",),
    ("GET", "/registry/search"): ("search_persons",),
    ("POST", "/registry/search"): ("search_persons",),
    ("GET", "/registry/persons/{person_id}"): ("read_person",),
    ("GET", "/registry/households/{household_id}"): ("read_household",),
    ("GET", "/registry/persons/{person_id}/permanent-residence"): ("read_person",),
    ("GET", "/registry/persons/{person_id}/move"): ("read_person",),
    ("GET", "/registry/persons/{person_id}/temporary-residence"): ("read_person",),
    ("GET", "/registry/persons/{person_id}/death"): ("read_person",),
    ("GET", "/registry/persons/{person_id}/correction"): ("read_person",),
    ("POST", "/registry/persons/{person_id}/permanent-residence"): ("register_permanent_residence",),
    ("POST", "/registry/persons/{person_id}/move"): ("move_permanent_residence",),
    ("POST", "/registry/persons/{person_id}/temporary-residence"): ("register_temporary_residence",),
    ("POST", "/registry/persons/{person_id}/death"): ("record_death",),
    ("POST", "/registry/persons/{person_id}/correction"): ("correct_person",),
    ("GET", "/registry/births/new"): ("register_birth",),
    ("POST", "/registry/births/new"): ("register_birth",),
    ("GET", "/registry/quality"): ("quality_report",),
    ("GET", "/registry/quality/failing"): ("persons_failing",),
    ("GET", "/registry/applications"): ("list_applications", "list_departures"),
    ("GET", "/registry/applications/new"): ("file_application_in_person",),
    ("POST", "/registry/applications/new"): ("file_application_in_person",),
    ("GET", "/registry/applications/{application_id}"): ("read_application",),
    ("POST", "/registry/applications/{application_id}/decision"): ("decide_application",),
}


# ---- the actor's area ----------------------------------------------------------------------


def scope_units(session: Session, actor: Actor) -> list[int] | None:
    """Commune ids of the actor's area, or None for no restriction (do not change the list returned)."""
    if actor.scope_unit_id is None:
        return None
    # Units are reference data, changed by migrations only: one lookup per session (a request) and area,
    # however many things an action checks.
    cached = session.info.setdefault("dancu.scope_units", {})
    if actor.scope_unit_id not in cached:
        cached[actor.scope_unit_id] = units.units_within(session, actor.scope_unit_id)
    return cached[actor.scope_unit_id]


def scope_condition(session: Session, actor: Actor):
    """A WHERE clause on ``Person`` for the actor's area, or None for no restriction."""
    scope = scope_units(session, actor)
    if scope is None:
        return None
    # A registrar sees residents of the area and people temporarily staying there.
    staying = select(Residence.person_id).where(Residence.unit_id.in_(scope), Residence.valid_to.is_(None))
    return or_(Person.home_unit_id.in_(scope), Person.id.in_(staying))


def person_in_scope(session: Session, actor: Actor, person_id: int) -> bool:
    """The person exists and lives or stays in the actor's area."""
    condition = scope_condition(session, actor)
    visible = select(Person.id).where(Person.id == person_id)
    if condition is not None:
        visible = visible.where(condition)
    return bool(session.scalar(select(exists(visible))))


def unit_in_scope(session: Session, actor: Actor, unit_id: int) -> bool:
    scope = scope_units(session, actor)
    return scope is None or unit_id in scope


def require_unit(session: Session, actor: Actor, unit_id: int) -> None:
    if not unit_in_scope(session, actor, unit_id):
        raise PermissionDenied("this commune is outside your area")


# ---- the one check every registry service makes -----------------------------------------------


def authorize(session: Session, actor: Actor, action: str, *, person_id: int | None = None,
              unit_id: int | None = None, relative_ids: Iterable[int | None] = (),
              household: Household | None = None, application=None) -> None:
    """Refuse unless ``actor`` may do ``action`` on everything it touches (see ``RULES``).

    ``application`` is the ``ResidenceApplication`` acted on: for a residence
    write it stands in for the person's scope only when the rule allows it and
    it is this person's accepted application to this commune; for the
    application actions its destination commune must be in the area.
    """
    rule = RULES[action]
    actor.require(*rule.roles)
    if Check.PERSON in rule.refuses and person_id is not None:
        authorised = rule.by_application and application is not None and application.authorises(person_id, unit_id)
        if not authorised and not person_in_scope(session, actor, person_id):
            raise person_not_found(person_id)
    if Check.RELATIVES in rule.refuses:
        for relative_id in relative_ids:
            if relative_id is not None and not person_in_scope(session, actor, relative_id):
                raise person_not_found(relative_id)
    if Check.HOUSEHOLD in rule.refuses and household is not None and not unit_in_scope(session, actor,
                                                                                       household.unit_id):
        raise household_not_found(household.id)
    if Check.APPLICATION_UNIT in rule.refuses and application is not None and not unit_in_scope(
            session, actor, application.unit_id):
        raise ApplicationNotFound(f"no residence application with id {application.id}")
    if Check.TARGET_UNIT in rule.refuses and unit_id is not None:
        require_unit(session, actor, unit_id)
