import pytest

from dancu.accounts.services import PermissionDenied
from dancu.identity.cards import services as cards
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.identity.cards.schemas import ApplicationFilter, ApplicationInput


def test_office_application_goes_from_capture_to_an_active_card_that_verifies(session, approver, make_person,
                                                                               issue_card):
    person_id = make_person()
    application_id = issue_card(person_id)
    view = cards.get_application(session, approver, application_id, "test")
    assert view.status == "activated"
    assert view.card.status == "active"
    assert view.biometrics_fingers == ["right_thumb", "right_index", "left_thumb", "left_index"]
    chip_data, qr_text = cards.chip_data(session, approver, application_id, "test")
    for data in (chip_data, qr_text):
        result = cards.verify(session, data)
        assert result.valid, result.problems
        assert result.document_number == view.card.document_number
        assert result.holder["name"] == "Nguyễn Văn An"


def test_a_ward_registrar_takes_applications_but_cannot_approve(session, clerk, commune, make_person):
    person_id = make_person()
    application_id = cards.create_application(session, clerk, ApplicationInput(person_id=person_id, kind="first",
                                                                              unit_id=commune.id))
    cards.capture_biometrics(session, clerk, application_id, SimulatedCaptureDevice())
    with pytest.raises(PermissionDenied):
        cards.decide(session, clerk, application_id, approve=True)


def test_a_first_card_twice_and_an_early_renewal_are_refused(session, approver, commune, make_person, issue_card):
    person_id = make_person(birth="1990-05-17")
    issue_card(person_id)
    with pytest.raises(cards.CardError, match="already had a card"):
        cards.create_application(session, approver, ApplicationInput(person_id=person_id, kind="first",
                                                                     unit_id=commune.id))
    with pytest.raises(cards.CardError, match="renewal for age opens"):
        cards.create_application(session, approver, ApplicationInput(person_id=person_id, kind="renewal",
                                                                     unit_id=commune.id))


def test_applications_list_filters_and_pages(session, approver, commune, make_person):
    ids = [cards.create_application(session, approver, ApplicationInput(
        person_id=make_person(full_name=f"Trần Văn Số{i}", birth=f"19{80 + i}-01-0{1 + i}"), kind="first",
        unit_id=commune.id)) for i in range(5)]
    page = cards.list_applications(session, approver, ApplicationFilter(status="submitted", page_size=2, page=2))
    assert page.total == 5 and page.pages == 3
    assert [a.id for a in page.items] == sorted(ids, reverse=True)[2:4]
    assert cards.list_applications(session, approver, ApplicationFilter(status="approved")).total == 0


def test_every_step_is_in_the_history_with_who_did_it(session, approver, make_person, issue_card):
    person_id = make_person()
    first = issue_card(person_id)
    document = cards.get_application(session, approver, first, "test").card.document_number
    cards.report_loss(session, approver, document, note="mất ví")
    view = cards.get_application(session, approver, first, "test")
    assert [e.action for e in view.events] == ["created", "captured", "approved", "produced", "delivered",
                                               "activated", "lost"]
    assert {e.actor for e in view.events} == {"canbo.tp"}
    assert view.events[-1].note == "mất ví"
