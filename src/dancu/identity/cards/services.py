"""Card workflow: application, biometric capture, approval, batch production, delivery,
activation, loss; mobile teams with offline visit packages; the published status list.

Persons are read only through ``dancu.registry.services`` (purpose-logged).
Biometrics are stored encrypted and no function here returns them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, PermissionDenied, Role
from dancu.crypto import decrypt_text, encrypt_text
from dancu.db import lock_key, lock_row
from dancu.identity.cards import chip, rules
from dancu.identity.cards.devices import FINGERS, BiometricCapture, CaptureDevice, FaceCapture, FingerprintCapture
from dancu.identity.cards.models import (
    Card,
    CardApplication,
    CardBatch,
    CardBiometrics,
    CardEvent,
    CardStatusList,
    MobileTeam,
    TeamVisit,
    VisitEntry,
)
from dancu.identity.cards.schemas import (
    ApplicationFilter,
    ApplicationInput,
    ApplicationPage,
    ApplicationSummary,
    ApplicationView,
    BatchResult,
    CaptureResult,
    CaptureUpload,
    CardView,
    EntryInput,
    EntryView,
    EventView,
    TeamInput,
    TeamView,
    VisitInput,
    VisitView,
)
from dancu.identity.pki import services as pki
from dancu.registry import services as registry
from dancu.registry.dates import PartialDate
from dancu.registry.schemas import PersonDetail, PersonQuery
from dancu.units import services as units

STAFF = (Role.REGISTRAR, Role.ADMIN)
CHIP_SIGNER = "card-chip"
STATUS_SIGNER = "card-status"
VISIT_SIGNER = "card-visit"
# Until its nextUpdate an older list stays acceptable to a verifier that has not seen a newer one, so
# this is how long a lost card can be replayed as valid there; offline verifiers must fetch a list at
# least this often (docs/cards.md).
STATUS_LIFETIME = dt.timedelta(hours=6)
# A status list this close to its nextUpdate is replaced when someone asks for the current one.
STATUS_REFRESH_BEFORE = dt.timedelta(hours=3)
PACKAGE_FORMAT = "dancu-visit-package/1"
PACKAGE_LIFETIME = dt.timedelta(days=7)
OPEN_STATUSES = ("submitted", "captured", "approved", "produced", "delivered")
HOLDING_STATUSES = ("produced", "delivered", "active")  # a card the holder has or will get


class CardError(ValueError):
    """A request the card rules refuse; the message is for the user."""

    code = "cards.refused"


class CardConflict(CardError):
    """The same capture key was uploaded with different content."""

    code = "cards.capture_conflict"


class ApplicationNotFound(LookupError):
    code = "cards.application_not_found"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _today() -> dt.date:
    return dt.date.today()


# ---- persons, through the registry ----------------------------------------------------------


def _person(session: Session, actor: Actor, person_id: int, purpose: str) -> PersonDetail:
    return registry.get_person(session, actor, person_id, purpose)


def _person_by_pin(session: Session, actor: Actor, pin: str, purpose: str) -> int:
    page = registry.search_persons(session, actor, PersonQuery(pin=pin, page_size=2), purpose)
    if not page.items:
        raise CardError(f"no person with PIN {pin} in your area")
    if len(page.items) > 1:
        raise CardError(f"PIN {pin} is held by more than one record; resolve the duplicate first")
    return page.items[0].id


def _birth(person: PersonDetail) -> dt.date:
    birth = PartialDate.parse(person.birth_date_iso).earliest() if person.birth_date_iso else None
    if birth is None:
        raise CardError("the person's date of birth is not recorded; correct the record first")
    return birth


# ---- scope ----------------------------------------------------------------------------------


def _scope_units(session: Session, actor: Actor) -> list[int] | None:
    """The units an actor works in: the scope unit itself (a province office) and the communes inside it."""
    if actor.scope_unit_id is None:
        return None
    return [actor.scope_unit_id, *units.units_within(session, actor.scope_unit_id)]


def _check_unit(session: Session, actor: Actor, unit_id: int) -> None:
    if units.get_unit(session, unit_id) is None:
        raise CardError(f"no administrative unit {unit_id}")
    scope = _scope_units(session, actor)
    if scope is not None and unit_id not in scope:
        raise PermissionDenied("this place is outside your area")


def _require_province_registrar(session: Session, actor: Actor) -> None:
    """Approval needs a registrar of a whole province (or an admin); a commune registrar only takes applications."""
    actor.require(*STAFF)
    if actor.scope_unit_id is not None:
        unit = units.get_unit(session, actor.scope_unit_id)
        if unit is None or unit.level != "province":
            raise PermissionDenied("only a province registrar may approve card applications")


def _load(session: Session, actor: Actor, application_id: int, lock: bool = False) -> CardApplication:
    """The application in the actor's area; ``lock`` for a status change (read, check, set under the lock)."""
    application = lock_row(session, CardApplication, application_id) if lock \
        else session.get(CardApplication, application_id)
    if application is None:
        raise ApplicationNotFound(f"no card application {application_id}")
    scope = _scope_units(session, actor)
    if scope is not None and application.unit_id not in scope:
        raise ApplicationNotFound(f"no card application {application_id}")
    return application


def _event(session: Session, actor: Actor, application_id: int, action: str, note: str = "") -> None:
    session.add(CardEvent(application_id=application_id, at=_now(), actor=actor.username, action=action,
                          note=note[:300]))


# ---- applications -----------------------------------------------------------------------------


def _holding_card(session: Session, person_id: int) -> Card | None:
    return session.scalar(select(Card).where(Card.person_id == person_id, Card.status.in_(HOLDING_STATUSES))
                          .order_by(Card.id.desc()).limit(1))


def _check_kind(session: Session, actor: Actor, person_id: int, kind: str, birth: dt.date, reason: str) -> None:
    current = _holding_card(session, person_id)
    ever = session.scalar(select(func.count()).select_from(Card).where(Card.person_id == person_id))
    if kind == "first":
        if ever:
            raise CardError("this person already had a card; apply for a renewal or a re-issue")
        return
    if current is None:
        if kind == "reissue_loss" and ever:
            return  # the card was already reported lost
        raise CardError("this person holds no card to renew or replace; apply for a first card")
    if kind == "renewal":
        opens = rules.renewal_opens(current.expires_on)
        if opens is None:
            raise CardError("the current card is valid for life; no renewal for age is due")
        if _today() < opens:
            raise CardError(f"the current card is valid until {current.expires_on:%d/%m/%Y}; "
                            f"renewal for age opens on {opens:%d/%m/%Y}")
    elif kind in ("change", "reissue_damage") and not reason.strip():
        raise CardError("give the reason for the change or the damage")
    elif kind == "reissue_loss":
        report_loss(session, actor, current.document_number, note=reason or "reported with the re-issue application")


def create_application(session: Session, actor: Actor, data: ApplicationInput, *,
                       visit: TeamVisit | None = None) -> int:
    actor.require(*STAFF)
    _check_unit(session, actor, data.unit_id)
    purpose = "identity card application"
    person_id = data.person_id or _person_by_pin(session, actor, data.pin or "", purpose)
    # Two applications at once would both find none open: the second waits here and then finds the first.
    registry.lock_person(session, person_id)
    person = _person(session, actor, person_id, purpose)
    if person.status.value != "alive":
        raise CardError("a card is issued to a living person only")
    if not person.pin:
        raise CardError("the person has no PIN yet; a card carries the PIN")
    open_one = session.scalar(select(CardApplication.id).where(CardApplication.person_id == person_id,
                                                               CardApplication.status.in_(OPEN_STATUSES)))
    if open_one:
        raise CardError(f"this person already has application #{open_one} in progress")
    birth = _birth(person)
    _check_kind(session, actor, person_id, data.kind, birth, data.reason)
    application = CardApplication(
        person_id=person_id, kind=data.kind, reason=data.reason.strip(), channel="mobile" if visit else "office",
        unit_id=data.unit_id, visit_id=visit.id if visit else None,
        status="submitted" if rules.needs_biometrics(birth, _today()) else "captured",
        created_at=_now(), created_by=actor.username, decision_note="",
    )
    session.add(application)
    session.flush()
    _event(session, actor, application.id, "created", application.reason)
    return application.id


def _seal_capture(capture: BiometricCapture) -> tuple[str, str]:
    face = encrypt_text(base64.b64encode(capture.face.image_png).decode())
    prints = encrypt_text(json.dumps({f.finger: [base64.b64encode(f.template).decode(), f.quality]
                                      for f in capture.fingerprints}))
    return face, prints


def _store_capture(session: Session, application: CardApplication, capture: BiometricCapture,
                   captured_at: dt.datetime) -> None:
    if application.status not in ("submitted", "captured"):
        raise CardError("biometrics can be taken only before the application is decided")
    if not capture.fingerprints:
        raise CardError("at least one fingerprint is needed")
    face, prints = _seal_capture(capture)
    row = session.get(CardBiometrics, application.id) or CardBiometrics(application_id=application.id)
    row.device_id, row.captured_at, row.face_quality = capture.device_id, captured_at, capture.face.quality
    row.fingers = ",".join(f.finger for f in capture.fingerprints)
    row.sealed_face, row.sealed_fingerprints = face, prints
    session.add(row)
    application.status = "captured"


def capture_biometrics(session: Session, actor: Actor, application_id: int, device: CaptureDevice) -> None:
    actor.require(*STAFF)
    application = _load(session, actor, application_id, lock=True)
    capture = device.capture(f"application:{application.id}")
    _store_capture(session, application, capture, _now())
    _event(session, actor, application.id, "captured", capture.device_id)
    session.flush()


def decide(session: Session, actor: Actor, application_id: int, approve: bool, note: str = "") -> None:
    _require_province_registrar(session, actor)
    application = _load(session, actor, application_id, lock=True)
    if application.status not in ("submitted", "captured") or (approve and application.status != "captured"):
        raise CardError("only an application with its biometrics taken can be approved"
                        if approve else "this application has already been decided")
    if not approve and not note.strip():
        raise CardError("give the reason for the rejection")
    application.status = "approved" if approve else "rejected"
    application.decided_at, application.decided_by, application.decision_note = _now(), actor.username, note.strip()
    _event(session, actor, application.id, application.status, note.strip())
    session.flush()


# ---- production ------------------------------------------------------------------------------


def signer(session: Session, purpose: str) -> tuple[x509.Certificate, chip.DerSigner]:
    """A document signer's certificate and a function signing with its key in the keystore (DER ECDSA)."""
    handle, cert = pki.document_signer(session, purpose)
    store = pki.keystore(session)
    return cert, lambda data: store.sign(handle, data, hashes.SHA256())


def _face_png(session: Session, application_id: int) -> bytes | None:
    row = session.get(CardBiometrics, application_id)
    return None if row is None else base64.b64decode(decrypt_text(row.sealed_face))


def _permanent_address(person: PersonDetail) -> str:
    current = next((r for r in person.residences if r.kind == "permanent" and r.valid_to is None), None)
    return ", ".join(part for part in (current.address_line, current.unit_label) if part) if current else ""


def _produce(session: Session, actor: Actor, application: CardApplication, batch: CardBatch,
             chip_signer: tuple[x509.Certificate, chip.DerSigner]) -> Card:
    person = _person(session, actor, application.person_id, f"identity card personalisation, batch {batch.id}")
    if not person.pin:
        raise CardError(f"person {person.id} has no PIN; a card carries the PIN")
    issued_on = _today()
    card = Card(person_id=person.id, application_id=application.id, status="produced", issued_on=issued_on,
                expires_on=rules.card_expiry(_birth(person), issued_on), document_number=uuid.uuid4().hex[:12],
                chip_data="", qr_text="", signer_serial=format(chip_signer[0].serial_number, "x"))
    session.add(card)
    session.flush()
    card.document_number = f"C{card.id:011d}"
    data = chip.CardData(
        document_number=card.document_number, pin=person.pin, full_name=person.full_name,
        birth_date=person.birth_date, sex=person.sex.value if person.sex else "",
        nationality="VNM", hometown=person.hometown_unit_label or person.birth_country or "",
        residence=_permanent_address(person), issued_on=issued_on, expires_on=card.expires_on,
    )
    face = _face_png(session, application.id)
    card.chip_data = chip.build_chip_data(data, face, *chip_signer)
    card.qr_text = chip.build_qr_text(data, face, *chip_signer)
    application.status, application.batch_id = "produced", batch.id
    _event(session, actor, application.id, "produced", f"{card.document_number}, batch {batch.id}")
    return card


def produce_batch(session: Session, actor: Actor, application_ids: Iterable[int] | None = None,
                  limit: int = 500) -> BatchResult:
    """Personalise the approved applications (all in scope, or the ones named): sign chip data and QR."""
    _require_province_registrar(session, actor)
    # Two runs at once would both personalise the same approved applications; the second waits and finds none.
    lock_key(session, "card-production")
    query = select(CardApplication).where(CardApplication.status == "approved").order_by(CardApplication.id)
    if application_ids is not None:
        query = query.where(CardApplication.id.in_(list(application_ids)))
    scope = _scope_units(session, actor)
    if scope is not None:
        query = query.where(CardApplication.unit_id.in_(scope))
    applications = session.scalars(query.limit(limit)).all()
    if not applications:
        raise CardError("no approved application is waiting for production")
    batch = CardBatch(created_at=_now(), created_by=actor.username, cards=len(applications))
    session.add(batch)
    session.flush()
    chip_signer = signer(session, CHIP_SIGNER)
    cards = [_produce(session, actor, application, batch, chip_signer) for application in applications]
    session.flush()
    return BatchResult(batch_id=batch.id, cards=len(cards), application_ids=[a.id for a in applications])


def _card_of(session: Session, application: CardApplication) -> Card:
    card = session.scalar(select(Card).where(Card.application_id == application.id))
    if card is None:
        raise ApplicationNotFound(f"no card has been produced for application {application.id} yet")
    return card


def deliver(session: Session, actor: Actor, application_id: int) -> None:
    actor.require(*STAFF)
    application = _load(session, actor, application_id, lock=True)
    if application.status != "produced":
        raise CardError("only a produced card can be delivered")
    card = _card_of(session, application)
    card.status, card.delivered_at = "delivered", _now()
    application.status = "delivered"
    _event(session, actor, application.id, "delivered")
    session.flush()


def activate(session: Session, actor: Actor, application_id: int) -> None:
    """The holder received the card in person: it becomes the valid one, and any earlier card is revoked."""
    actor.require(*STAFF)
    # The person first (as every change of a person's cards), then the application: the earlier cards
    # superseded here must not be reported lost meanwhile, and no second card may become active.
    registry.lock_person(session, _load(session, actor, application_id).person_id)
    application = _load(session, actor, application_id, lock=True)
    if application.status != "delivered":
        raise CardError("only a delivered card can be activated")
    card = _card_of(session, application)
    earlier = session.scalars(select(Card).where(Card.person_id == card.person_id, Card.id != card.id,
                                                 Card.status.in_(HOLDING_STATUSES))).all()
    for old in earlier:
        old.status, old.revoked_at, old.revocation_reason = "superseded", _now(), "superseded"
        _event(session, actor, old.application_id, "superseded", card.document_number)
    card.status, card.activated_at = "active", _now()
    application.status = "activated"
    _event(session, actor, application.id, "activated")
    session.flush()
    if earlier:
        publish_status_list(session)


def report_loss(session: Session, actor: Actor, document_number: str, note: str = "") -> None:
    """Revoke a lost card at once: a new status list is signed and published in the same transaction."""
    actor.require(*STAFF)
    card = session.scalar(select(Card).where(Card.document_number == document_number.strip()))
    application = session.get(CardApplication, card.application_id) if card else None
    if card is None or application is None:
        raise ApplicationNotFound(f"no card {document_number}")
    _load(session, actor, application.id)
    registry.lock_person(session, card.person_id)
    card = lock_row(session, Card, card.id)
    if card.revoked_at is not None:
        raise CardError(f"card {card.document_number} is already revoked ({card.revocation_reason})")
    card.status, card.revoked_at, card.revocation_reason = "lost", _now(), "lost"
    _event(session, actor, application.id, "lost", note)
    session.flush()
    publish_status_list(session)


# ---- status list ------------------------------------------------------------------------------


def _chip_signer_certificates(session: Session) -> list[x509.Certificate]:
    """Every certificate that signed a card still in circulation, read from the cards' own SODs."""
    first_cards = select(func.min(Card.id)).group_by(Card.signer_serial)
    certs = []
    for chip_data in session.scalars(select(Card.chip_data).where(Card.id.in_(first_cards))):
        header, _ = chip.compact_parts(json.loads(chip_data)["sod"])
        certs.append(chip.x5c_certificate(header))
    return certs


def publish_status_list(session: Session) -> CardStatusList:
    now = _now().replace(microsecond=0)
    sequence = (session.scalar(select(func.max(CardStatusList.sequence))) or 0) + 1
    revoked = [chip.RevokedCard(doc, reason, at.date())
               for doc, reason, at in session.execute(
                   select(Card.document_number, Card.revocation_reason, Card.revoked_at)
                   .where(Card.revoked_at.is_not(None)))]
    signers = _chip_signer_certificates(session)
    if not signers:
        signers = [pki.document_signer(session, CHIP_SIGNER)[1]]
    cert, sign = signer(session, STATUS_SIGNER)
    token = chip.build_status_list(sequence=sequence, issued_at=now, next_update=now + STATUS_LIFETIME,
                                   revoked=revoked, chip_signers=signers, signer_cert=cert, sign_der=sign)
    row = CardStatusList(sequence=sequence, issued_at=now, next_update=now + STATUS_LIFETIME, token=token)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another process published this sequence meanwhile; publish on top of it.
        return publish_status_list(session)
    return row


def current_status_list(session: Session) -> str:
    latest = session.scalar(select(CardStatusList).order_by(CardStatusList.sequence.desc()).limit(1))
    next_update = latest.next_update if latest else None
    if next_update is not None and next_update.tzinfo is None:
        next_update = next_update.replace(tzinfo=dt.UTC)
    if latest is None or next_update - _now() < STATUS_REFRESH_BEFORE:
        latest = publish_status_list(session)
    return latest.token


def trust(session: Session, at: dt.datetime | None = None) -> chip.Trust:
    """The same trust an offline verifier holds, from the published CA, status list and CRL."""
    ca_pem = pki.country_ca(session).public_bytes(serialization.Encoding.PEM)
    crl_der = pki.current_crl(session).public_bytes(serialization.Encoding.DER)
    return chip.load_trust(ca_pem, current_status_list(session), crl_der, at)


def verify(session: Session, data: str | bytes) -> chip.Verification:
    return chip.verify_any(data, trust(session))


# ---- reading ----------------------------------------------------------------------------------


def _summary(application: CardApplication) -> ApplicationSummary:
    return ApplicationSummary(
        id=application.id, person_id=application.person_id, kind=application.kind, channel=application.channel,
        unit_id=application.unit_id, status=application.status, created_at=application.created_at,
        created_by=application.created_by, batch_id=application.batch_id,
    )


def list_applications(session: Session, actor: Actor, query: ApplicationFilter) -> ApplicationPage:
    actor.require(*STAFF)
    stmt = select(CardApplication)
    for column, value in ((CardApplication.status, query.status), (CardApplication.kind, query.kind),
                          (CardApplication.channel, query.channel), (CardApplication.person_id, query.person_id),
                          (CardApplication.visit_id, query.visit_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    scope = _scope_units(session, actor)
    if scope is not None:
        stmt = stmt.where(CardApplication.unit_id.in_(scope))
    total = session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = session.scalars(stmt.order_by(CardApplication.id.desc()).limit(query.page_size)
                           .offset((query.page - 1) * query.page_size)).all()
    return ApplicationPage(items=[_summary(a) for a in rows], total=total, page=query.page,
                           page_size=query.page_size)


def _card_view(card: Card) -> CardView:
    return CardView(document_number=card.document_number, status=card.status, issued_on=card.issued_on,
                    expires_on=card.expires_on, delivered_at=card.delivered_at, activated_at=card.activated_at,
                    revoked_at=card.revoked_at, revocation_reason=card.revocation_reason)


def get_application(session: Session, actor: Actor, application_id: int, purpose: str) -> ApplicationView:
    actor.require(*STAFF)
    application = _load(session, actor, application_id)
    person = _person(session, actor, application.person_id, purpose)
    biometrics = session.get(CardBiometrics, application.id)
    card = session.scalar(select(Card).where(Card.application_id == application.id))
    previous = session.scalars(select(Card).where(Card.person_id == application.person_id,
                                                  Card.application_id != application.id)
                               .order_by(Card.id.desc())).all()
    birth = _birth(person)
    holding = _holding_card(session, application.person_id)
    return ApplicationView(
        **_summary(application).model_dump(), reason=application.reason, visit_id=application.visit_id,
        decided_at=application.decided_at, decided_by=application.decided_by,
        decision_note=application.decision_note, unit_label=units.unit_label(session, application.unit_id),
        person_pin=person.pin, person_name=person.full_name, person_birth_date=person.birth_date,
        person_age=rules.age_on(birth, _today()), needs_biometrics=rules.needs_biometrics(birth, _today()),
        biometrics_device=biometrics.device_id if biometrics else None,
        biometrics_captured_at=biometrics.captured_at if biometrics else None,
        biometrics_fingers=biometrics.fingers.split(",") if biometrics else [],
        face_quality=biometrics.face_quality if biometrics else None,
        card=_card_view(card) if card else None, previous_cards=[_card_view(c) for c in previous],
        current_card_expires_on=holding.expires_on if holding else None,
        events=[EventView(at=e.at, actor=e.actor, action=e.action, note=e.note) for e in session.scalars(
            select(CardEvent).where(CardEvent.application_id == application.id).order_by(CardEvent.id))],
    )


def chip_data(session: Session, actor: Actor, application_id: int, purpose: str) -> tuple[str, str]:
    """(chip data file, QR text) of the application's card; reading them is logged like a record read."""
    actor.require(*STAFF)
    application = _load(session, actor, application_id)
    card = _card_of(session, application)
    _person(session, actor, application.person_id, purpose)
    return card.chip_data, card.qr_text


# ---- mobile teams ----------------------------------------------------------------------------


def create_team(session: Session, actor: Actor, data: TeamInput) -> int:
    actor.require(*STAFF)
    _check_unit(session, actor, data.unit_id)
    if session.scalar(select(MobileTeam.id).where(MobileTeam.name == data.name.strip())):
        raise CardError(f"a team named {data.name.strip()!r} exists already")
    team = MobileTeam(name=data.name.strip(), unit_id=data.unit_id, created_at=_now())
    session.add(team)
    session.flush()
    return team.id


def _team(session: Session, actor: Actor, team_id: int) -> MobileTeam:
    team = session.get(MobileTeam, team_id)
    scope = _scope_units(session, actor)
    if team is None or (scope is not None and team.unit_id not in scope):
        raise ApplicationNotFound(f"no mobile team {team_id}")
    return team


def list_teams(session: Session, actor: Actor) -> list[TeamView]:
    actor.require(*STAFF)
    scope = _scope_units(session, actor)
    stmt = select(MobileTeam).order_by(MobileTeam.name)
    if scope is not None:
        stmt = stmt.where(MobileTeam.unit_id.in_(scope))
    teams = session.scalars(stmt).all()
    views = []
    for team in teams:
        visits = session.scalars(select(TeamVisit).where(TeamVisit.team_id == team.id)
                                 .order_by(TeamVisit.visit_on, TeamVisit.id)).all()
        views.append(TeamView(id=team.id, name=team.name, unit_id=team.unit_id,
                              unit_label=units.unit_label(session, team.unit_id),
                              visits=[_visit_view(session, v, team) for v in visits]))
    return views


def _visit_view(session: Session, visit: TeamVisit, team: MobileTeam, entries: list[EntryView] | None = None,
                ) -> VisitView:
    count = session.scalar(select(func.count()).select_from(VisitEntry).where(VisitEntry.visit_id == visit.id))
    return VisitView(id=visit.id, team_id=team.id, team_name=team.name, visit_on=visit.visit_on,
                     place_kind=visit.place_kind, place=visit.place, unit_id=visit.unit_id,
                     unit_label=units.unit_label(session, visit.unit_id), status=visit.status,
                     exported_at=visit.exported_at, entry_count=count, entries=entries or [])


def schedule_visit(session: Session, actor: Actor, team_id: int, data: VisitInput) -> int:
    actor.require(*STAFF)
    _team(session, actor, team_id)
    _check_unit(session, actor, data.unit_id)
    if data.visit_on < _today():
        raise CardError("a visit is scheduled for today or later")
    visit = TeamVisit(team_id=team_id, visit_on=data.visit_on, place_kind=data.place_kind, place=data.place.strip(),
                      unit_id=data.unit_id, status="planned")
    session.add(visit)
    session.flush()
    return visit.id


def _visit(session: Session, actor: Actor, visit_id: int) -> tuple[TeamVisit, MobileTeam]:
    visit = session.get(TeamVisit, visit_id)
    if visit is None:
        raise ApplicationNotFound(f"no visit {visit_id}")
    return visit, _team(session, actor, visit.team_id)


def add_visit_entry(session: Session, actor: Actor, visit_id: int, data: EntryInput) -> int:
    actor.require(*STAFF)
    visit, _ = _visit(session, actor, visit_id)
    if visit.status == "done":
        raise CardError("this visit is closed")
    person_id = _person_by_pin(session, actor, data.pin, "mobile team visit list")
    if session.scalar(select(VisitEntry.id).where(VisitEntry.visit_id == visit_id,
                                                  VisitEntry.person_id == person_id)):
        raise CardError("this person is already on the visit list")
    entry = VisitEntry(visit_id=visit_id, person_id=person_id, kind=data.kind, note=data.note.strip())
    session.add(entry)
    session.flush()
    return entry.id


def get_visit(session: Session, actor: Actor, visit_id: int, purpose: str) -> VisitView:
    actor.require(*STAFF)
    visit, team = _visit(session, actor, visit_id)
    entries = []
    for entry in session.scalars(select(VisitEntry).where(VisitEntry.visit_id == visit_id).order_by(VisitEntry.id)):
        person = _person(session, actor, entry.person_id, purpose)
        application = session.get(CardApplication, entry.application_id) if entry.application_id else None
        entries.append(EntryView(id=entry.id, person_id=entry.person_id, pin=person.pin, full_name=person.full_name,
                                 birth_date=person.birth_date, kind=entry.kind, note=entry.note,
                                 application_id=entry.application_id,
                                 application_status=application.status if application else None))
    return _visit_view(session, visit, team, entries)


def export_package(session: Session, actor: Actor, visit_id: int) -> dict:
    """The visit list for a team going offline: checksummed, and signed by the card-visit document signer
    so that a device holding only ca.pem can tell a genuine list from a forged one."""
    actor.require(*STAFF)
    view = get_visit(session, actor, visit_id, "mobile team offline visit list")
    visit = session.get(TeamVisit, visit_id)
    if not view.entries:
        raise CardError("the visit list is empty")
    now = _now().replace(microsecond=0)
    visit.status, visit.exported_at, visit.package_id = "exported", now, str(uuid.uuid4())
    body = {
        "format": PACKAGE_FORMAT, "package_id": visit.package_id, "exported_at": now.isoformat(),
        "exported_by": actor.username, "expires_at": (now + PACKAGE_LIFETIME).isoformat(),
        "visit": {"id": view.id, "team": view.team_name, "visit_on": view.visit_on.isoformat(),
                  "place_kind": view.place_kind, "place": view.place, "unit": view.unit_label},
        "entries": [{"entry_id": e.id, "pin": e.pin, "name": e.full_name, "birth_date": e.birth_date,
                     "kind": e.kind, "note": e.note} for e in view.entries if e.application_id is None],
    }
    canonical = chip.canonical(body)
    cert, sign = signer(session, VISIT_SIGNER)
    session.flush()
    return {**body, "checksum": "sha256:" + hashlib.sha256(canonical).hexdigest(),
            "signature": chip.sign_compact({"alg": chip.ALGORITHM, "typ": "dancu-visit-package+jws",
                                            "x5c": [base64.b64encode(cert.public_bytes(
                                                serialization.Encoding.DER)).decode()]}, canonical, sign)}


def check_package(package: dict, ca_pem: bytes) -> dict:
    """The package body, when it is intact (checksum) and genuine (signed under the country CA)."""
    body = {k: v for k, v in package.items() if k not in ("checksum", "signature")}
    if package.get("format") != PACKAGE_FORMAT:
        raise CardError("not a dancu visit package")
    canonical = chip.canonical(body)
    if package.get("checksum") != "sha256:" + hashlib.sha256(canonical).hexdigest():
        raise CardError("the package is damaged (checksum mismatch); export it again")
    problem = chip.signed_document_problem(str(package.get("signature", "")), canonical, ca_pem,
                                           chip.VISIT_SIGNER_CN)
    if problem:
        raise CardError(f"the package is not signed by a dancu visit signer under this CA ({problem})")
    return body


def _capture_from_upload(upload: CaptureUpload) -> BiometricCapture:
    try:
        return BiometricCapture(
            device_id=upload.device_id,
            face=FaceCapture(image_png=base64.b64decode(upload.face_png, validate=True), quality=upload.face_quality),
            fingerprints=tuple(FingerprintCapture(finger=f.finger, template=base64.b64decode(f.template,
                                                                                             validate=True),
                                                  quality=f.quality) for f in upload.fingerprints),
        )
    except ValueError as exc:
        raise CardError("the biometric data is not valid base64") from exc


def upload_capture(session: Session, actor: Actor, upload: CaptureUpload) -> CaptureResult:
    """Store one capture made offline; uploading it again (same capture_id) changes nothing."""
    actor.require(*STAFF)
    digest = hashlib.sha256(upload.model_dump_json().encode()).hexdigest()
    existing = session.scalar(select(CardApplication).where(CardApplication.capture_key == upload.capture_id))
    if existing is not None:
        if existing.capture_digest != digest:
            raise CardConflict("this capture_id was already uploaded with different content")
        _load(session, actor, existing.id)
        return CaptureResult(application_id=existing.id, replayed=True)
    entry = session.get(VisitEntry, upload.entry_id)
    if entry is None:
        raise ApplicationNotFound(f"no visit entry {upload.entry_id}")
    visit, _ = _visit(session, actor, entry.visit_id)
    if visit.package_id != upload.package_id:
        raise CardError("this capture belongs to an older or unknown package of the visit")
    if entry.application_id is not None:
        raise CardError(f"this person's capture was already received as application #{entry.application_id}")
    capture = _capture_from_upload(upload)
    if not all(f.finger in FINGERS for f in capture.fingerprints):
        raise CardError(f"fingers are named {', '.join(FINGERS)}")
    person = _person(session, actor, entry.person_id, "mobile team capture upload")
    try:
        with session.begin_nested():
            application_id = create_application(session, actor, ApplicationInput(
                person_id=person.id, kind=entry.kind, reason=entry.note, unit_id=visit.unit_id), visit=visit)
            application = session.get(CardApplication, application_id)
            application.capture_key, application.capture_digest = upload.capture_id, digest
            _store_capture(session, application, capture, upload.captured_at)
            _event(session, actor, application_id, "captured", f"{capture.device_id}, offline {upload.captured_at}")
            entry.application_id = application_id
            session.flush()
    except IntegrityError:
        # The same capture arrived twice at once: the other request stored it.
        existing = session.scalar(select(CardApplication).where(CardApplication.capture_key == upload.capture_id))
        if existing is None or existing.capture_digest != digest:
            raise CardConflict("this capture_id was already uploaded with different content") from None
        return CaptureResult(application_id=existing.id, replayed=True)
    return CaptureResult(application_id=application_id, replayed=False)
