import pytest

from dancu.units import services as units


def test_old_ward_in_ho_chi_minh_city(session):
    c = units.convert_address(session, "Phường Bến Nghé, Quận 1, TP Hồ Chí Minh")
    assert c.source_scheme == "legacy" and not c.already_current
    assert (c.old_province.name, c.old_district.name, c.old_commune.name) == (
        "Thành phố Hồ Chí Minh",
        "Quận 1",
        "Phường Bến Nghé",
    )
    assert (c.new_commune.name, c.new_commune.scheme) == ("Phường Sài Gòn", "2025")
    assert c.new_province.name == "Thành phố Hồ Chí Minh"
    assert c.new_address == "Phường Sài Gòn, Thành phố Hồ Chí Minh"
    assert c.all_candidates == [c.new_commune] and not c.is_default_choice


def test_street_is_kept_and_accents_are_optional(session):
    c = units.convert_address(session, "12 Nguyễn Huệ, phuong ben nghe, quan 1, tp hcm")
    assert c.street == "12 Nguyễn Huệ"
    assert c.new_address == "12 Nguyễn Huệ, Phường Sài Gòn, Thành phố Hồ Chí Minh"
    assert c.old_address == "12 Nguyễn Huệ, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"


def test_abbreviated_types(session):
    c = units.convert_address(session, "P. Bến Nghé, Q.1, TP.HCM")
    assert c.street is None and c.new_address == "Phường Sài Gòn, Thành phố Hồ Chí Minh"


def test_binh_duong_became_part_of_ho_chi_minh_city(session):
    c = units.convert_address(session, "Phường Phú Cường, Thủ Dầu Một, Bình Dương")
    assert c.old_province.name == "Tỉnh Bình Dương"
    assert c.new_address == "Phường Thủ Dầu Một, Thành phố Hồ Chí Minh"
    assert c.new_province.code == "79"


def test_split_commune_gets_default_successor_and_candidates(session):
    c = units.convert_address(session, "Xã Hòa Liên, Huyện Hòa Vang, Thành phố Đà Nẵng")
    assert c.is_default_choice
    assert c.new_commune.name == "Phường Liên Chiểu"
    assert {u.name for u in c.all_candidates} == {"Phường Hải Vân", "Phường Liên Chiểu"}
    many = units.convert_address(session, "Xã Hồng Hà, Huyện Đan Phượng, Hà Nội")
    assert many.new_commune.name == "Xã Ô Diên" and len(many.all_candidates) == 4


def test_island_district_without_communes(session):
    c = units.convert_address(session, "Huyện Côn Đảo, Bà Rịa - Vũng Tàu")
    assert c.old_commune is None and c.old_district.name == "Huyện Côn Đảo"
    assert c.new_address == "Đặc khu Côn Đảo, Thành phố Hồ Chí Minh"


@pytest.mark.parametrize(
    "text", ["Phường Sài Gòn, Thành phố Hồ Chí Minh", "Phường Bình Thạnh, TP HCM", "5 Lê Lợi, Phường Bến Thành, Hồ Chí Minh"]
)
def test_address_already_in_current_units(session, text):
    c = units.convert_address(session, text)
    assert c.already_current and c.source_scheme == "2025"
    assert c.old_commune == c.new_commune and c.old_district is None
    assert c.new_address.endswith(", Thành phố Hồ Chí Minh")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty address"),
        ("   ", "empty address"),
        ("xyz 123", "no Vietnamese province, district or ward recognised"),
        ("Hà Nội", "found Thành phố Hà Nội but no ward or commune"),
        ("Phường 99, Quận 1, TP HCM", "found Quận 1, Thành phố Hồ Chí Minh but no ward"),
        # a district written with its type marks an old address: no guessing a new ward from its name
        ("Phường Xyz, Quận Bình Thạnh, TP HCM", "found Quận Bình Thạnh"),
    ],
)
def test_unrecognised_addresses(session, text, message):
    with pytest.raises(units.AddressNotRecognised, match=message):
        units.convert_address(session, text)
