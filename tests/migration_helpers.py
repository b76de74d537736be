"""Take the test database's schema down to an older revision, to test what a migration does with old data."""

from __future__ import annotations

from alembic import command

from dancu.db import get_engine
from dancu.migrate import alembic_config


def downgrade_below(revision: str) -> None:
    """Downgrade the schema to the revision just before ``revision``, in one transaction.

    Callers close their sessions first: a session holding a connection would block the DDL on PostgreSQL.
    """
    config = alembic_config()
    with get_engine().begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, f"{revision}-1")
