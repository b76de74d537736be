"""Registry: an import job remembers where its persons' ids start, to check only them after loading.

Revision ID: 0007_import_first_person
Revises: 0006_registry_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_import_first_person"
down_revision = "0006_registry_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("import_job") as batch_op:
        batch_op.add_column(sa.Column("persons_after_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_job") as batch_op:
        batch_op.drop_column("persons_after_id")
