"""Vietnamese-aware preparation: folded name parts, word order, partial dates, today's units, PINs."""

import gzip
import json

import pytest

from dancu.linkage.prepare import UnitNormaliser, prepare_row, read_rows
from dancu.units import services as units


@pytest.fixture
def normalise(session) -> UnitNormaliser:
    return UnitNormaliser(session)


def test_names_are_folded_and_split_from_a_full_name(normalise):
    accented = prepare_row({"record_id": "1", "full_name": "Đặng  Thị Minh Khai"}, normalise)
    plain = prepare_row({"record_id": "2", "family_name": "Dang", "middle_name": "Thi Minh",
                         "given_name": "KHAI"}, normalise)
    assert (accented["family_f"], accented["middle_f"], accented["given_f"]) == ("dang", "thi minh", "khai")
    for column in ("family_f", "middle_f", "given_f", "name_words"):
        assert accented[column] == plain[column]


def test_another_word_order_keeps_the_same_name_words(normalise):
    vietnamese = prepare_row({"record_id": "1", "full_name": "Nguyễn Văn An"}, normalise)
    given_first = prepare_row({"record_id": "2", "full_name": "An Nguyễn Văn"}, normalise)
    assert vietnamese["family_f"] != given_first["family_f"]
    assert vietnamese["name_words"] == given_first["name_words"] == "an nguyen van"


def test_partial_and_impossible_birth_dates(normalise):
    def birth(value):
        row = prepare_row({"record_id": "1", "given_name": "An", "birth_date": value}, normalise)
        return row["birth_year"], row["birth_month"], row["birth_day"], row["birth_date"]

    assert birth("1948") == (1948, None, None, "1948")
    assert birth("1948-03") == (1948, 3, None, "1948-03")
    assert birth("1948-03-12") == (1948, 3, 12, "1948-03-12")
    # an impossible date in a source is unknown, not a reason to drop the record
    assert birth("1948-02-30") == (None, None, None, None)
    assert birth("") == (None, None, None, None)


def test_legacy_unit_references_become_todays_commune(session, normalise):
    # Phường Hiệp Thành (Thủ Dầu Một, Bình Dương) became part of Phường Phú Lợi, Hồ Chí Minh City, in 2025
    successor = units.resolve_unit_ref(session, "legacy:25741")
    assert successor.code != "25741" and successor.province_code == "79"
    row = prepare_row({"record_id": "1", "given_name": "An", "permanent_unit": "legacy:25741",
                       "hometown_unit": successor.code, "birth_registration_unit": "no-such-unit"}, normalise)
    assert (row["commune"], row["province"]) == (successor.code, "79")
    assert (row["hometown"], row["hometown_province"]) == (successor.code, "79")
    assert (row["birthplace"], row["birthplace_province"]) == (None, None)


def test_residence_falls_back_to_the_temporary_commune(session, normalise):
    commune = units.list_communes(session, "79")[0]
    row = prepare_row({"record_id": "1", "given_name": "An", "temporary_unit": commune.code}, normalise)
    assert row["commune"] == commune.code


def test_only_well_formed_pins_are_kept(normalise):
    def pin(value):
        return prepare_row({"record_id": "1", "given_name": "An", "pin": value}, normalise)["pin"]

    assert pin(" 079090001234 ") == "079090001234"
    assert pin("07909000123") is None
    assert pin("07909000123x") is None


def test_reads_csv_and_gzipped_json_lines(tmp_path):
    csv_path = tmp_path / "agency.csv"
    csv_path.write_text("record_id,full_name,extra_column\nA1,Lê Văn Tám,x\n", encoding="utf-8")
    jsonl_path = tmp_path / "agency.jsonl.gz"
    with gzip.open(jsonl_path, "wt", encoding="utf-8") as out:
        out.write(json.dumps({"record_id": 7, "full_name": "Lê Văn Tám", "pin": None}) + "\n\n")
    assert [r["full_name"] for r in read_rows(csv_path)] == ["Lê Văn Tám"]
    [row] = read_rows(jsonl_path)
    assert (row["record_id"], row["full_name"], row["pin"], row["given_name"]) == ("7", "Lê Văn Tám", "", "")


def test_a_row_without_record_id_is_rejected_and_the_others_read(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("record_id,full_name\n,Lê Văn Tám\nA2,Lê Thị Cúc\n", encoding="utf-8")
    rejected = []
    assert [r["record_id"] for r in read_rows(path, rejected=rejected)] == ["A2"]
    assert rejected == [(2, "no record_id")]


def test_relatives_are_the_named_father_mother_and_spouse(normalise):
    row = prepare_row({"record_id": "5", "given_name": "An", "father_record_id": "2", "mother_record_id": " ",
                       "spouse_record_id": "9"}, normalise)
    assert row["relatives"] == ["2", "9"]
    assert prepare_row({"record_id": "6", "given_name": "An"}, normalise)["relatives"] is None
