"""The one error shape of the API: RFC 9457 problem details.

Every error an ``/api/`` route answers - a refused business rule, a record
that does not exist, a request that fails validation, a missing token, a role
that may not act - is an ``application/problem+json`` object with the members
``type``, ``title``, ``status``, ``detail`` and ``instance``, plus the
extension member ``code``: a stable, machine-readable name such as
``registry.person_not_found``. Clients branch on ``code``; ``detail`` is for
people and its wording may change. A validation failure also lists its field
errors in ``errors``.

``type`` is ``about:blank`` when the HTTP status says everything (a generic
code such as ``not_found``) and ``urn:dancu:problem:<code>`` for a domain
error; neither is meant to be fetched. ``title`` is the status phrase in the
request's language. ``instance`` is the request path without the query
string, which may carry a PIN.

This module knows the format only; which exception gets which status and
code is decided in ``dancu.web.errors``. Pages (HTML) keep their own error
pages, and the OIDC protocol endpoints keep the OAuth error format the
standards require: neither goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from dancu.i18n import negotiate, t

PROBLEM_JSON = "application/problem+json"
CODE_PATTERN = r"^[a-z][a-z_]*(\.[a-z][a-z_]*)?$"
VALIDATION_FAILED = "validation_failed"
# Codes of errors that no domain exception describes: the HTTP status is the whole story.
GENERIC_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "content_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    500: "internal_error",
}
_GENERIC = frozenset(GENERIC_CODES.values()) | {VALIDATION_FAILED}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="Where: body, query, path or header, then the path to the field")
    msg: str = Field(description="What is wrong, in English")
    type: str = Field(description='The kind of error, e.g. "missing", "string_too_long"')


class Problem(BaseModel):
    """An error of the API (RFC 9457 problem details)."""

    type: str = Field(description='"about:blank" for a generic code, "urn:dancu:problem:<code>" for a domain error')
    title: str = Field(description="The HTTP status phrase, in the request's language (vi or en)")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What went wrong with this request, for people; may change wording")
    instance: str = Field(description="The request path")
    code: str = Field(pattern=CODE_PATTERN, description="Stable machine-readable error code: branch on this")
    errors: list[FieldError] | None = Field(default=None, description=f"Only with code {VALIDATION_FAILED}")


class ApiError(HTTPException):
    """An HTTP error with its stable code, for what a router or dependency detects itself."""

    def __init__(self, status: int, code: str | None, detail: str, headers: Mapping[str, str] | None = None,
                 errors: Sequence[Mapping[str, Any]] | None = None) -> None:
        super().__init__(status, detail, dict(headers) if headers else None)
        self.code = code
        self.errors = list(errors) if errors is not None else None


def field_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Pydantic's error dicts reduced to loc/msg/type: the rejected input is not echoed back."""
    return [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors]


def validation_detail(errors: Sequence[Mapping[str, Any]]) -> str:
    shown = "; ".join(f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"invalid request: {shown}{more}"


def problem_response(conn: HTTPConnection, status: int, code: str | None, detail: str,
                     headers: Mapping[str, str] | None = None,
                     errors: Sequence[Mapping[str, Any]] | None = None) -> JSONResponse:
    code = code or GENERIC_CODES.get(status, GENERIC_CODES[400 if status < 500 else 500])
    lang = conn.scope.get("state", {}).get("lang") or negotiate(
        None, conn.cookies.get("lang"), conn.headers.get("accept-language"))
    body: dict[str, Any] = {
        "type": "about:blank" if code in _GENERIC else f"urn:dancu:problem:{code}",
        "title": t(f"problem.title.{status}", lang),
        "status": status,
        "detail": detail,
        "instance": conn.url.path,
        "code": code,
    }
    if errors is not None:
        body["errors"] = field_errors(errors)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


_DESCRIPTIONS = {
    401: "No valid bearer token (or page session)",
    403: "The caller's role or area may not do this",
    404: "The record does not exist (or is outside the caller's area)",
    409: "The record changed since it was read, or a conflicting request was made",
    422: "The request is invalid or a business rule refused it (see code)",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem details for ``statuses`` (for a router or a route)."""
    return {
        status: {"description": _DESCRIPTIONS.get(status, "Error"),
                 "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        for status in statuses
    }


# What every API router declares: routes behind a token, and public ones (no login).
API_ERRORS = problem_responses(401, 403, 404, 409, 422)
PUBLIC_ERRORS = problem_responses(404, 422)


def document_problems(app: FastAPI) -> None:
    """Adds the Problem schema, which ``problem_responses`` refer to, to the app's OpenAPI components."""
    generate = app.openapi
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = {"Problem": schema, **schema.pop("$defs", {})}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generate().setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
