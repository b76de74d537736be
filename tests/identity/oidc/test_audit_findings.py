"""Findings of the issue 10 audit on the provider, each its own test: the issuer comes from configuration
only, the authorization endpoint takes POST, request objects are refused rather than ignored, and a
malformed redirect URI gets an error page instead of a server error."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlencode

import pytest
from identity.eid.eid_helpers import PARENT_PIN
from oidc_helpers import (
    authorization, authorize, citizen_account, code_from, consent, exchange, form_action, login, redirect_params,
    register,
)
from serving import free_port

from dancu.config import get_settings

FOREIGN_HOSTS = ["evil.example", "localhost.evil.example", "localhost:8000", "evil.example:80", "[::1]", "",
                 "localhost:notaport"]


@pytest.fixture
def logged_in(browser):
    citizen_account(PARENT_PIN)
    login(browser, PARENT_PIN)
    return register()


def test_discovery_never_names_a_host_the_request_chose(rp_http):
    for host in FOREIGN_HOSTS:
        answer = rp_http.get("/.well-known/openid-configuration", headers={"Host": host})
        assert answer.status_code == 421, (host, answer.status_code)
        assert "evil" not in answer.text and "max-age" not in answer.headers.get("cache-control", "")
    config = rp_http.get("/.well-known/openid-configuration", headers={"Host": "LOCALHOST:80"}).json()
    assert config["issuer"] == "http://localhost"
    assert {value for key, value in config.items() if key.endswith("_endpoint") or key == "jwks_uri"} <= {
        f"http://localhost{path}" for path in ("/oidc/authorize", "/api/oidc/token", "/api/oidc/userinfo",
                                                "/oidc/jwks", "/api/oidc/revoke", "/api/oidc/introspect",
                                                "/oidc/logout")}


def test_every_protocol_endpoint_refuses_a_foreign_host(browser, rp_http, logged_in):
    request = authorization(logged_in)
    evil = {"Host": "evil.example"}
    answers = [browser.get("/oidc/authorize?" + urlencode(request.params), headers=evil),
               browser.post("/oidc/authorize", data=request.params, headers=evil),
               browser.get("/oidc/logout", headers=evil), browser.get("/oidc/logout/done", headers=evil),
               rp_http.get("/oidc/jwks", headers=evil),
               rp_http.post("/api/oidc/token", data={"grant_type": "authorization_code", "code": "x"},
                            auth=(logged_in.client_id, logged_in.secret), headers=evil),
               rp_http.get("/api/oidc/userinfo", headers={**evil, "Authorization": "Bearer x"}),
               rp_http.post("/api/oidc/revoke", data={"token": "x"}, auth=(logged_in.client_id, logged_in.secret),
                            headers=evil),
               rp_http.post("/api/oidc/introspect", data={"token": "x"},
                            auth=(logged_in.client_id, logged_in.secret), headers=evil)]
    assert [answer.status_code for answer in answers] == [421] * len(answers)
    # The same requests under the issuer's host are answered.
    assert browser.get("/oidc/authorize?" + urlencode(request.params)).status_code == 200


def test_without_a_configured_issuer_the_provider_does_not_answer(rp_http, monkeypatch):
    monkeypatch.delenv("DANCU_OIDC_ISSUER")
    monkeypatch.delenv("DANCU_PUBLIC_URL", raising=False)
    get_settings.cache_clear()
    answer = rp_http.get("/.well-known/openid-configuration")
    assert answer.status_code == 503 and "DANCU_OIDC_ISSUER" in answer.text
    assert rp_http.get("/oidc/jwks").status_code == 503
    # The public URL is the issuer when no separate one is set.
    monkeypatch.setenv("DANCU_PUBLIC_URL", "http://localhost/")
    get_settings.cache_clear()
    assert rp_http.get("/.well-known/openid-configuration").json()["issuer"] == "http://localhost"


@pytest.mark.parametrize("issuer", [None, "localhost:8000", "ftp://localhost", "https://id.example/path",
                                    "https://id.example?x=1", "https://user@id.example"])
def test_dancu_serve_refuses_to_start_without_a_valid_issuer(issuer, monkeypatch):
    monkeypatch.delenv("DANCU_PUBLIC_URL", raising=False)
    if issuer is None:
        monkeypatch.delenv("DANCU_OIDC_ISSUER", raising=False)
    else:
        monkeypatch.setenv("DANCU_OIDC_ISSUER", issuer)
    # On the old code the server starts and serves until the timeout.
    result = subprocess.run([sys.executable, "-m", "dancu.cli", "serve", "--port", str(free_port())],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stderr
    assert "DANCU_OIDC_ISSUER" in result.stderr


def test_the_authorization_endpoint_takes_a_form_post(browser, rp_http, logged_in):
    """OpenID Connect Core 3.1.2.1: GET and POST (form-encoded). The relying party's page sends no CSRF token."""
    request = authorization(logged_in)
    page = browser.post("/oidc/authorize", data=request.params)
    assert page.status_code == 200 and "iHaNoi" in page.text, page.text[:300]
    # The consent form carries every parameter, so the answer goes through as for a GET.
    assert "code_challenge=" in form_action(page.text)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    answer = browser.post(form_action(page.text), data={"decision": "allow", "claim": ["name"], "csrf_token": csrf})
    tokens = exchange(rp_http, request, code_from(answer, request))
    assert tokens.status_code == 200 and "id_token" in tokens.json()
    # Consent remembered: a second POST gets its code straight away.
    again = authorization(logged_in)
    assert code_from(browser.post("/oidc/authorize", data=again.params), again)


def test_a_posted_authorization_request_survives_the_login_page(browser, logged_in):
    browser.cookies.clear()  # a cross-site POST arrives without the SameSite=Lax session cookie
    request = authorization(logged_in)
    answer = browser.post("/oidc/authorize", data=request.params)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/eid/login?next=")
    login(browser, PARENT_PIN)
    next_path = redirect_params(answer)["next"]
    page = browser.get(next_path)
    assert page.status_code == 200 and "iHaNoi" in page.text


def test_the_consent_answer_still_needs_the_csrf_token(browser, logged_in):
    request = authorization(logged_in)
    page = authorize(browser, request)
    forged = browser.post(form_action(page.text), data={"decision": "allow", "claim": ["name"]})
    assert forged.status_code == 403
    # A relying party's POST to the authorization endpoint cannot carry a decision either.
    posted = browser.post("/oidc/authorize", data={**request.params, "decision": "allow", "claim": "name"})
    assert posted.status_code == 200 and "csrf_token" in posted.text


@pytest.mark.parametrize(("parameter", "error"), [("request", "request_not_supported"),
                                                  ("request_uri", "request_uri_not_supported"),
                                                  ("registration", "registration_not_supported")])
def test_request_objects_are_refused_not_ignored(browser, rp_http, logged_in, parameter, error):
    consent(browser, authorization(logged_in), ["name"])  # remembered: an ignored object would yield a code
    value = "https://rp.example/request.jwt" if parameter == "request_uri" else "eyJhbGciOiJub25lIn0.e30."
    for method in ("GET", "POST"):
        request = authorization(logged_in, **{parameter: value})
        answer = authorize(browser, request) if method == "GET" else browser.post("/oidc/authorize",
                                                                                data=request.params)
        params = redirect_params(answer)
        assert answer.headers["location"].startswith(logged_in.redirect_uri + "?")
        assert params["error"] == error and params["state"] == request.state and "code" not in params
    # Without a redirect URI the relying party registered, the citizen sees the error instead.
    page = authorize(browser, authorization(logged_in, redirect_uri="https://evil.example/cb", **{parameter: value}))
    assert page.status_code == 400 and error in page.text
    config = rp_http.get("/.well-known/openid-configuration").json()
    assert config["request_parameter_supported"] is False and config["request_uri_parameter_supported"] is False


MALFORMED_REDIRECTS = ["http://localhost:8765\\callback", "http://localhost:8765/callback\\", "http:\\\\evil.example",
                       'http://localhost:8765/callback"', "http://localhost:8765/call back", "http://[::1",
                       "http://localhost:99999/callback", "//localhost:8765/callback", "http://localhost:8765/<x>"]


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_malformed_redirect_uri_gets_an_error_page(browser, logged_in, signed_in):
    if not signed_in:
        browser.cookies.clear()
    for uri in MALFORMED_REDIRECTS:
        request = authorization(logged_in, redirect_uri=uri)
        for answer in (authorize(browser, request), browser.post("/oidc/authorize", data=request.params)):
            assert answer.status_code == 400, (uri, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html") and "redirect_uri" in answer.text
            assert "location" not in answer.headers
