"""Test databases: SQLite by default, PostgreSQL when DANCU_TEST_DATABASE_URL is set.

Migrations run once per test session into a template; each test gets a fresh
copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), so
tests are isolated and commit for real, which servers and subprocesses need.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dancu import crypto, db, migrate

POSTGRES_URL = os.environ.get("DANCU_TEST_DATABASE_URL", "")
if POSTGRES_URL.startswith("postgresql://"):
    POSTGRES_URL = "postgresql+psycopg://" + POSTGRES_URL.removeprefix("postgresql://")


def _use_env(monkeypatch: pytest.MonkeyPatch, url: str, data_dir: Path, key_file: Path) -> None:
    monkeypatch.setenv("DANCU_DATABASE_URL", url)
    monkeypatch.setenv("DANCU_DATA_DIR", str(data_dir))
    monkeypatch.setenv("DANCU_KEY_FILE", str(key_file))
    db.reset_caches()
    crypto.reset_key_cache()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(url of a migrated template database, its master key file)."""
    base = tmp_path_factory.mktemp("template")
    key_file = crypto.ensure_master_key(base / "master.key")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if POSTGRES_URL:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        # Unique per process: two runs on one server (a developer's and CI's) must not collide.
        name = f"dancu_tpl_{worker}_{os.getpid()}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{base / 'template.sqlite3'}"
    mp = pytest.MonkeyPatch()
    _use_env(mp, url, base, key_file)
    migrate.upgrade()
    db.get_engine().dispose()
    mp.undo()
    db.reset_caches()
    yield url, key_file
    if POSTGRES_URL:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(template_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh migrated database for this test, selected through the environment
    exactly as `dancu` selects it (DANCU_DATABASE_URL)."""
    template_url, key_file = template_db
    if POSTGRES_URL:
        name = f"dancu_t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        template_name = make_url(template_url).database
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    else:
        path = tmp_path / "dancu.sqlite3"
        shutil.copyfile(template_url.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
    test_key = tmp_path / "keys" / "master.key"
    test_key.parent.mkdir()
    shutil.copyfile(key_file, test_key)
    _use_env(monkeypatch, url, tmp_path, test_key)
    yield url
    db.reset_caches()
    if POSTGRES_URL:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with db.new_session() as s:
        yield s


@pytest.fixture
def is_postgres() -> bool:
    return bool(POSTGRES_URL)


@pytest.fixture(scope="session")
def chromium():
    """The one headless Chromium of this test process: Playwright's sync API allows one per thread."""
    from web_helpers import CHROMIUM_ARGS

    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=os.environ.get("DANCU_CHROMIUM", "/usr/bin/chromium"),
                                     headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(chromium):
    """``open_page(base_url)``: a fresh 1366x900 vi-VN page that keeps its console errors in
    ``page.console_errors`` (minus messages containing one of ``ignore_console``); closed after the test."""
    contexts = []

    def open_(base_url: str, *, accept_downloads: bool = False, ignore_console: tuple[str, ...] = ()):
        context = chromium.new_context(base_url=base_url, viewport={"width": 1366, "height": 900}, locale="vi-VN",
                                       accept_downloads=accept_downloads)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text)
                if message.type == "error" and not any(part in message.text for part in ignore_console) else None)
        page.console_errors = errors
        return page

    yield open_
    for context in contexts:
        context.close()

