"""Registry: residence applications, the citizen's own request that lets a destination commune register them.

Revision ID: 0010_residence_applications
Revises: 0009_residence_integrity
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_residence_applications"
down_revision = "0009_residence_integrity"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "residence_application",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", _enum("residence_kind", "permanent", "temporary", "current_stay"), nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("applicant_pin", sa.String(length=12), nullable=False),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_birth_date", sa.String(length=10), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("address_line", sa.String(length=200), nullable=False),
        sa.Column("household_id", BigId, nullable=True),
        sa.Column("relationship_to_head", sa.String(length=30), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("channel", _enum("application_channel", "online", "in_person"), nullable=False),
        sa.Column("evidence", sa.String(length=200), nullable=False),
        sa.Column("filed_by", sa.String(length=60), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", _enum("application_status", "pending", "accepted", "refused"), nullable=False),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("origin_unit_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_residence_application_person_id_person")),
        sa.ForeignKeyConstraint(["unit_id"], ["admin_unit.id"],
                                name=op.f("fk_residence_application_unit_id_admin_unit")),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"],
                                name=op.f("fk_residence_application_household_id_household")),
        sa.ForeignKeyConstraint(["origin_unit_id"], ["admin_unit.id"],
                                name=op.f("fk_residence_application_origin_unit_id_admin_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_residence_application")),
    )
    op.create_index("ix_residence_application_unit_status", "residence_application", ["unit_id", "status"])
    op.create_index(op.f("ix_residence_application_person_id"), "residence_application", ["person_id"])
    op.create_index(op.f("ix_residence_application_household_id"), "residence_application", ["household_id"])
    op.create_index(op.f("ix_residence_application_origin_unit_id"), "residence_application", ["origin_unit_id"])


def downgrade() -> None:
    op.drop_table("residence_application")
