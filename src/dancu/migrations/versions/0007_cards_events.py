"""Identity cards: the event trail of applications and cards (who did what, when).

Revision ID: 0007_cards_events
Revises: 0006_cards
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_cards_events"
down_revision = "0006_cards"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_event",
        sa.Column("id", BigId, nullable=False),
        sa.Column("application_id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["card_application.id"],
                                name=op.f("fk_card_event_application_id_card_application")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_event")),
    )
    op.create_index(op.f("ix_card_event_application_id"), "card_event", ["application_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_card_event_application_id"), table_name="card_event")
    op.drop_table("card_event")
