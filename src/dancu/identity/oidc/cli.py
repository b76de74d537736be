"""`dancu oidc ...`: signing keys and relying parties for operators."""

from __future__ import annotations

import datetime as dt
import json

import typer

from dancu.accounts.cli_actor import cli_actor
from dancu.db import session_scope
from dancu.identity.oidc import services

app = typer.Typer(help="OpenID Connect provider: signing keys and relying parties.", no_args_is_help=True)


@app.command("rotate-keys")
def rotate_keys(propagation_hours: float = typer.Option(
        services.KEY_PROPAGATION.total_seconds() / 3600, min=0,
        help="Hours the new key is published before it signs (relying parties cache the key set).")) -> None:
    """Publish a new signing key; the current one keeps covering the tokens it signed, then retires."""
    with session_scope() as session:
        key = services.rotate_keys(session, dt.timedelta(hours=propagation_hours))
        typer.echo(f"new key {key.kid} published, signs from {key.activates_at:%Y-%m-%d %H:%M} UTC")


@app.command("keys")
def keys() -> None:
    """Every signing key with its schedule."""
    with session_scope() as session:
        for key in services.key_schedule(session):
            retires = f"{key.retires_at:%Y-%m-%d %H:%M}" if key.retires_at else "-"
            typer.echo(f"{key.kid}  signs from {key.activates_at:%Y-%m-%d %H:%M}  retires {retires}")


@app.command("add-client")
def add_client(
    name: str,
    redirect_uri: list[str] = typer.Option(..., help="Exact redirect URI (repeat for several)"),
    post_logout_redirect_uri: list[str] = typer.Option([], help="Exact post-logout URI (repeat for several)"),
    claim: list[str] = typer.Option([], help=f"Claim it may ask for: {', '.join(services.ALL_CLAIMS)}"),
    min_level: int = typer.Option(1, min=1, max=2),
    public: bool = typer.Option(False, help="A browser or mobile app without a secret (PKCE only)"),
    sector_identifier: str | None = typer.Option(None),
) -> None:
    """Register a relying party; prints its credentials as JSON (the secret is shown only now)."""
    with session_scope() as session:
        try:
            client, secret = services.register_client(session, cli_actor(), services.Registration(
                name=name, redirect_uris=redirect_uri, post_logout_redirect_uris=post_logout_redirect_uri,
                allowed_claims=claim, min_level=min_level, public=public, sector_identifier=sector_identifier))
        except services.ClientError as exc:
            raise typer.BadParameter(str(exc)) from exc
        typer.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))


@app.command("clients")
def clients() -> None:
    """Registered relying parties."""
    with session_scope() as session:
        for client in services.list_clients(session, cli_actor()):
            kind = "public" if client.public else "confidential"
            state = "active" if client.active else "suspended"
            typer.echo(f"{client.client_id}  {client.name}  {kind}  level>={client.min_level}  {state}  "
                       f"{' '.join(client.redirect_uris)}")


@app.command("purge")
def purge() -> None:
    """Delete expired authorization codes and tokens (run daily)."""
    with session_scope() as session:
        codes, tokens = services.purge_expired(session)
    typer.echo(f"deleted {codes} code(s) and {tokens} token(s)")
