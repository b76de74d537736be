"""Turning exceptions into HTTP answers, the same way in every API router.

A domain exception carries its stable machine-readable ``code`` as a class
attribute (``PersonNotFound.code == "registry.person_not_found"``); its kind
decides the status (``_STATUS``). ``service_errors`` wraps a service call in a
router; the handlers below, installed by the app for ``/api/`` paths, render
every error as RFC 9457 problem details (``dancu.web.problems``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dancu.accounts.services import PermissionDenied
from dancu.audit.services import PurposeRequired
from dancu.db import ConcurrentChange
from dancu.web.problems import VALIDATION_FAILED, ApiError, problem_response, validation_detail

# (exception type, status): the first match wins, so subclasses come first.
_STATUS: list[tuple[type[Exception], int]] = [
    (PermissionDenied, 403),
    (ConcurrentChange, 409),
    (LookupError, 404),
    (PurposeRequired, 422),
    (ValidationError, 422),
    (ValueError, 422),
]


def status_for(exc: Exception) -> int | None:
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), None)


def code_of(exc: Exception) -> str | None:
    """The domain code of ``exc``, or None for a plain exception (the status then names a generic code)."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


@contextmanager
def service_errors() -> Iterator[None]:
    try:
        yield
    except HTTPException:
        raise
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise ApiError(422, VALIDATION_FAILED, validation_detail(errors), errors=errors) from None
    except Exception as exc:
        status = status_for(exc)
        if status is None:
            raise
        raise ApiError(status, code_of(exc), str(exc)) from None


def http_problem(request: Request, exc: HTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return problem_response(request, exc.status_code, code_of(exc), detail, exc.headers,
                            getattr(exc, "errors", None))


def validation_problem(request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    return problem_response(request, 422, VALIDATION_FAILED, validation_detail(errors), errors=errors)


def domain_problem(request: Request, exc: Exception) -> Response:
    """A domain exception that escaped a router without ``service_errors`` (e.g. ``actor.require``)."""
    return problem_response(request, status_for(exc) or 500, code_of(exc), str(exc))


def internal_problem(request: Request, _exc: Exception) -> Response:
    # The exception's text may hold personal data or internals: the log has it, the client does not.
    return problem_response(request, 500, None, "internal error (logged on the server)")
