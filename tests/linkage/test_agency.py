"""Linking agency data sets (with a column mapping) to the register, and reconciling them."""

import csv
import json

import pytest
from sqlalchemy import select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, PermissionDenied
from dancu.audit.models import AccessLogEntry
from dancu.linkage import agency
from dancu.linkage.schemas import LinkageOptions
from dancu.registry import merge, synthetic
from dancu.registry.bulk import import_file
from dancu.registry.models import Person

ADMIN = Actor("linker", Role.ADMIN)
AUDITOR = Actor("kiemtra", Role.AUDITOR)
QUICK = LinkageOptions(threads=1, u_sample_pairs=2e5)
HEALTH_MAPPING = {"so_the": "record_id", "ho_ten": "full_name", "ngay_sinh": "birth_date", "gioi_tinh": "sex",
                  "ma_xa": "permanent_unit", "cccd": "pin"}
IN_REGISTER, OUTSIDERS, WRONG_BIRTH = 60, 20, 10


def _dmy(iso: str) -> str:
    parts = iso.split("-")
    return "/".join(reversed(parts))


@pytest.fixture
def health_insurance(session, write_city, tmp_path):
    """The register (a generated city) and a health-insurance file in the agency's own columns: members
    who are in the register (some with another date of birth) and members who are not."""
    path, _truth = write_city(500, seed=31, errors=0.1)
    import_file(path, progress=False)
    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["birth_date"].count("-") == 2 and r["pin"]]
    person_of = {ref.rsplit("/", 1)[1]: pid for pid, ref in session.execute(select(Person.id, Person.source_ref))}
    city, _elsewhere = synthetic.communes_from_db(session, "79")
    outsiders = [r.row for r in synthetic.generate(OUTSIDERS, 977, "79", 0.0, communes=city)][:OUTSIDERS]
    members, expected = [], {}
    for number, row in enumerate(rows[:IN_REGISTER] + outsiders):
        birth = row["birth_date"]
        if number < WRONG_BIRTH:
            year, month, day = birth.split("-")
            birth = f"{int(year) - 3}-{month}-{day}"
        members.append({"so_the": f"HS{number:05d}", "ho_ten": row["full_name"] or " ".join(
            p for p in (row["family_name"], row["middle_name"], row["given_name"]) if p),
            "ngay_sinh": _dmy(birth), "gioi_tinh": {"M": "Nam", "F": "Nữ"}.get(row["sex"], ""),
            "ma_xa": row["permanent_unit"], "cccd": row["pin"] if number < IN_REGISTER else ""})
        if number < IN_REGISTER:
            expected[f"HS{number:05d}"] = person_of[row["record_id"]]
    out = tmp_path / "bhyt.jsonl"
    out.write_text("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in members), encoding="utf-8")
    return out, expected


def test_health_insurance_is_linked_and_reconciled(session, health_insurance):
    path, expected = health_insurance
    info = agency.link_dataset(session, ADMIN, path=path, kind="health_insurance", name="BHXH 2026",
                               mapping=HEALTH_MAPPING, purpose="reconcile health insurance", options=QUICK)
    assert info.records == IN_REGISTER + OUTSIDERS and info.mapping == HEALTH_MAPPING

    report = agency.reconcile(session, AUDITOR, info.id, "reconciliation review", page_size=None)
    by_record = {row.record_id: row for row in report.items}
    correct = sum(by_record[r].person_id == p for r, p in expected.items())
    assert correct >= 0.95 * IN_REGISTER
    outsiders = [row for row in report.items if row.record_id not in expected]
    assert sum(row.status == "unmatched" for row in outsiders) >= 0.9 * OUTSIDERS
    # the changed dates of birth are reported as conflicts, agency value first
    wrong = [by_record[f"HS{n:05d}"] for n in range(WRONG_BIRTH)]
    assert sum(row.status == "conflicting" and "birth_date" in row.conflicts for row in wrong) >= WRONG_BIRTH - 1
    assert info.conflicting >= WRONG_BIRTH - 1 and info.matched + info.unmatched == info.records

    only_conflicts = agency.reconcile(session, AUDITOR, info.id, "reconciliation review", status="conflicting")
    assert only_conflicts.total == info.conflicting
    assert all(row.status == "conflicting" for row in only_conflicts.items)
    lines = list(csv.DictReader(agency.reconciliation_csv(report).splitlines()))
    assert len(lines) == info.records
    conflict = next(line for line in lines if line["birth_date_agency"])
    assert conflict["status"] == "conflicting" and conflict["birth_date_register"] != conflict["birth_date_agency"]
    assert session.scalars(select(AccessLogEntry.purpose).where(AccessLogEntry.action == "linkage.reconcile")).all()

    # a person's page lists the agency records linked to it, and so does the record it absorbed
    person_id = by_record["HS00000"].person_id
    links = agency.links_of_person(session, ADMIN, person_id, "person page")
    assert [(link.kind, link.record_id) for link in links.links] == [("health_insurance", "HS00000")]
    other = next(p for p in session.scalars(select(Person.id)) if p not in {r.person_id for r in report.items})
    merge.merge_persons(session, ADMIN, other, person_id, "test of links after a merge")
    session.commit()
    survivor = agency.links_of_person(session, ADMIN, person_id, "person page")
    assert survivor.person_id == other and [link.record_id for link in survivor.links] == ["HS00000"]
    assert [(m.retired_id, m.undone_at) for m in survivor.merged] == [(person_id, None)]
    assert survivor.merged[0].full_name == session.get(Person, person_id).full_name


def test_mapping_errors_are_clear(tmp_path):
    assert agency.parse_mapping(["ho_ten=full_name", "so=record_id"]) == {"ho_ten": "full_name", "so": "record_id"}
    with pytest.raises(agency.AgencyError, match="unknown field"):
        agency.check_mapping(agency.parse_mapping(["ho_ten=name", "so=record_id"]))
    with pytest.raises(agency.AgencyError, match="record_id"):
        agency.check_mapping(agency.parse_mapping(["ho_ten=full_name"]))
    with pytest.raises(agency.AgencyError, match="agency_column=field"):
        agency.parse_mapping(["ho_ten"])
    path = tmp_path / "land.csv"
    path.write_text("so_thua,chu_so_huu\n1,Nguyễn Văn An\n")
    with pytest.raises(agency.AgencyError, match="no column ngay"):
        agency.mapped_rows(path, {"so_thua": "record_id", "chu_so_huu": "full_name", "ngay": "birth_date"})
    rows = agency.mapped_rows(path, {"so_thua": "record_id", "chu_so_huu": "full_name"})
    assert rows == [{"record_id": "1", "full_name": "Nguyễn Văn An", "birth_date": "", "sex": "", "pin": ""}]
    mapping_file = tmp_path / "map.json"
    mapping_file.write_text('{"so_thua": "record_id", "chu_so_huu": "full_name"}')
    assert agency.load_mapping(mapping_file) == {"so_thua": "record_id", "chu_so_huu": "full_name"}


@pytest.mark.parametrize(("text", "iso"), [("17/05/1990", "1990-05-17"), ("5/1990", "1990-05"), ("1990", "1990"),
                                           ("1990-05-17", "1990-05-17"), ("31/02/1990", ""), ("không rõ", "")])
def test_agency_dates(text, iso):
    assert agency._birth(text) == iso


def test_only_an_administrator_links(session, tmp_path):
    with pytest.raises(PermissionDenied):
        agency.link_dataset(session, Actor("canbo", Role.REGISTRAR), path=tmp_path / "x.csv", kind="land_parcel",
                            name="x", mapping={}, purpose="linking", options=QUICK)
