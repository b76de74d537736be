"""Staff accounts: creation, password login with lockout, API tokens, scope."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from dancu.accounts.models import ApiToken, Role, User

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
TOKEN_LIFETIME = dt.timedelta(hours=12)

_hasher = PasswordHasher()


class AuthError(Exception):
    """Login refused; the message is safe to show (it never says which part was wrong)."""


class PermissionDenied(Exception):
    pass


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
    """Replace a password and lift any lockout."""
    _check_password(password)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise LookupError(f"no user {username!r}")
    user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    session.flush()


def user_exists(session: Session, username: str) -> bool:
    return session.scalar(select(User.id).where(User.username == username)) is not None


def actor_for(user: User | Row) -> Actor:
    """The actor of a user, or of a row with the user's username, role and scope_unit_id columns."""
    return Actor(username=user.username, role=Role(user.role), scope_unit_id=user.scope_unit_id)


def authenticate(session: Session, username: str, password: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Hash anyway so that timing does not reveal which usernames exist.
        _hasher.hash(password)
        raise AuthError("wrong username or password")
    if user.locked_until and _aware(user.locked_until) > _now():
        raise AuthError("account temporarily locked after repeated failures; try again later")
    try:
        _hasher.verify(user.password_hash, password)
    except VerificationError:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = _now() + LOCKOUT
            user.failed_logins = 0
        session.commit()
        raise AuthError("wrong username or password") from None
    user.failed_logins = 0
    user.locked_until = None
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
