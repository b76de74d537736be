"""The authorization-code flow end to end, in process: discovery, consent, tokens, userinfo, refresh,
revocation, introspection, logout, key rotation, step-up and pairwise subjects."""

from __future__ import annotations

import datetime as dt

from identity.eid.eid_helpers import OTHER_PIN, PARENT_PIN
from oidc_helpers import (
    AFTER_LOGOUT, authorization, authorize, citizen_account, code_from, consent, csrf_of, exchange, full_login,
    id_token_claims, id_token_kid, login, redirect_params, refresh, register,
)
from sqlalchemy import func, select

from dancu import db
from dancu.audit.models import AccessLogEntry
from dancu.identity.eid.models import EidSession
from dancu.identity.oidc import services
from dancu.identity.oidc.models import AuthorizationCode, SigningKey, Token


def test_discovery_names_every_endpoint_and_the_key_set_verifies_id_tokens(browser, rp_http):
    config = rp_http.get("/.well-known/openid-configuration").json()
    assert config["issuer"] == "http://localhost"
    for name, path in [("authorization_endpoint", "/oidc/authorize"), ("token_endpoint", "/api/oidc/token"),
                       ("userinfo_endpoint", "/api/oidc/userinfo"), ("jwks_uri", "/oidc/jwks"),
                       ("revocation_endpoint", "/api/oidc/revoke"), ("introspection_endpoint", "/api/oidc/introspect"),
                       ("end_session_endpoint", "/oidc/logout")]:
        assert config[name] == "http://localhost" + path
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["subject_types_supported"] == ["pairwise"]
    assert config["acr_values_supported"] == ["urn:dancu:loa:1", "urn:dancu:loa:2"]
    keys = rp_http.get("/oidc/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and "d" not in keys[0]


def test_consented_claims_reach_userinfo_and_the_consent_is_remembered(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    request = authorization(rp, scope="openid profile pin")
    page = authorize(browser, request)
    assert page.status_code == 200 and "iHaNoi" in page.text and 'value="pin"' in page.text
    answer = consent(browser, request, ["name", "birthdate"])
    tokens = exchange(rp_http, request, code_from(answer, request)).json()
    claims = id_token_claims(rp_http, tokens["id_token"])
    assert claims["nonce"] == request.nonce and claims["aud"] == rp.client_id
    assert claims["iss"] == "http://localhost" and claims["acr"] == "urn:dancu:loa:1" and claims["amr"] == ["pwd"]
    userinfo = rp_http.get("/api/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200
    info = userinfo.json()
    assert info["sub"] == claims["sub"] and info["name"] == "Nguyễn Văn An" and info["birthdate"] == "1990-05-17"
    assert "pin" not in info, "the citizen did not tick the PIN"
    with db.session_scope() as session:
        purposes = list(session.scalars(select(AccessLogEntry.purpose)))
    assert any("iHaNoi" in purpose for purpose in purposes), purposes
    # Second login: no consent screen, same claims.
    again = authorization(rp, scope="openid profile pin")
    second = authorize(browser, again)
    assert second.status_code == 302
    tokens = exchange(rp_http, again, code_from(second, again)).json()
    info = rp_http.get("/api/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert set(info) == {"sub", "name", "birthdate"}


def test_refusing_consent_returns_access_denied_to_the_relying_party(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    request = authorization(rp)
    params = redirect_params(consent(browser, request, ["name"], decision="deny"))
    assert params["error"] == "access_denied" and params["state"] == request.state and "code" not in params


def test_pairwise_subjects_differ_between_sectors_and_agree_within_one(browser, rp_http):
    citizen_account(PARENT_PIN)
    login(browser, PARENT_PIN)
    city = register("iHaNoi", origin="http://localhost:8765")
    city_again = register("iHaNoi admin", origin="http://localhost:8765")
    hospital = register("Bệnh viện", origin="http://127.0.0.1:8766")
    subjects = [id_token_claims(rp_http, full_login(browser, rp_http, rp)[1]["id_token"])["sub"]
                for rp in (city, city_again, hospital)]
    assert subjects[0] == subjects[1] != subjects[2]


def test_level_two_relying_party_sends_a_level_one_citizen_to_step_up(browser, rp_http):
    citizen_account(PARENT_PIN, level=1)
    citizen_account(OTHER_PIN, level=2)
    tax = register("Thuế điện tử", min_level=2)
    login(browser, PARENT_PIN)
    step_up = authorize(browser, authorization(tax))
    assert step_up.status_code == 303
    location = step_up.headers["location"]
    assert location.startswith("/eid/login?next=%2Foidc%2Fauthorize%3F") and "&acr=2" in location
    # acr_values asks for level 2 from a relying party that would accept level 1.
    city = register("iHaNoi")
    assert "&acr=2" in authorize(browser, authorization(city, acr_values="urn:dancu:loa:2")).headers["location"]
    # A level-2 citizen gets through, and the ID token says so.
    browser.cookies.clear()
    login(browser, OTHER_PIN)
    _, tokens = full_login(browser, rp_http, tax)
    assert id_token_claims(rp_http, tokens["id_token"])["acr"] == "urn:dancu:loa:2"


def test_max_age_and_prompt_login_ask_for_a_fresh_login_and_prompt_none_never_shows_a_page(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    anonymous = authorize(browser, authorization(rp, prompt="none"))
    assert redirect_params(anonymous)["error"] == "login_required"
    not_logged_in = authorize(browser, authorization(rp))
    assert not_logged_in.headers["location"].startswith("/eid/login?next=")
    login(browser, PARENT_PIN)
    assert redirect_params(authorize(browser, authorization(rp, prompt="none")))["error"] == "consent_required"
    forced = authorize(browser, authorization(rp, prompt="login")).headers["location"]
    assert "&prompt=login" in forced and "prompt%3Dlogin" not in forced, "the way back must not loop"
    with db.session_scope() as session:
        for row in session.scalars(select(EidSession)):
            row.auth_time = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    stale = authorize(browser, authorization(rp, max_age="60")).headers["location"]
    assert "&max_age=60" in stale and "&prompt=login" in stale


def test_refresh_rotates_and_revocation_and_introspection_follow_rfc_7009_and_7662(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    _, tokens = full_login(browser, rp_http, rp)
    rotated = refresh(rp_http, rp, tokens["refresh_token"]).json()
    assert rotated["refresh_token"] != tokens["refresh_token"] and rotated["access_token"] != tokens["access_token"]
    introspect = rp_http.post("/api/oidc/introspect", data={"token": rotated["access_token"]},
                              auth=(rp.client_id, rp.secret)).json()
    assert introspect["active"] is True and introspect["client_id"] == rp.client_id
    assert introspect["acr"] == "urn:dancu:loa:1" and introspect["scope"] == "openid profile pin"
    revoked = rp_http.post("/api/oidc/revoke", data={"token": rotated["refresh_token"],
                                                     "token_type_hint": "refresh_token"},
                           auth=(rp.client_id, rp.secret))
    assert revoked.status_code == 200
    # Revoking the refresh token ends its whole family, access tokens included.
    assert rp_http.post("/api/oidc/introspect", data={"token": rotated["access_token"]},
                        auth=(rp.client_id, rp.secret)).json() == {"active": False}
    assert rp_http.get("/api/oidc/userinfo",
                       headers={"Authorization": f"Bearer {rotated['access_token']}"}).status_code == 401
    # Another relying party learns nothing about this one's tokens.
    other = register("Other app", origin="http://localhost:8770")
    _, fresh = full_login(browser, rp_http, rp)
    assert rp_http.post("/api/oidc/introspect", data={"token": fresh["access_token"]},
                        auth=(other.client_id, other.secret)).json() == {"active": False}


def test_rp_initiated_logout_ends_the_e_id_session_and_returns_only_to_a_registered_uri(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    _, tokens = full_login(browser, rp_http, rp)
    answer = browser.get("/oidc/logout", params={"id_token_hint": tokens["id_token"],
                                                 "post_logout_redirect_uri": AFTER_LOGOUT, "state": "s1"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/eid/logout?next=")
    done = browser.get(answer.headers["location"])
    back = browser.get(done.headers["location"])
    assert back.status_code == 303 and back.headers["location"] == AFTER_LOGOUT + "?state=s1"
    assert authorize(browser, authorization(rp)).headers["location"].startswith("/eid/login"), "logged out"
    # An unregistered address is never a redirect target.
    login(browser, PARENT_PIN)
    _, tokens = full_login(browser, rp_http, rp)
    answer = browser.get("/oidc/logout", params={"id_token_hint": tokens["id_token"],
                                                 "post_logout_redirect_uri": "https://evil.example/"})
    done = browser.get(browser.get(answer.headers["location"]).headers["location"])
    assert done.status_code == 200 and "evil.example" not in done.text
    # Without an id_token_hint the citizen is asked first.
    assert browser.get("/oidc/logout").status_code == 200


def test_key_rotation_publishes_the_next_key_before_it_signs_and_keeps_the_old_one(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    _, first = full_login(browser, rp_http, rp)
    old_kid = id_token_kid(first["id_token"])
    with db.session_scope() as session:
        new_kid = services.rotate_keys(session).kid
    published = {key["kid"] for key in rp_http.get("/oidc/jwks").json()["keys"]}
    assert published == {old_kid, new_kid}
    _, second = full_login(browser, rp_http, rp)
    assert id_token_kid(second["id_token"]) == old_kid, "the new key waits out its propagation delay"
    with db.session_scope() as session:
        # A day later: the new key's propagation delay is over, the old key covers its last tokens.
        old = session.scalar(select(SigningKey).where(SigningKey.kid == old_kid))
        old.activates_at = dt.datetime.now(dt.UTC) - services.KEY_PROPAGATION - dt.timedelta(hours=1)
        old.retires_at = dt.datetime.now(dt.UTC) + services.ID_TOKEN_LIFETIME
        session.scalar(select(SigningKey).where(SigningKey.kid == new_kid)).activates_at = dt.datetime.now(dt.UTC)
    _, third = full_login(browser, rp_http, rp)
    assert id_token_kid(third["id_token"]) == new_kid
    assert id_token_claims(rp_http, first["id_token"])["sub"], "tokens of the old key still verify"
    with db.session_scope() as session:
        session.scalar(select(SigningKey).where(SigningKey.kid == old_kid)).retires_at = \
            dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    assert {key["kid"] for key in rp_http.get("/oidc/jwks").json()["keys"]} == {new_kid}


def test_connected_apps_page_lists_the_consent_and_withdrawing_it_revokes_the_tokens(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    _, tokens = full_login(browser, rp_http, rp)
    page = browser.get("/me/apps")
    assert page.status_code == 200 and "iHaNoi" in page.text
    withdrawn = browser.post(f"/me/apps/{rp.client_id}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert withdrawn.status_code == 303
    assert rp_http.get("/api/oidc/userinfo",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    assert refresh(rp_http, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert authorize(browser, authorization(rp)).status_code == 200, "the consent screen shows again"


def test_purge_deletes_only_codes_and_tokens_that_can_no_longer_serve(browser, rp_http):
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    _, old = full_login(browser, rp_http, rp)
    _, live = full_login(browser, rp_http, rp)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    with db.session_scope() as session:
        for code in session.scalars(select(AuthorizationCode).order_by(AuthorizationCode.id).limit(1)):
            code.expires_at = long_ago
        first = session.scalar(select(Token).order_by(Token.id).limit(1))
        first.access_expires_at = first.refresh_expires_at = long_ago
    with db.session_scope() as session:
        assert services.purge_expired(session) == (1, 1)
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(AuthorizationCode)) == 1
    assert rp_http.get("/api/oidc/userinfo", headers={"Authorization": f"Bearer {live['access_token']}"}) \
        .status_code == 200
    assert refresh(rp_http, rp, old["refresh_token"]).json()["error"] == "invalid_grant"
