"""OpenID Connect provider domain logic: relying parties, keys, consents, tokens.

No HTTP here; the protocol itself (authlib grants and endpoints) lives in
``server.py`` and calls these functions.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor, Role
from dancu.crypto import derive_key
from dancu.db import lock_row
from dancu.identity.oidc.models import AuthorizationCode, Consent, RelyingParty, SigningKey, Token

# Claims each scope asks for; a relying party gets only those the citizen ticks on the consent screen.
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "family_name", "middle_name", "given_name", "birthdate", "gender", "nationalities"),
    "address": ("address",),
    "phone": ("phone_number", "phone_number_verified"),
    "pin": ("pin",),
}
SUPPORTED_SCOPES = ("openid", *SCOPE_CLAIMS)
ALL_CLAIMS = tuple(claim for claims in SCOPE_CLAIMS.values() for claim in claims)
ACR_VALUES = {1: "urn:dancu:loa:1", 2: "urn:dancu:loa:2"}
LEVEL_OF_ACR = {acr: level for level, acr in ACR_VALUES.items()}
SIGNING_ALG = "RS256"

CODE_LIFETIME = dt.timedelta(minutes=1)
ACCESS_TOKEN_LIFETIME = dt.timedelta(minutes=15)
ID_TOKEN_LIFETIME = dt.timedelta(minutes=15)
REFRESH_TOKEN_LIFETIME = dt.timedelta(days=30)
# A new key is published this long before it signs, so cached key sets catch up.
KEY_PROPAGATION = dt.timedelta(days=1)

MAX_REDIRECT_URIS = 10


class ClientError(ValueError):
    """A relying-party registration was refused; the message says why."""

    code = "oidc.client_refused"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- relying parties -------------------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def check_redirect_uri(uri: str) -> str:
    """An absolute https URI (http only on the loopback, for development), no fragment."""
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise ClientError(f"redirect URI {uri!r} is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ClientError(f"redirect URI {uri!r} must be an absolute https URL")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ClientError(f"redirect URI {uri!r} must use https (http only on localhost)")
    if parts.fragment or "#" in uri:
        raise ClientError(f"redirect URI {uri!r} may not have a fragment")
    if any(ch.isspace() for ch in uri):
        raise ClientError(f"redirect URI {uri!r} may not contain spaces")
    return uri


def _check_uris(uris: Iterable[str], *, at_least_one: bool) -> list[str]:
    checked = list(dict.fromkeys(check_redirect_uri(uri.strip()) for uri in uris if uri.strip()))
    if at_least_one and not checked:
        raise ClientError("register at least one redirect URI")
    if len(checked) > MAX_REDIRECT_URIS:
        raise ClientError(f"at most {MAX_REDIRECT_URIS} URIs")
    return checked


def _check_claims(claims: Iterable[str]) -> list[str]:
    claims = list(dict.fromkeys(claims))
    unknown = [claim for claim in claims if claim not in ALL_CLAIMS]
    if unknown:
        raise ClientError(f"unknown claims: {', '.join(unknown)}")
    return claims


def _check_level(level: int) -> int:
    if level not in ACR_VALUES:
        raise ClientError("minimum level must be 1 or 2")
    return level


@dataclass(frozen=True)
class Registration:
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    allowed_claims: list[str]
    min_level: int = 1
    public: bool = False
    sector_identifier: str | None = None


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


def register_client(session: Session, actor: Actor, registration: Registration) -> tuple[RelyingParty, str | None]:
    """Registers a relying party; returns it and its secret (None for a public client), shown only now."""
    actor.require(Role.ADMIN)
    name = registration.name.strip()
    if not name or len(name) > 120:
        raise ClientError("name must have 1 to 120 characters")
    redirect_uris = _check_uris(registration.redirect_uris, at_least_one=True)
    secret = None if registration.public else _new_secret()
    client = RelyingParty(
        client_id=secrets.token_urlsafe(18),
        name=name,
        secret_sha256=digest(secret) if secret else None,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=_check_uris(registration.post_logout_redirect_uris, at_least_one=False),
        allowed_claims=_check_claims(registration.allowed_claims),
        min_level=_check_level(registration.min_level),
        sector_identifier=_sector(registration.sector_identifier, redirect_uris),
        created_by=actor.username,
    )
    session.add(client)
    session.flush()
    return client, secret


def _sector(sector_identifier: str | None, redirect_uris: list[str]) -> str:
    """The host that groups relying parties under one pairwise subject: given, or the redirect URIs' one host."""
    if sector_identifier and sector_identifier.strip():
        sector = sector_identifier.strip().lower()
        if len(sector) > 255 or any(ch.isspace() or ch in "/?#" for ch in sector):
            raise ClientError("sector identifier must be a host name")
        return sector
    hosts = {urlsplit(uri).hostname for uri in redirect_uris}
    if len(hosts) != 1:
        raise ClientError("redirect URIs on several hosts need a sector identifier")
    return hosts.pop() or ""


def update_client(session: Session, actor: Actor, client_id: str, registration: Registration) -> RelyingParty:
    """Changes a relying party's registration; the secret and the public/confidential kind stay."""
    actor.require(Role.ADMIN)
    client = get_client(session, client_id)
    if client is None:
        raise ClientError("no such relying party")
    name = registration.name.strip()
    if not name or len(name) > 120:
        raise ClientError("name must have 1 to 120 characters")
    client.name = name
    client.redirect_uris = _check_uris(registration.redirect_uris, at_least_one=True)
    client.post_logout_redirect_uris = _check_uris(registration.post_logout_redirect_uris, at_least_one=False)
    client.allowed_claims = _check_claims(registration.allowed_claims)
    client.min_level = _check_level(registration.min_level)
    session.flush()
    return client


def reset_secret(session: Session, actor: Actor, client_id: str) -> str:
    actor.require(Role.ADMIN)
    client = get_client(session, client_id)
    if client is None:
        raise ClientError("no such relying party")
    if client.secret_sha256 is None:
        raise ClientError("a public client has no secret")
    secret = _new_secret()
    client.secret_sha256 = digest(secret)
    return secret


def set_active(session: Session, actor: Actor, client_id: str, active: bool) -> RelyingParty:
    """Deactivating a relying party also revokes every token it holds."""
    actor.require(Role.ADMIN)
    client = get_client(session, client_id)
    if client is None:
        raise ClientError("no such relying party")
    client.active = active
    if not active:
        session.execute(update(Token).where(Token.client_id == client_id, Token.revoked_at.is_(None))
                        .values(revoked_at=now()))
    return client


def get_client(session: Session, client_id: str) -> RelyingParty | None:
    return session.scalar(select(RelyingParty).where(RelyingParty.client_id == client_id))


def list_clients(session: Session, actor: Actor) -> list[RelyingParty]:
    actor.require(Role.ADMIN)
    return list(session.scalars(select(RelyingParty).order_by(RelyingParty.name, RelyingParty.id)))


def client_secret_matches(client: RelyingParty, secret: str) -> bool:
    return client.secret_sha256 is not None and hmac.compare_digest(client.secret_sha256, digest(secret))


# --- pairwise subjects -----------------------------------------------------------------------------------------


def pairwise_subject(sector_identifier: str, account_id: int) -> str:
    """The same citizen gets unrelated subjects at relying parties of different sectors (OIDC Core 8.1)."""
    mac = hmac.new(derive_key("dancu/oidc-pairwise/v1"), f"{sector_identifier}|{account_id}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


# --- signing keys ----------------------------------------------------------------------------------------------

_imported_keys: dict[str, RSAKey] = {}


def _import(key: SigningKey) -> RSAKey:
    imported = _imported_keys.get(key.kid)
    if imported is None:
        imported = _imported_keys[key.kid] = RSAKey.import_key(json.loads(key.private_jwk))
    return imported


def _new_key(session: Session, created: dt.datetime, activates: dt.datetime) -> SigningKey:
    key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": SIGNING_ALG}, auto_kid=True)
    row = SigningKey(kid=key.kid, private_jwk=json.dumps(key.as_dict(private=True)), created_at=created,
                     activates_at=activates)
    session.add(row)
    session.flush()
    return row


def _live_keys(session: Session, at: dt.datetime) -> list[SigningKey]:
    rows = session.scalars(select(SigningKey).where(or_(SigningKey.retires_at.is_(None), SigningKey.retires_at > at)))
    return sorted(rows, key=lambda row: (aware(row.activates_at), row.id), reverse=True)


def rotate_keys(session: Session, propagation: dt.timedelta = KEY_PROPAGATION) -> SigningKey:
    """Publishes a new key that signs after ``propagation``; the keys it replaces stay
    published until the last ID token they can have signed has expired."""
    moment = now()
    if not _live_keys(session, moment):
        return _new_key(session, moment, moment)
    new = _new_key(session, moment, moment + propagation)
    for key in _live_keys(session, moment):
        if key.id != new.id and key.retires_at is None:
            key.retires_at = aware(new.activates_at) + ID_TOKEN_LIFETIME
    return new


def signing_key(session: Session) -> tuple[str, RSAKey]:
    """The newest active key (created on first use)."""
    moment = now()
    active = [key for key in _live_keys(session, moment) if aware(key.activates_at) <= moment]
    key = active[0] if active else _new_key(session, moment, moment)
    return key.kid, _import(key)


def published_keys(session: Session) -> KeySet:
    """Every key a valid token may carry: the active one, the next one and those still covering old tokens."""
    keys = _live_keys(session, now())
    if not keys:
        signing_key(session)
        keys = _live_keys(session, now())
    return KeySet([_import(key) for key in keys])


def public_jwks(session: Session) -> dict:
    return published_keys(session).as_dict(private=False)


def key_schedule(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.activates_at, SigningKey.id)))


# --- consent ---------------------------------------------------------------------------------------------------


def requested_claims(client: RelyingParty, scope: str) -> list[str]:
    """Claims the scope asks for that the relying party is registered to receive, in catalogue order."""
    scopes = set(scope.split())
    wanted = {claim for name, claims in SCOPE_CLAIMS.items() if name in scopes for claim in claims}
    return [claim for claim in ALL_CLAIMS if claim in wanted and claim in client.allowed_claims]


def remembered_consent(session: Session, account_id: int, client_id: str) -> Consent | None:
    return session.scalar(select(Consent).where(Consent.account_id == account_id, Consent.client_id == client_id))


def consent_covers(consent: Consent | None, claims: Iterable[str]) -> bool:
    """The citizen already answered for every claim asked (a claim not shared then was refused, not forgotten)."""
    return consent is not None and set(claims) <= {claim.lstrip("-") for claim in consent.claims}


def shared_claims(consent: Consent | None, claims: Iterable[str]) -> list[str]:
    if consent is None:
        return []
    return [claim for claim in claims if claim in consent.claims]


def remember_consent(session: Session, account_id: int, client_id: str, asked: Iterable[str],
                     shared: Iterable[str]) -> Consent:
    """Stores the citizen's answer: claims shared as themselves, claims refused as "-claim"."""
    asked, shared = list(asked), [claim for claim in shared if claim in set(asked)]
    answer = shared + [f"-{claim}" for claim in asked if claim not in shared]
    consent = remembered_consent(session, account_id, client_id)
    if consent is None:
        consent = Consent(account_id=account_id, client_id=client_id, claims=answer, granted_at=now())
        session.add(consent)
    else:
        earlier = [claim for claim in consent.claims if claim.lstrip("-") not in set(asked)]
        consent.claims = earlier + answer
        consent.granted_at = now()
    session.flush()
    return consent


def consents_of(session: Session, account_id: int) -> list[tuple[Consent, RelyingParty]]:
    rows = session.execute(select(Consent, RelyingParty).join(RelyingParty, RelyingParty.client_id == Consent.client_id)
                           .where(Consent.account_id == account_id).order_by(RelyingParty.name))
    return [(consent, client) for consent, client in rows]


def revoke_consent(session: Session, account_id: int, client_id: str) -> bool:
    """Forgets the consent and revokes every token the relying party holds for this citizen."""
    consent = remembered_consent(session, account_id, client_id)
    if consent is None:
        return False
    session.delete(consent)
    session.execute(update(Token).where(Token.account_id == account_id, Token.client_id == client_id,
                                        Token.revoked_at.is_(None)).values(revoked_at=now()))
    return True


# --- codes and tokens ------------------------------------------------------------------------------------------


def nonce_used(session: Session, client_id: str, nonce: str) -> bool:
    return session.scalar(select(AuthorizationCode.id).where(AuthorizationCode.client_id == client_id,
                                                             AuthorizationCode.nonce == nonce)) is not None


def find_code(session: Session, code: str, client_id: str) -> AuthorizationCode | None:
    """The code, locked for its exchange: used twice at once, it is exchanged once and the other use is a replay."""
    code_id = session.scalar(select(AuthorizationCode.id).where(AuthorizationCode.code_sha256 == digest(code),
                                                                AuthorizationCode.client_id == client_id))
    return lock_row(session, AuthorizationCode, code_id) if code_id is not None else None


def code_family(code: AuthorizationCode) -> str:
    return f"code-{code.id}"


def revoke_family(session: Session, family: str) -> None:
    session.execute(update(Token).where(Token.family == family, Token.revoked_at.is_(None)).values(revoked_at=now()))


def find_token(session: Session, *, access: str | None = None, refresh: str | None = None,
               lock: bool = False) -> Token | None:
    """``lock`` for a rotation: a refresh token used twice at once is rotated once, the other use is a reuse."""
    if access is not None:
        return session.scalar(select(Token).where(Token.access_sha256 == digest(access)))
    if refresh is not None:
        token_id = session.scalar(select(Token.id).where(Token.refresh_sha256 == digest(refresh)))
        if token_id is None:
            return None
        return lock_row(session, Token, token_id) if lock else session.get(Token, token_id)
    return None


def token_active(token: Token) -> bool:
    return token.revoked_at is None and aware(token.access_expires_at) > now()


def revoke_account_tokens(session: Session, account_id: int, client_id: str | None = None) -> None:
    query = update(Token).where(Token.account_id == account_id, Token.revoked_at.is_(None))
    if client_id is not None:
        query = query.where(Token.client_id == client_id)
    session.execute(query.values(revoked_at=now()))


# Used codes are kept this long after expiry so that a late replay still revokes what the first use got.
CODE_RETENTION = dt.timedelta(days=1)


def purge_expired(session: Session) -> tuple[int, int]:
    """Deletes codes past their retention and tokens that can no longer be used; returns (codes, tokens)."""
    moment = now()
    codes = session.execute(delete(AuthorizationCode)
                            .where(AuthorizationCode.expires_at < moment - CODE_RETENTION)).rowcount
    tokens = session.execute(delete(Token).where(or_(
        Token.refresh_expires_at < moment,
        Token.refresh_expires_at.is_(None) & (Token.access_expires_at < moment),
        Token.revoked_at.is_not(None) & (Token.access_expires_at < moment)))).rowcount
    return codes, tokens
