import datetime as dt
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from dancu.registry.dates import PartialDate
from dancu.registry.models import PlaceStatus, Sex, VitalStatus
from dancu.registry.pin import make_pin
from dancu.registry.quality import RULES, QualityStatus, row_issues

TODAY = dt.date(2026, 11, 23)


def person(**overrides):
    values = dict(
        id=1, pin=make_pin("079", 1990, Sex.MALE, 1), family_name="Nguyễn", given_name="An", birth_year=1990,
        birth_month=5, birth_day=17, sex=Sex.MALE, ethnicity_code=1, birth_place_status=PlaceStatus.KNOWN,
        birth_registration_unit_id=10, hometown_status=PlaceStatus.KNOWN, hometown_unit_id=11,
        status=VitalStatus.ALIVE, status_date=None, home_unit_id=10, quality_issues="",
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def test_a_complete_consistent_record_has_no_issue():
    assert row_issues(person(), TODAY) == []


def test_each_rule_fires_on_its_own_defect():
    cases = {
        "missing_pin": dict(pin=None),
        "missing_name": dict(given_name=""),
        "missing_birth_year": dict(birth_year=None, birth_month=None, birth_day=None, pin=None),
        "missing_sex": dict(sex=None),
        "missing_ethnicity": dict(ethnicity_code=None),
        "missing_birth_place": dict(birth_registration_unit_id=None),
        "missing_hometown": dict(hometown_unit_id=None),
        "invalid_pin": dict(pin="12345"),
        "pin_birth_year_mismatch": dict(birth_year=1991),
        "pin_sex_mismatch": dict(sex=Sex.FEMALE),
        "impossible_birth_date": dict(birth_month=2, birth_day=30),
        "birth_in_future": dict(birth_year=2027, pin=None),
        "implausible_age": dict(birth_year=1890, pin=None),
        "death_before_birth": dict(status=VitalStatus.DECEASED, status_date=dt.date(1980, 1, 1)),
        "deceased_without_date": dict(status=VitalStatus.DECEASED, status_date=None),
    }
    for rule, overrides in cases.items():
        assert rule in row_issues(person(**overrides), TODAY), rule
        assert rule in RULES


def test_unknown_birthplace_and_hometown_are_answers_not_gaps():
    naturalized = person(birth_place_status=PlaceStatus.ABROAD, birth_registration_unit_id=None,
                         hometown_status=PlaceStatus.UNKNOWN, hometown_unit_id=None)
    assert row_issues(naturalized, TODAY) == []


def test_partial_birth_dates_are_accepted():
    assert row_issues(person(birth_month=None, birth_day=None), TODAY) == []
    assert row_issues(person(birth_day=None), TODAY) == []


def test_status_maps_issues_to_dimensions():
    status = QualityStatus.from_column("missing_pin,duplicate_pin")
    assert status.as_dict() == {"correct": True, "sufficient": False, "clean": False, "live": True}
    assert status.failing("clean") == ["duplicate_pin"]


@given(st.integers(1, 9999), st.one_of(st.none(), st.integers(-2, 14)), st.one_of(st.none(), st.integers(-1, 33)))
def test_partial_date_is_possible_iff_it_parses(year, month, day):
    date = PartialDate(year, month, day)
    text = date.iso() if date.impossibility() is None else None
    if text is not None and year >= 1000:
        assert PartialDate.parse(text) == date
    if date.impossibility() is None and month is not None:
        assert date.earliest() <= date.latest()


@given(st.builds(lambda y, m, d: (y, m, d), st.integers(1900, 2100), st.integers(1, 12), st.integers(1, 31)))
def test_row_issues_never_crash(ymd):
    year, month, day = ymd
    row_issues(person(birth_year=year, birth_month=month, birth_day=day), TODAY)
