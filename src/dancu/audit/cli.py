"""`dancu audit ...`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from dancu.audit import note, services, transparency
from dancu.db import session_scope

app = typer.Typer(help="The tamper-evident access log (a Merkle tree log with signed checkpoints).",
                  no_args_is_help=True)


@app.command("verify")
def verify(
    checkpoint: list[Path] = typer.Option([], "--checkpoint", "-c", exists=True, dir_okay=False,
                                          help="An earlier checkpoint (signed note) the log must extend; repeatable"),
    key: list[str] = typer.Option([], "--key", help="Verifier key of the log, obtained out of band; repeatable"),
) -> None:
    """Check every entry's MAC and uid, rebuild the Merkle tree from the entries, and prove with consistency
    proofs that the log extends every stored and every given checkpoint; exit 1 on any break."""
    texts = [path.read_text(encoding="utf-8") for path in checkpoint]
    with session_scope() as session:
        try:
            result = transparency.verify(session, texts, key or None)
        except note.NoteError as exc:
            typer.echo(f"bad verifier key: {exc}", err=True)
            raise typer.Exit(2) from None
    if result.ok:
        typer.echo(f"access log intact: {result.entries_checked} entries verified"
                   f" ({result.pending} not yet sealed into the tree); tree size {result.tree_size},"
                   f" extends {result.checkpoints_checked} checkpoint(s)")
        return
    for item in result.breaks:
        where = (f"entry {item.seq}" if item.seq is not None
                 else f"pending entry id {item.entry_id}" if item.entry_id is not None else "log")
        typer.echo(f"BROKEN at {where}: {item.reason}", err=True)
    typer.echo(f"access log TAMPERED: {len(result.breaks)} break(s) in {result.entries_checked} entries", err=True)
    raise typer.Exit(1)


@app.command("seal")
def seal() -> None:
    """Add every pending entry to the Merkle tree now (the web server does this continuously)."""
    with session_scope() as session:
        sealed = services.seal_all(session)
    typer.echo(f"{sealed} entries sealed")


@app.command("checkpoint")
def checkpoint() -> None:
    """Seal what is pending, then sign, timestamp, store and publish a checkpoint of the tree."""
    with session_scope() as session:
        services.seal_all(session)
        row = transparency.checkpoint_now(session)
        if row is None:
            typer.echo("no new entries since the last checkpoint")
            return
        typer.echo(str(transparency.checkpoint_dir() / f"checkpoint.{row.tree_size}"))


@app.command("key")
def key() -> None:
    """Print the log's verifier key (publish it; verifiers pass it to --key)."""
    with session_scope() as session:
        typer.echo(transparency.verifier_key(session))


@app.command("verify-inclusion")
def verify_inclusion(
    bundle: Path = typer.Argument(..., exists=True, dir_okay=False, help="A proof bundle (JSON) from the portal"),
    key: str = typer.Option("", "--key", help="The log's published verifier key (else the bundle's own)"),
) -> None:
    """Check offline, without the database, that every entry of a citizen's proof bundle is in the signed log."""
    try:
        result = transparency.verify_inclusion_bundle(json.loads(bundle.read_text(encoding="utf-8")), key or None)
    except (note.NoteError, ValueError, KeyError) as exc:
        typer.echo(f"bundle REFUSED: {exc}", err=True)
        raise typer.Exit(1) from None
    if result.failures:
        for failure in result.failures:
            typer.echo(f"NOT PROVEN: {failure}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{result.verified} entries proven in the log of {result.tree_size} entries")
