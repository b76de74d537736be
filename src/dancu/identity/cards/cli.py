"""`dancu card ...`: offline verification, trust files for verifiers, and the mobile team's offline tools."""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization

from dancu.config import get_settings
from dancu.db import session_scope
from dancu.identity.cards import chip, services
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.identity.pki import services as pki

SEEN_FILE = "card-status-seen.json"

app = typer.Typer(help="Identity cards: offline verification and mobile-team offline capture.",
                  no_args_is_help=True)


@app.command("verify")
def verify(
    file: Annotated[Path | None, typer.Argument(help="A chip data file (JSON) read from the card.")] = None,
    qr: Annotated[str | None, typer.Option("--qr", help="The text of the card's QR code.")] = None,
    ca: Annotated[Path, typer.Option(help="The country CA certificate (PEM), from /pki/ca.pem.")] = Path("ca.pem"),
    status: Annotated[Path, typer.Option(help="The card status list, from /cards/status.jws.")]
    = Path("card-status.jws"),
    crl: Annotated[Path | None, typer.Option(help="The CA's CRL (DER or PEM), from /pki/crl.der.")] = None,
    seen: Annotated[Path | None, typer.Option(
        help="Where this verifier remembers the newest status list it used, to refuse older ones "
             "[default: card-status-seen.json in the data directory].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check a card offline: signature, signer under the CA, not revoked, not expired. Needs no database.

    Exit status 0: valid; 1: not valid; 2: the inputs cannot be used."""
    if (file is None) == (qr is None):
        raise typer.BadParameter("give a chip data FILE or --qr TEXT (one of them)")
    try:
        trust = chip.load_trust(ca.read_bytes(), status.read_text(), crl.read_bytes() if crl else None)
        chip.SeenStatusLists(seen or get_settings().data_dir / SEEN_FILE).admit(trust)
        data = file.read_bytes() if file is not None else qr
    except (OSError, chip.VerificationInputError) as exc:
        typer.echo(f"cannot verify: {exc}", err=True)
        raise typer.Exit(2) from None
    result = chip.verify_any(data, trust)
    if as_json:
        typer.echo(json.dumps({"valid": result.valid, "source": result.source, "problems": result.problems,
                               "document_number": result.document_number, "holder": result.holder},
                              ensure_ascii=False, indent=2))
    else:
        typer.echo(f"{'VALID' if result.valid else 'NOT VALID'} ({result.source}, status list "
                   f"#{trust.status.sequence} of {trust.status.issued_at:%Y-%m-%d %H:%M} UTC)")
        for name in ("doc", "pin", "name", "dob", "sex", "issued", "expires"):
            if result.holder.get(name) is not None:
                typer.echo(f"  {name:8} {result.holder[name]}")
        for problem in result.problems:
            typer.echo(f"  problem: {problem}")
    raise typer.Exit(0 if result.valid else 1)


@app.command("trust-files")
def trust_files(out: Annotated[Path, typer.Argument(help="Directory to write ca.pem, crl.der, card-status.jws")]
                ) -> None:
    """Write what an offline verifier needs, as the web server publishes it."""
    out.mkdir(parents=True, exist_ok=True)
    with session_scope() as session:
        (out / "ca.pem").write_bytes(pki.country_ca(session).public_bytes(serialization.Encoding.PEM))
        (out / "crl.der").write_bytes(pki.current_crl(session).public_bytes(serialization.Encoding.DER))
        (out / "card-status.jws").write_text(services.current_status_list(session))
    typer.echo(f"wrote {out / 'ca.pem'}, {out / 'crl.der'}, {out / 'card-status.jws'}")


@app.command("capture-offline")
def capture_offline(
    package: Annotated[Path, typer.Argument(help="The visit package exported for the team.")],
    queue: Annotated[Path, typer.Argument(help="The capture queue (JSON Lines) to append to.")],
    ca: Annotated[Path, typer.Option(help="The country CA certificate (PEM) the package must be signed under.")]
    = Path("ca.pem"),
    device_id: Annotated[str, typer.Option(help="The capture device's id.")] = "sim-0001",
) -> None:
    """Capture everyone on a visit list with the simulated device, without network or database.

    Each capture gets its own capture_id, the key that makes its upload idempotent; people
    already in the queue are skipped, so the command can be run again after an interruption."""
    try:
        body = services.check_package(json.loads(package.read_text()), ca.read_bytes())
    except (OSError, ValueError) as exc:
        typer.echo(f"cannot use the package: {exc}", err=True)
        raise typer.Exit(2) from None
    done = set()
    if queue.exists():
        done = {json.loads(line)["entry_id"] for line in queue.read_text().splitlines() if line.strip()}
    device = SimulatedCaptureDevice(device_id)
    added = 0
    with queue.open("a") as handle:
        for entry in body["entries"]:
            if entry["entry_id"] in done:
                continue
            capture = device.capture(f"{body['package_id']}:{entry['entry_id']}")
            handle.write(json.dumps({
                "capture_id": str(uuid.uuid4()), "package_id": body["package_id"], "entry_id": entry["entry_id"],
                "captured_at": dt.datetime.now(dt.UTC).isoformat(), "device_id": capture.device_id,
                "face_png": base64.b64encode(capture.face.image_png).decode(), "face_quality": capture.face.quality,
                "fingerprints": [{"finger": f.finger, "template": base64.b64encode(f.template).decode(),
                                  "quality": f.quality} for f in capture.fingerprints],
            }) + "\n")
            added += 1
    typer.echo(f"{added} captured, {len(done)} already in {queue}")


@app.command("upload")
def upload(
    queue: Annotated[Path, typer.Argument(help="The capture queue (JSON Lines).")],
    url: Annotated[str, typer.Option(help="The dancu server.")] = "http://localhost:8000",
    token: Annotated[str, typer.Option(envvar="DANCU_TOKEN", help="API token (`dancu user token NAME`).")] = "",
) -> None:
    """Send every queued capture; a capture sent before is recognised by its capture_id and not stored twice."""
    failures = 0
    for line in queue.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        request = urllib.request.Request(
            f"{url.rstrip('/')}/api/v1/cards/captures", data=line.encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                     "Idempotency-Key": item["capture_id"]})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())
            state = "already stored" if answer["replayed"] else "stored"
            typer.echo(f"entry {item['entry_id']}: {state} as application #{answer['application_id']}")
        except urllib.error.HTTPError as exc:
            failures += 1
            typer.echo(f"entry {item['entry_id']}: refused ({exc.code}) {exc.read().decode(errors='replace')}",
                       err=True)
    raise typer.Exit(1 if failures else 0)
