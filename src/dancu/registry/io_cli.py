"""`dancu import` and `dancu export`: files in the exchange format (docs/data-format.md)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dancu.accounts.cli_actor import cli_actor
from dancu.db import session_scope
from dancu.registry.bulk import export_register, import_file
from dancu.tabular import DEFAULT_ENCODING


def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="CSV or JSON Lines file (.csv, .jsonl, .ndjson, optionally .gz)"),
    source: str = typer.Option(None, "--source", help="Name of the data set (default: the file name)."),
    errors_out: Path = typer.Option(None, "--errors-out",
                                    help="Where to write rejected rows (default: FILE-NAME.errors.csv)."),
    batch_size: int = typer.Option(20_000, "--batch-size", min=1, help="Rows per committed batch."),
    encoding: str = typer.Option(DEFAULT_ENCODING, "--encoding",
                                 help="Character encoding of the file, e.g. cp1258 or latin-1 (default UTF-8)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Load persons, residences and households from a file.

    Idempotent and resumable: rows already loaded from the same source are
    skipped, and an interrupted import of a file continues where it stopped.
    Invalid rows never stop the valid ones: they are written to the error
    report. Exit status: 0 every row of the file is in, 1 some rows of the
    file were rejected (in this run or an earlier one), 2 the file was refused.
    """
    try:
        report = import_file(file, source=source, progress=not quiet, batch_size=batch_size,
                             error_report=errors_out, encoding=encoding)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    console = Console()
    if report.already_finished:
        console.print(f"{file} was already imported completely: nothing new to load.")
        if report.file_rows_rejected:
            console.print(f"{report.file_rows_rejected} rows of it were rejected"
                          + (f" (see {report.error_report})" if report.error_report else "") + ".")
            raise typer.Exit(1)
        return
    table = Table(title=f"import of {file} (source {report.source})", show_header=False)
    for label, value in (
        ("resumed after line", report.resumed_from_line or None),
        ("rows read", report.rows_read),
        ("loaded", report.rows_loaded),
        ("already present (skipped)", report.rows_skipped_already_present),
        ("rejected", report.rows_rejected),
        ("rejected by an earlier run", (report.file_rows_rejected - report.rows_rejected) or None),
        ("relatives not found in the source", report.links_unresolved),
        ("error report", report.error_report),
        ("seconds", f"{report.seconds:.1f}"),
    ):
        if value is not None:
            table.add_row(label, str(value))
    console.print(table)
    if report.file_rows_rejected:
        raise typer.Exit(1)


def export_command(
    file: Path = typer.Argument(..., dir_okay=False, help="Output file: .csv or .jsonl (optionally .gz)."),
    purpose: str = typer.Option(..., "--purpose", "-p",
                                help="Why the register is exported (written to the access log)."),
    unit: int = typer.Option(None, "--unit", help="Only persons whose permanent residence is this unit id."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Write persons in the exchange format; the file imports back with `dancu import`."""
    try:
        with session_scope() as session:
            written = export_register(session, cli_actor(), purpose, file, unit_id=unit, progress=not quiet)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{written} persons written to {file}")
