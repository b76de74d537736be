"""Merges that keep history: redirect of the retired record, undo restores the exact prior state."""

import pytest
from sqlalchemy import or_, select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, PermissionDenied
from dancu.linkage import review, services
from dancu.linkage.schemas import LinkageOptions, PairQuery
from dancu.registry import merge, quality
from dancu.registry import services as registry
from dancu.registry.bulk import import_file
from dancu.registry.models import (
    Household,
    HouseholdMember,
    Person,
    RegistryEvent,
    Residence,
)
from dancu.registry.schemas import CorrectionInput, PersonQuery

ADMIN = Actor("linker", Role.ADMIN)
REGISTRAR = Actor("canbo", Role.REGISTRAR)
QUICK = LinkageOptions(threads=1, u_sample_pairs=2e5)
TABLES = (Person, Residence, HouseholdMember, Household, RegistryEvent)


@pytest.fixture
def register(session, write_city):
    """A generated city with duplicate registrations, imported into the register; (truth pairs as person ids)."""
    path, truth = write_city(500, seed=21, errors=0.25)
    import_file(path, progress=False)
    person_of = {ref.rsplit("/", 1)[1]: pid for pid, ref in session.execute(select(Person.id, Person.source_ref))}
    return {tuple(sorted((person_of[a], person_of[b]))) for a, b in services.truth_pairs(truth)}


def _affected_rows(session, person_ids: set[int]) -> dict:
    """Every row of the persons, of the persons naming them as relatives, and of their residences,
    household memberships, households and events, as plain column values."""
    session.expire_all()
    persons = set(session.scalars(select(Person.id).where(or_(
        Person.id.in_(person_ids), Person.father_id.in_(person_ids), Person.mother_id.in_(person_ids),
        Person.spouse_id.in_(person_ids)))))
    households = set(session.scalars(select(HouseholdMember.household_id).where(
        HouseholdMember.person_id.in_(persons))))
    conditions = {
        Person: Person.id.in_(persons), Residence: Residence.person_id.in_(persons),
        HouseholdMember: HouseholdMember.person_id.in_(persons), Household: Household.id.in_(households),
        RegistryEvent: RegistryEvent.person_id.in_(persons),
    }
    return {model.__tablename__: {row.id: {c.key: getattr(row, c.key) for c in model.__table__.columns}
                                  for row in session.scalars(select(model).where(conditions[model]))}
            for model in TABLES}


def _richest_pair(session, pairs) -> tuple[int, int]:
    """The duplicate pair whose merge touches the most rows: the hardest one to put back."""
    def touched(pair):
        rows = _affected_rows(session, set(pair))
        return sum(len(table) for table in rows.values())
    return max(sorted(pairs), key=touched)


def test_merge_then_undo_restores_the_exact_prior_state(session, register):
    survivor_id, retired_id = _richest_pair(session, register)
    before = _affected_rows(session, {survivor_id, retired_id})
    assert before["residence"] and before["household_member"] and before["registry_event"]

    made = merge.merge_persons(session, REGISTRAR, survivor_id, retired_id, "duplicate registration")
    session.commit()
    merged = _affected_rows(session, {survivor_id, retired_id})
    assert merged["person"][retired_id]["home_unit_id"] is None
    assert all(r["valid_to"] for r in merged["residence"].values() if r["person_id"] == retired_id)
    assert merged != before

    merge.undo_merge(session, REGISTRAR, made.id, "merged by mistake")
    session.commit()
    after = _affected_rows(session, {survivor_id, retired_id})
    for table in ("person", "residence", "household_member", "household"):
        assert after[table] == before[table], [(table, i, k, row[k], after[table][i][k]) for i, row in
                                               before[table].items() for k in row if after[table][i][k] != row[k]]
    # history is kept: the events from before are unchanged, the merge and its undo were added
    assert {i: after["registry_event"][i] for i in before["registry_event"]} == before["registry_event"]
    added = {e["kind"] for i, e in after["registry_event"].items() if i not in before["registry_event"]}
    assert {"records_merged", "merged_into", "merge_undone"} <= added
    assert added <= {"records_merged", "merged_into", "relative_merged", "merge_undone"}
    assert session.get(merge.PersonMerge, made.id).undone_by == "canbo"


def test_the_retired_record_redirects_to_the_survivor(session, register):
    survivor_id, retired_id = min(register)
    retired_pin = session.get(Person, retired_id).pin
    merge.merge_persons(session, REGISTRAR, survivor_id, retired_id, "duplicate registration")
    session.commit()

    person = registry.get_person(session, REGISTRAR, retired_id, "looking up a record")
    assert (person.id, person.redirected_from) == (survivor_id, retired_id)
    assert [e.kind for e in person.events][:1] == ["records_merged"]
    assert person.events[0].changes["merged_person_id"] == [None, retired_id]
    if retired_pin:
        found = registry.search_persons(session, REGISTRAR, PersonQuery(pin=retired_pin), "looking up a PIN")
        assert {merge.survivor_of(session, p.id) for p in found.items} == {survivor_id}
        assert merge.persons_with_pin(session, retired_pin) == [survivor_id]
    assert merge.retired_ids(session) == {retired_id}
    assert merge.retired_record(merge.merges_of(session, survivor_id)[0])["id"] == retired_id
    with pytest.raises(merge.MergeError):
        merge.merge_persons(session, REGISTRAR, retired_id, survivor_id, "again")


def test_a_retired_record_leaves_name_searches_and_quality_counts_until_undone(session, register):
    survivor_id, retired_id = min(register)
    name = session.get(Person, retired_id).full_name
    by_name = PersonQuery(text=name, page_size=100)

    def listed() -> set[int]:
        return {p.id for p in registry.search_persons(session, REGISTRAR, by_name, "looking up a name").items}

    def counted() -> int:
        return registry.quality_report(session, ADMIN, None).persons

    assert retired_id in listed()
    persons = counted()
    made = merge.merge_persons(session, REGISTRAR, survivor_id, retired_id, "duplicate registration")
    session.commit()
    assert retired_id not in listed() and counted() == persons - 1

    merge.undo_merge(session, REGISTRAR, made.id, "merged by mistake")
    session.commit()
    assert retired_id in listed() and counted() == persons


def test_a_merge_leaves_findings_a_full_recompute_agrees_with(session, register):
    survivor_id, retired_id = min(register)
    survivor, retired = session.get(Person, survivor_id), session.get(Person, retired_id)
    retired.pin = retired.pin or survivor.pin
    survivor.pin = None
    quality.recompute(session, [survivor_id, retired_id])
    session.commit()

    merge.merge_persons(session, REGISTRAR, survivor_id, retired_id, "duplicate registration")
    session.commit()
    # the survivor took the retired record's PIN: one person, not a duplicate
    issues = session.scalar(select(Person.quality_issues).where(Person.id == survivor_id))
    assert survivor.pin == retired.pin and "duplicate_pin" not in issues and "missing_pin" not in issues
    assert quality.recompute(session) == 0


def test_undo_is_refused_once_the_records_changed(session, register):
    survivor_id, retired_id = sorted(register)[1]
    made = merge.merge_persons(session, REGISTRAR, survivor_id, retired_id, "duplicate registration")
    registry.correct_person(session, REGISTRAR, survivor_id, CorrectionInput(other_names="Tí", reason="alias"))
    session.commit()
    with pytest.raises(merge.MergeError, match="changed after the merge"):
        merge.undo_merge(session, REGISTRAR, made.id, "merged by mistake")
    with pytest.raises(PermissionDenied):
        merge.undo_merge(session, Actor("kiemtra", Role.AUDITOR), made.id, "merged by mistake")


def test_a_pair_decided_match_is_merged_from_the_review_and_undone(session, register, tmp_path):
    summary = services.run_linkage(session, ADMIN, path=None, purpose="duplicate check of the register",
                                   out_dir=tmp_path, options=QUICK)
    rows = review.list_pairs(session, ADMIN, PairQuery(run_id=summary.run_id, page_size=200)).items
    pair = next(r for r in rows if (int(r.left_record), int(r.right_record)) in register)
    with pytest.raises(review.ReviewError, match="decide"):
        review.merge_pair(session, REGISTRAR, pair.id, None, "duplicate")
    detail = review.get_pair(session, REGISTRAR, pair.id, "clerical review")
    assert detail.of_register and detail.left.person_id == int(pair.left_record)
    review.decide(session, REGISTRAR, pair.id, "match")
    merge_id = review.merge_pair(session, REGISTRAR, pair.id, None, "duplicate registration")
    session.commit()
    detail = review.get_pair(session, REGISTRAR, pair.id, "clerical review")
    assert detail.merge_id == merge_id and detail.right.redirected
    # a new register run leaves the retired record out
    again = services.run_linkage(session, ADMIN, path=None, purpose="duplicate check of the register",
                                 out_dir=tmp_path, options=QUICK)
    assert again.records == summary.records - 1
    review.undo_pair_merge(session, REGISTRAR, pair.id, "merged by mistake")
    session.commit()
    assert review.get_pair(session, REGISTRAR, pair.id, "clerical review").merge_id is None
    assert merge.get_merge(session, merge_id).undone_by == "canbo"
