"""Identity cards: applications, biometrics (encrypted), cards, batches, mobile teams, visits, status lists.

Revision ID: 0006_cards
Revises: 0005_linkage
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_cards"
down_revision = "0005_linkage"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("cards", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_batch")),
    )
    op.create_table(
        "card_mobile_team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_mobile_team")),
        sa.UniqueConstraint("name", name=op.f("uq_card_mobile_team_name")),
    )
    op.create_table(
        "card_status_list",
        sa.Column("sequence", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sequence", name=op.f("pk_card_status_list")),
    )
    op.create_table(
        "card_team_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("visit_on", sa.Date(), nullable=False),
        sa.Column("place_kind", sa.String(length=20), nullable=False),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("package_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["team_id"], ["card_mobile_team.id"],
                                name=op.f("fk_card_team_visit_team_id_card_mobile_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_team_visit")),
    )
    op.create_index("ix_card_team_visit_team_day", "card_team_visit", ["team_id", "visit_on"])
    op.create_table(
        "card_visit_entry",
        sa.Column("id", BigId, nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["visit_id"], ["card_team_visit.id"],
                                name=op.f("fk_card_visit_entry_visit_id_card_team_visit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_visit_entry")),
        sa.UniqueConstraint("visit_id", "person_id", name="uq_card_visit_entry_person"),
    )
    op.create_table(
        "card_application",
        sa.Column("id", BigId, nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=60), nullable=True),
        sa.Column("decision_note", sa.String(length=300), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("capture_key", sa.String(length=64), nullable=True),
        sa.Column("capture_digest", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["card_batch.id"], name=op.f("fk_card_application_batch_id_card_batch")),
        sa.ForeignKeyConstraint(["visit_id"], ["card_team_visit.id"],
                                name=op.f("fk_card_application_visit_id_card_team_visit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_application")),
        sa.UniqueConstraint("capture_key", name=op.f("uq_card_application_capture_key")),
    )
    op.create_index("ix_card_application_status_id", "card_application", ["status", "id"])
    op.create_index(op.f("ix_card_application_person_id"), "card_application", ["person_id"])
    op.create_index(op.f("ix_card_application_unit_id"), "card_application", ["unit_id"])
    op.create_table(
        "card_biometrics",
        sa.Column("application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_id", sa.String(length=60), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("face_quality", sa.Integer(), nullable=False),
        sa.Column("fingers", sa.String(length=200), nullable=False),
        sa.Column("sealed_face", sa.Text(), nullable=False),
        sa.Column("sealed_fingerprints", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["card_application.id"],
                                name=op.f("fk_card_biometrics_application_id_card_application")),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_card_biometrics")),
    )
    op.create_table(
        "card",
        sa.Column("id", BigId, nullable=False),
        sa.Column("document_number", sa.String(length=12), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("chip_data", sa.Text(), nullable=False),
        sa.Column("qr_text", sa.Text(), nullable=False),
        sa.Column("signer_serial", sa.String(length=40), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["card_application.id"],
                                name=op.f("fk_card_application_id_card_application")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card")),
        sa.UniqueConstraint("application_id", name=op.f("uq_card_application_id")),
        sa.UniqueConstraint("document_number", name=op.f("uq_card_document_number")),
    )
    op.create_index(op.f("ix_card_person_id"), "card", ["person_id"])
    op.create_index(op.f("ix_card_revoked_at"), "card", ["revoked_at"])


def downgrade() -> None:
    op.drop_table("card")
    op.drop_table("card_biometrics")
    op.drop_table("card_application")
    op.drop_table("card_visit_entry")
    op.drop_index("ix_card_team_visit_team_day", table_name="card_team_visit")
    op.drop_table("card_team_visit")
    op.drop_table("card_status_list")
    op.drop_table("card_mobile_team")
    op.drop_table("card_batch")
