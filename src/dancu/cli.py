"""The `dancu` command line: a thin layer over each domain's service functions.

Each domain contributes its own Typer sub-app; this module only assembles them.
"""

from __future__ import annotations

import typer

from dancu import migrate
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


if __name__ == "__main__":
    app()
