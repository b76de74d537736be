"""One line of history: merges the seven heads that the 0006/0007 revisions left.

From here on every revision has exactly one parent (tests/test_migrations.py
checks that the script directory has a single head).

Revision ID: 0008_merge
Revises: 0006_audit_sealing, 0006_eid, 0006_linkage_review, 0006_oidc,
         0007_cards_events, 0007_import_first_person, 0007_pki_signatures
"""

revision = "0008_merge"
down_revision = (
    "0006_audit_sealing",
    "0006_eid",
    "0006_linkage_review",
    "0006_oidc",
    "0007_cards_events",
    "0007_import_first_person",
    "0007_pki_signatures",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
