"""`dancu import` / `dancu export`: validation, idempotency, resumption after SIGKILL, round trip."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from dancu import db
from dancu.cli import app
from dancu.registry import bulk, quality, synthetic
from dancu.registry.models import (
    Household,
    HouseholdMember,
    ImportJob,
    Person,
    RegistryEvent,
    Residence,
    ResidenceKind,
    Sex,
)
from dancu.registry.pin import make_pin
from dancu.units import services as units


@pytest.fixture
def refs(session) -> dict:
    """Unit references: three current communes of Hồ Chí Minh City and one legacy commune."""
    index = units.unit_ref_index(session)
    communes = [c.code for c in units.list_communes(session, "79")[:3]]
    legacy = next(ref for ref in sorted(index) if ref.startswith("legacy:"))
    return {"communes": communes, "legacy": legacy, "legacy_target": index[legacy], "index": index}


def person_row(i: int, commune: str, **extra) -> dict:
    """One valid row of a synthetic household of four: head, spouse and two children."""
    household, role = divmod(i, 4)
    sex = Sex.MALE if role in (0, 2) else Sex.FEMALE
    year = 1960 + household % 30 if role < 2 else 1995 + household % 20
    row = {
        "record_id": f"r{i}", "pin": make_pin("079", year, sex, i % 999_999),
        "family_name": "Nguyễn", "middle_name": "Văn" if sex is Sex.MALE else "Thị", "given_name": f"Ân {i}",
        "birth_date": f"{year}-0{1 + i % 9}-1{i % 9}", "sex": sex.value, "ethnicity_code": "1",
        "birth_registration_unit": commune, "hometown_unit": commune, "permanent_unit": commune,
        "permanent_address": f"{household} Lê Lợi", "permanent_since": "2015-06-01",
        "household_code": f"H{household}", "relationship_to_head": ("head", "spouse", "child", "child")[role],
    }
    if role == 1:
        row["spouse_record_id"] = f"r{i - 1}"
    if role >= 2:
        row["father_record_id"] = f"r{household * 4}"
        row["mother_record_id"] = f"r{household * 4 + 1}"
    row.update(extra)
    return row


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=bulk.COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def count(session, column) -> int:
    return session.scalar(select(func.count(column)))


def test_valid_and_invalid_rows(session, refs, tmp_path):
    commune = refs["communes"][0]
    rows = [person_row(i, commune) for i in range(8)]
    rows[0]["religion"] = "Phật giáo"
    # valid: a PIN that disagrees with the birth year is a quality finding, not a rejection
    rows[3]["pin"] = make_pin("079", 1950, Sex.MALE, 42)
    bad = [
        person_row(100, commune, pin="12345"),
        person_row(101, commune, birth_date="2001-02-30"),
        person_row(102, commune, sex="X"),
        person_row(103, commune, permanent_unit="99999999"),
        person_row(104, commune, ethnicity_code="60"),
        person_row(105, commune, family_name="", middle_name="", given_name="", full_name=""),
    ]
    path = write_csv(tmp_path / "people.csv", rows[:4] + bad + rows[4:])

    report = bulk.import_file(path, progress=False)

    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (14, 8, 6)
    assert report.error_report == tmp_path / "people.errors.csv"
    with report.error_report.open(encoding="utf-8") as handle:
        errors = list(csv.DictReader(handle))
    assert [(e["line"], e["record_id"]) for e in errors] == [
        ("6", "r100"), ("7", "r101"), ("8", "r102"), ("9", "r103"), ("10", "r104"), ("11", "r105")]
    reasons = [e["reason"] for e in errors]
    assert "must be exactly 12 digits" in reasons[0]
    assert "day 30 does not exist in 02/2001" in reasons[1]
    assert "sex 'X'" in reasons[2]
    assert "permanent_unit: unknown unit reference '99999999'" in reasons[3]
    assert "ethnicity_code '60'" in reasons[4]
    assert "name is missing" in reasons[5]
    assert errors[0]["raw"].startswith("r100,12345,Nguyễn")

    assert count(session, Person.id) == 8
    head = session.scalar(select(Person).where(Person.source_ref == "people/r0"))
    assert head.full_name == "Nguyễn Văn Ân 0" and head.name_folded == "nguyen van an 0"
    assert head.religion == "Phật giáo"
    assert head.home_unit_id == refs["index"][commune]
    household = session.scalar(select(Household).where(Household.code == "H0"))
    assert household.head_person_id == head.id
    assert count(session, Household.id) == 2
    assert count(session, HouseholdMember.id) == 8
    residence = session.scalar(select(Residence).where(Residence.person_id == head.id))
    assert residence.kind is ResidenceKind.PERMANENT and residence.household_id == household.id
    assert str(residence.valid_from) == "2015-06-01"
    event = session.scalar(select(RegistryEvent).where(RegistryEvent.person_id == head.id))
    assert (event.kind, event.actor, event.changes) == ("imported", "import:people", {})
    assert residence.event_id == event.id
    child = session.scalar(select(Person).where(Person.source_ref == "people/r2"))
    assert (child.father_id, child.mother_id) == (head.id, session.scalar(
        select(Person.id).where(Person.source_ref == "people/r1")))
    mismatched = session.scalar(select(Person).where(Person.source_ref == "people/r3"))
    assert "pin_birth_year_mismatch" in mismatched.quality_issues


def test_cli_exit_status_and_idempotent_rerun(database_url, session, refs, tmp_path):
    commune = refs["communes"][0]
    path = write_csv(tmp_path / "batch1.csv", [person_row(i, commune) for i in range(6)]
                     + [person_row(6, commune, sex="?")])
    runner = CliRunner()
    first = runner.invoke(app, ["import", str(path), "--quiet", "--batch-size", "4"])
    assert first.exit_code == 1, first.output
    assert "rejected" in first.output

    # The rerun loads nothing, and its exit status still says the file had rejected rows.
    again = runner.invoke(app, ["import", str(path), "--quiet"])
    assert again.exit_code == 1, again.output
    assert "already imported" in again.output and "1 rows of it were rejected" in again.output

    # Another file with overlapping rows of the same source: only the new row lands.
    overlap = write_csv(tmp_path / "batch2.csv", [person_row(i, commune) for i in range(7)])
    report = bulk.import_file(overlap, source="batch1", progress=False, batch_size=3)
    assert (report.rows_loaded, report.rows_skipped_already_present) == (1, 6)
    assert count(session, Person.id) == 7
    assert count(session, Residence.id) == 7
    assert count(session, Household.id) == 2
    assert count(session, RegistryEvent.id) == 7


def test_jsonl_partial_dates_legacy_units(session, refs, tmp_path):
    commune = refs["communes"][1]
    lines = [
        json.dumps(person_row(0, commune, birth_date="1948", permanent_unit=refs["legacy"]), ensure_ascii=False),
        json.dumps(person_row(1, commune, birth_date="1950-03", ethnicity_code=5,
                              temporary_unit=refs["communes"][2], temporary_from="2024-01",
                              temporary_until="2026-12"), ensure_ascii=False),
        "{not json",
        json.dumps(person_row(2, commune, birth_date="1990-13")),
        "",
        json.dumps({"record_id": "x", "colour": "blue"}),
    ]
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = bulk.import_file(path, progress=False)

    assert (report.rows_loaded, report.rows_rejected) == (2, 3)
    with report.error_report.open(encoding="utf-8") as handle:
        errors = {row["line"]: row["reason"] for row in csv.DictReader(handle)}
    assert errors["3"].startswith("malformed JSON")
    assert "month 13 does not exist" in errors["4"]
    assert "unknown keys: colour" in errors["6"]
    first = session.scalar(select(Person).where(Person.source_ref == "people/r0"))
    assert (first.birth_year, first.birth_month, first.birth_day) == (1948, None, None)
    assert first.home_unit_id == refs["legacy_target"]
    second = session.scalar(select(Person).where(Person.source_ref == "people/r1"))
    assert (second.birth_year, second.birth_month, second.birth_day, second.ethnicity_code) == (1950, 3, None, 5)
    temporary = session.scalar(select(Residence).where(Residence.person_id == second.id,
                                                       Residence.kind == ResidenceKind.TEMPORARY))
    assert (str(temporary.valid_from), str(temporary.expires_on)) == ("2024-01-01", "2026-12-31")


def test_parent_links_resolved_across_batches(session, refs, tmp_path):
    commune = refs["communes"][0]
    rows = [person_row(i, commune) for i in range(12)]
    # children first: their parents arrive in later batches
    rows.sort(key=lambda r: r["relationship_to_head"] != "child")
    rows.append(person_row(12, commune, father_record_id="nobody"))
    path = write_csv(tmp_path / "families.csv", rows)

    report = bulk.import_file(path, progress=False, batch_size=2)

    assert report.rows_loaded == 13 and report.links_unresolved == 1
    by_ref = dict(session.execute(select(Person.source_ref, Person.id)).all())
    for household in range(3):
        for child in (household * 4 + 2, household * 4 + 3):
            person = session.get(Person, by_ref[f"families/r{child}"])
            assert person.father_id == by_ref[f"families/r{household * 4}"]
            assert person.mother_id == by_ref[f"families/r{household * 4 + 1}"]
        spouse = session.get(Person, by_ref[f"families/r{household * 4 + 1}"])
        assert spouse.spouse_id == by_ref[f"families/r{household * 4}"]
        code = f"H{household}"
        assert session.scalar(select(Household.head_person_id).where(Household.code == code)) == \
            by_ref[f"families/r{household * 4}"]


def _snapshot(path: Path) -> list[dict]:
    """Rows of an export with the register's ids replaced by something both registers share."""
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = {row["record_id"]: row["given_name"] for row in rows}
    for row in rows:
        for column in ("record_id", "father_record_id", "mother_record_id", "spouse_record_id"):
            row[column] = names.get(row[column], "")
    return sorted(rows, key=lambda row: row["record_id"])


def test_export_import_round_trip(session, refs, tmp_path):
    commune = refs["communes"][0]
    rows = [person_row(i, commune) for i in range(10)]
    rows[0].update(religion="Công giáo", status="deceased", status_date="2020-05-01", birth_date="1940")
    rows[5].update(temporary_unit=refs["communes"][2], temporary_address="5 Hai Bà Trưng",
                   temporary_from="2024-02-01", temporary_until="2027-02-01", nationalities="VN;FR",
                   citizenship_basis="naturalization", naturalized_on="2010-01-01", hometown_status="unknown",
                   hometown_unit="")
    bulk.import_file(write_csv(tmp_path / "origin.csv", rows), progress=False)
    first = tmp_path / "first.csv"
    assert bulk.export_persons(first, progress=False) == 10

    # Load the export into an emptied register and export again: nothing may change.
    for model in (HouseholdMember, Residence, RegistryEvent, Household):
        session.execute(model.__table__.delete())
    session.execute(Person.__table__.update().values(father_id=None, mother_id=None, spouse_id=None))
    session.execute(Person.__table__.delete())
    session.execute(ImportJob.__table__.delete())
    session.commit()
    report = bulk.import_file(first, progress=False)
    assert (report.rows_loaded, report.rows_rejected) == (10, 0)
    second = tmp_path / "second.jsonl"
    assert bulk.export_persons(second, progress=False) == 10
    again = tmp_path / "second.csv"
    bulk.export_persons(again, progress=False)
    assert _snapshot(first) == _snapshot(again)
    jsonl = [json.loads(line) for line in second.read_text(encoding="utf-8").splitlines()]
    deceased = next(row for row in jsonl if row["given_name"] == "Ân 0")
    assert (deceased["religion"], deceased["status_date"], deceased["birth_date"]) == ("Công giáo", "2020-05-01",
                                                                                       "1940")
    unit_id = refs["index"][commune]
    assert bulk.export_persons(tmp_path / "unit.csv", unit_id=unit_id, progress=False) == 10
    assert bulk.export_persons(tmp_path / "none.csv", unit_id=refs["index"][refs["communes"][2]],
                               progress=False) == 0


def test_sigkill_then_resume_loads_every_row_once(database_url, session, refs, tmp_path):
    communes = refs["communes"]
    rows = 60_000
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=bulk.COLUMNS)
        writer.writeheader()
        for i in range(rows):
            writer.writerow(person_row(i, communes[i % 3], **({"sex": "?"} if i % 1000 == 999 else {})))
    rejected = rows // 1000
    command = [sys.executable, "-m", "dancu.cli", "import", str(path), "--batch-size", "2000", "--quiet"]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    lines_done = 0
    while time.monotonic() < deadline and process.poll() is None:
        session.rollback()
        lines_done = session.scalar(select(ImportJob.lines_done)) or 0
        if lines_done >= 10_000:
            break
        time.sleep(0.05)
    assert process.poll() is None, process.stdout.read().decode()
    process.send_signal(signal.SIGKILL)
    process.wait()
    session.rollback()
    partial = count(session, Person.id)
    assert 0 < partial < rows - rejected

    finish = subprocess.run(command, env=os.environ.copy(), capture_output=True, text=True, timeout=600)
    assert finish.returncode == 1, finish.stdout + finish.stderr
    assert "resumed after line" in finish.stdout

    session.rollback()
    assert count(session, Person.id) == rows - rejected
    assert session.scalar(select(func.count(func.distinct(Person.source_ref)))) == rows - rejected
    assert count(session, Residence.id) == rows - rejected
    assert count(session, HouseholdMember.id) == rows - rejected
    assert count(session, RegistryEvent.id) == rows - rejected
    assert count(session, Household.id) == rows // 4
    assert session.scalar(select(func.count()).select_from(Household).where(Household.head_person_id.is_(None))) == 0
    children_without_father = session.scalar(select(func.count()).select_from(Person).where(
        Person.source_ref.like("big/%"), Person.father_id.is_(None),
        Person.id.in_(select(HouseholdMember.person_id).where(HouseholdMember.relationship_to_head == "child"))))
    # each rejected row is a head (i % 4 == 3 is a child; 999 % 4 == 3), so every father is present
    assert children_without_father == 0
    job = session.scalar(select(ImportJob))
    assert job.finished and job.rows_loaded == rows - rejected and job.rows_rejected == rejected
    with (tmp_path / "big.errors.csv").open(encoding="utf-8") as handle:
        reported = [row["record_id"] for row in csv.DictReader(handle)]
    assert sorted(reported) == sorted(f"r{i}" for i in range(999, rows, 1000))
    db.reset_caches()


def test_cli_export_needs_a_purpose_and_logs_the_bulk_read(session, refs, tmp_path):
    from dancu.audit.models import AccessLogEntry

    source = write_csv(tmp_path / "in.csv", [person_row(i, refs["communes"][0]) for i in range(3)])
    assert CliRunner().invoke(app, ["import", str(source), "--quiet"]).exit_code == 0
    out = tmp_path / "out.jsonl"
    refused = CliRunner().invoke(app, ["export", str(out), "--purpose", " ", "--quiet"])
    assert refused.exit_code == 2 and "purpose" in refused.output and not out.exists()
    assert CliRunner().invoke(app, ["export", str(out), "--quiet"]).exit_code == 2  # --purpose is required
    done = CliRunner().invoke(app, ["export", str(out), "--purpose", "sao lưu định kỳ", "--quiet"])
    assert done.exit_code == 0, done.output
    assert len(out.read_text(encoding="utf-8").splitlines()) == 3
    entry = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "export")).one()
    assert (entry.subject_type, entry.subject_id, entry.purpose, entry.detail) == (
        "register", "all", "sao lưu định kỳ", "file=out.jsonl")


def test_import_leaves_the_quality_a_full_recompute_would_find(session, refs, tmp_path):
    """Findings are worked out per batch; a pass over the whole register afterwards changes nothing."""
    city, elsewhere = synthetic.communes_from_db(session, "79")
    path = tmp_path / "noisy.csv"
    synthetic.write_dataset(synthetic.generate(400, 11, "79", 0.3, communes=city, elsewhere=elsewhere), path)

    report = bulk.import_file(path, progress=False, batch_size=37)

    assert report.rows_loaded > 400
    flagged = session.scalar(select(func.count()).where(Person.quality_issues != ""))
    assert flagged > 20
    assert quality.recompute(session) == 0


def test_a_later_import_flags_both_holders_of_a_pin_and_late_parents(session, refs, tmp_path):
    commune = refs["communes"][0]
    first = person_row(0, commune)
    bulk.import_file(write_csv(tmp_path / "first.csv", [first]), progress=False)
    # children older than their parents, with the parents only in the next batch, and a PIN taken by r0
    child = person_row(2, commune, father_record_id="r4", mother_record_id="r5", birth_date="1950-01-01",
                       pin=make_pin("079", 1950, Sex.MALE, 7))
    twin = person_row(3, commune, record_id="twin", pin=first["pin"], birth_date=first["birth_date"])
    father = person_row(4, commune, birth_date="1990-01-01", pin=make_pin("079", 1990, Sex.MALE, 8))
    mother = person_row(5, commune, birth_date="1991-01-01", sex="F", pin=make_pin("079", 1991, Sex.FEMALE, 9))
    bulk.import_file(write_csv(tmp_path / "second.csv", [child, twin, father, mother]), progress=False,
                     batch_size=2)

    issues = dict(session.execute(select(Person.source_ref, Person.quality_issues)).all())
    assert "duplicate_pin" in issues["first/r0"] and "duplicate_pin" in issues["second/twin"]
    for ref in ("second/r2", "second/r4", "second/r5"):
        assert "child_older_than_parent" in issues[ref]
    assert quality.recompute(session) == 0


# ---- exports past the batch size; files that are damaged or unusual -------------------------------


def write_rows(path: Path, count_: int, commune: str) -> Path:
    return write_csv(path, [person_row(i, commune) for i in range(count_)])


def test_export_streams_past_its_batch_size(session, refs, tmp_path):
    """5,000 is the export's batch: more persons than that must all come out, in the same rows
    whatever the batch size (expunging streamed objects broke the second batch on SQLite)."""
    persons = 5_204
    assert bulk.import_file(write_rows(tmp_path / "many.csv", persons, refs["communes"][0]),
                            progress=False).rows_loaded == persons
    whole, small = tmp_path / "whole.csv", tmp_path / "small.csv"
    assert bulk.export_persons(whole, progress=False) == persons
    assert bulk.export_persons(small, progress=False, batch_size=7) == persons
    assert whole.read_bytes() == small.read_bytes()
    with whole.open(encoding="utf-8") as handle:
        exported = list(csv.DictReader(handle))
    assert len({row["record_id"] for row in exported}) == persons
    assert sum(1 for row in exported if row["father_record_id"]) == persons // 4 * 2

    out = tmp_path / "register.jsonl.gz"
    done = CliRunner().invoke(app, ["export", str(out), "--purpose", "sao lưu định kỳ", "--quiet"])
    assert done.exit_code == 0, done.output
    assert f"{persons} persons written" in done.output


def test_a_field_over_the_size_limit_rejects_only_its_row(session, refs, tmp_path):
    commune = refs["communes"][0]
    huge = "x" * (csv.field_size_limit() + 1)
    rows = [person_row(i, commune) for i in range(6)]
    rows[2]["other_names"] = huge
    rows[4]["pin"] = "9" * 100_000  # under the limit: read, then rejected by validation
    path = write_csv(tmp_path / "huge.csv", rows)
    jsonl = tmp_path / "wide.jsonl"
    rows[2]["record_id"], rows[3]["permanent_address"] = "r2", huge
    jsonl.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")

    report = bulk.import_file(path, progress=False)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (6, 4, 2)
    with report.error_report.open(encoding="utf-8") as handle:
        errors = list(csv.DictReader(handle))
    assert [error["line"] for error in errors] == ["4", "6"]
    assert "longer than 131,072 characters" in errors[0]["reason"] and "pin" in errors[1]["reason"]
    # the report keeps the start of a reason or record, not all of it, and stays readable
    assert all(len(error["raw"]) <= 1_001 and len(error["reason"]) <= 1_001 for error in errors)

    report = bulk.import_file(jsonl, progress=False)
    assert (report.rows_loaded, report.rows_rejected) == (3, 3)
    assert count(session, Person.id) == 7


def test_a_truncated_gz_is_refused_with_its_line_and_loads_nothing(session, refs, tmp_path):
    import gzip

    plain = write_rows(tmp_path / "cut.csv", 3_000, refs["communes"][0])
    packed = gzip.compress(plain.read_bytes())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])

    with pytest.raises(ValueError, match=r"cut.csv.gz is truncated: the compressed data stops in line \d+") as exc:
        bulk.import_file(path, progress=False)
    line = int(str(exc.value).split("line ")[1].split(";")[0])
    assert 2 <= line <= 3_001
    assert count(session, Person.id) == 0

    result = CliRunner().invoke(app, ["import", str(path), "--quiet"])
    assert result.exit_code == 2
    assert "truncated" in result.output and "Aborted" not in result.output


def test_an_unbalanced_quote_rejects_its_line_and_keeps_the_rows_after_it(session, refs, tmp_path):
    commune = refs["communes"][0]
    path = write_rows(tmp_path / "quote.csv", 12, commune)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace("Nguyễn", '"Nguyễn', 1)  # record r2 opens a quote that never closes
    path.write_text("".join(lines), encoding="utf-8")

    report = bulk.import_file(path, progress=False)

    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (12, 11, 1)
    with report.error_report.open(encoding="utf-8") as handle:
        (error,) = list(csv.DictReader(handle))
    assert (error["line"], error["reason"]) == ("4", "a quote opened on this line is not closed (unbalanced quote)")
    assert error["raw"].startswith("r2,")
    loaded = set(session.scalars(select(Person.source_ref)))
    assert loaded == {f"quote/r{i}" for i in range(12)} - {"quote/r2"}


def test_a_column_named_twice_in_the_header_refuses_the_file(session, refs, tmp_path):
    path = tmp_path / "twice.csv"
    row = person_row(0, refs["communes"][0])
    path.write_text("record_id,given_name,sex,given_name\nr0,An,M,Bình\n", encoding="utf-8")
    with pytest.raises(ValueError, match="columns named twice in the header: given_name"):
        bulk.import_file(path, progress=False)
    result = CliRunner().invoke(app, ["import", str(path), "--quiet"])
    assert result.exit_code == 2 and "named twice" in result.output
    assert count(session, Person.id) == 0 and row


def cp1258(text: str) -> bytes:
    """Vietnamese in Windows-1258: the base letters are precomposed, the tone is a combining mark."""
    import unicodedata

    out = b""
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            out += unicodedata.normalize("NFC", parts[:-1]).encode("cp1258") + parts[-1].encode("cp1258")
    return out


def test_a_file_that_is_not_utf8_names_its_line_and_encoding(session, refs, tmp_path):
    commune = refs["communes"][0]
    text = write_rows(tmp_path / "x.csv", 4, commune).read_text(encoding="utf-8")
    text = text.replace("Ân 2", "Hương 2")
    path = tmp_path / "old.csv"
    path.write_bytes(cp1258(text))  # line 2 (r0) is the first with a non-ASCII letter

    with pytest.raises(ValueError) as exc:
        bulk.import_file(path, progress=False)
    assert str(exc.value) == ("old.csv: line 2 is not valid UTF-8; the file looks like cp1258: "
                              "convert it to UTF-8 or import it with --encoding cp1258")
    assert count(session, Person.id) == 0

    result = CliRunner().invoke(app, ["import", str(path), "--quiet", "--encoding", "cp1258"])
    assert result.exit_code == 0, result.output
    names = set(session.scalars(select(Person.full_name)))
    assert names == {"Nguyễn Văn Ân 0", "Nguyễn Thị Ân 1", "Nguyễn Văn Hương 2", "Nguyễn Thị Ân 3"}

    western = tmp_path / "western.csv"
    western.write_bytes("record_id,given_name\nw1,José\n".encode("latin-1"))
    with pytest.raises(ValueError, match="line 2 is not valid UTF-8; the file looks like latin-1"):
        bulk.import_file(western, progress=False)
    unknown = CliRunner().invoke(app, ["import", str(western), "--quiet", "--encoding", "klingon"])
    assert unknown.exit_code == 2 and "unknown encoding 'klingon'" in unknown.output


def test_the_exit_status_says_whether_rows_were_rejected_every_time(session, refs, tmp_path):
    commune = refs["communes"][0]
    runner = CliRunner()
    clean = write_rows(tmp_path / "clean.csv", 3, commune)
    for _ in range(2):
        result = runner.invoke(app, ["import", str(clean), "--quiet"])
        assert result.exit_code == 0, result.output

    for name, content in (("empty.csv", ""), ("header.csv", ",".join(bulk.COLUMNS) + "\n"), ("blank.jsonl", "\n")):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        for _ in range(2):
            result = runner.invoke(app, ["import", str(path), "--quiet"])
            assert result.exit_code == 2, result.output
            assert "holds no rows" in result.output and "imported completely" not in result.output
