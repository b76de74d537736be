"""`dancu pdf ...`: verify any PDF against the dancu CA and CRL; seal a PDF as the state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dancu.db import session_scope
from dancu.i18n import t
from dancu.identity.signing import services

app = typer.Typer(help="Signed PDF documents (PAdES).", no_args_is_help=True)

_Lang = Annotated[str, typer.Option("--lang", help="Language of the verdict: vi or en.")]


def _read(path: Path) -> bytes:
    if not path.is_file():
        typer.echo(f"error: {path} is not a file", err=True)
        raise typer.Exit(2)
    data = path.read_bytes()
    if len(data) > services.MAX_PDF_BYTES:
        typer.echo(f"error: {path} is larger than {services.MAX_PDF_BYTES // (1024 * 1024)} MB", err=True)
        raise typer.Exit(2)
    return data


@app.command("verify")
def verify(file: Annotated[Path, typer.Argument(help="The PDF to check.")],
           lang: _Lang = "vi",
           as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Check every signature: signer, time, integrity, revocation. Exit 0 only if all are valid."""
    lang = lang if lang in ("vi", "en") else "vi"
    data = _read(file)
    with session_scope() as session:
        result = services.verify_pdf(session, data)
    if as_json:
        typer.echo(json.dumps({
            "valid": result.valid, "verdict": result.verdict, "sha256": result.sha256,
            "signatures": [{
                "field": s.field_name, "signer": s.signer, "signer_serial": format(s.signer_serial or 0, "x"),
                "signed_at": s.signed_at.isoformat() if s.signed_at else None, "timestamped": s.timestamped,
                "intact": s.intact, "trusted": s.trusted, "revoked": s.revoked,
                "revoked_at": s.revoked_at.isoformat() if s.revoked_at else None, "valid": s.valid,
                "problem": s.problem} for s in result.signatures],
        }, ensure_ascii=False, indent=2))
    else:
        title = t("signing.verdict.valid_title" if result.valid else "signing.verdict.invalid_title", lang)
        typer.echo(f"{file}: {title}")
        typer.echo("  " + (t("signing.verdict.valid", lang, n=len(result.signatures)) if result.valid
                           else t(f"signing.verdict.{result.verdict}", lang)))
        for number, s in enumerate(result.signatures, 1):
            state = t("signing.status.valid", lang) if s.valid else t(f"signing.verdict_short.{s.problem}", lang)
            when = s.signed_at.isoformat(timespec="seconds") if s.signed_at else "?"
            stamp = t("signing.fact.timestamped" if s.timestamped else "signing.fact.not_timestamped", lang)
            typer.echo(f"  {t('signing.verify.signature_n', lang, n=number)}: {state}")
            typer.echo(f"    {t('signing.fact.signer', lang)}: {s.signer}")
            typer.echo(f"    {t('signing.fact.time', lang)}: {when} ({stamp})")
    if not result.valid:
        raise typer.Exit(1)


@app.command("seal")
def seal(file: Annotated[Path, typer.Argument(help="The PDF to seal.")],
         out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the sealed PDF.")],
         reason: Annotated[str, typer.Option(help="Shown in the signature.")] = "Kết quả giải quyết thủ tục hành chính") \
        -> None:
    """Seal a PDF with the state's certificate (PAdES B-LT, dancu timestamp)."""
    data = _read(file)
    try:
        with session_scope() as session:
            signed = services.sign_pdf_as_state(session, data, reason)
    except services.SignatureInputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    out.write_bytes(signed)
    typer.echo(f"sealed {file} -> {out} ({len(signed)} bytes)")
