"""Schema and data migrations (Alembic), run by `dancu db upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from dancu.crypto import ensure_master_key
from dancu.db import get_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Search structures that migrations 0002 and 0004 create by hand because the
# ORM cannot describe them (an FTS5 virtual table and its shadow tables,
# indexes with PostgreSQL operator classes); autogenerate must leave them alone.
HAND_MADE = ("person_fts", "ix_person_name_trgm", "ix_person_name_prefix")


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (reflected and compare_to is None and name is not None and name.startswith(HAND_MADE))


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine | None = None, revision: str = "heads") -> None:
    ensure_master_key()
    engine = engine or get_engine()
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def make_revision(message: str, engine: Engine | None = None) -> None:
    """Developer helper: autogenerate a migration from model changes."""
    engine = engine or get_engine()
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message=message, autogenerate=True)
