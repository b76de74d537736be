"""One application from capture to activation in Chromium, then the public verify page, before and after a loss.

Screenshots go to $DANCU_SCREENSHOTS (default /tmp/dancu-cards-screens)."""

import json
import os
import sys
from pathlib import Path

import pytest
from serving import free_port, serving

from dancu.registry.models import Sex

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SHOTS = Path(os.environ.get("DANCU_SCREENSHOTS", "/tmp/dancu-cards-screens"))
PASSWORD = "correct horse battery"


@pytest.fixture
def server(approver, make_person):
    make_person(full_name="Trần Thị Bích Ngọc", birth="1996-08-02", sex=Sex.FEMALE, pin="079196000456")
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=30) as base:
        yield base


@pytest.fixture
def page(server, open_page):
    return open_page(server, accept_downloads=True, ignore_console=("status of 422",))


def _shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _click(page, name):
    page.get_by_role("button", name=name).click()
    page.wait_for_load_state()


def test_capture_to_activation_then_public_verification(page, tmp_path):
    page.goto("/login")
    page.fill("#username", "canbo.tp")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Thẻ căn cước").click()
    page.get_by_role("link", name="Tiếp nhận hồ sơ").first.click()
    page.fill("#pin", "079196000456")
    page.select_option("#kind", "first")
    _shot(page, "01-new-application-vi")
    _click(page, "Tiếp nhận hồ sơ")
    assert page.locator("#app-status").inner_text() == "Chờ thu nhận sinh trắc"
    assert "Trần Thị Bích Ngọc" in page.content()
    _click(page, "Thu nhận ảnh và vân tay")
    assert page.locator("#app-status").inner_text() == "Chờ duyệt"
    page.fill("#note", "Đủ điều kiện")
    _click(page, "Phê duyệt")
    application_url = page.url
    page.goto("/cards")
    _click(page, "Sản xuất lô thẻ đã duyệt")
    assert "đã sản xuất 1 thẻ" in page.content()
    _shot(page, "02-applications-list-vi")
    page.goto(application_url)
    _click(page, "Xác nhận đã trả thẻ về")
    _click(page, "Giao thẻ và kích hoạt")
    assert page.locator("#app-status").inner_text() == "Thẻ đã kích hoạt"
    assert page.locator("#card-status").inner_text() == "Đang có hiệu lực"
    assert page.locator("img[alt*='QR']").evaluate("img => img.naturalWidth") > 0
    _shot(page, "03-application-activated-vi")
    page.goto(application_url + "?lang=en")
    _shot(page, "04-application-activated-en")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download chip data").click()
    chip_file = tmp_path / "chip.json"
    download.value.save_as(chip_file)
    document_number = page.locator("#document-number").inner_text()

    verifier = page.context.browser.new_context(base_url=page.url.split("/cards")[0], locale="vi-VN").new_page()
    verifier.goto("/cards/verify")
    assert "Đăng xuất" not in verifier.content()  # public: no login
    verifier.set_input_files("#chip_file", str(chip_file))
    _click(verifier, "Kiểm tra")
    assert "Thẻ hợp lệ" in verifier.locator("#verify-verdict").inner_text()
    assert "Trần Thị Bích Ngọc" in verifier.content()
    _shot(verifier, "05-verify-valid-vi")

    page.fill("#loss-note", "Mất ví ở chợ Bến Thành")
    _click(page, "Report lost")
    assert document_number in page.content()
    verifier.goto("/cards/verify?lang=en")
    verifier.set_input_files("#chip_file", str(chip_file))
    _click(verifier, "Verify")
    verdict = verifier.locator("#verify-verdict").inner_text()
    assert "NOT valid" in verdict and "reported lost" in verdict
    _shot(verifier, "06-verify-lost-en")
    assert page.console_errors == []


def test_mobile_team_schedules_a_hospital_visit_and_exports_its_list(page, tmp_path):
    page.goto("/login?lang=en")
    page.fill("#username", "canbo.tp")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto("/cards/teams")
    page.fill("#name", "Tổ lưu động số 1 — Bệnh viện Chợ Rẫy")
    _click(page, "Create team")
    assert "Team created." in page.content()
    page.fill("#place", "Khoa Nội tiết, Bệnh viện Chợ Rẫy")
    page.select_option("#place_kind", "hospital_ward")
    _click(page, "Schedule")
    assert "Visit scheduled." in page.content()
    page.fill("#pin", "079196000456")
    page.fill("#note", "Giường 12, không đi lại được")
    _click(page, "Add to the list")
    assert "Trần Thị Bích Ngọc" in page.content()
    _shot(page, "07-visit-list-en")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export offline package").click()
    download.value.save_as(tmp_path / "package.json")
    package = json.loads((tmp_path / "package.json").read_text())
    assert package["format"] == "dancu-visit-package/1" and package["entries"][0]["name"] == "Trần Thị Bích Ngọc"
    page.goto("/cards/teams?lang=vi")
    assert "Khoa Nội tiết" in page.content() and "Đã xuất gói ngoại tuyến" in page.content()
    _shot(page, "08-teams-vi")
    assert page.console_errors == []
