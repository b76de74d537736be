"""`dancu user ...`: staff accounts."""

from __future__ import annotations

import typer

from dancu.accounts import services
from dancu.accounts.models import Role
from dancu.db import session_scope

app = typer.Typer(help="Staff accounts and API tokens.", no_args_is_help=True)


@app.command("add")
def add(
    username: str,
    role: Role = typer.Option(..., help="registrar, auditor or admin"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    display_name: str = typer.Option(""),
    scope_unit_id: int | None = typer.Option(None, help="admin_unit id the registrar is limited to"),
) -> None:
    """Create a staff account."""
    with session_scope() as session:
        try:
            services.create_user(session, username, password, role, display_name, scope_unit_id)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"created {role.value} {username}")


@app.command("password")
def password(
    username: str,
    new_password: str = typer.Option(..., "--password", prompt="New password", hide_input=True,
                                     confirmation_prompt=True),
) -> None:
    """Set a new password (also lifts the account's login delays)."""
    with session_scope() as session:
        try:
            services.set_password(session, username, new_password)
        except (ValueError, LookupError) as exc:
            raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"password of {username} changed")


@app.command("unlock")
def unlock(username: str) -> None:
    """Lift the login delays that failed attempts put on an account (its usual sources stay known)."""
    with session_scope() as session:
        try:
            services.unlock(session, username)
        except LookupError as exc:
            raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"login delays of {username} lifted")


@app.command("token")
def token(username: str, password: str = typer.Option(..., prompt=True, hide_input=True)) -> None:
    """Issue an API bearer token (valid 12 hours)."""
    with session_scope() as session:
        try:
            # The shell of the server is one source of its own, apart from any network address.
            actor = services.authenticate(session, username, password, "cli")
        except services.AuthError as exc:
            raise typer.BadParameter(str(exc)) from exc
        typer.echo(services.issue_token(session, actor))


@app.command("list")
def list_users() -> None:
    with session_scope() as session:
        for user in services.list_users(session):
            typer.echo(f"{user.username}\t{user.role}\t{user.scope_unit_id or '-'}\t{user.display_name}")
