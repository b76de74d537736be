"""Web tests: a seeded database, the real app under uvicorn, and Debian's chromium.

The server runs in a subprocess against the per-test database selected through
the environment (``database_url``), exactly as ``dancu serve`` would.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dancu.accounts.models import Role
from dancu.accounts.services import SYSTEM, create_user
from dancu.registry import services
from dancu.registry.models import Sex
from dancu.registry.schemas import PermanentResidenceInput, PersonRegistration
from dancu.units import services as units

PASSWORD = "correct horse battery"
AN_PIN = "079090000123"
BINH_PIN = "079192000456"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@dataclass(frozen=True)
class Seed:
    an_id: int
    binh_id: int
    household_id: int
    commune_id: int
    commune_name: str


def _person(session, full_name: str, birth: str, sex: Sex, commune_id: int, household_id: int | None = None,
            relationship: str = "head", **extra) -> int:
    family, *middle, given = full_name.split(" ")
    person_id = services.register_person(session, SYSTEM, PersonRegistration(
        family_name=family, middle_name=" ".join(middle), given_name=given, birth_date=birth, sex=sex,
        birth_registration_unit_id=commune_id, hometown_unit_id=commune_id, **{"ethnicity_code": 1, **extra},
    ))
    services.register_permanent_residence(session, SYSTEM, person_id, PermanentResidenceInput(
        unit_id=commune_id, address_line="12 Lê Lợi", household_id=household_id, relationship_to_head=relationship,
        effective_on=dt.date(2020, 1, 1),
    ))
    return person_id


@pytest.fixture
def seed(session) -> Seed:
    """Staff accounts and a small household in a real Hồ Chí Minh City ward."""
    province = next(u for u in units.list_provinces(session) if u.code == "79")
    commune = units.list_communes(session, "79")[0]
    create_user(session, "canbo", PASSWORD, Role.REGISTRAR, display_name="Cán bộ hộ tịch", scope_unit_id=province.id)
    create_user(session, "kiemtra", PASSWORD, Role.AUDITOR, display_name="Kiểm tra viên")
    an = _person(session, "Nguyễn Văn An", "1990-05-17", Sex.MALE, commune.id, pin=AN_PIN)
    household_id = services.get_person(session, SYSTEM, an, "seed test data").household.id
    binh = _person(session, "Trần Thị Bình", "1992-08-02", Sex.FEMALE, commune.id, household_id, "spouse",
                   pin=BINH_PIN)
    _person(session, "Nguyễn Thị Ánh", "2015-03-09", Sex.FEMALE, commune.id, household_id, "child",
            pin="079315000789")
    _person(session, "Lê Văn Cường", "1975", Sex.MALE, commune.id, pin="079075001234")
    # No PIN and no ethnic group: shows up in the quality report.
    _person(session, "Phạm Thị Dung", "1988-11-30", Sex.FEMALE, commune.id, ethnicity_code=None)
    session.commit()
    return Seed(an_id=an, binh_id=binh, household_id=household_id, commune_id=commune.id, commune_name=commune.name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(seed) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        env=os.environ.copy(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the web server did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=os.environ.get("DANCU_CHROMIUM", "/usr/bin/chromium"),
                                     headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1366, "height": 900}, locale="vi-VN")
    opened = context.new_page()
    errors: list[str] = []
    # Forms answer invalid input with 422 on purpose; anything else (a CSP violation, a missing asset) is a bug.
    opened.on("console", lambda message: errors.append(message.text)
              if message.type == "error" and "status of 422" not in message.text else None)
    opened.console_errors = errors
    yield opened
    context.close()


def login(page, username: str = "canbo", password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
