"""The verification page and /me/signatures in chromium, with screenshots in Vietnamese and English."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from identity.eid.eid_helpers import login_citizen
from playwright.sync_api import expect
from serving import free_port, serving
from signing_helpers import LEVEL2_PIN, PASSWORD
from signing_pdfs import one_page_pdf

from dancu import db
from dancu.identity.signing import services as signing

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp/dancu-signing-screenshots")


@pytest.fixture
def server(citizens):
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=30):
        yield f"http://localhost:{port}"


@pytest.fixture
def page(server, open_page):
    return open_page(server, accept_downloads=True, ignore_console=("status of 422",))


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _upload(page, path: Path) -> None:
    page.set_input_files("#document", str(path))
    page.click("#verify-submit")


def test_upload_page_gives_a_verdict_in_both_languages(page, tmp_path):
    with db.new_session() as session:
        signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả giải quyết thủ tục hành chính")
        session.commit()
    good = tmp_path / "ket-qua.pdf"
    good.write_bytes(signed)
    at = signed.index(b"Ket qua")
    altered = tmp_path / "ket-qua-sua.pdf"
    altered.write_bytes(signed[:at] + b"L" + signed[at + 1:])

    page.goto("/signatures/verify")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kiểm tra chữ ký số trên tài liệu PDF")
    _shot(page, "verify-form-vi")
    _upload(page, good)
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "valid")
    expect(page.locator("#verdict")).to_contain_text("Chữ ký hợp lệ")
    expect(page.locator("#verify-result")).to_contain_text("dancu State Seal")
    _shot(page, "verify-valid-vi")
    _upload(page, altered)
    expect(page.locator("#verdict")).to_have_attribute("data-verdict", "altered")
    _shot(page, "verify-altered-vi")

    page.goto("/signatures/verify?lang=en")
    _upload(page, good)
    expect(page.locator("#verdict")).to_contain_text("Signature valid")
    _shot(page, "verify-valid-en")
    _upload(page, altered)
    expect(page.locator("#verdict")).to_contain_text("altered after signing")
    _shot(page, "verify-altered-en")
    text = tmp_path / "note.txt"
    text.write_text("not a pdf")
    _upload(page, text)
    expect(page.locator("#verdict")).to_contain_text("not a PDF document")
    assert page.console_errors == []


def test_citizen_obtains_a_certificate_and_signs(page, server, tmp_path):
    login_citizen(page, server, LEVEL2_PIN, PASSWORD, next="/me/signatures")
    expect(page.locator("#policy")).to_contain_text("Miễn phí")
    _shot(page, "me-none-vi")
    page.click("#obtain-submit")
    expect(page.locator("#signing-flash")).to_be_visible()
    expect(page.locator("#certificate")).to_contain_text("Nguyễn Văn An")
    _shot(page, "me-certificate-vi")

    document = tmp_path / "don.pdf"
    document.write_bytes(one_page_pdf("Don de nghi"))
    page.set_input_files("#document", str(document))
    page.fill("#sign-reason", "Nộp hồ sơ đăng ký thường trú")
    with page.expect_download() as download_info:
        page.click("#sign-submit")
    signed_path = tmp_path / "signed.pdf"
    download_info.value.save_as(signed_path)
    with db.new_session() as session:
        result = signing.verify_pdf(session, signed_path.read_bytes())
    assert result.valid and "Nguyễn Văn An" in result.signatures[0].signer

    page.goto("/me/signatures?lang=en")
    expect(page.locator("table")).to_contain_text("Nộp hồ sơ đăng ký thường trú")
    expect(page.locator("#policy")).to_contain_text("free of charge")
    _shot(page, "me-certificate-en")
    page.select_option("#reason", "key_compromise")
    page.click("#revoke-submit")
    expect(page.locator("#signing-flash")).to_contain_text("revoked")
    expect(page.locator("#obtain-submit")).to_be_visible()
    assert page.console_errors == []
