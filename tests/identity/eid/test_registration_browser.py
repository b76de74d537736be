"""Level 1 online (data matched against the register, phone code from the outbox) and level 2 in person."""

from __future__ import annotations

import re

import pytest
from eid_helpers import (
    CITIZEN_PASSWORD,
    OTHER_PIN,
    PARENT_PIN,
    STAFF_PASSWORD,
    login_citizen,
    screenshot,
    wait_for_message,
)

from dancu import db
from dancu.identity.eid import services as eid

pytestmark = pytest.mark.browser


def _staff_login(page, username="canbo"):
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_level_1_registration_with_phone_code_from_the_outbox(page, server, data_dir):
    page.goto("/eid/register?lang=en")
    screenshot(page, "register-en")
    page.goto("/eid/register?lang=vi")
    page.fill("#pin", PARENT_PIN)
    page.fill("#full_name", "nguyen van an")  # without diacritics: still the same person
    page.fill("#birth_date", "1990-05-17")
    page.fill("#phone", "0912 345 678")
    page.fill("#password", CITIZEN_PASSWORD)
    page.fill("#password_again", CITIZEN_PASSWORD)
    screenshot(page, "register-vi")
    page.click("#eid-register-submit")
    page.wait_for_url("**/eid/register/verify")
    assert "+849•••••678" in page.content()
    message = wait_for_message(data_dir, "registration_code", to="+84912345678")
    code = re.search(r"\b(\d{6})\b", message["body"])[1]
    page.fill("#code", "000000" if code != "000000" else "111111")
    page.click("#eid-verify-submit")
    assert "Mã không đúng" in page.locator("#eid-error").inner_text()
    screenshot(page, "register-verify-vi")
    page.fill("#code", code)
    page.click("#eid-verify-submit")
    page.wait_for_url("**/eid/login")
    assert "Đã tạo tài khoản mức 1" in page.content()
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD)
    assert page.locator("#eid-level").inner_text() == "Mức 1"
    assert "+84912345678" in page.content()
    wait_for_message(data_dir, "registered", to="+84912345678")


def test_registration_with_data_not_in_the_register_is_refused(page, server):
    page.goto("/eid/register?lang=en")
    page.fill("#pin", PARENT_PIN)
    page.fill("#full_name", "Nguyễn Văn An")
    page.fill("#birth_date", "1990-05-18")
    page.fill("#phone", "0912345678")
    page.fill("#password", CITIZEN_PASSWORD)
    page.fill("#password_again", CITIZEN_PASSWORD)
    page.click("#eid-register-submit")
    assert "do not match" in page.locator("#eid-error").inner_text()
    # What was typed stays in the form (except passwords).
    assert page.input_value("#full_name") == "Nguyễn Văn An"


def test_registrar_upgrades_a_level_1_account_to_level_2(page, server, citizens, data_dir):
    with db.session_scope() as session:
        eid.create_account(session, pin=PARENT_PIN, phone="0912345678", password=CITIZEN_PASSWORD)
    _staff_login(page)
    page.goto(f"/eid/proofing?pin={PARENT_PIN}")
    page.click("#proofing-results a")
    page.wait_for_url(f"**/eid/proofing/{citizens.parent_id}")
    assert "Mức 1" in page.locator("#account-state").inner_text()
    page.click("#proofing-submit")  # nothing checked: refused
    assert "thẻ căn cước" in page.locator(".alert-error").inner_text()
    page.check("#card_checked")
    page.check("#face_matched")
    page.check("input[name=place][value=mobile_team]")
    page.fill("#location", "Bệnh viện Chợ Rẫy, khoa Nội")
    screenshot(page, "proofing-vi")
    page.click("#proofing-submit")
    assert "Mức 2" in page.locator("#account-state").inner_text()
    assert page.locator("#activation-code").count() == 0  # the citizen already has a password
    page.goto(f"/eid/proofing/{citizens.parent_id}?lang=en")
    screenshot(page, "proofing-en")
    wait_for_message(data_dir, "level_changed", to="+84912345678")

    citizen = page.context.browser.new_context(base_url=server, locale="vi-VN")
    citizen_page = citizen.new_page()
    login_citizen(citizen_page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me")
    assert citizen_page.locator("#eid-level").inner_text() == "Mức 2"
    assert "canbo" in citizen_page.locator("#eid-access-log").inner_text()  # the registrar's read, with purpose
    citizen.close()


def test_in_person_account_without_any_phone_then_activation(page, server, citizens):
    """The seeds' SIM failure: a citizen with no phone in their own name gets level 2 at a police office."""
    _staff_login(page)
    page.goto(f"/eid/proofing/{citizens.other_id}")
    assert "Chưa có tài khoản" in page.locator("#account-state").inner_text()
    page.check("#card_checked")
    page.check("#face_matched")
    page.click("#proofing-submit")
    code = page.locator("#activation-code").inner_text()
    assert re.fullmatch(r"\d{8}", code)

    citizen = page.context.browser.new_context(base_url=server, locale="vi-VN")
    citizen_page = citizen.new_page()
    citizen_page.goto("/eid/activate")
    citizen_page.fill("#pin", OTHER_PIN)
    citizen_page.fill("#code", code)
    citizen_page.fill("#password", CITIZEN_PASSWORD)
    citizen_page.fill("#password_again", CITIZEN_PASSWORD)
    citizen_page.click("button[type=submit]")
    citizen_page.wait_for_url("**/eid/login")
    login_citizen(citizen_page, server, OTHER_PIN, CITIZEN_PASSWORD)
    assert citizen_page.locator("#eid-level").inner_text() == "Mức 2"
    assert "Không gắn số điện thoại" in citizen_page.content()
    citizen.close()
