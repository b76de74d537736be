"""A residence application end to end in Debian's chromium: the citizen applies from the e-ID portal, the
destination ward's registrar sees only the application, accepts it, and then (only then) opens the record."""

from __future__ import annotations

import sys

import pytest
from serving import free_port, serving

from dancu.identity.eid import services as eid
from dancu.registry.models import Person
from dancu.units import services as units
from registry.authz_world import PASSWORD

pytestmark = pytest.mark.browser


def test_a_citizen_applies_online_and_the_destination_ward_accepts(world, open_page):
    w = world
    person = w.person(w.ward_b)
    w.session.get(Person, person).pin = "079080004321"
    w.session.commit()
    eid.create_account(w.session, pin="079080004321", phone=None, password=PASSWORD, level=2)
    w.session.commit()
    ward = units.get_unit(w.session, w.ward)
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=30) as base:
        citizen = open_page(base)
        citizen.goto("/eid/login?next=/me/residence")
        citizen.fill("#pin", "079080004321")
        citizen.fill("#password", PASSWORD)
        citizen.click("#eid-login-submit")
        citizen.wait_for_url("**/me/residence")
        citizen.fill("#unit_id-q", ward.name)
        citizen.wait_for_selector(f"#unit_id option[value='{ward.id}']", state="attached")
        citizen.select_option("#unit_id", str(ward.id))
        citizen.fill("#address_line", "15 Đường Hoa Sữa")
        citizen.click("form[action='/me/residence'] button[type=submit]")
        citizen.wait_for_selector("#residence-applications")
        assert "15 Đường Hoa Sữa" in citizen.inner_text("#residence-applications")
        assert citizen.console_errors == []

        registrar = open_page(base)
        registrar.goto("/login")
        registrar.fill("#username", "registrar_ward")
        registrar.fill("#password", PASSWORD)
        registrar.click("button[type=submit]")
        registrar.goto("/registry/applications")
        name = w.full_name(person)
        registrar.click(f"text={name}")
        assert "15 Đường Hoa Sữa" in registrar.content()
        assert registrar.locator("a", has_text="Mở hồ sơ dân cư").count() == 0  # the record stays closed
        registrar.click("button[value=accept]")
        registrar.wait_for_selector(".alert-ok")
        registrar.click("a:has-text('Mở hồ sơ dân cư')")
        registrar.wait_for_url(f"**/registry/persons/{person}")
        assert "15 Đường Hoa Sữa" in registrar.content()
        assert registrar.console_errors == []
