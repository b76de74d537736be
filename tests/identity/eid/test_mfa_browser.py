"""Second factors in a real browser: TOTP enrolment and login, passkeys with Chromium's virtual authenticator."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from eid_helpers import CITIZEN_PASSWORD, PARENT_PIN, login_citizen, screenshot, wait_for_message

from dancu import db
from dancu.identity.eid import services as eid

pytestmark = pytest.mark.browser


@pytest.fixture
def parent_account(citizens) -> int:
    with db.session_scope() as session:
        return eid.create_account(session, pin=PARENT_PIN, phone="0912345678", password=CITIZEN_PASSWORD)


def _password_step(page, next="/me"):
    page.goto(f"/eid/login?next={next}")
    page.fill("#pin", PARENT_PIN)
    page.fill("#password", CITIZEN_PASSWORD)
    page.click("#eid-login-submit")
    page.wait_for_url("**/eid/login/mfa")


def test_totp_enrolment_then_login_needs_the_code(page, server, parent_account, data_dir):
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me/security")
    page.click("#totp-start")
    page.wait_for_url("**/me/totp")
    screenshot(page, "totp-enrol-vi")
    secret = page.locator("#totp-secret").inner_text().strip()
    totp = pyotp.TOTP(secret)
    page.fill("#code", totp.now())
    page.click("#totp-confirm")
    page.wait_for_url("**/me/security")
    assert page.locator("#totp-status").inner_text() == "Đang bật"
    wait_for_message(data_dir, "mfa_changed", to="+84912345678")
    page.click("#eid-logout")

    _password_step(page)
    screenshot(page, "mfa-vi")
    page.fill("#code", "123456" if totp.now() != "123456" else "654321")
    page.click("#eid-mfa-submit")
    assert "Mã không đúng" in page.locator("#eid-error").inner_text()
    # The code of the enrolment's time step was spent; the next step's code is fresh (one step of drift is allowed).
    page.fill("#code", totp.at(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)))
    page.click("#eid-mfa-submit")
    page.wait_for_url("**/me")
    page.goto("/me/sessions")
    assert "pwd otp" in page.locator("#eid-sessions").inner_text()

    # Turning it off asks for the password again.
    page.goto("/me/security")
    page.fill("#totp-off-password", "not my password")
    page.click("#totp-status >> xpath=ancestor::section//button[@type='submit']")
    assert page.locator("#totp-status").inner_text() == "Đang bật"
    page.fill("#totp-off-password", CITIZEN_PASSWORD)
    page.click("#totp-status >> xpath=ancestor::section//button[@type='submit']")
    page.wait_for_url("**/me/security")
    assert page.locator("#totp-status").inner_text() == "Chưa bật"


def test_recovery_code_replaces_a_lost_authenticator_once(page, server, parent_account):
    with db.session_scope() as session:
        account = eid.get_account(session, parent_account)
        eid.begin_totp(session, account)
        eid.confirm_totp(session, account, pyotp.TOTP(account.totp_secret).now())
    _password_step(page)
    # Made through the service the security page calls, after the password step has started.
    with db.session_scope() as session:
        codes = eid.new_recovery_codes(session, eid.get_account(session, parent_account))
    page.fill("#code", codes[0])
    page.click("#eid-mfa-submit")
    page.wait_for_url("**/me")
    page.click("#eid-logout")
    _password_step(page)
    page.fill("#code", codes[0])
    page.click("#eid-mfa-submit")
    assert page.locator("#eid-error").is_visible()


def _virtual_authenticator(page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})


def test_passkey_registration_then_passwordless_login(page, server, parent_account, data_dir):
    _virtual_authenticator(page)
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me/security")
    page.fill("#passkey_name", "Điện thoại của An")
    page.click("#passkey-add")
    page.wait_for_selector("#passkey-list")
    assert "Điện thoại của An" in page.locator("#passkey-list").inner_text()
    screenshot(page, "security-vi")
    page.goto("/me/security?lang=en")
    screenshot(page, "security-en")
    page.click("#eid-logout")
    page.wait_for_url("**/eid/login")

    page.goto("/eid/login?next=/me/sessions")
    page.click("#eid-passkey-login")
    page.wait_for_url("**/me/sessions")
    assert "hwk" in page.locator("#eid-sessions").inner_text()
    assert page.console_errors == []


def test_passkey_as_second_step_after_the_password(page, server, parent_account):
    _virtual_authenticator(page)
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me/security")
    page.click("#passkey-add")
    page.wait_for_selector("#passkey-list")
    page.click("#eid-logout")
    _password_step(page, next="/me/sessions")
    page.click("#eid-passkey-login")
    page.wait_for_url("**/me/sessions")
    assert "pwd hwk" in page.locator("#eid-sessions").inner_text()
    page.goto("/me/security")
    page.locator("#passkey-list button").click()
    page.wait_for_url("**/me/security")
    assert page.locator("#passkey-list").count() == 0
    page.click("#eid-logout")
    page.goto("/eid/login?next=/me")
    page.fill("#pin", PARENT_PIN)
    page.fill("#password", CITIZEN_PASSWORD)
    page.click("#eid-login-submit")
    page.wait_for_url("**/me")  # no second factor left: the password is enough again
