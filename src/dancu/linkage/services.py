"""Deduplication runs: read persons, prepare, train, score, cluster, store; and evaluation.

Persons of the register are read through the registry's export (the
exchange format), never from its tables, and the read is written to the
access log with its purpose. Files in the exchange format are read directly,
as `dancu import` reads them (``dancu.tabular``): a fault of the whole file
refuses it (ValueError), a row that cannot be read is left out and reported
in the result's ``rejected``.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from dancu import tabular
from dancu.accounts.services import Actor
from dancu.linkage.model import DedupeModel, ScoredPair
from dancu.linkage.models import LinkagePair, LinkageRecord, LinkageRun
from dancu.linkage.prepare import UnitNormaliser, prepare_table, read_rows
from dancu.linkage.review import (
    REGISTER_SOURCE,
    explain_pairs,
    file_side_fields,
)
from dancu.linkage.schemas import (
    Evaluation,
    LinkageOptions,
    RejectedRow,
    RunInfo,
    RunSummary,
)
from dancu.registry import bulk
from dancu.registry import merge as registry_merge
from dancu.units import services as units

Pair = tuple[str, str]


class Steps(Protocol):
    """Where a long computation reports progress: ``step`` starts a named step
    and returns the function that advances it by a number of items."""

    def step(self, label: str, total: int | None = None) -> Callable[[int], None]: ...


class SilentSteps:
    def step(self, label: str, total: int | None = None) -> Callable[[int], None]:
        return lambda _n: None


def _pair(left: str, right: str) -> Pair:
    return (left, right) if left < right else (right, left)


def prepare_file(session: Session, path: Path, steps: Steps | None = None, encoding: str = tabular.DEFAULT_ENCODING,
                 rejected: list[RejectedRow] | None = None) -> pa.Table:
    """The rows of an exchange-format file as the model's input records; rows left out go to ``rejected``."""
    steps = steps or SilentSteps()
    advance = steps.step(f"reading {Path(path).name}")
    found: list[tabular.Rejection] = []
    table = prepare_table(read_rows(path, encoding, found), UnitNormaliser(session), batch_size=10_000,
                          advance=advance)
    if rejected is not None:
        rejected.extend(rejected_rows(path, found))
    return table


def rejected_rows(path: Path, found: Iterable[tabular.Rejection]) -> list[RejectedRow]:
    return [RejectedRow(file=Path(path).name, line=line, reason=reason) for line, reason in found]


def _with_rows(path: Path, records: pa.Table, rejected: list[RejectedRow]) -> pa.Table:
    """``records`` read from ``path``; a file that gave none is refused."""
    rejected = [row for row in rejected if row.file == Path(path).name]
    if not records.num_rows:
        raise ValueError(f"{Path(path).name} holds no rows" + (
            f" (all {len(rejected):,} were rejected, the first on line {rejected[0].line}: {rejected[0].reason})"
            if rejected else " (it is empty, or has a header only)"))
    return records


@dataclass
class Dedupe:
    """What one deduplication found, before it is stored or scored."""

    records: int
    candidate_pairs: int
    kept_pairs: list[ScoredPair]
    clusters: dict[str, str]
    model: dict
    scoring_seconds: float
    # candidate pairs that are true pairs, when a truth was given
    true_candidates: int | None = None

    def matched(self, threshold: float) -> list[ScoredPair]:
        return [p for p in self.kept_pairs if p.match_probability >= threshold]


def dedupe(records: pa.Table, options: LinkageOptions, steps: Steps | None = None,
           truth: set[Pair] | None = None) -> Dedupe:
    """Train the model on the records themselves (no labels), score the candidate pairs, cluster.

    With ``truth``, also count the candidate pairs that are true pairs (the blocking rules' recall).
    """
    steps = steps or SilentSteps()
    model = DedupeModel(records, engine=options.engine, threads=options.threads, seed=options.seed,
                        u_sample_pairs=options.u_sample_pairs, em_max_pairs=options.em_max_pairs)
    try:
        steps.step("training (u by sampling, m by EM)")
        model.train()
        steps.step("scoring candidate pairs")
        started = time.perf_counter()
        candidates = model.score()
        scoring_seconds = time.perf_counter() - started
        steps.step("clustering")
        kept = list(model.pairs(options.review_threshold))
        true_candidates = None
        if truth is not None:
            true_candidates = sum(_pair(p.left_record, p.right_record) in truth for p in model.pairs(0.0))
        clusters = model.clusters(options.threshold)
        return Dedupe(records.num_rows, candidates, kept, clusters, model.model_json(), scoring_seconds,
                      true_candidates)
    finally:
        model.close()


def _write_pairs(path: Path, pairs: Iterable[ScoredPair], threshold: float) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("left_record", "right_record", "match_weight", "match_probability", "duplicate"))
        for p in pairs:
            left, right = _pair(p.left_record, p.right_record)
            writer.writerow((left, right, f"{p.match_weight:.3f}", f"{p.match_probability:.6f}",
                             "yes" if p.match_probability >= threshold else "review"))


def _write_clusters(path: Path, clusters: dict[str, str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("record_id", "cluster_id"))
        writer.writerows(sorted(clusters.items()))


def export_register(session: Session, actor: Actor, purpose: str, workdir: Path) -> Path:
    """The register as an exchange-format file to link; the registry logs the bulk read with its purpose."""
    path = workdir / "register.csv"
    bulk.export_register(session, actor, purpose, path, progress=False)
    return path


def without_retired(session: Session, records: pa.Table) -> pa.Table:
    """Register records without those retired by a merge: they are no persons of their own any more."""
    retired = [str(person_id) for person_id in registry_merge.retired_ids(session)]
    if not retired:
        return records
    return records.filter(pc.invert(pc.is_in(records["unique_id"], value_set=pa.array(retired, pa.string()))))


def _rows_of(session: Session, path: Path, encoding: str, record_ids: set[str]) -> dict[str, dict[str, str]]:
    """The fields a reviewer compares, of the records of a file that are in a stored pair."""
    refs = units.unit_ref_index(session)
    return {row["record_id"].strip(): file_side_fields(session, row, refs)
            for row in read_rows(path, encoding) if row["record_id"].strip() in record_ids}


def run_linkage(
    session: Session,
    actor: Actor,
    *,
    path: Path | None,
    out_dir: Path,
    options: LinkageOptions,
    purpose: str | None = None,
    steps: Steps | None = None,
    encoding: str = tabular.DEFAULT_ENCODING,
) -> RunSummary:
    """Deduplicate a file (or the register when ``path`` is None), store the run and its
    pairs at or above the review threshold, and write ``<name>.pairs.csv`` and
    ``<name>.clusters.csv`` into ``out_dir``. A file is read in ``encoding``.

    Commits twice: the access-log entry of a register read as soon as the
    export is done, and the run with its pairs at the end.
    """
    steps = steps or SilentSteps()
    started_at = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    rejected: list[RejectedRow] = []
    with tempfile.TemporaryDirectory(prefix="dancu-linkage-") as workdir:
        if path is None:
            steps.step("exporting the register")
            source, input_path = REGISTER_SOURCE, export_register(session, actor, purpose or "", Path(workdir))
            records = without_retired(session, prepare_file(session, input_path, steps))
        else:
            source, input_path = str(path), Path(path)
            records = _with_rows(path, prepare_file(session, input_path, steps, encoding, rejected), rejected)
        result = dedupe(records, options, steps)
        steps.step("explaining the pairs kept for review")
        pair_ids = [_pair(p.left_record, p.right_record) for p in result.kept_pairs]
        explained = explain_pairs(records, pair_ids, result.model)
        reviewed = {record for pair in pair_ids for record in pair}
        review_rows = {} if path is None else _rows_of(session, input_path, encoding, reviewed)
    matched = result.matched(options.threshold)
    sizes = Counter(result.clusters.values())
    duplicate_records = sum(size for size in sizes.values() if size > 1)

    steps.step("storing the run")
    run = LinkageRun(
        source=source[:400], actor=actor.username[:60], started_at=started_at, records=result.records,
        candidate_pairs=result.candidate_pairs, threshold=options.threshold,
        review_threshold=options.review_threshold, matched_pairs=len(matched),
        clusters=sum(1 for size in sizes.values() if size > 1), seconds=0.0,
        model=json.dumps(result.model, ensure_ascii=False),
    )
    session.add(run)
    session.flush()
    rows = [{"run_id": run.id, "left_record": left, "right_record": right, "match_weight": p.match_weight,
             "match_probability": p.match_probability,
             "comparisons": json.dumps(explained[(left, right)], ensure_ascii=False)}
            for p, (left, right) in zip(result.kept_pairs, pair_ids, strict=True)]
    for start in range(0, len(rows), 5_000):
        session.execute(insert(LinkagePair), rows[start:start + 5_000])
    records_rows = [{"run_id": run.id, "record_id": record, "fields": json.dumps(fields, ensure_ascii=False)}
                    for record, fields in review_rows.items()]
    for start in range(0, len(records_rows), 5_000):
        session.execute(insert(LinkageRecord), records_rows[start:start + 5_000])

    out_dir.mkdir(parents=True, exist_ok=True)
    name = "register" if path is None else Path(path).name.split(".")[0]
    pairs_csv = out_dir / f"{name}.run{run.id}.pairs.csv"
    clusters_csv = out_dir / f"{name}.run{run.id}.clusters.csv"
    _write_pairs(pairs_csv, result.kept_pairs, options.threshold)
    _write_clusters(clusters_csv, result.clusters)
    run.seconds = time.perf_counter() - started
    run.finished_at = dt.datetime.now(dt.UTC)
    session.commit()
    return RunSummary(
        run_id=run.id, source=source, records=result.records, candidate_pairs=result.candidate_pairs,
        matched_pairs=len(matched), review_pairs=len(result.kept_pairs) - len(matched), clusters=run.clusters,
        duplicate_records=duplicate_records, seconds=run.seconds,
        pairs_per_second=result.candidate_pairs / max(result.scoring_seconds, 1e-9),
        pairs_csv=str(pairs_csv), clusters_csv=str(clusters_csv), rejected=rejected,
    )


def list_runs(session: Session, limit: int = 20) -> list[RunInfo]:
    """The most recent runs first."""
    runs = session.scalars(select(LinkageRun).order_by(LinkageRun.id.desc()).limit(limit))
    return [RunInfo(id=r.id, source=r.source, actor=r.actor, started_at=r.started_at, finished_at=r.finished_at,
                    records=r.records, candidate_pairs=r.candidate_pairs, matched_pairs=r.matched_pairs,
                    clusters=r.clusters, threshold=r.threshold, review_threshold=r.review_threshold,
                    seconds=r.seconds) for r in runs]


# ---- evaluation against a ground truth -------------------------------------------------------------


# A truth file as `dancu seed --out` writes it; other columns (error_kinds) are ignored.
TRUTH_FILE = tabular.Layout(("record_id", "entity_id"), required=("record_id", "entity_id"), closed=False)


def truth_pairs(truth_path: Path, encoding: str = tabular.DEFAULT_ENCODING,
                rejected: list[RejectedRow] | None = None) -> set[Pair]:
    """Every pair of records sharing an ``entity_id`` in a truth file (``record_id,entity_id,...``).

    A row that cannot be read or has no ``record_id`` goes to ``rejected``; a row without an
    ``entity_id`` is a record of its own (no pair).
    """
    members: dict[str, list[str]] = defaultdict(list)
    found: list[tabular.Rejection] = []
    for row in tabular.rows(truth_path, TRUTH_FILE, encoding, found):
        if entity := row["entity_id"].strip():
            members[entity].append(row["record_id"].strip())
    if rejected is not None:
        rejected.extend(rejected_rows(truth_path, found))
    return {_pair(a, b) for ids in members.values() for a, b in itertools.combinations(ids, 2)}


def pairwise_scores(predicted: set[Pair], truth: set[Pair]) -> tuple[int, float, float, float]:
    """(true positives, precision, recall, F1); an empty side scores 1.0 only if both are empty."""
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else float(not truth)
    recall = hits / len(truth) if truth else float(not predicted)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return hits, precision, recall, f1


def evaluate_file(session: Session, path: Path, truth_path: Path, options: LinkageOptions,
                  steps: Steps | None = None, decisions: dict[Pair, bool] | None = None,
                  encoding: str = tabular.DEFAULT_ENCODING) -> Evaluation:
    """Deduplicate a file and score the pairs found at ``options.threshold`` against the truth.

    ``decisions`` (pair -> is a match, from clerical review) override the truth for the pairs they decide.
    Both files are read in ``encoding``.
    """
    started = time.perf_counter()
    rejected: list[RejectedRow] = []
    truth = truth_pairs(truth_path, encoding, rejected)
    if decisions:
        truth = (truth | {pair for pair, is_match in decisions.items() if is_match}) - {
            pair for pair, is_match in decisions.items() if not is_match}
    records = _with_rows(path, prepare_file(session, path, steps, encoding, rejected), rejected)
    result = dedupe(records, options, steps, truth=truth)
    predicted = {_pair(p.left_record, p.right_record) for p in result.matched(options.threshold)}
    hits, precision, recall, f1 = pairwise_scores(predicted, truth)
    return Evaluation(
        records=result.records, true_pairs=len(truth), candidate_pairs=result.candidate_pairs,
        blocking_recall=(result.true_candidates or 0) / len(truth) if truth else 1.0,
        predicted_pairs=len(predicted), true_positives=hits, precision=precision, recall=recall, f1=f1,
        threshold=options.threshold, scoring_seconds=result.scoring_seconds,
        pairs_per_second=result.candidate_pairs / max(result.scoring_seconds, 1e-9),
        wall_seconds=time.perf_counter() - started, rejected=rejected,
    )
