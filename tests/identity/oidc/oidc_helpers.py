"""Drive the provider as a relying party and a citizen's browser would, through the real app in process."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from dancu import db
from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.identity.eid import services as eid
from dancu.identity.oidc import services

ADMIN = Actor(username="quantri", role=Role.ADMIN)
CITIZEN_PASSWORD = "mat-khau-rat-dai-2026"
RP_ORIGIN = "http://localhost:8765"
CALLBACK = f"{RP_ORIGIN}/callback"
AFTER_LOGOUT = f"{RP_ORIGIN}/bye"


@dataclass(frozen=True)
class RP:
    client_id: str
    secret: str | None
    redirect_uri: str = CALLBACK


def register(name: str = "iHaNoi", *, public: bool = False, min_level: int = 1, origin: str = RP_ORIGIN,
             claims: tuple[str, ...] = ("name", "birthdate", "address", "pin")) -> RP:
    with db.session_scope() as session:
        client, secret = services.register_client(session, ADMIN, services.Registration(
            name=name, redirect_uris=[f"{origin}/callback"], post_logout_redirect_uris=[f"{origin}/bye"],
            allowed_claims=list(claims), min_level=min_level, public=public))
        return RP(client.client_id, secret, f"{origin}/callback")


def citizen_account(pin: str, level: int = 1) -> int:
    with db.session_scope() as session:
        return eid.create_account(session, pin=pin, phone="0912345678", password=CITIZEN_PASSWORD, level=level)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html)[1]


def login(browser: httpx.Client, pin: str) -> None:
    token = csrf_of(browser.get("/eid/login").text)
    answer = browser.post("/eid/login", data={"pin": pin, "password": CITIZEN_PASSWORD, "next": "/me",
                                              "csrf_token": token})
    assert answer.status_code == 303, answer.text


@dataclass
class Request:
    rp: RP
    verifier: str
    state: str
    nonce: str | None
    params: dict


def authorization(rp: RP, scope: str = "openid profile pin", nonce: str | None = "auto", **extra) -> Request:
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(12)
    nonce = secrets.token_urlsafe(12) if nonce == "auto" else nonce
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": rp.redirect_uri, "scope": scope,
              "state": state, "code_challenge": create_s256_code_challenge(verifier),
              "code_challenge_method": "S256"}
    if nonce is not None:
        params["nonce"] = nonce
    params.update({k: v for k, v in extra.items() if v is not None})
    for key in [k for k, v in extra.items() if v is None]:
        params.pop(key, None)
    return Request(rp, verifier, state, nonce, params)


def authorize(browser: httpx.Client, request: Request) -> httpx.Response:
    return browser.get("/oidc/authorize?" + urlencode(request.params))


def consent(browser: httpx.Client, request: Request, claims: list[str], decision: str = "allow",
            csrf: bool = True) -> httpx.Response:
    page = authorize(browser, request)
    assert page.status_code == 200, page.text
    data = {"decision": decision, "claim": claims}
    if csrf:
        data["csrf_token"] = csrf_of(page.text)
    return browser.post(form_action(page.text), data=data)


def form_action(html: str) -> str:
    return re.search(r'<form method="post" action="([^"]+)"', html)[1].replace("&amp;", "&")


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def code_from(response: httpx.Response, request: Request) -> str:
    params = redirect_params(response)
    assert response.headers["location"].startswith(request.rp.redirect_uri + "?")
    assert params["state"] == request.state
    return params["code"]


def exchange(rp_http: httpx.Client, request: Request, code: str, *, verifier: str | None = "same",
             redirect_uri: str | None = None, secret: str | None = "same") -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect_uri or request.rp.redirect_uri}
    if verifier is not None:
        data["code_verifier"] = request.verifier if verifier == "same" else verifier
    return _token_call(rp_http, request.rp, data, secret)


def refresh(rp_http: httpx.Client, rp: RP, refresh_token: str) -> httpx.Response:
    return _token_call(rp_http, rp, {"grant_type": "refresh_token", "refresh_token": refresh_token}, "same")


def _token_call(rp_http: httpx.Client, rp: RP, data: dict, secret: str | None) -> httpx.Response:
    secret = rp.secret if secret == "same" else secret
    if secret is None:
        return rp_http.post("/api/oidc/token", data={**data, "client_id": rp.client_id})
    return rp_http.post("/api/oidc/token", data=data, auth=(rp.client_id, secret))


def full_login(browser: httpx.Client, rp_http: httpx.Client, rp: RP, claims: list[str] | None = None,
               **extra) -> tuple[Request, dict]:
    """Authorize (answering the consent screen when it shows) and exchange the code: the token response."""
    request = authorization(rp, **extra)
    answer = authorize(browser, request)
    if answer.status_code == 200:
        answer = consent(browser, request, claims if claims is not None else ["name", "birthdate"])
    tokens = exchange(rp_http, request, code_from(answer, request))
    assert tokens.status_code == 200, tokens.text
    return request, tokens.json()


def id_token_claims(rp_http: httpx.Client, id_token: str) -> dict:
    keys = KeySet.import_key_set(rp_http.get("/oidc/jwks").json())
    return jwt.decode(id_token, keys, algorithms=["RS256"]).claims


def id_token_kid(id_token: str) -> str:
    return jws.extract_compact(id_token.encode()).protected["kid"]
