"""Forgotten password: a code to the verified phone, every old session signed out, nothing told about others."""

from __future__ import annotations

import re

import pytest
from eid_helpers import CITIZEN_PASSWORD, OTHER_PIN, PARENT_PIN, login_citizen, screenshot, wait_for_message

from dancu import db
from dancu.identity.eid import services as eid

NEW_PASSWORD = "mot-mat-khau-moi-2027"


@pytest.mark.browser
def test_reset_by_phone_code_signs_old_sessions_out(chromium, server, citizens, data_dir):
    with db.session_scope() as session:
        eid.create_account(session, pin=PARENT_PIN, phone="0912345678", password=CITIZEN_PASSWORD)
    old = chromium.new_context(base_url=server, locale="vi-VN")
    old_page = old.new_page()
    login_citizen(old_page, server, PARENT_PIN, CITIZEN_PASSWORD)

    context = chromium.new_context(base_url=server, locale="vi-VN")
    page = context.new_page()
    page.goto("/eid/login")
    page.click("text=Quên mật khẩu?")
    page.fill("#pin", PARENT_PIN)
    page.click("#recover-submit")
    code = re.search(r"\b(\d{6})\b", wait_for_message(data_dir, "reset_code", to="+84912345678")["body"])[1]
    screenshot(page, "recover-vi")
    page.fill("#code", code)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#password_again", NEW_PASSWORD)
    page.click("#recover-verify")
    page.wait_for_url("**/eid/login")
    login_citizen(page, server, PARENT_PIN, NEW_PASSWORD)
    old_page.goto("/me")
    assert "/eid/login" in old_page.url
    wait_for_message(data_dir, "password_reset", to="+84912345678")
    old.close()
    context.close()


def test_unknown_or_phoneless_pins_look_the_same_and_never_reset(session, citizens):
    eid.create_account(session, pin=OTHER_PIN, phone=None, password=CITIZEN_PASSWORD)
    for pin in (OTHER_PIN, "079000000001"):
        handle = eid.start_password_reset(session, pin, "192.0.2.20")
        assert handle  # same answer as for an account with a phone
        for guess in ("000000", "123456"):
            with pytest.raises(eid.EidError) as refused:
                eid.finish_password_reset(session, handle, guess, NEW_PASSWORD, "192.0.2.20")
            assert refused.value.key == "eid.err.code"
    assert eid.authenticate_password(session, OTHER_PIN, CITIZEN_PASSWORD, "192.0.2.21").pin == OTHER_PIN


@pytest.mark.browser
def test_change_password_and_phone_while_signed_in(chromium, server, citizens, data_dir):
    with db.session_scope() as session:
        eid.create_account(session, pin=PARENT_PIN, phone="0912345678", password=CITIZEN_PASSWORD)
    other = chromium.new_context(base_url=server, locale="vi-VN")
    other_page = other.new_page()
    login_citizen(other_page, server, PARENT_PIN, CITIZEN_PASSWORD)
    context = chromium.new_context(base_url=server, locale="en-US")
    page = context.new_page()
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me/security")

    page.fill("#new-phone", "0987 654 321")
    page.click("#phone-change")
    page.wait_for_url("**/me/phone")
    code = re.search(r"\b(\d{6})\b", wait_for_message(data_dir, "phone_code", to="+84987654321")["body"])[1]
    page.fill("#code", code)
    page.click("#phone-verify")
    page.wait_for_url("**/me/security")
    assert "+84987654321" in page.content()
    # The old number hears about the change.
    wait_for_message(data_dir, "phone_changed", to="+84912345678")

    page.fill("#current", "not my password")
    page.fill("#new-password", NEW_PASSWORD)
    page.fill("#new-password-again", NEW_PASSWORD)
    page.click("#password-change")
    assert "Wrong personal identification number or password" in page.content()
    page.fill("#current", CITIZEN_PASSWORD)
    page.fill("#new-password", NEW_PASSWORD)
    page.fill("#new-password-again", NEW_PASSWORD)
    page.click("#password-change")
    page.wait_for_url("**/me/security")
    assert "Password changed" in page.content()
    screenshot(page, "security-after-change-en")
    page.goto("/me")
    assert page.url.endswith("/me")  # this session stays
    other_page.goto("/me")
    assert "/eid/login" in other_page.url  # the other one was signed out
    with db.session_scope() as session:
        assert eid.authenticate_password(session, PARENT_PIN, NEW_PASSWORD, "192.0.2.30").phone == "+84987654321"
    other.close()
    context.close()
