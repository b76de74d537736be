"""Administrative units: look-ups, references, search and address conversion.

Everything here reads the database tables loaded by the data migrations; the
`vietnamadminunits` package is used only to *parse* free-text addresses. Which
unit replaced which comes from `unit_succession`, so a future reform needs new
data, not new code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from dancu.units.loading import name_key
from dancu.units.models import AdminUnit, UnitScheme, UnitSuccession

LEVEL_ORDER = {"province": 0, "district": 1, "commune": 2}
# the schemes that vietnamadminunits' two parser modes read addresses in
LEGACY_SCHEME = "legacy"
SCHEME_2025 = "2025"


class UnitNotFound(ValueError):
    """A unit reference, code or id that names no unit."""

    code = "units.unit_not_found"


class AddressNotRecognised(ValueError):
    """Free text in which no commune could be found."""

    code = "units.address_not_recognised"


def current_scheme(session: Session, on: dt.date | None = None) -> str:
    """Code of the scheme in force on a date (default today).

    Dates before the oldest loaded scheme get the oldest one: no earlier unit
    lists are loaded, and old records are still best described by it.
    """
    on = on or dt.date.today()
    code = session.scalar(
        select(UnitScheme.code)
        .where(UnitScheme.valid_from <= on)
        .order_by(UnitScheme.valid_from.desc())
        .limit(1)
    )
    if code is None:
        code = session.scalar(select(UnitScheme.code).order_by(UnitScheme.valid_from).limit(1))
    if code is None:
        raise UnitNotFound("no administrative unit scheme is loaded; run `dancu db upgrade`")
    return code


def schemes(session: Session) -> list[UnitScheme]:
    return list(session.scalars(select(UnitScheme).order_by(UnitScheme.valid_from)))


def _scheme(session: Session, scheme: str | None) -> str:
    if scheme is None:
        return current_scheme(session)
    if session.get(UnitScheme, scheme) is None:
        known = ", ".join(s.code for s in schemes(session))
        raise UnitNotFound(f"unknown unit scheme {scheme!r} (known: {known})")
    return scheme


def get_unit(session: Session, unit_id: int) -> AdminUnit | None:
    return session.get(AdminUnit, unit_id)


def _commune(session: Session, scheme: str, code: str) -> AdminUnit | None:
    return session.scalar(
        select(AdminUnit).where(AdminUnit.scheme == scheme, AdminUnit.level == "commune", AdminUnit.code == code)
    )


def _successions(session: Session, unit_ids: list[int]) -> list[UnitSuccession]:
    return list(session.scalars(select(UnitSuccession).where(UnitSuccession.old_unit_id.in_(unit_ids))))


def successors_in(session: Session, unit: AdminUnit, scheme: str) -> tuple[AdminUnit | None, list[AdminUnit]]:
    """(default successor, every successor) of ``unit`` in ``scheme``.

    Follows successions across as many reforms as lie between the two
    schemes; the default is reached through default links only.
    """
    if unit.scheme == scheme:
        return unit, [unit]
    frontier = [unit.id]
    reached: set[int] = set()
    targets: list[AdminUnit] = []
    while frontier:
        new_ids = [i for i in dict.fromkeys(s.new_unit_id for s in _successions(session, frontier)) if i not in reached]
        reached.update(new_ids)
        frontier = []
        for new_unit in [session.get(AdminUnit, i) for i in new_ids]:
            if new_unit.scheme == scheme:
                targets.append(new_unit)
            else:
                frontier.append(new_unit.id)
    default: AdminUnit | None = unit
    seen: set[int] = set()
    while default is not None and default.scheme != scheme and default.id not in seen:
        seen.add(default.id)
        next_id = session.scalar(
            select(UnitSuccession.new_unit_id).where(
                UnitSuccession.old_unit_id == default.id, UnitSuccession.is_default
            )
        )
        default = session.get(AdminUnit, next_id) if next_id is not None else None
    return (default if default in targets else None), targets


def _parse_ref(session: Session, ref: str) -> tuple[str, str]:
    ref = ref.strip()
    scheme, sep, code = ref.rpartition(":")
    if not sep:
        return current_scheme(session), code
    if not scheme or not code:
        raise UnitNotFound(f"malformed unit reference {ref!r}: expected CODE or SCHEME:CODE, e.g. 26740 or legacy:26740")
    return _scheme(session, scheme), code


def resolve_unit_ref(session: Session, ref: str) -> AdminUnit:
    """The current-scheme commune named by a reference (see docs/data-format.md).

    ``"26740"`` is a commune code of the scheme in force today;
    ``"legacy:26740"`` names a commune of another scheme and resolves to its
    default successor today.
    """
    scheme, code = _parse_ref(session, ref)
    today = current_scheme(session)
    unit = _commune(session, scheme, code)
    if unit is None and scheme != today:
        # island districts that had no communes became communes themselves
        unit = session.scalar(select(AdminUnit).where(AdminUnit.scheme == scheme, AdminUnit.code == code))
    if unit is None:
        raise UnitNotFound(f"no commune with code {code!r} in scheme {scheme!r} (reference {ref.strip()!r})")
    default, _ = successors_in(session, unit, today)
    if default is None or default.level != "commune":
        raise UnitNotFound(f"{unit_label(unit)} ({ref.strip()!r}) has no successor commune in scheme {today!r}")
    return default


def unit_ref_index(session: Session) -> dict[str, int]:
    """Every valid reference string -> id of the current-scheme commune it resolves to.

    Meant for bulk imports: one query, then plain dict look-ups. Holds bare
    codes of today's communes and ``scheme:code`` for every scheme.
    """
    today = current_scheme(session)
    rows = session.execute(
        select(AdminUnit.id, AdminUnit.scheme, AdminUnit.level, AdminUnit.code, UnitSuccession.new_unit_id)
        .outerjoin(
            UnitSuccession,
            (UnitSuccession.old_unit_id == AdminUnit.id) & UnitSuccession.is_default,
        )
        .where((AdminUnit.level == "commune") | UnitSuccession.id.is_not(None))
    ).all()
    default_next = {unit_id: new_id for unit_id, _, _, _, new_id in rows if new_id is not None}
    today_communes = {unit_id for unit_id, scheme, level, _, _ in rows if scheme == today and level == "commune"}
    index: dict[str, int] = {}
    for unit_id, scheme, level, code, _ in rows:
        target: int | None = unit_id
        seen: set[int] = set()
        while target is not None and target not in today_communes and target not in seen:
            seen.add(target)
            target = default_next.get(target)
        if target is None or target not in today_communes:
            continue
        ref = f"{scheme}:{code}"
        # a commune code wins over a district code of the same scheme, as in resolve_unit_ref
        if level == "commune" or ref not in index:
            index[ref] = target
        if scheme == today:
            index[code] = target
    return index


def list_provinces(session: Session, scheme: str | None = None) -> list[AdminUnit]:
    scheme = _scheme(session, scheme)
    return list(
        session.scalars(
            select(AdminUnit).where(AdminUnit.scheme == scheme, AdminUnit.level == "province").order_by(AdminUnit.code)
        )
    )


def list_communes(session: Session, province_code: str, scheme: str | None = None) -> list[AdminUnit]:
    """Communes of a province, by the province's official code ("79")."""
    scheme = _scheme(session, scheme)
    province = session.scalar(
        select(AdminUnit).where(
            AdminUnit.scheme == scheme, AdminUnit.level == "province", AdminUnit.code == province_code
        )
    )
    if province is None:
        raise UnitNotFound(f"no province with code {province_code!r} in scheme {scheme!r}")
    return list(
        session.scalars(
            select(AdminUnit)
            .where(AdminUnit.scheme == scheme, AdminUnit.level == "commune", AdminUnit.province_code == province_code)
            .order_by(AdminUnit.code)
        )
    )


def query_units(
    session: Session,
    *,
    scheme: str | None = None,
    level: str | None = None,
    province_code: str | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[int, list[AdminUnit]]:
    """(total matches, one page) of units; with ``text``, best matches first."""
    scheme = _scheme(session, scheme)
    if level is not None and level not in LEVEL_ORDER:
        raise UnitNotFound(f"unknown level {level!r} (known: {', '.join(LEVEL_ORDER)})")
    conditions = [AdminUnit.scheme == scheme]
    if level:
        conditions.append(AdminUnit.level == level)
    if province_code:
        conditions.append(AdminUnit.province_code == province_code)
    order = []
    if text is not None and text.strip():
        # name_key holds only [a-z0-9], so the key needs no LIKE escaping
        key = name_key(text)
        conditions.append(AdminUnit.name_key.contains(key))
        order.append(
            case(
                (AdminUnit.name_key == key, 0),
                (AdminUnit.name_key.endswith(key), 1),  # the short name: "phuongbennghe" for "ben nghe"
                (AdminUnit.name_key.startswith(key), 2),
                else_=3,
            )
        )
    order += [case(LEVEL_ORDER, value=AdminUnit.level), AdminUnit.province_code, AdminUnit.code]
    total = session.scalar(select(func.count()).select_from(AdminUnit).where(*conditions)) or 0
    units = session.scalars(select(AdminUnit).where(*conditions).order_by(*order).limit(limit).offset(offset))
    return total, list(units)


def search_units(
    session: Session, text: str, scheme: str | None = None, level: str | None = None, limit: int = 20
) -> list[AdminUnit]:
    """Units whose name contains ``text``, with or without diacritics, best first."""
    if not text.strip():
        return []
    return query_units(session, scheme=scheme, level=level, text=text, limit=limit)[1]


def _lineage(unit: AdminUnit) -> list[AdminUnit]:
    chain = [unit]
    while chain[-1].parent is not None:
        chain.append(chain[-1].parent)
    return chain


# Labels by (database, unit id, short). A unit's name and parents change only
# through a data migration, never while the platform serves, so a process may
# keep them: every search result needs one, and this spares a query per row.
_LABELS: dict[tuple[str, int, bool], str] = {}


def unit_label(session_or_unit: Session | AdminUnit, unit_id: int | None = None, *, short: bool = False) -> str:
    """"Phường Sài Gòn, Thành phố Hồ Chí Minh"; legacy units also name their district.

    Pass a unit, or a session and a unit id.
    """
    if isinstance(session_or_unit, AdminUnit):
        return ", ".join(u.short_name if short else u.name for u in _lineage(session_or_unit))
    if unit_id is None:
        raise TypeError("unit_label(session, unit_id) needs a unit id")
    key = (str(session_or_unit.get_bind().url), unit_id, short)
    if (label := _LABELS.get(key)) is None:
        found = get_unit(session_or_unit, unit_id)
        if found is None:
            raise UnitNotFound(f"no administrative unit with id {unit_id}")
        label = _LABELS[key] = unit_label(found, short=short)
    return label


def province_of(unit: AdminUnit) -> AdminUnit:
    return _lineage(unit)[-1]


def units_within(session: Session, unit_id: int) -> list[int]:
    """Ids of the communes inside a unit (itself for a commune): a registrar's scope."""
    unit = get_unit(session, unit_id)
    if unit is None:
        raise UnitNotFound(f"no administrative unit with id {unit_id}")
    if unit.level == "commune":
        return [unit.id]
    communes = select(AdminUnit.id).where(AdminUnit.scheme == unit.scheme, AdminUnit.level == "commune")
    if unit.level == "province":
        communes = communes.where(AdminUnit.province_code == unit.province_code)
    else:
        communes = communes.where(AdminUnit.parent_id == unit.id)
    return list(session.scalars(communes.order_by(AdminUnit.code)))


# --- free-text address conversion ---------------------------------------------


@dataclass(frozen=True)
class AddressConversion:
    """An address as written and the same place in today's units."""

    text: str
    # scheme the address was written in; equal to the current one when already_current
    source_scheme: str
    old_province: AdminUnit
    old_district: AdminUnit | None
    # None only for island districts that had no communes (Côn Đảo, Lý Sơn, ...)
    old_commune: AdminUnit | None
    street: str | None
    new_commune: AdminUnit
    new_province: AdminUnit
    # every current commune that took over part of the old one; several when it was split
    all_candidates: list[AdminUnit] = field(default_factory=list)
    # True when the old commune was split and the address cannot tell which
    # part it lies in, so new_commune is the official default successor
    is_default_choice: bool = False
    already_current: bool = False

    @property
    def new_address(self) -> str:
        return ", ".join(part for part in (self.street, self.new_commune.name, self.new_province.name) if part)

    @property
    def old_address(self) -> str:
        old = self.old_commune or self.old_district or self.old_province
        return ", ".join(part for part in (self.street, unit_label(old)) if part)


# The parser leaves the type of an abbreviated ward behind as the street
# ("P. Bến Nghé, Q.1" gives street "P"); such a street is dropped.
_WARD_TYPE_KEYS = {"p", "phuong", "x", "xa", "tt", "thitran"}


def _street(street: str | None) -> str | None:
    if not street or name_key(street) in _WARD_TYPE_KEYS:
        return None
    return street


def _parsed_unit(session: Session, scheme: str, level: str, code: str | None) -> AdminUnit | None:
    if not code:
        return None
    return session.scalar(
        select(AdminUnit).where(AdminUnit.scheme == scheme, AdminUnit.level == level, AdminUnit.code == code)
    )


def convert_address(session: Session, text: str) -> AddressConversion:
    """Convert a free-text address ("street, ward, district, province") to today's units.

    The address may be written in the pre-reform units (with a district) or
    already in today's units (ward, province), which is reported as
    ``already_current``.
    """
    # imported here: the package builds large regexes at import time, which
    # every other caller of this module should not pay for
    from vietnamadminunits import parse_address

    text = " ".join(text.split())
    if not text:
        raise AddressNotRecognised("empty address: expected 'street, ward, district, province'")
    today = current_scheme(session)

    legacy = parse_address(text, mode="LEGACY", level=3, keep_street=True)
    old_province = _parsed_unit(session, LEGACY_SCHEME, "province", legacy.province_code)
    old_district = _parsed_unit(session, LEGACY_SCHEME, "district", legacy.district_code)
    old_commune = _parsed_unit(session, LEGACY_SCHEME, "commune", legacy.ward_code)
    source = old_commune
    if source is None and old_district is not None:
        default, _ = successors_in(session, old_district, today)
        if default is not None and default.level == "commune":
            source = old_district
    if source is not None and old_province is not None:
        return _converted(session, text, LEGACY_SCHEME, old_province, old_district, old_commune, source, legacy.street)

    # The legacy parser also finds a district inside a new ward's name
    # ("Phường Bình Thạnh" holds "Bình Thạnh"); only a district written with its
    # type ("Quận Bình Thạnh") proves the address is in the old units.
    district_written = old_district is not None and name_key(old_district.name) in name_key(text)
    if not district_written:
        current = parse_address(text, mode="FROM_2025", level=2, keep_street=True)
        province = _parsed_unit(session, SCHEME_2025, "province", current.province_code)
        commune = _parsed_unit(session, SCHEME_2025, "commune", current.ward_code)
        if province is not None and commune is not None:
            return _converted(session, text, SCHEME_2025, province, None, commune, commune, current.street)

    found = old_district or old_province
    if found is not None:
        raise AddressNotRecognised(
            f"found {unit_label(found)} but no ward or commune in {text!r}; "
            "write it as 'street, ward, district, province' (old units) or 'street, ward, province' (current units)"
        )
    raise AddressNotRecognised(
        f"no Vietnamese province, district or ward recognised in {text!r}; "
        "write it as 'street, ward, district, province' (old units) or 'street, ward, province' (current units)"
    )


def _converted(
    session: Session,
    text: str,
    scheme: str,
    province: AdminUnit,
    district: AdminUnit | None,
    commune: AdminUnit | None,
    source: AdminUnit,
    street: str | None,
) -> AddressConversion:
    today = current_scheme(session)
    default, candidates = successors_in(session, source, today)
    if default is None:
        raise AddressNotRecognised(f"{unit_label(source)} has no successor in scheme {today!r}")
    return AddressConversion(
        text=text,
        source_scheme=scheme,
        old_province=province,
        old_district=district,
        old_commune=commune,
        street=_street(street),
        new_commune=default,
        new_province=province_of(default),
        all_candidates=sorted(candidates, key=lambda u: u.code),
        is_default_choice=len(candidates) > 1,
        already_current=scheme == today,
    )
