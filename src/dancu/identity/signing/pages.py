"""Signature pages: the public verification page (no login) and the citizen's /me/signatures."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from cryptography import x509
from cryptography.x509.oid import NameOID
from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dancu.i18n import t
from dancu.identity.eid import services as eid
from dancu.identity.pki import services as pki
from dancu.identity.signing import services
from dancu.web.deps import DbSession
from dancu.web.templating import render, request_lang

router = APIRouter(tags=["signatures"], include_in_schema=False)

MY_PAGE = "/me/signatures"
_FLASH = "signing_flash"


class _CitizenLogin(HTTPException):
    """To the e-ID login, then back here; ``fresh`` demands a new interactive level-2 login (to sign)."""

    def __init__(self, fresh: bool = False) -> None:
        query = f"next={quote(MY_PAGE, safe='')}" + ("&acr=2&prompt=login" if fresh else "")
        self.url = f"/eid/login?{query}"
        super().__init__(303, headers={"Location": self.url})


def _citizen(request: Request, session: DbSession) -> eid.Principal:
    principal = eid.principal_from_web_session(session, request.session)
    if principal is None:
        raise _CitizenLogin()
    return principal


Citizen = Annotated[eid.Principal, Depends(_citizen)]


def _read_upload(upload: UploadFile | None) -> bytes:
    """Sync on purpose: the endpoints run in the thread pool, where pyHanko runs its own event loop."""
    if upload is None:
        return b""
    # One byte more than allowed tells "too large" without reading an unbounded body.
    return upload.file.read(services.MAX_PDF_BYTES + 1)


def _verify_page(request: Request, verification=None, filename: str = "", status_code: int = 200) -> HTMLResponse:
    return render(request, "signing/verify.html", {"verification": verification, "filename": filename,
                                                   "max_mb": services.MAX_PDF_BYTES // (1024 * 1024)},
                  status_code=status_code)


@router.get("/signatures/verify", response_class=HTMLResponse, summary="Verify a signed PDF (public)")
def verify_form(request: Request) -> HTMLResponse:
    return _verify_page(request)


@router.post("/signatures/verify", response_class=HTMLResponse, summary="Verify a signed PDF (public)")
def verify_upload(request: Request, session: DbSession,
                        document: Annotated[UploadFile | None, File()] = None) -> HTMLResponse:
    data = _read_upload(document)
    filename = (document.filename or "")[:200] if document else ""
    if not data:
        return _verify_page(request, services.Verification(sha256="", problem="empty"), filename, status_code=422)
    if len(data) > services.MAX_PDF_BYTES:
        return _verify_page(request, services.Verification(sha256="", problem="too-large"), filename,
                            status_code=422)
    verification = services.verify_pdf(session, data)
    return _verify_page(request, verification, filename, status_code=200 if verification.problem is None else 422)


# ---- the citizen's page --------------------------------------------------------------------------

def _flash(request: Request, key: str) -> None:
    request.session[_FLASH] = key


def _my_page(request: Request, session: DbSession, principal: eid.Principal, *, error: str | None = None,
             status_code: int = 200) -> HTMLResponse:
    account = eid.get_account(session, principal.account_id)
    owner = eid.get_account(session, principal.guardian_account_id or principal.account_id)
    current = services.citizen_certificate(session, principal)
    policy = services.policy(session)
    today = services.today()
    return render(request, "signing/me.html", {
        "principal": principal, "account": account, "owner": owner, "section": "signatures",
        "acting_for_child": principal.guardian_account_id is not None,
        # The e-ID layout shows its own flash; this page shows its own messages.
        "flash": None, "signing_flash": request.session.pop(_FLASH, None), "error": error,
        "certificate": current, "history": services.citizen_certificates(session, principal),
        "holder": _holder(pki.certificate(session, current.serial)) if current else None,
        "policy": policy, "free_now": policy.active_on(today), "signatures": services.signatures_of(session, principal),
        "login_is_recent": services.login_is_recent(principal), "fresh_login_url": _CitizenLogin(fresh=True).url,
        "reasons": services.CITIZEN_REVOCATION_REASONS, "max_mb": services.MAX_PDF_BYTES // (1024 * 1024),
    }, status_code=status_code)


def _holder(cert: x509.Certificate) -> dict[str, str]:
    def first(oid: x509.ObjectIdentifier) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""
    return {"name": first(NameOID.COMMON_NAME), "identifier": first(NameOID.SERIAL_NUMBER)}


def _refusal(request: Request, session: DbSession, principal: eid.Principal, exc: Exception) -> Response:
    if isinstance(exc, services.SigningError) and exc.code == "reauth":
        raise _CitizenLogin(fresh=True)
    code = getattr(exc, "code", "unsignable")
    prefix = "signing.err." if isinstance(exc, services.SigningError) else "signing.verdict."
    return _my_page(request, session, principal, error=t(prefix + code, request_lang(request)), status_code=422)


@router.get(MY_PAGE, response_class=HTMLResponse, summary="The citizen's signing certificate and signatures")
def my_signatures(request: Request, session: DbSession, principal: Citizen) -> HTMLResponse:
    return _my_page(request, session, principal)


@router.post(f"{MY_PAGE}/certificate", summary="Obtain a signing certificate")
def obtain_certificate(request: Request, session: DbSession, principal: Citizen) -> Response:
    try:
        services.issue_citizen_certificate(session, principal)
    except services.SigningError as exc:
        return _refusal(request, session, principal, exc)
    _flash(request, "signing.flash.issued")
    return RedirectResponse(MY_PAGE, status_code=303)


@router.post(f"{MY_PAGE}/revoke", summary="Revoke the signing certificate")
def revoke_certificate(request: Request, session: DbSession, principal: Citizen,
                       reason: Annotated[str, Form(max_length=40)] = "cessation_of_operation") -> Response:
    try:
        services.revoke_citizen_certificate(session, principal, reason)
    except services.SigningError as exc:
        return _refusal(request, session, principal, exc)
    _flash(request, "signing.flash.revoked")
    return RedirectResponse(MY_PAGE, status_code=303)


@router.post(f"{MY_PAGE}/sign", summary="Sign a PDF with the citizen's certificate")
def sign_document(request: Request, session: DbSession, principal: Citizen,
                        document: Annotated[UploadFile | None, File()] = None,
                        reason: Annotated[str, Form(max_length=200)] = "",
                        public_service: Annotated[bool, Form()] = False) -> Response:
    data = _read_upload(document)
    if not data:
        return _my_page(request, session, principal, error=t("signing.verdict.empty", request_lang(request)),
                        status_code=422)
    try:
        signed = services.sign_pdf_as_citizen(session, principal, data,
                                              reason.strip() or t("signing.default_reason", request_lang(request)),
                                              public_service=public_service)
    except (services.SigningError, services.SignatureInputError) as exc:
        return _refusal(request, session, principal, exc)
    stem = (document.filename or "document").rsplit(".", 1)[0]
    safe_stem = "".join(c for c in stem if c.isascii() and (c.isalnum() or c in "-_")) or "document"
    return Response(signed, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{safe_stem[:80]}-signed.pdf"'})
