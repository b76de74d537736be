"""Exact and prefix name search through a B-tree on PostgreSQL.

The trigram index answers fuzzy matches, but a common full name ("nguyen van
hung") shares its trigrams with tens of thousands of others: fuzzy matching
stays the fallback for names nobody carries exactly. ``varchar_pattern_ops``
lets ``name_folded LIKE 'nguyen van %'`` use the index whatever the
database's collation.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_person_name_prefix ON person (name_folded varchar_pattern_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_person_name_prefix")
