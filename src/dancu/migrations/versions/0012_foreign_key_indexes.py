"""Every foreign-key column gets an index whose leading column it is.

Without one, each insert, delete or key change in the referenced table makes
the database scan the referencing table: SQLite does so for every person an
import inserts (``person.spouse_id`` and ``household.head_person_id`` made
loading quadratic), PostgreSQL for every delete and merge.
tests/test_foreign_key_indexes.py keeps it that way for tables added later.

Revision ID: 0012_foreign_key_indexes
Revises: 0011_audit_transparency
"""

from alembic import op

revision = "0012_foreign_key_indexes"
down_revision = "0011_audit_transparency"
branch_labels = None
depends_on = None

# (table, column): the foreign keys that had no index at 0008_merge.
COLUMNS = (
    ("card_application", "batch_id"),
    ("card_application", "visit_id"),
    ("eid_challenge", "account_id"),
    ("eid_session", "acting_account_id"),
    ("household", "head_person_id"),
    ("oidc_consent", "client_id"),
    ("person", "birth_registration_unit_id"),
    ("person", "hometown_unit_id"),
    ("person", "spouse_id"),
    ("pki_certificate", "key_id"),
    ("registry_event", "unit_id"),
    ("residence", "event_id"),
    ("residence", "household_id"),
    ("user_account", "scope_unit_id"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        op.create_index(f"ix_{table}_{column}", table, [column])


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        op.drop_index(f"ix_{table}_{column}", table_name=table)
