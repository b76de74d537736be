"""Guessing limits, CSRF on every e-ID form, remote sign-out, dependents, and what a mismatch discloses."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pyotp
import pytest
from eid_helpers import CHILD_PIN, CITIZEN_PASSWORD, OTHER_PIN, PARENT_PIN, SPOUSE_PIN, login_citizen, screenshot
from sqlalchemy import select

from dancu import db
from dancu.audit.models import AccessLogEntry
from dancu.identity.eid import services as eid
from dancu.identity.eid.models import EidAccount
from dancu.identity.eid.pages import router as eid_router


def _account(level: int = 1, pin: str = PARENT_PIN, phone: str | None = "0912345678") -> int:
    with db.session_scope() as session:
        return eid.create_account(session, pin=pin, phone=phone, password=CITIZEN_PASSWORD, level=level)


def _csrf(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)[1]


def _login(client: httpx.Client, password: str = CITIZEN_PASSWORD, pin: str = PARENT_PIN) -> httpx.Response:
    return client.post("/eid/login", data={"pin": pin, "password": password, "next": "/me",
                                           "csrf_token": _csrf(client, "/eid/login")})


def test_brute_force_locks_the_account_with_a_clear_message_then_unlocks_in_time(server, citizens):
    account_id = _account()
    with httpx.Client(base_url=server) as client:
        for _ in range(eid.MAX_FAILED_ATTEMPTS - 1):
            assert _login(client, "wrong password").status_code == 401
        locked = _login(client, "wrong password")
        assert locked.status_code == 429 and "tạm khóa" in locked.text
        # Even the right password is refused while the lock lasts.
        assert _login(client).status_code == 429
        with db.session_scope() as session:
            account = session.get(EidAccount, account_id)
            assert account.locked_until is not None
            account.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)  # the lock's time is up
        assert _login(client).status_code == 303


def test_one_address_guessing_across_many_accounts_is_throttled(session, citizens):
    ip = "198.51.100.9"
    for attempt in range(eid.IP_MAX_FAILURES):
        with pytest.raises(eid.EidError):
            eid.authenticate_password(session, f"0790{attempt:08d}", "guess", ip)
    with pytest.raises(eid.Locked):
        eid.authenticate_password(session, PARENT_PIN, CITIZEN_PASSWORD, ip)
    # Another address is not affected.
    with pytest.raises(eid.EidError) as other:
        eid.authenticate_password(session, PARENT_PIN, "guess", "198.51.100.10")
    assert not isinstance(other.value, eid.Locked)


def test_totp_guessing_counts_towards_the_lockout(session, citizens):
    account = eid.get_account(session, eid.create_account(session, pin=PARENT_PIN, phone=None,
                                                          password=CITIZEN_PASSWORD))
    eid.begin_totp(session, account)
    eid.confirm_totp(session, account, pyotp.TOTP(account.totp_secret).now())
    for _ in range(eid.MAX_FAILED_ATTEMPTS - 1):
        with pytest.raises(eid.EidError):
            eid.verify_totp_or_recovery(session, account, "000000", "192.0.2.1")
    with pytest.raises(eid.Locked):
        eid.verify_totp_or_recovery(session, account, "000000", "192.0.2.1")


def _post_routes() -> list[str]:
    paths = []
    for route in eid_router.routes:
        if "POST" in route.methods:
            paths.append(re.sub(r"\{[^}]+\}", "1", route.path))
    return paths


def test_every_e_id_form_refuses_a_post_without_the_csrf_token(server, citizens):
    _account()
    routes = _post_routes()
    assert {"/eid/login", "/eid/register", "/me/sessions/revoke-others", "/eid/proofing/1"} <= set(routes)
    with httpx.Client(base_url=server) as client:
        assert _login(client).status_code == 303  # a signed-in session: only the token is missing below
        for path in routes:
            for body in ({"data": {"pin": PARENT_PIN}}, {"json": {"credential": {}}}):
                response = client.post(path, **body)
                assert response.status_code == 403, path
            wrong = client.post(path, data={"csrf_token": "forged"})
            assert wrong.status_code == 403, path
        assert client.get("/me").status_code == 200  # and the session is still signed in


def test_remote_sign_out_ends_the_other_browser_at_once(chromium, server, citizens):
    _account()
    laptop = chromium.new_context(base_url=server, locale="vi-VN",
                                 user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
    phone = chromium.new_context(base_url=server, locale="vi-VN",
                                user_agent="Mozilla/5.0 (Linux; Android 15) Chrome/156.0 Mobile")
    laptop_page, phone_page = laptop.new_page(), phone.new_page()
    login_citizen(phone_page, server, PARENT_PIN, CITIZEN_PASSWORD)
    login_citizen(laptop_page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me/sessions")
    table = laptop_page.locator("#eid-sessions").inner_text()
    assert "Firefox / Linux" in table and "Chrome / Android" in table
    screenshot(laptop_page, "sessions-vi")
    laptop_page.goto("/me/sessions?lang=en")
    screenshot(laptop_page, "sessions-en")
    laptop_page.locator("#eid-sessions tr", has_text="Android").locator("button").click()
    laptop_page.wait_for_url("**/me/sessions")
    assert "Android" not in laptop_page.locator("#eid-sessions").inner_text()
    phone_page.goto("/me")
    assert "/eid/login" in phone_page.url
    laptop_page.goto("/me")
    assert laptop_page.url.endswith("/me")
    laptop.close()
    phone.close()


def test_guardian_holds_and_switches_to_a_child_account(chromium, server, citizens):
    _account(level=2)
    context = chromium.new_context(base_url=server, locale="vi-VN")
    page = context.new_page()
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me/dependents")
    assert "Nguyễn Thị Ánh" in page.locator("#eid-dependents").inner_text()
    page.click("#eid-dependents button")  # create the dependent account
    page.wait_for_url("**/me/dependents")
    screenshot(page, "dependents-vi")
    page.click("#eid-dependents button")  # switch to it
    page.wait_for_url("**/me")
    assert page.locator("h1#me-heading").inner_text() == "Nguyễn Thị Ánh"
    assert "người giám hộ" in page.content()
    screenshot(page, "child-vi")
    page.click("text=Trở lại tài khoản của tôi")
    page.wait_for_url("**/me")
    assert page.locator("h1#me-heading").inner_text() == "Nguyễn Văn An"
    context.close()
    with db.session_scope() as session:
        child = session.scalar(select(EidAccount).where(EidAccount.pin == CHILD_PIN))
        assert child.password_hash is None and child.level == 2
        # The child's own PIN cannot be used to sign in: the account has no password.
        with pytest.raises(eid.EidError):
            eid.authenticate_password(session, CHILD_PIN, CITIZEN_PASSWORD, "192.0.2.5")


def test_dependents_need_a_level_2_guardian_and_a_registry_parent_link(session, citizens):
    guardian = eid.get_account(session, eid.create_account(session, pin=SPOUSE_PIN, phone=None,
                                                           password=CITIZEN_PASSWORD))
    with pytest.raises(eid.EidError) as refused:
        eid.add_dependent(session, guardian, citizens.child_id)
    assert refused.value.key == "eid.err.guardian_level"
    guardian.level = 2
    with pytest.raises(eid.EidError) as stranger:
        eid.add_dependent(session, guardian, citizens.other_id)
    assert stranger.value.key == "eid.err.not_dependent"
    child_account = eid.add_dependent(session, guardian, citizens.child_id)
    web = {eid.WEB_SESSION_KEY: eid.start_session(session, guardian, ["pwd"], user_agent="", ip="192.0.2.6",
                                                  device_token=None).token}
    eid.switch_account(session, web, child_account)
    principal = eid.principal_from_web_session(session, web)
    assert (principal.account_id, principal.person_id, principal.guardian_account_id) == (
        child_account, citizens.child_id, guardian.id)


def test_registration_mismatch_says_nothing_and_is_logged_on_the_person(session, citizens):
    with pytest.raises(eid.EidError) as wrong_date:
        eid.start_registration(session, pin=PARENT_PIN, full_name="Nguyễn Văn An", birth_date=dt.date(1990, 5, 18),
                               phone="0912345678", password=CITIZEN_PASSWORD, ip="192.0.2.8")
    with pytest.raises(eid.EidError) as no_such_pin:
        eid.start_registration(session, pin="079099999999", full_name="Nguyễn Văn An",
                               birth_date=dt.date(1990, 5, 17), phone="0912345678", password=CITIZEN_PASSWORD,
                               ip="192.0.2.8")
    assert wrong_date.value.key == no_such_pin.value.key == "eid.err.no_match"
    checks = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "identity_check")).all()
    assert [(c.subject_id, c.detail) for c in checks] == [(str(citizens.parent_id), "no match")]
    with pytest.raises(eid.EidError) as bad_phone:
        eid.start_registration(session, pin=OTHER_PIN, full_name="Lê Văn Cường", birth_date=dt.date(1975, 1, 20),
                               phone="12345", password=CITIZEN_PASSWORD, ip="192.0.2.8")
    assert bad_phone.value.key == "eid.err.phone"
