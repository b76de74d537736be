"""Cards: at most one application in progress and one active card per person.

Two applications taken at once for one person could both pass the "none in
progress" check, and two activations at once could leave two active cards.
The card services now lock the person (and the application) across
read-decide-write; this revision adds the partial unique indexes that make the
two invariants hold whatever writes the tables:

* ``uq_card_application_open`` (person) over the applications in progress
  (submitted, captured, approved, produced, delivered);
* ``uq_card_active`` (person) over the cards with status ``active``.

A database may already hold such duplicates, and the indexes could not be
built over them. Of two active cards the newest (latest activation, then
highest id) stays active; the others are superseded, as activation does, with
a card event (actor ``migration 0015``); the next status list published lists
them as revoked. Of two applications in progress the one furthest along stays
(then the newest); the others are rejected with a note naming the one kept, and
a card already produced for one of them is superseded, so a registrar can see
the choice in each application's history and correct it.

Revision ID: 0015_concurrency_invariants
Revises: 0013_login_throttle
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0015_concurrency_invariants"
down_revision = "0013_login_throttle"
branch_labels = None
depends_on = None

ACTOR = "migration 0015"
OPEN = ("submitted", "captured", "approved", "produced", "delivered")  # in the order an application goes
OPEN_WHERE = sa.text("status IN ('submitted', 'captured', 'approved', 'produced', 'delivered')")
ACTIVE_WHERE = sa.text("status = 'active'")

application = sa.table(
    "card_application", sa.column("id", sa.BigInteger), sa.column("person_id", sa.BigInteger),
    sa.column("status", sa.String), sa.column("decided_at", sa.DateTime(timezone=True)),
    sa.column("decided_by", sa.String), sa.column("decision_note", sa.String),
)
card = sa.table(
    "card", sa.column("id", sa.BigInteger), sa.column("person_id", sa.BigInteger),
    sa.column("application_id", sa.BigInteger), sa.column("status", sa.String),
    sa.column("document_number", sa.String), sa.column("activated_at", sa.DateTime(timezone=True)),
    sa.column("revoked_at", sa.DateTime(timezone=True)), sa.column("revocation_reason", sa.String),
)
event = sa.table(
    "card_event", sa.column("application_id", sa.BigInteger), sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String), sa.column("action", sa.String), sa.column("note", sa.String),
)


def _supersede(connection, row, kept_number: str, now: dt.datetime) -> None:
    connection.execute(sa.update(card).where(card.c.id == row.id).values(
        status="superseded", revoked_at=now, revocation_reason="superseded"))
    connection.execute(sa.insert(event).values(application_id=row.application_id, at=now, actor=ACTOR,
                                               action="superseded", note=kept_number))


def _close_active_duplicates(connection, now: dt.datetime) -> None:
    rows = connection.execute(sa.select(card).where(card.c.status == "active")
                              .order_by(card.c.person_id, card.c.activated_at.desc(), card.c.id.desc())).all()
    kept: dict[int, str] = {}
    for row in rows:
        if row.person_id in kept:
            _supersede(connection, row, kept[row.person_id], now)
        else:
            kept[row.person_id] = row.document_number


def _close_open_duplicates(connection, now: dt.datetime) -> None:
    rows = connection.execute(sa.select(application).where(application.c.status.in_(OPEN))).all()
    rows.sort(key=lambda row: (row.person_id, -OPEN.index(row.status), -row.id))
    kept: dict[int, int] = {}
    for row in rows:
        if row.person_id not in kept:
            kept[row.person_id] = row.id
            continue
        note = f"a second application in progress; application #{kept[row.person_id]} continues"
        connection.execute(sa.update(application).where(application.c.id == row.id).values(
            status="rejected", decided_at=now, decided_by=ACTOR, decision_note=note))
        connection.execute(sa.insert(event).values(application_id=row.id, at=now, actor=ACTOR, action="rejected",
                                                   note=note))
        produced = connection.execute(sa.select(card).where(card.c.application_id == row.id,
                                                            card.c.revoked_at.is_(None))).first()
        if produced is not None:
            _supersede(connection, produced, f"application #{kept[row.person_id]}", now)


def upgrade() -> None:
    connection = op.get_bind()
    now = dt.datetime.now(dt.UTC)
    _close_active_duplicates(connection, now)
    _close_open_duplicates(connection, now)
    op.create_index("uq_card_application_open", "card_application", ["person_id"], unique=True,
                    sqlite_where=OPEN_WHERE, postgresql_where=OPEN_WHERE)
    op.create_index("uq_card_active", "card", ["person_id"], unique=True,
                    sqlite_where=ACTIVE_WHERE, postgresql_where=ACTIVE_WHERE)


def downgrade() -> None:
    op.drop_index("uq_card_active", table_name="card")
    op.drop_index("uq_card_application_open", table_name="card_application")
