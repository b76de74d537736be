"""A code exchanged, or a refresh token rotated, by several requests at once: each succeeds once.

The provider read a code's (or refresh token's) "used" mark, decided and set it;
two token requests at once both found it unused and both got tokens. The row is
now locked for the exchange, so the other requests see it used and are treated
as the replay they are (RFC 6749 4.1.2 and 10.4: what the first use got is revoked).
Each request goes through its own client, event loop and database session.
"""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest
from at_once import released_together
from eid_helpers import PARENT_PIN
from fastapi.testclient import TestClient
from oidc_helpers import authorization, authorize, citizen_account, code_from, consent, exchange, full_login, login, \
    refresh, register

CLIENTS = 6


@pytest.fixture
def logged_in(browser):
    citizen_account(PARENT_PIN)
    login(browser, PARENT_PIN)
    return register()


def _post_at_once(app, send) -> list[httpx.Response]:
    # every client (with its event loop) is started before the release, so only the requests race
    with ExitStack() as stack:
        clients = [stack.enter_context(TestClient(app, base_url="http://localhost", follow_redirects=False))
                   for _ in range(CLIENTS)]
        return released_together(CLIENTS, lambda i: send(clients[i]))


def _one_success(responses: list[httpx.Response]) -> httpx.Response:
    assert sorted(r.status_code for r in responses) == [200] + [400] * (CLIENTS - 1), \
        [(r.status_code, r.text[:200]) for r in responses]
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)
    return next(r for r in responses if r.status_code == 200)


def test_a_code_exchanged_at_once_gets_tokens_once(app, browser, rp_http, logged_in):
    request = authorization(logged_in)
    answer = authorize(browser, request)
    if answer.status_code == 200:
        answer = consent(browser, request, ["name"])
    code = code_from(answer, request)
    winner = _one_success(_post_at_once(app, lambda client: exchange(client, request, code)))
    # the other uses were replays: what the first use got is revoked
    assert refresh(rp_http, logged_in, winner.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_refresh_token_rotated_at_once_is_rotated_once(app, browser, rp_http, logged_in):
    _, tokens = full_login(browser, rp_http, logged_in)
    winner = _one_success(_post_at_once(app, lambda client: refresh(client, logged_in, tokens["refresh_token"])))
    # the other uses were reuse of a rotated token: the whole family is revoked
    assert refresh(rp_http, logged_in, winner.json()["refresh_token"]).json()["error"] == "invalid_grant"
