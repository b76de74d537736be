"""Token issuance for API clients (/api/v1/auth)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from dancu.accounts import services
from dancu.web.deps import ApiActor, DbSession
from dancu.web.problems import API_ERRORS, ApiError
from dancu.web.security import client_address

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=API_ERRORS)


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=60)
    password: str = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = int(services.TOKEN_LIFETIME.total_seconds())


class Me(BaseModel):
    username: str
    role: str
    scope_unit_id: int | None


@router.post("/token", response_model=TokenResponse, summary="Exchange username and password for a bearer token")
def token(request: Request, session: DbSession, credentials: Credentials) -> TokenResponse:
    try:
        actor = services.authenticate(session, credentials.username, credentials.password, client_address(request))
    except services.AuthError as exc:
        raise ApiError(401, exc.code, str(exc)) from None
    return TokenResponse(access_token=services.issue_token(session, actor))


@router.get("/me", response_model=Me, summary="Who the token belongs to")
def me(actor: ApiActor) -> Me:
    return Me(username=actor.username, role=actor.role.value, scope_unit_id=actor.scope_unit_id)
