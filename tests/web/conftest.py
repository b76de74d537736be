"""Web tests: a seeded database, the real app under uvicorn, and Debian's chromium.

The server runs in a subprocess against the per-test database selected through
the environment (``database_url``), exactly as ``dancu serve`` would.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from serving import free_port, serving
from web_helpers import AN_PIN, BINH_PIN, PASSWORD, Seed, add_person

from dancu.accounts.models import Role
from dancu.accounts.services import SYSTEM, create_user
from dancu.registry import services
from dancu.registry.models import Sex
from dancu.units import services as units


@pytest.fixture
def seed(session) -> Seed:
    """Staff accounts and a small household in a real Hồ Chí Minh City ward."""
    province = next(u for u in units.list_provinces(session) if u.code == "79")
    commune = units.list_communes(session, "79")[0]
    create_user(session, "canbo", PASSWORD, Role.REGISTRAR, display_name="Cán bộ hộ tịch", scope_unit_id=province.id)
    create_user(session, "kiemtra", PASSWORD, Role.AUDITOR, display_name="Kiểm tra viên")
    an = add_person(session, "Nguyễn Văn An", "1990-05-17", Sex.MALE, commune.id, pin=AN_PIN)
    household_id = services.get_person(session, SYSTEM, an, "seed test data").household.id
    add_person(session, "Trần Thị Bình", "1992-08-02", Sex.FEMALE, commune.id, household_id, "spouse", pin=BINH_PIN)
    add_person(session, "Nguyễn Thị Ánh", "2015-03-09", Sex.FEMALE, commune.id, household_id, "child",
               pin="079315000789")
    add_person(session, "Lê Văn Cường", "1975", Sex.MALE, commune.id, pin="079075001234")
    # No PIN and no ethnic group: shows up in the quality report.
    add_person(session, "Phạm Thị Dung", "1988-11-30", Sex.FEMALE, commune.id, ethnicity_code=None)
    session.commit()
    return Seed(an_id=an, household_id=household_id, commune_id=commune.id, commune_name=commune.name)


@pytest.fixture
def server(seed) -> Iterator[str]:
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=30) as base:
        yield base



@pytest.fixture
def page(chromium, server):
    context = chromium.new_context(base_url=server, viewport={"width": 1366, "height": 900}, locale="vi-VN")
    opened = context.new_page()
    errors: list[str] = []
    # Forms answer invalid input with 422 on purpose; anything else (a CSP violation, a missing asset) is a bug.
    opened.on("console", lambda message: errors.append(message.text)
              if message.type == "error" and "status of 422" not in message.text else None)
    opened.console_errors = errors
    yield opened
    context.close()


