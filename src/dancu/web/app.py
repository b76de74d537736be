"""The web application: registrar console pages and the REST API, one process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from dancu.accounts.api import router as accounts_api
from dancu.accounts.services import PermissionDenied
from dancu.audit.api import router as audit_api
from dancu.audit.pages import router as audit_pages
from dancu.audit.sealer import Sealer
from dancu.config import get_settings
from dancu.i18n import negotiate, supported
from dancu.identity.cards.api import router as cards_api
from dancu.identity.cards.pages import router as cards_pages
from dancu.identity.eid.pages import router as eid_pages
from dancu.identity.oidc.api import AUTHORIZE_PATH as OIDC_AUTHORIZE_PATH
from dancu.identity.oidc.api import protocol as oidc_protocol
from dancu.identity.oidc.api import router as oidc_api
from dancu.identity.oidc.pages import router as oidc_pages
from dancu.identity.pki.pages import router as pki_pages
from dancu.identity.signing.api import router as signing_api
from dancu.identity.signing.pages import router as signing_pages
from dancu.linkage.api import router as linkage_api
from dancu.linkage.pages import router as linkage_pages
from dancu.registry.api import router as registry_api
from dancu.registry.pages import router as registry_pages
from dancu.units.api import router as units_api
from dancu.units.pages import router as units_pages
from dancu.web import errors
from dancu.web.deps import LoginRequired
from dancu.web.pages import router as shell_pages
from dancu.web.problems import document_problems, problem_response
from dancu.web.security import CSRFMiddleware, RejectNulMiddleware, SecurityHeadersMiddleware, load_session_secret
from dancu.web.templating import is_htmx, render

API_PREFIX = "/api/"
# The OpenID Connect authorization endpoint takes relying parties' form POSTs (Core 3.1.2.1).
CSRF_EXEMPT_PATHS = frozenset({OIDC_AUTHORIZE_PATH})
SESSION_COOKIE = "dancu_session"
SESSION_MAX_AGE = 8 * 3600  # one working day
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


class LanguageMiddleware:
    """Puts the negotiated language in ``request.state.lang``; ``?lang=`` also sets the cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        chosen = supported(conn.query_params.get("lang"))
        scope.setdefault("state", {})["lang"] = negotiate(
            chosen, conn.cookies.get("lang"), conn.headers.get("accept-language")
        )
        if chosen is None:
            await self.app(scope, receive, send)
            return
        cookie = f"lang={chosen}; Max-Age={LANG_COOKIE_MAX_AGE}; Path=/; SameSite=Lax".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [(b"set-cookie", cookie)]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


async def _login_required(request: Request, _exc: LoginRequired) -> Response:
    if _is_api(request):
        return problem_response(request, 401, "auth.login_required", "log in first",
                                {"WWW-Authenticate": "Bearer"})
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = f"/login?next={quote(target, safe='')}"
    if is_htmx(request):
        # A fragment request cannot follow a redirect into a full page; HTMX can.
        return Response(status_code=204, headers={"HX-Redirect": login})
    return RedirectResponse(login, status_code=303)


async def _permission_denied(request: Request, exc: PermissionDenied) -> Response:
    if _is_api(request):
        return errors.domain_problem(request, exc)
    return render(request, "error.html", {"status": 403}, status_code=403)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if _is_api(request):
        return errors.http_problem(request, exc)
    if exc.status_code not in (404, 405):
        return await http_exception_handler(request, exc)
    return render(request, "error.html", {"status": exc.status_code}, status_code=exc.status_code)


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    if _is_api(request):
        return errors.validation_problem(request, exc)
    return await request_validation_exception_handler(request, exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    if _is_api(request):
        return errors.internal_problem(request, exc)
    return PlainTextResponse("Internal Server Error", status_code=500)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    sealer = Sealer(interval=get_settings().audit_seal_interval)
    sealer.start()
    try:
        yield
    finally:
        await run_in_threadpool(sealer.stop)


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        lifespan=_lifespan,
        title="dancu",
        summary="National population database, residence and registrar services (Project 06, made open).",
        version="0.1.0",
        openapi_url="/api/v1/openapi.json",
        # Served by shell_pages from vendored files: the stock page loads a CDN and inline scripts.
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(packages=[("dancu.web", "static")]), name="static")
    for router in (units_api, registry_api, audit_api, accounts_api, cards_api, cards_pages,
                   linkage_api, linkage_pages,
                   shell_pages, registry_pages, audit_pages, units_pages, pki_pages, signing_pages, eid_pages,
                   oidc_protocol, oidc_api, oidc_pages, signing_api):
        app.include_router(router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PermissionDenied, _permission_denied)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _server_error)
    document_problems(app)
    # Added innermost first: headers wrap everything, then the session, which
    # language negotiation and the CSRF check both read.
    app.add_middleware(CSRFMiddleware, api_prefix=API_PREFIX, exempt_paths=CSRF_EXEMPT_PATHS)
    app.add_middleware(LanguageMiddleware)
    app.add_middleware(
        SessionMiddleware,
        secret_key=load_session_secret(settings.session_secret_file),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        # Secure is decided per request: SecurityHeadersMiddleware marks cookies of HTTPS responses.
        https_only=False,
    )
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    # Outermost: the client's address and scheme, as a trusted proxy reports them, for everything inside.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    return app
