"""The web shell without a browser: CSRF, sessions, roles, headers, languages, catalogs."""

from __future__ import annotations

import json
import re
import stat
from importlib.resources import files
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD

from dancu.config import get_settings
from dancu.i18n import catalog, negotiate
from dancu.registry.quality import RULES
from dancu.registry.reference import HOUSEHOLD_RELATIONSHIPS
from dancu.web.app import create_app

TEMPLATES = Path(str(files("dancu.web").joinpath("templates")))
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def client(seed):
    with TestClient(create_app(), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _token(client: TestClient, path: str = "/login") -> str:
    return CSRF_INPUT.search(client.get(path).text)[1]


def _login(client: TestClient, username: str = "canbo", password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password, "csrf_token": _token(client)},
                       follow_redirects=False)


def test_pages_need_a_login_and_remember_where_to_return(client):
    response = client.get("/registry/search", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fregistry%2Fsearch"
    htmx = client.get("/registry/search", headers={"HX-Request": "true"}, follow_redirects=False)
    assert htmx.headers["HX-Redirect"].startswith("/login?next=")


def test_login_goes_to_the_home_of_the_role_and_never_off_site(client):
    assert _login(client).headers["location"] == "/registry/search"
    client.cookies.clear()
    token = _token(client)
    response = client.post("/login", data={"username": "kiemtra", "password": PASSWORD, "csrf_token": token,
                                           "next": "//evil.example/"}, follow_redirects=False)
    assert response.headers["location"] == "/audit"


def test_post_without_csrf_token_is_rejected(client, seed):
    assert client.post("/login", data={"username": "canbo", "password": PASSWORD}).status_code == 403
    _login(client)
    death = {"date_of_death": "2024-01-01", "reason": "test"}
    assert client.post(f"/registry/persons/{seed.an_id}/death", data=death).status_code == 403
    assert client.post(f"/registry/persons/{seed.an_id}/death", data={**death, "csrf_token": "forged"}
                       ).status_code == 403
    token = _token(client, f"/registry/persons/{seed.an_id}/death")
    accepted = client.post(f"/registry/persons/{seed.an_id}/death", data={**death, "csrf_token": token},
                           follow_redirects=False)
    assert accepted.status_code == 303


def test_htmx_requests_carry_the_token_in_a_header(client):
    _login(client)
    token = _token(client, "/units/convert")
    data = {"address": "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"}
    assert client.post("/units/convert", data=data, headers={"HX-Request": "true"}).status_code == 403
    answer = client.post("/units/convert", data=data, headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert answer.status_code == 200
    assert "Phường Sài Gòn" in answer.text
    assert "<html" not in answer.text


def test_api_with_the_page_session_needs_the_csrf_header(client):
    _login(client)
    assert client.get("/api/v1/auth/me").json()["username"] == "canbo"
    person = {"given_name": "Test", "birth_date": "1990", "sex": "M", "birth_place_status": "unknown",
              "hometown_status": "unknown"}
    assert client.post("/api/v1/persons", json=person).status_code == 403


def test_logout_ends_the_session(client):
    _login(client)
    token = _token(client, "/registry/search")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/registry/search", follow_redirects=False).status_code == 303


def test_roles(client):
    _login(client)
    assert client.get("/audit").status_code == 403
    client.cookies.clear()
    _login(client, "kiemtra")
    assert client.get("/audit").status_code == 200
    assert client.get("/registry/search").status_code == 403


def test_security_headers(client):
    headers = client.get("/login").headers
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    cookie = headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_templates_have_no_inline_scripts_or_styles():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert " style=" not in text and "<style" not in text, template
        assert not re.search(r"\bon[a-z]+=", text), template


def test_session_secret_is_private(client):
    mode = get_settings().session_secret_file.stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_language_from_query_then_cookie_then_browser(client):
    assert '<html lang="vi">' in client.get("/login").text
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    switched = client.get("/login?lang=en")
    assert "lang=en" in switched.headers["set-cookie"]
    assert '<html lang="en">' in client.get("/login").text
    assert '<html lang="vi">' in client.get("/login?lang=vi").text


def test_negotiate():
    assert negotiate(None, None, None) == "vi"
    assert negotiate(None, None, "fr-FR, en;q=0.5, vi;q=0.4") == "en"
    assert negotiate(None, None, "vi-VN;q=0, en;q=0.1") == "en"
    assert negotiate("en", "vi", "vi") == "en"
    assert negotiate("xx", "en", "vi") == "en"


def test_failed_logins_do_not_lock_the_owner_out(client):
    for _ in range(5):
        refused = _login(client, password="wrong password")
        assert refused.status_code == 401
        assert "sai tên đăng nhập hoặc mật khẩu" in refused.text
    assert _login(client).headers["location"] == "/registry/search"


def test_catalogs_cover_every_key_in_both_languages():
    vi, en = catalog("vi"), catalog("en")
    assert set(en) == {key for key in vi if not key.startswith("msg.")}
    used = set()
    for source in [*TEMPLATES.rglob("*.html"), *Path(str(files("dancu"))).glob("*/pages.py")]:
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.\-]+)["']""", source.read_text()))
    used |= {f"rule.{code}" for code in RULES} | {f"relationship.{r}" for r in HOUSEHOLD_RELATIONSHIPS}
    used |= {f"dimension.{d}" for d in set(RULES.values())}
    missing = sorted(key for key in used if not key.endswith((".", "-")) and key not in vi)
    assert missing == []
    for text in vi.values():
        json.dumps(text)


def test_correction_is_in_the_history_and_the_record_can_be_rewound(client, seed):
    _login(client)
    token = _token(client, f"/registry/persons/{seed.an_id}/correction")
    form = client.get(f"/registry/persons/{seed.an_id}/correction").text
    assert 'value="Nguyễn"' in form
    corrected = client.post(f"/registry/persons/{seed.an_id}/correction", data={
        "csrf_token": token, "family_name": "Nguyễn", "middle_name": "Văn", "given_name": "Ân",
        "reason": "Trích lục khai sinh số 12/2024",
    })
    assert corrected.status_code == 200
    assert "Đã lưu điều chỉnh thông tin" in corrected.text
    assert "<del>An</del>" in corrected.text and "<ins>Ân</ins>" in corrected.text
    assert "Trích lục khai sinh số 12/2024" in corrected.text
    yesterday = client.get(f"/registry/persons/{seed.an_id}?as_of=2021-01-01").text
    assert "<h1 id=\"person-heading\">Nguyễn Văn An</h1>" in yesterday
    assert "01/01/2021" in yesterday
    before_birth = client.get(f"/registry/persons/{seed.an_id}?as_of=1980-01-01")
    assert before_birth.status_code == 200
    assert "chưa được sinh ra vào ngày 01/01/1980" in before_birth.text


def test_invalid_action_keeps_the_input_and_explains_next_to_the_field(client, seed):
    _login(client)
    token = _token(client, f"/registry/persons/{seed.an_id}/temporary-residence")
    answer = client.post(f"/registry/persons/{seed.an_id}/temporary-residence", data={
        "csrf_token": token, "unit_id": str(seed.commune_id), "address_line": "45 Pasteur",
        "valid_from": "2024-05-01", "expires_on": "not a date",
    })
    assert answer.status_code == 422
    assert 'id="expires_on-error"' in answer.text
    assert 'value="45 Pasteur"' in answer.text
    assert f'<option value="{seed.commune_id}" selected>' in answer.text
    reversed_term = client.post(f"/registry/persons/{seed.an_id}/temporary-residence", data={
        "csrf_token": token, "unit_id": str(seed.commune_id), "address_line": "45 Pasteur",
        "valid_from": "2024-05-01", "expires_on": "2024-04-01",
    })
    assert re.search(r'id="expires_on-error" class="field-error">Ngày kết thúc phải sau ngày bắt đầu', reversed_term.text)


def test_reads_from_pages_are_logged_with_the_stated_purpose(client, seed):
    _login(client)
    token = _token(client, "/registry/search")
    client.post("/registry/search", data={"csrf_token": token, "purpose": "Xác minh hồ sơ tạm trú 15/2024",
                                          "text": "nguyen van an"})
    client.get(f"/registry/persons/{seed.an_id}")
    client.get(f"/registry/persons/{seed.an_id}?purpose=planted+by+another+site")
    client.cookies.clear()
    _login(client, "kiemtra")
    log = client.get(f"/audit?person={seed.an_id}").text
    assert log.count("Xác minh hồ sơ tạm trú 15/2024") >= 3
    assert "planted" not in log


def test_household_quality_and_conversion_pages(client, seed):
    _login(client)
    household = client.get(f"/registry/households/{seed.household_id}").text
    assert "Trần Thị Bình" in household and "Vợ/chồng" in household
    report = client.get("/registry/quality").text
    assert "Thiếu dân tộc" in report
    failing = client.get("/registry/quality/failing?rule=missing_ethnicity").text
    assert "Phạm Thị Dung" in failing
    options = client.get("/units/options?q=thu dau mot").text
    assert f'value="{seed.commune_id}"' in options
    assert client.get("/registry/persons/999999").status_code == 404


def test_api_docs_are_served_from_vendored_files(client):
    page = client.get("/api/docs").text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/api/v1/openapi.json").json()["info"]["title"] == "dancu"


def test_every_page_form_route_refuses_a_post_without_the_csrf_token(client):
    """Every unsafe route outside /api/ (the forms of every domain) is behind the CSRF check, except the
    OpenID Connect authorization endpoint, which relying parties' pages POST to (tests/identity/oidc)."""
    from fastapi.routing import APIRoute

    from dancu.web.app import CSRF_EXEMPT_PATHS

    # Each domain's router is included whole (FastAPI wraps it; its routes carry their full paths).
    routes = [inner for route in client.app.routes
              for inner in (route.original_router.routes if hasattr(route, "original_router") else [route])]
    unsafe = [(method, route.path) for route in routes if isinstance(route, APIRoute)
              and not route.path.startswith("/api/") and route.path not in CSRF_EXEMPT_PATHS
              for method in route.methods - {"GET", "HEAD", "OPTIONS"}]
    assert len(unsafe) > 20  # the registry, linkage, cards, e-ID, OIDC and signature forms
    for method, path in unsafe:
        url = re.sub(r"\{[^}]+\}", "1", path)
        answer = client.request(method, url, data={"anything": "x"}, follow_redirects=False)
        assert answer.status_code == 403, (method, path, answer.status_code)
        assert "CSRF" in answer.text, (method, path)
