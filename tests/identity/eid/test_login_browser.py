"""Signing in and out in a real browser; the page other helpers' tests use through ``login_citizen``."""

from __future__ import annotations

import pytest
from eid_helpers import CITIZEN_PASSWORD, PARENT_PIN, login_citizen, screenshot

from dancu import db
from dancu.identity.eid import services as eid

pytestmark = pytest.mark.browser


@pytest.fixture
def parent_account(citizens) -> int:
    with db.session_scope() as session:
        return eid.create_account(session, pin=PARENT_PIN, phone="0912345678", password=CITIZEN_PASSWORD)


def test_login_shows_my_data_and_who_read_it_then_logout(page, server, parent_account):
    page.goto("/eid/login?lang=vi")
    screenshot(page, "login-vi")
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD)
    assert page.locator("h1#me-heading").inner_text() == "Nguyễn Văn An"
    assert page.locator("#eid-level").inner_text() == "Mức 1"
    # The seed's own read and this page's read both show, with their purposes.
    log = page.locator("#eid-access-log").inner_text()
    assert "Bạn xem dữ liệu của chính mình" in log and "seed test data" in log
    screenshot(page, "me-vi")
    page.goto("/me?lang=en")
    screenshot(page, "me-en")
    assert page.locator("#eid-level").inner_text() == "Level 1"
    page.click("#eid-logout")
    page.wait_for_url("**/eid/login")
    page.goto("/me")
    assert "/eid/login?next=%2Fme" in page.url
    assert page.console_errors == []


def test_next_must_be_a_local_path(page, server, parent_account):
    login_citizen(page, server, PARENT_PIN, CITIZEN_PASSWORD, next="/me/security")
    page.goto("/eid/login?next=https://evil.example/")
    # Already signed in: the login page sends the browser on, but never off-site.
    assert page.url == f"{server}/me"
    page.goto("/eid/login?next=//evil.example/x&prompt=login")
    assert page.locator("input[name=next]").input_value() == "/me"


def test_level_2_request_refuses_a_level_1_account(page, server, parent_account):
    page.goto("/eid/login?next=/me&acr=2&lang=en")
    page.fill("#pin", PARENT_PIN)
    page.fill("#password", CITIZEN_PASSWORD)
    page.click("#eid-login-submit")
    assert "level-2" in page.locator("#eid-error").inner_text()
    assert "/eid/login" in page.url
