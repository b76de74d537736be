"""Accent-insensitive name search: pg_trgm + unaccent on PostgreSQL, FTS5 on SQLite.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # unaccent() is only STABLE (its dictionary can change); pinning the
        # dictionary makes a wrapper safe to declare IMMUTABLE for indexing.
        # 'đ' is folded explicitly: the stock unaccent rules map it, but a
        # replaced rules file might not, and Python's fold() always does.
        op.execute(
            """
            CREATE OR REPLACE FUNCTION dancu_fold(text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS
            $$ SELECT btrim(regexp_replace(lower(public.unaccent('public.unaccent'::regdictionary,
                   translate($1, 'đĐ', 'dD'))), '\\s+', ' ', 'g')) $$
            """
        )
        op.execute("CREATE INDEX ix_person_name_trgm ON person USING gin (name_folded gin_trgm_ops)")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE person_fts USING fts5("
            "name_folded, content='person', content_rowid='id', tokenize='unicode61', prefix='2 3')"
        )
        op.execute(
            "CREATE TRIGGER person_fts_insert AFTER INSERT ON person BEGIN "
            "INSERT INTO person_fts(rowid, name_folded) VALUES (new.id, new.name_folded); END"
        )
        op.execute(
            "CREATE TRIGGER person_fts_delete AFTER DELETE ON person BEGIN "
            "INSERT INTO person_fts(person_fts, rowid, name_folded) VALUES ('delete', old.id, old.name_folded); END"
        )
        op.execute(
            "CREATE TRIGGER person_fts_update AFTER UPDATE OF name_folded ON person BEGIN "
            "INSERT INTO person_fts(person_fts, rowid, name_folded) VALUES ('delete', old.id, old.name_folded); "
            "INSERT INTO person_fts(rowid, name_folded) VALUES (new.id, new.name_folded); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_person_name_trgm")
        op.execute("DROP FUNCTION IF EXISTS dancu_fold(text)")
    else:
        for trigger in ("person_fts_insert", "person_fts_delete", "person_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS person_fts")
