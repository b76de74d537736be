"""What migration 0003 loads: two schemes, their units and the successions."""

import datetime as dt

from sqlalchemy import func, select

from dancu.units.loading import name_key, read_vietnamadminunits_2025
from dancu.units.models import AdminUnit, UnitScheme, UnitSuccession


def _count(session, **where) -> int:
    stmt = select(func.count()).select_from(AdminUnit)
    for column, value in where.items():
        stmt = stmt.where(getattr(AdminUnit, column) == value)
    return session.scalar(stmt)


def test_unit_counts(session):
    assert _count(session, scheme="2025", level="province") == 34
    assert _count(session, scheme="2025", level="commune") == 3321
    assert _count(session, scheme="2025", level="district") == 0
    assert _count(session, scheme="legacy", level="province") == 63
    assert _count(session, scheme="legacy", level="district") == 696
    assert _count(session, scheme="legacy", level="commune") == 10035


def test_schemes(session):
    legacy = session.get(UnitScheme, "legacy")
    current = session.get(UnitScheme, "2025")
    assert legacy.has_districts and not current.has_districts
    assert legacy.valid_to == dt.date(2025, 6, 30)
    assert current.valid_from == dt.date(2025, 7, 1) and current.valid_to is None
    assert "202/2025/QH15" in current.legal_basis


def test_unit_fields_and_parents(session):
    ben_nghe = session.scalar(
        select(AdminUnit).where(AdminUnit.scheme == "legacy", AdminUnit.level == "commune", AdminUnit.code == "26740")
    )
    assert (ben_nghe.name, ben_nghe.short_name, ben_nghe.unit_type) == ("Phường Bến Nghé", "Bến Nghé", "Phường")
    assert ben_nghe.name_key == "phuongbennghe"
    assert ben_nghe.province_code == "79"
    assert (ben_nghe.parent.name, ben_nghe.parent.level) == ("Quận 1", "district")
    assert ben_nghe.parent.parent.name == "Thành phố Hồ Chí Minh"
    hcm = session.scalar(
        select(AdminUnit).where(AdminUnit.scheme == "2025", AdminUnit.level == "province", AdminUnit.code == "79")
    )
    assert (hcm.short_name, hcm.unit_type, hcm.parent_id) == ("Hồ Chí Minh", "Thành phố", None)
    orphans = select(func.count()).select_from(AdminUnit).where(
        AdminUnit.level != "province", AdminUnit.parent_id.is_(None)
    )
    assert session.scalar(orphans) == 0


def test_every_old_unit_has_exactly_one_default_successor(session):
    defaults = (
        select(UnitSuccession.old_unit_id, func.count())
        .where(UnitSuccession.is_default)
        .group_by(UnitSuccession.old_unit_id)
    )
    counts = dict(session.execute(defaults).all())
    assert set(counts.values()) == {1}
    # 63 provinces, 10,035 communes and the 5 island districts that had no communes
    assert len(counts) == 63 + 10035 + 5
    assert session.scalar(select(func.count()).select_from(UnitSuccession)) > len(counts)  # split communes


def test_name_key_is_accent_free():
    assert name_key("Phường Bến Nghé") == "phuongbennghe"
    assert name_key("Xã Đắk R'Lấp") == "xadakrlap"
    assert name_key("Bà Rịa - Vũng Tàu") == "bariavungtau"


def test_reader_joins_every_old_key_to_codes():
    reform = read_vietnamadminunits_2025()
    assert len(reform.new_units) == 34 + 3321
    assert len(reform.old_units) == 63 + 696 + 10035
    old = {(u.level, u.code) for u in reform.old_units}
    new = {(u.level, u.code) for u in reform.new_units}
    assert all(s.old in old and s.new in new for s in reform.successions)


def test_migration_downgrades_and_upgrades_again(database_url):
    from alembic import command
    from sqlalchemy import text

    from dancu import db, migrate

    config = migrate.alembic_config()
    engine = db.get_engine()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM admin_unit")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM unit_scheme")).scalar() == 0
    migrate.upgrade(engine, "0003")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM admin_unit")).scalar() == 34 + 3321 + 63 + 696 + 10035
