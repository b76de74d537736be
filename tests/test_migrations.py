"""The migrations build exactly the schema the models describe, on each backend."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from dancu.migrate import include_object
from dancu.models import metadata


def test_migrated_schema_matches_the_models(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": include_object})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_the_migrations_form_one_line_of_history():
    """Every revision has one parent and one head exists: `dancu db upgrade` has one meaning."""
    from alembic.script import ScriptDirectory

    from dancu.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [script.get_current_head()]
    merges = [rev.revision for rev in script.walk_revisions() if rev.is_merge_point]
    assert merges == ["0008_merge"]  # the one merge that joined the branches of 0006/0007
