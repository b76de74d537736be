"""Record linkage: runs and their scored candidate pairs.

Revision ID: 0005_linkage
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_linkage"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "linkage_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("candidate_pairs", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("review_threshold", sa.Float(), nullable=False),
        sa.Column("matched_pairs", sa.BigInteger(), nullable=False),
        sa.Column("clusters", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkage_run")),
    )
    op.create_table(
        "linkage_pair",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("left_record", sa.String(length=80), nullable=False),
        sa.Column("right_record", sa.String(length=80), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["linkage_run.id"], name=op.f("fk_linkage_pair_run_id_linkage_run"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkage_pair")),
    )
    with op.batch_alter_table("linkage_pair", schema=None) as batch_op:
        batch_op.create_index("ix_linkage_pair_run_weight", ["run_id", "match_weight"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("linkage_pair", schema=None) as batch_op:
        batch_op.drop_index("ix_linkage_pair_run_weight")
    op.drop_table("linkage_pair")
    op.drop_table("linkage_run")
