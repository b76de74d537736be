"""Passkeys (WebAuthn) with py_webauthn: registration and authentication ceremonies.

Challenges are stored server-side (``EidChallenge``) and used once; the
browser keeps only a random handle in its session. The expected origin and
RP ID come from ``DANCU_EID_ORIGIN`` (set it in production, e.g.
``https://eid.example.gov.vn``); without it, the origin the request was
addressed to is expected, which suits the laptop demo.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes as _from_b64
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from dancu.identity.eid.models import EidAccount, EidPasskey
from dancu.identity.eid.outbox import notify
from dancu.identity.eid.services import EidError, new_challenge, open_challenge

RP_NAME = "dancu e-ID"
CEREMONY_LIFETIME = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class RelyingParty:
    origin: str
    rp_id: str


def relying_party(request_origin: str) -> RelyingParty:
    origin = os.environ.get("DANCU_EID_ORIGIN", "").rstrip("/") or request_origin.rstrip("/")
    return RelyingParty(origin=origin, rp_id=urlsplit(origin).hostname or "localhost")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def registration_options(session: Session, account: EidAccount, rp: RelyingParty) -> tuple[str, str]:
    """(challenge handle, options JSON for navigator.credentials.create)."""
    existing = session.scalars(select(EidPasskey.credential_id).where(EidPasskey.account_id == account.id)).all()
    options = generate_registration_options(
        rp_id=rp.rp_id, rp_name=RP_NAME, user_id=f"eid-{account.id}".encode(), user_name=account.pin,
        user_display_name=account.pin,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=_from_b64(c)) for c in existing],
    )
    handle = new_challenge(session, "passkey_register", secret=bytes_to_base64url(options.challenge),
                           account_id=account.id, lifetime=CEREMONY_LIFETIME)
    return handle, options_to_json(options)


def finish_registration(session: Session, account: EidAccount, handle: str | None, credential: str,
                        rp: RelyingParty, name: str) -> EidPasskey:
    challenge = open_challenge(session, handle, "passkey_register")
    if challenge.account_id != account.id:
        raise EidError("eid.err.expired")
    challenge.used_at = _now()
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=_from_b64(challenge.secret), expected_rp_id=rp.rp_id,
            expected_origin=rp.origin, require_user_verification=True)
    except Exception:  # noqa: BLE001  (whatever a malformed answer trips in parsing, the ceremony failed)
        raise EidError("eid.err.passkey") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if session.scalar(select(EidPasskey.id).where(EidPasskey.credential_id == credential_id)):
        raise EidError("eid.err.passkey")
    passkey = EidPasskey(account_id=account.id, credential_id=credential_id,
                         public_key=verified.credential_public_key, sign_count=verified.sign_count,
                         name=(name.strip() or "Passkey")[:80], created_at=_now())
    session.add(passkey)
    notify(session, account_id=account.id, phone=account.phone, kind="mfa_changed", what="passkey +")
    session.flush()
    return passkey


def authentication_options(session: Session, rp: RelyingParty, account_id: int | None) -> tuple[str, str]:
    """Options for navigator.credentials.get: any discoverable passkey, or the given account's ones."""
    allowed = []
    if account_id is not None:
        allowed = [PublicKeyCredentialDescriptor(id=_from_b64(c)) for c in session.scalars(
            select(EidPasskey.credential_id).where(EidPasskey.account_id == account_id))]
    options = generate_authentication_options(rp_id=rp.rp_id, allow_credentials=allowed,
                                              user_verification=UserVerificationRequirement.REQUIRED)
    handle = new_challenge(session, "passkey_login", secret=bytes_to_base64url(options.challenge),
                           account_id=account_id, lifetime=CEREMONY_LIFETIME)
    return handle, options_to_json(options)


def finish_authentication(session: Session, handle: str | None, credential: str, rp: RelyingParty) -> EidAccount:
    """The account whose passkey signed the challenge (and, for a second factor, the expected account's)."""
    challenge = open_challenge(session, handle, "passkey_login")
    challenge.used_at = _now()
    try:
        credential_id = json.loads(credential)["rawId"]
    except (ValueError, KeyError, TypeError):
        raise EidError("eid.err.passkey") from None
    if not isinstance(credential_id, str) or len(credential_id) > 400:
        raise EidError("eid.err.passkey")
    passkey = session.scalar(select(EidPasskey).where(EidPasskey.credential_id == credential_id))
    if passkey is None or (challenge.account_id is not None and passkey.account_id != challenge.account_id):
        raise EidError("eid.err.passkey")
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=_from_b64(challenge.secret), expected_rp_id=rp.rp_id,
            expected_origin=rp.origin, credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count, require_user_verification=True)
    except Exception:  # noqa: BLE001  (whatever a malformed answer trips in parsing, the ceremony failed)
        raise EidError("eid.err.passkey") from None
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = _now()
    account = session.get(EidAccount, passkey.account_id)
    if account is None or not account.active:
        raise EidError("eid.err.passkey")
    return account


def list_passkeys(session: Session, account_id: int) -> list[EidPasskey]:
    return list(session.scalars(select(EidPasskey).where(EidPasskey.account_id == account_id)
                                .order_by(EidPasskey.id)))


def remove_passkey(session: Session, account: EidAccount, passkey_id: int) -> None:
    passkey = session.get(EidPasskey, passkey_id)
    if passkey is None or passkey.account_id != account.id:
        raise EidError("eid.err.passkey")
    session.delete(passkey)
    notify(session, account_id=account.id, phone=account.phone, kind="mfa_changed", what="passkey −")
    session.flush()
