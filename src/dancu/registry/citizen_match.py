"""Narrow reads for citizen self-service (e-ID): match what a citizen typed, find a PIN, list children.

Each answers as little as the caller needs (an id, or nothing) and writes the
read to the access log with its purpose, like every other registry read. A
mismatch says nothing about which part differed, so the form cannot be used
to probe the register.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dancu.accounts.services import Actor
from dancu.audit.services import record_access, record_accesses, require_purpose
from dancu.registry.models import Person, VitalStatus
from dancu.registry.policy import READERS, PersonNotFound
from dancu.text import fold


@dataclass(frozen=True)
class Child:
    person_id: int
    pin: str | None
    full_name: str
    birth_date: dt.date | None
    relation: str  # the reader's relation to the child: "father" or "mother"


def _alive_by_pin(session: Session, pin: str) -> Person | None:
    people = session.scalars(select(Person).where(Person.pin == pin, Person.status == VitalStatus.ALIVE)).all()
    # A PIN carried by two living persons is a data-quality finding: no self-service on it.
    return people[0] if len(people) == 1 else None


def match_person(session: Session, actor: Actor, *, pin: str, full_name: str, birth_date: dt.date,
                 purpose: str) -> int | None:
    """The person id when PIN, full name (with or without diacritics) and full date of birth all agree."""
    actor.require(*READERS)
    purpose = require_purpose(purpose)
    person = _alive_by_pin(session, pin)
    if person is None:
        return None
    matched = (
        person.name_folded == fold(" ".join(full_name.split()))
        and (person.birth_year, person.birth_month, person.birth_day) == (birth_date.year, birth_date.month,
                                                                          birth_date.day)
    )
    # Attempts on someone's PIN are logged too: the person sees them in their account.
    record_access(session, actor, "identity_check", "person", person.id, purpose,
                  detail="match" if matched else "no match")
    return person.id if matched else None


def person_id_for_pin(session: Session, actor: Actor, pin: str, purpose: str) -> int:
    actor.require(*READERS)
    purpose = require_purpose(purpose)
    person = _alive_by_pin(session, pin)
    if person is None:
        raise PersonNotFound(f"no living person with PIN {pin}")
    record_access(session, actor, "pin_lookup", "person", person.id, purpose)
    return person.id


def children_of(session: Session, actor: Actor, person_id: int, purpose: str) -> list[Child]:
    """Living persons whose father or mother is ``person_id`` in the register."""
    actor.require(*READERS)
    purpose = require_purpose(purpose)
    rows = session.scalars(
        select(Person).where(or_(Person.father_id == person_id, Person.mother_id == person_id),
                             Person.status == VitalStatus.ALIVE).order_by(Person.birth_year, Person.id)
    ).all()
    children = [
        Child(person_id=p.id, pin=p.pin, full_name=p.full_name,
              birth_date=dt.date(p.birth_year, p.birth_month, p.birth_day)
              if p.birth_year and p.birth_month and p.birth_day else None,
              relation="father" if p.father_id == person_id else "mother")
        for p in rows
    ]
    record_accesses(session, actor, "children_lookup", "person", [c.person_id for c in children], purpose,
                    detail=f"parent={person_id}")
    return children
