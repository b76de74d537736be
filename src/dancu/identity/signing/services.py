"""Signatures: the state's seal on PDF results, citizens' signing certificates, the free-of-charge policy.

Other domains call ``sign_pdf_as_state`` (public services sign their results
with it) and ``verify_pdf``. A citizen signs only with a level-2 e-ID, after a
recent interactive login, with a key kept in dancu's keystore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from dancu.crypto import derive_key
from dancu.identity.eid import services as eid
from dancu.identity.pki import services as pki
from dancu.identity.signing.models import SignatureRecord
from dancu.identity.signing.pades import SignatureInputError, Verification, sign_data, sign_pdf, verify_pdf

__all__ = [
    "CITIZEN_REVOCATION_REASONS",
    "MAX_PDF_BYTES",
    "FreeOfChargePolicy",
    "SignatureInputError",
    "SigningError",
    "Verification",
    "citizen_certificate",
    "citizen_certificates",
    "issue_citizen_certificate",
    "login_is_recent",
    "policy",
    "revoke_citizen_certificate",
    "sign_data_as_citizen",
    "sign_pdf_as_citizen",
    "sign_pdf_as_state",
    "signatures_of",
    "today",
    "verify_pdf",
]

MAX_PDF_BYTES = 20 * 1024 * 1024
# Signing and obtaining a certificate need a login this recent (the citizen is present, not a stale session).
RECENT_LOGIN = dt.timedelta(minutes=15)
DEFAULT_FREE_DAYS = 365
_CITIZEN_ID_PURPOSE = "dancu/pki-citizen-id/v1"
LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")
CITIZEN_REVOCATION_REASONS = ("cessation_of_operation", "key_compromise", "affiliation_changed", "superseded")


class SigningError(Exception):
    """A refusal the citizen can act on; ``code`` is a catalog key suffix ("signing.err.<code>")."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class FreeOfChargePolicy:
    """Signatures for public services are free between ``free_from`` and ``free_until`` (inclusive)."""

    free_from: dt.date
    free_until: dt.date

    def covers(self, day: dt.date, public_service: bool) -> bool:
        return public_service and self.free_from <= day <= self.free_until

    def active_on(self, day: dt.date) -> bool:
        return self.free_from <= day <= self.free_until


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today in Vietnam, the day the free-of-charge policy is judged on."""
    return _now().astimezone(LOCAL_TIME).date()


def policy(session: Session) -> FreeOfChargePolicy:
    """From ``DANCU_SIGNING_FREE_FROM`` (ISO date; default: the day the country CA was created)
    and ``DANCU_SIGNING_FREE_DAYS`` (default 365, the seeds' one year)."""
    start_text = os.environ.get("DANCU_SIGNING_FREE_FROM", "").strip()
    days_text = os.environ.get("DANCU_SIGNING_FREE_DAYS", "").strip()
    try:
        start = dt.date.fromisoformat(start_text) if start_text else None
        days = int(days_text) if days_text else DEFAULT_FREE_DAYS
    except ValueError:
        raise ValueError("DANCU_SIGNING_FREE_FROM must be a date (YYYY-MM-DD) and DANCU_SIGNING_FREE_DAYS "
                         "a whole number of days") from None
    if start is None:
        start = pki.country_ca(session).not_valid_before_utc.astimezone(LOCAL_TIME).date()
    return FreeOfChargePolicy(start, start + dt.timedelta(days=max(days, 0) - 1))


def _record(session: Session, *, account_id: int | None, serial: int, kind: str, document: bytes, reason: str,
            public_service: bool, free: bool) -> None:
    session.add(SignatureRecord(at=_now(), account_id=account_id, certificate_serial=format(serial, "x"), kind=kind,
                                document_sha256=hashlib.sha256(document).hexdigest(), reason=reason[:200],
                                public_service=public_service, free_of_charge=free))
    session.flush()


def _check_pdf_size(pdf_bytes: bytes) -> None:
    if len(pdf_bytes) > MAX_PDF_BYTES:
        raise SignatureInputError("too-large", f"the PDF is larger than {MAX_PDF_BYTES // (1024 * 1024)} MB")


def sign_pdf_as_state(session: Session, pdf_bytes: bytes, reason: str, *, location: str = "Việt Nam") -> bytes:
    """Seal a PDF result with the state's certificate: PAdES B-LT with a dancu timestamp."""
    _check_pdf_size(pdf_bytes)
    handle, cert = pki.state_signer(session)
    signed = sign_pdf(session, pdf_bytes, handle=handle, cert=cert, reason=reason, location=location)
    _record(session, account_id=None, serial=cert.serial_number, kind="pdf", document=pdf_bytes, reason=reason,
            public_service=True, free=True)
    return signed


# ---- citizens ------------------------------------------------------------------------------------

def _purpose(account_id: int) -> str:
    return f"citizen:eid-account:{account_id}"


def login_is_recent(principal: eid.Principal) -> bool:
    return _now() - principal.auth_time <= RECENT_LOGIN


def _require_signer(principal: eid.Principal, *, fresh: bool = True) -> None:
    if principal.guardian_account_id is not None:
        raise SigningError("guardian", "a guardian cannot hold or use a signing certificate for someone else")
    if principal.level < 2:
        raise SigningError("level", "a level-2 e-ID is needed for a signing certificate")
    if fresh and not login_is_recent(principal):
        raise SigningError("reauth", "log in again to sign (the last login is too old)")


def citizen_certificate(session: Session, principal: eid.Principal) -> pki.CertificateInfo | None:
    """The citizen's current (not revoked, not expired) signing certificate."""
    now = _now()
    return next((info for info in pki.certificates(session, purpose=_purpose(principal.account_id))
                 if info.revoked_at is None and info.not_after > now), None)


def citizen_certificates(session: Session, principal: eid.Principal) -> list[pki.CertificateInfo]:
    return pki.certificates(session, purpose=_purpose(principal.account_id))


def _citizen_identifier(pin: str) -> str:
    """Stable per person, not the PIN itself: a certificate is public, the PIN is personal data."""
    digest = hmac.new(derive_key(_CITIZEN_ID_PURPOSE), pin.encode(), hashlib.sha256).hexdigest()
    return f"DANCU-{digest[:24].upper()}"


def issue_citizen_certificate(session: Session, principal: eid.Principal) -> pki.CertificateInfo:
    """A citizen-signing certificate bound to the e-ID; the key is generated in the keystore."""
    _require_signer(principal)
    if citizen_certificate(session, principal) is not None:
        raise SigningError("exists", "you already hold a valid signing certificate; revoke it to get a new one")
    claims = eid.claims_for(session, principal.account_id, ["name", "family_name", "given_name", "pin"],
                            "issue a signing certificate bound to the citizen's e-ID")
    if not claims.get("name") or not claims.get("pin"):
        raise SigningError("no-identity", "the population database has no name or PIN for this account")
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if claims.get("family_name"):
        attributes.append(x509.NameAttribute(NameOID.SURNAME, claims["family_name"]))
    if claims.get("given_name"):
        attributes.append(x509.NameAttribute(NameOID.GIVEN_NAME, claims["given_name"]))
    attributes += [x509.NameAttribute(NameOID.SERIAL_NUMBER, _citizen_identifier(claims["pin"])),
                   x509.NameAttribute(NameOID.COMMON_NAME, claims["name"][:64])]
    store = pki.keystore(session)
    handle = store.generate(f"{_purpose(principal.account_id)}/{x509.random_serial_number():x}", "ec-p256")
    cert = pki.issue_certificate(session, profile="citizen-signing", subject=x509.Name(attributes),
                                 public_key=store.public_key(handle), purpose=_purpose(principal.account_id),
                                 key_id=handle.key_id)
    return pki.certificate_info(session, cert.serial_number)


def revoke_citizen_certificate(session: Session, principal: eid.Principal,
                               reason: str = "cessation_of_operation") -> pki.CertificateInfo:
    _require_signer(principal, fresh=False)
    if reason not in CITIZEN_REVOCATION_REASONS:
        raise SigningError("reason", "choose why the certificate is revoked")
    current = citizen_certificate(session, principal)
    if current is None:
        raise SigningError("none", "you hold no valid signing certificate")
    return pki.revoke(session, current.serial, reason)


def _citizen_signer(session: Session, principal: eid.Principal):
    _require_signer(principal)
    current = citizen_certificate(session, principal)
    if current is None or current.key_id is None:
        raise SigningError("none", "you hold no valid signing certificate")
    return pki.keystore(session).handle(current.key_id), pki.certificate(session, current.serial)


def sign_pdf_as_citizen(session: Session, principal: eid.Principal, pdf_bytes: bytes, reason: str, *,
                        public_service: bool = True) -> bytes:
    _check_pdf_size(pdf_bytes)
    handle, cert = _citizen_signer(session, principal)
    signed = sign_pdf(session, pdf_bytes, handle=handle, cert=cert, reason=reason,
                      name=cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    _record(session, account_id=principal.account_id, serial=cert.serial_number, kind="pdf", document=pdf_bytes,
            reason=reason, public_service=public_service,
            free=policy(session).covers(today(), public_service))
    return signed


def sign_data_as_citizen(session: Session, principal: eid.Principal, data: bytes, reason: str, *,
                         public_service: bool = True) -> bytes:
    """A detached CMS signature (DER) of ``data``, e.g. an application form's JSON."""
    handle, cert = _citizen_signer(session, principal)
    signature = sign_data(session, data, handle=handle, cert=cert)
    _record(session, account_id=principal.account_id, serial=cert.serial_number, kind="cms", document=data,
            reason=reason, public_service=public_service,
            free=policy(session).covers(today(), public_service))
    return signature


def signatures_of(session: Session, principal: eid.Principal, limit: int = 50) -> list[SignatureRecord]:
    return list(session.scalars(select(SignatureRecord).where(SignatureRecord.account_id == principal.account_id)
                                .order_by(SignatureRecord.id.desc()).limit(limit)))
