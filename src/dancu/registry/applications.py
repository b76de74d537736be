"""Residence applications: the citizen's own request, the only way a commune registers someone from elsewhere.

Under the Law on Residence the police of the destination commune register a
move-in (permanent residence) or a stay (temporary residence), on the
citizen's application. A registrar's area never reaches a person who lives
elsewhere, so the application is what authorises them (registry.policy):

1. The citizen files it, either online from their level-2 e-ID account (the
   account proves who applies), or at the counter, where a registrar of the
   destination commune reads the citizen's chip card and the cards domain
   verifies it offline (its signature chain and status list): the card proves
   who applies. An arbitrary person id can be named by neither path.
2. The destination commune's registrars list the pending applications of their
   area and see only what each application shows (name, PIN and birth date as
   the e-ID account or the card gives them, the address applied for), never
   the register's record.
3. Accepting performs the move or the stay through the registry service, in the
   same transaction, with the accepted application standing in for the
   person's scope; refusing needs a reason. The commune the person leaves is
   recorded on the application and its registrars list the departures.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor
from dancu.audit.services import record_access, record_accesses, require_purpose
from dancu.db import lock_row
from dancu.registry import policy, services
from dancu.registry.dates import PartialDate
from dancu.registry.models import (
    ApplicationChannel,
    ApplicationStatus,
    Person,
    ResidenceApplication,
    ResidenceKind,
    VitalStatus,
)
from dancu.registry.policy import ApplicationNotFound, authorize
from dancu.registry.schemas import (
    ApplicationDecision,
    ApplicationInput,
    ApplicationView,
    InPersonApplicationInput,
    PermanentResidenceInput,
    TemporaryResidenceInput,
)
from dancu.units import services as units

ONLINE_LEVEL = 2  # residence procedures need an e-ID identity proofed in person


class CardNotVerified(services.RegistryError):
    """The chip data read at the counter did not verify; ``problems`` are the cards domain's problem codes."""

    code = "registry.card_not_verified"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"the card could not be verified ({', '.join(problems)})")
        self.problems = problems


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _view(session: Session, application: ResidenceApplication) -> ApplicationView:
    accepted = application.status == ApplicationStatus.ACCEPTED
    return ApplicationView(
        id=application.id, kind=application.kind.value, status=application.status.value,
        channel=application.channel.value, applicant_pin=application.applicant_pin,
        applicant_name=application.applicant_name, applicant_birth_date=application.applicant_birth_date,
        unit_id=application.unit_id, unit_label=units.unit_label(session, application.unit_id),
        address_line=application.address_line, household_id=application.household_id,
        relationship_to_head=application.relationship_to_head, valid_from=application.valid_from,
        expires_on=application.expires_on, evidence=application.evidence, filed_by=application.filed_by,
        filed_at=application.filed_at, decided_by=application.decided_by, decided_at=application.decided_at,
        decision_reason=application.decision_reason,
        origin_unit_label=units.unit_label(session, application.origin_unit_id) if application.origin_unit_id else None,
        person_id=application.person_id if accepted else None,
    )


def _file(session: Session, person: Person, data: ApplicationInput, *, name: str, pin: str, birth_date: str,
          channel: ApplicationChannel, evidence: str, filed_by: str) -> int:
    services._commune(session, data.unit_id)
    # Locked so that two filings at once (a double submit) see each other: the second is refused below.
    person = services.lock_person(session, person.id)
    if person.status == VitalStatus.DECEASED:
        raise services.RegistryError("this person is recorded as deceased")
    pending = session.scalar(select(ResidenceApplication.id).where(
        ResidenceApplication.person_id == person.id, ResidenceApplication.kind == ResidenceKind(data.kind),
        ResidenceApplication.status == ApplicationStatus.PENDING))
    if pending is not None:
        raise services.RegistryError("this person already has an application of this kind waiting for a decision")
    application = ResidenceApplication(
        kind=ResidenceKind(data.kind), person_id=person.id, applicant_pin=pin, applicant_name=name,
        applicant_birth_date=birth_date, unit_id=data.unit_id, address_line=data.address_line,
        household_id=data.household_id, relationship_to_head=data.relationship_to_head,
        valid_from=data.valid_from or dt.date.today(), expires_on=data.expires_on, channel=channel,
        evidence=evidence, filed_by=filed_by, filed_at=_now(), status=ApplicationStatus.PENDING,
    )
    session.add(application)
    session.flush()
    return application.id


def file_online(session: Session, *, account_id: int, level: int, person_id: int, data: ApplicationInput) -> int:
    """The signed-in citizen applies for themself; the e-ID account is the proof of who applies."""
    if level < ONLINE_LEVEL:
        raise services.RegistryError("a residence application needs a level-2 e-ID account")
    person = session.get(Person, person_id)
    if person is None:
        raise policy.person_not_found(person_id)
    birth = PartialDate(person.birth_year, person.birth_month, person.birth_day).display()
    return _file(session, person, data, name=person.full_name, pin=person.pin or "", birth_date=birth,
                 channel=ApplicationChannel.ONLINE, evidence=f"e-ID account {account_id} (level {level})",
                 filed_by=f"e-id:{account_id}")


def file_in_person(session: Session, actor: Actor, data: InPersonApplicationInput) -> int:
    """A registrar of the destination commune records an application after reading the citizen's chip card."""
    authorize(session, actor, "file_application_in_person", unit_id=data.unit_id)
    from dancu.identity.cards import services as cards  # here: the cards domain builds on the registry

    verification = cards.verify(session, data.card_data)
    if not verification.valid:
        raise CardNotVerified(verification.problems)
    holder = verification.holder
    holders = session.scalars(select(Person).where(Person.pin == holder.get("pin"),
                                                   Person.status != VitalStatus.DECEASED)).all()
    if len(holders) != 1:
        raise services.RegistryError("the card's identification number is not one living person's in the register")
    return _file(session, holders[0], data, name=holder.get("name", ""), pin=holder["pin"],
                 birth_date=holder.get("dob", ""), channel=ApplicationChannel.IN_PERSON,
                 evidence=f"chip card {verification.document_number} verified ({verification.source})",
                 filed_by=actor.username)


def _load(session: Session, actor: Actor, action: str, application_id: int,
          lock: bool = False) -> ResidenceApplication:
    application = (lock_row(session, ResidenceApplication, application_id) if lock
                   else session.get(ResidenceApplication, application_id))
    authorize(session, actor, action, application=application)
    if application is None:
        raise ApplicationNotFound(f"no residence application with id {application_id}")
    return application


def list_applications(session: Session, actor: Actor, purpose: str,
                      status: ApplicationStatus = ApplicationStatus.PENDING) -> list[ApplicationView]:
    """Applications to the communes of the actor's area, oldest first."""
    authorize(session, actor, "list_applications")
    purpose = require_purpose(purpose)
    stmt = select(ResidenceApplication).where(ResidenceApplication.status == status)
    scope = policy.scope_units(session, actor)
    if scope is not None:
        stmt = stmt.where(ResidenceApplication.unit_id.in_(scope))
    found = session.scalars(stmt.order_by(ResidenceApplication.filed_at, ResidenceApplication.id).limit(200)).all()
    record_accesses(session, actor, "read_application", "person", [a.person_id for a in found], purpose,
                    detail=f"residence applications ({status.value})")
    return [_view(session, a) for a in found]


def get_application(session: Session, actor: Actor, application_id: int, purpose: str) -> ApplicationView:
    purpose = require_purpose(purpose)
    application = _load(session, actor, "read_application", application_id)
    record_access(session, actor, "read_application", "person", application.person_id, purpose,
                  detail=f"residence application {application.id}")
    return _view(session, application)


def decide(session: Session, actor: Actor, application_id: int, decision: ApplicationDecision) -> None:
    """Accept (and register the residence, in this transaction) or refuse (with a reason) a pending application."""
    application = _load(session, actor, "decide_application", application_id, lock=True)
    if application.status != ApplicationStatus.PENDING:
        raise services.RegistryError("this application was already decided")
    if not decision.accept and len(decision.reason.strip()) < 3:
        raise services.RegistryError("give the reason for refusing the application")
    person = session.get(Person, application.person_id)
    application.status = ApplicationStatus.ACCEPTED if decision.accept else ApplicationStatus.REFUSED
    application.decided_by, application.decided_at = actor.username, _now()
    application.decision_reason = decision.reason.strip()
    if decision.accept:
        if application.kind == ResidenceKind.PERMANENT:
            # The commune the person leaves deletes their registration there: it is told through this.
            application.origin_unit_id = person.home_unit_id
        _register(session, actor, application)
    session.flush()


def _register(session: Session, actor: Actor, application: ResidenceApplication) -> None:
    reason = f"residence application {application.id}"
    if application.kind == ResidenceKind.TEMPORARY:
        services.register_temporary_residence(session, actor, application.person_id, TemporaryResidenceInput(
            unit_id=application.unit_id, address_line=application.address_line,
            valid_from=application.valid_from, expires_on=application.expires_on,
        ), application=application)
        return
    data = PermanentResidenceInput(
        unit_id=application.unit_id, address_line=application.address_line, household_id=application.household_id,
        relationship_to_head=application.relationship_to_head, effective_on=application.valid_from, reason=reason,
    )
    has_permanent = session.get(Person, application.person_id).home_unit_id is not None
    change = services.move_permanent_residence if has_permanent else services.register_permanent_residence
    change(session, actor, application.person_id, data, application=application)


def list_departures(session: Session, actor: Actor, purpose: str) -> list[ApplicationView]:
    """Accepted permanent moves of persons who lived in the actor's area: the origin commune's notice.

    The notice shows what the application shows and where the person went, not their record.
    """
    authorize(session, actor, "list_departures")
    purpose = require_purpose(purpose)
    stmt = select(ResidenceApplication).where(ResidenceApplication.status == ApplicationStatus.ACCEPTED,
                                              ResidenceApplication.origin_unit_id.is_not(None),
                                              ResidenceApplication.origin_unit_id != ResidenceApplication.unit_id)
    scope = policy.scope_units(session, actor)
    if scope is not None:
        stmt = stmt.where(ResidenceApplication.origin_unit_id.in_(scope))
    found = session.scalars(stmt.order_by(ResidenceApplication.decided_at.desc()).limit(200)).all()
    record_accesses(session, actor, "read_departure", "person", [a.person_id for a in found], purpose,
                    detail="departures from the area")
    return [_view(session, a) for a in found]


def my_applications(session: Session, person_id: int) -> list[ApplicationView]:
    """The citizen's own applications (the e-ID portal), newest first."""
    found = session.scalars(select(ResidenceApplication).where(ResidenceApplication.person_id == person_id)
                            .order_by(ResidenceApplication.filed_at.desc())).all()
    return [_view(session, a) for a in found]
