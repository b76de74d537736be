"""Offline card verifications per second on one core: chip data and QR, against a bare ECDSA verify.

    python bench/bench_cards.py [--cards 200] [--revoked 100000] [--seconds 3]

Setup (not timed): a freshly migrated SQLite database in a temporary directory,
the real country CA and document signers from ``dancu.identity.pki`` (keys in
the sealed keystore), ``--cards`` distinct cards signed through the keystore, a
status list with ``--revoked`` revoked card numbers, and the trust material
loaded once as an offline verifier does (``chip.load_trust``; its time is
reported too, it is paid once per status-list refresh).

Timed, pinned to one CPU with ``os.sched_setaffinity``, in the same run:

- baseline: ``cryptography``'s ECDSA P-256 / SHA-256 verify of the same QR
  signing input and signature, with the public key already loaded: the cost
  of the signature alone;
- ``chip.verify_qr``: JWS parse, signer lookup by kid, signer certificate checks
  (issued by the CA, name, key usage, validity, CRL), signature (joserfc),
  revocation and expiry;
- ``chip.verify_chip``: the same for the chip data file, plus the x5c certificate
  parse and the data-group hashes.

Each is run for ``--seconds`` per round, 3 rounds; the best round counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import write_result  # noqa: E402

ROUNDS = 3


def _setup(cards: int, revoked: int):
    data_dir = Path(tempfile.mkdtemp(prefix="dancu-bench-cards-"))
    os.environ["DANCU_DATA_DIR"] = str(data_dir)
    os.environ["DANCU_DATABASE_URL"] = f"sqlite:///{data_dir / 'cards.sqlite3'}"
    os.environ["DANCU_KEY_FILE"] = str(data_dir / "keys" / "master.key")
    from cryptography.hazmat.primitives import serialization

    from dancu import crypto, migrate
    from dancu.db import session_scope
    from dancu.identity.cards import chip, services
    from dancu.identity.pki import services as pki

    crypto.ensure_master_key()
    migrate.upgrade()
    with session_scope() as session:
        ca_pem = pki.country_ca(session).public_bytes(serialization.Encoding.PEM)
        crl_der = pki.current_crl(session).public_bytes(serialization.Encoding.DER)
        chip_cert, sign_chip = services.signer(session, services.CHIP_SIGNER)
        status_cert, sign_status = services.signer(session, services.STATUS_SIGNER)
        today = dt.date.today()
        made = []
        for number in range(cards):
            data = chip.CardData(
                document_number=f"C{number + 1:011d}", pin=f"079{number % 4}90{number:06d}",
                full_name="Nguyễn Thị Minh Khai", birth_date="17/05/1990", sex="F", nationality="VNM",
                hometown="Phường Sài Gòn, Thành phố Hồ Chí Minh",
                residence="12 Lê Lợi, Phường Sài Gòn, Thành phố Hồ Chí Minh",
                issued_on=today, expires_on=dt.date(today.year + 10, 5, 17))
            face = f"synthetic face {number}".encode() * 40
            made.append((chip.build_chip_data(data, face, chip_cert, sign_chip),
                         chip.build_qr_text(data, face, chip_cert, sign_chip)))
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        revoked_cards = [chip.RevokedCard(f"C9{n:010d}", "lost", today) for n in range(revoked)]
        status = chip.build_status_list(sequence=1, issued_at=now, next_update=now + services.STATUS_LIFETIME,
                                        revoked=revoked_cards, chip_signers=[chip_cert], signer_cert=status_cert,
                                        sign_der=sign_status)
    return ca_pem, crl_der, status, made, chip_cert


def _rate(work, items: list, seconds: float) -> float:
    """Best of ROUNDS rounds, in operations per second."""
    best = 0.0
    for _ in range(ROUNDS):
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for item in items:
                work(item)
            done += len(items)
        best = max(best, done / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--revoked", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--name", default="cards")
    args = parser.parse_args()

    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from dancu.identity.cards import chip

    ca_pem, crl_der, status, made, chip_cert = _setup(args.cards, args.revoked)
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})

    started = time.perf_counter()
    trust = chip.load_trust(ca_pem, status, crl_der)
    load_seconds = time.perf_counter() - started
    assert all(chip.verify_chip(c, trust).valid and chip.verify_qr(q, trust).valid for c, q in made)

    public_key = chip_cert.public_key()
    signed = []
    for _, qr in made:
        signing_input, _, signature = qr.rpartition(".")
        raw = base64.urlsafe_b64decode(signature + "==")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        signed.append((signing_input.encode(), der))

    def bare_verify(item):
        public_key.verify(item[1], item[0], ec.ECDSA(hashes.SHA256()))

    baseline = _rate(bare_verify, signed, args.seconds)
    qr_rate = _rate(lambda qr: chip.verify_qr(qr, trust), [q for _, q in made], args.seconds)
    chip_rate = _rate(lambda c: chip.verify_chip(c, trust), [c for c, _ in made], args.seconds)
    result = {
        "cards": args.cards, "revoked_in_status_list": args.revoked, "core": core,
        "status_list_kb": round(len(status) / 1024, 1), "qr_chars": round(sum(len(q) for _, q in made) / len(made)),
        "chip_data_bytes": round(sum(len(c.encode()) for c, _ in made) / len(made)),
        "load_trust_ms": round(1000 * load_seconds, 1),
        "baseline_ecdsa_verify_per_s": round(baseline),
        "qr_verify_per_s": round(qr_rate), "chip_verify_per_s": round(chip_rate),
        "qr_cost_over_baseline": round(baseline / qr_rate, 2),
        "chip_cost_over_baseline": round(baseline / chip_rate, 2),
    }
    path = write_result(args.name, result)
    for key, value in result.items():
        print(f"{key:30} {value}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
