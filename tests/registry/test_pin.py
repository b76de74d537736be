import pytest
from hypothesis import given
from hypothesis import strategies as st

from dancu.registry.models import Sex
from dancu.registry.pin import (
    PROVINCE_CODES,
    InvalidPin,
    make_pin,
    parse_pin,
    pin_mismatches,
)

provinces = st.sampled_from(sorted(PROVINCE_CODES))
years = st.integers(min_value=1900, max_value=2399)
sexes = st.sampled_from([Sex.MALE, Sex.FEMALE])
serials = st.integers(min_value=0, max_value=999_999)


@given(provinces, years, sexes, serials)
def test_make_then_parse_round_trips(province, year, sex, serial):
    pin = make_pin(province, year, sex, serial)
    assert len(pin) == 12 and pin.isdigit()
    parts = parse_pin(pin)
    assert parts.province_code == province
    assert parts.birth_year_candidates() == year
    assert parts.sex is sex
    assert int(parts.serial) == serial
    assert pin_mismatches(pin, year, sex) == []


@given(provinces, years, sexes, serials, years)
def test_a_different_birth_year_is_a_mismatch_not_a_crash(province, year, sex, serial, other_year):
    pin = make_pin(province, year, sex, serial)
    problems = pin_mismatches(pin, other_year, sex)
    assert (problems != []) == (other_year != year)


@given(provinces, years, sexes, serials)
def test_the_other_sex_is_a_mismatch(province, year, sex, serial):
    pin = make_pin(province, year, sex, serial)
    other = Sex.FEMALE if sex is Sex.MALE else Sex.MALE
    assert any("sex" in p for p in pin_mismatches(pin, year, other))


def test_known_examples():
    # A man born 1990 whose birth was registered in Ho Chi Minh City (079).
    assert make_pin("079", 1990, Sex.MALE, 123) == "079090000123"
    # A woman born 2005 registered in Hà Nội (001): century digit 3.
    assert make_pin("001", 2005, Sex.FEMALE, 42) == "001305000042"
    parts = parse_pin("001305000042")
    assert (parts.birth_year_candidates(), parts.sex) == (2005, Sex.FEMALE)


@pytest.mark.parametrize(
    ("pin", "reason"),
    [("07909000012", "12 digits"), ("0790900001234", "12 digits"), ("07909000012a", "12 digits"),
     ("003090000123", "province"), ("099090000123", "province"), ("０７９０９０００００１２", "12 digits")],
)
def test_invalid_numbers_are_refused_with_a_reason(pin, reason):
    with pytest.raises(InvalidPin, match=reason):
        parse_pin(pin)


@given(st.text(max_size=14))
def test_parse_never_raises_anything_but_invalid_pin(text):
    try:
        parse_pin(text)
    except InvalidPin:
        pass
