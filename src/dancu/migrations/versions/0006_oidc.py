"""OpenID Connect provider: relying parties, signing keys, codes, tokens, consents.

Revision ID: 0006_oidc
Revises: 0005_linkage
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_oidc"
down_revision = "0005_linkage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("allowed_claims", sa.JSON(), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=False),
        sa.Column("sector_identifier", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_oidc_client_client_id")),
    )
    op.create_table(
        "oidc_signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_jwk", sa.String(length=8000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activates_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_signing_key")),
        sa.UniqueConstraint("kid", name=op.f("uq_oidc_signing_key_kid")),
    )
    op.create_table(
        "oidc_authorization_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_authorization_code")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_oidc_authorization_code_code_sha256")),
        sa.UniqueConstraint("client_id", "nonce", name="uq_oidc_authorization_code_client_nonce"),
    )
    op.create_index(op.f("ix_oidc_authorization_code_client_id"), "oidc_authorization_code", ["client_id"])
    op.create_table(
        "oidc_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("access_sha256", sa.String(length=64), nullable=False),
        sa.Column("refresh_sha256", sa.String(length=64), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_token")),
        sa.UniqueConstraint("access_sha256", name=op.f("uq_oidc_token_access_sha256")),
        sa.UniqueConstraint("refresh_sha256", name=op.f("uq_oidc_token_refresh_sha256")),
    )
    op.create_index(op.f("ix_oidc_token_family"), "oidc_token", ["family"])
    op.create_index(op.f("ix_oidc_token_account_id"), "oidc_token", ["account_id"])
    op.create_table(
        "oidc_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["oidc_client.client_id"],
                                name=op.f("fk_oidc_consent_client_id_oidc_client")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_consent")),
        sa.UniqueConstraint("account_id", "client_id", name="uq_oidc_consent_account_client"),
    )
    op.create_index(op.f("ix_oidc_consent_account_id"), "oidc_consent", ["account_id"])


def downgrade() -> None:
    op.drop_table("oidc_consent")
    op.drop_table("oidc_token")
    op.drop_table("oidc_authorization_code")
    op.drop_table("oidc_signing_key")
    op.drop_table("oidc_client")
