"""Attacks on the provider, each its own test: every one must fail without leaking a code, a token or a claim."""

from __future__ import annotations

import re

import pytest
from authlib.oidc.core import CodeIDToken
from identity.eid.eid_helpers import PARENT_PIN
from joserfc import jwt
from joserfc.errors import InvalidClaimError
from joserfc.jwk import KeySet
from oidc_helpers import (
    ADMIN, RP, authorization, authorize, citizen_account, code_from, consent, csrf_of, exchange, full_login, login,
    redirect_params, refresh, register,
)
from sqlalchemy import func, select

from dancu import db
from dancu.identity.oidc import services
from dancu.identity.oidc.models import AuthorizationCode, Consent, RelyingParty


@pytest.fixture
def logged_in(browser):
    citizen_account(PARENT_PIN)
    login(browser, PARENT_PIN)
    return register()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _code(browser, rp, **extra):
    request = authorization(rp, **extra)
    answer = authorize(browser, request)
    if answer.status_code == 200:
        answer = consent(browser, request, ["name"])
    return request, code_from(answer, request)


def test_authorization_code_replay_is_refused_and_revokes_what_the_first_use_got(browser, rp_http, logged_in):
    request, code = _code(browser, logged_in)
    first = exchange(rp_http, request, code)
    assert first.status_code == 200
    replay = exchange(rp_http, request, code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert rp_http.get("/api/oidc/userinfo", headers=_bearer(first.json()["access_token"])).status_code == 401
    assert refresh(rp_http, logged_in, first.json()["refresh_token"]).json()["error"] == "invalid_grant"


def test_authorization_request_without_pkce_is_refused(browser, logged_in):
    request = authorization(logged_in, code_challenge=None, code_challenge_method=None)
    params = redirect_params(authorize(browser, request))
    assert params["error"] == "invalid_request" and "PKCE" in params["error_description"] and "code" not in params


def test_plain_pkce_method_is_refused(browser, logged_in):
    request = authorization(logged_in, code_challenge_method="plain")
    assert redirect_params(authorize(browser, request))["error"] == "invalid_request"


def test_token_request_with_a_wrong_pkce_verifier_is_refused(browser, rp_http, logged_in):
    request, code = _code(browser, logged_in)
    wrong = exchange(rp_http, request, code, verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_token_request_without_the_pkce_verifier_is_refused(browser, rp_http, logged_in):
    request, code = _code(browser, logged_in)
    missing = exchange(rp_http, request, code, verifier=None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_public_client_without_verifier_gets_nothing(browser, rp_http):
    citizen_account(PARENT_PIN)
    login(browser, PARENT_PIN)
    spa = register("Public app", public=True)
    request, code = _code(browser, spa)
    refused = exchange(rp_http, request, code, verifier=None)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    assert "access_token" not in refused.json()


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/callback", "http://localhost:8765/callback/", "http://localhost:8765/callback?x=1",
    "http://localhost:8765/CALLBACK", "http://localhost:8765/callback#frag", "http://localhost:8766/callback",
])
def test_unregistered_or_altered_redirect_uri_gets_an_error_page_never_a_redirect(browser, logged_in, redirect_uri):
    answer = authorize(browser, authorization(logged_in, redirect_uri=redirect_uri))
    assert answer.status_code == 400 and "location" not in answer.headers
    assert "redirect" in answer.text.lower()


def test_redirect_uri_at_the_token_endpoint_must_equal_the_authorization_one(browser, rp_http):
    citizen_account(PARENT_PIN)
    login(browser, PARENT_PIN)
    with db.session_scope() as session:
        client, secret = services.register_client(session, ADMIN, services.Registration(
            name="Two callbacks", redirect_uris=["http://localhost:8765/callback", "http://localhost:8765/other"],
            post_logout_redirect_uris=[], allowed_claims=["name"]))
        rp = RP(client.client_id, secret)
    request, code = _code(browser, rp)
    answer = exchange(rp_http, request, code, redirect_uri="http://localhost:8765/other")
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_provider_refuses_a_replayed_nonce(browser, logged_in):
    _code(browser, logged_in, nonce="same-nonce-123")
    params = redirect_params(authorize(browser, authorization(logged_in, nonce="same-nonce-123")))
    assert params["error"] == "invalid_request" and "code" not in params


def test_id_token_always_carries_the_requested_nonce(browser, rp_http, logged_in):
    for nonce in ("n-one", "n-two"):
        _, tokens = full_login(browser, rp_http, logged_in, nonce=nonce)
        keys = KeySet.import_key_set(rp_http.get("/oidc/jwks").json())
        assert jwt.decode(tokens["id_token"], keys).claims["nonce"] == nonce


def test_relying_party_rejects_an_id_token_whose_nonce_is_not_the_one_it_sent(browser, rp_http, logged_in):
    """The relying party's side, with authlib's ID token validation as the example app uses it."""
    _, tokens = full_login(browser, rp_http, logged_in, nonce="sent-by-this-login")
    keys = KeySet.import_key_set(rp_http.get("/oidc/jwks").json())
    decoded = jwt.decode(tokens["id_token"], keys).claims
    accepted = CodeIDToken(decoded, {"alg": "RS256"}, params={"nonce": "sent-by-this-login",
                                                              "client_id": logged_in.client_id})
    accepted.validate()
    replayed = CodeIDToken(decoded, {"alg": "RS256"}, params={"nonce": "sent-by-another-login",
                                                              "client_id": logged_in.client_id})
    with pytest.raises(InvalidClaimError):
        replayed.validate()


def test_refresh_token_reuse_revokes_the_whole_family(browser, rp_http, logged_in):
    _, tokens = full_login(browser, rp_http, logged_in)
    rotated = refresh(rp_http, logged_in, tokens["refresh_token"]).json()
    reused = refresh(rp_http, logged_in, tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The legitimate holder's newer tokens die with the stolen one.
    assert refresh(rp_http, logged_in, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    assert rp_http.get("/api/oidc/userinfo", headers=_bearer(rotated["access_token"])).status_code == 401


def test_consent_form_without_csrf_token_is_refused_and_issues_no_code(browser, logged_in):
    request = authorization(logged_in)
    answer = consent(browser, request, ["name"], csrf=False)
    assert answer.status_code == 403 and "location" not in answer.headers
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(AuthorizationCode)) == 0
        assert session.scalar(select(func.count()).select_from(Consent)) == 0


def test_console_forms_without_csrf_token_are_refused(browser):
    from dancu.accounts.models import Role
    from dancu.accounts.services import create_user

    with db.session_scope() as session:
        create_user(session, "quantri", "correct horse battery", Role.ADMIN)
    rp_id = register().client_id
    token = csrf_of(browser.get("/login").text)
    assert browser.post("/login", data={"username": "quantri", "password": "correct horse battery",
                                        "csrf_token": token}).status_code == 303
    form = {"name": "Forged", "redirect_uris": "https://evil.example/cb", "min_level": "1", "kind": "public"}
    assert browser.post("/console/oidc/clients", data=form).status_code == 403
    assert browser.post(f"/console/oidc/clients/{rp_id}/secret").status_code == 403
    assert browser.post(f"/console/oidc/clients/{rp_id}/active", data={"active": "0"}).status_code == 403
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(RelyingParty)) == 1
        assert session.scalar(select(RelyingParty.active))
    # With the token, the same form works, and the secret is shown once and stored only as a hash.
    page = browser.get("/console/oidc/clients")
    created = browser.post("/console/oidc/clients", data={**form, "kind": "confidential",
                                                          "csrf_token": csrf_of(page.text)})
    assert created.status_code == 200
    secret = re.search(r'id="created-client-secret">([^<]+)<', created.text)[1]
    with db.session_scope() as session:
        hashes = list(session.scalars(select(RelyingParty.secret_sha256)))
    assert secret not in hashes and len(hashes) == 2
    assert secret not in browser.get("/console/oidc/clients").text


def test_connected_apps_withdrawal_without_csrf_token_is_refused(browser, rp_http, logged_in):
    full_login(browser, rp_http, logged_in)
    assert browser.post(f"/me/apps/{logged_in.client_id}/revoke").status_code == 403
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Consent)) == 1


def test_client_authentication_failures_get_invalid_client(browser, rp_http, logged_in):
    request, code = _code(browser, logged_in)
    wrong_secret = exchange(rp_http, request, code, secret="not-the-secret")
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"
    no_secret = exchange(rp_http, request, code, secret=None)
    assert no_secret.status_code == 401 and no_secret.json()["error"] == "invalid_client"
    # Another registered client cannot redeem this client's code with its own valid credentials.
    other = register("Other app", origin="http://localhost:8770")
    stolen = rp_http.post("/api/oidc/token", data={"grant_type": "authorization_code", "code": code,
                                                   "redirect_uri": request.rp.redirect_uri,
                                                   "code_verifier": request.verifier},
                          auth=(other.client_id, other.secret))
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    # The failed attempts did not use the code up: the rightful client still gets its tokens.
    assert exchange(rp_http, request, code).status_code == 200
    # Introspection demands a confidential client's credentials.
    assert rp_http.post("/api/oidc/introspect", data={"token": "x"}).status_code == 401
