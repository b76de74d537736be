"""e-ID domain logic: accounts and levels, login with lockout and throttling, sessions, MFA, dependents.

Messages of ``EidError`` are catalog keys ("eid.err.*") with values, so pages
show them in the citizen's language. Nothing here commits except where a
refusal must stick even though the caller answers with an error (failed
guesses): callers return their error page normally and the unit of work commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, PermissionDenied, Role
from dancu.audit import services as audit
from dancu.crypto import derive_key
from dancu.db import lock_row
from dancu.identity.eid.models import (
    EidAccount,
    EidChallenge,
    EidGuardianship,
    EidKnownDevice,
    EidPasskey,
    EidProofing,
    EidRecoveryCode,
    EidSession,
    EidThrottle,
)
from dancu.identity.eid.outbox import notify
from dancu.registry import citizen_match
from dancu.registry import services as registry
from dancu.registry.schemas import PersonDetail

# The e-ID service reads the register on the citizen's behalf; the access log names it.
EID_ACTOR = Actor(username="e-id", role=Role.ADMIN)
SELF_ACTOR = Actor(username="e-id:citizen-self", role=Role.ADMIN)
GUARDIAN_ACTOR = Actor(username="e-id:guardian", role=Role.ADMIN)
# Reads the access log for the "who read my data" page; only ever for the signed-in citizen's own person id.
_AUDIT_READER = Actor(username="e-id", role=Role.AUDITOR)

WEB_SESSION_KEY = "eid"
MIN_PASSWORD = 8
MAX_FAILED_ATTEMPTS = 5
ACCOUNT_LOCKOUT = dt.timedelta(minutes=15)
IP_WINDOW = dt.timedelta(minutes=15)
IP_MAX_FAILURES = 20
IP_LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
OTP_LIFETIME = dt.timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
ACTIVATION_LIFETIME = dt.timedelta(days=14)
RECOVERY_CODES = 10
DEPENDENT_MAX_AGE = 14  # VNeID: children under 14 are held in a parent's account
LEVELS = (1, 2)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")
_PHONE = re.compile(r"^(?:\+?84|0)([35789]\d{8})$")
_PIN = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Principal:
    """An authenticated citizen (while a guardian acts for a child: the child, with ``guardian_account_id``)."""

    account_id: int
    person_id: int
    level: int
    auth_time: dt.datetime
    amr: tuple[str, ...]
    guardian_account_id: int | None = None


class EidError(ValueError):
    """A refusal the citizen or registrar can act on: ``key`` is a catalog key, ``values`` fill it."""

    code = "eid.refused"

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


class Locked(EidError):
    code = "eid.locked"

    def __init__(self, until: dt.datetime) -> None:
        super().__init__("eid.err.locked", until=until)
        self.until = until


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@lru_cache
def _code_key() -> bytes:
    return derive_key("dancu/eid-codes/v1")


def _digest(value: str) -> str:
    """Keyed hash of a high-entropy or attempt-limited secret (tokens, one-time and recovery codes)."""
    return hmac.new(_code_key(), value.encode(), hashlib.sha256).hexdigest()


def normalize_phone(phone: str) -> str:
    """A Vietnamese mobile number in E.164 (+84...), or EidError."""
    match = _PHONE.match(re.sub(r"[\s.\-()]", "", phone))
    if not match:
        raise EidError("eid.err.phone")
    return f"+84{match[1]}"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise EidError("eid.err.password_short", n=MIN_PASSWORD)


def _check_pin(pin: str) -> str:
    pin = pin.strip()
    if not _PIN.match(pin):
        raise EidError("eid.err.pin")
    return pin


def get_account(session: Session, account_id: int) -> EidAccount:
    account = session.get(EidAccount, account_id)
    if account is None:
        raise LookupError(f"no e-ID account {account_id}")
    return account


def account_for_person(session: Session, person_id: int) -> EidAccount | None:
    return session.scalar(select(EidAccount).where(EidAccount.person_id == person_id))


def _lock(session: Session, account: EidAccount) -> EidAccount:
    """The account reloaded and locked until the transaction ends, before a read-decide-write of its
    counters, codes or factors: two guesses at once would otherwise count as one, a single-use code
    or an activation code would work twice. Unflushed changes to the account are lost: lock first."""
    return lock_row(session, EidAccount, account.id)


# ---- contract: accounts and levels ---------------------------------------------------------------


def create_account(session: Session, *, pin: str, phone: str | None, password: str, level: int = 1) -> int:
    """A verified account for the person with ``pin`` (tests, the demo, migrations from another system)."""
    pin = _check_pin(pin)
    _check_password(password)
    if level not in LEVELS:
        raise EidError("eid.err.level")
    person_id = citizen_match.person_id_for_pin(session, EID_ACTOR, pin, "e-ID account creation")
    if account_for_person(session, person_id) is not None:
        raise EidError("eid.err.exists")
    phone = normalize_phone(phone) if phone else None
    account = EidAccount(person_id=person_id, pin=pin, password_hash=_hasher.hash(password), phone=phone,
                         phone_verified_at=_now() if phone else None, level=level)
    session.add(account)
    session.flush()
    return account.id


def set_level(session: Session, actor: Actor, account_id: int, level: int, evidence: str) -> None:
    """Record identity-proofing evidence and set the level (registrars and admins only)."""
    actor.require(Role.REGISTRAR, Role.ADMIN)
    if level not in LEVELS:
        raise EidError("eid.err.level")
    if not evidence.strip():
        raise EidError("eid.err.evidence")
    account = get_account(session, account_id)
    # Reading the record checks the registrar's area and logs why the registrar looked.
    registry.get_person(session, actor, account.person_id, "e-ID identity proofing")
    previous = account.level
    account.level = level
    session.add(EidProofing(account_id=account.id, registrar=actor.username, level=level, evidence=evidence,
                            at=_now()))
    if previous != level:
        notify(session, account_id=account.id, phone=account.phone, kind="level_changed", level=level)
    session.flush()


# ---- contract: the web login ---------------------------------------------------------------------


def _session_row(session: Session, web_session: Mapping) -> EidSession | None:
    token = web_session.get(WEB_SESSION_KEY)
    if not isinstance(token, str) or not token:
        return None
    row = session.scalar(select(EidSession).where(EidSession.token_sha256 == _digest(token)))
    if row is None or row.revoked_at is not None or _aware(row.expires_at) <= _now():
        return None
    return row


def principal_from_web_session(session: Session, web_session: Mapping) -> Principal | None:
    row = _session_row(session, web_session)
    if row is None:
        return None
    own = session.get(EidAccount, row.account_id)
    if own is None or not own.active:
        return None
    now = _now()
    if now - _aware(row.last_seen_at) > dt.timedelta(minutes=1):
        row.last_seen_at = now
    amr = tuple(row.amr.split())
    if row.acting_account_id is not None:
        child = session.get(EidAccount, row.acting_account_id)
        if child is None or not child.active or not _is_guardian(session, own.id, child.id):
            return None
        return Principal(account_id=child.id, person_id=child.person_id, level=child.level,
                         auth_time=_aware(row.auth_time), amr=amr, guardian_account_id=own.id)
    return Principal(account_id=own.id, person_id=own.person_id, level=own.level, auth_time=_aware(row.auth_time),
                     amr=amr)


_NAME_CLAIMS = {"name": "full_name", "family_name": "family_name", "middle_name": "middle_name",
                "given_name": "given_name"}
SUPPORTED_CLAIMS = frozenset({*_NAME_CLAIMS, "birthdate", "gender", "address", "phone_number",
                              "phone_number_verified", "nationalities", "pin"})


def _address_claim(person: PersonDetail) -> dict | None:
    permanent = next((r for r in person.residences if r.kind == "permanent" and r.valid_to is None), None)
    if permanent is None:
        return None
    formatted = ", ".join(part for part in (permanent.address_line, permanent.unit_label) if part)
    return {"formatted": formatted, "street_address": permanent.address_line, "locality": permanent.unit_label,
            "country": "VN"}


def claims_for(session: Session, account_id: int, claims: Iterable[str], purpose: str) -> dict:
    """OIDC claims about the account holder; the register read is logged with ``purpose``.

    Unsupported names are left out (OIDC Core 5.5: a claim the provider cannot give is omitted).
    """
    wanted = set(claims) & SUPPORTED_CLAIMS
    account = get_account(session, account_id)
    result: dict = {}
    if "phone_number" in wanted and account.phone:
        result["phone_number"] = account.phone
    if "phone_number_verified" in wanted and account.phone:
        result["phone_number_verified"] = account.phone_verified_at is not None
    if not wanted - {"phone_number", "phone_number_verified"}:
        return result
    person = registry.get_person(session, EID_ACTOR, account.person_id, purpose, relatives=False)
    for claim, attribute in _NAME_CLAIMS.items():
        if claim in wanted and getattr(person, attribute):
            result[claim] = getattr(person, attribute)
    if "birthdate" in wanted and person.birth_date_iso:
        result["birthdate"] = person.birth_date_iso
    if "gender" in wanted and person.sex:
        result["gender"] = {"M": "male", "F": "female"}.get(str(getattr(person.sex, "value", person.sex)), "other")
    if "address" in wanted and (address := _address_claim(person)):
        result["address"] = address
    if "nationalities" in wanted:
        result["nationalities"] = person.nationalities
    if "pin" in wanted and person.pin:
        result["pin"] = person.pin
    return result


# ---- guessing: per-account lockout and per-IP throttle -------------------------------------------


def _throttle(session: Session, ip: str) -> EidThrottle:
    return _throttle_row(session, f"ip:{ip}")


def _throttle_row(session: Session, key: str) -> EidThrottle:
    """The counter row of ``key``, created when missing, locked: two failures at once both count."""
    key = key[:100]
    if session.get(EidThrottle, key) is None:
        try:
            with session.begin_nested():
                session.add(EidThrottle(key=key, window_start=_now(), failures=0))
        except IntegrityError:
            pass  # another request created it meanwhile
    return lock_row(session, EidThrottle, key)


def check_ip(session: Session, ip: str) -> None:
    row = session.get(EidThrottle, f"ip:{ip}"[:100])
    if row is not None and row.locked_until and _aware(row.locked_until) > _now():
        raise Locked(_aware(row.locked_until))


def _ip_failure(session: Session, ip: str) -> None:
    row = _throttle(session, ip)
    now = _now()
    if now - _aware(row.window_start) > IP_WINDOW:
        row.window_start, row.failures = now, 0
    row.failures += 1
    if row.failures >= IP_MAX_FAILURES:
        row.locked_until, row.failures = now + IP_LOCKOUT, 0


def _check_account_lock(account: EidAccount) -> None:
    if account.locked_until and _aware(account.locked_until) > _now():
        raise Locked(_aware(account.locked_until))


def _account_failure(session: Session, account: EidAccount) -> None:
    _lock(session, account)
    account.failed_attempts += 1
    if account.failed_attempts >= MAX_FAILED_ATTEMPTS:
        account.locked_until = _now() + ACCOUNT_LOCKOUT
        account.failed_attempts = 0
        notify(session, account_id=account.id, phone=account.phone, kind="locked")


def _failure(session: Session, ip: str, account: EidAccount | None, key: str = "eid.err.login") -> EidError:
    """Count a wrong guess against the account and the source; the caller raises the returned error."""
    # Locks in one order everywhere (account or challenge, then the PIN's counter, then the address's),
    # so that two requests never wait for each other.
    if account is not None:
        _account_failure(session, account)
    _ip_failure(session, ip)
    session.flush()
    if account is not None and account.locked_until and _aware(account.locked_until) > _now():
        return Locked(_aware(account.locked_until))
    return EidError(key)


def _unknown_pin_failure(session: Session, ip: str, pin: str) -> EidError:
    """Count a guess at a PIN without an account as if it had one, so that its lock, too, tells nothing."""
    row = _throttle_row(session, f"pin:{pin}")
    now = _now()
    row.failures += 1
    if row.failures >= MAX_FAILED_ATTEMPTS:
        row.locked_until, row.failures = now + ACCOUNT_LOCKOUT, 0
    _ip_failure(session, ip)
    session.flush()
    return Locked(_aware(row.locked_until)) if row.failures == 0 else EidError("eid.err.login")


def _known_device(session: Session, account: EidAccount, device_token: str | None) -> bool:
    return bool(device_token) and session.scalar(select(EidKnownDevice.id).where(
        EidKnownDevice.account_id == account.id, EidKnownDevice.device_sha256 == _digest(device_token))) is not None


def authenticate_password(session: Session, pin: str, password: str, ip: str, *,
                          device_token: str | None = None) -> EidAccount:
    """Check a password. From a browser that signed in to this account before (``device_token``), the
    account's lock does not apply and failures count against the address only: a stranger who knows
    the PIN can lock it for everyone else, not for its owner."""
    check_ip(session, ip)
    pin = pin.strip()
    account = session.scalar(select(EidAccount).where(EidAccount.pin == pin))
    if account is None or account.password_hash is None or not account.active:
        pin_lock = session.get(EidThrottle, f"pin:{pin}"[:100])
        if pin_lock is not None and pin_lock.locked_until and _aware(pin_lock.locked_until) > _now():
            raise Locked(_aware(pin_lock.locked_until))
        # Verify anyway so that timing does not tell which PINs hold an account.
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise _unknown_pin_failure(session, ip, pin)
    known = _known_device(session, account, device_token)
    if not known:
        _check_account_lock(account)
    try:
        _hasher.verify(account.password_hash, password)
    except VerificationError:
        raise _failure(session, ip, None if known else account) from None
    account.failed_attempts = 0
    return account


def has_mfa(session: Session, account: EidAccount) -> bool:
    return account.totp_enabled_at is not None or bool(passkey_count(session, account.id))


def passkey_count(session: Session, account_id: int) -> int:
    return session.scalar(select(func.count()).select_from(EidPasskey).where(EidPasskey.account_id == account_id))


def verify_totp_or_recovery(session: Session, account: EidAccount, code: str, ip: str) -> str:
    """Check a second factor typed by the citizen; returns its amr ("otp" or "rec")."""
    check_ip(session, ip)
    # Under the lock a TOTP step or a recovery code used by a concurrent request is seen as used.
    _lock(session, account)
    _check_account_lock(account)
    code = code.strip().replace(" ", "").replace("-", "")
    if account.totp_enabled_at and re.fullmatch(r"\d{6}", code):
        step = _totp_step_matching(account.totp_secret, code)
        if step is not None and (account.totp_last_step is None or step > account.totp_last_step):
            account.totp_last_step = step
            account.failed_attempts = 0
            return "otp"
    elif len(code) >= 10:
        row = session.scalar(select(EidRecoveryCode).where(
            EidRecoveryCode.account_id == account.id, EidRecoveryCode.code_hash == _digest(code.upper()),
            EidRecoveryCode.used_at.is_(None)))
        if row is not None:
            row.used_at = _now()
            account.failed_attempts = 0
            notify(session, account_id=account.id, phone=account.phone, kind="recovery_used")
            return "rec"
    raise _failure(session, ip, account, "eid.err.code")


def _totp_step_matching(secret: str | None, code: str) -> int | None:
    if not secret:
        return None
    totp = pyotp.TOTP(secret)
    now = _now()
    # One step either side absorbs clock drift between the phone and the server.
    for offset in (-1, 0, 1):
        at = now + dt.timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(at), code):
            return totp.timecode(at)
    return None


# ---- sessions and devices ------------------------------------------------------------------------


@dataclass(frozen=True)
class StartedSession:
    token: str
    device_token: str
    new_device: bool


def start_session(session: Session, account: EidAccount, amr: Iterable[str], *, user_agent: str, ip: str,
                  device_token: str | None) -> StartedSession:
    """A new server-side session; a browser never seen for this account triggers a notification."""
    now = _now()
    token = secrets.token_urlsafe(32)
    session.add(EidSession(token_sha256=_digest(token), account_id=account.id, auth_time=now,
                           amr=" ".join(dict.fromkeys(amr)), user_agent=user_agent[:300], ip=ip[:64], created_at=now,
                           last_seen_at=now, expires_at=now + SESSION_LIFETIME))
    device_token = device_token if device_token and len(device_token) <= 100 else secrets.token_urlsafe(24)
    known = session.scalar(select(EidKnownDevice).where(EidKnownDevice.account_id == account.id,
                                                        EidKnownDevice.device_sha256 == _digest(device_token)))
    if known is None:
        session.add(EidKnownDevice(account_id=account.id, device_sha256=_digest(device_token),
                                   user_agent=user_agent[:300], first_seen_at=now))
        notify(session, account_id=account.id, phone=account.phone, kind="new_device",
               device=_device_label(user_agent), ip=ip)
    session.flush()
    return StartedSession(token=token, device_token=device_token, new_device=known is None)


def _device_label(user_agent: str) -> str:
    for name in ("Edg", "Chrome", "Firefox", "Safari"):
        if name in user_agent:
            browser = {"Edg": "Edge"}.get(name, name)
            break
    else:
        browser = "?"
    system = next((s for s in ("Android", "iPhone", "Windows", "Mac OS", "Linux") if s in user_agent), "?")
    return f"{browser} / {system}"


def end_session(session: Session, web_session: Mapping) -> None:
    row = _session_row(session, web_session)
    if row is not None:
        row.revoked_at = _now()


def current_session_id(session: Session, web_session: Mapping) -> int | None:
    row = _session_row(session, web_session)
    return row.id if row else None


@dataclass(frozen=True)
class SessionView:
    id: int
    device: str
    ip: str
    created_at: dt.datetime
    last_seen_at: dt.datetime
    amr: str


def list_sessions(session: Session, account_id: int) -> list[SessionView]:
    rows = session.scalars(
        select(EidSession).where(EidSession.account_id == account_id, EidSession.revoked_at.is_(None),
                                 EidSession.expires_at > _now()).order_by(EidSession.last_seen_at.desc())
    )
    return [SessionView(id=r.id, device=_device_label(r.user_agent), ip=r.ip, created_at=_aware(r.created_at),
                        last_seen_at=_aware(r.last_seen_at), amr=r.amr) for r in rows]


def revoke_session(session: Session, account_id: int, session_id: int) -> None:
    row = session.get(EidSession, session_id)
    if row is None or row.account_id != account_id:
        raise EidError("eid.err.no_session")
    row.revoked_at = row.revoked_at or _now()


def revoke_other_sessions(session: Session, account_id: int, keep_session_id: int | None) -> int:
    result = session.execute(
        update(EidSession).where(EidSession.account_id == account_id, EidSession.revoked_at.is_(None),
                                 EidSession.id != (keep_session_id or 0)).values(revoked_at=_now())
    )
    return result.rowcount or 0


# ---- one-time challenges (phone codes, WebAuthn) -------------------------------------------------


def new_challenge(session: Session, kind: str, *, secret: str, account_id: int | None = None,
                  payload: dict | None = None, lifetime: dt.timedelta = OTP_LIFETIME) -> str:
    """Store a challenge; the returned handle (kept in the browser's session) finds it again."""
    handle = secrets.token_urlsafe(24)
    # Challenges nobody answered would otherwise pile up: drop those expired a day ago.
    session.execute(delete(EidChallenge).where(EidChallenge.expires_at < _now() - dt.timedelta(days=1))
                    .execution_options(synchronize_session=False))
    session.add(EidChallenge(handle_sha256=_digest(handle), kind=kind, account_id=account_id, secret=secret,
                             payload=json.dumps(payload) if payload is not None else None,
                             expires_at=_now() + lifetime))
    session.flush()
    return handle


def open_challenge(session: Session, handle: str | None, kind: str) -> EidChallenge:
    """The unused challenge, locked: answered twice at once, it is used once (one account, one passkey)."""
    row_id = session.scalar(select(EidChallenge.id).where(EidChallenge.handle_sha256 == _digest(handle or ""))) \
        if handle else None
    row = lock_row(session, EidChallenge, row_id) if row_id is not None else None
    if row is None or row.kind != kind or row.used_at is not None or _aware(row.expires_at) <= _now():
        raise EidError("eid.err.expired")
    return row


def _send_code(session: Session, phone: str, account_id: int | None, kind: str) -> str:
    code = f"{secrets.randbelow(10**6):06d}"
    notify(session, account_id=account_id, phone=phone, kind=kind, code=code)
    return _digest(code)


def _check_code(session: Session, challenge: EidChallenge, code: str, ip: str) -> None:
    check_ip(session, ip)
    if challenge.attempts >= OTP_MAX_ATTEMPTS:
        raise EidError("eid.err.expired")
    if not hmac.compare_digest(challenge.secret, _digest(code.strip())):
        challenge.attempts += 1
        _ip_failure(session, ip)
        session.flush()
        raise EidError("eid.err.code")
    challenge.used_at = _now()


# ---- level 1: self-registration ------------------------------------------------------------------


def start_registration(session: Session, *, pin: str, full_name: str, birth_date: dt.date, phone: str,
                       password: str, ip: str) -> str:
    """Check the entered data against the register and text a code to the phone; returns the challenge handle."""
    check_ip(session, ip)
    pin = _check_pin(pin)
    phone = normalize_phone(phone)
    _check_password(password)
    person_id = citizen_match.match_person(session, EID_ACTOR, pin=pin, full_name=full_name, birth_date=birth_date,
                                           purpose="e-ID level-1 self-registration: check the entered data")
    if person_id is None:
        _ip_failure(session, ip)
        session.flush()
        raise EidError("eid.err.no_match")
    if account_for_person(session, person_id) is not None:
        raise EidError("eid.err.exists")
    secret = _send_code(session, phone, None, "registration_code")
    return new_challenge(session, "register", secret=secret, payload={
        "person_id": person_id, "pin": pin, "phone": phone, "password_hash": _hasher.hash(password)})


def finish_registration(session: Session, handle: str | None, code: str, ip: str) -> EidAccount:
    challenge = open_challenge(session, handle, "register")
    _check_code(session, challenge, code, ip)
    data = json.loads(challenge.payload)
    if account_for_person(session, data["person_id"]) is not None:
        raise EidError("eid.err.exists")
    account = EidAccount(person_id=data["person_id"], pin=data["pin"], password_hash=data["password_hash"],
                         phone=data["phone"], phone_verified_at=_now(), level=1)
    session.add(account)
    session.flush()
    notify(session, account_id=account.id, phone=account.phone, kind="registered")
    return account


def pending_phone(session: Session, handle: str | None, kind: str) -> str:
    return json.loads(open_challenge(session, handle, kind).payload)["phone"]


# ---- forgotten password: a code to the bound phone -----------------------------------------------


def start_password_reset(session: Session, pin: str, ip: str) -> str:
    """Text a code to the account's verified phone; returns a challenge handle.

    The answer looks the same whether or not the PIN has an account with a
    phone, so the form does not tell who is registered; without a phone, the
    way back is a police office (level-2 proofing with an activation code).
    """
    check_ip(session, ip)
    account = session.scalar(select(EidAccount).where(EidAccount.pin == pin.strip()))
    if account is None or not account.phone or not account.phone_verified_at or account.password_hash is None:
        _ip_failure(session, ip)
        return new_challenge(session, "password_reset", secret=_digest(secrets.token_urlsafe(16)))
    secret = _send_code(session, account.phone, account.id, "reset_code")
    return new_challenge(session, "password_reset", secret=secret, account_id=account.id)


def finish_password_reset(session: Session, handle: str | None, code: str, password: str, ip: str) -> EidAccount:
    """Set the new password and sign every session out; second factors stay required."""
    challenge = open_challenge(session, handle, "password_reset")
    _check_password(password)
    _check_code(session, challenge, code, ip)
    account = session.get(EidAccount, challenge.account_id) if challenge.account_id else None
    if account is None:
        raise EidError("eid.err.code")
    account.password_hash = _hasher.hash(password)
    account.failed_attempts, account.locked_until = 0, None
    revoke_other_sessions(session, account.id, None)
    notify(session, account_id=account.id, phone=account.phone, kind="password_reset")
    return account


# ---- level 2: in-person proofing and activation --------------------------------------------------


@dataclass(frozen=True)
class ProofingResult:
    account_id: int
    activation_code: str | None  # shown once to the registrar, handed to the citizen on paper


PROOFING_PLACES = ("police_office", "mobile_team")


def proof_in_person(session: Session, actor: Actor, person_id: int, *, card_checked: bool, face_matched: bool,
                    place: str, location: str, phone: str | None) -> ProofingResult:
    """Level 2 after the registrar checked the ID card and matched the face.

    Any phone may be bound (verified by the registrar in person, whoever the SIM's
    subscriber is), or none: the seeds' failure of citizens whose SIM is in
    someone else's name. A person without an account gets one with a one-time
    activation code to choose a password.
    """
    actor.require(Role.REGISTRAR, Role.ADMIN)
    if not (card_checked and face_matched):
        raise EidError("eid.err.proofing_evidence")
    if place not in PROOFING_PLACES:
        raise EidError("eid.err.place")
    # Two proofings at once would both find no account and create one each.
    registry.lock_person(session, person_id)
    person = registry.get_person(session, actor, person_id, "e-ID level-2 identity proofing in person")
    phone = normalize_phone(phone) if phone else None
    account = account_for_person(session, person_id)
    activation = None
    if account is None:
        if not person.pin:
            raise EidError("eid.err.no_pin")
        account = EidAccount(person_id=person_id, pin=person.pin, level=2)
        session.add(account)
        session.flush()
    if account.password_hash is None:
        activation = f"{secrets.randbelow(10**8):08d}"
        account.activation_hash = _hasher.hash(activation)
        account.activation_expires_at = _now() + ACTIVATION_LIFETIME
    if phone:
        account.phone, account.phone_verified_at = phone, _now()
    evidence = json.dumps({"method": "in_person", "place": place, "location": location.strip()[:200],
                           "id_card_checked": True, "face_matched": True, "phone_bound": bool(phone)},
                          ensure_ascii=False)
    previous = account.level
    account.level = 2
    account.failed_attempts, account.locked_until = 0, None
    session.add(EidProofing(account_id=account.id, registrar=actor.username, level=2, evidence=evidence, at=_now()))
    # Upgrades and phone bindings are told to the account's (possibly new) phone.
    if previous != 2 or phone:
        notify(session, account_id=account.id, phone=account.phone, kind="level_changed", level=2)
    session.flush()
    return ProofingResult(account_id=account.id, activation_code=activation)


def activate(session: Session, *, pin: str, code: str, password: str, ip: str) -> EidAccount:
    """Set the first password with the activation code from the registrar."""
    check_ip(session, ip)
    _check_password(password)
    account = session.scalar(select(EidAccount).where(EidAccount.pin == pin.strip()))
    if account is not None:
        _lock(session, account)  # the code sets one password, however many use it at once
    if account is None or account.activation_hash is None or _aware(account.activation_expires_at) <= _now():
        raise _failure(session, ip, None, "eid.err.activation")
    _check_account_lock(account)
    try:
        _hasher.verify(account.activation_hash, code.strip())
    except VerificationError:
        raise _failure(session, ip, account, "eid.err.activation") from None
    account.password_hash = _hasher.hash(password)
    account.activation_hash = account.activation_expires_at = None
    account.failed_attempts = 0
    notify(session, account_id=account.id, phone=account.phone, kind="activated")
    return account


def proofing_history(session: Session, account_id: int) -> list[EidProofing]:
    return list(session.scalars(select(EidProofing).where(EidProofing.account_id == account_id)
                                .order_by(EidProofing.id.desc())))


# ---- changes while signed in: password and phone -------------------------------------------------


def change_password(session: Session, account: EidAccount, current: str, new: str, ip: str,
                    keep_session_id: int | None) -> None:
    """A new password after the current one (guesses count towards the lockout); other sessions end."""
    _check_password(new)
    authenticate_password(session, account.pin, current, ip)
    account.password_hash = _hasher.hash(new)
    revoke_other_sessions(session, account.id, keep_session_id)
    notify(session, account_id=account.id, phone=account.phone, kind="password_changed")


def start_phone_change(session: Session, account: EidAccount, phone: str) -> str:
    """Text a code to the new number; the old one (if any) is told once the change is done."""
    phone = normalize_phone(phone)
    secret = _send_code(session, phone, account.id, "phone_code")
    return new_challenge(session, "phone_change", secret=secret, account_id=account.id, payload={"phone": phone})


def finish_phone_change(session: Session, account: EidAccount, handle: str | None, code: str, ip: str) -> None:
    challenge = open_challenge(session, handle, "phone_change")
    if challenge.account_id != account.id:
        raise EidError("eid.err.expired")
    _check_code(session, challenge, code, ip)
    previous = account.phone
    account.phone, account.phone_verified_at = json.loads(challenge.payload)["phone"], _now()
    if previous:
        notify(session, account_id=account.id, phone=previous, kind="phone_changed", number=account.phone)


# ---- TOTP and recovery codes ---------------------------------------------------------------------


def begin_totp(session: Session, account: EidAccount) -> str:
    """A fresh secret, kept (encrypted) but not in force until a code from it is confirmed."""
    _lock(session, account)
    if account.totp_enabled_at is not None:
        raise EidError("eid.err.totp_on")
    account.totp_secret = pyotp.random_base32()
    session.flush()
    return account.totp_secret


def totp_uri(account: EidAccount) -> str:
    return pyotp.TOTP(account.totp_secret).provisioning_uri(name=account.pin, issuer_name="dancu e-ID")


def confirm_totp(session: Session, account: EidAccount, code: str) -> None:
    _lock(session, account)  # the secret confirmed is the one in force, not one a second enrolment replaced
    if account.totp_enabled_at is not None or not account.totp_secret:
        raise EidError("eid.err.expired")
    step = _totp_step_matching(account.totp_secret, code.strip())
    if step is None:
        raise EidError("eid.err.code")
    account.totp_enabled_at, account.totp_last_step = _now(), step
    notify(session, account_id=account.id, phone=account.phone, kind="mfa_changed", what="TOTP +")


def disable_totp(session: Session, account: EidAccount) -> None:
    account.totp_secret = account.totp_enabled_at = account.totp_last_step = None
    notify(session, account_id=account.id, phone=account.phone, kind="mfa_changed", what="TOTP −")


def new_recovery_codes(session: Session, account: EidAccount) -> list[str]:
    """Ten single-use codes, shown once; earlier ones stop working."""
    _lock(session, account)  # two sets made at once would leave twenty
    for row in session.scalars(select(EidRecoveryCode).where(EidRecoveryCode.account_id == account.id)):
        session.delete(row)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    codes = ["".join(secrets.choice(alphabet) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    session.add_all(EidRecoveryCode(account_id=account.id, code_hash=_digest(code)) for code in codes)
    notify(session, account_id=account.id, phone=account.phone, kind="mfa_changed", what="recovery codes")
    session.flush()
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def recovery_codes_left(session: Session, account_id: int) -> int:
    return session.scalar(select(func.count()).select_from(EidRecoveryCode).where(
        EidRecoveryCode.account_id == account_id, EidRecoveryCode.used_at.is_(None)))


# ---- dependents (children under a guardian's account) --------------------------------------------


def _is_guardian(session: Session, guardian_account_id: int, child_account_id: int) -> bool:
    return session.scalar(select(EidGuardianship.id).where(
        EidGuardianship.guardian_account_id == guardian_account_id,
        EidGuardianship.child_account_id == child_account_id)) is not None


@dataclass(frozen=True)
class DependentView:
    person_id: int
    pin: str | None
    full_name: str
    birth_date: dt.date | None
    relation: str
    account_id: int | None
    eligible: bool  # under the age limit, with a known date of birth and a PIN


def _age(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def dependents(session: Session, guardian: EidAccount) -> list[DependentView]:
    """The guardian's children in the register, with the dependent accounts already held."""
    children = citizen_match.children_of(session, EID_ACTOR, guardian.person_id,
                                         "e-ID dependent accounts: the guardian's children")
    today = dt.date.today()
    views = []
    for child in children:
        account = account_for_person(session, child.person_id)
        held = account is not None and _is_guardian(session, guardian.id, account.id)
        eligible = bool(child.pin and child.birth_date and _age(child.birth_date, today) < DEPENDENT_MAX_AGE)
        views.append(DependentView(person_id=child.person_id, pin=child.pin, full_name=child.full_name,
                                   birth_date=child.birth_date, relation=child.relation,
                                   account_id=account.id if held else None, eligible=eligible))
    return views


def add_dependent(session: Session, guardian: EidAccount, child_person_id: int) -> int:
    """A dependent account for the guardian's child under 14; the guardian must be level 2."""
    if guardian.level < 2:
        raise EidError("eid.err.guardian_level")
    child = next((d for d in dependents(session, guardian) if d.person_id == child_person_id), None)
    if child is None or not child.eligible:
        raise EidError("eid.err.not_dependent")
    if child.account_id is not None:
        return child.account_id
    account = account_for_person(session, child_person_id)
    if account is None:
        account = EidAccount(person_id=child_person_id, pin=child.pin, level=2)
        session.add(account)
        session.flush()
    elif account.password_hash is not None:
        # The child already holds an account of their own: a guardian cannot take it over.
        raise EidError("eid.err.not_dependent")
    session.add(EidGuardianship(guardian_account_id=guardian.id, child_account_id=account.id,
                                relation=child.relation))
    notify(session, account_id=guardian.id, phone=guardian.phone, kind="dependent_added", name=child.full_name)
    session.flush()
    return account.id


def switch_account(session: Session, web_session: Mapping, child_account_id: int | None) -> None:
    """Act for a held child's account, or back as oneself with ``None``."""
    row = _session_row(session, web_session)
    if row is None:
        raise EidError("eid.err.expired")
    if child_account_id is not None and not _is_guardian(session, row.account_id, child_account_id):
        raise PermissionDenied("not a dependent of this account")
    row.acting_account_id = child_account_id


# ---- the citizen's own data ----------------------------------------------------------------------


MY_DATA_PURPOSE = "citizen viewing own data (e-ID /me)"


def my_record(session: Session, principal: Principal) -> PersonDetail:
    """The signed-in citizen's record; a guardian's read of a child's record is logged as the guardian's."""
    actor = GUARDIAN_ACTOR if principal.guardian_account_id is not None else SELF_ACTOR
    return registry.get_person(session, actor, principal.person_id, MY_DATA_PURPOSE)


def who_read_me(session: Session, principal: Principal, limit: int = 50) -> list:
    """Access-log entries about the signed-in citizen's own person record, newest first."""
    return audit.entries_for_subject(session, _AUDIT_READER, "person", principal.person_id, limit=limit)


def unlock(session: Session, pin: str) -> bool:
    account = session.scalar(select(EidAccount).where(EidAccount.pin == pin.strip()))
    if account is None:
        return False
    account.failed_attempts, account.locked_until = 0, None
    return True
