"""The synthetic city: determinism, realistic shapes, consistent families and PINs, injected errors."""

from __future__ import annotations

import collections
import csv
import gzip
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path
from random import Random

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from dancu import db
from dancu.cli import app
from dancu.registry import bulk, synthetic
from dancu.registry.dates import PartialDate
from dancu.registry.models import Household, Person, Sex
from dancu.registry.pin import parse_pin, pin_mismatches
from dancu.registry.synthetic import CommuneRef

YEAR_DAYS = 365.2425
# Ages are counted to the generator's fixed reference date.
REF = synthetic.REFERENCE_DATE


def fake_communes() -> tuple[list[CommuneRef], list[CommuneRef]]:
    """A city of 30 communes (wards and rural communes, some with legacy predecessors) and 5 other provinces."""
    city = [
        CommuneRef(f"{26000 + i}", ("Phường " if i % 4 else "Xã ") + f"Thử {i}", "79",
                   ((f"{27000 + i}", "79"), (f"{25000 + i}", "74")) if i % 3 else ())
        for i in range(30)
    ]
    elsewhere = [
        CommuneRef(f"{1000 + i}", ("Phường " if i % 2 else "Xã ") + f"Khác {i}", province, ((f"{500 + i}", province),))
        for i, province in enumerate(["01", "40", "38", "86", "96"] * 4)
    ]
    return city, elsewhere


def records(people: int, seed: int = 42, errors: float = 0.0) -> list[synthetic.SyntheticRecord]:
    city, elsewhere = fake_communes()
    return list(synthetic.generate(people, seed, "79", errors, communes=city, elsewhere=elsewhere))


@pytest.fixture(scope="module")
def clean() -> list[dict[str, str]]:
    return [r.row for r in records(20_000)]


@pytest.fixture(scope="module")
def noisy() -> list[synthetic.SyntheticRecord]:
    return records(20_000, seed=7, errors=0.1)


def age(row: dict[str, str]) -> float:
    return (REF - PartialDate.parse(row["birth_date"]).earliest()).days / YEAR_DAYS


# ---- determinism -------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, seed: int, errors: float = 0.05) -> tuple[bytes, bytes]:
    city, elsewhere = fake_communes()
    out, truth = tmp_path / f"{name}.csv", tmp_path / f"{name}.truth.csv"
    synthetic.write_dataset(synthetic.generate(3000, seed, "79", errors, communes=city, elsewhere=elsewhere),
                            out, truth)
    return out.read_bytes(), truth.read_bytes()


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path):
    first, second, other = write(tmp_path, "a", 11), write(tmp_path, "b", 11), write(tmp_path, "c", 12)
    assert first == second
    assert first[0] != other[0] and first[1] != other[1]


def test_output_does_not_depend_on_string_hashing(tmp_path):
    script = (
        "import hashlib, io, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_synthetic import records\n"
        "rows = [r.row for r in records(2000, errors=0.1)]\n"
        "print(hashlib.sha256(repr(rows).encode()).hexdigest())\n"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", script, str(Path(__file__).parent)], env=env,
                              capture_output=True, text=True, check=True)
        digests.add(done.stdout.strip())
    assert len(digests) == 1


def test_jsonl_holds_the_same_rows_without_empty_values(tmp_path):
    rows = [r.row for r in records(500)]
    path = tmp_path / "people.jsonl"
    assert synthetic.write_rows(rows, path) == 500
    back = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert back == [{k: v for k, v in row.items() if v} for row in rows]


def test_rows_hold_every_column_in_order(noisy):
    """write_dataset relies on it to write values without looking columns up."""
    assert all(tuple(r.row) == synthetic.COLUMNS for r in noisy)


def test_csv_header_is_the_exchange_format(tmp_path):
    path = tmp_path / "people.csv.gz"
    synthetic.write_rows([r.row for r in records(50)], path)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == synthetic.COLUMNS == bulk.COLUMNS


# ---- realism -------------------------------------------------------------------------------------


def test_family_names_sex_ratio_and_diacritics(clean):
    n = len(clean)
    families = collections.Counter(r["family_name"] for r in clean)
    assert 0.33 < families["Nguyễn"] / n < 0.43
    assert 0.08 < families["Trần"] / n < 0.14
    assert 0.47 < sum(r["sex"] == "M" for r in clean) / n < 0.53
    for row in clean:
        for column in ("family_name", "middle_name", "given_name", "permanent_address"):
            assert unicodedata.is_normalized("NFC", row[column])
    men = collections.Counter(r["middle_name"] for r in clean if r["sex"] == "M")
    women = collections.Counter(r["middle_name"] for r in clean if r["sex"] == "F")
    assert men.most_common(1)[0][0] == "Văn" and women.most_common(1)[0][0] == "Thị"
    assert "Thị" not in men and "Văn" not in women


def test_age_pyramid_is_shaped_like_the_census(clean):
    ages = [age(r) for r in clean]
    n = len(ages)
    children = sum(a < 15 for a in ages) / n
    working = sum(15 <= a < 65 for a in ages) / n
    old = sum(a >= 65 for a in ages) / n
    assert 0.17 < children < 0.28
    assert 0.62 < working < 0.76
    assert 0.05 < old < 0.11
    assert max(ages) < 100
    # a pyramid, not a column: far fewer people over 80 than under 10
    assert sum(a >= 80 for a in ages) * 5 < sum(a < 10 for a in ages)


def test_population_mix(clean):
    n = len(clean)
    ethnic = collections.Counter(r["ethnicity_code"] for r in clean)
    assert ethnic["1"] / n > 0.9 and ethnic["4"] / n > 0.02 and ethnic["5"] > 0
    migrants = [r for r in clean if r["temporary_unit"]]
    assert 0.11 < len(migrants) / n < 0.19
    assert all(r["permanent_unit"] not in {c.code for c in fake_communes()[0]} for r in migrants)
    assert all(r["temporary_from"] <= r["temporary_until"] for r in migrants)
    deceased = [r for r in clean if r["status"] == "deceased"]
    assert 0.003 < len(deceased) / n < 0.012
    assert all(r["status_date"] and r["household_code"] == "" for r in deceased)
    assert all(r["birth_date"][:4] <= r["status_date"][:4] for r in deceased)
    naturalized = [r for r in clean if r["citizenship_basis"] == "naturalization"]
    assert naturalized
    for row in naturalized:
        assert row["birth_place_status"] == "abroad" and row["birth_country"] and row["naturalized_on"]
        assert row["hometown_status"] == "unknown" and not row["hometown_unit"]
        assert row["nationalities"].split(";")[0] == "VN"
    assert any(r["birth_place_status"] == "unknown" for r in clean)
    partial = [r for r in clean if len(r["birth_date"]) < 10]
    assert partial and all(int(r["birth_date"][:4]) < 1960 for r in partial)
    assert any(r["birth_registration_unit"].startswith("legacy:") for r in clean)
    # births after the reform are registered in today's units
    assert not any(r["birth_registration_unit"].startswith("legacy:") for r in clean
                   if r["birth_date"] >= synthetic.REFORM_DATE.isoformat())


def test_pins_are_valid_unique_and_match_birth_year_and_sex(clean):
    pins = [r["pin"] for r in clean]
    assert len(set(pins)) == len(pins)
    for row in clean:
        parse_pin(row["pin"])
        assert pin_mismatches(row["pin"], int(row["birth_date"][:4]), Sex(row["sex"])) == []
    city_born = sum(r["pin"].startswith(("079", "074")) for r in clean) / len(clean)
    assert 0.4 < city_born < 0.9


def test_households_have_one_head_and_consistent_relatives(clean):
    by_id = {r["record_id"]: r for r in clean}
    assert len(by_id) == len(clean)
    heads = collections.Counter(r["household_code"] for r in clean if r["relationship_to_head"] == "head")
    households = {r["household_code"] for r in clean if r["household_code"]}
    assert set(heads) == households and set(heads.values()) == {1}
    sizes = collections.Counter(r["household_code"] for r in clean if r["household_code"])
    assert 2.6 < sum(sizes.values()) / len(sizes) < 4.0
    for row in clean:
        if row["spouse_record_id"]:
            spouse = by_id[row["spouse_record_id"]]
            assert spouse["spouse_record_id"] == row["record_id"] and spouse["sex"] != row["sex"]
        for column, sex in (("father_record_id", "M"), ("mother_record_id", "F")):
            if row[column]:
                parent = by_id[row[column]]
                assert parent["sex"] == sex
                gap = age(parent) - age(row)
                # partial birth dates count from 1 January: allow a year of slack for them
                slack = 1 if len(parent["birth_date"]) < 10 else 0
                assert 18 - slack <= gap <= 45 + slack, (row, parent)
        if row["relationship_to_head"] == "child" and row["father_record_id"]:
            assert row["family_name"] == by_id[row["father_record_id"]]["family_name"]


# ---- errors ----------------------------------------------------------------------------------------


def test_error_rate_kinds_and_truth(noisy):
    n = len(noisy)
    with_errors = [r for r in noisy if r.error_kinds]
    assert 0.085 < len(with_errors) / n < 0.115
    kinds = collections.Counter(k for r in noisy for k in r.error_kinds)
    assert set(kinds) <= set(synthetic.ERROR_KINDS)
    for kind in ("duplicate", "typo", "no_diacritics", "swapped_day_month", "wrong_birth_year", "pin_digit"):
        assert kinds[kind] > 0, kind
    ids = [r.row["record_id"] for r in noisy]
    assert len(set(ids)) == n
    assert len({r.entity_id for r in noisy}) == 20_000


def test_duplicates_are_the_same_person_registered_again(noisy):
    by_entity = collections.defaultdict(list)
    for record in noisy:
        by_entity[record.entity_id].append(record)
    duplicated = [group for group in by_entity.values() if len(group) > 1]
    assert duplicated
    same_pin = 0
    for group in duplicated:
        originals = [r for r in group if "duplicate" not in r.error_kinds]
        copies = [r for r in group if "duplicate" in r.error_kinds]
        assert len(originals) == 1 and copies
        original = originals[0].row
        for copy in copies:
            row = copy.row
            assert row["record_id"] != original["record_id"]
            assert row["sex"] == original["sex"]
            assert abs(int(row["birth_date"][:4]) - int(original["birth_date"][:4])) <= 1
            assert not row["household_code"] and not row["spouse_record_id"]
            same_pin += row["pin"] == original["pin"]
    assert 0 < same_pin < sum(len(g) - 1 for g in duplicated)


def test_injected_errors_do_what_they_say(noisy):
    for record in noisy:
        row = record.row
        if "no_diacritics" in record.error_kinds:
            assert all(row[c].isascii() for c in ("family_name", "middle_name", "given_name"))
        if set(record.error_kinds) & {"pin_digit", "duplicate"} or not row["pin"]:
            continue
        # a typo or a swapped date leaves the number consistent; a wrong year does not
        mismatches = pin_mismatches(row["pin"], int(row["birth_date"][:4]), Sex(row["sex"]))
        assert bool(mismatches) == ("wrong_birth_year" in record.error_kinds)


def test_every_row_is_valid_for_the_importer(noisy):
    """Errors are the kind a register holds, never rows the importer must reject."""
    for record in noisy:
        row = record.row
        if row["pin"]:
            parse_pin(row["pin"])
        for column in ("birth_date", "status_date", "permanent_since", "temporary_from", "temporary_until",
                       "naturalized_on"):
            PartialDate.parse(row[column])
        assert row["given_name"] and row["family_name"]


def test_typos_always_change_the_word():
    rand = Random(3).random
    for word in [*synthetic.MALE_GIVEN_NAMES, *synthetic.FEMALE_GIVEN_NAMES, *synthetic.FAMILY_NAMES, "An", "Ý"]:
        for _ in range(20):
            typo = synthetic._typo(word, rand)
            assert typo and typo != word and unicodedata.is_normalized("NFC", typo)
            # marks stay on whole letters ("Đẵng", never a stray breve or tone)
            assert not any(unicodedata.combining(ch) for ch in typo), (word, typo)


# ---- with the real units ---------------------------------------------------------------------------


def test_communes_of_the_province_come_from_the_units_tables(session):
    city, elsewhere = synthetic.communes_from_db(session, "79")
    assert len(city) > 100 and {c.province_code for c in city} == {"79"}
    assert len({c.province_code for c in elsewhere}) == 33
    # the city today includes the former Bình Dương (74) and Bà Rịa - Vũng Tàu (77)
    legacy_provinces = {province for c in city for _, province in c.legacy}
    assert {"79", "74", "77"} <= legacy_provinces
    for text in ("79", "079", "Hồ Chí Minh", "ho chi minh", "Thành phố Hồ Chí Minh"):
        assert synthetic.resolve_province(session, text) == "79"
    with pytest.raises(ValueError):
        synthetic.resolve_province(session, "Atlantis")


def test_generated_city_imports_without_rejections(session, tmp_path):
    city, elsewhere = synthetic.communes_from_db(session, "79")
    path = tmp_path / "city.csv"
    summary = synthetic.write_dataset(
        synthetic.generate(1500, 5, "79", 0.05, communes=city, elsewhere=elsewhere), path, tmp_path / "truth.csv"
    )
    report = bulk.import_file(path, progress=False)
    assert report.rows_rejected == 0 and report.links_unresolved == 0
    assert report.rows_loaded == summary.rows
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person)) == summary.rows
    assert session.scalar(select(func.count()).select_from(Household).where(Household.head_person_id.is_(None))) == 0


def test_seed_command_writes_and_loads(database_url, tmp_path):
    runner = CliRunner()
    out = tmp_path / "only.csv"
    done = runner.invoke(app, ["seed", "--people", "300", "--seed", "3", "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.exists() and (tmp_path / "only.truth.csv").exists()
    with db.new_session() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0

    done = runner.invoke(app, ["seed", "--people", "300", "--seed", "3", "--province", "Hồ Chí Minh"])
    assert done.exit_code == 0, done.output
    seeded = Path(os.environ["DANCU_DATA_DIR"]) / "seed" / "people-3-300.csv"
    assert seeded.read_bytes() == out.read_bytes()
    with db.new_session() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 300

    done = runner.invoke(app, ["seed", "--people", "10", "--province", "Atlantis", "--out", str(out)])
    assert done.exit_code == 2
