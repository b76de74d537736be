"""Login throttling replaces the staff-account lockout.

Five wrong passwords used to lock any staff account (the only administrator's
too) for anyone who knew its name. ``login_throttle`` holds progressive-delay
counters per account, per source and per (account, source) pair, and the
owner's usual sources (dancu.accounts.throttle); the lockout columns go.

Revision ID: 0013_login_throttle
Revises: 0012_foreign_key_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_login_throttle"
down_revision = "0012_foreign_key_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.drop_table("login_throttle")
