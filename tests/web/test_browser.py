"""End-to-end tests of the registrar console in chromium, with screenshots in both languages."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect
from web_helpers import BINH_PIN, add_person, login, screenshot

from dancu.registry.models import Sex

pytestmark = pytest.mark.browser


def _search(page, text: str) -> None:
    page.fill("#text", text)
    page.click("#search-form button[type=submit]")


def test_search_finds_a_name_with_and_without_accents(page, seed):
    login(page)
    expect(page).to_have_url(re.compile(r"/registry/search$"))
    for query in ("Nguyễn Văn An", "nguyen van an"):
        _search(page, query)
        results = page.locator("#results")
        expect(results.get_by_role("link", name="Nguyễn Văn An")).to_be_visible()
        expect(results).not_to_contain_text("Lê Văn Cường")
    assert page.console_errors == []


def test_live_search_updates_as_you_type(page, seed):
    login(page)
    page.locator("#text").press_sequentially("tran thi binh", delay=20)
    expect(page.locator("#results").get_by_role("link", name="Trần Thị Bình")).to_be_visible()


def test_registered_birth_appears_in_the_childs_timeline(page, seed):
    login(page)
    page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Đăng ký khai sinh").click()
    page.fill("#family_name", "Nguyễn")
    page.fill("#middle_name", "Minh")
    page.fill("#given_name", "Khang")
    page.fill("#birth_date", (dt.date.today() - dt.timedelta(days=10)).isoformat())
    page.check("input[name=sex][value=M]")
    page.fill("#birth_registration_unit_id-q", seed.commune_name)
    page.select_option("#birth_registration_unit_id", str(seed.commune_id))
    page.fill("#mother_pin", BINH_PIN)
    page.click("main form button[type=submit]")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nguyễn Minh Khang")
    expect(page.get_by_role("status")).to_contain_text("Đã đăng ký khai sinh")
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("Đăng ký khai sinh")
    expect(page.locator("#identity-heading + dl, .facts")).to_contain_text("Trần Thị Bình")


def test_birth_form_keeps_input_and_shows_errors_next_to_fields(page, seed):
    login(page)
    page.goto("/registry/births/new")
    page.fill("#family_name", "Đỗ")
    page.fill("#given_name", "Hà")
    page.fill("#mother_pin", "079999999999")
    page.click("main form button[type=submit]")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#birth_date-error")).to_be_visible()
    expect(page.locator("#mother_pin-error")).to_contain_text("Không tìm thấy")
    expect(page.locator("#family_name")).to_have_value("Đỗ")
    expect(page.locator("#given_name")).to_have_value("Hà")


def test_language_switch(page, seed):
    login(page)
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Search citizens")
    page.goto("/registry/quality")
    expect(page.get_by_role("heading", level=1)).to_have_text("Population data quality report")
    page.get_by_role("link", name="VI", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "vi")


def test_failed_logins_never_say_the_account_is_locked(page, seed):
    refusal = "Đăng nhập không thành công"
    for _ in range(6):
        login(page, password="wrong password")
        expect(page.get_by_role("alert")).to_contain_text(refusal)
    # the sixth failure earned a pause: the right password is refused with the same words, no "locked"
    login(page)
    expect(page.get_by_role("alert")).to_contain_text(refusal)
    expect(page.get_by_role("alert")).not_to_contain_text("khóa")


def test_auditor_sees_the_log_and_verifies_it(page, seed):
    login(page, "kiemtra")
    expect(page).to_have_url(re.compile(r"/audit$"))
    expect(page.locator("table")).to_contain_text("seed test data")
    page.get_by_role("button", name="Kiểm tra nhật ký").click()
    expect(page.locator("#verification")).to_contain_text("toàn vẹn")
    page.goto("/registry/search")
    expect(page.get_by_role("heading", level=1)).to_have_text("Không có quyền truy cập")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_screenshots(page, seed, lang):
    page.goto(f"/login?lang={lang}")
    screenshot(page, f"login-{lang}")
    login(page)
    _search(page, "nguyen")
    expect(page.locator("#results table")).to_be_visible()
    screenshot(page, f"search-{lang}")
    page.goto(f"/registry/persons/{seed.an_id}")
    expect(page.locator(".timeline")).to_be_visible()
    screenshot(page, f"person-{lang}")
    page.goto("/registry/births/new")
    screenshot(page, f"birth-form-{lang}")
    page.click("main form button[type=submit]")
    screenshot(page, f"birth-form-errors-{lang}")
    page.goto("/registry/quality")
    screenshot(page, f"quality-{lang}")
    page.goto("/units/convert")
    page.fill("#address", "12 Nguyễn Huệ, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh")
    page.click("main form button[type=submit]")
    expect(page.locator("#conversion")).to_contain_text("Sài Gòn")
    screenshot(page, f"convert-{lang}")
    page.goto(f"/registry/households/{seed.household_id}")
    screenshot(page, f"household-{lang}")
    page.goto(f"/registry/persons/{seed.an_id}/temporary-residence")
    page.fill("#unit_id-q", "Bến Thành")
    page.locator("#unit_id option", has_text="Phường Bến Thành").wait_for(state="attached")
    page.select_option("#unit_id", label=page.locator("#unit_id option", has_text="Phường Bến Thành").inner_text())
    page.fill("#address_line", "45 Pasteur")
    page.fill("#valid_from", "2025-06-01")
    page.fill("#expires_on", "2025-05-01")
    page.click("main form button[type=submit]")
    expect(page.locator("#expires_on-error")).to_be_visible()
    screenshot(page, f"temporary-residence-errors-{lang}")
    page.goto(f"/registry/persons/{seed.an_id}/correction")
    screenshot(page, f"correction-{lang}")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/registry/persons/{seed.an_id}")
    screenshot(page, f"person-mobile-{lang}")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("button", name=re.compile("Đăng xuất|Log out")).click()
    login(page, "kiemtra")
    page.locator("#verification").locator("..").get_by_role("button").click()
    expect(page.locator("#verification .alert")).to_be_visible()
    screenshot(page, f"audit-{lang}")
    assert page.console_errors == []


def test_search_results_are_paged(page, seed, session):
    for day in range(1, 24):
        add_person(session, f"Hoàng Văn Nam{day}", f"1980-01-{day:02d}", Sex.MALE, seed.commune_id)
    session.commit()
    login(page)
    _search(page, "hoang van")
    expect(page.locator("#results")).to_contain_text("23 kết quả")
    expect(page.locator("#results")).to_contain_text("Trang 1/2")
    page.get_by_role("button", name="Sau ›").click()
    expect(page.locator("#results")).to_contain_text("Trang 2/2")
    expect(page.locator("#results tbody tr")).to_have_count(3)


def test_api_docs_render_under_the_content_security_policy(page, seed):
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("dancu")
    assert page.console_errors == []


def test_search_announces_the_outcome_to_screen_readers(page, seed):
    login(page)
    _search(page, "nguyen van an")
    expect(page.locator("#search-status")).to_have_text("1 kết quả")
    page.fill("#text", "")
    page.fill("#birth", "31/02/1990")
    page.click("#search-form button[type=submit]")
    expect(page.locator("#search-status")).to_have_text("Vui lòng kiểm tra lại thông tin:")


def test_keyboard_users_can_skip_to_the_content(page, seed):
    login(page)
    page.goto("/registry/quality")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Chuyển đến nội dung chính")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
