"""Concurrent card actions for one person: really concurrent requests, each with its own session.

Every card action reads a status, decides and writes. Two at once used to decide
on the same state: two applications both found none in progress, two
activations or two loss reports of one card both went through. The person (and
the application or card) is now locked across read-decide-write, and partial
unique indexes make two applications in progress or two active cards impossible.
"""

from __future__ import annotations

import datetime as dt

import pytest
from at_once import at_once
from migration_helpers import downgrade_below
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dancu.db import get_engine
from dancu.identity.cards import services as cards
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.identity.cards.models import Card, CardApplication, CardBatch, CardEvent
from dancu.identity.cards.schemas import ApplicationInput
from dancu.migrate import upgrade

CLIENTS = 8
ROUNDS = 3  # a race lost by chance in one round is seldom lost in every round


def _application(commune, person_id: int, kind: str = "first") -> ApplicationInput:
    return ApplicationInput(person_id=person_id, kind=kind, reason="", unit_id=commune.id)


def _refusals(results: list[object]) -> list[object]:
    return [r for r in results if r is not None and not isinstance(r, int)]


def _approved(session, approver, commune, person_id: int) -> int:
    application_id = cards.create_application(session, approver, _application(commune, person_id))
    cards.capture_biometrics(session, approver, application_id, SimulatedCaptureDevice())
    cards.decide(session, approver, application_id, approve=True)
    session.commit()
    return application_id


def test_concurrent_applications_for_one_person_accept_one(session, approver, commune, make_person):
    for round_ in range(ROUNDS):
        person_id = make_person(f"Nguyễn Văn An{round_}")
        results = at_once(CLIENTS, lambda i, s: cards.create_application(s, approver,
                                                                         _application(commune, person_id)))
        assert sum(isinstance(r, int) for r in results) == 1
        assert all(isinstance(r, cards.CardError) and "in progress" in str(r) for r in _refusals(results)), results
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(CardApplication)
                              .where(CardApplication.person_id == person_id)) == 1


def test_concurrent_decisions_on_one_application_take_the_first(session, approver, commune, make_person):
    for round_ in range(ROUNDS):
        person_id = make_person(f"Nguyễn Văn An{round_}")
        application_id = cards.create_application(session, approver, _application(commune, person_id))
        cards.capture_biometrics(session, approver, application_id, SimulatedCaptureDevice())
        session.commit()
        results = at_once(CLIENTS, lambda i, s: cards.decide(s, approver, application_id, approve=i % 2 == 0,
                                                             note=f"quyết định {i}"))
        assert sum(r is None for r in results) == 1
        assert all(isinstance(r, cards.CardError) for r in _refusals(results)), results
        decided = session.scalars(select(CardEvent.action).where(
            CardEvent.application_id == application_id, CardEvent.action.in_(("approved", "rejected")))).all()
        assert len(decided) == 1


def test_concurrent_production_runs_make_one_card_per_application(session, approver, commune, make_person):
    application_ids = [_approved(session, approver, commune, make_person(f"Trần Văn Bình{i}")) for i in range(3)]
    results = at_once(4, lambda i, s: cards.produce_batch(s, approver, application_ids).batch_id)
    assert sum(isinstance(r, int) for r in results) == 1
    assert all(isinstance(r, cards.CardError) for r in _refusals(results)), results
    assert session.scalar(select(func.count()).select_from(CardBatch)) == 1
    assert session.scalar(select(func.count()).select_from(Card)) == 3


def test_concurrent_deliveries_and_activations_of_one_card_go_through_once(session, approver, commune,
                                                                          make_person, issue_card):
    person_id = make_person()
    first = issue_card(person_id)
    renewal = cards.create_application(session, approver, _application(commune, person_id, "change")
                                       .model_copy(update={"reason": "đổi họ tên"}))
    cards.capture_biometrics(session, approver, renewal, SimulatedCaptureDevice())
    cards.decide(session, approver, renewal, approve=True)
    cards.produce_batch(session, approver, [renewal])
    session.commit()
    delivered = at_once(CLIENTS, lambda i, s: cards.deliver(s, approver, renewal))
    assert sum(r is None for r in delivered) == 1
    assert all(isinstance(r, cards.CardError) for r in _refusals(delivered)), delivered
    activated = at_once(CLIENTS, lambda i, s: cards.activate(s, approver, renewal))
    assert sum(r is None for r in activated) == 1
    assert all(isinstance(r, cards.CardError) for r in _refusals(activated)), activated
    session.expire_all()
    statuses = dict(session.execute(select(Card.application_id, Card.status).where(Card.person_id == person_id)).all())
    assert statuses == {first: "superseded", renewal: "active"}
    events = session.scalars(select(CardEvent.action).where(CardEvent.application_id.in_((first, renewal)),
                                                            CardEvent.action.in_(("superseded", "activated")))).all()
    assert sorted(events) == ["activated", "activated", "superseded"]  # the first card's, the renewal's


def test_a_card_reported_lost_twice_at_once_is_revoked_once(session, approver, make_person, issue_card):
    application_id = issue_card(make_person())
    number = session.scalar(select(Card.document_number).where(Card.application_id == application_id))
    results = at_once(CLIENTS, lambda i, s: cards.report_loss(s, approver, number, note=f"báo mất {i}"))
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, cards.CardError) and "already revoked" in str(r) for r in _refusals(results)), results
    assert session.scalar(select(func.count()).select_from(CardEvent).where(
        CardEvent.application_id == application_id, CardEvent.action == "lost")) == 1


def test_the_database_refuses_a_second_active_card_or_open_application(session, approver, commune, make_person,
                                                                       issue_card):
    person_id = make_person()
    application_id = issue_card(person_id)
    card = session.scalar(select(Card).where(Card.application_id == application_id))
    values = {c: getattr(card, c) for c in ("person_id", "status", "issued_on", "chip_data", "qr_text",
                                           "signer_serial")}
    open_one = cards.create_application(session, approver, _application(commune, person_id, "change")
                                        .model_copy(update={"reason": "đổi địa chỉ"}))
    session.commit()
    row = session.get(CardApplication, open_one)
    copy = {c: getattr(row, c) for c in ("person_id", "kind", "reason", "channel", "unit_id", "status",
                                         "created_at", "created_by", "decision_note")}
    with pytest.raises(IntegrityError):
        session.execute(insert(Card).values(**values, document_number="C99999999999", application_id=open_one))
    session.rollback()
    with pytest.raises(IntegrityError):
        session.execute(insert(CardApplication).values(**copy))
    session.rollback()
    # a closed application beside the open one is history, not a duplicate
    session.execute(insert(CardApplication).values(**{**copy, "status": "rejected"}))
    session.commit()


def test_migration_keeps_one_active_card_and_one_open_application(database_url, session, approver, commune,
                                                                  make_person, issue_card):
    person_id = make_person()
    older, newer = issue_card(person_id), None
    newer = cards.create_application(session, approver, _application(commune, person_id, "change")
                                     .model_copy(update={"reason": "đổi họ tên"}))
    session.commit()
    older_card = session.scalar(select(Card).where(Card.application_id == older))
    session.close()
    downgrade_below("0015_concurrency_invariants")
    with get_engine().begin() as connection:
        # what concurrent actions could leave before the indexes: two applications in progress for the
        # person (the older one delivered), and the older card still active beside a newer active one
        connection.execute(update(CardApplication.__table__).where(CardApplication.id == older)
                           .values(status="delivered"))
        second = connection.execute(insert(CardApplication.__table__).values(
            person_id=person_id, kind="change", reason="x", channel="office", unit_id=commune.id,
            status="activated", created_at=dt.datetime.now(dt.UTC), created_by="t", decision_note="")
        ).inserted_primary_key[0]
        connection.execute(insert(Card.__table__).values(
            person_id=person_id, application_id=second, status="active", issued_on=dt.date.today(),
            document_number="C99999999999", chip_data="", qr_text="", signer_serial="1",
            activated_at=older_card.activated_at + dt.timedelta(seconds=1)))
    upgrade()
    session.expire_all()
    active = session.scalars(select(Card.document_number).where(Card.person_id == person_id,
                                                               Card.status == "active")).all()
    assert active == ["C99999999999"]
    assert session.get(Card, older_card.id).revocation_reason == "superseded"
    open_ones = session.scalars(select(CardApplication.id).where(
        CardApplication.person_id == person_id, CardApplication.status.in_(cards.OPEN_STATUSES))).all()
    assert open_ones == [older]  # delivered is furthest along
    assert session.get(CardApplication, newer).status == "rejected"
    actions = session.scalars(select(CardEvent.action).where(CardEvent.actor == "migration 0015")).all()
    assert sorted(actions) == ["rejected", "superseded"]
