"""`dancu person ...` and `dancu quality ...`."""

from __future__ import annotations

import datetime as dt
import json

import typer
from rich.console import Console
from rich.table import Table

from dancu.accounts.cli_actor import cli_actor
from dancu.db import session_scope
from dancu.registry import quality, services
from dancu.registry.schemas import PersonQuery

person_app = typer.Typer(help="Search and show persons (every read is logged with its purpose).",
                         no_args_is_help=True)
quality_app = typer.Typer(help="Data quality: correct, sufficient, clean, live.", no_args_is_help=True)

PURPOSE = typer.Option(..., "--purpose", "-p", help="Why you read this data (written to the access log)")


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@person_app.command("search")
def search(
    text: str = typer.Argument("", help="Name, with or without diacritics, or a 12-digit PIN"),
    purpose: str = PURPOSE,
    birth: str | None = typer.Option(None, help="Birth date: YYYY, YYYY-MM or YYYY-MM-DD"),
    unit: int | None = typer.Option(None, help="Commune or province id"),
    page: int = typer.Option(1, min=1),
    page_size: int = typer.Option(20, min=1, max=100),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
) -> None:
    """Search persons by name, PIN, birth date and place."""
    try:
        query = PersonQuery(text=text, birth_date=birth, unit_id=unit, page=page, page_size=page_size)
        with session_scope() as session:
            result = services.search_persons(session, cli_actor(), query, purpose)
    except (ValueError, LookupError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    table = Table(title=f"{result.total} found (page {result.page}/{result.pages})")
    for column in ("id", "PIN", "name", "born", "sex", "residence", "quality"):
        table.add_column(column)
    for item in result.items:
        table.add_row(str(item.id), item.pin or "—", item.full_name, item.birth_date,
                      item.sex.value if item.sex else "—", item.home_unit_label, ", ".join(item.quality_issues) or "ok")
    Console().print(table)


@person_app.command("show")
def show(
    person_id: int,
    purpose: str = PURPOSE,
    as_of: str | None = typer.Option(None, help="Show the record as it was on this date (YYYY-MM-DD)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one person's record with residence history and events."""
    try:
        when = dt.date.fromisoformat(as_of) if as_of else None
        with session_scope() as session:
            detail = services.get_person(session, cli_actor(), person_id, purpose, when)
    except (ValueError, LookupError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(detail.model_dump_json(indent=2))
        return
    console = Console()
    console.print(f"[bold]{detail.full_name}[/bold]  PIN {detail.pin or '—'}  born {detail.birth_date}  "
                  f"{detail.sex.value if detail.sex else ''}  {detail.status.value}")
    console.print("quality: " + ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in detail.quality.dimensions.items())
                  + (f"  ({', '.join(detail.quality.issues)})" if detail.quality.issues else ""))
    for residence in detail.residences:
        console.print(f"  {residence.kind:<13} {residence.valid_from} → {residence.valid_to or 'now'}  "
                      f"{residence.address_line}, {residence.unit_label}")
    for event in detail.events:
        console.print(f"  {event.effective_on} {event.kind} by {event.actor} {json.dumps(event.changes, ensure_ascii=False)}")


@quality_app.command("report")
def report(
    province: str | None = typer.Option(None, help="Province code, e.g. 79"),
    recompute: bool = typer.Option(False, help="Re-evaluate every rule for every person first"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Per-commune counts of records passing each quality dimension."""
    with session_scope() as session:
        if recompute:
            changed = quality.recompute(session)
            typer.echo(f"re-evaluated; {changed} records changed", err=True)
        try:
            result = services.quality_report(session, cli_actor(), province)
        except (ValueError, LookupError) as exc:
            _fail(str(exc))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    table = Table(title=f"Data quality — {result.persons} persons")
    for column in ("commune", "persons", "correct", "sufficient", "clean", "live", "all ok", "top failing rules"):
        table.add_column(column)
    for row in result.rows:
        pct = (lambda n: f"{100 * n / row.persons:.1f}%") if row.persons else (lambda n: "—")
        table.add_row(row.unit_label, str(row.persons), pct(row.correct), pct(row.sufficient), pct(row.clean),
                      pct(row.live), pct(row.all_ok), ", ".join(f"{r} ({n})" for r, n in row.top_rules))
    Console().print(table)
