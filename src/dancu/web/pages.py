"""Shell pages: login, logout, the home redirect and the API documentation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from dancu.accounts.services import AuthError, Role, authenticate
from dancu.web.deps import SESSION_USER, DbSession, PageActor
from dancu.web.security import client_address, rotate_csrf_token
from dancu.units.services import unit_label
from dancu.web.templating import SCOPE_LABEL, render

router = APIRouter(include_in_schema=False)

def _safe_next(target: str | None) -> str | None:
    """Only same-site paths, so the login form cannot be used as an open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


def _home_for(role: Role) -> str:
    return "/audit" if role is Role.AUDITOR else "/registry/search"


@router.get("/")
def home(actor: PageActor) -> RedirectResponse:
    return RedirectResponse(_home_for(actor.role), status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", {"next": _safe_next(next) or "", "username": "", "error": None})


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    username: Annotated[str, Form(max_length=60)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
):
    try:
        actor = authenticate(session, username.strip(), password, client_address(request))
    except AuthError:
        # One message for every refusal (unknown user, wrong password, throttled): it reveals nothing.
        return render(
            request, "login.html",
            {"next": _safe_next(next) or "", "username": username, "error": "login.failed"},
            status_code=401,
        )
    # A fresh session on login, so a session id planted before login is worthless.
    request.session.clear()
    request.session[SESSION_USER] = actor.username
    if actor.scope_unit_id is not None:
        request.session[SCOPE_LABEL] = unit_label(session, actor.scope_unit_id)
    rotate_csrf_token(request)
    return RedirectResponse(_safe_next(next) or _home_for(actor.role), status_code=303)


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/api/docs")
def api_docs(request: Request) -> HTMLResponse:
    return render(request, "api_docs.html", {"openapi_url": request.app.openapi_url})
