"""`dancu import` into SQLite at growing sizes: its rows per second must stay flat.

    python bench/bench_import_sqlite.py --sizes 10000 100000 1000000

The synthetic city of `dancu seed` is generated once at the largest size (not
timed); each size imports the first N persons of that file into a new,
migrated SQLite database, in-process (`bulk.import_file`, the code
`dancu import` runs). Baseline, in the same run and at the same sizes: a bare
`executemany` INSERT of the same rows as text into an unindexed table of a
new SQLite database with dancu's connection settings (WAL, synchronous
NORMAL), one commit per 20,000 rows as the import does. A quadratic step
shows as a falling rate: the import's 1M/10k rate ratio is the number to
watch (about 1.0 is flat), the baseline's the same ratio for the floor.
Wall time on a shared machine follows its load, so CPU time is reported too
(the process's, which includes SQLite's work in the import's writer
thread), and for the import the CPU seconds of each batch written (first
and last tenth of the batches): growth with size shows there whatever the
load.

``--without-fk-indexes`` drops the indexes of ``person.spouse_id`` and
``household.head_person_id`` after migrating, to show what migration
0012_foreign_key_indexes fixed (keep the sizes small: it is quadratic).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_import import write_population  # noqa: E402
from common import OUT, write_result  # noqa: E402

BATCH = 20_000


def _use(data_dir: Path) -> str:
    from dancu import crypto, db

    url = f"sqlite:///{data_dir / 'dancu.sqlite3'}"
    os.environ.update(DANCU_DATABASE_URL=url, DANCU_DATA_DIR=str(data_dir),
                      DANCU_KEY_FILE=str(data_dir / "keys" / "master.key"))
    db.reset_caches()
    crypto.reset_key_cache()
    return url


def _prefix(source: Path, target: Path, rows: int) -> None:
    with source.open(encoding="utf-8", newline="") as src, target.open("w", encoding="utf-8", newline="") as out:
        for line in itertools.islice(src, rows + 1):  # the header and N rows (the generator writes one line a row)
            out.write(line)


def baseline(path: Path, work: Path) -> tuple[float, float]:
    """Seconds (wall, CPU) to executemany the file's rows, as text, into a bare table of a new SQLite database."""
    database = work / "baseline.sqlite3"
    database.unlink(missing_ok=True)
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        conn.execute(f"CREATE TABLE raw ({', '.join(f'{name} text' for name in header)})")
        insert = f"INSERT INTO raw VALUES ({', '.join('?' * len(header))})"
        started, cpu = time.perf_counter(), time.process_time()
        while batch := list(itertools.islice(reader, BATCH)):
            conn.executemany(insert, batch)
            conn.commit()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return seconds, cpu


def _timed_batches() -> list[float]:
    """Record the CPU seconds of each batch the import writes (its writer thread's own CPU time)."""
    from dancu.registry import bulk

    spent: list[float] = []
    load = bulk._Backend.load

    def timed(self, rows):
        started = time.thread_time()
        try:
            return load(self, rows)
        finally:
            spent.append(time.thread_time() - started)

    bulk._Backend.load = timed
    return spent


def dancu_import(path: Path, work: Path, without_fk_indexes: bool, batches: list[float]) -> dict:
    from sqlalchemy import text

    from dancu import crypto, db, migrate
    from dancu.registry.bulk import import_file

    data_dir = work / f"db_{path.stem}"
    data_dir.mkdir()
    _use(data_dir)
    crypto.ensure_master_key()
    migrate.upgrade()
    if without_fk_indexes:
        with db.get_engine().begin() as conn:
            conn.execute(text("DROP INDEX ix_person_spouse_id"))
            conn.execute(text("DROP INDEX ix_household_head_person_id"))
    batches.clear()
    started, cpu = time.perf_counter(), time.process_time()
    report = import_file(path, progress=False, batch_size=BATCH)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    db.get_engine().dispose()
    tenth = max(1, len(batches) // 10)
    return {"import_seconds": round(seconds, 2), "import_cpu_seconds": round(cpu, 2), "rows_loaded": report.rows_loaded,
            "batches": len(batches), "first_batches_cpu_s": round(sum(batches[:tenth]) / tenth, 3),
            "last_batches_cpu_s": round(sum(batches[-tenth:]) / tenth, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--province", default="79")
    parser.add_argument("--without-fk-indexes", action="store_true")
    parser.add_argument("--name", default="sqlite-import", help="result file name in bench/out")
    args = parser.parse_args()
    sizes = sorted(args.sizes)

    with tempfile.TemporaryDirectory(prefix="dancu-bench-sqlite-") as tmp:
        work = Path(tmp)
        from dancu import crypto, migrate

        (work / "gen").mkdir()
        _use(work / "gen")
        crypto.ensure_master_key()
        migrate.upgrade()  # the generator reads the communes from a database
        full = work / "population.csv"
        started = time.perf_counter()
        generated = write_population(full, sizes[-1], args.seed, args.province)
        print(f"generated {generated:,} rows in {time.perf_counter() - started:.0f} s")

        runs = []
        batches = _timed_batches()
        for size in sizes:
            path = work / f"people_{size}.csv"
            _prefix(full, path, size)
            base, base_cpu = baseline(path, work)
            run = {"persons": size, **dancu_import(path, work, args.without_fk_indexes, batches)}
            run.update(import_rows_per_second=round(size / run["import_seconds"]),
                       import_cpu_rows_per_second=round(size / run["import_cpu_seconds"]),
                       baseline_seconds=round(base, 3), baseline_rows_per_second=round(size / base),
                       baseline_cpu_rows_per_second=round(size / base_cpu),
                       import_over_baseline=round(run["import_seconds"] / base, 1),
                       import_over_baseline_cpu=round(run["import_cpu_seconds"] / base_cpu, 1))
            runs.append(run)
            print(run, flush=True)
            path.unlink()

    first, last = runs[0], runs[-1]
    def ratio(key: str) -> float:
        return round(last[key] / first[key], 2)

    result = {
        "without_fk_indexes": args.without_fk_indexes,
        "runs": runs,
        "import_rate_last_over_first": ratio("import_rows_per_second"),
        "import_cpu_rate_last_over_first": ratio("import_cpu_rows_per_second"),
        "baseline_rate_last_over_first": ratio("baseline_rows_per_second"),
        "baseline_cpu_rate_last_over_first": ratio("baseline_cpu_rows_per_second"),
        "load_average_after": os.getloadavg()[0],
    }
    print(f"import rows/s at {last['persons']:,} / at {first['persons']:,}: wall "
          f"{result['import_rate_last_over_first']}x, CPU {result['import_cpu_rate_last_over_first']}x "
          f"(baseline {result['baseline_rate_last_over_first']}x, CPU {result['baseline_cpu_rate_last_over_first']}x)")
    print(f"written to {write_result(args.name, result)}")


if __name__ == "__main__":
    main()
