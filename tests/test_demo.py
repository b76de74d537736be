"""`dancu demo` prepares a synthetic city and demo logins that work, and a rerun keeps both."""

from __future__ import annotations

import json
import stat

import httpx
from serving import free_port, serving
from test_smoke_cli import _dancu, run_dancu

from dancu import db
from dancu.accounts import services as accounts
from dancu.identity.eid import services as eid
from dancu.registry import services as registry


def _logins(output: str) -> dict[str, str]:
    lines = [line.split() for line in output.splitlines() if line.startswith("    ")]
    return {parts[0]: parts[1] for parts in lines}


def test_demo_seeds_once_and_its_logins_work(database_url, tmp_path):
    first = run_dancu("demo", "--no-serve", "--people", "300")
    assert first.returncode == 0, first.stderr
    printed = _logins(first.stdout)
    staff = {name: password for name, password in printed.items() if not name.isdigit()}
    citizens = {pin: password for pin, password in printed.items() if pin.isdigit()}
    assert set(staff) == {"quantri", "canbo.tp", "canbo.phuong", "kiemtra"}
    assert len(citizens) == 2
    assert "http://localhost:8000/" in first.stdout and "http://localhost:8000/eid/login" in first.stdout

    stored = tmp_path / "demo-logins.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == {**staff, **{"citizen:" + pin: pw for pin, pw in citizens.items()}}

    db.reset_caches()
    with db.new_session() as session:
        population = registry.population_size(session)
        assert population >= 300
        for username, password in staff.items():
            actor = accounts.authenticate(session, username, password, "127.0.0.1")
            assert actor.username == username
        levels = sorted(eid.authenticate_password(session, pin, password, "127.0.0.1").level
                        for pin, password in citizens.items())
        assert levels == [1, 2]
        commune_registrar = accounts.actor_by_username(session, "canbo.phuong")
        province_registrar = accounts.actor_by_username(session, "canbo.tp")
        assert commune_registrar.scope_unit_id and province_registrar.scope_unit_id
        assert commune_registrar.scope_unit_id != province_registrar.scope_unit_id

    second = run_dancu("demo", "--no-serve", "--people", "300")
    assert second.returncode == 0, second.stderr
    assert "not seeding again" in second.stdout
    assert _logins(second.stdout) == printed
    db.reset_caches()
    with db.new_session() as session:
        assert registry.population_size(session) == population


def test_demo_serves_the_console_and_a_demo_login_works(database_url, tmp_path):
    port = free_port()
    with serving([_dancu(), "demo", "--people", "150", "--port", str(port)], port, timeout=120) as base:
        password = json.loads((tmp_path / "demo-logins.json").read_text())["canbo.tp"]
        token = httpx.post(f"{base}/api/v1/auth/token", json={"username": "canbo.tp", "password": password})
        assert token.status_code == 200, token.text
        found = httpx.get(f"{base}/api/v1/persons", params={"text": "nguyen", "purpose": "kiểm tra bản demo"},
                          headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert found.status_code == 200 and found.json()["total"] > 0
