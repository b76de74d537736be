"""Turning domain exceptions into HTTP answers, the same way in every API router."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException
from pydantic import ValidationError

from dancu.accounts.services import PermissionDenied
from dancu.audit.services import PurposeRequired

# (exception type, status): the first match wins, so subclasses come first.
_STATUS: list[tuple[type[Exception], int]] = [
    (PermissionDenied, 403),
    (LookupError, 404),
    (PurposeRequired, 422),
    (ValidationError, 422),
    (ValueError, 422),
]


def status_for(exc: Exception) -> int | None:
    return next((status for kind, status in _STATUS if isinstance(exc, kind)), None)


@contextmanager
def service_errors() -> Iterator[None]:
    try:
        yield
    except HTTPException:
        raise
    except Exception as exc:
        status = status_for(exc)
        if status is None:
            raise
        detail = exc.errors(include_url=False) if isinstance(exc, ValidationError) else str(exc)
        raise HTTPException(status, detail) from None
