"""Concurrent e-ID requests for one account: really concurrent, each with its own session and connection.

Counters were read, raised and written back (two wrong guesses at once counted
as one), and single-use things were checked, then marked used (a recovery code,
an activation code or a phone code answered twice at once worked twice). The
account, the challenge or the counter row is now locked across read-decide-write.
"""

from __future__ import annotations

import datetime as dt
import re

import pyotp
from at_once import at_once
from eid_helpers import CITIZEN_PASSWORD, OTHER_PIN, PARENT_PIN, add_person
from sqlalchemy import func, select

from dancu.accounts.models import Role, User
from dancu.accounts.services import Actor
from dancu.identity.eid import services as eid
from dancu.identity.eid.models import EidAccount, EidOutbox, EidRecoveryCode, EidThrottle
from dancu.registry.models import Sex

GUESSES = 4  # below the lockout (5): every one must be counted
CLIENTS = 8
ROUNDS = 3  # a race lost by chance in one round is seldom lost in every round
IP = "203.0.113.7"


def _answering(action):
    """Like a page: a refusal is the answer, and the unit of work commits what it counted."""
    def answer(index: int, session) -> object:
        try:
            return action(index, session)
        except eid.EidError as refusal:
            return refusal
    return answer


def _account(session, pin: str = PARENT_PIN) -> int:
    account_id = eid.create_account(session, pin=pin, phone="0912345678", password=CITIZEN_PASSWORD)
    session.commit()
    return account_id


def _registrar(session) -> Actor:
    """The province registrar the citizens fixture creates."""
    user = session.scalar(select(User).where(User.username == "canbo"))
    return Actor(user.username, Role.REGISTRAR, user.scope_unit_id)


def _new_person(session, citizens, round_: int) -> tuple[int, str]:
    pin = f"07907500{round_ + 2001:04d}"
    person_id = add_person(session, "Lê Văn Cường", "1975-01-20", Sex.MALE, citizens.commune_id, pin)
    session.commit()
    return person_id, pin


def test_concurrent_wrong_passwords_all_count(session, citizens):
    account_id = _account(session)
    results = at_once(GUESSES, _answering(lambda i, s: eid.authenticate_password(s, PARENT_PIN, f"sai-mat-khau-{i}", IP)))
    assert all(isinstance(r, eid.EidError) for r in results), results
    session.expire_all()
    assert session.get(EidAccount, account_id).failed_attempts == GUESSES
    assert session.get(EidThrottle, f"ip:{IP}").failures == GUESSES


def test_concurrent_guesses_at_a_pin_without_account_all_count(session, citizens):
    results = at_once(GUESSES, _answering(lambda i, s: eid.authenticate_password(s, OTHER_PIN, f"sai-mat-khau-{i}", IP)))
    assert all(type(r) is eid.EidError for r in results), results  # no IntegrityError creating the counter
    session.expire_all()
    assert session.get(EidThrottle, f"pin:{OTHER_PIN}").failures == GUESSES


def test_a_recovery_code_used_twice_at_once_works_once(session, citizens):
    account_id = _account(session)
    code = eid.new_recovery_codes(session, eid.get_account(session, account_id))[0]
    session.commit()
    results = at_once(GUESSES, _answering(lambda i, s: eid.verify_totp_or_recovery(s, eid.get_account(s, account_id), code, IP)))
    assert results.count("rec") == 1
    assert all(isinstance(r, eid.EidError) for r in results if r != "rec"), results
    assert eid.recovery_codes_left(session, account_id) == eid.RECOVERY_CODES - 1


def test_a_totp_code_used_twice_at_once_works_once(session, citizens):
    account_id = _account(session)
    for _round in range(ROUNDS):
        session.expire_all()
        eid.unlock(session, PARENT_PIN)  # the losers of the round before count as wrong codes
        account = eid.get_account(session, account_id)
        eid.disable_totp(session, account)
        secret = eid.begin_totp(session, account)
        eid.confirm_totp(session, account, pyotp.TOTP(secret).at(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)))
        session.commit()
        code = pyotp.TOTP(secret).now()
        results = at_once(CLIENTS, _answering(lambda i, s: eid.verify_totp_or_recovery(
            s, eid.get_account(s, account_id), code, f"198.51.100.{i}")))
        assert results.count("otp") == 1, results


def test_recovery_codes_made_twice_at_once_leave_one_set(session, citizens):
    account_id = _account(session)
    results = at_once(2, _answering(lambda i, s: eid.new_recovery_codes(s, eid.get_account(s, account_id))))
    assert all(isinstance(r, list) for r in results), results
    assert session.scalar(select(func.count()).select_from(EidRecoveryCode)
                          .where(EidRecoveryCode.account_id == account_id)) == eid.RECOVERY_CODES


def test_an_activation_code_used_twice_at_once_sets_one_password(session, citizens):
    registrar = _registrar(session)
    code = eid.proof_in_person(session, registrar, citizens.other_id, card_checked=True, face_matched=True,
                               place="police_office", location="Công an phường", phone=None).activation_code
    session.commit()
    results = at_once(GUESSES, _answering(lambda i, s: eid.activate(s, pin=OTHER_PIN, code=code,
                                                         password=f"mat-khau-moi-{i}-2026", ip=IP)))
    winners = [i for i, r in enumerate(results) if isinstance(r, EidAccount)]
    assert len(winners) == 1, results
    assert all(isinstance(r, eid.EidError) for r in results if not isinstance(r, EidAccount)), results
    account = eid.authenticate_password(session, OTHER_PIN, f"mat-khau-moi-{winners[0]}-2026", "198.51.100.1")
    assert account.level == 2


def test_concurrent_in_person_proofings_create_one_account(session, citizens):
    registrar = _registrar(session)
    for round_ in range(ROUNDS):
        person_id, _pin = _new_person(session, citizens, round_)
        results = at_once(CLIENTS, _answering(lambda i, s: eid.proof_in_person(
            s, registrar, person_id, card_checked=True, face_matched=True, place="police_office",
            location="Công an phường", phone=None)))
        assert all(isinstance(r, eid.ProofingResult) for r in results), results
        assert session.scalar(select(func.count()).select_from(EidAccount)
                              .where(EidAccount.person_id == person_id)) == 1


def test_a_registration_code_answered_twice_at_once_registers_once(session, citizens):
    for round_ in range(ROUNDS):
        person_id, pin = _new_person(session, citizens, round_)
        handle = eid.start_registration(session, pin=pin, full_name="Lê Văn Cường", birth_date=dt.date(1975, 1, 20),
                                        phone="0987654321", password=CITIZEN_PASSWORD, ip=f"192.0.2.{round_}")
        session.commit()
        body = session.scalar(select(EidOutbox.body).where(EidOutbox.kind == "registration_code")
                              .order_by(EidOutbox.id.desc()).limit(1))
        code = re.search(r"\b(\d{6})\b", body)[1]
        results = at_once(CLIENTS, _answering(lambda i, s: eid.finish_registration(s, handle, code, IP).id))
        assert sum(isinstance(r, int) for r in results) == 1, results
        assert all(isinstance(r, eid.EidError) for r in results if not isinstance(r, int)), results
        assert session.scalar(select(func.count()).select_from(EidAccount)
                              .where(EidAccount.person_id == person_id)) == 1
