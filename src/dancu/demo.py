"""`dancu demo`: a synthetic Ho Chi Minh City on this machine, served in the browser.

Idempotent: a second run finds the city and the demo accounts in place and only
starts the server again. The demo passwords are random, kept in a 0600 file in
the data directory, and printed at every start.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import typer

from dancu import migrate
from dancu.accounts import services as accounts
from dancu.accounts.models import Role
from dancu.accounts.services import SYSTEM
from dancu.config import get_settings
from dancu.db import session_scope
from dancu.identity.eid import services as eid
from dancu.registry import services as registry
from dancu.registry.models import VitalStatus
from dancu.registry.schemas import PersonQuery, PersonSummary
from dancu.registry.seed_cli import seed
from dancu.units import services as units

DEMO_PROVINCE = "79"  # Thành phố Hồ Chí Minh
LOGINS_FILE = "demo-logins.json"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    display_name: str
    scope: str  # "nationwide", "province" or "commune"


DEMO_ACCOUNTS = (
    DemoAccount("quantri", Role.ADMIN, "Quản trị hệ thống", "nationwide"),
    DemoAccount("canbo.tp", Role.REGISTRAR, "Cán bộ đăng ký cư trú, Công an TP.HCM", "province"),
    DemoAccount("canbo.phuong", Role.REGISTRAR, "Cán bộ đăng ký cư trú, Công an phường", "commune"),
    DemoAccount("kiemtra", Role.AUDITOR, "Kiểm tra viên bảo vệ dữ liệu cá nhân", "nationwide"),
)


def _scope_units(session) -> dict[str, tuple[int | None, str]]:
    """(unit id, label) for each scope: the commune is the one with the most residents."""
    province = next(u for u in units.list_provinces(session) if u.code == DEMO_PROVINCE)
    report = registry.quality_report(session, SYSTEM, DEMO_PROVINCE)
    busiest = next((row for row in report.rows if row.unit_id is not None), None)
    commune_id = busiest.unit_id if busiest else units.list_communes(session, DEMO_PROVINCE)[0].id
    return {
        "nationwide": (None, "toàn quốc / nationwide"),
        "province": (province.id, units.unit_label(province)),
        "commune": (commune_id, units.unit_label(session, commune_id)),
    }


def _read_logins(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_private(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    path.chmod(0o600)


def ensure_demo_accounts(known: dict[str, str]) -> list[tuple[DemoAccount, str, str]]:
    """Create the staff demo accounts (or give them a new password when ``known`` lost it).

    Returns (account, password, scope label) for each.
    """
    out = []
    with session_scope() as session:
        scopes = _scope_units(session)
        for account in DEMO_ACCOUNTS:
            unit_id, label = scopes[account.scope]
            password = known.get(account.username)
            if not accounts.user_exists(session, account.username):
                password = password or secrets.token_urlsafe(9)
                accounts.create_user(session, account.username, password, account.role,
                                     account.display_name, unit_id)
            elif password is None:
                password = secrets.token_urlsafe(9)
                accounts.set_password(session, account.username, password)
            else:
                # A previous run set it; lift a lockout left by someone trying passwords.
                accounts.set_password(session, account.username, password)
            out.append((account, password, label))
    return out


# e-ID citizens: one proofed in person (level 2: signatures, "log in with" at
# any level), one registered online (level 1). Their logins are PIN + password.
DEMO_CITIZEN_LEVELS = (2, 1)
CITIZEN_KEY = "citizen:"


def _demo_citizen_candidates(session, commune_id: int) -> list[PersonSummary]:
    """Living adults of the demo commune whose records are clean, born 1970-1999."""
    found: list[PersonSummary] = []
    for year in range(1985, 1970, -1):
        page = registry.search_persons(session, SYSTEM, PersonQuery(birth_year=year, unit_id=commune_id),
                                       "demo: choose persons for demo e-ID accounts")
        found += [p for p in page.items if p.pin and p.status is VitalStatus.ALIVE and not p.quality_issues]
        if len(found) >= len(DEMO_CITIZEN_LEVELS):
            break
    return found


def ensure_demo_citizens(known: dict[str, str]) -> list[tuple[PersonSummary, int, str]]:
    """e-ID accounts for demo citizens: (person, level, password) each; kept across runs."""
    out = []
    with session_scope() as session:
        commune_id, _ = _scope_units(session)["commune"]
        kept = {key.removeprefix(CITIZEN_KEY): password for key, password in known.items()
                if key.startswith(CITIZEN_KEY)}
        candidates = _demo_citizen_candidates(session, commune_id)
        for person, level in zip(candidates, DEMO_CITIZEN_LEVELS, strict=False):
            account = eid.account_for_person(session, person.id)
            password = kept.get(person.pin) or secrets.token_urlsafe(12)
            if account is None:
                eid.create_account(session, pin=person.pin, phone=None, password=password, level=level)
            elif person.pin not in kept:
                continue  # an account someone made by hand: not ours to reset
            out.append((person, level, password))
    return out


def demo(
    people: int = typer.Option(3000, "--people", min=100, max=200_000,
                               help="Persons in the synthetic city (only when the database is empty)."),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the web server (--no-serve: only prepare)."),
) -> None:
    """Prepare a synthetic Ho Chi Minh City and serve the registrar console."""
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/"
    if serve:
        # The demo's own address is its public URL and OpenID Connect issuer, unless configured. Set before
        # anything is made: certificates name it (CRL, CA issuer) and the access log's origin derives from it.
        os.environ.setdefault("DANCU_PUBLIC_URL", url.rstrip("/"))
        get_settings.cache_clear()
    settings = get_settings()
    typer.echo(f"database: {settings.database_url.split('@')[-1]}")
    migrate.upgrade()
    with session_scope() as session:
        present = registry.population_size(session)
    if present:
        typer.echo(f"the register already holds {present:,} persons: not seeding again")
    else:
        # 3% of rows carry realistic errors, so the quality report has something to show.
        seed(people=people, seed=2025, province=DEMO_PROVINCE, errors=0.03, out=None, truth=None)

    logins_path = settings.data_dir / LOGINS_FILE
    known = _read_logins(logins_path)
    logins = ensure_demo_accounts(known)
    citizens = ensure_demo_citizens(known)
    _write_private(logins_path, json.dumps(
        {**{a.username: p for a, p, _ in logins},
         **{CITIZEN_KEY + person.pin: password for person, _, password in citizens}}, indent=2))
    width = max(len(a.username) for a, _, _ in logins)
    typer.echo("")
    typer.secho(f"  dancu demo: open {url}", bold=True)
    typer.echo(f"  API docs: {url}api/docs")
    typer.echo("  demo logins (also in " + str(logins_path) + ", readable only by you):")
    for account, password, scope in logins:
        typer.echo(f"    {account.username:<{width}}  {password}  {account.role.value:<9}  {scope}")
    if citizens:
        typer.echo(f"  citizen e-ID logins at {url}eid/login (PIN, password):")
        for person, level, password in citizens:
            typer.echo(f"    {person.pin}  {password}  level {level}  {person.full_name}")
    typer.echo("  all data is synthetic. Ctrl+C stops the server.\n")
    if serve:
        from dancu.web.cli import serve as run_server

        run_server(host=host, port=port, reload=False)
