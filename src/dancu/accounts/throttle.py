"""Login throttling for staff accounts: progressive delays that slow a guesser and never lock the owner out.

A lockout after a fixed number of failures hands anyone who knows a username
the power to shut its owner out, the only administrator included. Instead,
every failed password login is counted under three keys:

- the account (``account:<username>``, from any source),
- the source (``source:<ip>``, against any account: a per-address budget),
- the pair (``pair:<ip>|<username>``: this account from this source).

Each key allows some free failures, then demands a pause before its next
attempt that doubles with every further failure up to a cap, so the delay
never becomes a lock. An attempt refused because it came during a pause counts
as a failure too, so hammering only lengthens the wait. Counters start again once a key has had no failure for
``FORGET_AFTER``.

A source from which the account's owner has logged in before (within
``KNOWN_FOR``) is the owner's usual source: attempts from it answer only to the
pair's counter, so an attacker elsewhere, however busy, cannot slow the owner
down there. Attempts from anywhere else also answer to the account's and the
source's counters.

Unknown usernames are counted like real ones and a throttled attempt is
refused with the same message after the same password-hash work, so neither
the answer nor its timing tells whether an account exists or is throttled.
Rows live in the database (``login_throttle``), so every server process
enforces the same limits; increments are single upserts, so concurrent
failures are all counted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dancu.accounts.models import LoginThrottle


@dataclass(frozen=True)
class Policy:
    free_failures: int
    max_delay: dt.timedelta


ACCOUNT = Policy(free_failures=5, max_delay=dt.timedelta(minutes=5))
PAIR = Policy(free_failures=5, max_delay=dt.timedelta(minutes=5))
# One address may front a whole office (NAT), so it gets a larger budget.
SOURCE = Policy(free_failures=20, max_delay=dt.timedelta(minutes=15))
FIRST_DELAY = dt.timedelta(seconds=1)
FORGET_AFTER = dt.timedelta(hours=1)
KNOWN_FOR = dt.timedelta(days=90)


@dataclass(frozen=True)
class Keys:
    account: str
    source: str
    pair: str


def keys(username: str, source: str) -> Keys:
    username, source = username[:60], source[:60]
    return Keys(account=f"account:{username}", source=f"source:{source}", pair=f"pair:{source}|{username}")


def delay(policy: Policy, failures: int) -> dt.timedelta:
    """The pause demanded after ``failures`` consecutive failures: 0, then 1 s, 2 s, 4 s ... up to the cap."""
    over = failures - policy.free_failures
    if over <= 0:
        return dt.timedelta(0)
    return min(FIRST_DELAY * 2 ** min(over - 1, 30), policy.max_delay)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)


def is_throttled(session: Session, username: str, source: str, now: dt.datetime) -> bool:
    """Whether this attempt must wait; the owner's usual source answers only to its own pair counter."""
    k = keys(username, source)
    rows = {row.key: row for row in session.scalars(
        select(LoginThrottle).where(LoginThrottle.key.in_((k.account, k.source, k.pair))))}

    def waiting(key: str) -> bool:
        row = rows.get(key)
        return row is not None and row.next_attempt_at is not None and _aware(row.next_attempt_at) > now

    pair = rows.get(k.pair)
    known = pair is not None and pair.last_success_at is not None and now - _aware(pair.last_success_at) < KNOWN_FOR
    if known:
        return waiting(k.pair)
    return waiting(k.pair) or waiting(k.account) or waiting(k.source)


def _insert(session: Session):
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(LoginThrottle)


def _count_failure(session: Session, key: str, policy: Policy, now: dt.datetime) -> None:
    stale = or_(LoginThrottle.last_failure_at.is_(None), LoginThrottle.last_failure_at < now - FORGET_AFTER)
    statement = (
        _insert(session)
        .values(key=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(index_elements=[LoginThrottle.key], set_={
            "failures": case((stale, 1), else_=LoginThrottle.failures + 1),
            "last_failure_at": now,
        })
        .returning(LoginThrottle.failures)
    )
    failures = session.execute(statement).scalar_one()
    pause = delay(policy, failures)
    if pause:
        session.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(next_attempt_at=now + pause))


def record_failure(session: Session, username: str, source: str, now: dt.datetime) -> None:
    k = keys(username, source)
    for key, policy in ((k.account, ACCOUNT), (k.source, SOURCE), (k.pair, PAIR)):
        _count_failure(session, key, policy, now)


def record_success(session: Session, username: str, source: str, now: dt.datetime) -> None:
    """Marks the source as the owner's usual one and clears its pair counter.

    The account's and the source's counters stay: a success from the office
    must not reset the delays an attacker has earned elsewhere.
    """
    statement = (
        _insert(session)
        .values(key=keys(username, source).pair, failures=0, last_success_at=now)
        .on_conflict_do_update(index_elements=[LoginThrottle.key], set_={
            "failures": 0, "next_attempt_at": None, "last_success_at": now,
        })
    )
    session.execute(statement)


def clear(session: Session, username: str) -> int:
    """Lifts every delay on the account (its own counter and its pairs); keeps its usual sources.

    Returns the number of counters reset.
    """
    k = keys(username, "")
    result = session.execute(
        update(LoginThrottle)
        .where(or_(LoginThrottle.key == k.account,
                   LoginThrottle.key.startswith("pair:") & LoginThrottle.key.endswith("|" + username[:60],
                                                                                    autoescape=True)))
        .values(failures=0, next_attempt_at=None)
    )
    return result.rowcount
