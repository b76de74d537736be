"""PKI: keystore keys (sealed), issued certificates, published CRLs.

Revision ID: 0006_pki
Revises: 0005_linkage
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_pki"
down_revision = "0005_linkage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pki_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("public_key_der", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pki_key")),
        sa.UniqueConstraint("label", name=op.f("uq_pki_key_label")),
    )
    op.create_table(
        "pki_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=42), nullable=False),
        sa.Column("profile", sa.String(length=30), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["pki_key.id"], name=op.f("fk_pki_certificate_key_id_pki_key")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pki_certificate")),
        sa.UniqueConstraint("serial", name=op.f("uq_pki_certificate_serial")),
    )
    with op.batch_alter_table("pki_certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pki_certificate_purpose"), ["purpose"], unique=False)
    op.create_table(
        "pki_crl",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("this_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_update", sa.DateTime(timezone=True), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_pki_crl")),
    )


def downgrade() -> None:
    op.drop_table("pki_crl")
    with op.batch_alter_table("pki_certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pki_certificate_purpose"))
    op.drop_table("pki_certificate")
    op.drop_table("pki_key")
