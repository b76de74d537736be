"""One pending residence application of each kind per person.

A double submit of the citizen's form (or of the counter form) filed two
applications. Filing now locks the person and refuses a second pending one of
the same kind, and a partial unique index makes two impossible. Older
duplicates are repaired first: the newest pending application stays, the
others are refused with the reason "superseded", decided by "migration 0016".

Revision ID: 0016_one_pending_application
Revises: 0015_concurrency_invariants
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0016_one_pending_application"
down_revision = "0015_concurrency_invariants"
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")
application = sa.table(
    "residence_application", sa.column("id", sa.BigInteger), sa.column("person_id", sa.BigInteger),
    sa.column("kind", sa.String), sa.column("status", sa.String), sa.column("filed_at", sa.DateTime(timezone=True)),
    sa.column("decided_by", sa.String), sa.column("decided_at", sa.DateTime(timezone=True)),
    sa.column("decision_reason", sa.String),
)


def _refuse_older_duplicates(connection) -> None:
    rows = connection.execute(
        sa.select(application.c.id, application.c.person_id, application.c.kind)
        .where(application.c.status == "pending")
        .order_by(application.c.person_id, application.c.kind, application.c.filed_at.desc(), application.c.id.desc())
    ).all()
    seen: set[tuple[int, str]] = set()
    older = []
    for row in rows:
        key = (row.person_id, row.kind)
        if key in seen:
            older.append(row.id)
        seen.add(key)
    if older:
        connection.execute(sa.update(application).where(application.c.id.in_(older)).values(
            status="refused", decided_by="migration 0016", decided_at=dt.datetime.now(dt.UTC),
            decision_reason="superseded"))


def upgrade() -> None:
    _refuse_older_duplicates(op.get_bind())
    op.create_index("uq_residence_application_pending", "residence_application", ["person_id", "kind"], unique=True,
                    sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index("uq_residence_application_pending", table_name="residence_application")
