"""Access log: a Merkle tree log with a unique id under every entry's MAC, replacing the HMAC chain.

Upgrading first checks the old HMAC chain and every entry MAC and refuses to
go on if the log was tampered with (nothing may be laundered into the new
tree). It then gives every entry a uid and a new entry MAC over it, and sets
every entry pending again (``seq`` NULL, head at 0): the sealer adds them to
the Merkle tree in their original order (``id``), and the first checkpoint
covers them. The chain columns (``prev_mac``, ``mac``, the head's ``mac``) go.
Downgrading rebuilds the HMAC chain from the tree order. Both directions need
the master key file when the log has entries, as the application does.

Revision ID: 0011_audit_transparency
Revises: 0010_residence_applications
"""

import datetime as dt
import hashlib
import hmac
import json
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0011_audit_transparency"
down_revision = "0010_residence_applications"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
CONTENT = ("at", "actor", "action", "subject_type", "subject_id", "purpose", "detail")

# A frozen copy of the canonical forms of both versions: the application's may change later.
access_log = sa.table(
    "access_log",
    sa.column("id", sa.BigInteger), sa.column("seq", sa.BigInteger), sa.column("uid", sa.String),
    sa.column("at", sa.DateTime(timezone=True)), *(sa.column(name, sa.String) for name in CONTENT[1:]),
    sa.column("entry_mac", sa.String), sa.column("prev_mac", sa.String), sa.column("mac", sa.String),
    sa.column("refused", sa.Boolean),
)


def _key() -> bytes:
    from dancu.crypto import derive_key

    return derive_key("dancu/audit-chain/v1")


def _canonical(row, seq: int | None = None, uid: str | None = None) -> str:
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=dt.UTC)
    fields = [at.astimezone(dt.UTC).isoformat(timespec="microseconds"), *(getattr(row, name) for name in CONTENT[1:])]
    if uid is not None:
        fields.insert(0, uid)
    if seq is not None:
        fields.insert(0, seq)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _rows(columns, order):
    return op.get_bind().execute(sa.select(*columns).select_from(access_log).order_by(order)).all()


def _check_old_chain(key: bytes) -> None:
    c = access_log.c
    prev, expected, broken = GENESIS, 1, []
    columns = [c.id, c.seq, c.at, *(c[name] for name in CONTENT[1:]), c.entry_mac, c.prev_mac, c.mac]
    for row in _rows(columns, sa.func.coalesce(c.seq, 2**62 + c.id)):
        if row.entry_mac is not None and not hmac.compare_digest(_mac(key, _canonical(row)), row.entry_mac):
            broken.append(row.id)
        if row.seq is None:
            continue
        if (row.seq != expected or row.prev_mac != prev
                or not hmac.compare_digest(_mac(key, prev + _canonical(row, row.seq)), row.mac or "")):
            broken.append(row.id)
        prev, expected = row.mac, row.seq + 1
    head = op.get_bind().execute(sa.text("SELECT seq, mac FROM audit_chain_head WHERE id = 1")).one_or_none()
    if broken or (head is not None and (head.seq, head.mac) != (expected - 1, prev)):
        raise RuntimeError(f"the access log's HMAC chain is broken (entries {broken[:10]}, head {head}): "
                           "`dancu audit verify` shows where; it is not carried into the Merkle tree")


def upgrade() -> None:
    with op.batch_alter_table("access_log") as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("refused", sa.Boolean(), nullable=True))
    bind = op.get_bind()
    if bind.scalar(sa.text("SELECT COUNT(*) FROM access_log")):
        key = _key()
        _check_old_chain(key)
        c = access_log.c
        updates = []
        for row in _rows([c.id, c.at, *(c[name] for name in CONTENT[1:])], c.id):
            uid = uuid.uuid4().hex
            updates.append({"row_id": row.id, "uid": uid, "entry_mac": _mac(key, _canonical(row, uid=uid))})
        bind.execute(sa.update(access_log).where(c.id == sa.bindparam("row_id"))
                     .values(uid=sa.bindparam("uid"), entry_mac=sa.bindparam("entry_mac"), seq=None), updates)
    op.execute("UPDATE access_log SET refused = false")
    op.execute("UPDATE audit_chain_head SET seq = 0")
    with op.batch_alter_table("access_log") as batch_op:
        batch_op.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch_op.alter_column("refused", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column("entry_mac", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("prev_mac")
        batch_op.drop_column("mac")
        batch_op.create_index("ix_access_log_uid", ["uid"], unique=True)
    with op.batch_alter_table("audit_chain_head") as batch_op:
        batch_op.drop_column("mac")
    op.create_table(
        "audit_tree_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_node")),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("timestamp_token", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
        sa.UniqueConstraint("tree_size", name=op.f("uq_audit_checkpoint_tree_size")),
    )


def downgrade() -> None:
    bind = op.get_bind()
    refused = bind.scalar(sa.text("SELECT COUNT(*) FROM access_log WHERE refused"))
    if refused:
        raise RuntimeError(f"{refused} access-log entries were refused by the sealer; the HMAC chain "
                           "cannot carry them: investigate and remove them first")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_tree_node")
    with op.batch_alter_table("audit_chain_head") as batch_op:
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
    with op.batch_alter_table("access_log") as batch_op:
        batch_op.drop_index("ix_access_log_uid")
        batch_op.add_column(sa.Column("prev_mac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.alter_column("entry_mac", existing_type=sa.String(length=64), nullable=True)
    prev, last_seq = GENESIS, 0
    if bind.scalar(sa.text("SELECT COUNT(*) FROM access_log")):
        key = _key()
        c = access_log.c
        updates = []
        # Sealed entries keep their order; pending ones stay pending, with an entry MAC of the old form.
        for row in _rows([c.id, c.seq, c.at, *(c[name] for name in CONTENT[1:])],
                         sa.func.coalesce(c.seq, 2**62 + c.id)):
            values = {"row_id": row.id, "entry_mac": _mac(key, _canonical(row)), "prev_mac": None, "mac": None}
            if row.seq is not None:
                mac = _mac(key, prev + _canonical(row, row.seq))
                values.update(prev_mac=prev, mac=mac)
                prev, last_seq = mac, row.seq
            updates.append(values)
        bind.execute(sa.update(access_log).where(c.id == sa.bindparam("row_id"))
                     .values(entry_mac=sa.bindparam("entry_mac"), prev_mac=sa.bindparam("prev_mac"),
                             mac=sa.bindparam("mac")), updates)
    bind.execute(sa.text("UPDATE audit_chain_head SET seq = :seq, mac = :mac"), {"seq": last_seq, "mac": prev})
    with op.batch_alter_table("audit_chain_head") as batch_op:
        batch_op.alter_column("mac", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("access_log") as batch_op:
        batch_op.drop_column("refused")
        batch_op.drop_column("uid")
