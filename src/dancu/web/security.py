"""Session secret, CSRF tokens, security headers and transport security for the web application.

The session cookie is the ambient credential a hostile page could ride on, so
every state-changing request that relies on it must also prove it came from
one of our own pages: a per-session token, sent in the hidden form field
``csrf_token`` or (HTMX, fetch) in the ``X-CSRF-Token`` header.

A request that reached us over HTTPS (directly, or through a proxy listed in
``DANCU_TRUSTED_PROXIES`` that says so in ``X-Forwarded-Proto``) gets every
cookie marked ``Secure`` and a ``Strict-Transport-Security`` header; see
docs/deployment.md.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
import tempfile
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dancu.web.problems import problem_response

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
])
HSTS = (b"strict-transport-security", b"max-age=31536000")
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def client_address(conn: HTTPConnection) -> str:
    """The client's address: the peer's, or what a trusted proxy vouched for (ProxyHeadersMiddleware)."""
    return conn.client.host if conn.client else "unknown"


def load_session_secret(path: Path) -> str:
    """The cookie-signing secret, created on first start (0600) next to the master key.

    Written to a private temporary file and linked into place, so that server
    workers starting together agree on one secret and never read a half-written one.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".session-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def csrf_token(conn: HTTPConnection) -> str:
    token = conn.session.get("csrf")
    if not token:
        token = conn.session["csrf"] = secrets.token_urlsafe(32)
    return token


def rotate_csrf_token(conn: HTTPConnection) -> None:
    conn.session["csrf"] = secrets.token_urlsafe(32)


def csrf_valid(conn: HTTPConnection, presented: str | None) -> bool:
    expected = conn.session.get("csrf")
    return bool(expected and presented) and hmac.compare_digest(expected, presented)


class CSRFMiddleware:
    """Rejects unsafe page requests (everything outside /api/) without a valid token.

    API requests authenticate with a bearer token, which a hostile page cannot
    send; the API's cookie fallback checks the header in ``deps.api_actor``.
    Runs inside SessionMiddleware. Form bodies are read here and replayed to
    the application unchanged.
    """

    def __init__(self, app: ASGIApp, api_prefix: str = "/api/", exempt_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.api_prefix = api_prefix
        # Pages another site must be able to POST to by protocol, and which act on nothing the cookie allows.
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] in SAFE_METHODS
                or scope["path"].startswith(self.api_prefix) or scope["path"] in self.exempt_paths):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        presented = conn.headers.get(CSRF_HEADER)
        messages: list[Message] = []
        if presented is None:
            body, messages = await _read_body(receive)
            presented = _form_field(conn.headers.get("content-type", ""), body, CSRF_FIELD)
        if not csrf_valid(conn, presented):
            response = PlainTextResponse("CSRF token missing or invalid; reload the page and try again.",
                                         status_code=403)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive) if messages else receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _form_field(content_type: str, body: bytes, name: str) -> str | None:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(name)
        return values[0] if values else None
    if media_type == "multipart/form-data":
        return _multipart_field(content_type, body, name)
    return None


def _multipart_field(content_type: str, body: bytes, name: str) -> str | None:
    boundary = next((part.split("=", 1)[1].strip('"') for part in content_type.split(";")[1:]
                     if part.strip().startswith("boundary=")), None)
    if not boundary:
        return None
    marker = f'name="{name}"'.encode()
    for part in body.split(b"--" + boundary.encode()):
        head, _, value = part.partition(b"\r\n\r\n")
        if marker in head and b"filename=" not in head:
            return value.removesuffix(b"\r\n").decode("utf-8", "replace")
    return None


def _secure_cookie(name: bytes, value: bytes) -> tuple[bytes, bytes]:
    if name.lower() != b"set-cookie" or b"secure" in {part.strip().lower() for part in value.split(b";")[1:]}:
        return name, value
    return name, value + b"; Secure"


class SecurityHeadersMiddleware:
    """Adds the security headers; over HTTPS also HSTS, and ``Secure`` on every cookie.

    The scheme is the one the client used: ProxyHeadersMiddleware, outside this
    one, has already taken it from a trusted proxy's ``X-Forwarded-Proto``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        wanted = SECURITY_HEADERS + [HSTS] if https else SECURITY_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if https:
                    headers = [_secure_cookie(name, value) for name, value in headers]
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [(name, value) for name, value in wanted if name not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)


NUL_MESSAGE = "text may not contain NUL characters (\\u0000)"


def _holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False


def _body_holds_nul(content_type: str, body: bytes) -> bool:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return b"\x00" in body or b"%00" in body.lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return _holds_nul(json.loads(body))
        except ValueError:
            return False  # malformed JSON: the application answers it with its own 422
    return False


def _nul_refused(scope: Scope) -> Response:
    return problem_response(HTTPConnection(scope), 422, "nul_character", NUL_MESSAGE)


class RejectNulMiddleware:
    """Answers 422 to any request whose path, query or form/JSON body holds a NUL character.

    No dancu field can hold one (PostgreSQL text cannot, SQLite's FTS5 stops
    at it), so refusing it at the door keeps every endpoint, page and service
    free of that check.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if b"%00" in raw_path.lower() + scope["query_string"].lower() or "\x00" in scope["path"]:
            await _nul_refused(scope)(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        body, messages = await _read_body(receive)
        if _body_holds_nul(HTTPConnection(scope).headers.get("content-type", ""), body):
            await _nul_refused(scope)(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)
