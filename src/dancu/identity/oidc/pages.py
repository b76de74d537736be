"""Browser-facing OpenID Connect pages: authorization and consent, logout, the citizen's
list of connected apps, and the relying-party registry in the staff console."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.identity.eid import services as eid
from dancu.identity.oidc import services
from dancu.identity.oidc.api import AUTHORIZE_PATH
from dancu.identity.oidc.server import (
    MalformedRequest, ProviderServer, WebRequest, issuer_for, login_redirect, provider, read_request,
    well_formed_uri,
)
from dancu.web.deps import DbSession, page_actor_with
from dancu.web.forms import FormErrors
from dancu.web.security import CONTENT_SECURITY_POLICY
from dancu.web.templating import render, request_lang

router = APIRouter(include_in_schema=False)
AdminActor = Annotated[Actor, Depends(page_actor_with(Role.ADMIN))]
Issuer = Annotated[str, Depends(issuer_for)]

CONSENT_PATH = "/oidc/authorize/consent"
# Authorization parameters that must not survive a trip through the login page:
# prompt=login asks for one fresh login, not a loop of them.
_ONE_SHOT = ("prompt",)
# Parameters of OpenID Connect Core 6 and 7.2.1 that dancu does not support, and the error each gets.
_UNSUPPORTED = {"request": "request_not_supported", "request_uri": "request_uri_not_supported",
                "registration": "registration_not_supported"}


def _parameters(oauth_request: WebRequest) -> list[tuple[str, str]]:
    """The authorization request's parameters, from the query (GET) or the form (POST, Core 3.1.2.1)."""
    return [(key, value) for key, values in oauth_request.payload.datalist.items() for value in values]


def _authorize_again(oauth_request: WebRequest) -> str:
    query = [(k, v) for k, v in _parameters(oauth_request) if k not in _ONE_SHOT]
    return f"{AUTHORIZE_PATH}?{urlencode(query)}"


def _required_level(client_level: int, acr_values: str | None) -> int:
    asked = [services.LEVEL_OF_ACR[value] for value in (acr_values or "").split() if value in services.LEVEL_OF_ACR]
    # acr_values lists acceptable levels; the weakest acceptable one is enough, the client's minimum always holds.
    return max(client_level, min(asked) if asked else 1)


def _csp_allowing_form_to(redirect_uri: str) -> str:
    """The consent form's answer is a redirect to the relying party, which form-action must allow."""
    parts = urlsplit(redirect_uri)
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


def _protocol_error(request: Request, server: ProviderServer, oauth_request: WebRequest, error: OAuth2Error):
    if error.redirect_uri:
        return server.handle_error_response(oauth_request, error)
    # Without a verified redirect URI the answer goes to the citizen, never to an unverified address.
    return render(request, "oidc/error.html", {"error": error.error, "description": error.description},
                  status_code=400)


def _refuse_unsupported(request: Request, server: ProviderServer, oauth_request: WebRequest) -> Response | None:
    """A request object or a registration would be silently ignored: refuse it, to the relying party
    when its redirect URI checks out (Core 3.1.2.6), else to the citizen."""
    data = oauth_request.payload.data
    error_name = next((error for name, error in _UNSUPPORTED.items() if name in data), None)
    if error_name is None:
        return None
    error = OAuth2Error(error=error_name, description="send the parameters themselves, in the query or the form",
                        state=data.get("state"))
    client = server.query_client(data.get("client_id"))
    redirect_uri = data.get("redirect_uri") or ""
    if client is not None and well_formed_uri(redirect_uri) and client.check_redirect_uri(redirect_uri):
        error.redirect_uri = redirect_uri
    return _protocol_error(request, server, oauth_request, error)


def _authorize(request: Request, session, issuer: str, oauth_request: WebRequest, answer: dict | None) -> Response:
    server = provider(session, issuer)
    refused = _refuse_unsupported(request, server, oauth_request)
    if refused is not None:
        return refused
    principal = eid.principal_from_web_session(session, request.session)
    try:
        grant = server.get_consent_grant(oauth_request, end_user=principal)
    except OAuth2Error as error:
        return _protocol_error(request, server, oauth_request, error)
    client = grant.client.row
    data = oauth_request.payload.data
    prompt = data.get("prompt") or ""
    level = _required_level(client.min_level, data.get("acr_values"))
    max_age = _max_age(data.get("max_age"))
    stale = principal is not None and max_age is not None and \
        (services.now() - principal.auth_time).total_seconds() > max_age
    if principal is None or stale or "login" in prompt.split() or principal.level < level:
        if "none" in prompt.split():
            error_name = "login_required" if principal is None or stale else "interaction_required"
            return _redirect_error(server, oauth_request, grant, error_name)
        return RedirectResponse(login_redirect(_authorize_again(oauth_request), acr=level if level > 1 else None,
                                               max_age=max_age, prompt_login=stale or "login" in prompt.split()),
                                status_code=303)
    asked = services.requested_claims(client, oauth_request.scope or "")
    consent = services.remembered_consent(session, principal.account_id, client.client_id)
    if answer is None:
        if services.consent_covers(consent, asked) and "consent" not in prompt.split():
            oauth_request.shared_claims = services.shared_claims(consent, asked)
            return _leave_for(request, issuer, client, server.create_authorization_response(
                oauth_request, grant_user=principal, grant=grant))
        if "none" in prompt.split():
            return _redirect_error(server, oauth_request, grant, "consent_required")
        return _consent_page(request, oauth_request, client, asked, consent, level)
    if answer["decision"] != "allow":
        return server.create_authorization_response(oauth_request, grant_user=None, grant=grant)
    shared = [claim for claim in asked if claim in answer["claims"]]
    services.remember_consent(session, principal.account_id, client.client_id, asked, shared)
    oauth_request.shared_claims = shared
    return server.create_authorization_response(oauth_request, grant_user=principal, grant=grant)


def _leave_for(request: Request, issuer: str, client, response: Response) -> Response:
    """Hands the browser to the relying party.

    Arriving here from one of our own pages means a redirect chain that may have
    started with a form (the e-ID login), and browsers hold every hop of such a
    chain to that page's CSP form-action 'self': a plain redirect to the relying
    party would be blocked. A page that moves on by itself is a new navigation.
    """
    location = response.headers.get("location")
    if location is None or not request.headers.get("referer", "").startswith(issuer + "/"):
        return response
    return render(request, "oidc/continue.html", {"client": client, "target": location})


def _max_age(value: str | None) -> int | None:
    if value is None or not value.isdigit() or len(value) > 9:
        return None
    return int(value)


def _redirect_error(server: ProviderServer, oauth_request: WebRequest, grant, error_name: str) -> Response:
    error = OAuth2Error(error=error_name, redirect_uri=grant.redirect_uri, state=oauth_request.payload.state)
    return server.handle_error_response(oauth_request, error)


def _consent_page(request: Request, oauth_request: WebRequest, client, asked: list[str], consent,
                  level: int) -> HTMLResponse:
    earlier = set(consent.claims) if consent else set(asked)
    response = render(request, "oidc/consent.html", {
        "client": client, "asked": asked, "checked": {claim for claim in asked if claim in earlier},
        "acr": services.ACR_VALUES[level], "action": f"{CONSENT_PATH}?{urlencode(_parameters(oauth_request))}",
    })
    response.headers["Content-Security-Policy"] = _csp_allowing_form_to(oauth_request.payload.redirect_uri)
    return response


def _malformed_page(request: Request, error: MalformedRequest) -> HTMLResponse:
    return render(request, "oidc/error.html", {"error": "invalid_request", "description": str(error)},
                  status_code=400)


@router.api_route(AUTHORIZE_PATH, methods=["GET", "POST"])
async def authorize(request: Request, session: DbSession, issuer: Issuer) -> Response:
    """The authorization endpoint: GET, or POST with the parameters form-encoded (Core 3.1.2.1).

    A relying party's POST carries no CSRF token, so this path is exempt from the
    page CSRF check; it never records a decision, which only the consent path does.
    """
    try:
        oauth_request = await read_request(request)
    except MalformedRequest as error:
        return _malformed_page(request, error)
    return await run_in_threadpool(_authorize, request, session, issuer, oauth_request, None)


@router.post(CONSENT_PATH)
async def answer_consent(request: Request, session: DbSession, issuer: Issuer) -> Response:
    form = await request.form()
    answer = {"decision": form.get("decision"), "claims": set(form.getlist("claim"))}
    # The authorization parameters ride in the query string; the form holds only the citizen's answer.
    try:
        oauth_request = await read_request(request, form_parameters=False)
    except MalformedRequest as error:
        return _malformed_page(request, error)
    return await run_in_threadpool(_authorize, request, session, issuer, oauth_request, answer)


# --- logout ----------------------------------------------------------------------------------------------------


def _logout(request: Request, session, issuer: str, oauth_request: WebRequest) -> Response:
    server = provider(session, issuer)
    try:
        ending = server.validate_endpoint_request("end_session", oauth_request)
    except OAuth2Error as error:
        return render(request, "oidc/error.html", {"error": error.error, "description": error.description},
                      status_code=400)
    if ending.needs_confirmation:
        return render(request, "oidc/logout.html", {"client": ending.client.row if ending.client else None})
    server.create_endpoint_response("end_session", ending)
    done = "/oidc/logout/done"
    if ending.redirect_uri:
        # The e-ID logout may clear the whole web session: the way back rides in the URL, checked again there.
        data = oauth_request.payload.data
        done += "?" + urlencode({"client_id": ending.client.get_client_id(), "to": data["post_logout_redirect_uri"],
                                 "state": data.get("state") or ""})
    return RedirectResponse("/eid/logout?" + urlencode({"next": done}), status_code=303)


@router.get("/oidc/logout")
async def logout(request: Request, session: DbSession, issuer: Issuer) -> Response:
    try:
        oauth_request = await read_request(request)
    except MalformedRequest as error:
        return _malformed_page(request, error)
    return await run_in_threadpool(_logout, request, session, issuer, oauth_request)


@router.get("/oidc/logout/done", dependencies=[Depends(issuer_for)])
def logout_done(request: Request, session: DbSession, client_id: str = "", to: str = "",
                state: str = "") -> Response:
    """After the e-ID logout: back to the relying party, only to a post-logout URI it registered."""
    client = services.get_client(session, client_id) if client_id and len(client_id) <= 64 else None
    if client is not None and client.active and to in client.post_logout_redirect_uris:
        return RedirectResponse(add_params_to_uri(to, {"state": state}) if state else to, status_code=303)
    return render(request, "oidc/logged_out.html", {})


# --- the citizen's connected apps ------------------------------------------------------------------------------


@router.get("/me/apps")
def my_apps(request: Request, session: DbSession) -> Response:
    principal = eid.principal_from_web_session(session, request.session)
    if principal is None:
        return RedirectResponse(login_redirect("/me/apps"), status_code=303)
    return render(request, "oidc/apps.html", {
        "section": "apps", "principal": principal, "account": eid.get_account(session, principal.account_id),
        "acting_for_child": principal.guardian_account_id is not None,
        "consents": services.consents_of(session, principal.account_id),
        "revoked": request.query_params.get("revoked"),
    })


@router.post("/me/apps/{client_id}/revoke")
def revoke_app(request: Request, session: DbSession, client_id: str) -> Response:
    principal = eid.principal_from_web_session(session, request.session)
    if principal is None:
        return RedirectResponse(login_redirect("/me/apps"), status_code=303)
    client = services.get_client(session, client_id) if len(client_id) <= 64 else None
    if client is None or not services.revoke_consent(session, principal.account_id, client_id):
        return RedirectResponse("/me/apps", status_code=303)
    return RedirectResponse("/me/apps?" + urlencode({"revoked": client.name}), status_code=303)


# --- relying-party registry in the console ---------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _client_form_values(name: str, redirect_uris: str, post_logout_redirect_uris: str, claims: list[str],
                        min_level: str, sector_identifier: str = "", kind: str = "confidential") -> dict:
    return {"name": name, "redirect_uris": redirect_uris, "post_logout_redirect_uris": post_logout_redirect_uris,
            "claims": claims, "min_level": min_level, "sector_identifier": sector_identifier, "kind": kind}


def _registration(values: dict) -> services.Registration:
    if values["min_level"] not in ("1", "2"):
        raise services.ClientError("minimum level must be 1 or 2")
    return services.Registration(
        name=values["name"], redirect_uris=_lines(values["redirect_uris"]),
        post_logout_redirect_uris=_lines(values["post_logout_redirect_uris"]), allowed_claims=values["claims"],
        min_level=int(values["min_level"]), public=values["kind"] == "public",
        sector_identifier=values["sector_identifier"] or None)


def _clients_page(request: Request, session, actor: Actor, form: dict | None = None,
                  errors: FormErrors | None = None, created: tuple | None = None, status_code: int = 200):
    return render(request, "oidc/clients.html", {
        "section": "oidc", "clients": services.list_clients(session, actor), "all_claims": services.ALL_CLAIMS,
        "form": form or _client_form_values("", "", "", ["name"], "1"), "errors": errors or FormErrors(),
        "created": created,
    }, actor=actor, status_code=status_code)


@router.get("/console/oidc/clients")
def clients_page(request: Request, session: DbSession, actor: AdminActor) -> HTMLResponse:
    return _clients_page(request, session, actor)


FormText = Annotated[str, Form(max_length=5000)]


@router.post("/console/oidc/clients")
def create_client_page(request: Request, session: DbSession, actor: AdminActor, name: FormText = "",
                       redirect_uris: FormText = "", post_logout_redirect_uris: FormText = "",
                       claim: Annotated[list[str], Form()] = [], min_level: FormText = "1",  # noqa: B006
                       sector_identifier: FormText = "", kind: FormText = "confidential") -> HTMLResponse:
    values = _client_form_values(name, redirect_uris, post_logout_redirect_uris, claim, min_level,
                                 sector_identifier, kind)
    try:
        client, secret = services.register_client(session, actor, _registration(values))
    except services.ClientError as exc:
        return _clients_page(request, session, actor, values,
                             FormErrors.message(str(exc), request_lang(request)), status_code=422)
    return _clients_page(request, session, actor, created=(client, secret))


def _client_page(request: Request, session, actor: Actor, client, form: dict | None = None,
                 errors: FormErrors | None = None, secret: str | None = None, status_code: int = 200):
    form = form or _client_form_values(client.name, "\n".join(client.redirect_uris),
                                       "\n".join(client.post_logout_redirect_uris), list(client.allowed_claims),
                                       str(client.min_level))
    return render(request, "oidc/client.html", {
        "section": "oidc", "client": client, "form": form, "errors": errors or FormErrors(),
        "all_claims": services.ALL_CLAIMS, "secret": secret,
    }, actor=actor, status_code=status_code)


def _client_or_404(session, client_id: str):
    client = services.get_client(session, client_id) if len(client_id) <= 64 else None
    if client is None:
        raise HTTPException(404)
    return client


@router.get("/console/oidc/clients/{client_id}")
def client_page(request: Request, session: DbSession, actor: AdminActor, client_id: str) -> HTMLResponse:
    return _client_page(request, session, actor, _client_or_404(session, client_id))


@router.post("/console/oidc/clients/{client_id}")
def update_client_page(request: Request, session: DbSession, actor: AdminActor, client_id: str,
                       name: FormText = "", redirect_uris: FormText = "", post_logout_redirect_uris: FormText = "",
                       claim: Annotated[list[str], Form()] = [], min_level: FormText = "1",  # noqa: B006
                       ) -> HTMLResponse:
    client = _client_or_404(session, client_id)
    values = _client_form_values(name, redirect_uris, post_logout_redirect_uris, claim, min_level)
    try:
        services.update_client(session, actor, client_id, _registration(values))
    except services.ClientError as exc:
        return _client_page(request, session, actor, client, values,
                            FormErrors.message(str(exc), request_lang(request)), status_code=422)
    return RedirectResponse(f"/console/oidc/clients/{client_id}?saved=1", status_code=303)


@router.post("/console/oidc/clients/{client_id}/secret")
def new_secret_page(request: Request, session: DbSession, actor: AdminActor, client_id: str) -> HTMLResponse:
    client = _client_or_404(session, client_id)
    try:
        secret = services.reset_secret(session, actor, client_id)
    except services.ClientError as exc:
        return _client_page(request, session, actor, client,
                            errors=FormErrors.message(str(exc), request_lang(request)), status_code=422)
    return _client_page(request, session, actor, client, secret=secret)


@router.post("/console/oidc/clients/{client_id}/active")
def set_active_page(request: Request, session: DbSession, actor: AdminActor, client_id: str,
                    active: FormText = "") -> Response:
    _client_or_404(session, client_id)
    services.set_active(session, actor, client_id, active == "1")
    return RedirectResponse(f"/console/oidc/clients/{client_id}", status_code=303)
