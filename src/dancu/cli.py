"""The `dancu` command line: a thin layer over each domain's service functions.

Each domain contributes its own Typer sub-app; this module assembles them and,
in `main`, turns an operator's mistake that surfaces as an exception (a
database never migrated, a bad or unreachable DANCU_DATABASE_URL, a file that
cannot be opened) into one line and exit status 2 instead of a traceback.
Anything else is a defect and keeps its traceback.
"""

from __future__ import annotations

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from dancu import db, migrate
from dancu.config import get_settings
from dancu.crypto import KeyMissingError
from dancu.accounts.cli import app as user_app
from dancu.audit.cli import app as audit_app
from dancu.demo import demo
from dancu.identity.cards.cli import app as card_app
from dancu.identity.eid.cli import app as eid_app
from dancu.identity.oidc.cli import app as oidc_app
from dancu.identity.pki.cli import app as pki_app
from dancu.identity.signing.cli import app as pdf_app
from dancu.linkage.cli import app as linkage_app
from dancu.registry.cli import person_app, quality_app
from dancu.registry.io_cli import export_command, import_command
from dancu.registry.seed_cli import seed
from dancu.units.cli import app as units_app
from dancu.web.cli import serve

app = typer.Typer(help="dancu: population database, identity and public services.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and data migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(person_app, name="person")
app.add_typer(quality_app, name="quality")
app.add_typer(audit_app, name="audit")
app.add_typer(units_app, name="address")
app.add_typer(linkage_app, name="linkage")
app.add_typer(pki_app, name="pki")
app.add_typer(card_app, name="card")
app.add_typer(eid_app, name="eid")
app.add_typer(oidc_app, name="oidc")
app.add_typer(pdf_app, name="pdf")
app.command("demo")(demo)
app.command("import")(import_command)
app.command("export")(export_command)
app.command("seed")(seed)
app.command("serve")(serve)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("heads", help="Alembic revision to upgrade to.")) -> None:
    """Create or upgrade the schema and load reference data (administrative units)."""
    migrate.upgrade(revision=revision)
    typer.echo("database is up to date")


def _database() -> str:
    try:
        return make_url(get_settings().database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return get_settings().database_url


def _schema_behind() -> str | None:
    """What `dancu db upgrade` would fix in the configured database, or None when it is current."""
    with db.get_engine().connect() as connection:
        applied = set(MigrationContext.configure(connection).get_current_heads())
    expected = set(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())
    if not applied:
        return "has no dancu tables yet"
    if applied != expected:
        return "was migrated by an older version of dancu"
    return None


def operator_error(exc: Exception) -> str | None:
    """One line telling the operator what to do about ``exc``, or None when it is a defect."""
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    if isinstance(exc, KeyMissingError):
        return " ".join(str(exc).split())
    if isinstance(exc, NoSuchModuleError):
        return f"DANCU_DATABASE_URL {_database()!r} names an unknown database driver"
    if isinstance(exc, ArgumentError):
        try:
            make_url(get_settings().database_url)
        except ArgumentError:
            return f"DANCU_DATABASE_URL {_database()!r} is not a database URL (e.g. postgresql://user@host/dancu)"
        return None
    if isinstance(exc, DBAPIError):
        try:
            behind = _schema_behind()
        except DBAPIError as unreachable:
            reason = str(unreachable.orig).strip().splitlines()[0] if unreachable.orig else ""
            return f"cannot use the database {_database()}: {reason}"
        if behind:
            return f"the database {_database()} {behind}: run `dancu db upgrade` first"
    return None


def main() -> None:
    """The `dancu` console script."""
    try:
        status = app(standalone_mode=False)
    except typer.TyperException as exc:
        # A usage mistake (a missing file, an unknown option): one line, not
        # a framed box. `dancu` or a group alone has shown its help already.
        if message := exc.format_message().strip():
            typer.echo(f"error: {message}", err=True)
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        typer.echo("aborted", err=True)
        raise SystemExit(1) from None
    except Exception as exc:
        message = operator_error(exc)
        if message is None:
            raise
        typer.echo(f"error: {message}", err=True)
        raise SystemExit(2) from None
    # the exit status of a command that ended with typer.Exit
    raise SystemExit(status if isinstance(status, int) else 0)


if __name__ == "__main__":
    main()
