import datetime as dt

import pytest

from dancu.units import services as units


def test_current_scheme(session):
    assert units.current_scheme(session) == "2025"
    assert units.current_scheme(session, dt.date(2025, 7, 1)) == "2025"
    assert units.current_scheme(session, dt.date(2025, 6, 30)) == "legacy"
    # nothing older is loaded: old records are described by the oldest scheme
    assert units.current_scheme(session, dt.date(1990, 1, 1)) == "legacy"


def test_resolve_bare_and_legacy_refs(session):
    sai_gon = units.resolve_unit_ref(session, "26740")
    assert (sai_gon.scheme, sai_gon.level, sai_gon.name) == ("2025", "commune", "Phường Sài Gòn")
    assert units.resolve_unit_ref(session, "legacy:26740") == sai_gon  # Phường Bến Nghé
    assert units.resolve_unit_ref(session, " 2025:26740 ") == sai_gon
    assert units.resolve_unit_ref(session, "legacy:26734").name == "Phường Tân Định"
    # Côn Đảo had no communes: the district itself became a special zone
    assert units.resolve_unit_ref(session, "legacy:755").name == "Đặc khu Côn Đảo"
    # a split commune resolves to its default successor
    assert units.resolve_unit_ref(session, "legacy:20296").name == "Phường Liên Chiểu"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("99999", "no commune with code '99999' in scheme '2025'"),
        ("26734", "no commune with code '26734' in scheme '2025'"),  # a legacy-only code, written bare
        ("legacy:99999", "in scheme 'legacy'"),
        ("1990:26740", "unknown unit scheme '1990'"),
        ("legacy:", "malformed unit reference"),
        ("legacy:79", "has no successor commune"),  # a province, not a commune
    ],
)
def test_resolve_errors(session, ref, message):
    with pytest.raises(units.UnitNotFound, match=message):
        units.resolve_unit_ref(session, ref)


def test_unit_ref_index_agrees_with_resolve(session):
    index = units.unit_ref_index(session)
    assert len(index) == 3321 * 2 + 10035 + 5
    for ref in ("26740", "legacy:26740", "2025:26737", "legacy:755", "legacy:20296", "legacy:09796"):
        assert index[ref] == units.resolve_unit_ref(session, ref).id
    assert "26734" not in index and "legacy:79" not in index


def test_list_provinces_and_communes(session):
    provinces = units.list_provinces(session)
    assert len(provinces) == 34 and provinces[0].code == "01"
    assert len(units.list_provinces(session, "legacy")) == 63
    hcm = units.list_communes(session, "79")
    assert len(hcm) == 168 and {u.scheme for u in hcm} == {"2025"}
    assert "Phường Sài Gòn" in {u.name for u in hcm}
    assert "Phường Bến Nghé" in {u.name for u in units.list_communes(session, "79", "legacy")}
    with pytest.raises(units.UnitNotFound, match="no province with code '74' in scheme '2025'"):
        units.list_communes(session, "74")  # Bình Dương, merged into Hồ Chí Minh City
    with pytest.raises(units.UnitNotFound, match="unknown unit scheme"):
        units.list_provinces(session, "1975")


def test_search_is_accent_insensitive(session):
    for text in ("Sài Gòn", "sai gon", "SAIGON"):
        assert units.search_units(session, text)[0].name == "Phường Sài Gòn"
    assert units.search_units(session, "ho chi minh", level="province")[0].code == "79"
    assert [u.name for u in units.search_units(session, "bến nghé", scheme="legacy")] == ["Phường Bến Nghé"]
    assert units.search_units(session, "ben nghe") == []
    assert len(units.search_units(session, "an", limit=5)) == 5
    assert units.search_units(session, "   ") == []


def test_search_ranks_exact_names_first(session):
    found = units.search_units(session, "Đà Nẵng")
    assert found[0].level == "province" and found[0].name == "Thành phố Đà Nẵng"


def test_labels_and_provinces(session):
    sai_gon = units.resolve_unit_ref(session, "26740")
    assert units.unit_label(sai_gon) == "Phường Sài Gòn, Thành phố Hồ Chí Minh"
    assert units.unit_label(session, sai_gon.id) == "Phường Sài Gòn, Thành phố Hồ Chí Minh"
    assert units.unit_label(sai_gon, short=True) == "Sài Gòn, Hồ Chí Minh"
    ben_nghe = units.search_units(session, "Bến Nghé", scheme="legacy")[0]
    assert units.unit_label(ben_nghe) == "Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"
    assert units.province_of(ben_nghe).name == "Thành phố Hồ Chí Minh"
    assert units.province_of(ben_nghe).scheme == "legacy"
    assert units.province_of(units.province_of(sai_gon)) == units.province_of(sai_gon)
    with pytest.raises(units.UnitNotFound):
        units.unit_label(session, 10**9)


def test_units_within(session):
    hcm = next(p for p in units.list_provinces(session) if p.code == "79")
    inside = units.units_within(session, hcm.id)
    assert sorted(inside) == sorted(u.id for u in units.list_communes(session, "79"))
    sai_gon = units.resolve_unit_ref(session, "26740")
    assert units.units_within(session, sai_gon.id) == [sai_gon.id]
    quan_1 = units.search_units(session, "Bến Nghé", scheme="legacy")[0].parent
    assert len(units.units_within(session, quan_1.id)) == 10
    with pytest.raises(units.UnitNotFound):
        units.units_within(session, 10**9)


def test_get_unit(session):
    sai_gon = units.resolve_unit_ref(session, "26740")
    assert units.get_unit(session, sai_gon.id) is sai_gon
    assert units.get_unit(session, 10**9) is None
