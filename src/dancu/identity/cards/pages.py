"""Card pages: registrars' applications, workflow actions and mobile teams; the public verify page."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import ValidationError

from dancu.accounts.services import Actor, PermissionDenied
from dancu.i18n import t
from dancu.identity.cards import chip, services
from dancu.identity.cards.api import VisitIdPath
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.identity.cards.schemas import (
    KINDS,
    PLACE_KINDS,
    STATUSES,
    ApplicationFilter,
    ApplicationInput,
    CaptureUpload,
    EntryInput,
    TeamInput,
    VisitInput,
)
from dancu.units.services import get_unit, unit_label
from dancu.web.deps import DbSession, RegistrarActor
from dancu.web.forms import FormErrors, service_message
from dancu.web.params import IdPath
from dancu.web.templating import render, request_lang

router = APIRouter(prefix="/cards", include_in_schema=False)

FLASH = "cards_flash"
ACTIONS = ("capture", "approve", "reject", "deliver", "activate")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def _flash(request: Request, key: str, **values) -> None:
    request.session[FLASH] = [key, values]


def _take_flash(request: Request) -> tuple[str, dict] | None:
    value = request.session.pop(FLASH, None)
    return tuple(value) if value else None


def _unit_choice(session, unit_id: str) -> tuple[str, str] | None:
    unit = get_unit(session, int(unit_id)) if unit_id.isdigit() and len(unit_id) < 10 else None
    return (unit_id, unit_label(unit)) if unit else None


@contextmanager
def _found() -> Iterator[None]:
    """An application, card, team or visit that does not exist (or not in the actor's area) is a 404 page."""
    try:
        yield
    except LookupError:
        raise HTTPException(404) from None


def _error_message(exc: Exception, lang: str) -> FormErrors:
    if isinstance(exc, ValidationError):
        return FormErrors.from_validation(exc, lang)
    return FormErrors.message(str(exc), lang)


# ---- applications ------------------------------------------------------------------------------


@router.get("")
def applications(request: Request, session: DbSession, actor: RegistrarActor,
                 status: Annotated[str, Query(max_length=20)] = "", kind: Annotated[str, Query(max_length=20)] = "",
                 channel: Annotated[str, Query(max_length=10)] = "",
                 page: Annotated[int, Query(ge=1, le=10_000)] = 1) -> HTMLResponse:
    filters = {"status": status if status in STATUSES else "", "kind": kind if kind in KINDS else "",
               "channel": channel if channel in ("office", "mobile") else ""}
    results = services.list_applications(session, actor, ApplicationFilter(
        **{k: v for k, v in filters.items() if v}, page=page, page_size=20))
    units = {a.unit_id: unit_label(session, a.unit_id) for a in results.items}
    return render(request, "cards/list.html",
                  {"section": "cards", "results": results, "filters": filters, "units": units,
                   "statuses": STATUSES, "kinds": KINDS, "flash": _take_flash(request)}, actor=actor)


def _new_form(request: Request, session, actor: Actor, form: dict, errors: FormErrors, status_code: int = 200):
    return render(request, "cards/new.html",
                  {"section": "cards", "form": form, "errors": errors, "kinds": KINDS,
                   "unit_choice": _unit_choice(session, form.get("unit_id", ""))},
                  actor=actor, status_code=status_code)


@router.get("/new")
def new_application(request: Request, session: DbSession, actor: RegistrarActor) -> HTMLResponse:
    form = {"pin": "", "kind": "first", "reason": "", "unit_id": str(actor.scope_unit_id or "")}
    return _new_form(request, session, actor, form, FormErrors())


@router.post("/new")
async def create_application(request: Request, session: DbSession, actor: RegistrarActor) -> Response:
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip() for name in ("pin", "kind", "reason", "unit_id")}
    lang = request_lang(request)
    try:
        data = ApplicationInput(pin=form["pin"] or None, kind=form["kind"] or "first", reason=form["reason"],
                                unit_id=form["unit_id"] or 0)
        application_id = services.create_application(session, actor, data)
    except (ValidationError, services.CardError, PermissionDenied, LookupError) as exc:
        session.rollback()
        return _new_form(request, session, actor, form, _error_message(exc, lang), 422)
    _flash(request, "cards.flash.created")
    return RedirectResponse(f"/cards/applications/{application_id}", status_code=303)


def _detail(request: Request, session, actor: Actor, application_id: int, errors: FormErrors | None = None,
            status_code: int = 200) -> HTMLResponse:
    lang = request_lang(request)
    with _found():
        application = services.get_application(session, actor, application_id,
                                               t("cards.purpose.review", lang, id=application_id))
    return render(request, "cards/detail.html",
                  {"section": "cards", "a": application, "errors": errors or FormErrors(),
                   "flash": _take_flash(request)}, actor=actor, status_code=status_code)


@router.get("/applications/{application_id}")
def application_detail(request: Request, session: DbSession, actor: RegistrarActor,
                       application_id: IdPath) -> HTMLResponse:
    return _detail(request, session, actor, application_id)


@router.post("/applications/{application_id}/{action}")
async def application_action(request: Request, session: DbSession, actor: RegistrarActor, application_id: IdPath,
                             action: str) -> Response:
    if action not in ACTIONS:
        return render(request, "error.html", {"status": 404}, actor=actor, status_code=404)
    raw = await request.form()
    note = str(raw.get("note", "")).strip()[:300]
    try:
        with _found():
            if action == "capture":
                services.capture_biometrics(session, actor, application_id, SimulatedCaptureDevice())
            elif action in ("approve", "reject"):
                services.decide(session, actor, application_id, action == "approve", note)
            elif action == "deliver":
                services.deliver(session, actor, application_id)
            else:
                services.activate(session, actor, application_id)
    except services.CardError as exc:
        session.rollback()
        return _detail(request, session, actor, application_id, _error_message(exc, request_lang(request)), 422)
    _flash(request, f"cards.flash.{action}")
    return RedirectResponse(f"/cards/applications/{application_id}", status_code=303)


@router.post("/losses")
async def report_loss(request: Request, session: DbSession, actor: RegistrarActor) -> Response:
    raw = await request.form()
    document_number = str(raw.get("document_number", "")).strip()[:20]
    back = str(raw.get("application_id", ""))
    try:
        services.report_loss(session, actor, document_number, str(raw.get("note", "")).strip()[:300])
    except (services.CardError, LookupError) as exc:
        session.rollback()
        if not (back.isdigit() and len(back) < 18):
            raise HTTPException(404) from None
        return _detail(request, session, actor, int(back), _error_message(exc, request_lang(request)), 422)
    _flash(request, "cards.flash.lost", document=document_number)
    return RedirectResponse(f"/cards/applications/{back}" if back.isdigit() else "/cards", status_code=303)


@router.post("/batches")
async def produce_batch(request: Request, session: DbSession, actor: RegistrarActor) -> Response:
    try:
        result = services.produce_batch(session, actor)
        _flash(request, "cards.flash.batch", batch=result.batch_id, n=result.cards)
    except services.CardError as exc:
        session.rollback()
        request.session[FLASH] = ["cards.flash.error", {"message": service_message(str(exc),
                                                                                   request_lang(request))}]
    return RedirectResponse("/cards", status_code=303)


@router.get("/applications/{application_id}/qr.svg")
def qr_image(request: Request, session: DbSession, actor: RegistrarActor, application_id: IdPath) -> Response:
    with _found():
        _, qr_text = services.chip_data(session, actor, application_id,
                                        t("cards.purpose.qr", request_lang(request), id=application_id))
    image = qrcode.make(qr_text, image_factory=qrcode.image.svg.SvgPathImage, box_size=4, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get("/applications/{application_id}/chip.json")
def chip_file(request: Request, session: DbSession, actor: RegistrarActor, application_id: IdPath) -> Response:
    with _found():
        chip_data, _ = services.chip_data(session, actor, application_id,
                                          t("cards.purpose.chip", request_lang(request), id=application_id))
    return PlainTextResponse(chip_data, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="card-{application_id}-chip.json"',
        "Cache-Control": "no-store"})


# ---- mobile teams ------------------------------------------------------------------------------


def _teams_page(request: Request, session, actor: Actor, form: dict, errors: FormErrors,
                status_code: int = 200) -> HTMLResponse:
    return render(request, "cards/teams.html",
                  {"section": "cards", "teams": services.list_teams(session, actor), "form": form,
                   "errors": errors, "place_kinds": PLACE_KINDS, "flash": _take_flash(request),
                   "unit_choice": _unit_choice(session, form.get("unit_id", "")),
                   "team_unit_choice": _unit_choice(session, form.get("team_unit_id", ""))},
                  actor=actor, status_code=status_code)


@router.get("/teams")
def teams(request: Request, session: DbSession, actor: RegistrarActor) -> HTMLResponse:
    scope = str(actor.scope_unit_id or "")
    return _teams_page(request, session, actor, {"unit_id": scope, "team_unit_id": scope,
                                                 "visit_on": dt.date.today().isoformat()}, FormErrors())


@router.post("/teams")
async def create_team(request: Request, session: DbSession, actor: RegistrarActor) -> Response:
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip() for name in ("name", "team_unit_id")}
    try:
        services.create_team(session, actor, TeamInput(name=form["name"], unit_id=form["team_unit_id"] or 0))
    except (ValidationError, services.CardError, PermissionDenied) as exc:
        session.rollback()
        errors = FormErrors.from_validation(exc, request_lang(request), {"unit_id": "team_unit_id"}) \
            if isinstance(exc, ValidationError) else _error_message(exc, request_lang(request))
        return _teams_page(request, session, actor, form, errors, 422)
    _flash(request, "cards.flash.team")
    return RedirectResponse("/cards/teams", status_code=303)


@router.post("/visits")
async def schedule_visit(request: Request, session: DbSession, actor: RegistrarActor) -> Response:
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip()
            for name in ("team_id", "visit_on", "place_kind", "place", "unit_id")}
    try:
        if not (form["team_id"].isdigit() and len(form["team_id"]) < 10):
            raise services.CardError("choose a team")
        with _found():
            visit_id = services.schedule_visit(session, actor, int(form["team_id"]), VisitInput(
                visit_on=form["visit_on"] or None, place_kind=form["place_kind"] or "other", place=form["place"],
                unit_id=form["unit_id"] or 0))
    except (ValidationError, services.CardError, PermissionDenied) as exc:
        session.rollback()
        return _teams_page(request, session, actor, form, _error_message(exc, request_lang(request)), 422)
    _flash(request, "cards.flash.visit")
    return RedirectResponse(f"/cards/visits/{visit_id}", status_code=303)


def _visit_page(request: Request, session, actor: Actor, visit_id: int, form: dict, errors: FormErrors,
                status_code: int = 200, upload_results: list | None = None) -> HTMLResponse:
    with _found():
        visit = services.get_visit(session, actor, visit_id, t("cards.purpose.visit", request_lang(request),
                                                              id=visit_id))
    return render(request, "cards/visit.html",
                  {"section": "cards", "visit": visit, "form": form, "errors": errors, "kinds": KINDS,
                   "flash": _take_flash(request), "upload_results": upload_results},
                  actor=actor, status_code=status_code)


@router.get("/visits/{visit_id}")
def visit(request: Request, session: DbSession, actor: RegistrarActor, visit_id: VisitIdPath) -> HTMLResponse:
    return _visit_page(request, session, actor, visit_id, {"kind": "first"}, FormErrors())


@router.post("/visits/{visit_id}/entries")
async def add_entry(request: Request, session: DbSession, actor: RegistrarActor, visit_id: VisitIdPath) -> Response:
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip() for name in ("pin", "kind", "note")}
    try:
        with _found():
            services.add_visit_entry(session, actor, visit_id, EntryInput(pin=form["pin"], kind=form["kind"] or "first",
                                                                          note=form["note"]))
    except (ValidationError, services.CardError, PermissionDenied) as exc:
        session.rollback()
        return _visit_page(request, session, actor, visit_id, form, _error_message(exc, request_lang(request)), 422)
    _flash(request, "cards.flash.entry")
    return RedirectResponse(f"/cards/visits/{visit_id}", status_code=303)


@router.post("/visits/{visit_id}/package")
def export_package(request: Request, session: DbSession, actor: RegistrarActor, visit_id: VisitIdPath) -> Response:
    """POST (CSRF-checked): exporting reads every person on the list and starts a new package."""
    try:
        with _found():
            package = services.export_package(session, actor, visit_id)
    except services.CardError as exc:
        session.rollback()
        return _visit_page(request, session, actor, visit_id, {"kind": "first"},
                           _error_message(exc, request_lang(request)), 422)
    return JSONResponse(package, headers={
        "Content-Disposition": f'attachment; filename="visit-{visit_id}-package.json"', "Cache-Control": "no-store"})


@router.post("/visits/{visit_id}/captures")
async def upload_captures(request: Request, session: DbSession, actor: RegistrarActor,
                          visit_id: VisitIdPath) -> Response:
    """A capture queue file (JSON Lines, one CaptureUpload a line): each line is stored once, in order."""
    raw = await request.form()
    upload = raw.get("queue")
    content = await upload.read(MAX_UPLOAD_BYTES + 1) if hasattr(upload, "read") else b""
    lang = request_lang(request)
    if not content or len(content) > MAX_UPLOAD_BYTES:
        return _visit_page(request, session, actor, visit_id, {"kind": "first"},
                           FormErrors.message("choose the capture queue file of this visit", lang), 422)
    results = []
    for number, line in enumerate(content.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result = services.upload_capture(session, actor, CaptureUpload.model_validate_json(line))
            session.commit()
            results.append((number, "replayed" if result.replayed else "stored", result.application_id))
        except (ValidationError, services.CardError, PermissionDenied, LookupError) as exc:
            session.rollback()
            message = "invalid" if isinstance(exc, ValidationError) else service_message(str(exc), lang)
            results.append((number, "error", message))
    return _visit_page(request, session, actor, visit_id, {"kind": "first"}, FormErrors(), 200, results)


# ---- public ------------------------------------------------------------------------------------


@router.get("/status.jws")
def status_list(session: DbSession) -> Response:
    return PlainTextResponse(services.current_status_list(session), media_type="application/jose",
                             headers={"Cache-Control": "public, max-age=300"})


@router.get("/verify")
def verify_page(request: Request) -> HTMLResponse:
    return render(request, "cards/verify.html", {"section": "verify", "result": None, "qr_text": ""})


@router.post("/verify")
async def verify(request: Request, session: DbSession) -> HTMLResponse:
    raw = await request.form()
    qr_text = str(raw.get("qr_text", "")).strip()
    upload = raw.get("chip_file")
    data = await upload.read(chip.MAX_INPUT_BYTES + 1) if hasattr(upload, "read") else b""
    if not data and not qr_text:
        return render(request, "cards/verify.html", {"section": "verify", "result": None, "qr_text": "",
                                                     "missing": True}, status_code=422)
    result = services.verify(session, data or qr_text)
    return render(request, "cards/verify.html", {"section": "verify", "result": result, "qr_text": qr_text,
                                                 "checked_at": dt.datetime.now(dt.UTC)})
