"""Request dependencies shared by the page routers and the API routers.

Use ``DbSession`` (or ``Depends(get_session, scope="function")``): the unit of
work commits before the response is sent, so a read and its access-log entry
are stored together or the client gets an error, never data whose read went
unlogged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, AuthError, Role, actor_by_username, actor_from_token
from dancu.db import session_scope
from dancu.web.problems import ApiError
from dancu.web.security import CSRF_HEADER, SAFE_METHODS, csrf_valid

SESSION_USER = "username"


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


def _session_actor(request: Request, session: Session) -> Actor | None:
    username = request.session.get(SESSION_USER)
    if not username:
        return None
    try:
        return actor_by_username(session, username)
    except AuthError:
        # The account was deactivated or removed since login: forget the session.
        request.session.clear()
        return None


def page_actor(request: Request, session: DbSession) -> Actor:
    actor = _session_actor(request, session)
    if actor is None:
        raise LoginRequired
    return actor


def page_actor_with(*roles: Role):
    """A page dependency that also demands one of ``roles`` (PermissionDenied -> 403 page)."""

    def dependency(actor: Annotated[Actor, Depends(page_actor)]) -> Actor:
        actor.require(*roles)
        return actor

    return dependency


PageActor = Annotated[Actor, Depends(page_actor)]
RegistrarActor = Annotated[Actor, Depends(page_actor_with(Role.REGISTRAR, Role.ADMIN))]
AuditorActor = Annotated[Actor, Depends(page_actor_with(Role.AUDITOR, Role.ADMIN))]


def api_actor(request: Request, session: DbSession) -> Actor:
    """``Authorization: Bearer <token>``, or the browser's page session.

    A cookie-authenticated unsafe request must carry the ``X-CSRF-Token``
    header, since a hostile page could make the browser send the cookie.
    """
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            return actor_from_token(session, token.strip())
        except AuthError as exc:
            raise ApiError(401, "auth.invalid_token", str(exc), {"WWW-Authenticate": "Bearer"}) from None
    actor = _session_actor(request, session)
    if actor is None:
        raise ApiError(401, "auth.login_required", "authentication required", {"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and not csrf_valid(request, request.headers.get(CSRF_HEADER)):
        raise ApiError(403, "auth.csrf_invalid", "CSRF token missing or invalid")
    return actor


ApiActor = Annotated[Actor, Depends(api_actor)]
