"""Loading administrative-unit schemes and reforms into the database.

Data migrations call these helpers; a reform is one migration that inserts the
new scheme, its units and the succession rows from the old units. The helpers
use Core table clauses rather than the ORM models so that an old migration
keeps working after the models grow new columns.

Units are inserted level by level (provinces, districts, communes) so that a
child can point at its parent's id; ids are read back by (level, code) after
each level instead of being assigned here, which keeps PostgreSQL sequences
correct for later inserts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dancu.text import fold

LEVELS = ("province", "district", "commune")

unit_scheme_table = sa.table(
    "unit_scheme",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("valid_from", sa.Date),
    sa.column("valid_to", sa.Date),
    sa.column("has_districts", sa.Boolean),
    sa.column("legal_basis", sa.String),
)

admin_unit_table = sa.table(
    "admin_unit",
    sa.column("id", sa.Integer),
    sa.column("scheme", sa.String),
    sa.column("level", sa.String),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("short_name", sa.String),
    sa.column("unit_type", sa.String),
    sa.column("name_key", sa.String),
    sa.column("parent_id", sa.Integer),
    sa.column("province_code", sa.String),
)

unit_succession_table = sa.table(
    "unit_succession",
    sa.column("id", sa.Integer),
    sa.column("old_unit_id", sa.Integer),
    sa.column("new_unit_id", sa.Integer),
    sa.column("is_default", sa.Boolean),
    sa.column("effective_on", sa.Date),
)

_NOT_KEY = re.compile(r"[^a-z0-9]")


def name_key(name: str) -> str:
    """Accent-free, space-free matching key: "Phường Bến Nghé" -> "phuongbennghe"."""
    return _NOT_KEY.sub("", fold(name))


@dataclass(frozen=True)
class SchemeSpec:
    code: str
    name: str
    valid_from: dt.date
    valid_to: dt.date | None
    has_districts: bool
    legal_basis: str


@dataclass(frozen=True)
class UnitSpec:
    level: str
    code: str
    name: str
    short_name: str
    unit_type: str
    province_code: str
    # (level, code) of the parent in the same scheme; None for provinces
    parent: tuple[str, str] | None = None


@dataclass(frozen=True)
class SuccessionSpec:
    """Old unit (level, code) in the old scheme -> new unit in the new scheme."""

    old: tuple[str, str]
    new: tuple[str, str]
    is_default: bool = True


def insert_scheme(conn: Connection, spec: SchemeSpec) -> None:
    conn.execute(
        sa.insert(unit_scheme_table),
        [
            {
                "code": spec.code,
                "name": spec.name,
                "valid_from": spec.valid_from,
                "valid_to": spec.valid_to,
                "has_districts": spec.has_districts,
                "legal_basis": spec.legal_basis,
            }
        ],
    )


def close_scheme(conn: Connection, code: str, valid_to: dt.date | None) -> None:
    """End a scheme's validity (first step of loading the reform that replaces it; None reopens it)."""
    conn.execute(
        sa.update(unit_scheme_table).where(unit_scheme_table.c.code == code).values(valid_to=valid_to)
    )


def unit_ids(conn: Connection, scheme: str) -> dict[tuple[str, str], int]:
    """(level, code) -> id for every unit of a scheme."""
    t = admin_unit_table
    rows = conn.execute(sa.select(t.c.level, t.c.code, t.c.id).where(t.c.scheme == scheme))
    return {(level, code): unit_id for level, code, unit_id in rows}


def insert_units(conn: Connection, scheme: str, units: Iterable[UnitSpec]) -> dict[tuple[str, str], int]:
    """Insert a scheme's units, parents first; returns (level, code) -> id."""
    by_level: dict[str, list[UnitSpec]] = {level: [] for level in LEVELS}
    for unit in units:
        by_level[unit.level].append(unit)
    ids: dict[tuple[str, str], int] = {}
    for level in LEVELS:
        batch = by_level[level]
        if not batch:
            continue
        conn.execute(
            sa.insert(admin_unit_table),
            [
                {
                    "scheme": scheme,
                    "level": unit.level,
                    "code": unit.code,
                    "name": unit.name,
                    "short_name": unit.short_name,
                    "unit_type": unit.unit_type,
                    "name_key": name_key(unit.name),
                    "parent_id": ids[unit.parent] if unit.parent else None,
                    "province_code": unit.province_code,
                }
                for unit in batch
            ],
        )
        ids = unit_ids(conn, scheme)
    return ids


def insert_successions(
    conn: Connection,
    old_scheme: str,
    new_scheme: str,
    successions: Iterable[SuccessionSpec],
    effective_on: dt.date,
) -> int:
    old_ids = unit_ids(conn, old_scheme)
    new_ids = unit_ids(conn, new_scheme)
    rows = [
        {
            "old_unit_id": old_ids[s.old],
            "new_unit_id": new_ids[s.new],
            "is_default": s.is_default,
            "effective_on": effective_on,
        }
        for s in successions
    ]
    conn.execute(sa.insert(unit_succession_table), rows)
    return len(rows)


def delete_scheme(conn: Connection, code: str) -> None:
    """Remove a scheme with its units and every succession touching them (downgrades)."""
    units = sa.select(admin_unit_table.c.id).where(admin_unit_table.c.scheme == code).scalar_subquery()
    s = unit_succession_table
    conn.execute(sa.delete(s).where(s.c.old_unit_id.in_(units) | s.c.new_unit_id.in_(units)))
    # children before parents: the self-referencing foreign key is checked per row
    for level in reversed(LEVELS):
        t = admin_unit_table
        conn.execute(sa.delete(t).where(t.c.scheme == code, t.c.level == level))
    conn.execute(sa.delete(unit_scheme_table).where(unit_scheme_table.c.code == code))


# --- the 2025 reform, as published in the `vietnamadminunits` package ---------


@dataclass(frozen=True)
class Reform:
    old_units: list[UnitSpec]
    new_units: list[UnitSpec]
    successions: list[SuccessionSpec]


def _unit_type(name: str, short_name: str) -> str:
    """"Thành phố Hồ Chí Minh" minus "Hồ Chí Minh" -> "Thành phố"."""
    return name.removesuffix(short_name).strip() if name.endswith(short_name) else ""


def read_vietnamadminunits_2025() -> Reform:
    """The 63-province units, the 34-province units and how one became the other.

    Reads the files shipped inside the installed package (no network). The
    package's converter joins old and new units by name keys
    ("province_district_ward"), which this turns into official codes.
    """
    data = resources.files("vietnamadminunits") / "data"
    with resources.as_file(data / "dataset.db") as db_path:
        # read-only URI: the package directory may not be writable
        source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            source.row_factory = sqlite3.Row
            legacy_rows = source.execute(
                "SELECT * FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
            ).fetchall()
            new_rows = source.execute("SELECT * FROM admin_units ORDER BY provinceCode, wardCode").fetchall()
        finally:
            source.close()
    converter = json.loads((data / "converter_2025.json").read_text(encoding="utf-8"))

    old_units: dict[tuple[str, str], UnitSpec] = {}
    old_key_to_unit: dict[str, tuple[str, str]] = {}
    old_province_by_key: dict[str, str] = {}
    for r in legacy_rows:
        p, d = r["provinceCode"], r["districtCode"]
        old_units.setdefault(
            ("province", p),
            UnitSpec("province", p, r["province"], r["provinceShort"], _unit_type(r["province"], r["provinceShort"]), p),
        )
        old_province_by_key[r["provinceKey"]] = p
        old_units.setdefault(
            ("district", d),
            UnitSpec("district", d, r["district"], r["districtShort"], r["districtType"], p, ("province", p)),
        )
        key = f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}"
        if r["wardCode"]:
            w = r["wardCode"]
            old_units[("commune", w)] = UnitSpec(
                "commune", w, r["ward"], r["wardShort"], r["wardType"], p, ("district", d)
            )
            old_key_to_unit[key] = ("commune", w)
        else:
            # island districts (Côn Đảo, Lý Sơn, ...) had no communes; the
            # district itself became a special zone (đặc khu)
            old_key_to_unit[key] = ("district", d)

    new_units: dict[tuple[str, str], UnitSpec] = {}
    new_ward_by_key: dict[tuple[str, str], tuple[str, str]] = {}
    new_province_by_key: dict[str, str] = {}
    for r in new_rows:
        p, w = r["provinceCode"], r["wardCode"]
        new_units.setdefault(
            ("province", p),
            UnitSpec("province", p, r["province"], r["provinceShort"], _unit_type(r["province"], r["provinceShort"]), p),
        )
        new_province_by_key[r["provinceKey"]] = p
        new_units[("commune", w)] = UnitSpec("commune", w, r["ward"], r["wardShort"], r["wardType"], p, ("province", p))
        new_ward_by_key[(r["provinceKey"], r["wardKey"])] = ("commune", w)

    successions = [
        SuccessionSpec(("province", old_province_by_key[old_key]), ("province", new_province_by_key[new_key]))
        for new_key, old_keys in converter["DICT_PROVINCE"].items()
        for old_key in old_keys
    ]
    for new_province, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_ward, old_keys in wards.items():
            new = new_ward_by_key[(new_province, new_ward)]
            successions.extend(SuccessionSpec(old_key_to_unit[k], new) for k in old_keys)
    for new_province, divided in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in divided.items():
            successions.extend(
                SuccessionSpec(
                    old_key_to_unit[old_key],
                    new_ward_by_key[(new_province, part["newWardKey"])],
                    bool(part["isDefaultNewWard"]),
                )
                for part in parts
            )
    return Reform(list(old_units.values()), list(new_units.values()), successions)
