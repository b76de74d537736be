"""Access log: lock-free appends with an entry MAC, sealed into the hash chain in batches.

The table is rebuilt: ``id`` (a sequence) becomes the key, ``seq``/``prev_mac``/
``mac`` are filled by the sealer and stay NULL while an entry is pending.
Existing entries keep their chain position (``id = seq``).

Revision ID: 0006_audit_sealing
Revises: 0005_linkage
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_sealing"
down_revision = "0005_linkage"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COLUMNS = "at, actor, action, subject_type, subject_id, purpose, detail, prev_mac, mac"


def _content_columns() -> list[sa.Column]:
    return [
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("subject_type", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.String(length=1000), nullable=False),
    ]


def _move_aside(new_name: str, indexes: tuple[str, ...]) -> None:
    """Rename access_log and free its index and key names for the rebuilt table."""
    op.rename_table("access_log", new_name)
    with op.batch_alter_table(new_name) as batch_op:
        for index in indexes:
            batch_op.drop_index(index)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {new_name} RENAME CONSTRAINT pk_access_log TO pk_{new_name}")


def upgrade() -> None:
    _move_aside("access_log_0005", ("ix_access_log_subject", "ix_access_log_actor"))
    op.create_table(
        "access_log",
        sa.Column("id", BigId, nullable=False),
        sa.Column("seq", BigId, nullable=True),
        *_content_columns(),
        sa.Column("entry_mac", sa.String(length=64), nullable=True),
        sa.Column("prev_mac", sa.String(length=64), nullable=True),
        sa.Column("mac", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.execute(f"INSERT INTO access_log (id, seq, {COLUMNS}) SELECT seq, seq, {COLUMNS} FROM access_log_0005")
    op.drop_table("access_log_0005")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval(pg_get_serial_sequence('access_log', 'id'), COALESCE(MAX(id), 0) + 1, false) "
                   "FROM access_log")
    with op.batch_alter_table("access_log") as batch_op:
        batch_op.create_index("ix_access_log_actor", ["actor"], unique=False)
        batch_op.create_index("ix_access_log_subject", ["subject_type", "subject_id"], unique=False)
        batch_op.create_index("ix_access_log_seq", ["seq"], unique=True)
        batch_op.create_index("ix_access_log_pending", ["id"], unique=False,
                              sqlite_where=sa.text("seq IS NULL"), postgresql_where=sa.text("seq IS NULL"))


def downgrade() -> None:
    pending = op.get_bind().scalar(sa.text("SELECT COUNT(*) FROM access_log WHERE seq IS NULL"))
    if pending:
        raise RuntimeError(f"{pending} access-log entries are not sealed yet: run `dancu audit seal` first")
    _move_aside("access_log_0006",
                ("ix_access_log_pending", "ix_access_log_seq", "ix_access_log_subject", "ix_access_log_actor"))
    op.create_table(
        "access_log",
        sa.Column("seq", BigId, autoincrement=False, nullable=False),
        *_content_columns(),
        sa.Column("prev_mac", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_access_log")),
    )
    op.execute(f"INSERT INTO access_log (seq, {COLUMNS}) SELECT seq, {COLUMNS} FROM access_log_0006")
    op.drop_table("access_log_0006")
    with op.batch_alter_table("access_log") as batch_op:
        batch_op.create_index("ix_access_log_actor", ["actor"], unique=False)
        batch_op.create_index("ix_access_log_subject", ["subject_type", "subject_id"], unique=False)
