"""API shapes of the relying-party registry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dancu.identity.oidc.services import ALL_CLAIMS, MAX_REDIRECT_URIS

Uri = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Claim = Literal[ALL_CLAIMS]  # type: ignore[valid-type]


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    redirect_uris: Annotated[list[Uri], Field(min_length=1, max_length=MAX_REDIRECT_URIS)]
    post_logout_redirect_uris: Annotated[list[Uri], Field(max_length=MAX_REDIRECT_URIS)] = []
    allowed_claims: Annotated[list[Claim], Field(max_length=len(ALL_CLAIMS))] = []
    min_level: Literal[1, 2] = 1
    public: bool = False
    sector_identifier: Annotated[str, StringConstraints(max_length=255)] | None = None


class ClientUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    redirect_uris: Annotated[list[Uri], Field(min_length=1, max_length=MAX_REDIRECT_URIS)]
    post_logout_redirect_uris: Annotated[list[Uri], Field(max_length=MAX_REDIRECT_URIS)] = []
    allowed_claims: Annotated[list[Claim], Field(max_length=len(ALL_CLAIMS))] = []
    min_level: Literal[1, 2] = 1


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    name: str
    public: bool
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    allowed_claims: list[str]
    min_level: int
    sector_identifier: str
    active: bool
    created_by: str
    created_at: dt.datetime | None


class ClientCreated(ClientOut):
    client_secret: str | None = Field(description="shown only in this answer; null for a public client")


class SecretOut(BaseModel):
    client_id: str
    client_secret: str


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool
