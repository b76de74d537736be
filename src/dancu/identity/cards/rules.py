"""When a card must be renewed, from the Law on Identification (No. 26/2023/QH15).

- Art. 21(1): a citizen renews the card on turning 14, 25, 40 and 60.
- Art. 21(2): a card issued, renewed or re-issued within the 2 years before one of
  those ages stays valid until the next one (a card issued at 58 or later is valid for life).
- Art. 24(1): renewal also on a change of name or date of birth, of appearance, of sex,
  an error printed on the card, a re-established PIN, or at the holder's request;
  Art. 24(2): re-issue when the card is lost or damaged.
- Children under 6 give no biometrics (face, fingerprints) when a card is made for them.

There is no grace period after the due date: from that day the card is expired.
Partial birth dates (year only, month and year) use the earliest day they allow, so a
card never outlives the age at which the law requires a new one.
"""

from __future__ import annotations

import datetime as dt

RENEWAL_AGES = (14, 25, 40, 60)
EARLY_ISSUE_YEARS = 2
BIOMETRICS_FROM_AGE = 6


def birthday_at(birth: dt.date, age: int) -> dt.date:
    """The day one reaches ``age``; someone born on 29 February turns a year older on 28 February."""
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:
        return dt.date(birth.year + age, 2, 28)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def card_expiry(birth: dt.date, issued_on: dt.date) -> dt.date | None:
    """The day a card issued on ``issued_on`` stops being valid, or None when it is valid for life."""
    for age in RENEWAL_AGES:
        due = birthday_at(birth, age)
        if issued_on < birthday_at(due, -EARLY_ISSUE_YEARS):
            return due
    return None


def renewal_opens(expires_on: dt.date | None) -> dt.date | None:
    """From this day a renewal yields a card valid to the next age (Art. 21(2)); None: never needed."""
    return None if expires_on is None else birthday_at(expires_on, -EARLY_ISSUE_YEARS)


def needs_biometrics(birth: dt.date, day: dt.date) -> bool:
    return age_on(birth, day) >= BIOMETRICS_FROM_AGE
