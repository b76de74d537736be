"""Signatures made through dancu (citizens' list, free-of-charge accounting).

Revision ID: 0007_pki_signatures
Revises: 0006_pki
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_pki_signatures"
down_revision = "0006_pki"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signature_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("certificate_serial", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("public_service", sa.Boolean(), nullable=False),
        sa.Column("free_of_charge", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_record")),
    )
    with op.batch_alter_table("signature_record", schema=None) as batch_op:
        batch_op.create_index("ix_signature_record_account_at", ["account_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signature_record", schema=None) as batch_op:
        batch_op.drop_index("ix_signature_record_account_at")
    op.drop_table("signature_record")
