"""A small register spread over communes inside and outside two registrars' areas, with every role signed in.

``registrar_ward`` works in one ward of Hồ Chí Minh City (``ward``),
``registrar_city`` in the whole city (so ``ward_b``, another ward of it, is in
their area but not the ward registrar's), and ``far`` / ``far_home`` are
communes of Hà Nội, outside both. Persons, households and applications are
made with the system actor, so that what a test then asks of a role is the
only thing under test.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dancu.accounts import services as accounts
from dancu.accounts.models import Role
from dancu.accounts.services import SYSTEM, Actor, create_user
from dancu.audit.models import AccessLogEntry
from dancu.identity.cards import services as cards
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.identity.cards.schemas import ApplicationInput as CardApplicationInput
from dancu.identity.eid import services as eid
from dancu.registry import services
from dancu.registry.models import HouseholdMember, Person, RegistryEvent, Sex
from dancu.registry.schemas import PermanentResidenceInput, PersonRegistration, TemporaryResidenceInput
from dancu.units import services as units
from dancu.web.app import create_app

PASSWORD = "correct horse battery"
PURPOSE = {"purpose": "kiểm tra phân quyền"}
CITIZEN_PIN = "001190000001"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
ROLES = ("admin", "registrar_city", "registrar_ward", "auditor", "citizen", "anonymous")
STAFF = {"admin": Role.ADMIN, "registrar_city": Role.REGISTRAR, "registrar_ward": Role.REGISTRAR,
         "auditor": Role.AUDITOR}


@dataclass
class Signed:
    """One role's browser (cookies, CSRF token) and API headers."""

    client: TestClient
    csrf: str
    api_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    session: Session
    ward: int
    ward_b: int
    far: int
    far_home: int
    province: int
    signed: dict[str, Signed] = field(default_factory=dict)
    card: str | None = None
    card_holder: int | None = None
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    # ---- who sees what ----

    def scope_of(self, role: str) -> int | None:
        return {"registrar_city": self.province, "registrar_ward": self.ward}.get(role)

    def sees(self, role: str, unit_id: int) -> bool:
        scope = self.scope_of(role)
        return scope is None or unit_id in units.units_within(self.session, scope)

    # ---- building the register ----

    def name(self) -> str:
        """A fresh, unique name ("Đặng Văn Aaab" ...), so that a page showing it is unambiguous."""
        n = next(self._names)
        letters = "".join(chr(ord("a") + (n // 26 ** k) % 26) for k in range(3))
        return f"Đặng Văn Mx{letters}"

    def person(self, home: int | None, *, stay: int | None = None, household_id: int | None = None,
               relationship: str = "head", name: str | None = None) -> int:
        family, middle, given = (name or self.name()).split(" ")
        person_id = services.register_person(self.session, SYSTEM, PersonRegistration(
            family_name=family, middle_name=middle, given_name=given, birth_date="1980-04-02", sex=Sex.MALE,
            ethnicity_code=1, birth_registration_unit_id=self.ward, hometown_unit_id=self.ward,
        ))
        if home is not None:
            services.register_permanent_residence(self.session, SYSTEM, person_id, PermanentResidenceInput(
                unit_id=home, address_line="1 Đường Số 1", household_id=household_id,
                relationship_to_head=relationship, effective_on=dt.date(2020, 1, 1)))
        if stay is not None:
            services.register_temporary_residence(self.session, SYSTEM, person_id, TemporaryResidenceInput(
                unit_id=stay, address_line="2 Đường Số 2", valid_from=dt.date.today() - dt.timedelta(days=30),
                expires_on=dt.date.today() + dt.timedelta(days=300)))
        self.session.commit()
        return person_id

    def household(self, unit: int) -> int:
        """A household of ``unit`` (its head is a new person)."""
        return self.household_of(self.person(unit))

    # Read straight from the tables, so that setting up leaves no access-log entry (and no open write) behind.

    def household_of(self, person_id: int) -> int:
        return self.session.scalar(select(HouseholdMember.household_id).where(
            HouseholdMember.person_id == person_id, HouseholdMember.valid_to.is_(None)))

    def full_name(self, person_id: int) -> str:
        return self.session.get(Person, person_id).full_name

    def application(self, unit: int, *, home: int | None = None, accept: bool = False) -> int:
        """A pending (or accepted) online application of a new person living in ``home`` to move to ``unit``."""
        # Imported here, as in writes(): the scope tests also run against code older than applications.
        from dancu.registry import applications
        from dancu.registry.schemas import ApplicationDecision, ApplicationInput

        person_id = self.person(home if home is not None else self.far_home)
        application_id = applications.file_online(self.session, account_id=1, level=2, person_id=person_id,
                                                  data=ApplicationInput(kind="permanent", unit_id=unit,
                                                                        address_line="9 Đường Mới"))
        if accept:
            applications.decide(self.session, SYSTEM, application_id, ApplicationDecision(accept=True))
        self.session.commit()
        return application_id

    # ---- what changed ----

    def writes(self) -> int:
        """Registry events and applications: a refused action adds neither."""
        from dancu.registry.models import ResidenceApplication

        self.session.expire_all()
        return sum(self.session.scalar(select(func.count()).select_from(model))
                   for model in (RegistryEvent, ResidenceApplication))

    def reads_of(self, person_id: int) -> int:
        self.session.expire_all()
        return self.session.scalar(select(func.count()).select_from(AccessLogEntry).where(
            AccessLogEntry.subject_id == str(person_id)))


def signed_world(session: Session, monkeypatch) -> World:
    """The world with every role signed in: the ``world`` fixture of tests/registry/conftest.py."""
    cheap_passwords(monkeypatch)
    w = build_world(session)
    sign_in(w, create_app())
    return w


def api(w: World, role: str, method: str, path: str, **kwargs):
    """A call to the API as ``role`` (its bearer token)."""
    return w.signed[role].client.request(method, path, headers=w.signed[role].api_headers, **kwargs)


def home_of(w: World, person_id: int) -> int | None:
    w.session.expire_all()
    return w.session.get(Person, person_id).home_unit_id


def cheap_passwords(monkeypatch) -> None:
    """Argon2 at its lowest cost for these tests' staff and citizen passwords: each test signs in six roles
    on a fresh database, and the default cost (chosen to slow down guessing) would dominate its run time."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(eid, "_hasher", cheap)


def build_world(session: Session) -> World:
    hcmc, hanoi = units.list_communes(session, "79"), units.list_communes(session, "01")
    province = next(u for u in units.list_provinces(session) if u.code == "79")
    world = World(session=session, ward=hcmc[0].id, ward_b=hcmc[1].id, far=hanoi[0].id, far_home=hanoi[1].id,
                  province=province.id)
    for role, kind in STAFF.items():
        create_user(session, role, PASSWORD, kind, scope_unit_id=world.scope_of(role))
    citizen = world.person(world.ward, name="Công Dân Một")
    session.get(Person, citizen).pin = CITIZEN_PIN
    session.commit()
    eid.create_account(session, pin=CITIZEN_PIN, phone=None, password=PASSWORD)
    session.commit()
    return world


def sign_in(world: World, app) -> None:
    """A browser per role, signed in the way that role signs in (staff login, e-ID login, or not at all)."""
    for role in ROLES:
        client = TestClient(app, follow_redirects=False)
        csrf = CSRF_INPUT.search(client.get("/login").text)[1]
        headers: dict[str, str] = {}
        if role in STAFF:
            client.post("/login", data={"username": role, "password": PASSWORD, "csrf_token": csrf})
            token = client.post("/api/v1/auth/token", json={"username": role, "password": PASSWORD})
            assert token.status_code == 200, token.text
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        elif role == "citizen":
            csrf = CSRF_INPUT.search(client.get("/eid/login").text)[1]
            signed_in = client.post("/eid/login", data={"pin": CITIZEN_PIN, "password": PASSWORD, "next": "/me",
                                                        "csrf_token": csrf})
            assert signed_in.status_code == 303, signed_in.text
        page = client.get("/me" if role == "citizen" else "/login")
        match = CSRF_INPUT.search(page.text) or re.search(r'"X-CSRF-Token": "([^"]+)"', page.text)
        world.signed[role] = Signed(client=client, csrf=match[1] if match else csrf, api_headers=headers)


def actor(world: World, role: str) -> Actor:
    return Actor(role, STAFF[role], world.scope_of(role))


def card_data(w: World) -> str:
    """The chip data of a real card (issued once per world): the counter reads it to take an application."""
    if w.card is None:
        # Lives in the other ward of the city, whose registrar issues the card.
        holder = w.person(w.ward_b)
        w.session.get(Person, holder).pin = "079080000777"
        w.session.commit()
        issuer = Actor("registrar_city", Role.REGISTRAR, w.province)
        application = cards.create_application(w.session, SYSTEM, CardApplicationInput(
            person_id=holder, kind="first", unit_id=w.ward))
        cards.capture_biometrics(w.session, SYSTEM, application, SimulatedCaptureDevice())
        cards.decide(w.session, issuer, application, approve=True)
        cards.produce_batch(w.session, issuer, [application])
        cards.deliver(w.session, issuer, application)
        cards.activate(w.session, issuer, application)
        w.session.commit()
        w.card = cards.chip_data(w.session, issuer, application, "test setup")[0]
        w.card_holder = holder
        w.session.commit()
    return w.card
