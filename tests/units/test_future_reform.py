"""A later reform is only data: load a made-up one with the same helpers as
migration 0003 and check that references and conversion follow it."""

import datetime as dt

import pytest

from dancu.units import loading
from dancu.units import services as units


@pytest.fixture
def reformed(session):
    today = dt.date.today()
    conn = session.connection()
    loading.close_scheme(conn, "2025", today - dt.timedelta(days=1))
    loading.insert_scheme(conn, loading.SchemeSpec("2030", "test reform", today, None, False, "test"))
    loading.insert_units(
        conn,
        "2030",
        [
            loading.UnitSpec("province", "79", "Thành phố Hồ Chí Minh", "Hồ Chí Minh", "Thành phố", "79"),
            loading.UnitSpec("commune", "90001", "Phường Trung Tâm", "Trung Tâm", "Phường", "79", ("province", "79")),
            loading.UnitSpec("commune", "90002", "Phường Đa Kao", "Đa Kao", "Phường", "79", ("province", "79")),
        ],
    )
    S = loading.SuccessionSpec
    loading.insert_successions(
        conn,
        "2025",
        "2030",
        [
            S(("province", "79"), ("province", "79")),
            S(("commune", "26740"), ("commune", "90001")),  # Sài Gòn
            S(("commune", "26743"), ("commune", "90001")),  # Bến Thành
            S(("commune", "26737"), ("commune", "90001")),  # Tân Định, split
            S(("commune", "26737"), ("commune", "90002"), is_default=False),
        ],
        today,
    )
    session.commit()
    return session


def test_new_scheme_is_current(reformed):
    assert units.current_scheme(reformed) == "2030"
    assert len(units.list_communes(reformed, "79")) == 2


def test_references_follow_successions_across_reforms(reformed):
    trung_tam = units.resolve_unit_ref(reformed, "90001")
    assert trung_tam.scheme == "2030"
    assert units.resolve_unit_ref(reformed, "2025:26740") == trung_tam
    assert units.resolve_unit_ref(reformed, "legacy:26740") == trung_tam  # Bến Nghé -> Sài Gòn -> Trung Tâm
    with pytest.raises(units.UnitNotFound, match="has no successor commune in scheme '2030'"):
        units.resolve_unit_ref(reformed, "2025:00097")  # this test reform leaves Hà Nội out
    with pytest.raises(units.UnitNotFound, match="in scheme '2030'"):
        units.resolve_unit_ref(reformed, "26740")  # bare codes now mean the 2030 scheme
    index = units.unit_ref_index(reformed)
    assert index["legacy:26740"] == index["2025:26743"] == index["90001"] == trung_tam.id
    assert "26740" not in index and "2025:00097" not in index


def test_conversion_goes_through_both_reforms(reformed):
    old = units.convert_address(reformed, "Phường Bến Nghé, Quận 1, TP Hồ Chí Minh")
    assert old.new_address == "Phường Trung Tâm, Thành phố Hồ Chí Minh" and old.new_commune.scheme == "2030"
    c2025 = units.convert_address(reformed, "Phường Tân Định, TP Hồ Chí Minh")
    assert c2025.source_scheme == "2025" and not c2025.already_current
    assert c2025.is_default_choice and [u.code for u in c2025.all_candidates] == ["90001", "90002"]
    legacy = units.convert_address(reformed, "Phường Tân Định, Quận 1, TP Hồ Chí Minh")
    assert legacy.new_commune.code == "90001" and len(legacy.all_candidates) == 2
