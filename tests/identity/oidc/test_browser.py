"""The example relying party (examples/ihanoi) logs a citizen in end to end, both as real servers, in Chromium."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from identity.eid.eid_helpers import PARENT_PIN
from oidc_helpers import ADMIN, CITIZEN_PASSWORD, citizen_account
from serving import free_port, serving

from dancu import db
from dancu.identity.oidc import services

pytestmark = pytest.mark.browser
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ihanoi"
SCREENSHOTS = Path("/tmp/dancu-oidc-screenshots")


@pytest.fixture
def dancu_server(citizens, monkeypatch) -> Iterator[str]:
    port = free_port()
    monkeypatch.setenv("DANCU_OIDC_ISSUER", f"http://localhost:{port}")
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=30):
        yield f"http://localhost:{port}"


@pytest.fixture
def example_rp(dancu_server, monkeypatch) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with db.session_scope() as session:
        client, secret = services.register_client(session, ADMIN, services.Registration(
            name="iHaNoi", redirect_uris=[f"{base}/callback"], post_logout_redirect_uris=[f"{base}/"],
            allowed_claims=["name", "birthdate", "address", "gender"]))
        client_id = client.client_id
    monkeypatch.setenv("IHANOI_CLIENT_ID", client_id)
    monkeypatch.setenv("IHANOI_CLIENT_SECRET", secret)
    monkeypatch.setenv("DANCU_ISSUER", dancu_server)
    with serving([sys.executable, "-m", "uvicorn", "--app-dir", str(EXAMPLE), "app:app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=30):
        yield base



def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_example_city_app_logs_in_with_consent_shows_the_claims_and_logs_out(chromium, dancu_server, example_rp):
    citizen_account(PARENT_PIN)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.goto(example_rp)
    page.click("#login")
    page.wait_for_url(f"{dancu_server}/eid/login?**")
    page.fill("#pin", PARENT_PIN)
    page.fill("#password", CITIZEN_PASSWORD)
    page.click("#eid-login-submit")
    page.wait_for_url(f"{dancu_server}/oidc/authorize?**")
    assert page.locator("h1").inner_text().startswith("iHaNoi")
    _shot(page, "consent-vi")
    page.uncheck("input[value=gender]")
    page.click("button[value=allow]")
    page.wait_for_url(f"{example_rp}/")
    assert page.locator("#greeting").inner_text() == "Xin chào, Nguyễn Văn An"
    assert page.locator("dd[data-claim=birthdate]").inner_text() == "1990-05-17"
    assert page.locator("dd[data-claim=gender]").count() == 0, "the citizen did not share it"
    assert page.locator("#acr").inner_text() == "urn:dancu:loa:1"
    _shot(page, "rp-logged-in")
    # The account page lists the app and what it got.
    apps = context.new_page()
    apps.goto(f"{dancu_server}/me/apps?lang=en")
    assert "iHaNoi" in apps.locator("main").inner_text()
    _shot(apps, "connected-apps-en")
    apps.close()
    page.click("#logout")
    page.wait_for_url(f"{example_rp}/?state=*")
    assert page.locator("#login").is_visible()
    # Logging in again: the consent is remembered, so the login form leads straight back to the app.
    page.click("#login")
    page.wait_for_url(f"{dancu_server}/eid/login?**")
    page.fill("#pin", PARENT_PIN)
    page.fill("#password", CITIZEN_PASSWORD)
    page.click("#eid-login-submit")
    page.wait_for_url(f"{example_rp}/")
    assert page.locator("#greeting").inner_text() == "Xin chào, Nguyễn Văn An"
    context.close()


def test_administrator_registers_a_relying_party_in_the_console(chromium, dancu_server):
    from dancu.accounts.models import Role
    from dancu.accounts.services import create_user

    with db.session_scope() as session:
        create_user(session, "quantri", "correct horse battery", Role.ADMIN, display_name="Quản trị")
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{dancu_server}/login?lang=en")
    page.fill("#username", "quantri")
    page.fill("#password", "correct horse battery")
    page.click("button[type=submit]")
    page.click("nav.mainnav a[href='/console/oidc/clients']")
    page.fill("#name", "Bệnh viện Bạch Mai")
    page.fill("#redirect_uris", "https://bachmai.example/callback")
    page.check("input[name=claim][value=pin]")
    page.select_option("#min_level", "2")
    page.click("button.btn-primary[type=submit]")
    secret = page.locator("#created-client-secret").inner_text()
    assert len(secret) >= 40
    _shot(page, "console-clients-en")
    page.click("table a:has-text('Bệnh viện Bạch Mai')")
    assert page.locator("h1").inner_text() == "Bệnh viện Bạch Mai"
    assert secret not in page.content()
    _shot(page, "console-client-en")
    context.close()
