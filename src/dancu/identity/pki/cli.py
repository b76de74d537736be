"""`dancu pki ...`: the country CA, issued certificates and revocation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import hashes, serialization

from dancu.db import session_scope
from dancu.identity.pki import services

app = typer.Typer(help="The dancu country CA: certificates, revocation, CRL.", no_args_is_help=True)


def _parse_serial(serial: str) -> int:
    try:
        return int(serial.lower().removeprefix("0x"), 16)
    except ValueError:
        raise typer.BadParameter(f"{serial!r} is not a hexadecimal serial number") from None


@app.command("init")
def init(ca_out: Annotated[Path | None, typer.Option("--ca-out", help="Also write the CA certificate (PEM) here.")]
         = None) -> None:
    """Create the country CA (if it does not exist yet), the state signers and the first CRL."""
    with session_scope() as session:
        ca = services.country_ca(session)
        services.state_signer(session)
        services.tsa_signer(session)
        services.current_crl(session)
    if ca_out is not None:
        ca_out.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    typer.echo(f"country CA: {ca.subject.rfc4514_string()}")
    typer.echo(f"  SHA-256 fingerprint {ca.fingerprint(hashes.SHA256()).hex(':')}")
    typer.echo(f"  valid until {ca.not_valid_after_utc:%Y-%m-%d}; published at {services.public_base_url()}/pki/ca.pem")


@app.command("show")
def show(purpose: Annotated[str | None, typer.Option(help="Only certificates with this purpose.")] = None,
         limit: Annotated[int, typer.Option(min=1, max=10000)] = 50) -> None:
    """List issued certificates, newest first."""
    with session_scope() as session:
        ca = services.country_ca(session)
        rows = services.certificates(session, purpose=purpose, limit=limit)
    typer.echo(f"CA {ca.subject.rfc4514_string()}  SHA-256 {ca.fingerprint(hashes.SHA256()).hex(':')}")
    for info in rows:
        status = f"REVOKED {info.revoked_at:%Y-%m-%d %H:%M} ({info.revocation_reason})" if info.revoked_at else "valid"
        typer.echo(f"{info.serial_hex:>40}  {info.profile:<16} {info.purpose:<32} "
                   f"until {info.not_after:%Y-%m-%d}  {status}  {info.subject}")


@app.command("revoke")
def revoke(serial: Annotated[str, typer.Argument(help="Serial number (hex) from `dancu pki show`.")],
           reason: Annotated[str, typer.Option(help=f"One of: {', '.join(services.REVOCATION_REASONS)}.")]
           = "unspecified") -> None:
    """Revoke a certificate and publish a new CRL."""
    try:
        with session_scope() as session:
            info = services.revoke(session, _parse_serial(serial), reason)
    except services.PkiError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"revoked {info.serial_hex} ({info.subject}) reason {info.revocation_reason}; new CRL published")
