"""The model's comparison levels on hand-made pairs: which level each Vietnamese variation lands in."""

import pytest

from dancu.linkage.model import explain_pair
from dancu.linkage.prepare import UnitNormaliser, prepare_row

BASE = {"record_id": "1", "family_name": "Nguyễn", "middle_name": "Thị", "given_name": "Hương",
        "birth_date": "1985-04-09", "sex": "F", "pin": "079185001234", "permanent_unit": "26740"}


@pytest.fixture
def levels(session):
    normalise = UnitNormaliser(session)

    def compare(**changes) -> dict[str, str]:
        return explain_pair(prepare_row(BASE, normalise), prepare_row({**BASE, "record_id": "2", **changes},
                                                                       normalise))

    return compare


def test_the_same_record_agrees_exactly_everywhere(levels):
    found = levels()
    assert found["birth_date"] == "Same full date"
    assert found["pin"] == "Exact match on pin"
    assert found["commune"] == "Exact match on commune"
    assert all(found[name] == f"Exact match on {name}" for name in ("family_f", "middle_f", "given_f"))


def test_names_without_diacritics_match_exactly(levels):
    found = levels(family_name="Nguyen", middle_name="Thi", given_name="Huong")
    assert all(found[name] == f"Exact match on {name}" for name in ("family_f", "middle_f", "given_f"))


def test_a_keying_error_in_a_name(levels):
    assert levels(given_name="Hưonng")["given_f"] == "Damerau-Levenshtein distance of given_f <= 1"
    assert levels(given_name="Lan")["given_f"] == "All other comparisons"


def test_name_written_given_name_first(levels):
    found = levels(family_name="Hương", middle_name="Nguyễn", given_name="Thị")
    assert {found["family_f"], found["middle_f"], found["given_f"]} == {"Same name words in another order"}


def test_swapped_day_and_month(levels):
    assert levels(birth_date="1985-09-04")["birth_date"] == "Day and month swapped"


def test_partial_dates_agree_as_far_as_known(levels):
    assert levels(birth_date="1985-04")["birth_date"] == "Same year and month (day differs or unknown)"
    assert levels(birth_date="1985")["birth_date"] == "Same year"
    assert levels(birth_date="1985-04-10")["birth_date"] == "Same year and month (day differs or unknown)"
    assert levels(birth_date="")["birth_date"] == "Date of birth unknown"


def test_birth_year_off_by_one(levels):
    assert levels(birth_date="1986-04-09")["birth_date"] == "Same day and month, year off by one"
    assert levels(birth_date="1987-04-09")["birth_date"] == "All other comparisons"


def test_pin_with_one_wrong_or_two_swapped_digits(levels):
    assert levels(pin="079185001235")["pin"] == "Damerau-Levenshtein distance of pin <= 1"
    assert levels(pin="079185002134")["pin"] == "Damerau-Levenshtein distance of pin <= 1"
    assert levels(pin="079185009934")["pin"] == "All other comparisons"


def test_a_pre_2025_address_matches_its_successor(session, levels):
    # legacy:26740 (Phường Bến Nghé, Quận 1) is today's Phường Sài Gòn
    assert levels(permanent_unit="legacy:26740")["commune"] == "Exact match on commune"
    other_ward_same_city = levels(permanent_unit="legacy:26743")
    assert other_ward_same_city["commune"] == "Exact match on province"


def test_a_record_naming_the_other_as_a_parent_is_another_person(levels):
    assert levels(mother_record_id="1")["relatives"] == "One names the other as father, mother or spouse"
    assert levels(father_record_id="77")["relatives"] == "All other comparisons"
    assert levels()["relatives"] == "No relatives recorded"
