"""Registry: at most one current residence of each kind and one current household per person.

Two concurrent moves of one person could both be accepted and leave two
current permanent residences. The services now lock the person across
read-decide-write (``dancu.db.lock_row``); this revision adds what makes the
invariant hold whatever writes the tables:

* partial unique indexes ``uq_residence_current`` (person, kind) and
  ``uq_household_member_current`` (person) over the rows with
  ``valid_to IS NULL``;
* ``person.version``, raised by every registry event, which a client states to
  have its action refused when the record changed since it was read.

A database may already hold such duplicates. The indexes could not be built
over them, so this revision first closes every current residence (and
membership) but the newest of its kind — newest start date, then the one
entered last — on the start date of the one kept, and records each closing as
a registry event (``duplicate_residence_closed`` /
``duplicate_membership_closed``) naming the closed row, so a registrar can see
and, if the older one was right, correct it.

Revision ID: 0009_residence_integrity
Revises: 0008_merge
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009_residence_integrity"
down_revision = "0008_merge"
branch_labels = None
depends_on = None

ACTOR = "migration 0009"
CURRENT = "valid_to IS NULL"

residence = sa.table(
    "residence", sa.column("id", sa.BigInteger), sa.column("person_id", sa.BigInteger),
    sa.column("kind", sa.String), sa.column("unit_id", sa.Integer), sa.column("household_id", sa.BigInteger),
    sa.column("valid_from", sa.Date), sa.column("valid_to", sa.Date),
)
member = sa.table(
    "household_member", sa.column("id", sa.BigInteger), sa.column("person_id", sa.BigInteger),
    sa.column("household_id", sa.BigInteger), sa.column("valid_from", sa.Date), sa.column("valid_to", sa.Date),
)
household = sa.table("household", sa.column("id", sa.BigInteger), sa.column("head_person_id", sa.BigInteger),
                     sa.column("unit_id", sa.Integer))
event = sa.table(
    "registry_event", sa.column("person_id", sa.BigInteger), sa.column("kind", sa.String),
    sa.column("effective_on", sa.Date), sa.column("recorded_at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String), sa.column("unit_id", sa.Integer), sa.column("reason", sa.String),
    sa.column("changes", sa.JSON),
)


def _older_duplicates(connection, table, group: tuple[str, ...]) -> list[tuple]:
    """(older row, newest row) for every current row that is not the newest current one of its group."""
    keys = [table.c[name] for name in group]
    duplicated = (sa.select(*keys).where(table.c.valid_to.is_(None)).group_by(*keys)
                  .having(sa.func.count() > 1).subquery())
    rows = connection.execute(
        sa.select(table).join(duplicated, sa.and_(*(table.c[name] == duplicated.c[name] for name in group)))
        .where(table.c.valid_to.is_(None)).order_by(*keys, table.c.valid_from.desc(), table.c.id.desc())
    ).all()
    pairs, newest = [], {}
    for row in rows:
        key = tuple(getattr(row, name) for name in group)
        if key in newest:
            pairs.append((row, newest[key]))
        else:
            newest[key] = row
    return pairs


def _close(connection, table, row, kept, kind: str, unit_id: int | None, what: str, now: dt.datetime) -> None:
    closed_on = max(row.valid_from, kept.valid_from)
    connection.execute(sa.update(table).where(table.c.id == row.id).values(valid_to=closed_on))
    connection.execute(sa.insert(event).values(
        person_id=row.person_id, kind=kind, effective_on=closed_on, recorded_at=now, actor=ACTOR, unit_id=unit_id,
        reason=f"{what} {row.id} closed: a second current one; {what} {kept.id} stays current",
        changes={f"closed_{what.replace(' ', '_')}_id": [None, row.id]},
    ))


def upgrade() -> None:
    connection = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    for row, kept in _older_duplicates(connection, residence, ("person_id", "kind")):
        _close(connection, residence, row, kept, "duplicate_residence_closed", row.unit_id, "residence", now)
    for row, kept in _older_duplicates(connection, member, ("person_id",)):
        unit_id = connection.scalar(sa.select(household.c.unit_id).where(household.c.id == row.household_id))
        _close(connection, member, row, kept, "duplicate_membership_closed", unit_id, "household membership", now)
        # Whoever left a household no longer heads it.
        connection.execute(sa.update(household).where(household.c.id == row.household_id,
                                                      household.c.head_person_id == row.person_id)
                           .values(head_person_id=None))

    op.create_index("uq_residence_current", "residence", ["person_id", "kind"], unique=True,
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    op.create_index("uq_household_member_current", "household_member", ["person_id"], unique=True,
                    sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    # Plain ALTER TABLE on both engines: a batch table copy would drop person's FTS triggers on SQLite.
    op.add_column("person", sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("person", "version")
    op.drop_index("uq_household_member_current", table_name="household_member")
    op.drop_index("uq_residence_current", table_name="residence")
