"""`dancu eid ...`: citizen accounts for operators (create for the demo, unlock, send the outbox)."""

from __future__ import annotations

import typer

from dancu.db import session_scope
from dancu.i18n import t
from dancu.identity.eid import outbox
from dancu.identity.eid import services as eid

app = typer.Typer(help="Citizen e-ID accounts.", no_args_is_help=True)


@app.command("create")
def create(
    pin: str,
    phone: str | None = typer.Option(None, help="Mobile number bound as verified"),
    level: int = typer.Option(1, min=1, max=2),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Create a verified account for the person with this PIN (demo data, migration from another system)."""
    with session_scope() as session:
        try:
            account_id = eid.create_account(session, pin=pin, phone=phone, password=password, level=level)
        except eid.EidError as exc:
            raise typer.BadParameter(t(exc.key, "en", **exc.values)) from exc
        except LookupError as exc:
            raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"created e-ID account {account_id} at level {level} for {pin}")


@app.command("unlock")
def unlock(pin: str) -> None:
    """Lift a lockout after repeated failures (the citizen called the help desk)."""
    with session_scope() as session:
        if not eid.unlock(session, pin):
            raise typer.BadParameter(f"no e-ID account for {pin}")
    typer.echo(f"unlocked {pin}")


@app.command("deliver")
def deliver() -> None:
    """Send queued notifications through the configured sink (DANCU_EID_SINK), retrying failed ones."""
    with session_scope() as session:
        sent = outbox.deliver_pending(session)
    typer.echo(f"sent {sent} message(s)")
