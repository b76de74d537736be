"""Citizen pages (/eid/..., /me) and the registrar's proofing console (/eid/proofing).

The citizen's login lives in the Starlette session under its own keys, next to
(never mixed with) a staff login: ``eid`` holds the token of a server-side
``EidSession`` row, so revoking that row signs the browser out at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import time
from typing import Annotated
from urllib.parse import quote, urlencode

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, BackgroundTasks, Body, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor
from dancu.audit import transparency
from dancu.audit.services import PurposeRequired
from dancu.db import MAX_ID, session_scope
from dancu.i18n import t
from dancu.identity.eid import outbox, passkeys
from dancu.identity.eid import services as eid
from dancu.identity.eid.models import EidAccount
from dancu.identity.eid.services import EidError, Locked, Principal
from dancu.registry import applications as residence_applications
from dancu.registry import services as registry
from dancu.registry.reference import HOUSEHOLD_RELATIONSHIPS
from dancu.registry.schemas import ApplicationInput, PersonQuery
from dancu.registry.services import RegistryError
from dancu.units.services import get_unit, search_units, unit_label
from dancu.web.deps import DbSession, RegistrarActor
from dancu.web.forms import FormErrors
from dancu.web.params import IdPath
from dancu.web.security import rotate_csrf_token
from dancu.web.templating import format_datetime, render, request_lang

router = APIRouter(include_in_schema=False)

PENDING = "eid_pending"  # password accepted, second factor awaited
CEREMONY = "eid_webauthn"  # handle of the WebAuthn challenge in progress
REGISTRATION = "eid_register"
FLASH = "eid_flash"
DEVICE_COOKIE = "eid_device"
PENDING_LIFETIME = 300
HOME = "/me"


# ---- helpers -------------------------------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """Only same-site paths, so the login cannot be used as an open redirect."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return None


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _message(request: Request, error: EidError) -> str:
    values = {k: format_datetime(v) if isinstance(v, dt.datetime) else v for k, v in error.values.items()}
    return t(error.key, request_lang(request), **values)


def _deliver_outbox() -> None:
    with session_scope() as session:
        outbox.deliver_pending(session)


def _flash(request: Request, key: str) -> None:
    request.session[FLASH] = key


def _take_flash(request: Request) -> str | None:
    return request.session.pop(FLASH, None)


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


class CitizenLoginRequired(HTTPException):
    def __init__(self, request: Request) -> None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        super().__init__(303, headers={"Location": f"/eid/login?next={quote(target, safe='')}"})


def citizen(request: Request, session: DbSession) -> Principal:
    principal = eid.principal_from_web_session(session, request.session)
    if principal is None:
        raise CitizenLoginRequired(request)
    return principal


Citizen = Annotated[Principal, Depends(citizen)]


def _owner(session: Session, principal: Principal) -> EidAccount:
    """The signed-in citizen's own account (the guardian's while acting for a child)."""
    return eid.get_account(session, principal.guardian_account_id or principal.account_id)


def _page(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    """A public page (login, registration): no citizen is signed in yet."""
    return render(request, template, {"flash": _take_flash(request), **context}, status_code=status_code)


# ---- login and logout ----------------------------------------------------------------------------


def _complete_login(request: Request, session: Session, background: BackgroundTasks, account: EidAccount,
                    amr: list[str], target: str, as_json: bool = False) -> Response:
    """Start the server-side session and send the browser on to ``target`` (a redirect, or JSON for fetch)."""
    eid.end_session(session, request.session)
    started = eid.start_session(session, account, amr, user_agent=request.headers.get("user-agent", ""),
                                ip=_ip(request), device_token=request.cookies.get(DEVICE_COOKIE))
    for key in (PENDING, CEREMONY):
        request.session.pop(key, None)
    request.session[eid.WEB_SESSION_KEY] = started.token
    rotate_csrf_token(request)
    background.add_task(_deliver_outbox)
    destination = safe_next(target) or HOME
    response = JSONResponse({"redirect": destination}) if as_json else RedirectResponse(destination, status_code=303)
    response.set_cookie(DEVICE_COOKIE, started.device_token, max_age=400 * 24 * 3600, httponly=True,
                        samesite="lax", path="/eid")
    return response


def _login_form(request: Request, *, next: str, acr: str, pin: str = "", error: str | None = None,
                status_code: int = 200) -> HTMLResponse:
    return _page(request, "eid/login.html", {"next": next, "acr": acr, "pin": pin, "error": error},
                 status_code=status_code)


@router.get("/eid/login")
def login_form(request: Request, session: DbSession, next: str | None = None, acr: str | None = None,
               max_age: int | None = None, prompt: str | None = None) -> Response:
    target = safe_next(next) or HOME
    principal = eid.principal_from_web_session(session, request.session)
    if principal is not None and prompt != "login":
        fresh = max_age is None or (dt.datetime.now(dt.UTC) - principal.auth_time).total_seconds() <= max_age
        if fresh and (acr != "2" or principal.level >= 2):
            return RedirectResponse(target, status_code=303)
    return _login_form(request, next=target, acr="2" if acr == "2" else "")


@router.post("/eid/login")
def login(request: Request, session: DbSession, background: BackgroundTasks,
          pin: Annotated[str, Form(max_length=40)] = "", password: Annotated[str, Form(max_length=200)] = "",
          next: Annotated[str, Form(max_length=2000)] = "", acr: Annotated[str, Form(max_length=2)] = "") -> Response:
    target = safe_next(next) or HOME
    try:
        account = eid.authenticate_password(session, pin, password, _ip(request),
                                            device_token=request.cookies.get(DEVICE_COOKIE))
    except Locked as exc:
        background.add_task(_deliver_outbox)
        return _login_form(request, next=target, acr=acr, pin=pin, error=_message(request, exc), status_code=429)
    except EidError as exc:
        return _login_form(request, next=target, acr=acr, pin=pin, error=_message(request, exc), status_code=401)
    if acr == "2" and account.level < 2:
        return _login_form(request, next=target, acr=acr, pin=pin,
                           error=t("eid.err.level2_required", request_lang(request)), status_code=403)
    if eid.has_mfa(session, account):
        request.session[PENDING] = {"account_id": account.id, "amr": ["pwd"], "next": target, "acr": acr,
                                    "exp": time.time() + PENDING_LIFETIME}
        return RedirectResponse("/eid/login/mfa", status_code=303)
    return _complete_login(request, session, background, account, ["pwd"], target)


def _pending(request: Request, session: Session) -> tuple[dict, EidAccount] | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or pending.get("exp", 0) < time.time():
        request.session.pop(PENDING, None)
        return None
    return pending, eid.get_account(session, pending["account_id"])


@router.get("/eid/login/mfa")
def mfa_form(request: Request, session: DbSession) -> Response:
    found = _pending(request, session)
    if found is None:
        return RedirectResponse("/eid/login", status_code=303)
    return _mfa_page(request, session, found[1])


def _mfa_page(request: Request, session: Session, account: EidAccount, error: str | None = None,
              status_code: int = 200) -> HTMLResponse:
    return _page(request, "eid/mfa.html", {
        "totp": account.totp_enabled_at is not None, "passkeys": eid.passkey_count(session, account.id),
        "error": error}, status_code=status_code)


@router.post("/eid/login/mfa")
def mfa(request: Request, session: DbSession, background: BackgroundTasks,
        code: Annotated[str, Form(max_length=40)] = "") -> Response:
    found = _pending(request, session)
    if found is None:
        return RedirectResponse("/eid/login", status_code=303)
    pending, account = found
    try:
        method = eid.verify_totp_or_recovery(session, account, code, _ip(request))
    except Locked as exc:
        request.session.pop(PENDING, None)
        background.add_task(_deliver_outbox)
        return _login_form(request, next=pending["next"], acr=pending["acr"], error=_message(request, exc),
                           status_code=429)
    except EidError as exc:
        return _mfa_page(request, session, account, _message(request, exc), status_code=401)
    return _complete_login(request, session, background, account, [*pending["amr"], method], pending["next"])


@router.post("/eid/passkey/login/options")
def passkey_login_options(request: Request, session: DbSession) -> Response:
    found = _pending(request, session)
    handle, options = passkeys.authentication_options(
        session, passkeys.relying_party(_origin(request)), found[1].id if found else None)
    request.session[CEREMONY] = handle
    return Response(options, media_type="application/json")


@router.post("/eid/passkey/login")
def passkey_login(request: Request, session: DbSession, background: BackgroundTasks,
                  credential: Annotated[dict, Body(embed=True)], next: Annotated[str, Body(embed=True)] = "",
                  acr: Annotated[str, Body(embed=True)] = "") -> Response:
    found = _pending(request, session)
    ip = _ip(request)
    try:
        eid.check_ip(session, ip)
        account = passkeys.finish_authentication(session, request.session.pop(CEREMONY, None),
                                                 json.dumps(credential), passkeys.relying_party(_origin(request)))
    except EidError as exc:
        return JSONResponse({"error": _message(request, exc)}, status_code=401)
    amr = [*found[0]["amr"], "hwk"] if found else ["hwk"]
    target = found[0]["next"] if found else next
    wanted_acr = found[0]["acr"] if found else acr
    if wanted_acr == "2" and account.level < 2:
        return JSONResponse({"error": t("eid.err.level2_required", request_lang(request))}, status_code=403)
    return _complete_login(request, session, background, account, amr, target, as_json=True)


@router.get("/eid/logout")
def logout_get(request: Request, session: DbSession, next: str | None = None) -> Response:
    """A GET, as OpenID Connect RP-initiated logout needs; it only ever ends the citizen's own session."""
    return _logout(request, session, next)


@router.post("/eid/logout")
def logout_post(request: Request, session: DbSession, next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    return _logout(request, session, next)


def _logout(request: Request, session: Session, next: str | None) -> Response:
    eid.end_session(session, request.session)
    for key in (eid.WEB_SESSION_KEY, PENDING, CEREMONY):
        request.session.pop(key, None)
    return RedirectResponse(safe_next(next) or "/eid/login", status_code=303)


# ---- level 1: self-registration ------------------------------------------------------------------

_REGISTER_FIELDS = ("pin", "full_name", "birth_date", "phone")


def _register_page(request: Request, form: dict, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    return _page(request, "eid/register.html", {"form": form, "error": error}, status_code=status_code)


@router.get("/eid/register")
def register_form(request: Request) -> HTMLResponse:
    return _register_page(request, {})


@router.post("/eid/register")
def register(request: Request, session: DbSession, background: BackgroundTasks,
             pin: Annotated[str, Form(max_length=40)] = "", full_name: Annotated[str, Form(max_length=200)] = "",
             birth_date: Annotated[str, Form(max_length=20)] = "", phone: Annotated[str, Form(max_length=30)] = "",
             password: Annotated[str, Form(max_length=200)] = "",
             password_again: Annotated[str, Form(max_length=200)] = "") -> Response:
    form = {"pin": pin, "full_name": full_name, "birth_date": birth_date, "phone": phone}
    lang = request_lang(request)
    try:
        born = dt.date.fromisoformat(birth_date)
    except ValueError:
        return _register_page(request, form, t("eid.err.birth_date", lang), 422)
    if password != password_again:
        return _register_page(request, form, t("eid.err.password_mismatch", lang), 422)
    if not full_name.strip():
        return _register_page(request, form, t("eid.err.full_name", lang), 422)
    try:
        handle = eid.start_registration(session, pin=pin, full_name=full_name, birth_date=born, phone=phone,
                                        password=password, ip=_ip(request))
    except EidError as exc:
        return _register_page(request, form, _message(request, exc), 429 if isinstance(exc, Locked) else 422)
    request.session[REGISTRATION] = handle
    background.add_task(_deliver_outbox)
    return RedirectResponse("/eid/register/verify", status_code=303)


def _verify_page(request: Request, session: Session, error: str | None = None, status_code: int = 200) -> Response:
    try:
        phone = eid.pending_phone(session, request.session.get(REGISTRATION), "register")
    except EidError:
        _flash(request, "eid.err.expired")
        return RedirectResponse("/eid/register", status_code=303)
    return _page(request, "eid/register_verify.html", {"phone": f"{phone[:4]}•••••{phone[-3:]}", "error": error},
                 status_code=status_code)


@router.get("/eid/register/verify")
def register_verify_form(request: Request, session: DbSession) -> Response:
    return _verify_page(request, session)


@router.post("/eid/register/verify")
def register_verify(request: Request, session: DbSession, background: BackgroundTasks,
                    code: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        eid.finish_registration(session, request.session.get(REGISTRATION), code, _ip(request))
    except EidError as exc:
        if exc.key == "eid.err.expired":
            request.session.pop(REGISTRATION, None)
        return _verify_page(request, session, _message(request, exc), 422)
    request.session.pop(REGISTRATION, None)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.registered")
    return RedirectResponse("/eid/login", status_code=303)


# ---- forgotten password ---------------------------------------------------------------------------

RESET = "eid_reset"


@router.get("/eid/recover")
def recover_form(request: Request) -> HTMLResponse:
    return _page(request, "eid/recover.html", {"pin": "", "error": None, "sent": False})


@router.post("/eid/recover")
def recover(request: Request, session: DbSession, background: BackgroundTasks,
            pin: Annotated[str, Form(max_length=40)] = "") -> Response:
    try:
        request.session[RESET] = eid.start_password_reset(session, pin, _ip(request))
    except EidError as exc:
        return _page(request, "eid/recover.html", {"pin": pin, "error": _message(request, exc), "sent": False},
                     status_code=429 if isinstance(exc, Locked) else 422)
    background.add_task(_deliver_outbox)
    return _page(request, "eid/recover.html", {"pin": pin, "error": None, "sent": True})


@router.post("/eid/recover/verify")
def recover_verify(request: Request, session: DbSession, background: BackgroundTasks,
                   code: Annotated[str, Form(max_length=20)] = "",
                   password: Annotated[str, Form(max_length=200)] = "",
                   password_again: Annotated[str, Form(max_length=200)] = "") -> Response:
    if password != password_again:
        return _page(request, "eid/recover.html", {"pin": "", "sent": True,
                                                   "error": t("eid.err.password_mismatch", request_lang(request))},
                     status_code=422)
    try:
        eid.finish_password_reset(session, request.session.get(RESET), code, password, _ip(request))
    except EidError as exc:
        expired = exc.key == "eid.err.expired"
        if expired:
            request.session.pop(RESET, None)
        return _page(request, "eid/recover.html", {"pin": "", "sent": not expired, "error": _message(request, exc)},
                     status_code=422)
    request.session.pop(RESET, None)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.password_reset")
    return RedirectResponse("/eid/login", status_code=303)


# ---- activation of an account created in person --------------------------------------------------


@router.get("/eid/activate")
def activate_form(request: Request) -> HTMLResponse:
    return _page(request, "eid/activate.html", {"pin": "", "error": None})


@router.post("/eid/activate")
def activate(request: Request, session: DbSession, background: BackgroundTasks,
             pin: Annotated[str, Form(max_length=40)] = "", code: Annotated[str, Form(max_length=20)] = "",
             password: Annotated[str, Form(max_length=200)] = "",
             password_again: Annotated[str, Form(max_length=200)] = "") -> Response:
    lang = request_lang(request)
    if password != password_again:
        return _page(request, "eid/activate.html", {"pin": pin, "error": t("eid.err.password_mismatch", lang)},
                     status_code=422)
    try:
        eid.activate(session, pin=pin, code=code, password=password, ip=_ip(request))
    except EidError as exc:
        return _page(request, "eid/activate.html", {"pin": pin, "error": _message(request, exc)},
                     status_code=429 if isinstance(exc, Locked) else 422)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.activated")
    return RedirectResponse("/eid/login", status_code=303)


# ---- the citizen's account -----------------------------------------------------------------------


def _citizen_page(request: Request, session: Session, principal: Principal, template: str, context: dict,
                  status_code: int = 200) -> HTMLResponse:
    account = eid.get_account(session, principal.account_id)
    owner = _owner(session, principal)
    return render(request, template, {
        "principal": principal, "account": account, "owner": owner, "flash": _take_flash(request),
        "acting_for_child": principal.guardian_account_id is not None, **context}, status_code=status_code)


@router.get("/me")
def me(request: Request, session: DbSession, principal: Citizen) -> HTMLResponse:
    person = eid.my_record(session, principal)
    readers = eid.who_read_me(session, principal)
    return _citizen_page(request, session, principal, "eid/me.html", {
        "person": person, "readers": readers, "section": "me",
        "notifications": outbox.recent_for_account(session, principal.account_id, limit=10),
        "proofings": eid.proofing_history(session, principal.account_id),
        "passkey_count": eid.passkey_count(session, _owner(session, principal).id)})


@router.get("/me/access-log/proofs.json")
def access_log_proofs(session: DbSession, principal: Citizen) -> JSONResponse:
    """The "who read my data" entries with RFC 9162 inclusion proofs under the latest signed checkpoint,
    to check offline with `dancu audit verify-inclusion FILE --key <the key at /audit/checkpoint/key>`."""
    return JSONResponse(transparency.inclusion_bundle(session, "person", principal.person_id),
                        headers={"Content-Disposition": 'attachment; filename="dancu-access-log-proofs.json"'})


@router.get("/me/security")
def security(request: Request, session: DbSession, principal: Citizen) -> HTMLResponse:
    owner = _owner(session, principal)
    return _citizen_page(request, session, principal, "eid/security.html", {
        "section": "security", "passkeys": passkeys.list_passkeys(session, owner.id),
        "recovery_left": eid.recovery_codes_left(session, owner.id)})


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@router.post("/me/totp/start")
def totp_start(request: Request, session: DbSession, principal: Citizen) -> Response:
    owner = _owner(session, principal)
    try:
        eid.begin_totp(session, owner)
    except EidError as exc:
        _flash(request, exc.key)
        return RedirectResponse("/me/security", status_code=303)
    return RedirectResponse("/me/totp", status_code=303)


def _totp_page(request: Request, session: Session, principal: Principal, error: str | None = None,
               status_code: int = 200) -> Response:
    owner = _owner(session, principal)
    if not owner.totp_secret or owner.totp_enabled_at is not None:
        return RedirectResponse("/me/security", status_code=303)
    return _citizen_page(request, session, principal, "eid/totp.html", {
        "section": "security", "secret": owner.totp_secret, "qr": _qr_data_uri(eid.totp_uri(owner)),
        "error": error}, status_code=status_code)


@router.get("/me/totp")
def totp_form(request: Request, session: DbSession, principal: Citizen) -> Response:
    return _totp_page(request, session, principal)


@router.post("/me/totp/confirm")
def totp_confirm(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                 code: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        eid.confirm_totp(session, _owner(session, principal), code)
    except EidError as exc:
        return _totp_page(request, session, principal, _message(request, exc), status_code=422)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.totp_on")
    return RedirectResponse("/me/security", status_code=303)


def _reauthenticate(request: Request, session: Session, owner: EidAccount, password: str) -> str | None:
    """Changing a factor asks for the password again: a borrowed unlocked browser is not enough."""
    try:
        eid.authenticate_password(session, owner.pin, password, _ip(request))
    except EidError as exc:
        return exc.key
    return None


@router.post("/me/totp/disable")
def totp_disable(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                 password: Annotated[str, Form(max_length=200)] = "") -> Response:
    owner = _owner(session, principal)
    problem = _reauthenticate(request, session, owner, password)
    if problem is None:
        eid.disable_totp(session, owner)
        background.add_task(_deliver_outbox)
    _flash(request, problem or "eid.flash.totp_off")
    return RedirectResponse("/me/security", status_code=303)


@router.post("/me/recovery-codes")
def recovery_codes(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                   password: Annotated[str, Form(max_length=200)] = "") -> Response:
    owner = _owner(session, principal)
    problem = _reauthenticate(request, session, owner, password)
    if problem is not None:
        _flash(request, problem)
        return RedirectResponse("/me/security", status_code=303)
    codes = eid.new_recovery_codes(session, owner)
    background.add_task(_deliver_outbox)
    return _citizen_page(request, session, principal, "eid/recovery_codes.html", {"section": "security",
                                                                                 "codes": codes})


@router.post("/me/password")
def password_change(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                    current: Annotated[str, Form(max_length=200)] = "",
                    password: Annotated[str, Form(max_length=200)] = "",
                    password_again: Annotated[str, Form(max_length=200)] = "") -> Response:
    if password != password_again:
        _flash(request, "eid.err.password_mismatch")
        return RedirectResponse("/me/security", status_code=303)
    try:
        eid.change_password(session, _owner(session, principal), current, password, _ip(request),
                            eid.current_session_id(session, request.session))
    except EidError as exc:
        _flash(request, exc.key)
        return RedirectResponse("/me/security", status_code=303)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.password_changed")
    return RedirectResponse("/me/security", status_code=303)


PHONE_CHANGE = "eid_phone"


@router.post("/me/phone")
def phone_change(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                 phone: Annotated[str, Form(max_length=30)] = "") -> Response:
    try:
        request.session[PHONE_CHANGE] = eid.start_phone_change(session, _owner(session, principal), phone)
    except EidError as exc:
        _flash(request, exc.key)
        return RedirectResponse("/me/security", status_code=303)
    background.add_task(_deliver_outbox)
    return RedirectResponse("/me/phone", status_code=303)


@router.get("/me/phone")
def phone_verify_form(request: Request, session: DbSession, principal: Citizen) -> HTMLResponse:
    return _citizen_page(request, session, principal, "eid/phone.html", {"section": "security", "error": None})


@router.post("/me/phone/verify")
def phone_verify(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                 code: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        eid.finish_phone_change(session, _owner(session, principal), request.session.get(PHONE_CHANGE), code,
                                _ip(request))
    except EidError as exc:
        if exc.key == "eid.err.expired":
            request.session.pop(PHONE_CHANGE, None)
            _flash(request, exc.key)
            return RedirectResponse("/me/security", status_code=303)
        return _citizen_page(request, session, principal, "eid/phone.html",
                             {"section": "security", "error": _message(request, exc)}, status_code=422)
    request.session.pop(PHONE_CHANGE, None)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.phone_changed")
    return RedirectResponse("/me/security", status_code=303)


@router.post("/me/passkeys/options")
def passkey_register_options(request: Request, session: DbSession, principal: Citizen) -> Response:
    handle, options = passkeys.registration_options(session, _owner(session, principal),
                                                    passkeys.relying_party(_origin(request)))
    request.session[CEREMONY] = handle
    return Response(options, media_type="application/json")


@router.post("/me/passkeys")
def passkey_register(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                     credential: Annotated[dict, Body(embed=True)],
                     name: Annotated[str, Body(embed=True, max_length=80)] = "") -> Response:
    try:
        passkeys.finish_registration(session, _owner(session, principal), request.session.pop(CEREMONY, None),
                                     json.dumps(credential), passkeys.relying_party(_origin(request)), name)
    except EidError as exc:
        return JSONResponse({"error": _message(request, exc)}, status_code=422)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.passkey_added")
    return JSONResponse({"redirect": "/me/security"})


@router.post("/me/passkeys/{passkey_id}/delete")
def passkey_delete(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                   passkey_id: IdPath) -> Response:
    try:
        passkeys.remove_passkey(session, _owner(session, principal), passkey_id)
    except EidError as exc:
        _flash(request, exc.key)
        return RedirectResponse("/me/security", status_code=303)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.passkey_removed")
    return RedirectResponse("/me/security", status_code=303)


@router.get("/me/sessions")
def sessions_page(request: Request, session: DbSession, principal: Citizen) -> HTMLResponse:
    owner = _owner(session, principal)
    return _citizen_page(request, session, principal, "eid/sessions.html", {
        "section": "sessions", "sessions": eid.list_sessions(session, owner.id),
        "current_id": eid.current_session_id(session, request.session)})


@router.post("/me/sessions/{session_id}/revoke")
def session_revoke(request: Request, session: DbSession, principal: Citizen, session_id: IdPath) -> Response:
    try:
        eid.revoke_session(session, _owner(session, principal).id, session_id)
    except EidError as exc:
        _flash(request, exc.key)
        return RedirectResponse("/me/sessions", status_code=303)
    _flash(request, "eid.flash.session_revoked")
    return RedirectResponse("/me/sessions", status_code=303)


@router.post("/me/sessions/revoke-others")
def sessions_revoke_others(request: Request, session: DbSession, principal: Citizen) -> Response:
    eid.revoke_other_sessions(session, _owner(session, principal).id,
                              eid.current_session_id(session, request.session))
    _flash(request, "eid.flash.sessions_revoked")
    return RedirectResponse("/me/sessions", status_code=303)


@router.get("/me/dependents")
def dependents_page(request: Request, session: DbSession, principal: Citizen) -> HTMLResponse:
    owner = _owner(session, principal)
    return _citizen_page(request, session, principal, "eid/dependents.html", {
        "section": "dependents", "children": eid.dependents(session, owner)})


@router.post("/me/dependents")
def dependent_add(request: Request, session: DbSession, background: BackgroundTasks, principal: Citizen,
                  person_id: Annotated[int, Form(ge=1, le=MAX_ID)]) -> Response:
    try:
        eid.add_dependent(session, _owner(session, principal), person_id)
    except EidError as exc:
        _flash(request, exc.key)
        return RedirectResponse("/me/dependents", status_code=303)
    background.add_task(_deliver_outbox)
    _flash(request, "eid.flash.dependent_added")
    return RedirectResponse("/me/dependents", status_code=303)


@router.post("/me/switch")
def switch(request: Request, session: DbSession, principal: Citizen,
           account_id: Annotated[str, Form(max_length=20)] = "") -> Response:
    target = int(account_id) if account_id.isdigit() else None
    try:
        eid.switch_account(session, request.session, target)
    except EidError as exc:
        _flash(request, exc.key)
    return RedirectResponse(HOME, status_code=303)


# ---- residence applications: the citizen applies, the destination commune decides ----------------

_RESIDENCE_FIELDS = ("kind", "unit_id", "address_line", "household_id", "relationship_to_head", "valid_from",
                     "expires_on")


def _residence_page(request: Request, session: Session, principal: Principal, form: dict, errors: FormErrors,
                    status_code: int = 200) -> HTMLResponse:
    unit = get_unit(session, int(form["unit_id"])) if str(form.get("unit_id", "")).isdigit() else None
    return _citizen_page(request, session, principal, "eid/residence.html", {
        "section": "residence", "applications": residence_applications.my_applications(session, principal.person_id),
        "form": form, "errors": errors, "relationships": HOUSEHOLD_RELATIONSHIPS,
        "unit_choice": (str(unit.id), unit_label(unit)) if unit else None}, status_code=status_code)


@router.get("/me/residence")
def residence_page(request: Request, session: DbSession, principal: Citizen) -> HTMLResponse:
    return _residence_page(request, session, principal, {"kind": "permanent", "relationship_to_head": "head"},
                           FormErrors())


@router.get("/me/residence/communes")
def residence_communes(request: Request, session: DbSession, principal: Citizen,
                       q: Annotated[str, Query(max_length=120)] = "") -> HTMLResponse:
    """The commune picker's options for a citizen (the console's /units/options is for staff)."""
    found = search_units(session, q, level="commune", limit=30)
    return render(request, "units/_options.html", {"options": [(u.id, unit_label(u)) for u in found], "query": q})


@router.post("/me/residence")
async def residence_apply(request: Request, session: DbSession, principal: Citizen) -> Response:
    raw = await request.form()
    form = {name: str(raw.get(name, "")).strip() for name in _RESIDENCE_FIELDS}
    lang = request_lang(request)
    try:
        data = ApplicationInput.model_validate({k: v for k, v in form.items() if v != ""})
        residence_applications.file_online(session, account_id=principal.guardian_account_id or principal.account_id,
                                           level=principal.level, person_id=principal.person_id, data=data)
    except ValidationError as exc:
        errors = FormErrors.from_validation(exc, lang)
    except (RegistryError, LookupError) as exc:
        errors = FormErrors.message(str(exc), lang)
    else:
        _flash(request, "flash.application_filed")
        return RedirectResponse("/me/residence", status_code=303)
    session.rollback()
    return _residence_page(request, session, principal, form, errors, status_code=422)


# ---- registrar console: in-person proofing (level 2) ---------------------------------------------

PROOFING_PURPOSE = "e-ID level-2 identity proofing in person"


@router.get("/eid/proofing")
def proofing_search(request: Request, session: DbSession, actor: RegistrarActor, pin: str = "") -> HTMLResponse:
    results, error = None, None
    if pin:
        try:
            results = registry.search_persons(session, actor, PersonQuery(pin=pin.strip()), PROOFING_PURPOSE)
        except ValidationError:
            error = t("eid.err.pin", request_lang(request))
    return render(request, "eid/proofing_search.html", {"pin": pin, "results": results, "error": error,
                                                        "section": "eid"}, actor=actor)


def _proofing_page(request: Request, session: Session, actor: Actor, person_id: int, form: dict,
                   error: str | None = None, result: eid.ProofingResult | None = None,
                   status_code: int = 200) -> HTMLResponse:
    try:
        person = registry.get_person(session, actor, person_id, PROOFING_PURPOSE)
    except registry.PersonNotFound:
        raise HTTPException(404) from None
    account = eid.account_for_person(session, person_id)
    return render(request, "eid/proofing_person.html", {
        "person": person, "account": account, "form": form, "error": error, "result": result,
        "places": eid.PROOFING_PLACES, "section": "eid",
        "history": eid.proofing_history(session, account.id) if account else []},
        actor=actor, status_code=status_code)


@router.get("/eid/proofing/{person_id}")
def proofing_person(request: Request, session: DbSession, actor: RegistrarActor, person_id: IdPath) -> HTMLResponse:
    return _proofing_page(request, session, actor, person_id, {"place": "police_office"})


@router.post("/eid/proofing/{person_id}")
def proofing_submit(request: Request, session: DbSession, background: BackgroundTasks, actor: RegistrarActor,
                    person_id: IdPath, card_checked: Annotated[str, Form(max_length=5)] = "",
                    face_matched: Annotated[str, Form(max_length=5)] = "",
                    place: Annotated[str, Form(max_length=20)] = "",
                    location: Annotated[str, Form(max_length=200)] = "",
                    phone: Annotated[str, Form(max_length=30)] = "") -> HTMLResponse:
    form = {"card_checked": card_checked, "face_matched": face_matched, "place": place, "location": location,
            "phone": phone}
    try:
        result = eid.proof_in_person(session, actor, person_id, card_checked=card_checked == "on",
                                     face_matched=face_matched == "on", place=place, location=location,
                                     phone=phone.strip() or None)
    except EidError as exc:
        return _proofing_page(request, session, actor, person_id, form, _message(request, exc), status_code=422)
    except (registry.PersonNotFound, PurposeRequired):
        raise HTTPException(404) from None
    background.add_task(_deliver_outbox)
    return _proofing_page(request, session, actor, person_id, {"place": place}, result=result)


def login_url(next: str, acr: int | None = None) -> str:
    """The login page's address, for other domains (the OIDC provider) to redirect to."""
    query = {"next": next, **({"acr": str(acr)} if acr else {})}
    return f"/eid/login?{urlencode(query)}"
