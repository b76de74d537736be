"""Registrar console pages: search, person and household views, registrar actions, data quality.

Every read goes through a registry service with the purpose the registrar
stated, so it lands in the access log; pages never query tables themselves.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from dancu.accounts.services import Actor, PermissionDenied
from dancu.audit.services import PurposeRequired
from dancu.db import ConcurrentChange
from dancu.i18n import t
from dancu.registry import applications, services
from dancu.registry.quality import RULES
from dancu.registry.reference import ETHNIC_GROUPS, HOUSEHOLD_RELATIONSHIPS
from dancu.registry.schemas import (
    ApplicationDecision,
    BirthRegistration,
    CorrectionInput,
    DeathInput,
    InPersonApplicationInput,
    PermanentResidenceInput,
    PersonDetail,
    PersonQuery,
    TemporaryResidenceInput,
)
from dancu.units.services import UnitNotFound, get_unit, list_provinces, unit_label
from dancu.web.deps import DbSession, RegistrarActor
from dancu.web.forms import FormErrors, service_message
from dancu.web.params import IdPath, UnitIdQuery
from dancu.web.templating import is_htmx, render, request_lang

router = APIRouter(prefix="/registry", include_in_schema=False)

PURPOSE = "purpose"
FLASH = "flash"
PAGE_SIZE = 20


def _default_purpose(request: Request) -> str:
    return t("search.default_purpose", request_lang(request))


def _purpose(request: Request, given: str | None = None) -> str:
    """The purpose stated in this form, else the last one stated this session.

    Only forms (POST, CSRF-checked) and the page's own workflow set it: a
    purpose taken from a link could be planted by another site, and the
    access log would then carry a reason the registrar never gave.
    """
    if given and given.strip():
        request.session[PURPOSE] = given.strip()
        return given.strip()
    return request.session.get(PURPOSE) or _default_purpose(request)


def _flash(request: Request, key: str) -> None:
    request.session[FLASH] = key


def _take_flash(request: Request) -> str | None:
    return request.session.pop(FLASH, None)


# ---- search ----------------------------------------------------------------------------------

_BIRTH_PATTERNS = (
    (re.compile(r"^(\d{4})$"), lambda m: m[1]),
    (re.compile(r"^(\d{1,2})[/.-](\d{4})$"), lambda m: f"{m[2]}-{int(m[1]):02d}"),
    (re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$"), lambda m: f"{m[3]}-{int(m[2]):02d}-{int(m[1]):02d}"),
    (re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$"), lambda m: m[0]),
)


def _birth_filter(text: str) -> str | None:
    """dd/mm/yyyy, mm/yyyy or yyyy as registrars write them -> the partial ISO date PersonQuery takes."""
    text = text.strip()
    if not text:
        return None
    for pattern, convert in _BIRTH_PATTERNS:
        if match := pattern.match(text):
            return convert(match)
    raise ValueError("birth_format")


def _unit_choice(session: Session, unit_id: str) -> tuple[str, str] | None:
    """(id, label) of the commune already chosen in a picker, so a re-rendered form keeps it."""
    unit = get_unit(session, int(unit_id)) if unit_id.isdigit() else None
    return (unit_id, unit_label(unit)) if unit else None


@router.get("/search")
def search_page(request: Request, session: DbSession, actor: RegistrarActor) -> HTMLResponse:
    form = {"purpose": _purpose(request), "text": "", "pin": "", "birth": "", "unit_id": ""}
    return render(request, "registry/search.html",
                  {"section": "search", "form": form, "unit_choice": None, "results": None, "errors": FormErrors(),
                   "fragment": False},
                  actor=actor)


@router.post("/search")
async def search(request: Request, session: DbSession, actor: RegistrarActor) -> HTMLResponse:
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip() for name in ("purpose", "text", "pin", "birth", "unit_id", "page")}
    lang = request_lang(request)
    errors, results = FormErrors(), None
    try:
        birth = _birth_filter(form["birth"])
    except ValueError:
        errors = FormErrors(fields={"birth": t("search.birth_format", lang)})
    # Live search fires as fields are cleared too: no criteria means no results, not an error.
    if not errors and any(form[name] for name in ("text", "pin", "birth", "unit_id")):
        try:
            query = PersonQuery(text=form["text"], pin=form["pin"] or None, birth_date=birth,
                                unit_id=form["unit_id"] or None, page=form["page"] or 1, page_size=PAGE_SIZE)
            results = services.search_persons(session, actor, query, form["purpose"])
            _purpose(request, form["purpose"])
        except ValidationError as exc:
            errors = FormErrors.from_validation(exc, lang, {"birth_date": "birth"})
        except PurposeRequired:
            errors = FormErrors(fields={"purpose": t("search.purpose_required", lang)})
        except (services.RegistryError, UnitNotFound) as exc:
            errors = FormErrors.message(str(exc), lang)
    context = {"section": "search", "form": form, "unit_choice": _unit_choice(session, form["unit_id"]),
               "results": results, "errors": errors, "fragment": is_htmx(request)}
    template = "registry/_results.html" if is_htmx(request) else "registry/search.html"
    return render(request, template, context, actor=actor)


# ---- person and household ---------------------------------------------------------------------


def _change_value(session: Session, field: str, value: Any, lang: str) -> str | None:
    """A recorded value as a registrar reads it: unit names rather than unit ids, words rather than codes."""
    if value is None or value == "":
        return None
    if field.endswith("unit_id") and str(value).isdigit():
        unit = get_unit(session, int(value))
        return unit_label(unit) if unit else str(value)
    if field == "ethnicity_code" and str(value).isdigit():
        return ETHNIC_GROUPS.get(int(value), str(value))
    if field in ("sex", "status"):
        return t(f"{field}.{value}", lang)
    if field.endswith(("_on", "_date")) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
        return dt.date.fromisoformat(str(value)).strftime("%d/%m/%Y")
    return str(value)


def _readable_changes(session: Session, person: PersonDetail, lang: str) -> dict[int, list[tuple[str, Any, Any]]]:
    return {
        event.id: [(field, _change_value(session, field, before, lang), _change_value(session, field, after, lang))
                   for field, (before, after) in event.changes.items()]
        for event in person.events
    }


def _read_error(request: Request, actor: Actor, exc: Exception, status: int) -> HTMLResponse:
    message = service_message(str(exc), request_lang(request))
    return render(request, "error.html", {"status": status, "message": message}, actor=actor, status_code=status)


@router.get("/persons/{person_id}")
def person_page(
    request: Request,
    session: DbSession,
    actor: RegistrarActor,
    person_id: IdPath,
    as_of: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    stated = _purpose(request)
    as_of_date = None
    if as_of:
        try:
            as_of_date = dt.date.fromisoformat(as_of)
        except ValueError:
            as_of = None
    as_of_error = None
    try:
        person = services.get_person(session, actor, person_id, stated, as_of_date)
    except services.PersonNotFound as exc:
        if as_of_date is None:
            return _read_error(request, actor, exc, 404)
        # The record exists but not on that date (before the birth): show today's and say why.
        as_of_error = t("person.not_born_on", request_lang(request), date=as_of_date.strftime("%d/%m/%Y"))
        as_of_date = None
        person = services.get_person(session, actor, person_id, stated)
    return render(request, "registry/person.html", {
        "as_of_error": as_of_error,
        "section": "search", "person": person, "purpose": stated, "as_of": as_of_date,
        "today": dt.date.today(), "flash": _take_flash(request), "rules": RULES,
        "changes": _readable_changes(session, person, request_lang(request)),
        "has_permanent": any(r.kind == "permanent" and r.valid_to is None for r in person.residences),
    }, actor=actor)


@router.get("/households/{household_id}")
def household_page(
    request: Request,
    session: DbSession,
    actor: RegistrarActor,
    household_id: IdPath,
) -> HTMLResponse:
    stated = _purpose(request)
    try:
        household = services.get_household(session, actor, household_id, stated)
    except services.HouseholdNotFound as exc:
        return _read_error(request, actor, exc, 404)
    return render(request, "registry/household.html",
                  {"section": "search", "household": household, "purpose": stated}, actor=actor)


# ---- registrar actions ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Action:
    """One registrar action form: its fields, how they become the service's input, and the call."""

    slug: str
    template: str
    model: type[BaseModel]
    call: Callable[..., Any]
    fields: tuple[str, ...]

    def payload(self, form: dict[str, str]) -> dict[str, Any]:
        """Blank optional fields are left out, so the model's defaults apply."""
        return {name: form[name] for name in self.fields if form.get(name, "") != ""}


_PERMANENT_FIELDS = ("unit_id", "address_line", "household_id", "relationship_to_head", "effective_on", "reason")
ACTIONS = {
    action.slug: action for action in (
        _Action("permanent-residence", "registry/form_permanent.html", PermanentResidenceInput,
                services.register_permanent_residence, _PERMANENT_FIELDS),
        _Action("move", "registry/form_permanent.html", PermanentResidenceInput,
                services.move_permanent_residence, _PERMANENT_FIELDS),
        _Action("temporary-residence", "registry/form_temporary.html", TemporaryResidenceInput,
                services.register_temporary_residence, ("unit_id", "address_line", "valid_from", "expires_on")),
        _Action("death", "registry/form_death.html", DeathInput, services.record_death,
                ("date_of_death", "reason")),
        _Action("correction", "registry/form_correction.html", CorrectionInput, services.correct_person,
                ("family_name", "middle_name", "given_name", "other_names", "birth_date", "sex", "ethnicity_code",
                 "religion", "pin", "reason")),
    )
}


# Messages of the registry schemas and services that concern one field: shown next to it.
MESSAGE_FIELDS = {
    "birth date is in the future": "birth_date",
    "registration date is before the birth date": "registered_on",
    "the end date must be after the start date": "expires_on",
    "temporary residence is registered for at most two years (renew it instead)": "expires_on",
    "the date of death is before the date of birth": "date_of_death",
    "the new residence cannot start before the current one": "effective_on",
    "the household is registered in another commune": "household_id",
    "this household already has a head": "relationship_to_head",
    "temporary residence cannot be in the commune of permanent residence": "unit_id",
    "this commune is outside your area": "unit_id",
}


def _correction_defaults(person: PersonDetail) -> dict[str, str]:
    return {
        "family_name": person.family_name, "middle_name": person.middle_name, "given_name": person.given_name,
        "other_names": person.other_names, "birth_date": person.birth_date_iso,
        "sex": person.sex.value if person.sex else "", "ethnicity_code": str(person.ethnicity_code or ""),
        "religion": person.religion or "", "pin": person.pin or "",
    }


def _correction_changes(form: dict[str, str], person: PersonDetail) -> dict[str, str]:
    """Only the fields the registrar changed, so an untouched field is never 'corrected'."""
    original = _correction_defaults(person)
    return {name: value for name, value in form.items()
            if name == "reason" or (name in original and value != original[name] and value != "")}


def _action_page(request: Request, session: Session, actor: Actor, action: _Action, person: PersonDetail,
                 form: dict[str, str], errors: FormErrors, status_code: int = 200) -> HTMLResponse:
    return render(request, action.template, {
        "section": "search", "action": action.slug, "person": person, "form": form, "errors": errors,
        "unit_choice": _unit_choice(session, form.get("unit_id", "")),
        "relationships": HOUSEHOLD_RELATIONSHIPS, "ethnic_groups": ETHNIC_GROUPS,
    }, actor=actor, status_code=status_code)


def _action(slug: str) -> _Action:
    if slug not in ACTIONS:
        raise HTTPException(404)
    return ACTIONS[slug]


@router.get("/persons/{person_id}/{slug}")
def action_form(request: Request, session: DbSession, actor: RegistrarActor, person_id: IdPath,
                slug: str) -> HTMLResponse:
    action = _action(slug)
    try:
        person = services.get_person(session, actor, person_id, _purpose(request))
    except services.PersonNotFound as exc:
        return _read_error(request, actor, exc, 404)
    form = _correction_defaults(person) if slug == "correction" else {"relationship_to_head": "head"}
    return _action_page(request, session, actor, action, person, form, FormErrors())


@router.post("/persons/{person_id}/{slug}")
async def action_submit(request: Request, session: DbSession, actor: RegistrarActor, person_id: IdPath,
                        slug: str):
    # Only the form is read on the event loop: the change may wait for the person's lock, and a wait there
    # would keep the request holding that lock from ever committing.
    raw = await request.form()
    return await run_in_threadpool(_action_submit, request, session, actor, person_id, slug, raw)


def _action_submit(request: Request, session: Session, actor: Actor, person_id: int, slug: str, raw: FormData):
    action = _action(slug)
    form = {name: str(raw.get(name, "")).strip() for name in action.fields}
    version = str(raw.get("version", "")).strip()
    lang = request_lang(request)
    purpose = _purpose(request)
    status_code = 422
    try:
        if slug == "correction":
            form_changes = _correction_changes(form, services.get_person(session, actor, person_id, purpose))
        else:
            form_changes = form
        action.call(session, actor, person_id, action.model.model_validate(action.payload(form_changes)),
                    expected_version=int(version) if version.isdigit() else None)
    except services.PersonNotFound as exc:
        return _read_error(request, actor, exc, 404)
    except ValidationError as exc:
        errors = FormErrors.from_validation(exc, lang, message_fields=MESSAGE_FIELDS)
    except (services.RegistryError, PermissionDenied) as exc:
        errors = FormErrors.message(str(exc), lang, MESSAGE_FIELDS)
    except ConcurrentChange as exc:
        errors, status_code = FormErrors.message(str(exc), lang), 409
    else:
        _flash(request, f"flash.{slug}")
        return RedirectResponse(f"/registry/persons/{person_id}", status_code=303)
    # Undo any partial change; the re-read below logs the record shown with the errors.
    session.rollback()
    person = services.get_person(session, actor, person_id, purpose)
    return _action_page(request, session, actor, action, person, form, errors, status_code=status_code)


# ---- birth registration -------------------------------------------------------------------

_BIRTH_FIELDS = ("family_name", "middle_name", "given_name", "birth_date", "sex", "birth_registration_unit_id",
                 "mother_pin", "father_pin", "ethnicity_code", "hometown_unit_id", "registered_on", "household_id")


def _birth_page(request: Request, session: Session, actor: Actor, form: dict[str, str], errors: FormErrors,
                status_code: int = 200) -> HTMLResponse:
    return render(request, "registry/form_birth.html", {
        "section": "birth", "form": form, "errors": errors, "ethnic_groups": ETHNIC_GROUPS,
        "unit_choice": _unit_choice(session, form.get("birth_registration_unit_id", "")),
        "hometown_choice": _unit_choice(session, form.get("hometown_unit_id", "")),
        "today": dt.date.today(),
    }, actor=actor, status_code=status_code)


def _parent_id(session: Session, actor: Actor, pin: str, purpose: str) -> int | None:
    """The person holding ``pin``; registrars know parents by their identification number."""
    if not pin:
        return None
    found = services.search_persons(session, actor, PersonQuery(pin=pin, page_size=2), purpose)
    if found.total != 1:
        raise LookupError(pin)
    return found.items[0].id


@router.get("/births/new")
def birth_form(request: Request, session: DbSession, actor: RegistrarActor) -> HTMLResponse:
    return _birth_page(request, session, actor, {"ethnicity_code": "1"}, FormErrors())


@router.post("/births/new")
async def birth_submit(request: Request, session: DbSession, actor: RegistrarActor):
    raw = await request.form()  # the rest waits for the parents' locks: in a worker thread, as for the actions
    return await run_in_threadpool(_birth_submit, request, session, actor, raw)


def _birth_submit(request: Request, session: Session, actor: Actor, raw: FormData):
    form = {name: str(raw.get(name, "")).strip() for name in _BIRTH_FIELDS}
    lang = request_lang(request)
    purpose = t("birth.purpose", lang)
    payload = {name: value for name, value in form.items() if value and not name.endswith("_pin")}
    parent_errors = {}
    for relation in ("mother", "father"):
        try:
            payload[f"{relation}_id"] = _parent_id(session, actor, form[f"{relation}_pin"], purpose)
        except LookupError:
            parent_errors[f"{relation}_pin"] = t("birth.parent_not_found", lang)
        except ValidationError:
            parent_errors[f"{relation}_pin"] = t("validation.pin", lang)
    # Validate the rest even when a parent was not found, so every problem shows at once.
    try:
        data = BirthRegistration.model_validate(payload)
        errors = FormErrors()
    except ValidationError as exc:
        errors = FormErrors.from_validation(exc, lang, {"mother_id": "mother_pin", "father_id": "father_pin"},
                                            MESSAGE_FIELDS)
    errors.fields.update(parent_errors)
    if not errors:
        try:
            person_id = services.register_birth(session, actor, data)
        # A parent or household outside the area reads as missing (LookupError), as in every registry action.
        except (services.RegistryError, LookupError, PermissionDenied) as exc:
            errors = FormErrors.message(str(exc), lang, MESSAGE_FIELDS)
        else:
            _flash(request, "flash.birth")
            _purpose(request, purpose)
            return RedirectResponse(f"/registry/persons/{person_id}", status_code=303)
    session.rollback()
    return _birth_page(request, session, actor, form, errors, status_code=422)


# ---- data quality ---------------------------------------------------------------------------


@router.get("/quality")
def quality_page(
    request: Request,
    session: DbSession,
    actor: RegistrarActor,
    province: Annotated[str, Query(max_length=3, pattern=r"^\d*$")] = "",
) -> HTMLResponse:
    report = services.quality_report(session, actor, province or None)
    return render(request, "registry/quality.html", {
        "section": "quality", "report": report, "province": province, "provinces": list_provinces(session),
        "rules": RULES,
    }, actor=actor)


@router.get("/quality/failing")
def quality_failing(
    request: Request,
    session: DbSession,
    actor: RegistrarActor,
    rule: Annotated[str, Query(max_length=40)],
    unit_id: UnitIdQuery = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    if rule not in RULES:
        raise HTTPException(404)
    purpose = _purpose(request, t("quality.purpose", request_lang(request)))
    results = services.persons_failing(session, actor, rule, unit_id, purpose, page, PAGE_SIZE)
    return render(request, "registry/failing.html", {
        "section": "quality", "results": results, "rule": rule, "dimension": RULES[rule], "unit_id": unit_id,
        "unit_choice": _unit_choice(session, str(unit_id or "")), "purpose": purpose,
    }, actor=actor)


# ---- residence applications ---------------------------------------------------------------------

_APPLICATION_FIELDS = ("card_data", "kind", "unit_id", "address_line", "household_id", "relationship_to_head",
                       "valid_from", "expires_on")


@router.get("/applications")
def applications_page(request: Request, session: DbSession, actor: RegistrarActor) -> HTMLResponse:
    """Pending applications to the area, and the departures of its residents (the origin commune's notice)."""
    purpose = _purpose(request, t("application.purpose", request_lang(request)))
    return render(request, "registry/applications.html", {
        "section": "applications", "pending": applications.list_applications(session, actor, purpose),
        "departures": applications.list_departures(session, actor, purpose), "purpose": purpose,
        "flash": _take_flash(request),
    }, actor=actor)


def _application_form(request: Request, session: Session, actor: Actor, form: dict[str, str], errors: FormErrors,
                      status_code: int = 200) -> HTMLResponse:
    return render(request, "registry/form_application.html", {
        "section": "applications", "form": form, "errors": errors, "relationships": HOUSEHOLD_RELATIONSHIPS,
        "unit_choice": _unit_choice(session, form.get("unit_id", "")),
    }, actor=actor, status_code=status_code)


@router.get("/applications/new")
def application_form(request: Request, session: DbSession, actor: RegistrarActor) -> HTMLResponse:
    return _application_form(request, session, actor, {"kind": "permanent", "relationship_to_head": "head"},
                             FormErrors())


@router.post("/applications/new")
async def application_submit(request: Request, session: DbSession, actor: RegistrarActor):
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip() for name in _APPLICATION_FIELDS}
    lang = request_lang(request)
    try:
        data = InPersonApplicationInput.model_validate({k: v for k, v in form.items() if v != ""})
        application_id = applications.file_in_person(session, actor, data)
    except ValidationError as exc:
        errors = FormErrors.from_validation(exc, lang, message_fields=MESSAGE_FIELDS)
    except applications.CardNotVerified as exc:
        problems = "; ".join(t(f"cards.problem.{problem}", lang) for problem in exc.problems)
        errors = FormErrors(fields={"card_data": t("application.card_not_verified", lang, problems=problems)})
    except (services.RegistryError, PermissionDenied) as exc:
        errors = FormErrors.message(str(exc), lang, MESSAGE_FIELDS)
    else:
        _flash(request, "flash.application_filed")
        return RedirectResponse(f"/registry/applications/{application_id}", status_code=303)
    session.rollback()
    return _application_form(request, session, actor, form, errors, status_code=422)


def _application_page(request: Request, session: Session, actor: Actor, application_id: int,
                      errors: FormErrors, status_code: int = 200) -> HTMLResponse:
    try:
        application = applications.get_application(session, actor, application_id, _purpose(request))
    except LookupError as exc:
        return _read_error(request, actor, exc, 404)
    return render(request, "registry/application.html", {
        "section": "applications", "application": application, "errors": errors, "flash": _take_flash(request),
    }, actor=actor, status_code=status_code)


@router.get("/applications/{application_id}")
def application_page(request: Request, session: DbSession, actor: RegistrarActor,
                     application_id: IdPath) -> HTMLResponse:
    return _application_page(request, session, actor, application_id, FormErrors())


@router.post("/applications/{application_id}/decision")
async def application_decision(request: Request, session: DbSession, actor: RegistrarActor,
                               application_id: IdPath):
    raw = await request.form()
    lang = request_lang(request)
    decision = ApplicationDecision(accept=raw.get("decision") == "accept", reason=str(raw.get("reason", ""))[:500])
    try:
        applications.decide(session, actor, application_id, decision)
    except LookupError as exc:
        return _read_error(request, actor, exc, 404)
    except (services.RegistryError, PermissionDenied) as exc:
        errors = FormErrors.message(str(exc), lang, MESSAGE_FIELDS)
    else:
        _flash(request, "flash.application_accepted" if decision.accept else "flash.application_refused")
        return RedirectResponse(f"/registry/applications/{application_id}", status_code=303)
    session.rollback()
    return _application_page(request, session, actor, application_id, errors, status_code=422)
