"""Engine, sessions and the declarative base shared by every domain package.

Domains own their tables; they meet only through service functions. This module
only knows how to connect, so it stays free of domain imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

from sqlalchemy import Engine, MetaData, create_engine, event, select, text, update
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from dancu.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Bounds of the id columns (BIGINT for persons and their records, INTEGER for
# reference tables such as units): ids outside them can name nothing.
MAX_ID = 2**63 - 1
MAX_UNIT_ID = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web server read while an import writes; busy_timeout turns
    # writer contention into waiting instead of "database is locked" errors.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it costs a round trip on every checkout (6% of an ID lookup's
    # server time). A connection that died with a server restart fails one
    # request, and SQLAlchemy then invalidates the whole pool; pool_recycle
    # retires connections before idle timeouts of proxies and firewalls.
    return create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(get_engine(), expire_on_commit=False)


def new_session() -> Session:
    return _session_factory()()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session_or_engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


_Row = TypeVar("_Row")


class ConcurrentChange(Exception):
    """The record changed since the caller read it: another request won; the message is for the user."""

    code = "record_changed"


def lock_row(session: Session, model: type[_Row], row_id: int | str) -> _Row | None:
    """Load a row for a read-decide-write: no other transaction changes it until this one ends.

    PostgreSQL locks the row (``SELECT ... FOR UPDATE``): another transaction
    locking it waits, then reads what this one committed. SQLite has no row
    locks, so the transaction writes the row unchanged, which takes the
    database's write lock before anything is read; every other writer waits
    (``busy_timeout``). Call it before reading what the decision depends on:
    it reloads the row, replacing any unflushed change to it. None when there
    is no such row.
    """
    table = model.__table__
    (key,) = table.primary_key.columns  # the id, or another single-column key (e.g. a throttle's)
    query = select(model).where(key == row_id).execution_options(populate_existing=True)
    if is_postgres(session):
        return session.scalar(query.with_for_update())
    session.execute(update(table).where(key == row_id).values({key.name: key}))
    return session.scalar(query)


def lock_key(session: Session, key: str) -> None:
    """Hold a named lock until the transaction ends, for a decision no single row stands for.

    E.g. the next serial of a numbering sequence, read as the highest one taken:
    PostgreSQL takes a transaction-level advisory lock on the key's hash; on
    SQLite a write that matches no row takes the database's one write lock.
    """
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})
    else:
        session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0"))


def reset_caches() -> None:
    """Forget the engine and settings (tests switch databases through env vars)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    _session_factory.cache_clear()
    get_settings.cache_clear()
