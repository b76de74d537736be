"""Registry: merges of two records of one person, with the rows they changed (for redirects and undo).

Revision ID: 0006_registry_merge
Revises: 0005_linkage
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_registry_merge"
down_revision = "0005_linkage"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "person_merge",
        sa.Column("id", BigId, nullable=False),
        sa.Column("survivor_id", BigId, nullable=False),
        sa.Column("retired_id", BigId, nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("origin", sa.String(length=120), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_by", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(["survivor_id"], ["person.id"], name=op.f("fk_person_merge_survivor_id_person")),
        sa.ForeignKeyConstraint(["retired_id"], ["person.id"], name=op.f("fk_person_merge_retired_id_person")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_merge")),
    )
    op.create_index("ix_person_merge_retired", "person_merge", ["retired_id", "undone_at"], unique=False)
    op.create_index("ix_person_merge_survivor", "person_merge", ["survivor_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_person_merge_survivor", table_name="person_merge")
    op.drop_index("ix_person_merge_retired", table_name="person_merge")
    op.drop_table("person_merge")
