"""Staff accounts: creation, password login with throttling (never a lockout), API tokens, scope."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from dancu.accounts import throttle
from dancu.accounts.models import ApiToken, Role, User

TOKEN_LIFETIME = dt.timedelta(hours=12)

_hasher = PasswordHasher()
# Verified against when there is no real hash to check, so every refusal costs one verification.
_DUMMY_HASH = _hasher.hash("not the password of anyone")


class AuthError(Exception):
    """Login refused; the message is safe to show (it never says which part was wrong)."""

    code = "auth.failed"


# The one refusal of a password login: unknown user, wrong password and throttled look alike.
LOGIN_REFUSED = "wrong username or password, or too many attempts: wait a minute and try again"


class PermissionDenied(Exception):
    code = "auth.permission_denied"


@dataclass(frozen=True)
class Actor:
    """Who is acting: carried into every service call that reads or changes data."""

    username: str
    role: Role
    scope_unit_id: int | None = None

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            raise PermissionDenied(f"role {self.role.value} may not do this")


SYSTEM = Actor(username="system", role=Role.ADMIN)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _check_password(password: str) -> None:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    display_name: str = "",
    scope_unit_id: int | None = None,
) -> User:
    _check_password(password)
    if session.scalar(select(User).where(User.username == username)):
        raise ValueError(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=_hasher.hash(password),
        role=role.value,
        scope_unit_id=scope_unit_id,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, username: str, password: str) -> None:
    """Replace a password and lift the account's login delays."""
    _check_password(password)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user {username!r}")
    user.password_hash = _hasher.hash(password)
    throttle.clear(session, username)
    session.flush()


def unlock(session: Session, username: str) -> None:
    """Lift the account's login delays (the administrator's way in that no outsider can block)."""
    if not user_exists(session, username):
        raise LookupError(f"no user {username!r}")
    throttle.clear(session, username)


def user_exists(session: Session, username: str) -> bool:
    return session.scalar(select(User.id).where(User.username == username)) is not None


def actor_for(user: User | Row) -> Actor:
    """The actor of a user, or of a row with the user's username, role and scope_unit_id columns."""
    return Actor(username=user.username, role=Role(user.role), scope_unit_id=user.scope_unit_id)


def _password_matches(user: User | None, password: str, throttled: bool) -> bool:
    """One Argon2 verification on every path, so timing tells neither existence nor throttling."""
    usable = user is not None and user.active and not throttled
    try:
        return _hasher.verify(user.password_hash if usable else _DUMMY_HASH, password) and usable
    except VerificationError:
        return False


def authenticate(session: Session, username: str, password: str, source: str) -> Actor:
    """Check a password login from ``source`` (the client's address, or "cli"); see dancu.accounts.throttle.

    A failure is committed before AuthError is raised, so it counts even
    though the caller's unit of work rolls back.
    """
    now = _now()
    throttled = throttle.is_throttled(session, username, source, now)
    user = session.scalar(select(User).where(User.username == username))
    if not _password_matches(user, password, throttled):
        # A refused attempt during a delay counts too: hammering only lengthens the wait.
        throttle.record_failure(session, username, source, now)
        session.commit()
        raise AuthError(LOGIN_REFUSED)
    throttle.record_success(session, username, source, now)
    return actor_for(user)


def issue_token(session: Session, actor: Actor) -> str:
    user = session.scalar(select(User).where(User.username == actor.username))
    if user is None:
        raise AuthError("unknown user")
    token = secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            expires_at=_now() + TOKEN_LIFETIME,
        )
    )
    session.flush()
    return token


def actor_from_token(session: Session, token: str) -> Actor:
    digest = hashlib.sha256(token.encode()).hexdigest()
    # Columns, not entities: every API request runs this.
    row = session.execute(
        select(ApiToken.expires_at, User.username, User.role, User.scope_unit_id, User.active)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_sha256 == digest)
    ).first()
    if row is None or _aware(row.expires_at) < _now() or not row.active:
        raise AuthError("invalid or expired token")
    return actor_for(row)


def actor_by_username(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise AuthError("unknown user")
    return actor_for(user)


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))
