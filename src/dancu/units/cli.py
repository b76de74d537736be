"""`dancu address ...`: administrative units and address conversion."""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import TypeAdapter

from dancu.db import session_scope
from dancu.units import services
from dancu.units.models import AdminUnit
from dancu.units.schemas import AddressConversionOut, UnitOut

app = typer.Typer(help="Administrative units and conversion of pre-2025 addresses.", no_args_is_help=True)

BAD_INPUT = 2
_UNIT_LIST = TypeAdapter(list[UnitOut])


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(BAD_INPUT)


@app.command("convert")
def convert(
    address: str = typer.Argument(..., help='e.g. "Phường Bến Nghé, Quận 1, TP Hồ Chí Minh"'),
    as_json: bool = typer.Option(False, "--json", help="print the full conversion as JSON"),
) -> None:
    """Convert an address to the units in force today (34 provinces, no districts)."""
    with session_scope() as session:
        try:
            conversion = services.convert_address(session, address)
        except services.AddressNotRecognised as exc:
            _fail(str(exc))
        if as_json:
            typer.echo(AddressConversionOut.of(conversion).model_dump_json(indent=2))
            return
        typer.echo(conversion.new_address)
        if conversion.already_current:
            typer.echo("already current: the address uses today's units", err=True)
        elif conversion.is_default_choice:
            others = ", ".join(u.name for u in conversion.all_candidates if u.id != conversion.new_commune.id)
            typer.echo(
                f"note: {conversion.old_commune.name if conversion.old_commune else 'the old unit'} was split; "
                f"this is its default successor; the address may instead lie in {others}",
                err=True,
            )


@app.command("units")
def units(
    province: str | None = typer.Option(None, "--province", help='official province code, e.g. 79; omit to list provinces'),
    scheme: str | None = typer.Option(None, help='"2025" or "legacy"; default: the scheme in force today'),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """List the provinces, or the communes of one province (code, type, name)."""
    with session_scope() as session:
        try:
            found = (
                services.list_communes(session, province, scheme) if province else services.list_provinces(session, scheme)
            )
        except services.UnitNotFound as exc:
            _fail(str(exc))
        _print_units(found, as_json)


@app.command("search")
def search(
    text: str,
    scheme: str | None = typer.Option(None, help='"2025" or "legacy"; default: the scheme in force today'),
    limit: int = typer.Option(20, min=1, max=200),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Find units by name, with or without diacritics."""
    with session_scope() as session:
        try:
            found = services.search_units(session, text, scheme=scheme, limit=limit)
        except services.UnitNotFound as exc:
            _fail(str(exc))
        _print_units(found, as_json)


def _print_units(found: list[AdminUnit], as_json: bool) -> None:
    if as_json:
        typer.echo(_UNIT_LIST.dump_json([UnitOut.of(u) for u in found], indent=2).decode())
        return
    for unit in found:
        typer.echo(f"{unit.code}\t{unit.unit_type}\t{services.unit_label(unit)}")
