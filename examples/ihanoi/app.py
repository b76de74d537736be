"""iHaNoi-style city app: a relying party that logs citizens in with their dancu e-ID.

It uses only a standard OpenID Connect client (authlib's Starlette integration):
discovery, authorization code with PKCE (S256), nonce and ID-token checks are
the library's; this file only wires the pages. Run it with

    IHANOI_CLIENT_ID=... IHANOI_CLIENT_SECRET=... DANCU_ISSUER=http://localhost:8000 \\
        uvicorn --app-dir examples/ihanoi app:app --port 9000

after registering it in dancu (see docs/oidc.md) with the redirect URI
http://127.0.0.1:9000/callback and the post-logout URI http://127.0.0.1:9000/.
"""

from __future__ import annotations

import html
import os
import secrets
from urllib.parse import urlencode

from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

SCOPES = "openid profile address"
LABELS = {
    "name": "Họ và tên / Name", "family_name": "Họ / Family name", "middle_name": "Tên đệm / Middle name",
    "given_name": "Tên / Given name", "birthdate": "Ngày sinh / Date of birth", "gender": "Giới tính / Sex",
    "nationalities": "Quốc tịch / Nationality", "address": "Nơi thường trú / Permanent address",
}
STYLE = """
body{margin:0;font-family:system-ui,"Segoe UI",Roboto,sans-serif;background:#f4f6f9;color:#1c2733}
header{background:#b3261e;color:#fff;padding:18px 0}header div,main{max-width:760px;margin:0 auto;padding:0 20px}
header strong{font-size:1.4rem;letter-spacing:.02em}header span{opacity:.85;margin-left:12px}
main{padding-top:28px}.card{background:#fff;border-radius:10px;padding:24px;box-shadow:0 1px 4px rgba(0,0,0,.08)}
.btn{display:inline-block;background:#b3261e;color:#fff;text-decoration:none;padding:10px 18px;border-radius:6px}
.btn.secondary{background:#fff;color:#b3261e;border:1px solid #b3261e}
dl{display:grid;grid-template-columns:max-content 1fr;gap:8px 18px}dt{color:#5b6b7b}dd{margin:0;font-weight:600}
.error{background:#fdecea;color:#8a1c14;padding:12px;border-radius:6px}
"""


def _page(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>iHaNoi (ví dụ)</title>
<style>{STYLE}</style></head><body><header><div><strong>iHaNoi</strong><span>Công dân Thủ đô số — ứng dụng ví dụ
</span></div></header><main><div class="card">{body}</div></main></body></html>""", status_code=status_code)


def _value(claim: str, value) -> str:
    if claim == "address" and isinstance(value, dict):
        value = value.get("formatted") or ", ".join(str(v) for v in value.values())
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return html.escape(str(value))


def create_app() -> Starlette:
    issuer = os.environ.get("DANCU_ISSUER", "http://localhost:8000").rstrip("/")
    oauth = OAuth()
    oauth.register(
        "dancu",
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_id=os.environ["IHANOI_CLIENT_ID"],
        client_secret=os.environ.get("IHANOI_CLIENT_SECRET") or None,
        client_kwargs={"scope": SCOPES, "code_challenge_method": "S256"},
    )

    async def home(request: Request) -> HTMLResponse:
        user = request.session.get("user")
        if not user:
            return _page("""<h1>Xin chào!</h1><p>Đăng nhập bằng tài khoản định danh điện tử để gửi phản ánh,
                tra cứu dịch vụ công và nhận thông báo của Thành phố.</p>
                <p><a class="btn" id="login" href="/login">Đăng nhập bằng dancu e-ID</a></p>""")
        rows = "".join(f"<dt>{html.escape(LABELS.get(k, k))}</dt><dd data-claim='{k}'>{_value(k, v)}</dd>"
                       for k, v in user.items() if k != "sub")
        return _page(f"""<h1 id="greeting">Xin chào, {html.escape(user.get("name", "công dân"))}</h1>
            <p>Thông tin bạn đã đồng ý chia sẻ với iHaNoi:</p><dl>{rows or "<dd>—</dd>"}</dl>
            <p>Mức xác thực: <strong id="acr">{html.escape(request.session.get("acr", ""))}</strong></p>
            <p><a class="btn secondary" id="logout" href="/logout">Đăng xuất</a></p>""")

    async def login(request: Request):
        return await oauth.dancu.authorize_redirect(request, str(request.url_for("callback")))

    async def callback(request: Request):
        try:
            # Exchanges the code with the PKCE verifier and validates the ID token, its nonce included.
            token = await oauth.dancu.authorize_access_token(request)
        except OAuthError as error:
            return _page(f"<p class='error'>Đăng nhập không thành công: {html.escape(error.error)}</p>"
                         "<p><a class='btn' href='/'>Quay lại</a></p>", status_code=400)
        userinfo = await oauth.dancu.userinfo(token=token)
        request.session["user"] = dict(userinfo)
        request.session["acr"] = token["userinfo"].get("acr", "")
        request.session["id_token"] = token["id_token"]
        return RedirectResponse("/", status_code=303)

    async def logout(request: Request):
        id_token = request.session.pop("id_token", None)
        request.session.clear()
        metadata = await oauth.dancu.load_server_metadata()
        if not id_token:
            return RedirectResponse("/", status_code=303)
        query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": str(request.url_for("home")),
                           "state": secrets.token_urlsafe(8)})
        return RedirectResponse(f"{metadata['end_session_endpoint']}?{query}", status_code=303)

    return Starlette(
        routes=[Route("/", home, name="home"), Route("/login", login), Route("/callback", callback, name="callback"),
                Route("/logout", logout)],
        middleware=[Middleware(SessionMiddleware, secret_key=os.environ.get("IHANOI_SESSION_SECRET")
                               or secrets.token_urlsafe(32), session_cookie="ihanoi_session")],
    )


app = create_app()
