"""Staff password logins: throttled without ever locking the owner out, and refusals that reveal nothing.

The clients reach the app through a trusted proxy (``DANCU_TRUSTED_PROXIES``
names the test client), so ``X-Forwarded-For`` sets the source address.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import time
from collections.abc import Iterator

import pytest
from at_once import at_once
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dancu.accounts import services, throttle
from dancu.accounts.models import LoginThrottle, Role
from dancu.cli import app as dancu_cli
from dancu.config import get_settings
from dancu.web.app import create_app

PASSWORD = "correct horse battery"
OFFICE = "198.51.100.7"
ATTACKER = "203.0.113.66"


@pytest.fixture
def client(session, monkeypatch) -> Iterator[TestClient]:
    services.create_user(session, "quantri", PASSWORD, Role.ADMIN)
    services.create_user(session, "canbo", PASSWORD, Role.REGISTRAR)
    session.commit()
    monkeypatch.setenv("DANCU_TRUSTED_PROXIES", "testclient")
    get_settings.cache_clear()
    with TestClient(create_app(), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(client: TestClient, username: str, password: str, source: str):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       headers={"X-Forwarded-For": source})


def test_an_attackers_failures_do_not_stop_the_owner_from_the_usual_source(client):
    assert _token(client, "quantri", PASSWORD, OFFICE).status_code == 200
    # The old code locked the account after five failures, for everyone.
    for _ in range(12):
        assert _token(client, "quantri", "guess guess", ATTACKER).status_code == 401
    for guess in range(12):
        assert _token(client, "quantri", f"guess {guess}", f"192.0.2.{guess}").status_code == 401
    # The attacker is slowed: from any source but the owner's, even the right password now waits...
    assert _token(client, "quantri", PASSWORD, "192.0.2.200").status_code == 401
    # ...while the owner, at the usual desk, gets in at once, repeatedly.
    for _ in range(3):
        assert _token(client, "quantri", PASSWORD, OFFICE).status_code == 200


def test_the_refusal_is_the_same_for_unknown_wrong_and_throttled(client):
    unknown = _token(client, "khongco", PASSWORD, ATTACKER)
    wrong = _token(client, "canbo", "wrong password", ATTACKER)
    for _ in range(throttle.ACCOUNT.free_failures):
        _token(client, "canbo", "wrong password", ATTACKER)
    throttled = _token(client, "canbo", PASSWORD, ATTACKER)  # the right password, during the delay
    assert unknown.status_code == wrong.status_code == throttled.status_code == 401
    assert unknown.json() == wrong.json() == throttled.json()
    assert unknown.json()["detail"] == services.LOGIN_REFUSED
    assert unknown.headers.keys() == wrong.headers.keys() == throttled.headers.keys()


def test_the_login_page_shows_one_message_whatever_the_reason(client):
    def attempt(username: str, password: str) -> tuple[int, str]:
        form = client.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        page = client.post("/login", data={"username": username, "password": password, "csrf_token": token},
                           headers={"X-Forwarded-For": ATTACKER}, follow_redirects=False)
        return page.status_code, re.search(r'role="alert">(.*?)</div>', page.text)[1]

    unknown = attempt("khongco", PASSWORD)
    wrong = attempt("canbo", "wrong password")
    for _ in range(throttle.ACCOUNT.free_failures):
        attempt("canbo", "wrong password")
    throttled = attempt("canbo", PASSWORD)
    assert unknown[0] == wrong[0] == throttled[0] == 401
    assert unknown[1] == wrong[1] == throttled[1]
    assert "quá nhiều lần" in throttled[1]


def _median_seconds(call, runs: int = 5) -> float:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        with pytest.raises(services.AuthError):
            call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def test_refusals_take_the_same_time(session):
    services.create_user(session, "canbo", PASSWORD, Role.REGISTRAR)
    session.commit()
    for _ in range(throttle.ACCOUNT.free_failures + 1):
        with pytest.raises(services.AuthError):
            services.authenticate(session, "canbo", "wrong password", ATTACKER)
    # The old lockout answered without hashing: a throttled account was told apart by its speed.
    timings = {
        "throttled": _median_seconds(lambda: services.authenticate(session, "canbo", PASSWORD, ATTACKER)),
        "unknown": _median_seconds(lambda: services.authenticate(session, "khongco", PASSWORD, "192.0.2.1")),
        "wrong": _median_seconds(lambda: services.authenticate(session, "canbo", "wrong", "192.0.2.2")),
    }
    assert max(timings.values()) < 2 * min(timings.values()), timings


def test_two_concurrent_logins_are_both_counted(session):
    services.create_user(session, "canbo", PASSWORD, Role.REGISTRAR)
    session.commit()
    # Two right passwords (both create the pair's first row) and four wrong ones, at once.
    passwords = [PASSWORD] * 2 + ["wrong password"] * 4
    results = at_once(len(passwords), lambda i, own: services.authenticate(own, "canbo", passwords[i], OFFICE))
    outcomes = ["refused" if isinstance(r, services.AuthError) else repr(r) if isinstance(r, Exception) else "ok"
                for r in results]
    assert sorted(outcomes) == ["ok", "ok", "refused", "refused", "refused", "refused"]
    session.expire_all()
    account = session.get(LoginThrottle, throttle.keys("canbo", OFFICE).account)
    assert account.failures == 4  # no failure lost to a concurrent write
    pair = session.get(LoginThrottle, throttle.keys("canbo", OFFICE).pair)
    assert pair.last_success_at is not None


def test_throttling_slows_but_never_locks(session):
    for failures in range(1, 200):
        pause = throttle.delay(throttle.ACCOUNT, failures)
        assert pause <= throttle.ACCOUNT.max_delay
    assert throttle.delay(throttle.ACCOUNT, throttle.ACCOUNT.free_failures) == dt.timedelta(0)
    assert throttle.delay(throttle.ACCOUNT, throttle.ACCOUNT.free_failures + 3) == dt.timedelta(seconds=4)
    now = dt.datetime.now(dt.UTC)
    for _ in range(100):
        throttle.record_failure(session, "quantri", ATTACKER, now)
    assert throttle.is_throttled(session, "quantri", "192.0.2.9", now)
    later = now + throttle.SOURCE.max_delay + dt.timedelta(seconds=1)
    assert not throttle.is_throttled(session, "quantri", "192.0.2.9", later)
    assert not throttle.is_throttled(session, "quantri", ATTACKER, later)


def test_the_cli_lets_an_administrator_in_whatever_an_outsider_did(session):
    services.create_user(session, "quantri", PASSWORD, Role.ADMIN)
    session.commit()
    for guess in range(30):
        with pytest.raises(services.AuthError):
            services.authenticate(session, "quantri", f"guess {guess}", f"192.0.2.{guess}")
    with pytest.raises(services.AuthError):
        services.authenticate(session, "quantri", PASSWORD, "198.51.100.99")  # a new desk: still waiting

    result = CliRunner().invoke(dancu_cli, ["user", "unlock", "quantri"])
    assert result.exit_code == 0, result.output
    session.expire_all()
    assert services.authenticate(session, "quantri", PASSWORD, "198.51.100.99").role is Role.ADMIN

    assert CliRunner().invoke(dancu_cli, ["user", "unlock", "khongco"]).exit_code != 0


def test_rows_live_in_the_database_for_every_worker(session):
    services.create_user(session, "canbo", PASSWORD, Role.REGISTRAR)
    session.commit()
    with pytest.raises(services.AuthError):
        services.authenticate(session, "canbo", "wrong password", ATTACKER)
    keys = set(session.scalars(select(LoginThrottle.key)))
    assert keys == {"account:canbo", f"source:{ATTACKER}", f"pair:{ATTACKER}|canbo"}
