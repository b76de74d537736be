"""Smoke test of the installed `dancu` command, run as a user would run it:
a separate process that finds its database through DANCU_DATABASE_URL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect


def _dancu() -> str:
    # The console script installed next to the interpreter running the tests
    # (.venv/bin/dancu), else whatever `dancu` is on PATH.
    candidate = Path(sys.executable).with_name("dancu")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dancu")
    if found is None:
        pytest.fail("the `dancu` console script is not installed (pip install -e .)")
    return found


def run_dancu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_dancu(), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def test_help_lists_the_commands() -> None:
    result = run_dancu("--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout
    for command in ("db", "user"):
        assert command in result.stdout


def test_db_upgrade_against_the_test_database(database_url: str) -> None:
    assert os.environ["DANCU_DATABASE_URL"] == database_url

    first = run_dancu("db", "upgrade")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "up to date" in first.stdout

    # Idempotent: a second run on an up-to-date database changes nothing and succeeds.
    second = run_dancu("db", "upgrade")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "up to date" in second.stdout

    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"person", "admin_unit", "access_log", "alembic_version"} <= tables


def test_db_upgrade_creates_the_master_key_outside_the_database(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "elsewhere" / "master.key"
    monkeypatch.setenv("DANCU_KEY_FILE", str(key_file))
    # The configured key file is missing: `db upgrade` creates it (mode 0600).
    result = run_dancu("db", "upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o077 == 0, "the master key must be readable by its owner only"
