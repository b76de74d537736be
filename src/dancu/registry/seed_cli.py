"""`dancu seed`: generate a synthetic city (dancu.registry.synthetic) and load it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from dancu.config import get_settings
from dancu.db import session_scope
from dancu.registry import synthetic
from dancu.registry.bulk import default_source, import_file
from dancu.units.services import UnitNotFound


def seed(
    people: int = typer.Option(1000, "--people", min=0, help="Number of real persons (duplicates come on top)."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives the same file."),
    province: str = typer.Option("79", "--province", help='Province code or name, e.g. 79 or "Hồ Chí Minh".'),
    errors: float = typer.Option(0.0, "--errors", min=0.0, max=0.5,
                                 help="Share of rows with injected errors (typos, duplicates, ...)."),
    out: Path | None = typer.Option(None, "--out", dir_okay=False,
                                    help="Write the file here (.csv or .jsonl, optionally .gz) and do not load it."),
    truth: Path | None = typer.Option(None, "--truth", dir_okay=False,
                                      help="Ground-truth CSV (default: beside the file, NAME.truth.csv)."),
) -> None:
    """Generate a synthetic population of a province's real communes and load it.

    Without --out the file goes to $DANCU_DATA_DIR/seed/people-SEED-PEOPLE.csv
    and is then imported like `dancu import` would (idempotent: seeding the
    same city twice loads it once).
    """
    console = Console(stderr=True)
    try:
        with session_scope() as session:
            code = synthetic.resolve_province(session, province)
            city, elsewhere = synthetic.communes_from_db(session, code)
    except (UnitNotFound, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    target = out or get_settings().data_dir / "seed" / f"people-{seed}-{people}.csv"
    truth_path = truth or target.with_name(f"{default_source(target)}.truth.csv")

    columns = (TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TextColumn("persons"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("generate", total=people)
        records = synthetic.generate(people, seed, code, errors, communes=city, elsewhere=elsewhere,
                                     progress=lambda n: bar.advance(task, n))
        summary = synthetic.write_dataset(records, target, truth_path)
    console.print(f"{summary.rows:,} rows ({summary.persons:,} persons, {summary.duplicates:,} duplicate "
                  f"registrations, {summary.erroneous_rows:,} rows with errors) written to {target}; "
                  f"ground truth in {truth_path}")
    if out is not None:
        return
    try:
        report = import_file(target, progress=True)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if report.already_finished:
        console.print(f"{target} was already loaded: nothing new.")
    else:
        console.print(f"loaded {report.rows_loaded:,} rows, {report.rows_skipped_already_present:,} already "
                      f"present, {report.rows_rejected:,} rejected, {report.links_unresolved:,} relatives not found "
                      f"in {report.seconds:.1f} s")
    if report.file_rows_rejected:
        console.print(f"{report.file_rows_rejected:,} rows were rejected"
                      + (f": see {report.error_report}" if report.error_report else ""))
        raise typer.Exit(1)
