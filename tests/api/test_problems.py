"""Every API error is RFC 9457 problem details with a stable code, and the OpenAPI document says so."""

import importlib
import pkgutil
import re
from pathlib import Path

import dancu
from dancu.web import errors
from dancu.web.problems import CODE_PATTERN, GENERIC_CODES, PROBLEM_JSON, VALIDATION_FAILED

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "code"}


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert PROBLEM_MEMBERS <= body.keys() and body["status"] == status and body["code"] == code
    assert body["instance"] == response.request.url.path
    return body


def test_a_refused_business_rule_is_a_problem_with_its_domain_code(client):
    body = _problem(client.get("/api/v1/units", params={"scheme": "nope"}), 422, "units.unit_not_found")
    assert body["type"] == "urn:dancu:problem:units.unit_not_found"
    assert "unknown unit scheme" in body["detail"]
    assert body["title"] == "Dữ liệu không được chấp nhận"  # Vietnamese unless the client asks otherwise
    english = client.get("/api/v1/units", params={"scheme": "nope"}, headers={"Accept-Language": "en"})
    assert english.json()["title"] == "Unprocessable Content"


def test_a_validation_failure_lists_its_field_errors_without_echoing_the_input(client):
    body = _problem(client.get("/api/v1/units", params={"limit": "0"}), 422, VALIDATION_FAILED)
    assert body["type"] == "about:blank"
    assert [error["loc"] for error in body["errors"]] == [["query", "limit"]]
    assert set(body["errors"][0]) == {"loc", "msg", "type"}
    assert "query.limit" in body["detail"]


def test_authentication_authorization_and_lookup_failures_are_problems(client, bearer):
    missing = _problem(client.get("/api/v1/auth/me"), 401, "auth.login_required")
    assert missing.get("errors") is None
    assert client.get("/api/v1/auth/me").headers["www-authenticate"] == "Bearer"
    _problem(client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nonsense"}), 401, "auth.invalid_token")
    _problem(client.post("/api/v1/auth/token", json={"username": "admin", "password": "wrong"}), 401, "auth.failed")
    _problem(client.get("/api/v1/audit/verify", headers=bearer("registrar")), 403, "auth.permission_denied")
    _problem(client.get("/api/v1/persons/999999", params={"purpose": "checking a record"}, headers=bearer("admin")),
             404, "registry.person_not_found")
    _problem(client.get("/api/v1/units/999999"), 404, "units.unit_not_found")
    unknown = _problem(client.get("/api/v1/no-such-thing"), 404, GENERIC_CODES[404])
    assert unknown["type"] == "about:blank"
    _problem(client.delete("/api/v1/units"), 405, GENERIC_CODES[405])
    _problem(client.get("/api/v1/units", params={"q": "a\x00b"}), 422, "nul_character")


def test_pages_keep_their_own_error_pages(client):
    page = client.get("/registry/no-such-page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


def test_every_api_operation_documents_its_errors_as_problem_details(client):
    document = client.get("/api/v1/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    operations = [(path, method, operation) for path, item in document["paths"].items()
                  for method, operation in item.items() if path.startswith("/api/")]
    assert len(operations) >= 50
    for path, method, operation in operations:
        errors_documented = {status: response for status, response in operation["responses"].items()
                             if status.startswith("4")}
        assert "422" in errors_documented, (method, path)
        for status, response in errors_documented.items():
            assert response["content"] == problem_content, (method, path, status)


def test_the_ca_certificate_and_crl_are_documented_and_served_with_their_media_types(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    for path, media_type, start in (("/pki/ca.pem", "application/x-pem-file", b"-----BEGIN CERTIFICATE-----"),
                                    ("/pki/crl.der", "application/pkix-crl", b"\x30")):
        assert list(paths[path]["get"]["responses"]["200"]["content"]) == [media_type]
        served = client.get(path)
        assert served.status_code == 200 and served.headers["content-type"] == media_type
        assert served.content.startswith(start)


def _domain_errors() -> list[type[Exception]]:
    for module in pkgutil.walk_packages(dancu.__path__, "dancu."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found, todo = [], [Exception]
    while todo:
        for kind in todo.pop().__subclasses__():
            todo.append(kind)
            if kind.__module__.startswith("dancu.") and not kind.__name__.startswith("_"):
                found.append(kind)
    return [kind for kind in set(found) if errors.status_for(kind.__new__(kind)) is not None]


def test_every_domain_error_has_its_own_stable_code_listed_in_the_docs():
    kinds = _domain_errors()
    assert len(kinds) >= 20
    codes = {}
    for kind in kinds:
        code = kind.__dict__.get("code")
        assert isinstance(code, str) and re.match(CODE_PATTERN, code), kind
        assert code not in codes, (kind, codes.get(code))
        codes[code] = kind
    # Codes that routers and dependencies name themselves (ApiError(status, "<code>", ...)).
    sources = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "src" / "dancu").rglob("*.py"))
    codes.update(dict.fromkeys(re.findall(r'ApiError\(\d{3}, "([a-z_.]+)"', sources)))
    codes.update(dict.fromkeys(re.findall(r'problem_response\([^,]+, \d{3}, "([a-z_.]+)"', sources)))
    codes.update(dict.fromkeys(re.findall(r'^[A-Z_]+ = "([a-z]+\.[a-z_]+)"$', sources, re.M)))
    codes.update(dict.fromkeys([*GENERIC_CODES.values(), VALIDATION_FAILED]))
    documented = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert not [code for code in codes if f"`{code}`" not in documented]
