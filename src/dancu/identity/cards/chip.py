"""The card's signed data, its QR, the card status list, and offline verification.

Formats (all JSON, signatures are JWS compact serialization, RFC 7515, ES256):

- chip data ``dancu-card-chip/1``: ICAO 9303-like data groups (DG1 personal data,
  DG2 the face image's SHA-256 and format) and a document security object (SOD),
  a JWS whose payload holds the SHA-256 of every data group and whose ``x5c``
  header carries the document-signer certificate (issued by the country CA).
- QR: one JWS with short keys and ``kid`` (the document signer's certificate
  thumbprint) instead of the certificate, to stay small enough to print.
- card status list ``dancu-card-status/1``: a JWS signed by its own document signer
  (``x5c``) listing revoked card numbers and the card-chip signer certificates
  that QR verifiers resolve ``kid`` against.

Verification needs only the CA certificate, the status list (and optionally the
PKI's CRL): nothing here touches a database. Signing goes through a callable
that returns a DER ECDSA signature, which is what a ``KeyStore`` (or an HSM)
gives; verification is done by joserfc.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

CHIP_FORMAT = "dancu-card-chip/1"
SOD_TYPE = "dancu-sod+jws"
QR_TYPE = "dc-qr"
STATUS_TYPE = "dancu-card-status+jws"
CHIP_SIGNER_CN = "dancu Document Signer (card-chip)"
STATUS_SIGNER_CN = "dancu Document Signer (card-status)"
VISIT_SIGNER_CN = "dancu Document Signer (card-visit)"
ALGORITHM = "ES256"
# Inputs larger than this are refused before parsing: a real chip file is a few kB.
MAX_INPUT_BYTES = 64 * 1024

DerSigner = Callable[[bytes], bytes]


class VerificationInputError(ValueError):
    """The trust material (CA certificate, status list, CRL) is unusable; the message says why."""

    code = "cards.trust_material_unusable"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def thumbprint(cert: x509.Certificate) -> str:
    return _b64url(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:12])


def sign_compact(header: dict, payload: bytes, sign_der: DerSigner) -> str:
    """RFC 7515 compact serialization; ES256 wants r||s, the keystore gives DER."""
    signing_input = f"{_b64url(canonical(header))}.{_b64url(payload)}"
    r, s = decode_dss_signature(sign_der(signing_input.encode()))
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _cert_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


# ---- producing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardData:
    """What is printed on the card and written to DG1."""

    document_number: str
    pin: str
    full_name: str
    birth_date: str  # dd/mm/yyyy, or mm/yyyy / yyyy for partial dates
    sex: str  # "M" / "F" / ""
    nationality: str
    hometown: str
    residence: str
    issued_on: dt.date
    expires_on: dt.date | None  # None: valid for life

    def dg1(self) -> dict:
        return {
            "doc": self.document_number, "pin": self.pin, "name": self.full_name, "dob": self.birth_date,
            "sex": self.sex, "nat": self.nationality, "hometown": self.hometown, "residence": self.residence,
            "issued": self.issued_on.isoformat(), "expires": self.expires_on.isoformat() if self.expires_on else None,
        }


def build_chip_data(card: CardData, face_png: bytes | None, signer_cert: x509.Certificate,
                    sign_der: DerSigner) -> str:
    data_groups = {"DG1": canonical(card.dg1())}
    if face_png is not None:
        data_groups["DG2"] = canonical({"face_sha256": hashlib.sha256(face_png).hexdigest(), "format": "image/png"})
    sod_payload = {
        "v": 1, "doc": card.document_number, "hash": "SHA-256",
        "dg": {name: hashlib.sha256(value).hexdigest() for name, value in data_groups.items()},
    }
    sod = sign_compact({"alg": ALGORITHM, "typ": SOD_TYPE, "x5c": [_cert_b64(signer_cert)]}, canonical(sod_payload),
                       sign_der)
    return json.dumps({"format": CHIP_FORMAT,
                       "data_groups": {name: _b64url(value) for name, value in data_groups.items()},
                       "sod": sod}, ensure_ascii=False, indent=1)


def build_qr_text(card: CardData, face_png: bytes | None, signer_cert: x509.Certificate,
                  sign_der: DerSigner) -> str:
    payload = {"d": card.document_number, "p": card.pin, "n": card.full_name, "b": card.birth_date, "s": card.sex,
               "i": card.issued_on.isoformat(), "e": card.expires_on.isoformat() if card.expires_on else None}
    if face_png is not None:
        payload["f"] = hashlib.sha256(face_png).hexdigest()[:16]  # ties the QR to the chip's DG2
    return sign_compact({"alg": ALGORITHM, "typ": QR_TYPE, "kid": thumbprint(signer_cert)}, canonical(payload),
                        sign_der)


@dataclass(frozen=True)
class RevokedCard:
    document_number: str
    reason: str
    revoked_on: dt.date


def build_status_list(*, sequence: int, issued_at: dt.datetime, next_update: dt.datetime,
                      revoked: Iterable[RevokedCard], chip_signers: Iterable[x509.Certificate],
                      signer_cert: x509.Certificate, sign_der: DerSigner) -> str:
    payload = {
        "v": 1, "seq": sequence, "iat": issued_at.isoformat(), "nxt": next_update.isoformat(),
        "revoked": sorted([r.document_number, r.reason, r.revoked_on.isoformat()] for r in revoked),
        "signers": [_cert_b64(cert) for cert in chip_signers],
    }
    return sign_compact({"alg": ALGORITHM, "typ": STATUS_TYPE, "x5c": [_cert_b64(signer_cert)]},
                        canonical(payload), sign_der)


# ---- verifying ---------------------------------------------------------------------------------

MAX_STATUS_LIST_BYTES = 256 * 1024 * 1024


def _registry() -> JWSRegistry:
    registry = JWSRegistry(algorithms=[ALGORITHM])
    # x5c carries a whole certificate, and a status list names every revoked card.
    registry.max_header_length = 8 * 1024
    registry.max_payload_length = MAX_STATUS_LIST_BYTES
    return registry


@lru_cache(maxsize=64)
def _public_jwk(der: bytes) -> ECKey:
    return ECKey.import_key(x509.load_der_x509_certificate(der).public_key())


_REGISTRY = _registry()
_FINGERPRINT = hashes.SHA256()


def _lasting_problem(cert: x509.Certificate, ca: x509.Certificate, crl: x509.CertificateRevocationList | None,
                     common_name: str) -> str | None:
    """What does not change with time: issued by ``ca``, named ``common_name``, EC, signing usage, not on the CRL."""
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError):
        return "signer_untrusted"
    names = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    if names != [common_name] or not isinstance(cert.public_key(), ec.EllipticCurvePublicKey):
        return "signer_untrusted"
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "signer_untrusted"
    if not usage.digital_signature:
        return "signer_untrusted"
    if crl is not None and crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
        return "signer_revoked"
    return None


def _signer_problem(cert: x509.Certificate, ca: x509.Certificate, crl: x509.CertificateRevocationList | None,
                    common_name: str, at: dt.datetime, checked: dict | None = None) -> str | None:
    """None when ``cert`` is a valid document signer named ``common_name`` under ``ca`` at ``at``.

    ``checked`` remembers the time-independent result per certificate: a verifier sees
    the same few signers on every card, and the CA signature check is an ECDSA verify."""
    key = (cert.fingerprint(_FINGERPRINT), common_name)
    if checked is not None and key in checked:
        problem = checked[key]
    else:
        problem = _lasting_problem(cert, ca, crl, common_name)
        if checked is not None and len(checked) < 64:  # forged signers must not grow it without bound
            checked[key] = problem
    if problem:
        return problem
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        return "signer_expired"
    return None


def compact_parts(token: str) -> tuple[dict, bytes]:
    """Header and payload of a compact JWS, unverified (to find the key to verify it with)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    header = json.loads(_unb64url(parts[0]))
    if not isinstance(header, dict):
        raise ValueError("JWS header is not an object")
    return header, _unb64url(parts[1])


def _verified_payload(token: str, cert: x509.Certificate) -> dict | None:
    try:
        payload = jws.deserialize_compact(token, _public_jwk(cert.public_bytes(serialization.Encoding.DER)),
                                          registry=_REGISTRY).payload
        value = json.loads(payload)
    except (JoseError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def x5c_certificate(header: dict, parsed: dict | None = None) -> x509.Certificate:
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise ValueError("no x5c certificate")
    if parsed is not None and chain[0] in parsed:
        return parsed[chain[0]]
    cert = x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    if parsed is not None and len(parsed) < 64:
        parsed[chain[0]] = cert
    return cert


def _aware(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class StatusList:
    sequence: int
    issued_at: dt.datetime
    next_update: dt.datetime
    revoked: dict[str, tuple[str, str]]  # document number -> (reason, date)
    chip_signers: dict[str, x509.Certificate]  # kid -> certificate


@dataclass(frozen=True)
class Trust:
    """What an offline verifier holds: the CA certificate, a verified status list, optionally the PKI CRL."""

    ca: x509.Certificate
    status: StatusList
    crl: x509.CertificateRevocationList | None = None
    # signer checks that do not depend on time, by certificate; and certificates by their x5c text
    checked: dict = field(default_factory=dict, compare=False, repr=False)
    certificates: dict = field(default_factory=dict, compare=False, repr=False)


def load_trust(ca_pem: bytes, status_jws: str, crl_der: bytes | None = None,
               at: dt.datetime | None = None) -> Trust:
    at = at or dt.datetime.now(dt.UTC)
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
    except ValueError as exc:
        raise VerificationInputError("the CA file is not a PEM certificate") from exc
    crl = None
    if crl_der is not None:
        try:
            crl = x509.load_der_x509_crl(crl_der)
        except ValueError:
            try:
                crl = x509.load_pem_x509_crl(crl_der)
            except ValueError as exc:
                raise VerificationInputError("the CRL file is neither DER nor PEM") from exc
        if not crl.is_signature_valid(ca.public_key()):
            raise VerificationInputError("the CRL is not signed by this CA")
    try:
        header, _ = compact_parts(status_jws.strip())
        signer = x5c_certificate(header)
    except (ValueError, TypeError) as exc:
        raise VerificationInputError("the status list is not a signed dancu card status list") from exc
    if header.get("typ") != STATUS_TYPE:
        raise VerificationInputError("the status list is not a signed dancu card status list")
    problem = _signer_problem(signer, ca, crl, STATUS_SIGNER_CN, at)
    if problem:
        raise VerificationInputError(f"the status list's signer is not trusted under this CA ({problem})")
    payload = _verified_payload(status_jws.strip(), signer)
    if payload is None:
        raise VerificationInputError("the status list's signature is not valid")
    try:
        status = StatusList(
            sequence=int(payload["seq"]), issued_at=_aware(payload["iat"]), next_update=_aware(payload["nxt"]),
            revoked={doc: (reason, day) for doc, reason, day in payload["revoked"]},
            chip_signers={thumbprint(c): c for c in
                          (x509.load_der_x509_certificate(base64.b64decode(der)) for der in payload["signers"])},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationInputError("the status list's content is malformed") from exc
    if status.next_update < at:
        raise VerificationInputError(
            f"the status list expired on {status.next_update.isoformat()}; fetch a current one")
    return Trust(ca=ca, status=status, crl=crl)


class SeenStatusLists:
    """The newest status list number an offline verifier has used, per issuing CA, in a small JSON file.

    A status list is valid until its ``nxt``, so the list published before a card
    was reported lost stays acceptable for that long: replayed to a verifier, it
    would show the lost card as valid. A verifier that remembers the highest
    ``seq`` it has used refuses to go back to an older list. Memory is keyed by the
    CA certificate's SHA-256, so verifying for two issuers (a test and a production
    CA) keeps two counters. A verifier that has never seen the newer list is only
    protected by the validity window (docs/cards.md).
    """

    def __init__(self, path: Path):
        self.path = path

    def admit(self, trust: Trust) -> None:
        """Refuse ``trust`` if its list is older than one used before for the same CA; else remember it."""
        issuer = trust.ca.fingerprint(_FINGERPRINT).hex()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8") as handle:
            # One verifier process at a time: two that read the same number must not lower it.
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            seen = self._parse(handle.read())
            newest = seen.get(issuer, 0)
            if trust.status.sequence < newest:
                raise VerificationInputError(
                    f"the status list #{trust.status.sequence} is older than #{newest}, which this verifier has "
                    "already used (a replayed list?); fetch a current one")
            if trust.status.sequence > newest:
                seen[issuer] = trust.status.sequence
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(seen, indent=2, sort_keys=True))

    def _parse(self, text: str) -> dict[str, int]:
        if not text.strip():
            return {}
        try:
            seen = json.loads(text)
        except ValueError:
            seen = None
        if not isinstance(seen, dict) or not all(isinstance(v, int) for v in seen.values()):
            # Starting again from nothing would accept any replayed list: the operator decides.
            raise VerificationInputError(f"the verifier's memory of status lists ({self.path}) is damaged; "
                                         "restore it, or delete it to start again")
        return seen


@dataclass
class Verification:
    valid: bool
    source: str  # "chip" or "qr"
    problems: list[str] = field(default_factory=list)
    document_number: str | None = None
    holder: dict = field(default_factory=dict)  # DG1 fields (chip) or the QR's fields, for display


_QR_FIELDS = {"d": "doc", "p": "pin", "n": "name", "b": "dob", "s": "sex", "i": "issued", "e": "expires"}


def _card_state(result: Verification, trust: Trust, at: dt.datetime) -> Verification:
    revoked = trust.status.revoked.get(result.document_number or "")
    if revoked:
        result.problems.append(f"revoked_{revoked[0]}")
    expires = result.holder.get("expires")
    if expires:
        try:
            if dt.date.fromisoformat(expires) <= at.date():
                result.problems.append("expired")
        except (TypeError, ValueError):
            result.problems.append("format")
    result.valid = not result.problems
    return result


def verify_qr(text: str, trust: Trust, at: dt.datetime | None = None) -> Verification:
    at = at or dt.datetime.now(dt.UTC)
    result = Verification(valid=False, source="qr")
    token = text.strip()
    try:
        header, _ = compact_parts(token)
    except (ValueError, TypeError, UnicodeDecodeError):
        result.problems.append("format")
        return result
    cert = trust.status.chip_signers.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
    if header.get("typ") != QR_TYPE or cert is None:
        result.problems.append("signer_unknown" if header.get("typ") == QR_TYPE else "format")
        return result
    if problem := _signer_problem(cert, trust.ca, trust.crl, CHIP_SIGNER_CN, at, trust.checked):
        result.problems.append(problem)
        return result
    payload = _verified_payload(token, cert)
    if payload is None:
        result.problems.append("signature")
        return result
    result.holder = {name: payload.get(short) for short, name in _QR_FIELDS.items()}
    result.document_number = str(payload.get("d") or "")
    return _card_state(result, trust, at)


def verify_chip(data: str | bytes, trust: Trust, at: dt.datetime | None = None) -> Verification:
    at = at or dt.datetime.now(dt.UTC)
    result = Verification(valid=False, source="chip")
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != CHIP_FORMAT:
            raise ValueError("not a chip data file")
        groups = {name: _unb64url(value) for name, value in document["data_groups"].items()}
        sod = str(document["sod"])
        header, _ = compact_parts(sod)
        cert = x5c_certificate(header, trust.certificates)
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError):
        result.problems.append("format")
        return result
    if header.get("typ") != SOD_TYPE:
        result.problems.append("format")
        return result
    if problem := _signer_problem(cert, trust.ca, trust.crl, CHIP_SIGNER_CN, at, trust.checked):
        result.problems.append(problem)
        return result
    sod_payload = _verified_payload(sod, cert)
    if sod_payload is None:
        result.problems.append("signature")
        return result
    hashes_signed = sod_payload.get("dg")
    if (not isinstance(hashes_signed, dict) or set(hashes_signed) != set(groups) or "DG1" not in groups
            or any(hashlib.sha256(value).hexdigest() != hashes_signed[name] for name, value in groups.items())):
        result.problems.append("data_group_hash")
        return result
    try:
        dg1 = json.loads(groups["DG1"])
    except ValueError:
        result.problems.append("format")
        return result
    if not isinstance(dg1, dict) or dg1.get("doc") != sod_payload.get("doc"):
        result.problems.append("data_group_hash")
        return result
    result.holder = dg1
    result.document_number = str(dg1.get("doc") or "")
    return _card_state(result, trust, at)


def signed_document_problem(token: str, payload: bytes, ca_pem: bytes, common_name: str,
                            at: dt.datetime | None = None) -> str | None:
    """None when ``token`` is a JWS over exactly ``payload`` by a signer named ``common_name`` under the CA."""
    try:
        header, signed = compact_parts(token)
        cert = x5c_certificate(header)
        ca = x509.load_pem_x509_certificate(ca_pem)
    except (ValueError, TypeError, UnicodeDecodeError):
        return "format"
    if problem := _signer_problem(cert, ca, None, common_name, at or dt.datetime.now(dt.UTC)):
        return problem
    if signed != payload or _verified_payload(token, cert) is None:
        return "signature"
    return None


def looks_like_qr(text: str) -> bool:
    return text.strip().count(".") == 2 and not text.lstrip().startswith("{")


def verify_any(data: str | bytes, trust: Trust, at: dt.datetime | None = None) -> Verification:
    """A chip data file (JSON) or a QR text, told apart by their shape."""
    if len(data) > MAX_INPUT_BYTES:
        return Verification(valid=False, source="chip", problems=["too_large"])
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return verify_qr(text, trust, at) if looks_like_qr(text) else verify_chip(text, trust, at)

