"""Malformed protocol requests get an OAuth error or an error page, never a 5xx (the protocol endpoints
are outside the OpenAPI schema that schemathesis fuzzes)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identity.eid.eid_helpers import PARENT_PIN
from oidc_helpers import authorization, citizen_account, login, register

PARAMS = ["response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
          "code_challenge_method", "prompt", "max_age", "acr_values", "grant_type", "code", "code_verifier",
          "refresh_token", "token", "token_type_hint", "id_token_hint", "post_logout_redirect_uri", "client_secret",
          "request", "request_uri", "registration", "to"]
# Printable ASCII around a URI: the characters OAuth allows in a parameter but RFC 3986 does not in a URI
# ('"', '\\', '<', '{', space...), which authlib's error descriptions refuse when it echoes them.
uri_like = st.builds(lambda base, tail: base + tail, st.sampled_from(
    ["http://localhost:8765/callback", "http://localhost:8765/bye", "http://localhost:8765", "http:", "//", ""]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12))
values = st.one_of(st.text(max_size=80).filter(lambda v: "\x00" not in v), uri_like, st.sampled_from(
    ["code", "openid profile", "S256", "plain", "none", "login consent", "-1", "99999999999", "urn:dancu:loa:2",
     "authorization_code", "refresh_token", "access_token", "http://localhost:8765/callback"]))
requests = st.dictionaries(st.sampled_from(PARAMS), values, max_size=8)
hosts = st.one_of(st.just("localhost"), st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
                                                max_size=30))


def test_random_protocol_requests_never_cause_a_server_error(browser, rp_http):
    """Every protocol endpoint, GET and POST authorization, foreign Host headers, URI-like values."""
    citizen_account(PARENT_PIN)
    rp = register()
    login(browser, PARENT_PIN)
    valid = authorization(rp).params

    @given(params=requests, base=st.booleans(), host=hosts)
    @settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(params, base, host):
        query = {**valid, **params} if base else params
        for answer in (browser.get("/oidc/authorize", params=query),
                       browser.post("/oidc/authorize", data=query),
                       browser.get("/oidc/authorize", params=query, headers={"Host": host}),
                       rp_http.get("/.well-known/openid-configuration", headers={"Host": host}),
                       browser.get("/oidc/logout", params=query),
                       browser.get("/oidc/logout/done", params=query),
                       rp_http.post("/api/oidc/token", data=query, auth=(rp.client_id, rp.secret)),
                       rp_http.post("/api/oidc/token", data=query),
                       rp_http.post("/api/oidc/revoke", data=query, auth=(rp.client_id, rp.secret)),
                       rp_http.post("/api/oidc/introspect", data=query, auth=(rp.client_id, rp.secret)),
                       rp_http.get("/api/oidc/userinfo", headers={"Authorization": f"Bearer {query.get('token', 'x')}"
                                                                  .encode("ascii", "replace").decode()})):
            assert answer.status_code < 500, (answer.request.url, answer.text[:300])

    check()
