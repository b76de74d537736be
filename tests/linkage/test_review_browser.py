"""The clerical review in chromium: a registrar opens the queue, reads a pair with its waterfall, decides "match".

Screenshots (Vietnamese and English) go to /tmp/dancu-linkage-screens for a person to look at.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import pytest
from serving import free_port, serving
from sqlalchemy import select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, create_user
from dancu.linkage import agency, review, services
from dancu.linkage.models import LinkageDecision
from dancu.linkage.schemas import LinkageOptions, PairQuery
from dancu.registry.bulk import import_file
from dancu.registry.models import Person
from dancu.units import services as units

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
SCREENS = Path("/tmp/dancu-linkage-screens")
# as in tests/web/web_helpers.py: Debian's chromium in a container
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture
def pair_to_review(session, write_city, tmp_path) -> int:
    """A register run over a city with duplicates; the id of a pair whose records differ somewhere."""
    path, _truth = write_city(400, seed=51, errors=0.3)
    import_file(path, progress=False)
    admin = Actor("linker", Role.ADMIN)
    summary = services.run_linkage(session, admin, path=None, purpose="duplicate check of the register",
                                   out_dir=tmp_path, options=LinkageOptions(threads=1, u_sample_pairs=2e5))
    create_user(session, "canbo", PASSWORD, Role.REGISTRAR, display_name="Cán bộ hộ tịch")
    session.commit()
    rows = review.list_pairs(session, admin, PairQuery(run_id=summary.run_id, page_size=200)).items
    chosen = next(row.id for row in rows if row.against
                  and review.get_pair(session, admin, row.id, "choosing a pair for the test").differing)
    session.commit()
    return chosen


@pytest.fixture
def land_dataset(pair_to_review, session, write_city, tmp_path) -> int:
    """A land-parcel file linked to the register of ``pair_to_review``: owners with one date of birth changed."""
    rows = registry_rows(session)[:12]
    land = tmp_path / "so_dia_chinh.csv"
    with land.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("so_thua", "chu_su_dung", "ngay_sinh", "ma_xa"))
        for number, (name, birth, unit) in enumerate(rows):
            writer.writerow((f"T{number:03d}", name, birth if number % 4 else f"{birth[:8]}{int(birth[8:]) % 28 + 1:02d}",
                             unit))
        writer.writerow(("T999", "Lò Văn Không Có", "1931-01-01", ""))
    create_user(session, "kiemtra", PASSWORD, Role.AUDITOR, display_name="Kiểm tra viên")
    info = agency.link_dataset(session, Actor("linker", Role.ADMIN), path=land, kind="land_parcel",
                               name="Sổ địa chính phường", mapping={"so_thua": "record_id", "chu_su_dung": "full_name",
                                                                   "ngay_sinh": "birth_date", "ma_xa": "permanent_unit"},
                               purpose="reconcile land owners", options=LinkageOptions(threads=1, u_sample_pairs=2e5))
    session.commit()
    return info.id


def registry_rows(session) -> list[tuple[str, str, str]]:
    """(full name, ISO birth date, commune code) of persons with a full birth date, from the test's own database."""
    found = session.execute(select(Person.full_name, Person.birth_year, Person.birth_month, Person.birth_day,
                                   Person.home_unit_id).where(Person.birth_day.is_not(None)).order_by(Person.id))
    return [(name, f"{y:04d}-{m:02d}-{d:02d}", units.get_unit(session, unit).code)
            for name, y, m, d, unit in found if unit]


@pytest.fixture
def page(pair_to_review, open_page):
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning"]
    with serving(command, port, timeout=30) as base:
        yield open_page(base)


def _shot(page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def test_a_registrar_reviews_a_pair_and_decides_match(page, pair_to_review, session):
    expect = playwright_api.expect
    page.goto("/login")
    page.fill("#username", "canbo")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")

    page.get_by_role("link", name="Đối sánh dữ liệu").click()
    expect(page.get_by_role("heading", name="Rà soát thủ công")).to_be_visible()
    expect(page.locator("table tbody tr").first).to_be_visible()
    page.check("input[name=undecided]")
    page.get_by_role("button", name="Lọc").click()
    expect(page).to_have_url(re.compile(r"undecided=1"))
    _shot(page, "queue-vi")

    page.goto(f"/linkage/pairs/{pair_to_review}")
    expect(page.get_by_role("heading", name="So sánh song song")).to_be_visible()
    expect(page.locator("table.side-by-side tr.differs").first).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("Vì sao có trọng số này"))
    expect(chart).to_be_visible()
    assert page.locator("svg rect.bar").count() >= 10  # prior, nine comparisons, total
    expect(page.locator("#current-decision")).to_have_text("Chưa quyết định")
    _shot(page, "pair-vi-before")

    page.fill("#note", "Cùng cha mẹ, cùng ngày sinh")
    page.get_by_role("button", name="Cùng một người").click()
    expect(page.get_by_role("status")).to_contain_text("Đã ghi nhận quyết định")
    expect(page.locator("#current-decision")).to_have_text("Cùng một người")
    expect(page.locator(".decision-history")).to_contain_text("canbo")
    expect(page.get_by_role("heading", name="Hợp nhất hai hồ sơ")).to_be_visible()
    _shot(page, "pair-vi-decided")

    page.goto(f"/linkage/pairs/{pair_to_review}?lang=en")
    expect(page.get_by_role("heading", name="Why this weight")).to_be_visible()
    expect(page.locator("#current-decision")).to_have_text("Match")
    _shot(page, "pair-en")
    page.goto("/linkage/review?lang=en")
    expect(page.get_by_role("heading", name="Clerical review")).to_be_visible()
    _shot(page, "queue-en")

    session.expire_all()
    stored = session.scalars(select(LinkageDecision).where(LinkageDecision.pair_id == pair_to_review)).all()
    assert [(d.decision, d.actor, d.note) for d in stored] == [("match", "canbo", "Cùng cha mẹ, cùng ngày sinh")]
    assert page.console_errors == []


def test_an_auditor_reads_a_reconciliation(page, land_dataset):
    expect = playwright_api.expect
    page.goto("/login")
    page.fill("#username", "kiemtra")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.goto("/linkage/datasets")
    page.get_by_role("link", name="Sổ địa chính phường").click()
    expect(page.get_by_role("heading", name=re.compile("Đối chiếu"))).to_be_visible()
    expect(page.locator("td .badge.status-unmatched").first).to_be_visible()
    page.get_by_role("link", name="Khớp nhưng sai lệch").click()
    expect(page.locator(".conflict").first).to_contain_text("Ngày sinh")
    _shot(page, "reconciliation-vi")
    page.goto(f"/linkage/datasets/{land_dataset}?lang=en")
    expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
    _shot(page, "reconciliation-en")
    assert page.console_errors == []
