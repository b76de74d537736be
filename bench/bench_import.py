"""`dancu import` against a raw COPY of the same CSV file, in the same run.

    python bench/bench_import.py --people 1000000 \
        --database-url postgresql://dancu:dancu@localhost/dancu_bench

The database named by --database-url is dropped and recreated (a name
without "bench" gets "_bench" appended first), migrated,
then: (1) the synthetic city of `dancu seed` is written to a CSV file (not timed);
(2) the file is loaded with COPY ... FORMAT csv into a bare table with the
same columns as text (the floor: no validation, no indexes, no constraints);
(3) `dancu import FILE` runs as a subprocess, exactly as an operator runs it.
The import leaves the population in place for bench/bench_search.py.
``--profile`` runs the import in-process under pyinstrument instead and
writes the profile next to the JSON result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, write_result  # noqa: E402

def _configure(database_url: str, data_dir: Path) -> None:
    os.environ["DANCU_DATABASE_URL"] = database_url
    os.environ["DANCU_DATA_DIR"] = str(data_dir)
    os.environ["DANCU_KEY_FILE"] = str(data_dir / "keys" / "master.key")


def _bench_database(database_url: str) -> str:
    """The URL of the database to recreate: never one whose name lacks "bench",
    so pointing the benchmark at a working database cannot wipe it."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    if "bench" not in (url.database or ""):
        url = url.set(database=f"{url.database}_bench")
    return url.render_as_string(hide_password=False)


def _fresh_database(database_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def write_population(path: Path, people: int, seed: int, province: str) -> int:
    """The synthetic city of `dancu seed --out` (households, migrants, deaths, edge cases)."""
    from dancu.db import session_scope
    from dancu.registry import synthetic

    with session_scope() as session:
        city, elsewhere = synthetic.communes_from_db(session, province)
    records = synthetic.generate(people, seed, province, 0.0, communes=city, elsewhere=elsewhere)
    return synthetic.write_dataset(records, path, path.with_name(f"{path.stem}.truth.csv")).rows


def raw_copy(database_url: str, path: Path) -> float:
    """Seconds to COPY the file into a bare table of text columns (dropped afterwards)."""
    import psycopg

    from dancu.registry.bulk import COLUMNS

    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw_copy")
        conn.execute(f"CREATE TABLE bench_raw_copy ({', '.join(f'{c} text' for c in COLUMNS)})")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor, path.open("rb") as source:
            with cursor.copy("COPY bench_raw_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        conn.commit()
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw_copy")
        conn.commit()
    return seconds


def run_import(path: Path, batch_size: int, profile: bool) -> tuple[float, dict]:
    if profile:
        from pyinstrument import Profiler

        from dancu.registry.bulk import import_file

        profiler = Profiler()
        started = time.perf_counter()
        with profiler:
            report = import_file(path, progress=False, batch_size=batch_size)
        seconds = time.perf_counter() - started
        (OUT / "import_profile.html").write_text(profiler.output_html())
        (OUT / "import_profile.txt").write_text(profiler.output_text(unicode=True, show_all=False))
        summary = {k: str(v) if isinstance(v, Path) else v for k, v in vars(report).items()}
        return seconds, summary
    started = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, "-m", "dancu.cli", "import", str(path), "--quiet", "--batch-size", str(batch_size)],
        env=os.environ.copy(), capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    if finished.returncode not in (0, 1):
        raise SystemExit(f"dancu import failed:\n{finished.stdout}\n{finished.stderr}")
    return seconds, {"output": finished.stdout}


def _counts() -> dict[str, int]:
    from sqlalchemy import text

    from dancu.db import session_scope

    with session_scope() as session:
        return {table: session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("person", "household", "household_member", "residence", "registry_event")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--database-url", required=True,
                        help="PostgreSQL database to DROP and recreate (\"_bench\" is appended unless the name "
                             "contains \"bench\")")
    parser.add_argument("--data-dir", type=Path, default=OUT / "data", help="master key and the generated file")
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--province", default="79", help="province code of the synthetic city")
    parser.add_argument("--profile", action="store_true", help="import in-process under pyinstrument")
    parser.add_argument("--name", default="import", help="result file name in bench/out")
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("the import benchmark compares against COPY: it needs PostgreSQL")

    args.data_dir.mkdir(parents=True, exist_ok=True)
    args.database_url = _bench_database(args.database_url)
    print(f"benchmark database: {args.database_url.rsplit('/', 1)[-1]} (dropped and recreated)")
    _configure(args.database_url, args.data_dir)
    from dancu import crypto, migrate

    crypto.ensure_master_key()
    _fresh_database(args.database_url)
    migrate.upgrade()

    path = args.data_dir / f"population_{args.people}.csv"
    started = time.perf_counter()
    rows = write_population(path, args.people, args.seed, args.province)
    generate_seconds = time.perf_counter() - started

    copy_seconds = raw_copy(args.database_url, path)
    import_seconds, details = run_import(path, args.batch_size, args.profile)
    counts = _counts()
    result = {
        "people": rows,
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "batch_size": args.batch_size,
        "generate_seconds": round(generate_seconds, 2),
        "raw_copy_seconds": round(copy_seconds, 2),
        "import_seconds": round(import_seconds, 2),
        "ratio": round(import_seconds / copy_seconds, 2),
        "import_rows_per_second": round(rows / import_seconds),
        "raw_copy_rows_per_second": round(rows / copy_seconds),
        "profiled": args.profile,
        "counts": counts,
        "import": details,
    }
    out = write_result(args.name, result)
    print(f"| people | file MB | raw COPY s | dancu import s | ratio | import rows/s |\n"
          f"|---:|---:|---:|---:|---:|---:|\n"
          f"| {rows:,} | {result['file_mb']} | {copy_seconds:.1f} | {import_seconds:.1f} | {result['ratio']} "
          f"| {result['import_rows_per_second']:,} |")
    print(f"\n{json.dumps(counts)}\nwritten to {out}")


if __name__ == "__main__":
    main()
