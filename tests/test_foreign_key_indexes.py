"""Every foreign key of the migrated schema is the leading column(s) of an index.

An unindexed foreign key makes each insert or delete in the referenced table
scan the referencing one: on SQLite an import into ``person`` became quadratic
(``person.spouse_id``, ``household.head_person_id``); on PostgreSQL deletes and
merges do the same. This covers every table, including ones added later.
"""

from sqlalchemy import create_engine, inspect


def unindexed_foreign_keys(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        missing = []
        for table in sorted(inspector.get_table_names()):
            # On PostgreSQL the index behind a UNIQUE constraint is listed with the constraint only.
            covering = [index["column_names"] for index in inspector.get_indexes(table)]
            covering += [unique["column_names"] for unique in inspector.get_unique_constraints(table)]
            covering.append(inspector.get_pk_constraint(table)["constrained_columns"])
            for key in inspector.get_foreign_keys(table):
                columns = key["constrained_columns"]
                if not any(index[:len(columns)] == columns for index in covering):
                    missing.append(f"{table}({', '.join(columns)}) -> {key['referred_table']}")
    finally:
        engine.dispose()
    return missing


def test_every_foreign_key_column_leads_an_index(database_url):
    assert unindexed_foreign_keys(database_url) == []
