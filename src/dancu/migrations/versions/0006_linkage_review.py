"""Record linkage: per-comparison weights of stored pairs, records for review, clerical decisions, agency data sets.

Revision ID: 0006_linkage_review
Revises: 0005_linkage
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_linkage_review"
down_revision = "0005_linkage"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("linkage_pair", schema=None) as batch_op:
        batch_op.add_column(sa.Column("comparisons", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("merge_id", BigId, nullable=True))
    op.create_table(
        "linkage_record",
        sa.Column("id", BigId, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=80), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["linkage_run.id"], name=op.f("fk_linkage_record_run_id_linkage_run"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkage_record")),
    )
    op.create_index("ix_linkage_record_run_record", "linkage_record", ["run_id", "record_id"], unique=True)
    op.create_table(
        "linkage_decision",
        sa.Column("id", BigId, nullable=False),
        sa.Column("pair_id", BigId, nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["pair_id"], ["linkage_pair.id"], name=op.f("fk_linkage_decision_pair_id_linkage_pair"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkage_decision")),
    )
    op.create_index("ix_linkage_decision_pair", "linkage_decision", ["pair_id", "id"], unique=False)
    op.create_table(
        "agency_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("file_name", sa.String(length=400), nullable=False),
        sa.Column("mapping", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("matched", sa.BigInteger(), nullable=False),
        sa.Column("conflicting", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_dataset")),
    )
    op.create_table(
        "agency_record",
        sa.Column("id", BigId, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=80), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["agency_dataset.id"],
                                name=op.f("fk_agency_record_dataset_id_agency_dataset"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_record")),
    )
    op.create_index("ix_agency_record_dataset_record", "agency_record", ["dataset_id", "record_id"], unique=True)
    op.create_table(
        "agency_link",
        sa.Column("id", BigId, nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=80), nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("match_probability", sa.Float(), nullable=False),
        sa.Column("comparisons", sa.Text(), nullable=False),
        sa.Column("conflicts", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["agency_dataset.id"],
                                name=op.f("fk_agency_link_dataset_id_agency_dataset"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_link")),
    )
    op.create_index("ix_agency_link_person", "agency_link", ["person_id"], unique=False)
    op.create_index("ix_agency_link_dataset_record", "agency_link", ["dataset_id", "record_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_agency_link_dataset_record", table_name="agency_link")
    op.drop_index("ix_agency_link_person", table_name="agency_link")
    op.drop_table("agency_link")
    op.drop_index("ix_agency_record_dataset_record", table_name="agency_record")
    op.drop_table("agency_record")
    op.drop_table("agency_dataset")
    op.drop_index("ix_linkage_decision_pair", table_name="linkage_decision")
    op.drop_table("linkage_decision")
    op.drop_index("ix_linkage_record_run_record", table_name="linkage_record")
    op.drop_table("linkage_record")
    with op.batch_alter_table("linkage_pair", schema=None) as batch_op:
        batch_op.drop_column("merge_id")
        batch_op.drop_column("comparisons")
