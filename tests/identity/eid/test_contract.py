"""The contract other identity parts rely on: accounts, levels, the web-session principal, OIDC claims."""

from __future__ import annotations

import datetime as dt

import pytest
from eid_helpers import CITIZEN_PASSWORD, OTHER_PIN, PARENT_PIN
from sqlalchemy import select

from dancu.accounts.services import SYSTEM, Actor, PermissionDenied, Role
from dancu.audit.models import AccessLogEntry
from dancu.identity.eid import services as eid


def test_create_account_then_level_and_claims(session, citizens):
    account_id = eid.create_account(session, pin=PARENT_PIN, phone="0912 345 678", password=CITIZEN_PASSWORD)
    account = eid.get_account(session, account_id)
    assert (account.level, account.phone, account.person_id) == (1, "+84912345678", citizens.parent_id)
    with pytest.raises(eid.EidError) as exists:
        eid.create_account(session, pin=PARENT_PIN, phone=None, password=CITIZEN_PASSWORD)
    assert exists.value.key == "eid.err.exists"

    with pytest.raises(PermissionDenied):
        eid.set_level(session, Actor(username="kiemtra", role=Role.AUDITOR), account_id, 2, "card checked")
    eid.set_level(session, SYSTEM, account_id, 2, "card and face checked at the ward police office")
    assert eid.get_account(session, account_id).level == 2

    claims = eid.claims_for(session, account_id, ["name", "given_name", "family_name", "birthdate", "gender",
                                                  "address", "phone_number", "phone_number_verified", "pin",
                                                  "nationalities", "unknown_claim"], "log in to the city app")
    assert claims["name"] == "Nguyễn Văn An" and claims["given_name"] == "An" and claims["family_name"] == "Nguyễn"
    assert claims["birthdate"] == "1990-05-17" and claims["gender"] == "male" and claims["pin"] == PARENT_PIN
    assert claims["phone_number"] == "+84912345678" and claims["phone_number_verified"] is True
    assert claims["address"]["formatted"].startswith("12 Lê Lợi, ") and claims["nationalities"] == ["VN"]
    assert "unknown_claim" not in claims and "sub" not in claims
    logged = session.scalars(select(AccessLogEntry).where(AccessLogEntry.purpose == "log in to the city app")).all()
    assert [(e.actor, e.subject_id) for e in logged] == [("e-id", str(citizens.parent_id))]


def test_phone_only_claims_do_not_read_the_register(session, citizens):
    account_id = eid.create_account(session, pin=OTHER_PIN, phone=None, password=CITIZEN_PASSWORD)
    assert eid.claims_for(session, account_id, ["phone_number"], "phone check") == {}
    assert session.scalar(select(AccessLogEntry).where(AccessLogEntry.purpose == "phone check")) is None


def test_principal_from_web_session_follows_the_server_side_session(session, citizens):
    account_id = eid.create_account(session, pin=PARENT_PIN, phone=None, password=CITIZEN_PASSWORD)
    account = eid.authenticate_password(session, PARENT_PIN, CITIZEN_PASSWORD, "203.0.113.7")
    started = eid.start_session(session, account, ["pwd"], user_agent="Mozilla/5.0 (X11; Linux) Chrome/156",
                                ip="203.0.113.7", device_token=None)
    web_session = {eid.WEB_SESSION_KEY: started.token}
    principal = eid.principal_from_web_session(session, web_session)
    assert principal.account_id == account_id and principal.person_id == citizens.parent_id
    assert principal.level == 1 and principal.amr == ("pwd",)
    assert dt.datetime.now(dt.UTC) - principal.auth_time < dt.timedelta(minutes=1)
    assert eid.principal_from_web_session(session, {}) is None
    assert eid.principal_from_web_session(session, {eid.WEB_SESSION_KEY: "forged"}) is None
    eid.revoke_session(session, account_id, eid.current_session_id(session, web_session))
    assert eid.principal_from_web_session(session, web_session) is None
