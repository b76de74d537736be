"""Deduplication quality and speed: dancu's model vs an untuned Splink model vs the recordlinkage toolkit.

    python bench/bench_linkage.py --people 1000000 [--errors 0.18] [--seed 7] [--threads 2]

One generated city (``dancu seed``'s generator, real communes of Hồ Chí Minh
City) with injected errors and its ground truth; all three run on the same
file in the same process, one after the other, each timed from reading the
CSV to the pairs at match probability 0.95 (recordlinkage: its classifier's
matches). Pairwise precision, recall and F1 against the truth.

``--errors 0.18``: duplicate registrations are 28 % of the generator's
errors (docs/synthetic.md), so 18 % erroneous rows give 5 % duplicate rows;
the other errors (typos, lost diacritics, swapped day and month, wrong year,
PIN keying errors, missing fields) are spread over originals and duplicates.

The baselines, configured as their documentation shows, without tuning:

* **Splink, untuned**: name (given, middle, family: ``NameComparison``),
  date of birth (``DateOfBirthComparison``) and address (permanent commune
  code: ``ExactMatch``) from Splink's comparison library, blocking on
  given name + date of birth, family name + date of birth, family + given
  name + commune; prior from the exact rule family + given name + date, u
  by random sampling (10⁶ pairs, as dancu), m by EM (blocking on date of
  birth, then on family + given name); DuckDB with the same threads, in a
  database file with half the machine's memory, so that it spills to disk
  instead of running out of memory at 1M (engine settings, not the model).
* **recordlinkage**: blocking on the date of birth (a standard key),
  Jaro-Winkler ≥ 0.85 on the given, middle and family name, exact date of
  birth and commune, the ECM (unsupervised Fellegi-Sunter) classifier.

Names of both baselines are lower-cased; no other preparation.
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, write_result  # noqa: E402

THRESHOLD = 0.95
U_SAMPLE_PAIRS = 1e6
Pair = tuple[str, str]


def _database() -> None:
    """A freshly migrated SQLite database for the unit tables (the generator and dancu's preparation read it)."""
    data_dir = Path(tempfile.mkdtemp(prefix="dancu-bench-linkage-"))
    os.environ["DANCU_DATA_DIR"] = str(data_dir)
    os.environ["DANCU_DATABASE_URL"] = f"sqlite:///{data_dir / 'units.sqlite3'}"
    from dancu import migrate

    migrate.upgrade()


def _city(people: int, seed: int, errors: float, data_dir: Path) -> tuple[Path, Path, dict]:
    from dancu.db import session_scope
    from dancu.registry import synthetic

    path = data_dir / f"linkage_{people}_{seed}_{errors}.csv"
    truth = path.with_name(f"{path.stem}.truth.csv")
    if not (path.exists() and truth.exists()):
        with session_scope() as session:
            city, elsewhere = synthetic.communes_from_db(session, "79")
        summary = synthetic.write_dataset(
            synthetic.generate(people, seed, "79", errors, communes=city, elsewhere=elsewhere), path, truth)
        info = {"rows": summary.rows, "duplicates": summary.duplicates, "erroneous_rows": summary.erroneous_rows}
    else:
        with truth.open(encoding="utf-8") as handle:
            kinds = [row["error_kinds"] for row in csv.DictReader(handle)]
        info = {"rows": len(kinds), "duplicates": sum(k.startswith("duplicate") for k in kinds),
                "erroneous_rows": sum(bool(k) for k in kinds)}
    return path, truth, info


def _pair(left, right) -> Pair:
    left, right = str(left), str(right)
    return (left, right) if left < right else (right, left)


# ---- the three contenders: each returns the set of pairs it calls duplicates ------------------------------


def run_dancu(path: Path, threads: int) -> set[Pair]:
    from dancu.db import session_scope
    from dancu.linkage.model import DedupeModel
    from dancu.linkage.prepare import UnitNormaliser, prepare_table, read_rows

    with session_scope() as session:
        records = prepare_table(read_rows(path), UnitNormaliser(session))
    model = DedupeModel(records, threads=threads, u_sample_pairs=U_SAMPLE_PAIRS)
    try:
        model.train()
        model.score()
        return {_pair(p.left_record, p.right_record) for p in model.pairs(THRESHOLD)}
    finally:
        model.close()


def _raw_columns(path: Path) -> dict[str, list]:
    """The columns both baselines use, names lower-cased, empty values as None."""
    columns: dict[str, list] = {c: [] for c in ("unique_id", "given_name", "middle_name", "family_name",
                                                 "birth_date", "commune")}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            columns["unique_id"].append(row["record_id"])
            for name in ("given_name", "middle_name", "family_name"):
                columns[name].append(row[name].lower() or None)
            columns["birth_date"].append(row["birth_date"] or None)
            columns["commune"].append(row["permanent_unit"] or row["temporary_unit"] or None)
    return columns


def _duckdb_memory_limit() -> str:
    """Half the machine's memory: the rest stays for the operating system and the Python side of the run."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{total // 2 // 2**20}MB"


def run_splink_untuned(path: Path, threads: int) -> set[Pair]:
    import logging

    import duckdb
    import pyarrow as pa
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    table = pa.table(_raw_columns(path))
    # Engine settings, not model tuning: at 1M the EM round blocked on family + given name is ~800 million
    # pairs, more than an in-memory DuckDB holds on this machine; a database file lets DuckDB spill to disk.
    work_dir = Path(tempfile.mkdtemp(prefix="dancu-bench-splink-"))
    connection = duckdb.connect(str(work_dir / "splink.duckdb"))
    connection.execute(f"SET threads = {int(threads)}")
    connection.execute(f"SET memory_limit = '{_duckdb_memory_limit()}'")
    connection.execute(f"SET temp_directory = '{work_dir / 'spill'}'")
    connection.execute("SET preserve_insertion_order = false")
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("middle_name"),
            cl.NameComparison("family_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.ExactMatch("commune"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "birth_date"),
            block_on("family_name", "birth_date"),
            block_on("family_name", "given_name", "commune"),
        ],
    )
    try:
        linker = Linker(DuckDBAPI(connection).register(table), settings, log_level=logging.ERROR)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("family_name", "given_name", "birth_date")], recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=42)
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("family_name", "given_name"))
        predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
        rows = connection.execute(f"SELECT unique_id_l, unique_id_r FROM {predictions.physical_name}").fetchall()
        return {_pair(left, right) for left, right in rows}
    finally:
        connection.close()
        shutil.rmtree(work_dir, ignore_errors=True)


def run_recordlinkage(path: Path, threads: int) -> set[Pair]:
    import pandas as pd
    import recordlinkage

    frame = pd.DataFrame(_raw_columns(path)).set_index("unique_id")
    indexer = recordlinkage.Index()
    indexer.block("birth_date")
    candidates = indexer.index(frame)
    compare = recordlinkage.Compare(n_jobs=threads)
    for name in ("given_name", "middle_name", "family_name"):
        compare.string(name, name, method="jarowinkler", threshold=0.85, label=name)
    compare.exact("birth_date", "birth_date", label="birth_date")
    compare.exact("commune", "commune", label="commune")
    features = compare.compute(candidates, frame)
    matches = recordlinkage.ECMClassifier().fit_predict(features)
    return {_pair(left, right) for left, right in matches}


CONTENDERS: dict[str, Callable[[Path, int], set[Pair]]] = {
    "dancu": run_dancu,
    "splink_untuned": run_splink_untuned,
    "recordlinkage": run_recordlinkage,
}


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (recordlinkage's worker processes)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _ratios(results: dict[str, dict]) -> dict[str, float]:
    ratios = {}
    if "dancu" in results:
        for other in ("splink_untuned", "recordlinkage"):
            if other in results:
                ratios[f"dancu_over_{other}_time"] = round(results["dancu"]["seconds"] / results[other]["seconds"], 2)
                ratios[f"dancu_over_{other}_cpu"] = round(
                    results["dancu"]["cpu_seconds"] / max(results[other]["cpu_seconds"], 0.1), 2)
                ratios[f"dancu_minus_{other}_f1"] = round(results["dancu"]["f1"] - results[other]["f1"], 4)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--errors", type=float, default=0.18, help="share of rows with an injected error")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="DuckDB threads / recordlinkage jobs")
    parser.add_argument("--only", action="append", choices=sorted(CONTENDERS), help="run only these (repeatable)")
    parser.add_argument("--data-dir", type=Path, default=OUT / "data")
    parser.add_argument("--name", default="linkage", help="result file name in bench/out")
    args = parser.parse_args()

    _database()
    from dancu.linkage.services import pairwise_scores, truth_pairs

    args.data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path, truth_path, data = _city(args.people, args.seed, args.errors, args.data_dir)
    data["generate_seconds"] = round(time.perf_counter() - started, 1)
    truth = truth_pairs(truth_path)
    print(f"{data['rows']:,} rows, {data['duplicates']:,} duplicates, {len(truth):,} true pairs", flush=True)

    results: dict[str, dict] = {}
    for name in args.only or CONTENDERS:
        gc.collect()
        load, cpu, began = os.getloadavg()[0], _cpu_seconds(), time.perf_counter()
        predicted = CONTENDERS[name](path, args.threads)
        seconds, cpu_seconds = time.perf_counter() - began, _cpu_seconds() - cpu
        hits, precision, recall, f1 = pairwise_scores(predicted, truth)
        results[name] = {"seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
                         "predicted_pairs": len(predicted), "true_positives": hits, "precision": round(precision, 4),
                         "recall": round(recall, 4), "f1": round(f1, 4), "load_average_before": round(load, 2)}
        print(f"{name}: {results[name]}", flush=True)
        # written after each contender: a long run that is stopped keeps what it measured
        path_out = write_result(args.name, {"people": args.people, "seed": args.seed, "errors": args.errors,
                                            "threads": args.threads, "threshold": THRESHOLD,
                                            "true_pairs": len(truth), "data": data, "results": results,
                                            "ratios": _ratios(results)})
    print(f"written to {path_out}")


if __name__ == "__main__":
    main()
