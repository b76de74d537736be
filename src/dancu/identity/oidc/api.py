"""OpenID Connect endpoints for relying parties, and the relying-party registry API.

The protocol endpoints a relying party's server calls (token, revocation,
introspection, userinfo) live under /api/oidc/: they authenticate the client
or the bearer token, never the browser's cookie, so they sit outside the
page CSRF check like the rest of /api/. They speak OAuth's form-encoded
protocol, described by discovery rather than by the OpenAPI schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dancu.accounts.models import Role
from dancu.identity.oidc import services
from dancu.identity.oidc.schemas import ActiveIn, ClientCreated, ClientIn, ClientOut, ClientUpdate, SecretOut
from dancu.identity.oidc.server import MalformedRequest, issuer_for, malformed_response, provider, read_request
from dancu.web.deps import ApiActor, DbSession
from dancu.web.problems import API_ERRORS, ApiError

# Every protocol endpoint answers only under the configured issuer's host (FastAPI runs issuer_for
# once per request, for the router and for the endpoints that take its value).
Issuer = Annotated[str, Depends(issuer_for)]
protocol = APIRouter(include_in_schema=False, dependencies=[Depends(issuer_for)])
router = APIRouter(prefix="/api/v1/oidc", tags=["oidc"], responses=API_ERRORS)

AUTHORIZE_PATH = "/oidc/authorize"
TOKEN_PATH = "/api/oidc/token"
USERINFO_PATH = "/api/oidc/userinfo"
REVOCATION_PATH = "/api/oidc/revoke"
INTROSPECTION_PATH = "/api/oidc/introspect"
JWKS_PATH = "/oidc/jwks"
END_SESSION_PATH = "/oidc/logout"


@protocol.get("/.well-known/openid-configuration")
def discovery(issuer: Issuer) -> JSONResponse:
    return JSONResponse({
        "issuer": issuer,
        "authorization_endpoint": issuer + AUTHORIZE_PATH,
        "token_endpoint": issuer + TOKEN_PATH,
        "userinfo_endpoint": issuer + USERINFO_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "revocation_endpoint": issuer + REVOCATION_PATH,
        "introspection_endpoint": issuer + INTROSPECTION_PATH,
        "end_session_endpoint": issuer + END_SESSION_PATH,
        "scopes_supported": list(services.SUPPORTED_SCOPES),
        "claims_supported": ["sub", "acr", "amr", "auth_time", "nonce", *services.ALL_CLAIMS],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": [services.SIGNING_ALG],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": list(services.ACR_VALUES.values()),
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        # Request objects are refused (request_not_supported); an absent request_uri_parameter_supported
        # would mean "supported" (Discovery 3).
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "ui_locales_supported": ["vi", "en"],
    }, headers={"Cache-Control": "public, max-age=3600"})


@protocol.get(JWKS_PATH)
def jwks(session: DbSession) -> JSONResponse:
    # Short cache: a key published by rotation must reach relying parties well before it signs.
    return JSONResponse(services.public_jwks(session), headers={"Cache-Control": "public, max-age=600"})


@protocol.post(TOKEN_PATH)
async def token(request: Request, session: DbSession, issuer: Issuer) -> Response:
    try:
        oauth_request = await read_request(request)
    except MalformedRequest as error:
        return malformed_response(error)
    return await run_in_threadpool(lambda: provider(session, issuer).create_token_response(oauth_request))


@protocol.post(REVOCATION_PATH)
async def revoke(request: Request, session: DbSession, issuer: Issuer) -> Response:
    try:
        oauth_request = await read_request(request)
    except MalformedRequest as error:
        return malformed_response(error)
    return await run_in_threadpool(
        lambda: provider(session, issuer).create_endpoint_response("revocation", oauth_request))


@protocol.post(INTROSPECTION_PATH)
async def introspect(request: Request, session: DbSession, issuer: Issuer) -> Response:
    try:
        oauth_request = await read_request(request)
    except MalformedRequest as error:
        return malformed_response(error)
    return await run_in_threadpool(
        lambda: provider(session, issuer).create_endpoint_response("introspection", oauth_request))


@protocol.api_route(USERINFO_PATH, methods=["GET", "POST"])
async def userinfo(request: Request, session: DbSession, issuer: Issuer) -> Response:
    try:
        oauth_request = await read_request(request)
    except MalformedRequest as error:
        return malformed_response(error)
    return await run_in_threadpool(lambda: provider(session, issuer).userinfo_response(oauth_request))


# --- relying-party registry (administrators) -------------------------------------------------------------------


def _found(session, client_id: str):
    client = services.get_client(session, client_id) if len(client_id) <= 64 else None
    if client is None:
        raise ApiError(404, "oidc.client_not_found", "no such relying party")
    return client


@router.get("/clients", response_model=list[ClientOut], summary="Registered relying parties")
def list_clients(session: DbSession, actor: ApiActor) -> list[ClientOut]:
    return [ClientOut.model_validate(client) for client in services.list_clients(session, actor)]


@router.post("/clients", response_model=ClientCreated, status_code=201,
             summary="Register a relying party (its secret is returned only here)")
def create_client(session: DbSession, actor: ApiActor, body: ClientIn) -> ClientCreated:
    try:
        client, secret = services.register_client(session, actor, services.Registration(**body.model_dump()))
    except services.ClientError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    return ClientCreated(**ClientOut.model_validate(client).model_dump(), client_secret=secret)


@router.get("/clients/{client_id}", response_model=ClientOut, summary="One relying party")
def get_client(session: DbSession, actor: ApiActor, client_id: str) -> ClientOut:
    actor.require(Role.ADMIN)
    return ClientOut.model_validate(_found(session, client_id))


@router.put("/clients/{client_id}", response_model=ClientOut, summary="Change a relying party's registration")
def update_client(session: DbSession, actor: ApiActor, client_id: str, body: ClientUpdate) -> ClientOut:
    actor.require(Role.ADMIN)
    _found(session, client_id)
    try:
        client = services.update_client(session, actor, client_id, services.Registration(**body.model_dump()))
    except services.ClientError as exc:
        raise ApiError(422, exc.code, str(exc)) from None
    return ClientOut.model_validate(client)


@router.post("/clients/{client_id}/secret", response_model=SecretOut,
             summary="Replace a confidential client's secret (the old one stops working)")
def new_secret(session: DbSession, actor: ApiActor, client_id: str) -> SecretOut:
    actor.require(Role.ADMIN)
    _found(session, client_id)
    try:
        return SecretOut(client_id=client_id, client_secret=services.reset_secret(session, actor, client_id))
    except services.ClientError as exc:
        raise ApiError(422, exc.code, str(exc)) from None


@router.put("/clients/{client_id}/active", response_model=ClientOut,
            summary="Suspend (revoking its tokens) or resume a relying party")
def set_active(session: DbSession, actor: ApiActor, client_id: str, body: ActiveIn) -> ClientOut:
    actor.require(Role.ADMIN)
    _found(session, client_id)
    return ClientOut.model_validate(services.set_active(session, actor, client_id, body.active))
