import datetime as dt

from dancu.identity.cards import rules

BIRTH = dt.date(2000, 5, 1)


def test_a_card_expires_on_the_next_renewal_age():
    assert rules.card_expiry(BIRTH, dt.date(2015, 1, 1)) == dt.date(2025, 5, 1)
    assert rules.card_expiry(BIRTH, dt.date(2010, 6, 1)) == dt.date(2014, 5, 1)


def test_a_card_issued_within_two_years_of_an_age_lasts_to_the_next_one():
    assert rules.card_expiry(BIRTH, dt.date(2023, 4, 30)) == dt.date(2025, 5, 1)  # a day before the window
    assert rules.card_expiry(BIRTH, dt.date(2023, 5, 1)) == dt.date(2040, 5, 1)  # first day of the window
    assert rules.card_expiry(BIRTH, dt.date(2025, 6, 1)) == dt.date(2040, 5, 1)


def test_from_58_a_card_is_valid_for_life():
    assert rules.card_expiry(BIRTH, dt.date(2058, 4, 30)) == dt.date(2060, 5, 1)
    assert rules.card_expiry(BIRTH, dt.date(2058, 5, 1)) is None
    assert rules.card_expiry(BIRTH, dt.date(2071, 1, 1)) is None
    assert rules.renewal_opens(None) is None


def test_renewal_opens_two_years_before_the_due_date_and_leap_days_fall_on_28_february():
    assert rules.renewal_opens(dt.date(2025, 5, 1)) == dt.date(2023, 5, 1)
    leap = dt.date(2004, 2, 29)
    assert rules.birthday_at(leap, 25) == dt.date(2029, 2, 28)
    assert rules.card_expiry(leap, dt.date(2020, 1, 1)) == dt.date(2029, 2, 28)


def test_children_under_six_give_no_biometrics():
    child = dt.date(2020, 3, 10)
    assert not rules.needs_biometrics(child, dt.date(2026, 3, 9))
    assert rules.needs_biometrics(child, dt.date(2026, 3, 10))
