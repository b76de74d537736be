"""The scope rule is decided on a state no concurrent change can alter.

A change first locks the person, then checks the action's rule: a ward
registrar whose correction waits behind a move out of the ward decides on the
moved record and finds it outside their area (as missing), instead of changing
once more a person who has already left.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from dancu import db
from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.registry import services
from dancu.registry.models import Person
from dancu.registry.schemas import CorrectionInput, PermanentResidenceInput


def test_a_person_moving_out_of_the_ward_is_not_changed_by_the_ward_left(session, registrar, make_person, communes):
    person_id = make_person(unit=communes[0])
    ward = Actor("ward", Role.REGISTRAR, scope_unit_id=communes[0].id)
    move_holds_the_lock = threading.Event()
    outcome: dict[str, object] = {}

    def move_out() -> None:
        with db.new_session() as s:
            services.move_permanent_residence(s, registrar, person_id, PermanentResidenceInput(
                unit_id=communes[1].id, address_line="5 Nguyễn Huệ", relationship_to_head="head",
                effective_on=dt.date(2024, 3, 1)))
            move_holds_the_lock.set()
            time.sleep(1.0)  # the ward's correction arrives while the move is not committed yet
            s.commit()

    def correct_from_the_ward() -> None:
        move_holds_the_lock.wait()
        with db.new_session() as s:
            try:
                services.correct_person(s, ward, person_id, CorrectionInput(given_name="Bình", reason="sai tên"))
                s.commit()
                outcome["ward"] = "changed"
            except Exception as error:  # noqa: BLE001 - the outcome is asserted below, whatever it is
                outcome["ward"] = error

    threads = [threading.Thread(target=move_out), threading.Thread(target=correct_from_the_ward)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert isinstance(outcome["ward"], services.PersonNotFound), outcome
    session.expire_all()
    person = session.get(Person, person_id)
    assert person.given_name == "An" and person.home_unit_id == communes[1].id
