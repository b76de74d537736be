"""The authorization matrix, generated from the app's routes.

Every route of the registry API and console (walked from the FastAPI app, so
a new route appears here by itself) is looked up in ``registry.policy.ROUTES``
and its rules in ``registry.policy.RULES``: a route without a rule, or without
a request below to exercise it, fails the test. Each route is then called by
every role (administrator, city registrar, ward registrar, auditor, a citizen
signed in with e-ID, anonymous) with each thing the rule names (the person,
the target commune, each relative, the household, the application's commune,
the origin commune) placed in the ward registrar's ward, in another ward of
the city, and in another province. What the answer must be is computed from
the rule and the role's area, never written down per case:

- no staff login: 401 (API) or the login redirect (console);
- a role the rule does not allow: 403;
- a thing the rule *refuses* outside the area: "not found" for persons,
  households and applications (404 on the API; the console's form says the
  same as for a missing one), an open refusal for a commune;
- a thing the rule *filters*: the answer succeeds and shows it only inside the area;
- otherwise success. A refused write leaves no registry event and no application behind.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import update

from dancu.accounts.services import SYSTEM, Role
from dancu.registry import pages, policy, services
from dancu.registry.models import Person, ResidenceApplication
from dancu.registry.policy import Check
from dancu.registry.schemas import CorrectionInput
from dancu.units import services as units
from dancu.web.app import create_app
from registry.authz_world import ROLES, STAFF, World, card_data

C = Check
PURPOSE = "kiểm tra phân quyền"
READ_ONLY = {"search_persons", "read_person", "read_household", "quality_report", "persons_failing",
             "list_applications", "read_application", "list_departures"}


@dataclass
class Req:
    method: str
    path: str
    json: dict | None = None
    form: dict | None = None
    params: dict | None = None
    # For each filtered thing: is it in the answer?
    shown: dict[Check, Callable[[object], bool]] = field(default_factory=dict)


@dataclass
class Case:
    build: Callable[[World, Callable[[Check], int]], Req]
    varies: frozenset[Check] = frozenset()
    # Things that cannot be placed apart: a household joined lies in the target commune, a person's household
    # in their home commune.
    couples: dict[Check, frozenset[Check]] = field(default_factory=dict)
    # Things the rule names that this route cannot express, and why.
    not_expressible: dict[Check, str] = field(default_factory=dict)
    # How the console says "not found" or "commune refused" where it is not the default.
    statuses: dict[str, set[int]] = field(default_factory=dict)


def _ids(response) -> list[int]:
    body = response.json()
    return [item["id"] for item in (body["items"] if isinstance(body, dict) else body)]


def _has(text: str) -> Callable[[object], bool]:
    return lambda response: text in response.text


# ---- the requests ---------------------------------------------------------------------------

def _search_api(w, at):
    p = w.person(at(C.PERSON))
    return Req("GET", "/api/v1/persons", params={"text": w.full_name(p), "purpose": PURPOSE},
               shown={C.PERSON: lambda r: p in _ids(r)})


def _search_page(w, at):
    p = w.person(at(C.PERSON))
    # The form echoes the name typed: a result is a link to the record.
    return Req("POST", "/registry/search", form={"purpose": PURPOSE, "text": w.full_name(p)},
               shown={C.PERSON: _has(f'href="/registry/persons/{p}"')})


def _record(w, at):
    """A person with a spouse and a household member, placed apart (the person visible through a stay)."""
    home = at(C.HOUSEHOLD)
    p = w.person(home, stay=at(C.PERSON) if at(C.PERSON) != home else None)
    member = w.person(home, household_id=w.household_of(p), relationship="child")
    spouse = w.person(at(C.RELATIVES))
    services.correct_person(w.session, SYSTEM, p, CorrectionInput(spouse_id=spouse, reason="kết hôn"))
    w.session.commit()
    return p, w.full_name(spouse), w.full_name(member)


def _read_api(w, at):
    p, spouse, member = _record(w, at)
    return Req("GET", f"/api/v1/persons/{p}", params={"purpose": PURPOSE},
               shown={C.RELATIVES: lambda r: spouse in r.text, C.HOUSEHOLD: lambda r: member in r.text})


def _read_page(w, at):
    p, spouse, member = _record(w, at)
    return Req("GET", f"/registry/persons/{p}", shown={C.RELATIVES: _has(spouse), C.HOUSEHOLD: _has(member)})


_RECORD = dict(varies=frozenset({C.PERSON, C.RELATIVES, C.HOUSEHOLD}), couples={C.PERSON: frozenset({C.HOUSEHOLD})})


def _register_api(w, at):
    return Req("POST", "/api/v1/persons", json={
        "family_name": "Vũ", "given_name": "Mới", "birth_date": "1985", "sex": "F",
        "birth_registration_unit_id": w.ward, "hometown_unit_id": w.ward,
        "residence": {"unit_id": at(C.TARGET_UNIT), "address_line": "5 Hẻm 5",
                      "household_id": w.household(at(C.HOUSEHOLD)), "relationship_to_head": "other_relative"}})


_TOGETHER = {C.TARGET_UNIT: frozenset({C.HOUSEHOLD}), C.HOUSEHOLD: frozenset({C.TARGET_UNIT})}


def _correct_api(w, at):
    p, spouse = w.person(at(C.PERSON)), w.person(at(C.RELATIVES))
    return Req("PATCH", f"/api/v1/persons/{p}", json={"spouse_id": spouse, "reason": "kết hôn"})


_PINS = itertools.count(1)


def _mother(w, unit) -> tuple[int, str]:
    mother = w.person(unit)
    pin = f"0793800{next(_PINS):05d}"
    w.session.get(Person, mother).pin = pin
    w.session.commit()
    return mother, pin


def _birth_api(w, at):
    mother, _ = _mother(w, at(C.RELATIVES))
    return Req("POST", "/api/v1/births", json={
        "family_name": "Đặng", "given_name": "Bé", "birth_date": "2024-02-03", "sex": "F",
        "birth_registration_unit_id": at(C.TARGET_UNIT), "mother_id": mother,
        "household_id": w.household(at(C.HOUSEHOLD))})


def _birth_page(w, at):
    _, pin = _mother(w, at(C.RELATIVES))
    return Req("POST", "/registry/births/new", form={
        "family_name": "Đặng", "given_name": "Bé", "birth_date": "2024-02-03", "sex": "F", "ethnicity_code": "1",
        "birth_registration_unit_id": str(at(C.TARGET_UNIT)), "mother_pin": pin,
        "household_id": str(w.household(at(C.HOUSEHOLD)))})


def _permanent_body(w, at) -> dict:
    return {"unit_id": at(C.TARGET_UNIT), "address_line": "7 Ngõ 7", "household_id": w.household(at(C.HOUSEHOLD)),
            "relationship_to_head": "other_relative", "effective_on": dt.date.today().isoformat()}


def _form(body: dict) -> dict:
    return {name: str(value) for name, value in body.items() if value is not None}


def _register_residence(w, at, page=False):
    # No permanent residence yet: the person is in the area through a stay.
    p = w.person(None, stay=at(C.PERSON))
    path = f"/registry/persons/{p}/permanent-residence" if page else f"/api/v1/persons/{p}/permanent-residence"
    body = _permanent_body(w, at)
    return Req("POST", path, form=_form(body)) if page else Req("POST", path, json=body)


def _move(w, at, page=False):
    p = w.person(at(C.PERSON))
    body = _permanent_body(w, at)
    if page:
        return Req("POST", f"/registry/persons/{p}/move", form=_form(body))
    return Req("POST", f"/api/v1/persons/{p}/moves", json=body)


def _temporary(w, at, page=False):
    # Lives in another province; in the area through a current stay, which this renews or moves.
    p = w.person(w.far_home, stay=at(C.PERSON))
    today = dt.date.today()
    body = {"unit_id": at(C.TARGET_UNIT), "address_line": "3 Kiệt 3", "valid_from": today.isoformat(),
            "expires_on": (today + dt.timedelta(days=180)).isoformat()}
    path = f"/registry/persons/{p}/temporary-residence" if page else f"/api/v1/persons/{p}/temporary-residence"
    return Req("POST", path, form=_form(body)) if page else Req("POST", path, json=body)


def _death(w, at, page=False):
    p = w.person(at(C.PERSON))
    body = {"date_of_death": "2025-01-02", "reason": "giấy báo tử"}
    path = f"/registry/persons/{p}/death" if page else f"/api/v1/persons/{p}/death"
    return Req("POST", path, form=body) if page else Req("POST", path, json=body)


def _correction_page(w, at):
    p = w.person(at(C.PERSON))
    return Req("POST", f"/registry/persons/{p}/correction", form={"given_name": "Khác", "reason": "sai tên"})


def _household_read(w, at, page=False):
    h = w.household(at(C.HOUSEHOLD))
    return (Req("GET", f"/registry/households/{h}") if page
            else Req("GET", f"/api/v1/households/{h}", params={"purpose": PURPOSE}))


def _quality_report(w, at, page=False):
    unit = at(C.PERSON)
    w.person(unit)
    if page:
        return Req("GET", "/registry/quality", shown={C.PERSON: _has(units.get_unit(w.session, unit).name)})
    return Req("GET", "/api/v1/quality/report",
               shown={C.PERSON: lambda r: unit in [row["unit_id"] for row in r.json()["rows"]]})


def _failing(w, at, page=False):
    # Registered without a PIN: fails 'missing_pin'.
    p = w.person(at(C.PERSON))
    params = {"rule": "missing_pin", "unit_id": at(C.PERSON)}
    if page:
        return Req("GET", "/registry/quality/failing", params=params, shown={C.PERSON: _has(w.full_name(p))})
    return Req("GET", "/api/v1/quality/failing", params={**params, "purpose": PURPOSE, "page_size": 100},
               shown={C.PERSON: lambda r: p in _ids(r)})


def _file_in_person(w, at, page=False):
    body = {"card_data": card_data(w), "kind": "permanent", "unit_id": at(C.TARGET_UNIT), "address_line": "8 Phố 8"}
    # Every case files for the one card holder, who may have one pending application: the earlier case's is decided.
    w.session.execute(update(ResidenceApplication).where(
        ResidenceApplication.person_id == w.card_holder, ResidenceApplication.status == "pending",
    ).values(status="refused", decision_reason="decided before the next case"))
    w.session.commit()
    return (Req("POST", "/registry/applications/new", form=_form(body)) if page
            else Req("POST", "/api/v1/residence-applications", json=body))


def _applications_list_api(w, at):
    a = w.application(at(C.APPLICATION_UNIT))
    return Req("GET", "/api/v1/residence-applications", params={"purpose": PURPOSE},
               shown={C.APPLICATION_UNIT: lambda r: a in _ids(r)})


def _departure(w, at) -> int:
    return w.application(w.far_home, home=at(C.ORIGIN_UNIT), accept=True)


def _departures_api(w, at):
    a = _departure(w, at)
    return Req("GET", "/api/v1/residence-departures", params={"purpose": PURPOSE},
               shown={C.ORIGIN_UNIT: lambda r: a in _ids(r)})


def _applicant(w, application_id) -> str:
    from dancu.registry.models import ResidenceApplication
    return w.session.get(ResidenceApplication, application_id).applicant_name


def _applications_page(w, at):
    pending, departed = w.application(at(C.APPLICATION_UNIT)), _departure(w, at)
    return Req("GET", "/registry/applications", shown={C.APPLICATION_UNIT: _has(_applicant(w, pending)),
                                                       C.ORIGIN_UNIT: _has(_applicant(w, departed))})


def _application_read(w, at, page=False):
    a = w.application(at(C.APPLICATION_UNIT))
    return (Req("GET", f"/registry/applications/{a}") if page
            else Req("GET", f"/api/v1/residence-applications/{a}", params={"purpose": PURPOSE}))


def _decide(w, at, page=False):
    a = w.application(at(C.APPLICATION_UNIT))
    return (Req("POST", f"/registry/applications/{a}/decision", form={"decision": "accept"}) if page
            else Req("POST", f"/api/v1/residence-applications/{a}/decision", json={"accept": True}))


def _form_of(slug):
    def build(w, at):
        return Req("GET", f"/registry/persons/{w.person(at(C.PERSON))}/{slug}")
    return build


def _blank(path):
    return lambda w, at: Req("GET", path)


_NO_RELATIVES = {C.RELATIVES: "the form shows the person only", C.HOUSEHOLD: "the form shows the person only"}
_PAGE_FORM = {"hidden": {404}, "unit": {422}}
_P, _T, _H, _R = C.PERSON, C.TARGET_UNIT, C.HOUSEHOLD, C.RELATIVES
_RESIDENCE = dict(varies=frozenset({_P, _T, _H}), couples=_TOGETHER)

CASES: dict[tuple[str, str], Case] = {
    ("GET", "/api/v1/persons"): Case(_search_api, frozenset({_P})),
    ("GET", "/api/v1/persons/{person_id}"): Case(_read_api, **_RECORD),
    ("POST", "/api/v1/persons"): Case(_register_api, frozenset({_T, _H}), couples=_TOGETHER),
    ("PATCH", "/api/v1/persons/{person_id}"): Case(_correct_api, frozenset({_P, _R})),
    ("POST", "/api/v1/births"): Case(_birth_api, frozenset({_T, _R, _H})),
    ("POST", "/api/v1/persons/{person_id}/permanent-residence"): Case(_register_residence, **_RESIDENCE),
    ("POST", "/api/v1/persons/{person_id}/moves"): Case(_move, **_RESIDENCE),
    ("POST", "/api/v1/persons/{person_id}/temporary-residence"): Case(_temporary, frozenset({_P, _T})),
    ("POST", "/api/v1/persons/{person_id}/death"): Case(_death, frozenset({_P})),
    ("GET", "/api/v1/households/{household_id}"): Case(_household_read, frozenset({_H})),
    ("GET", "/api/v1/quality/report"): Case(_quality_report, frozenset({_P})),
    ("GET", "/api/v1/quality/failing"): Case(_failing, frozenset({_P})),
    ("POST", "/api/v1/residence-applications"): Case(_file_in_person, frozenset({_T})),
    ("GET", "/api/v1/residence-applications"): Case(_applications_list_api, frozenset({C.APPLICATION_UNIT})),
    ("GET", "/api/v1/residence-applications/{application_id}"): Case(_application_read,
                                                                      frozenset({C.APPLICATION_UNIT})),
    ("POST", "/api/v1/residence-applications/{application_id}/decision"): Case(_decide,
                                                                                frozenset({C.APPLICATION_UNIT})),
    ("GET", "/api/v1/residence-departures"): Case(_departures_api, frozenset({C.ORIGIN_UNIT})),
    ("GET", "/registry/search"): Case(_blank("/registry/search"),
                                      not_expressible={_P: "a blank search form shows no one"}),
    ("POST", "/registry/search"): Case(_search_page, frozenset({_P})),
    ("GET", "/registry/persons/{person_id}"): Case(_read_page, **_RECORD),
    ("GET", "/registry/households/{household_id}"): Case(lambda w, at: _household_read(w, at, page=True),
                                                         frozenset({_H})),
    **{("GET", f"/registry/persons/{{person_id}}/{slug}"): Case(_form_of(slug), frozenset({_P}),
                                                                 not_expressible=_NO_RELATIVES)
       for slug in pages.ACTIONS},
    ("POST", "/registry/persons/{person_id}/permanent-residence"): Case(
        lambda w, at: _register_residence(w, at, page=True), **_RESIDENCE, statuses=_PAGE_FORM),
    ("POST", "/registry/persons/{person_id}/move"): Case(lambda w, at: _move(w, at, page=True), **_RESIDENCE,
                                                         statuses=_PAGE_FORM),
    ("POST", "/registry/persons/{person_id}/temporary-residence"): Case(
        lambda w, at: _temporary(w, at, page=True), frozenset({_P, _T}), statuses=_PAGE_FORM),
    ("POST", "/registry/persons/{person_id}/death"): Case(lambda w, at: _death(w, at, page=True), frozenset({_P})),
    ("POST", "/registry/persons/{person_id}/correction"): Case(
        _correction_page, frozenset({_P}), not_expressible={_R: "the console's correction form links no relative"}),
    ("GET", "/registry/births/new"): Case(_blank("/registry/births/new"), not_expressible={
        _T: "a blank form", _R: "a blank form", _H: "a blank form"}),
    # The console finds parents by PIN in the registrar's area: one outside it is "not found" like a wrong PIN.
    ("POST", "/registry/births/new"): Case(_birth_page, frozenset({_T, _R, _H}),
                                           statuses={"hidden": {422}, "unit": {422}}),
    ("GET", "/registry/quality"): Case(lambda w, at: _quality_report(w, at, page=True), frozenset({_P})),
    ("GET", "/registry/quality/failing"): Case(lambda w, at: _failing(w, at, page=True), frozenset({_P})),
    ("GET", "/registry/applications"): Case(_applications_page, frozenset({C.APPLICATION_UNIT, C.ORIGIN_UNIT})),
    ("GET", "/registry/applications/new"): Case(_blank("/registry/applications/new"),
                                                not_expressible={_T: "a blank form"}),
    ("POST", "/registry/applications/new"): Case(lambda w, at: _file_in_person(w, at, page=True), frozenset({_T}),
                                                 statuses=_PAGE_FORM),
    ("GET", "/registry/applications/{application_id}"): Case(lambda w, at: _application_read(w, at, page=True),
                                                             frozenset({C.APPLICATION_UNIT})),
    ("POST", "/registry/applications/{application_id}/decision"): Case(lambda w, at: _decide(w, at, page=True),
                                                                       frozenset({C.APPLICATION_UNIT})),
}


# ---- the routes, from the app ----------------------------------------------------------------

REGISTRY_MODULES = ("dancu.registry.api", "dancu.registry.pages")


def _app_routes() -> list[tuple[str, str]]:
    """(method, path) of every registry route of the running app; a console action route once per action."""
    app = create_app()
    found = []
    for router in app.routes:
        for route in getattr(getattr(router, "original_router", None), "routes", [router]):
            if not isinstance(route, APIRoute) or route.endpoint.__module__ not in REGISTRY_MODULES:
                continue
            paths = ([route.path.replace("{slug}", slug) for slug in pages.ACTIONS] if "{slug}" in route.path
                     else [route.path])
            found += [(method, path) for method in sorted(route.methods - {"HEAD"}) for path in paths]
    return found


ROUTES = _app_routes()


def test_every_registry_route_has_a_rule_and_a_case():
    assert len(ROUTES) >= 30
    assert sorted(set(ROUTES) - set(policy.ROUTES)) == [], "routes without an authorization rule"
    assert sorted(set(policy.ROUTES) - set(ROUTES)) == [], "rules for routes that do not exist"
    assert sorted(set(ROUTES) - set(CASES)) == [], "routes without a case in the matrix"
    for route in policy.ROUTES:
        rule = _merged(route)
        case = CASES[route]
        named = rule.refuses | rule.filters
        assert case.varies | case.not_expressible.keys() == named, f"{route}: the case must place every thing"


def test_the_rule_table_in_the_docs_names_every_action():
    table = (Path(__file__).parents[2] / "docs" / "registry.md").read_text(encoding="utf-8")
    assert [action for action in policy.RULES if f"`{action}`" not in table] == []


@dataclass(frozen=True)
class _Merged:
    roles: frozenset[Role]
    refuses: frozenset[Check]
    filters: frozenset[Check]


def _merged(route: tuple[str, str]) -> _Merged:
    rules = [policy.RULES[a] for a in policy.ROUTES[route]]
    roles = [frozenset(r.roles) for r in rules]
    if not route[1].startswith("/api/"):
        roles.append(frozenset(policy.CONSOLE_ROLES))
    return _Merged(frozenset.intersection(*roles),
                   frozenset().union(*(r.refuses for r in rules)), frozenset().union(*(r.filters for r in rules)))


def _placements(w: World, case: Case) -> list[dict[Check, int]]:
    """Everything in the ward; then each thing (with what it cannot be apart from) in another ward, another province."""
    result = [{}]
    for check in sorted(case.varies):
        for unit in (w.ward_b, w.far):
            placed = {check: unit, **{other: unit for other in case.couples.get(check, ())}}
            if placed not in result:
                result.append(placed)
    return result


def _expected(w: World, role: str, rule: _Merged, placed: dict[Check, int]) -> set[str]:
    if role not in STAFF:
        return {"login"}
    if STAFF[role] not in rule.roles:
        return {"forbidden"}
    refused = {("unit" if check == C.TARGET_UNIT else "hidden")
               for check, unit in placed.items() if check in rule.refuses and not w.sees(role, unit)}
    return refused or {"ok"}


def _writes(route: tuple[str, str]) -> bool:
    return route[0] != "GET" and not set(policy.ROUTES[route]) <= READ_ONLY


def _statuses(route: tuple[str, str], case: Case, outcome: str) -> set[int]:
    if route[1].startswith("/api/"):
        return {"ok": {200, 201, 204}, "hidden": {404}, "unit": {403}, "forbidden": {403}, "login": {401}}[outcome]
    # A console form that changes something answers with a redirect to what it changed.
    defaults = {"ok": {303} if _writes(route) else {200}, "hidden": {404}, "unit": {422}, "forbidden": {403},
                "login": {303}}
    return case.statuses.get(outcome, defaults[outcome])


def _send(w: World, role: str, req: Req):
    signed = w.signed[role]
    headers = dict(signed.api_headers) if req.path.startswith("/api/") else {}
    form = {**req.form, "csrf_token": signed.csrf} if req.form is not None else None
    return signed.client.request(req.method, req.path, json=req.json, data=form, params=req.params, headers=headers)


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_matrix(world, route):
    w = world
    case, rule = CASES[route], _merged(route)
    writes = _writes(route)
    checked = 0
    for role in ROLES:
        for placed in (_placements(w, case) if role in STAFF and STAFF[role] in rule.roles else [{}]):
            req = case.build(w, lambda check, placed=placed: placed.get(check, w.ward))
            before = w.writes()
            response = _send(w, role, req)
            outcomes = _expected(w, role, rule, placed)
            where = f"{role} with {({c.value: u for c, u in placed.items()})}: {response.status_code} {response.text[:300]}"
            allowed = set().union(*(_statuses(route, case, o) for o in outcomes))
            assert response.status_code in allowed, f"expected {outcomes}; {where}"
            if outcomes == {"login"} and not route[1].startswith("/api/"):
                assert response.headers["location"].startswith("/login"), where
            if writes:
                assert (w.writes() > before) == (outcomes == {"ok"}), f"writes for {outcomes}; {where}"
            if outcomes == {"ok"}:
                for check, shown in req.shown.items():
                    assert shown(response) == w.sees(role, placed.get(check, w.ward)), f"{check} shown; {where}"
            checked += 1
    assert checked >= len(ROLES)
