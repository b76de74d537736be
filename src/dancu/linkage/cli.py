"""`dancu linkage`: deduplicate a file or the register, and score the model against a ground truth."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dancu.accounts.cli_actor import cli_actor
from dancu.accounts.services import PermissionDenied
from dancu.audit.services import PurposeRequired
from dancu.config import get_settings
from dancu.db import session_scope
from dancu.linkage import services
from dancu.linkage.schemas import LinkageOptions

app = typer.Typer(help="Record linkage: find duplicate persons (Splink on DuckDB).", no_args_is_help=True)

_THRESHOLD = typer.Option(0.95, "--threshold", min=0.0, max=1.0,
                          help="Match probability from which a pair is a duplicate.")
_THREADS = typer.Option(None, "--threads", min=1, help="DuckDB threads (default: one per core).")
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress display.")


class _RichSteps:
    """Each step is a line with a spinner and its elapsed time; counted steps show their count."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.current: int | None = None

    def step(self, label: str, total: int | None = None) -> Callable[[int], None]:
        self.finish()
        self.current = self.progress.add_task(label, total=total)
        task = self.current
        return lambda n: self.progress.advance(task, n)

    def finish(self) -> None:
        if self.current is not None:
            task = self.progress.tasks[self.current]
            self.progress.update(self.current, total=task.completed or 1, completed=task.completed or 1)


@contextmanager
def _steps(quiet: bool) -> Iterator[services.Steps]:
    if quiet:
        yield services.SilentSteps()
        return
    columns = (SpinnerColumn(finished_text="✓"), TextColumn("{task.description}"), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        steps = _RichSteps(progress)
        yield steps
        steps.finish()


def _options(**values) -> LinkageOptions:
    try:
        return LinkageOptions(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None


def _print(title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)


@app.command("run")
def run(
    file: Path = typer.Argument(None, exists=True, dir_okay=False, readable=True,
                                help="CSV or JSON Lines file in the exchange format; omit with --register."),
    register: bool = typer.Option(False, "--register", help="Deduplicate the persons of the register."),
    purpose: str = typer.Option(None, "--purpose", help="Why the register is read (logged); needed with --register."),
    out: Path = typer.Option(None, "--out", file_okay=False,
                             help="Directory for the pairs and clusters CSV (default: $DANCU_DATA_DIR/linkage)."),
    threshold: float = _THRESHOLD,
    review_threshold: float = typer.Option(0.5, "--review-threshold", min=0.0, max=1.0,
                                           help="Pairs from this probability are kept for clerical review."),
    threads: int = _THREADS,
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Find duplicates; store the run and its scored pairs; write pairs and clusters as CSV."""
    if (file is None) == (not register):
        typer.echo("error: give a FILE or --register (not both)", err=True)
        raise typer.Exit(2)
    options = _options(threshold=threshold, review_threshold=review_threshold, threads=threads)
    try:
        with session_scope() as session, _steps(quiet or as_json) as steps:
            summary = services.run_linkage(session, cli_actor(), path=file, purpose=purpose,
                                           out_dir=out or get_settings().data_dir / "linkage", options=options,
                                           steps=steps)
    except (ValueError, PurposeRequired, PermissionDenied) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
        return
    _print(f"linkage run {summary.run_id} of {summary.source}", [
        ("records", f"{summary.records:,}"),
        ("candidate pairs scored", f"{summary.candidate_pairs:,}"),
        (f"duplicate pairs (p ≥ {threshold})", f"{summary.matched_pairs:,}"),
        (f"pairs for review (p ≥ {review_threshold})", f"{summary.review_pairs:,}"),
        ("clusters of duplicates", f"{summary.clusters:,} ({summary.duplicate_records:,} records)"),
        ("pairs per second (scoring)", f"{summary.pairs_per_second:,.0f}"),
        ("wall time", f"{summary.seconds:.1f} s"),
        ("pairs", summary.pairs_csv),
        ("clusters", summary.clusters_csv),
    ])


@app.command("runs")
def runs(
    limit: int = typer.Option(20, "--limit", min=1, help="How many runs, most recent first."),
    as_json: bool = _JSON,
) -> None:
    """List stored linkage runs."""
    with session_scope() as session:
        found = services.list_runs(session, limit=limit)
    if as_json:
        typer.echo(json.dumps([run.model_dump(mode="json") for run in found], indent=2))
        return
    table = Table("run", "started", "source", "records", "candidate pairs", "duplicate pairs", "clusters",
                  "threshold", "seconds")
    for run in found:
        table.add_row(str(run.id), f"{run.started_at:%Y-%m-%d %H:%M}", run.source, f"{run.records:,}",
                      f"{run.candidate_pairs:,}", f"{run.matched_pairs:,}", f"{run.clusters:,}",
                      f"{run.threshold:g}", f"{run.seconds:.1f}")
    Console().print(table)


@app.command("evaluate")
def evaluate(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV or JSON Lines file in the exchange format, e.g. from `dancu seed --out`."),
    truth: Path = typer.Option(..., "--truth", exists=True, dir_okay=False, readable=True,
                               help="Ground truth: record_id,entity_id[,error_kinds]."),
    threshold: float = _THRESHOLD,
    threads: int = _THREADS,
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Deduplicate FILE and score the duplicate pairs against the ground truth."""
    options = _options(threshold=threshold, threads=threads)
    try:
        with session_scope() as session, _steps(quiet or as_json) as steps:
            result = services.evaluate_file(session, file, truth, options, steps=steps)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    _print(f"evaluation of {file} against {truth}", [
        ("records", f"{result.records:,}"),
        ("true duplicate pairs", f"{result.true_pairs:,}"),
        ("candidate pairs scored", f"{result.candidate_pairs:,}"),
        ("blocking recall", f"{result.blocking_recall:.4f}"),
        (f"predicted pairs (p ≥ {result.threshold})", f"{result.predicted_pairs:,}"),
        ("precision", f"{result.precision:.4f}"),
        ("recall", f"{result.recall:.4f}"),
        ("F1", f"{result.f1:.4f}"),
        ("pairs per second (scoring)", f"{result.pairs_per_second:,.0f}"),
        ("wall time", f"{result.wall_seconds:.1f} s"),
    ])
