"""Deduplication of a generated city with injected errors, scored against the generator's ground truth."""

import csv

import pytest
from sqlalchemy import func, select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, PermissionDenied
from dancu.audit.models import AccessLogEntry
from dancu.audit.services import PurposeRequired
from dancu.linkage import services
from dancu.linkage.models import LinkagePair, LinkageRun
from dancu.linkage.schemas import LinkageOptions
from dancu.registry.bulk import import_file

ADMIN = Actor("linker", Role.ADMIN)
# one DuckDB thread: deterministic, and polite to whatever else runs on the machine
OPTIONS = LinkageOptions(threads=1)
# fewer random pairs for u where the test is about behaviour, not accuracy
QUICK = LinkageOptions(threads=1, u_sample_pairs=2e5)

# Measured on this city (5,000 persons + 298 duplicate registrations, seed 1,
# errors 0.2): precision 1.000, recall 0.997, F1 0.998. The bound leaves room
# for floating-point differences between DuckDB builds, not for a worse model.
MIN_F1 = 0.99


def test_f1_on_a_generated_city_with_errors(session, write_city):
    path, truth = write_city(5_000, seed=1, errors=0.2)
    result = services.evaluate_file(session, path, truth, OPTIONS)
    assert result.true_pairs > 250
    assert result.f1 >= MIN_F1, result
    assert result.blocking_recall >= 0.99
    # blocking, not all pairs: a cartesian product would be 13.9 million pairs
    assert result.candidate_pairs < 0.001 * result.records ** 2
    assert result.pairs_per_second > 0


def test_a_file_without_pins_is_deduplicated_too(session, write_city, tmp_path):
    """No shared PINs to train on (an agency file without numbers): EM falls back to name and year rounds."""
    path, truth = write_city(2_000, seed=3, errors=0.2)
    without_pins = tmp_path / "without-pins.csv"
    with path.open(encoding="utf-8", newline="") as source, without_pins.open("w", encoding="utf-8", newline="") as out:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows({**row, "pin": ""} for row in reader)
    result = services.evaluate_file(session, without_pins, truth, OPTIONS)
    # measured 0.991 (115 of 116 pairs found, 1 false)
    assert result.true_pairs > 100 and result.f1 >= 0.97, result


def test_same_input_gives_the_same_pairs_and_weights(session, write_city):
    path, _ = write_city(1_500, seed=3, errors=0.2)
    records = services.prepare_file(session, path)
    first, second = (services.dedupe(records, QUICK) for _ in range(2))
    assert first.kept_pairs == second.kept_pairs and first.kept_pairs
    assert first.clusters == second.clusters


def test_run_stores_the_pairs_and_writes_pairs_and_clusters(session, write_city, tmp_path):
    path, _ = write_city(2_000, seed=5, errors=0.2)
    summary = services.run_linkage(session, ADMIN, path=path, out_dir=tmp_path / "out", options=QUICK)

    run = session.get(LinkageRun, summary.run_id)
    assert run.records == summary.records > 2_000 and run.source == str(path)
    assert run.finished_at is not None and run.candidate_pairs == summary.candidate_pairs
    stored = session.scalars(select(LinkagePair).where(LinkagePair.run_id == run.id)).all()
    assert len(stored) == summary.matched_pairs + summary.review_pairs > 0
    assert all(p.left_record < p.right_record and p.match_probability >= QUICK.review_threshold for p in stored)
    assert sum(p.match_probability >= QUICK.threshold for p in stored) == run.matched_pairs

    with open(summary.clusters_csv, encoding="utf-8") as handle:
        cluster_of = {row["record_id"]: row["cluster_id"] for row in csv.DictReader(handle)}
    assert len(cluster_of) == summary.records
    with open(summary.pairs_csv, encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    assert len(pairs) == len(stored)
    for pair in pairs:
        if pair["duplicate"] == "yes":
            assert cluster_of[pair["left_record"]] == cluster_of[pair["right_record"]]


def test_register_is_read_through_the_export_and_the_read_is_logged(session, write_city, tmp_path):
    path, _ = write_city(1_000, seed=9, errors=0.2)
    loaded = import_file(path, progress=False).rows_loaded
    summary = services.run_linkage(session, ADMIN, path=None, purpose="duplicate check of the register",
                                   out_dir=tmp_path, options=QUICK)
    assert summary.records == loaded and summary.source == services.REGISTER_SOURCE
    entry = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "export")).one()
    assert (entry.actor, entry.subject_type, entry.purpose, entry.detail) == (
        "linker", "register", "duplicate check of the register", "file=register.csv")
    # record ids of a register run are person ids
    stored = session.scalars(select(LinkagePair.left_record).where(LinkagePair.run_id == summary.run_id)).all()
    assert stored and all(record.isdigit() for record in stored)


def test_reading_the_register_needs_a_purpose_and_an_admin(session, tmp_path):
    with pytest.raises(PurposeRequired):
        services.run_linkage(session, ADMIN, path=None, purpose="", out_dir=tmp_path, options=OPTIONS)
    with pytest.raises(PermissionDenied):
        services.run_linkage(session, Actor("clerk", Role.REGISTRAR), path=None, purpose="duplicate check",
                             out_dir=tmp_path, options=OPTIONS)
    assert session.scalar(select(func.count()).select_from(LinkageRun)) == 0


def test_pairwise_scores():
    truth = {("1", "2"), ("3", "4")}
    assert services.pairwise_scores({("1", "2"), ("5", "6")}, truth) == (1, 0.5, 0.5, 0.5)
    assert services.pairwise_scores(set(), set()) == (0, 1.0, 1.0, 1.0)
    assert services.pairwise_scores(set(), truth) == (0, 0.0, 0.0, 0.0)


def test_truth_pairs_are_every_pair_of_an_entity(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_text("record_id,entity_id,error_kinds\n1,a,\n2,b,\n3,a,duplicate\n4,a,duplicate;typo\n")
    assert services.truth_pairs(truth) == {("1", "3"), ("1", "4"), ("3", "4")}
