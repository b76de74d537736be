import datetime as dt

import pytest
from sqlalchemy import select, text

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, PermissionDenied
from dancu.audit.models import AccessLogEntry
from dancu.audit.services import PurposeRequired
from dancu.registry import quality, services
from dancu.registry.models import Person, PlaceStatus, Sex
from dancu.registry.pin import make_pin
from dancu.registry.schemas import (
    BirthRegistration,
    CorrectionInput,
    DeathInput,
    PermanentResidenceInput,
    PersonQuery,
    PersonRegistration,
    TemporaryResidenceInput,
)

PURPOSE = "kiểm tra hồ sơ cư trú"


def test_search_finds_a_name_with_or_without_diacritics(session, registrar, make_person):
    wanted = make_person("Nguyễn Văn An", pin=make_pin("079", 1990, Sex.MALE, 777))
    make_person("Trần Thị Bình", sex=Sex.FEMALE)
    make_person("Nguyễn Văn Anh")
    for text_query in ("nguyen van an", "Nguyễn Văn An", "NGUYEN VAN AN", "nguyễn văn an"):
        page = services.search_persons(session, registrar, PersonQuery(text=text_query), PURPOSE)
        assert page.items[0].id == wanted, text_query
        assert "Trần Thị Bình" not in [i.full_name for i in page.items]
    by_pin = services.search_persons(session, registrar, PersonQuery(text="079090000777"), PURPOSE)
    assert [i.id for i in by_pin.items] == [wanted]


def test_search_takes_exact_and_longer_names_and_near_misses_when_nobody_matches(
        session, registrar, make_person, is_postgres):
    an = make_person("Nguyễn Văn An")
    an_khang = make_person("Nguyễn Văn An Khang")
    hung = make_person("Nguyễn Văn Hùng")
    page = services.search_persons(session, registrar, PersonQuery(text="nguyen van an"), PURPOSE)
    assert [i.id for i in page.items][:2] == [an, an_khang] and hung not in [i.id for i in page.items]
    if is_postgres:
        # Nobody is called "Hunq": trigram similarity finds the near miss.
        typo = services.search_persons(session, registrar, PersonQuery(text="nguyen van hunq"), PURPOSE)
        assert typo.items[0].id == hung
        assert services.search_persons(session, registrar, PersonQuery(text="50%_x"), PURPOSE).total == 0


@pytest.mark.postgres_only
def test_python_fold_equals_the_database_fold(session, is_postgres):
    if not is_postgres:
        pytest.skip("dancu_fold exists on PostgreSQL only")
    from dancu.text import fold

    samples = ["Nguyễn Văn Ân", "ĐẶNG THỊ  Ánh", " Huỳnh Ngọc Đoan Trang ", "Lò Văn Pá", "H'Hen Niê",
               "Ksor Y Đức", "Bùi Thị Hương Giang", "Phạm   Quỳnh\tAnh", "Ưng Hoàng Phúc", "Ông Ích Khiêm"]
    for sample in samples:
        assert session.scalar(text("SELECT dancu_fold(:s)"), {"s": sample}) == fold(sample), sample


def test_search_filters_by_birth_date_and_pages(session, registrar, make_person):
    for i in range(5):
        make_person("Lê Văn Cường", birth=f"19{60 + i}-01-02")
    page = services.search_persons(session, registrar, PersonQuery(text="le van cuong", birth_date="1962"), PURPOSE)
    assert page.total == 1 and page.items[0].birth_date == "02/01/1962"
    first = services.search_persons(session, registrar, PersonQuery(text="le van cuong", page_size=2), PURPOSE)
    third = services.search_persons(session, registrar, PersonQuery(text="le van cuong", page_size=2, page=3), PURPOSE)
    assert first.total == 5 and first.pages == 3 and len(third.items) == 1


def test_every_read_is_logged_with_its_purpose(session, registrar, make_person):
    person_id = make_person()
    services.get_person(session, registrar, person_id, PURPOSE)
    services.search_persons(session, registrar, PersonQuery(text="nguyen van an"), "tra cứu hộ tịch")
    session.commit()
    entries = session.scalars(select(AccessLogEntry).where(AccessLogEntry.subject_id == str(person_id))).all()
    assert [(e.action, e.purpose, e.actor) for e in entries] == [
        ("read", PURPOSE, "registrar"), ("search_hit", "tra cứu hộ tịch", "registrar")]
    with pytest.raises(PurposeRequired):
        services.get_person(session, registrar, person_id, "  ")


def test_naturalized_and_born_abroad_people_are_registrable(session, registrar):
    person_id = services.register_person(session, registrar, PersonRegistration(
        family_name="Trần", given_name="Sophie", birth_date="1985", sex=Sex.FEMALE, nationalities=["VN", "FR"],
        citizenship_basis="naturalization", naturalized_on=dt.date(2019, 4, 2), birth_place_status=PlaceStatus.ABROAD,
        birth_country="FR", hometown_status=PlaceStatus.UNKNOWN, ethnicity_code=1,
    ))
    detail = services.get_person(session, registrar, person_id, PURPOSE)
    assert detail.birth_place_status is PlaceStatus.ABROAD and detail.hometown_status is PlaceStatus.UNKNOWN
    assert detail.nationalities == ["VN", "FR"] and detail.birth_date == "1985"
    assert not {"missing_birth_place", "missing_hometown"} & set(detail.quality.issues)
    with pytest.raises(ValueError, match="hometown"):
        PersonRegistration(given_name="X", birth_date="1990", sex=Sex.MALE, birth_place_status=PlaceStatus.UNKNOWN)


def test_birth_registration_joins_the_mother_household_and_shows_in_the_timeline(session, registrar, make_person,
                                                                                 communes):
    father = make_person("Phạm Văn Đức", birth="1988-03-01")
    household = session.get(Person, father).residences[0].household_id
    mother = make_person("Võ Thị Hoa", birth="1991-07-09", sex=Sex.FEMALE, household_id=household,
                         relationship="spouse")
    child_id = services.register_birth(session, registrar, BirthRegistration(
        family_name="Phạm", middle_name="Minh", given_name="Khôi", birth_date=dt.date(2026, 10, 1), sex=Sex.MALE,
        birth_registration_unit_id=communes[0].id, mother_id=mother, father_id=father,
        registered_on=dt.date(2026, 10, 15),
    ))
    session.commit()
    child = services.get_person(session, registrar, child_id, PURPOSE)
    assert child.pin.startswith("0792") and child.pin[4:6] == "26"
    assert [e.kind for e in child.events] == ["permanent_residence_registered", "birth_registered"]
    assert child.household.id == household
    assert {m.relationship_to_head for m in child.household.members} == {"head", "spouse", "child"}
    assert {r.relation for r in child.relatives} == {"father", "mother"}
    assert child.hometown_unit_id == communes[0].id
    with pytest.raises(ValueError, match="too young"):
        services.register_birth(session, registrar, BirthRegistration(
            family_name="Phạm", given_name="Lan", birth_date=dt.date(2000, 1, 1), sex=Sex.FEMALE,
            birth_registration_unit_id=communes[0].id, mother_id=child_id))


def test_move_and_history_as_of_a_past_date(session, registrar, make_person, communes):
    person_id = make_person("Hoàng Văn Sơn", unit=communes[0])
    services.move_permanent_residence(session, registrar, person_id, PermanentResidenceInput(
        unit_id=communes[1].id, address_line="45 Hai Bà Trưng", effective_on=dt.date(2024, 6, 1)))
    services.correct_person(session, registrar, person_id, CorrectionInput(given_name="Sơn Tùng",
                                                                           reason="sai chính tả khi nhập"))
    session.commit()
    now = services.get_person(session, registrar, person_id, PURPOSE)
    assert now.home_unit_id == communes[1].id and now.full_name == "Hoàng Văn Sơn Tùng"
    assert [r.valid_to for r in now.residences if r.unit_id == communes[0].id] == [dt.date(2024, 6, 1)]
    before = services.get_person(session, registrar, person_id, PURPOSE, as_of=dt.date(2023, 1, 1))
    assert before.home_unit_id == communes[0].id and before.full_name == "Hoàng Văn Sơn"
    assert [r.unit_id for r in before.residences] == [communes[0].id] and before.residences[0].valid_to is None
    with pytest.raises(ValueError, match="use 'move'"):
        services.register_permanent_residence(session, registrar, person_id, PermanentResidenceInput(
            unit_id=communes[2].id, address_line="1 Lý Thường Kiệt"))


def test_death_closes_residence_and_is_undone_by_as_of(session, registrar, make_person):
    person_id = make_person("Đỗ Văn Tám", birth="1940")
    services.record_death(session, registrar, person_id, DeathInput(date_of_death=dt.date(2025, 3, 3)))
    session.commit()
    detail = services.get_person(session, registrar, person_id, PURPOSE)
    assert detail.status.value == "deceased" and all(r.valid_to for r in detail.residences)
    assert services.get_person(session, registrar, person_id, PURPOSE, dt.date(2025, 1, 1)).status.value == "alive"
    with pytest.raises(ValueError, match="deceased"):
        services.record_death(session, registrar, person_id, DeathInput(date_of_death=dt.date(2025, 3, 4)))


def test_temporary_residence_needs_a_valid_term(session, registrar, make_person, communes):
    person_id = make_person(unit=communes[0])
    with pytest.raises(ValueError, match="two years"):
        TemporaryResidenceInput(unit_id=communes[1].id, address_line="x", valid_from=dt.date(2026, 1, 1),
                                expires_on=dt.date(2029, 1, 1))
    services.register_temporary_residence(session, registrar, person_id, TemporaryResidenceInput(
        unit_id=communes[1].id, address_line="Phòng 3, 8 Cộng Hòa", valid_from=dt.date(2026, 1, 1),
        expires_on=dt.date(2027, 1, 1)))
    session.commit()
    kinds = [r.kind for r in services.get_person(session, registrar, person_id, PURPOSE).residences]
    assert kinds == ["temporary", "permanent"]


def test_sensitive_fields_are_encrypted_at_rest(session, registrar, make_person):
    person_id = make_person(religion="Phật giáo")
    services.correct_person(session, registrar, person_id, CorrectionInput(religion="Công giáo", reason="khai lại"))
    session.commit()
    stored = session.execute(text("SELECT religion FROM person WHERE id = :i"), {"i": person_id}).scalar_one()
    assert "giáo" not in stored
    changes = session.execute(text("SELECT changes FROM registry_event WHERE kind = 'data_corrected'")).scalar_one()
    assert "giáo" not in str(changes)
    detail = services.get_person(session, registrar, person_id, PURPOSE)
    assert detail.religion == "Công giáo"
    assert detail.events[0].changes["religion"] == ["Phật giáo", "Công giáo"]


def test_a_commune_registrar_sees_only_their_commune(session, registrar, make_person, communes):
    inside = make_person("Ngô Văn Một", unit=communes[0])
    outside = make_person("Ngô Văn Hai", unit=communes[1])
    scoped = Actor("commune-registrar", Role.REGISTRAR, scope_unit_id=communes[0].id)
    page = services.search_persons(session, scoped, PersonQuery(text="ngo van"), PURPOSE)
    assert [i.id for i in page.items] == [inside]
    # Outside the area reads exactly as missing: no existence oracle.
    with pytest.raises(services.PersonNotFound, match=f"^no person with id {outside}$"):
        services.get_person(session, scoped, outside, PURPOSE)
    auditor = Actor("auditor", Role.AUDITOR)
    with pytest.raises(PermissionDenied):
        services.record_death(session, auditor, inside, DeathInput(date_of_death=dt.date(2025, 1, 1)))


def _issues(session, person_id: int) -> str:
    """The stored findings, read from the database (recompute writes them with a Core UPDATE)."""
    return session.scalar(select(Person.quality_issues).where(Person.id == person_id))


def test_recomputing_one_holder_of_a_shared_pin_flags_the_other(session, registrar, make_person):
    first = make_person("Bùi Văn Năm", birth="1980-01-01")
    second = make_person("Bùi Văn Nam", birth="1980-03-01")
    pin = make_pin("079", 1980, Sex.MALE, 5)
    session.get(Person, first).pin = pin
    quality.recompute(session, [first])
    session.get(Person, second).pin = pin
    quality.recompute(session, [second])
    session.commit()
    assert "duplicate_pin" in _issues(session, first)
    assert "duplicate_pin" in _issues(session, second)


def test_a_correction_clears_the_findings_it_ends_for_others(session, registrar, make_person):
    first = make_person("Bùi Văn Năm", birth="1980-01-01")
    second = make_person("Bùi Văn Nam", birth="1980-03-01")
    child = make_person("Bùi Văn Con", birth="1978-01-01")
    pin = make_pin("079", 1980, Sex.MALE, 5)
    session.get(Person, first).pin = session.get(Person, second).pin = pin
    services.correct_person(session, registrar, child, CorrectionInput(father_id=first, reason="liên kết cha"))
    quality.recompute(session, [first])
    assert "duplicate_pin" in _issues(session, second)
    assert "child_older_than_parent" in _issues(session, first)

    services.correct_person(session, registrar, first, CorrectionInput(pin=make_pin("079", 1980, Sex.MALE, 6),
                                                                       reason="số định danh khai nhầm"))
    services.correct_person(session, registrar, child, CorrectionInput(father_id=second, reason="cha khác"))
    session.commit()
    assert "duplicate_pin" not in _issues(session, second)
    assert "child_older_than_parent" not in _issues(session, first)
    assert "child_older_than_parent" in _issues(session, second)


def test_cross_record_quality_rules(session, registrar, make_person):
    first = make_person("Bùi Văn Năm", birth="1980-01-01")
    second = make_person("Bùi Văn Nam", birth="1981-01-01")
    pin = make_pin("079", 1980, Sex.MALE, 5)
    session.get(Person, first).pin = pin
    session.get(Person, second).pin = pin
    child = make_person("Bùi Văn Con", birth="1978-01-01")
    services.correct_person(session, registrar, child, CorrectionInput(father_id=first, reason="liên kết cha"))
    quality.recompute(session)
    session.commit()
    assert "duplicate_pin" in session.get(Person, second).quality_issues
    assert "child_older_than_parent" in session.get(Person, child).quality_issues
    report = services.quality_report(session, registrar, "79")
    assert report.persons == 3 and report.rule_totals["duplicate_pin"] == 2
