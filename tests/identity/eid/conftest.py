"""e-ID fixtures: a seeded family, a registrar, the real app under uvicorn, Debian's chromium."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eid_helpers import STAFF_PASSWORD, Citizens, seed_citizens
from serving import free_port, serving

from dancu.accounts.models import Role
from dancu.accounts.services import create_user
from dancu.units import services as units


@pytest.fixture
def citizens(session) -> Citizens:
    province = next(u for u in units.list_provinces(session) if u.code == "79")
    commune = units.list_communes(session, "79")[0]
    create_user(session, "canbo", STAFF_PASSWORD, Role.REGISTRAR, display_name="Cán bộ công an",
                scope_unit_id=province.id)
    seeded = seed_citizens(session, commune.id)
    session.commit()
    return seeded


@pytest.fixture
def data_dir(database_url) -> Path:
    return Path(os.environ["DANCU_DATA_DIR"])


@pytest.fixture
def server(citizens) -> Iterator[str]:
    """Base URL on ``localhost``: WebAuthn refuses IP addresses as relying-party ids."""
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=90):
        yield f"http://localhost:{port}"



@pytest.fixture
def context(chromium, server):
    opened = chromium.new_context(base_url=server, viewport={"width": 1366, "height": 900}, locale="vi-VN")
    yield opened
    opened.close()


@pytest.fixture
def page(context):
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda message: errors.append(message.text)
              if message.type == "error" and "status of 4" not in message.text else None)
    opened.console_errors = errors
    return opened
