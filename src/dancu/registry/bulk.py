"""Bulk import and export of persons in the exchange format (docs/data-format.md).

Reading a file (encodings, compression, CSV and JSON Lines, records that
cannot be read) is `dancu.tabular`'s part. The import validates each row in
Python (clear reasons, never stopping the valid rows), stages a batch in a
temporary table and moves it into the real tables with set-based
INSERT ... SELECT statements. PostgreSQL stages with
COPY; SQLite with executemany. Everything after staging is the same SQL.

Crash safety: each batch is one transaction that also advances the file's
``ImportJob.lines_done``, so a process killed at any instant leaves either the
whole batch with its progress mark or neither. A rerun skips to
``lines_done``; inserting persons with ON CONFLICT (source_ref) DO NOTHING is a
second guard, and rows that hit it are dropped from the batch before any
residence, household membership or event is written for them.
"""

from __future__ import annotations

import abc
import csv
import datetime as dt
import gzip
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import IO

from rich.progress import (
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from sqlalchemy import Connection, Date, DateTime, bindparam, func, select, text
from sqlalchemy.orm import Session, aliased

from dancu import db
from dancu.accounts.services import Actor, Role
from dancu.audit.services import record_access, require_purpose
from dancu.crypto import encrypt_text
from dancu.registry import quality
from dancu.registry.dates import PartialDate
from dancu.registry.models import (
    CitizenshipBasis,
    Household,
    HouseholdMember,
    ImportJob,
    Person,
    PlaceStatus,
    Residence,
    ResidenceKind,
    Sex,
    VitalStatus,
)
from dancu.registry.pin import InvalidPin, parse_pin
from dancu.tabular import (
    COLUMNS,
    DEFAULT_ENCODING,
    check_encoding,
    format_of,
    open_text,
    records,
    scan,
)
from dancu.text import fold, join_name, normalize, split_full_name
from dancu.units import services as units
from dancu.units.models import AdminUnit

(
    _RECORD_ID, _PIN, _FAMILY, _MIDDLE, _GIVEN, _FULL, _OTHER, _BIRTH, _SEX, _NATIONALITIES, _BASIS, _NATURALIZED,
    _ETHNICITY, _RELIGION, _BIRTH_PLACE_STATUS, _BIRTH_UNIT, _BIRTH_COUNTRY, _HOMETOWN_STATUS, _HOMETOWN_UNIT,
    _FATHER, _MOTHER, _SPOUSE, _STATUS, _STATUS_DATE, _PERM_UNIT, _PERM_ADDRESS, _PERM_SINCE, _HOUSEHOLD,
    _RELATIONSHIP, _TEMP_UNIT, _TEMP_ADDRESS, _TEMP_FROM, _TEMP_UNTIL,
) = range(len(COLUMNS))

# Column widths of the tables the values land in: an over-long value would
# abort the whole batch on PostgreSQL, so it is a row error instead.
_MAX_LENGTH = {
    _RECORD_ID: 80, _FAMILY: 60, _MIDDLE: 80, _GIVEN: 60, _FULL: 200, _OTHER: 200, _NATIONALITIES: 40,
    _RELIGION: 200, _PERM_ADDRESS: 200, _HOUSEHOLD: 20, _RELATIONSHIP: 30, _TEMP_ADDRESS: 200,
}
_SOURCE_MAX = 120 - 80 - 1

_SEXES = {"M", "F"}
_BASES = {e.value for e in CitizenshipBasis}
_PLACE_STATUSES = {e.value for e in PlaceStatus}
_VITAL_STATUSES = {e.value for e in VitalStatus}

# What one staged row holds, in this order (the staging table's columns).
_STAGED = (
    "line_no", "source_ref", "pin", "family_name", "middle_name", "given_name", "full_name", "name_folded",
    "other_names", "birth_year", "birth_month", "birth_day", "sex", "nationalities", "citizenship_basis",
    "naturalized_on", "ethnicity_code", "religion", "birth_place_status", "birth_registration_unit_id",
    "birth_country", "hometown_status", "hometown_unit_id", "status", "status_date", "home_unit_id",
    "permanent_address", "permanent_since", "household_code", "relationship_to_head", "temporary_unit_id",
    "temporary_address", "temporary_from", "temporary_until", "father_ref", "mother_ref", "spouse_ref",
    "quality_issues",
)
# Filled in SQL, not staged from Python: relatives found when the batch loads.
_RELATIVES = "father_id bigint, mother_id bigint, spouse_id bigint"
_STAGING_TYPES = {
    "line_no": "bigint", "birth_year": "smallint", "birth_month": "smallint", "birth_day": "smallint",
    "ethnicity_code": "smallint", "birth_registration_unit_id": "integer", "hometown_unit_id": "integer",
    "home_unit_id": "integer", "temporary_unit_id": "integer", "naturalized_on": "date", "status_date": "date",
    "permanent_since": "date", "temporary_from": "date", "temporary_until": "date",
}

# Person columns filled straight from the staging table of the same name.
_PERSON_COPIED = (
    "pin", "family_name", "middle_name", "given_name", "full_name", "other_names", "birth_year", "birth_month",
    "birth_day", "sex", "nationalities", "citizenship_basis", "naturalized_on", "ethnicity_code", "religion",
    "birth_place_status", "birth_registration_unit_id", "birth_country", "hometown_status", "hometown_unit_id",
    "status", "status_date", "home_unit_id", "source_ref", "father_id", "mother_id", "spouse_id", "name_folded",
    "quality_issues",
)


@dataclass
class ImportReport:
    file: Path
    source: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_skipped_already_present: int = 0
    rows_rejected: int = 0
    links_unresolved: int = 0
    error_report: Path | None = None
    seconds: float = 0.0
    # True when the file had already been imported to the end: nothing was read.
    already_finished: bool = False
    resumed_from_line: int = 0
    # Rows of this file rejected by any run of it (an earlier, interrupted or
    # finished one included): what the exit status of `dancu import` reports.
    file_rows_rejected: int = 0


class _Rejected(Exception):
    pass


# ---- validation ------------------------------------------------------------------------------


def _is_full_date(value: str) -> bool:
    # fromisoformat alone would also take week dates such as 2024-W01-1
    return len(value) == 10 and value[4] == "-" and value[7] == "-"


def _date(value: str, column: str, latest: bool = False) -> str | None:
    """A date column as ISO text; a partial date stands for its first (or last) day."""
    if not value:
        return None
    if _is_full_date(value):
        # the common case, parsed and checked in C
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    try:
        parsed = PartialDate.parse(value)
    except ValueError as exc:
        raise _Rejected(f"{column}: {exc}") from None
    day = parsed.latest() if latest else parsed.earliest()
    return day.isoformat() if day else None


class _Validator:
    """Turns a row of the exchange format into a staged row, or says why not."""

    def __init__(self, source: str, unit_index: dict[str, int], today: dt.date) -> None:
        self.prefix = f"{source}/"
        self.units = unit_index
        self.today_date = today
        self.today = today.isoformat()

    def _unit(self, value: str, column: str) -> int | None:
        if not value:
            return None
        unit_id = self.units.get(value.strip())
        if unit_id is None:
            raise _Rejected(f"{column}: unknown unit reference {value!r}")
        return unit_id

    def _ref(self, value: str) -> str | None:
        return self.prefix + value.strip() if value.strip() else None

    def stage(self, line_no: int, v: list[str]) -> tuple:
        problems: list[str] = []
        for index, limit in _MAX_LENGTH.items():
            if len(v[index]) > limit:
                problems.append(f"{COLUMNS[index]} longer than {limit} characters")
        if problems:
            raise _Rejected("; ".join(problems))
        record_id = v[_RECORD_ID].strip()
        if not record_id:
            problems.append("record_id is missing")

        pin = v[_PIN].strip() or None
        if pin is not None:
            try:
                parse_pin(pin)
            except InvalidPin as exc:
                problems.append(f"pin {pin!r}: {exc}")

        family, middle, given = normalize(v[_FAMILY]), normalize(v[_MIDDLE]), normalize(v[_GIVEN])
        if not (family or middle or given) and v[_FULL].strip():
            family, middle, given = split_full_name(v[_FULL])
        full_name = join_name(family, middle, given)
        if not given:
            problems.append("name is missing (given_name or full_name)")

        birth = (None, None, None)
        try:
            day = dt.date.fromisoformat(v[_BIRTH]) if _is_full_date(v[_BIRTH]) else None
            birth = (day.year, day.month, day.day) if day else PartialDate.parse(v[_BIRTH])
        except ValueError:
            try:
                PartialDate.parse(v[_BIRTH])
            except ValueError as exc:
                problems.append(f"birth_date: {exc}")

        sex = v[_SEX].strip().upper() or None
        if sex is not None and sex not in _SEXES:
            problems.append(f"sex {v[_SEX]!r} is not M or F")

        nationalities = v[_NATIONALITIES].replace(" ", "").upper() or "VN"
        if not all(len(code) == 2 and code.isascii() and code.isalpha() for code in nationalities.split(";")):
            problems.append(f"nationalities {v[_NATIONALITIES]!r}: expected ISO alpha-2 codes separated by ;")
        birth_country = v[_BIRTH_COUNTRY].strip().upper() or None
        if birth_country is not None and not (len(birth_country) == 2 and birth_country.isascii()
                                              and birth_country.isalpha()):
            problems.append(f"birth_country {v[_BIRTH_COUNTRY]!r} is not an ISO alpha-2 code")

        enums = {}
        for index, allowed, default in (
            (_BASIS, _BASES, "birth"), (_BIRTH_PLACE_STATUS, _PLACE_STATUSES, "known"),
            (_HOMETOWN_STATUS, _PLACE_STATUSES, "known"), (_STATUS, _VITAL_STATUSES, "alive"),
        ):
            value = v[index].strip().lower() or default
            if value not in allowed:
                problems.append(f"{COLUMNS[index]} {v[index]!r} is not one of {', '.join(sorted(allowed))}")
            enums[index] = value

        ethnicity = None
        if v[_ETHNICITY].strip():
            text_value = v[_ETHNICITY].strip()
            if not text_value.isdigit() or not 1 <= int(text_value) <= 54:
                problems.append(f"ethnicity_code {text_value!r} is not a code 1..54")
            else:
                ethnicity = int(text_value)

        staged_units: dict[int, int | None] = {}
        for index in (_BIRTH_UNIT, _HOMETOWN_UNIT, _PERM_UNIT, _TEMP_UNIT):
            try:
                staged_units[index] = self._unit(v[index], COLUMNS[index])
            except _Rejected as exc:
                problems.append(str(exc))
        dates: dict[int, str | None] = {}
        for index in (_NATURALIZED, _STATUS_DATE, _PERM_SINCE, _TEMP_FROM, _TEMP_UNTIL):
            try:
                dates[index] = _date(v[index], COLUMNS[index], latest=index == _TEMP_UNTIL)
            except _Rejected as exc:
                problems.append(str(exc))

        household = v[_HOUSEHOLD].strip() or None
        if household and not v[_PERM_UNIT].strip():
            problems.append("household_code needs a permanent_unit")
        if not v[_TEMP_UNIT].strip() and (v[_TEMP_ADDRESS].strip() or v[_TEMP_FROM] or v[_TEMP_UNTIL]):
            problems.append("temporary residence without temporary_unit")
        if problems:
            raise _Rejected("; ".join(problems))

        # Unknown start of residence: the day the record enters the register,
        # but never after a recorded death (that would read as a new residence
        # of a deceased person).
        since = dates[_PERM_SINCE] or min(self.today, dates[_STATUS_DATE] or self.today)
        religion = v[_RELIGION].strip()
        # The rules a row decides alone are checked here, beside validation;
        # those comparing persons run in SQL once the batch is written.
        own_issues = quality.row_issues(SimpleNamespace(
            pin=pin, family_name=family, given_name=given, birth_year=birth[0], birth_month=birth[1],
            birth_day=birth[2], sex=Sex(sex) if sex else None, ethnicity_code=ethnicity,
            birth_place_status=enums[_BIRTH_PLACE_STATUS], birth_registration_unit_id=staged_units[_BIRTH_UNIT],
            hometown_status=enums[_HOMETOWN_STATUS], hometown_unit_id=staged_units[_HOMETOWN_UNIT],
            status=enums[_STATUS],
            status_date=dt.date.fromisoformat(dates[_STATUS_DATE]) if dates[_STATUS_DATE] else None,
        ), self.today_date)
        return (
            line_no, self.prefix + record_id, pin, family, middle, given, full_name, fold(full_name),
            normalize(v[_OTHER]),
            birth[0], birth[1], birth[2], sex, nationalities, enums[_BASIS], dates[_NATURALIZED], ethnicity,
            encrypt_text(religion) if religion else None, enums[_BIRTH_PLACE_STATUS], staged_units[_BIRTH_UNIT],
            birth_country, enums[_HOMETOWN_STATUS], staged_units[_HOMETOWN_UNIT], enums[_STATUS],
            dates[_STATUS_DATE], staged_units[_PERM_UNIT], normalize(v[_PERM_ADDRESS]), since, household,
            v[_RELATIONSHIP].strip(), staged_units[_TEMP_UNIT], normalize(v[_TEMP_ADDRESS]),
            dates[_TEMP_FROM] or self.today, dates[_TEMP_UNTIL],
            self._ref(v[_FATHER]), self._ref(v[_MOTHER]), self._ref(v[_SPOUSE]), quality.encode(own_issues),
        )


# ---- loading: SQL shared by both backends ---------------------------------------------------


_PERSON_INSERT = (
    f"INSERT INTO person (id, {', '.join(_PERSON_COPIED)}) "
    f"SELECT person_id, {', '.join(_PERSON_COPIED)} FROM import_staging"
)


_HOUSEHOLDS = """
INSERT INTO household (code, unit_id, address_line, established_on, head_person_id)
SELECT household_code, home_unit_id, permanent_address, permanent_since, head_id FROM (
    SELECT household_code, home_unit_id, permanent_address, permanent_since,
           CASE WHEN relationship_to_head = 'head' THEN person_id END AS head_id,
           row_number() OVER (PARTITION BY household_code
                              ORDER BY CASE WHEN relationship_to_head = 'head' THEN 0 ELSE 1 END, line_no) AS rank
    FROM import_staging WHERE household_code IS NOT NULL
) AS first_rows WHERE rank = 1
ON CONFLICT (code) DO UPDATE SET head_person_id = excluded.head_person_id
WHERE household.head_person_id IS NULL AND excluded.head_person_id IS NOT NULL
"""

_EVENTS = """
INSERT INTO registry_event (id, person_id, kind, effective_on, recorded_at, actor, unit_id, reason, changes)
SELECT event_id, person_id, 'imported', :today, :now, :actor, home_unit_id, '', '{}' FROM import_staging
"""

_PERMANENT = """
INSERT INTO residence (person_id, kind, unit_id, address_line, household_id, valid_from, event_id)
SELECT s.person_id, 'permanent', s.home_unit_id, s.permanent_address, h.id, s.permanent_since, s.event_id
FROM import_staging s LEFT JOIN household h ON h.code = s.household_code
WHERE s.home_unit_id IS NOT NULL
"""

_TEMPORARY = """
INSERT INTO residence (person_id, kind, unit_id, address_line, valid_from, expires_on, event_id)
SELECT person_id, 'temporary', temporary_unit_id, temporary_address, temporary_from, temporary_until, event_id
FROM import_staging WHERE temporary_unit_id IS NOT NULL
"""

_MEMBERS = """
INSERT INTO household_member (household_id, person_id, relationship_to_head, valid_from)
SELECT h.id, s.person_id, s.relationship_to_head, s.permanent_since
FROM import_staging s JOIN household h ON h.code = s.household_code
"""

# Relatives already in the register, or in this same batch, are linked as the
# persons are inserted (a person written once, not inserted then updated).
_RELATIVES_NOW = """
UPDATE import_staging SET
{}
WHERE father_ref IS NOT NULL OR mother_ref IS NOT NULL OR spouse_ref IS NOT NULL
""".format(",\n".join(
    f"{rel}_id = coalesce((SELECT id FROM person WHERE source_ref = import_staging.{rel}_ref), "
    f"(SELECT person_id FROM import_staging later WHERE later.source_ref = import_staging.{rel}_ref))"
    for rel in ("father", "mother", "spouse")
))

# The rest (relatives further down the file) wait for the end of the import.
_KEEP_LINKS = """
INSERT INTO import_links (source_ref, father_ref, mother_ref, spouse_ref)
SELECT source_ref, father_ref, mother_ref, spouse_ref FROM import_staging
WHERE (father_ref IS NOT NULL AND father_id IS NULL) OR (mother_ref IS NOT NULL AND mother_id IS NULL)
   OR (spouse_ref IS NOT NULL AND spouse_id IS NULL)
"""

# One UPDATE for the three relations, so a person gets one new row version.
# Only links that are still empty are set: a person loaded earlier (and
# perhaps corrected by a registrar since) keeps the links it has.
_RESOLVE = """
UPDATE person SET father_id = coalesce(person.father_id, found.father_id),
                  mother_id = coalesce(person.mother_id, found.mother_id),
                  spouse_id = coalesce(person.spouse_id, found.spouse_id)
FROM (
    SELECT l.source_ref, f.id AS father_id, m.id AS mother_id, s.id AS spouse_id
    FROM import_links l
    LEFT JOIN person f ON f.source_ref = l.father_ref
    LEFT JOIN person m ON m.source_ref = l.mother_ref
    LEFT JOIN person s ON s.source_ref = l.spouse_ref
) AS found
WHERE person.source_ref = found.source_ref
  AND ((person.father_id IS NULL AND found.father_id IS NOT NULL)
       OR (person.mother_id IS NULL AND found.mother_id IS NOT NULL)
       OR (person.spouse_id IS NULL AND found.spouse_id IS NOT NULL))
"""

_UNRESOLVED = """
SELECT count(*) FROM import_links l
WHERE (l.father_ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM person p WHERE p.source_ref = l.father_ref))
   OR (l.mother_ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM person p WHERE p.source_ref = l.mother_ref))
   OR (l.spouse_ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM person p WHERE p.source_ref = l.spouse_ref))
"""


def _ddl_columns(with_ids: str) -> str:
    columns = [f"{name} {_STAGING_TYPES.get(name, 'text')}" for name in _STAGED]
    return ", ".join([*columns, with_ids])


class _Backend(abc.ABC):
    """Stages one batch and moves it into the registry tables, inside the caller's transaction."""

    def __init__(self, conn: Connection, source: str) -> None:
        self.conn = conn
        self.params = {"actor": f"import:{source}"[:60]}

    def run(self, sql: str, params: dict | None = None) -> int:
        statement = text(sql).bindparams(
            *[bindparam(n, type_=t) for n, t in (("today", Date()), ("now", DateTime(timezone=True)))
              if f":{n}" in sql]
        )
        return self.conn.execute(statement, {**self.params, **(params or {})}).rowcount

    def load(self, rows: list[tuple]) -> tuple[int, int]:
        """Write the staged rows; return (loaded, skipped because already present)."""
        self.stage(rows)
        self.run(_RELATIVES_NOW)
        loaded = self.insert_persons()
        today = dt.date.today()
        self.params.update(today=today, now=dt.datetime.now(dt.UTC))
        for sql in (_HOUSEHOLDS, _EVENTS, _PERMANENT, _TEMPORARY, _MEMBERS, _KEEP_LINKS):
            self.run(sql)
        self.clear()
        return loaded, len(rows) - loaded

    def resolve_links(self) -> int:
        self.run(_RESOLVE)
        return self.conn.execute(text(_UNRESOLVED)).scalar_one()

    @abc.abstractmethod
    def stage_links(self, links: list[tuple]) -> None: ...

    @abc.abstractmethod
    def stage(self, rows: list[tuple]) -> None: ...

    @abc.abstractmethod
    def insert_persons(self) -> int: ...

    @abc.abstractmethod
    def clear(self) -> None: ...


class _Postgres(_Backend):
    def __init__(self, conn: Connection, source: str) -> None:
        super().__init__(conn, source)
        seq = {t: conn.execute(text(f"SELECT pg_get_serial_sequence('{t}', 'id')")).scalar_one()
               for t in ("person", "registry_event")}
        # The batch statements cost tens of milliseconds; JIT compiling them
        # costs seconds (the planner sees big estimates on the fresh temp table).
        self.run("SET jit = off")
        # Ids come from the tables' own sequences as COPY fills the defaults,
        # so later statements can join on them without a RETURNING round trip.
        self.run(
            "CREATE TEMP TABLE IF NOT EXISTS import_staging ("
            + _ddl_columns(f"person_id bigint DEFAULT nextval('{seq['person']}'), "
                           f"event_id bigint DEFAULT nextval('{seq['registry_event']}'), {_RELATIVES}")
            + ") ON COMMIT DELETE ROWS"
        )
        self.run("CREATE INDEX IF NOT EXISTS ix_import_staging_ref ON import_staging (source_ref)")
        self.run("CREATE TEMP TABLE IF NOT EXISTS import_links "
                 "(source_ref text, father_ref text, mother_ref text, spouse_ref text)")
        self.analyzed = False

    def _copy(self, table: str, columns: str, rows: list[tuple]) -> None:
        cursor = self.conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def stage(self, rows: list[tuple]) -> None:
        self._copy("import_staging", ", ".join(_STAGED), rows)
        if not self.analyzed:
            # Statistics outlive ON COMMIT DELETE ROWS, and batches are alike:
            # the first one tells the planner enough for every later one.
            self.run("ANALYZE import_staging")
            self.analyzed = True

    def resolve_links(self) -> int:
        # autovacuum never analyzes temporary tables; without statistics the
        # planner takes the pending links for a handful of rows
        self.run("ANALYZE import_links")
        return super().resolve_links()

    def stage_links(self, links: list[tuple]) -> None:
        self._copy("import_links", "source_ref, father_ref, mother_ref, spouse_ref", links)

    def insert_persons(self) -> int:
        # A row whose source_ref is already there is not returned, and leaves
        # the batch before anything else is written for it.
        self.run(
            "WITH inserted AS (" + _PERSON_INSERT + " ON CONFLICT (source_ref) DO NOTHING RETURNING id) "
            "DELETE FROM import_staging s WHERE NOT EXISTS (SELECT 1 FROM inserted WHERE inserted.id = s.person_id)"
        )
        return self.conn.execute(text("SELECT count(*) FROM import_staging")).scalar_one()

    def clear(self) -> None:
        """Nothing to do: ON COMMIT DELETE ROWS empties the staging table."""


class _Sqlite(_Backend):
    def __init__(self, conn: Connection, source: str) -> None:
        super().__init__(conn, source)
        # Every batch inserts into a dozen B-tree indexes at random keys; with
        # SQLite's default 2 MB page cache the CPU per batch grew 1.5x over a
        # 300,000-person import, with 128 MB (used only as filled) 1.2x.
        self.run("PRAGMA cache_size = -131072")
        self.run("CREATE TEMP TABLE IF NOT EXISTS import_staging ("
                 + _ddl_columns(f"person_id integer, event_id integer, {_RELATIVES}") + ")")
        self.run("CREATE TEMP TABLE IF NOT EXISTS import_links "
                 "(source_ref text, father_ref text, mother_ref text, spouse_ref text)")
        self.run("CREATE INDEX IF NOT EXISTS temp.ix_import_staging_person ON import_staging (person_id)")
        self.run("CREATE INDEX IF NOT EXISTS temp.ix_import_staging_ref ON import_staging (source_ref)")
        marks = ", ".join("?" * (len(_STAGED) + 2))
        self.insert_staged = f"INSERT INTO import_staging ({', '.join(_STAGED)}, person_id, event_id) VALUES ({marks})"

    def stage(self, rows: list[tuple]) -> None:
        # The caller already holds SQLite's write lock (it updated import_job
        # first), so nobody else can take these ids before the batch commits.
        next_person = self.conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM person")).scalar_one()
        next_event = self.conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM registry_event")).scalar_one()
        self.conn.exec_driver_sql(
            self.insert_staged,
            [(*row, next_person + i, next_event + i) for i, row in enumerate(rows)],
        )

    def stage_links(self, links: list[tuple]) -> None:
        self.conn.exec_driver_sql("INSERT INTO import_links VALUES (?, ?, ?, ?)", links)

    def insert_persons(self) -> int:
        self.run(_PERSON_INSERT.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1))
        self.run("DELETE FROM import_staging WHERE NOT EXISTS "
                 "(SELECT 1 FROM person p WHERE p.id = import_staging.person_id)")
        return self.conn.execute(text("SELECT count(*) FROM import_staging")).scalar_one()

    def clear(self) -> None:
        self.run("DELETE FROM import_staging")


# ---- the import --------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        rate = f"{task.speed:,.0f} rows/s" if task.speed else "-- rows/s"
        return Text(f"{int(task.completed):,} rows  {rate}")


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator:
    """Yield a function that advances the bar by n rows (a no-op when disabled)."""
    if not enabled:
        yield lambda n: None
        return
    with Progress(SpinnerColumn(), TextColumn(label), _RateColumn(), TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task(label, total=None)
        yield lambda n: bar.advance(task, n)


def default_source(path: Path) -> str:
    """The file name without its format extensions ("people.csv.gz" -> "people")."""
    name = path.name
    for suffix in (".gz", ".csv", ".jsonl", ".ndjson"):
        name = name.removesuffix(suffix)
    return name


def _csv_line(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


class _ErrorReport:
    """CSV of rejected rows, opened on the first rejection.

    Reasons and raw records are cut to their first `KEPT` characters: a
    rejected record may hold a field of any size, and the report must stay
    readable (a resumed import reads it back).

    On a resumed import the rows of lines not yet committed are dropped from
    an existing report first, so a line rejected twice (before and after a
    crash) is reported once.
    """

    HEADER = ("line", "record_id", "reason", "raw")
    KEPT = 1_000

    def __init__(self, path: Path, keep_through_line: int) -> None:
        self.path = path
        self.keep_through_line = keep_through_line
        self.handle: IO[str] | None = None
        self.writer = None

    def add(self, line_no: int, record_id: str, reason: str, raw: str | list[str]) -> None:
        if self.writer is None:
            self._open()
        raw = raw if isinstance(raw, str) else _csv_line(raw)
        self.writer.writerow([line_no] + [value if len(value) <= self.KEPT else value[:self.KEPT] + "…"
                                          for value in (record_id, reason, raw)])

    def _open(self) -> None:
        kept: list[list[str]] = []
        if self.keep_through_line and self.path.exists():
            with self.path.open(encoding="utf-8", newline="") as old:
                kept = [row for row in list(csv.reader(old))[1:] if row and int(row[0]) <= self.keep_through_line]
        self.handle = self.path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(self.HEADER)
        self.writer.writerows(kept)

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _job(conn: Connection, path: Path, sha: str) -> dict:
    table = ImportJob.__table__
    with conn.begin():
        row = conn.execute(select(table).where(table.c.file_sha256 == sha)).mappings().first()
        if row is None:
            conn.execute(table.insert().values(
                file_sha256=sha, file_name=str(path)[-400:], lines_done=0, rows_loaded=0, rows_rejected=0,
                finished=False, persons_after_id=select(func.coalesce(func.max(Person.id), 0)).scalar_subquery()))
            row = conn.execute(select(table).where(table.c.file_sha256 == sha)).mappings().one()
    return dict(row)


def import_file(
    path: Path,
    source: str | None = None,
    progress: bool = True,
    batch_size: int = 20_000,
    error_report: Path | None = None,
    encoding: str = DEFAULT_ENCODING,
) -> ImportReport:
    """Load a file in the exchange format; resumable, idempotent, crash-safe (see the module doc).

    A file that cannot be read as a whole (wrong encoding, truncated, bad
    header, no rows) raises ValueError; rows that cannot be read or are
    invalid go to the error report and never stop the valid ones.
    """
    started = time.perf_counter()
    path = Path(path)
    format_of(path)
    encoding = check_encoding(encoding)
    source = source or default_source(path)
    if not source or len(source) > _SOURCE_MAX or "/" in source:
        raise ValueError(f"source {source!r}: 1..{_SOURCE_MAX} characters without '/'")
    report = ImportReport(file=path, source=source)
    error_path = error_report or path.with_name(f"{default_source(path)}.errors.csv")
    engine = db.get_engine()
    postgres = engine.dialect.name == "postgresql"
    sha = scan(path, encoding)
    table = ImportJob.__table__

    with engine.connect() as conn:
        job = _job(conn, path, sha)
        if job["finished"]:
            report.already_finished = True
            report.file_rows_rejected = job["rows_rejected"]
            report.error_report = error_path if job["rows_rejected"] and error_path.exists() else None
            report.seconds = time.perf_counter() - started
            return report
        resume_after = report.resumed_from_line = job["lines_done"]
        with conn.begin():
            unit_index = units.unit_ref_index(Session(bind=conn))
            backend = (_Postgres if postgres else _Sqlite)(conn, source)
        validator = _Validator(source, unit_index, today=dt.date.today())
        errors = _ErrorReport(error_path, keep_through_line=resume_after)

        def commit_batch(rows: list[tuple], rejections: list[tuple], last_line: int) -> None:
            for rejection in rejections:
                errors.add(*rejection)
            errors.flush()
            with conn.begin():
                # Touch the job row first: it takes SQLite's write lock before
                # ids are handed out, and serialises two runs of one file.
                conn.execute(table.update().where(table.c.id == job["id"]).values(
                    lines_done=last_line, rows_rejected=table.c.rows_rejected + len(rejections)))
                loaded, skipped = backend.load(rows) if rows else (0, 0)
                conn.execute(table.update().where(table.c.id == job["id"]).values(
                    rows_loaded=table.c.rows_loaded + loaded))
            report.rows_loaded += loaded
            report.rows_skipped_already_present += skipped
            report.rows_rejected += len(rejections)
            advance(len(rows) + len(rejections))

        with ExitStack() as stack:
            handle = stack.enter_context(open_text(path, encoding))
            stack.callback(errors.close)
            advance = stack.enter_context(_progress(progress, f"importing {path.name}"))
            # The next batch is parsed and validated here while the previous one
            # is written by this thread; the database (another process, or
            # SQLite without the GIL) works in the meantime. One batch in flight
            # keeps commits in file order, which resumption relies on.
            writer = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="dancu-import"))
            in_flight: Future | None = None

            def hand_over(rows: list[tuple], rejections: list[tuple], last_line: int) -> None:
                nonlocal in_flight
                if in_flight is not None:
                    in_flight.result()  # re-raises the previous batch's failure
                in_flight = writer.submit(commit_batch, rows, rejections, last_line)

            batch: list[tuple] = []
            rejections: list[tuple] = []
            seen: dict[str, int] = {}
            line_no = resume_after
            for line_no, values, reason, raw in records(path, handle):
                if line_no <= resume_after:
                    continue
                report.rows_read += 1
                try:
                    if values is None:
                        raise _Rejected(reason)
                    row = validator.stage(line_no, values)
                    if row[1] in seen:
                        raise _Rejected(f"duplicate record_id (also on line {seen[row[1]]})")
                    seen[row[1]] = line_no
                    batch.append(row)
                except _Rejected as exc:
                    rejections.append((line_no, values[_RECORD_ID] if values else "", str(exc), raw))
                if report.rows_read % batch_size == 0:
                    hand_over(batch, rejections, line_no)
                    batch, rejections, seen = [], [], {}
            hand_over(batch, rejections, line_no)
            in_flight.result()
        if not report.rows_read and not resume_after:
            raise ValueError(f"{path.name} holds no rows (it is empty, or has a header only)")

        with conn.begin():
            if resume_after:
                # Rows committed by the interrupted run may name relatives that
                # only arrived after the restart: their links are read again.
                backend.stage_links(_links_through(path, source, resume_after, encoding))
            report.links_unresolved = backend.resolve_links()
            # Each row's own findings were stored with it; those comparing
            # persons are added once, for this file's persons and whoever
            # they involve (a shared PIN, a parent), not for the whole register.
            quality.add_cross_issues(Session(bind=conn), select(Person.id).where(
                Person.id > (job["persons_after_id"] or 0)))
            conn.execute(table.update().where(table.c.id == job["id"]).values(
                finished=True, finished_at=dt.datetime.now(dt.UTC)))
            report.file_rows_rejected = conn.execute(
                select(table.c.rows_rejected).where(table.c.id == job["id"])).scalar_one()
    if errors.handle is not None:
        report.error_report = error_path
    report.seconds = time.perf_counter() - started
    return report


def _links_through(path: Path, source: str, last_line: int, encoding: str) -> list[tuple]:
    prefix = f"{source}/"
    links = []
    with open_text(path, encoding) as handle:
        for line_no, values, _, _ in records(path, handle):
            if line_no > last_line:
                break
            if values is None or not values[_RECORD_ID].strip():
                continue
            refs = [prefix + v.strip() if v.strip() else None for v in (values[_FATHER], values[_MOTHER],
                                                                        values[_SPOUSE])]
            if any(refs):
                links.append((prefix + values[_RECORD_ID].strip(), *refs))
    return links


# ---- the export --------------------------------------------------------------------------------


def _iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def export_register(session: Session, actor: Actor, purpose: str, path: Path, unit_id: int | None = None,
                    progress: bool = True) -> int:
    """`dancu export`: a bulk read of personal data, logged before a row is read.

    One access-log entry names the scope (the whole register or a unit) and
    the file. It is committed in the caller's session first, so even an
    interrupted export stays accountable (and, on SQLite, the caller's
    transaction does not hold the write lock through a long read).
    """
    actor.require(Role.ADMIN)
    purpose = require_purpose(purpose)
    format_of(Path(path))  # refuse a wrong file name before logging a read that will not happen
    record_access(session, actor, "export", "unit" if unit_id is not None else "register",
                  unit_id if unit_id is not None else "all", purpose, detail=f"file={Path(path).name}")
    session.commit()
    return export_persons(path, unit_id=unit_id, progress=progress)


# What the export reads of a person: plain column values, not ORM objects,
# so that streaming needs no identity map (expunging objects under yield_per
# broke every export past its first batch on SQLite).
_EXPORTED = (
    Person.id, Person.pin, Person.family_name, Person.middle_name, Person.given_name, Person.full_name,
    Person.other_names, Person.birth_year, Person.birth_month, Person.birth_day, Person.sex, Person.nationalities,
    Person.citizenship_basis, Person.naturalized_on, Person.ethnicity_code, Person.religion,
    Person.birth_place_status, Person.birth_registration_unit_id, Person.birth_country, Person.hometown_status,
    Person.hometown_unit_id, Person.father_id, Person.mother_id, Person.spouse_id, Person.status, Person.status_date,
)


def export_persons(path: Path, unit_id: int | None = None, progress: bool = True, batch_size: int = 5_000) -> int:
    """Write persons (those living in ``unit_id`` when given) in the exchange format.

    ``record_id`` is the person's id in this register and the relatives'
    columns refer to those ids, so the file imports back as it is. Rows are
    streamed ``batch_size`` at a time. Callers log the read: `export_register`,
    or the linkage run that reads the file.
    """
    path = Path(path)
    kind = format_of(path)
    permanent, temporary = aliased(Residence), aliased(Residence)
    household = aliased(Household)
    membership = aliased(HouseholdMember)
    query = (
        select(
            *_EXPORTED,
            permanent.unit_id.label("permanent_unit"), permanent.address_line.label("permanent_address"),
            permanent.valid_from.label("permanent_since"), household.code.label("household_code"),
            membership.relationship_to_head, temporary.unit_id.label("temporary_unit"),
            temporary.address_line.label("temporary_address"), temporary.valid_from.label("temporary_from"),
            temporary.expires_on.label("temporary_until"),
        )
        .outerjoin(permanent, (permanent.person_id == Person.id) & (permanent.kind == ResidenceKind.PERMANENT)
                   & permanent.valid_to.is_(None))
        .outerjoin(membership, (membership.person_id == Person.id) & membership.valid_to.is_(None))
        .outerjoin(household, household.id == membership.household_id)
        .outerjoin(temporary, (temporary.person_id == Person.id) & (temporary.kind == ResidenceKind.TEMPORARY)
                   & temporary.valid_to.is_(None))
        .order_by(Person.id)
    )
    if unit_id is not None:
        query = query.where(Person.home_unit_id == unit_id)
    written = 0
    opener = gzip.open if path.suffix == ".gz" else open
    with db.new_session() as session, opener(path, "wt", encoding="utf-8", newline="") as out, \
            _progress(progress, f"exporting {path.name}") as advance:
        today = units.current_scheme(session)
        refs = {uid: code if scheme == today else f"{scheme}:{code}"
                for uid, scheme, code in session.execute(select(AdminUnit.id, AdminUnit.scheme, AdminUnit.code))}

        def ref(uid: int | None) -> str:
            return refs[uid] if uid is not None else ""

        writer = csv.writer(out) if kind == "csv" else None
        if writer:
            writer.writerow(COLUMNS)
        for p in session.execute(query.execution_options(yield_per=batch_size)):
            birth = PartialDate(p.birth_year, p.birth_month, p.birth_day).iso() if p.birth_year else ""
            record = (
                str(p.id), p.pin or "", p.family_name, p.middle_name, p.given_name, p.full_name, p.other_names,
                birth, p.sex.value if p.sex else "", p.nationalities, p.citizenship_basis.value,
                _iso(p.naturalized_on), "" if p.ethnicity_code is None else str(p.ethnicity_code),
                p.religion or "", p.birth_place_status.value, ref(p.birth_registration_unit_id),
                p.birth_country or "", p.hometown_status.value, ref(p.hometown_unit_id),
                str(p.father_id or ""), str(p.mother_id or ""), str(p.spouse_id or ""), p.status.value,
                _iso(p.status_date), ref(p.permanent_unit), p.permanent_address or "", _iso(p.permanent_since),
                p.household_code or "", p.relationship_to_head or "", ref(p.temporary_unit),
                p.temporary_address or "", _iso(p.temporary_from), _iso(p.temporary_until),
            )
            if writer:
                writer.writerow(record)
            else:
                out.write(json.dumps({k: v for k, v in zip(COLUMNS, record, strict=True) if v}, ensure_ascii=False))
                out.write("\n")
            written += 1
            if written % batch_size == 0:
                advance(batch_size)
        advance(written % batch_size)
    return written
