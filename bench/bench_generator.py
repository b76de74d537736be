"""Throughput of the synthetic city generator (`dancu seed`) writing CSV.

    python bench/bench_generator.py --people 1000000 [--profile]

Baseline, in the same run and on the same disk: writing the same number of
rows with ``csv.writer``, each row the same constant values (the first
generated row), i.e. the cost of the CSV output alone. The ratio says how
much the generation itself adds. Real communes come from a freshly migrated
SQLite database in a temporary directory (or --database-url).
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, write_result  # noqa: E402


def _communes(database_url: str | None, province: str):
    if database_url:
        os.environ["DANCU_DATABASE_URL"] = database_url
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="dancu-bench-gen-"))
        os.environ["DANCU_DATA_DIR"] = str(data_dir)
        os.environ["DANCU_DATABASE_URL"] = f"sqlite:///{data_dir / 'units.sqlite3'}"
        from dancu import migrate

        migrate.upgrade()
    from dancu.db import session_scope
    from dancu.registry import synthetic

    with session_scope() as session:
        return synthetic.communes_from_db(session, province)


def _generate(people: int, seed: int, province: str, errors: float, communes, out: Path,
              truth: Path | None) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, rows written)."""
    from dancu.registry import synthetic

    city, elsewhere = communes
    started, cpu = time.perf_counter(), time.process_time()
    summary = synthetic.write_dataset(
        synthetic.generate(people, seed, province, errors, communes=city, elsewhere=elsewhere), out, truth
    )
    return time.perf_counter() - started, time.process_time() - cpu, summary.rows


def _baseline(rows: int, sample: Path, out: Path) -> tuple[float, float]:
    """Write ``rows`` copies of the sample's first data row with csv.writer, as the generator's writer does."""
    with sample.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header, row = next(reader), next(reader)
    started, cpu = time.perf_counter(), time.process_time()
    with out.open("w", encoding="utf-8", newline="", buffering=1 << 20) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writerow = writer.writerow
        for _ in range(rows):
            writerow(row)
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--province", default="79")
    parser.add_argument("--errors", type=float, default=0.05, help="error rate of the second, noisy run")
    parser.add_argument("--database-url", help="take communes from this database instead of a fresh SQLite one")
    parser.add_argument("--profile", action="store_true", help="also profile the clean run with pyinstrument")
    parser.add_argument("--name", default="generator", help="result file name in bench/out")
    args = parser.parse_args()

    communes = _communes(args.database_url, args.province)
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dancu-bench-gen-out-"))
    clean_csv = work / "people.csv"

    clean_s, clean_cpu, clean_rows = _generate(args.people, args.seed, args.province, 0.0, communes, clean_csv,
                                               None)
    baseline_s, baseline_cpu = _baseline(clean_rows, clean_csv, work / "constant.csv")
    noisy_s, _, noisy_rows = _generate(args.people, args.seed, args.province, args.errors, communes,
                                    work / "noisy.csv", work / "noisy.truth.csv")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    csv_mb = clean_csv.stat().st_size / 2**20

    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        with profiler:
            _generate(min(args.people, 200_000), args.seed, args.province, 0.0, communes, work / "profiled.csv", None)
        (OUT / "generator-profile.txt").write_text(profiler.output_text(unicode=True, show_all=False))

    result = {
        "people": args.people,
        "rows": clean_rows,
        "generator_s": round(clean_s, 2),
        "generator_persons_per_s": round(args.people / clean_s),
        "baseline": "csv.writer writing the same number of constant rows",
        "baseline_s": round(baseline_s, 2),
        "baseline_rows_per_s": round(clean_rows / baseline_s),
        "generator_over_baseline": round(clean_s / baseline_s, 2),
        # the box may be shared: CPU seconds are less disturbed by other load than wall time
        "generator_cpu_s": round(clean_cpu, 2),
        "baseline_cpu_s": round(baseline_cpu, 2),
        "generator_persons_per_cpu_s": round(args.people / clean_cpu),
        "generator_over_baseline_cpu": round(clean_cpu / baseline_cpu, 2),
        "with_errors": {
            "error_rate": args.errors,
            "rows": noisy_rows,
            "seconds_csv_and_truth": round(noisy_s, 2),
            "persons_per_s": round(args.people / noisy_s),
        },
        "csv_mb": round(csv_mb, 1),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    path = write_result(args.name, result)
    print("| persons | generator persons/s (per CPU s) | baseline csv.writer constant rows/s "
          f"| generator / baseline time (CPU) | with {args.errors:.0%} errors + truth persons/s | CSV MB "
          "| peak RSS MB | load avg |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {args.people:,} | {result['generator_persons_per_s']:,} ({result['generator_persons_per_cpu_s']:,}) "
          f"| {result['baseline_rows_per_s']:,} | {result['generator_over_baseline']:.2f}x "
          f"({result['generator_over_baseline_cpu']:.2f}x) | {result['with_errors']['persons_per_s']:,} "
          f"| {result['csv_mb']} | {result['peak_rss_mb']} | {result['load_average_1min']} |")
    print(f"written to {path}")
    for leftover in work.iterdir():
        leftover.unlink()
    work.rmdir()


if __name__ == "__main__":
    main()
