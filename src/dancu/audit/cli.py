"""`dancu audit ...`."""

from __future__ import annotations

import typer

from dancu.audit import services
from dancu.db import session_scope

app = typer.Typer(help="The tamper-evident access log.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Check the HMAC hash chain and every entry's MAC; exit 1 if any entry was altered, inserted or deleted."""
    with session_scope() as session:
        result = services.verify_chain(session)
    if result.ok:
        typer.echo(f"access log intact: {result.entries_checked} entries verified"
                   f" ({result.pending} not yet sealed into the chain)")
        return
    for chain_break in result.breaks:
        where = f"entry {chain_break.seq}" if chain_break.seq is not None else f"pending entry id {chain_break.entry_id}"
        typer.echo(f"BROKEN at {where}: {chain_break.reason}", err=True)
    typer.echo(f"access log TAMPERED: {len(result.breaks)} break(s) in {result.entries_checked} entries", err=True)
    raise typer.Exit(1)


@app.command("seal")
def seal() -> None:
    """Chain every pending entry now (the web server does this continuously)."""
    with session_scope() as session:
        sealed = services.seal_all(session)
    typer.echo(f"{sealed} entries sealed")
