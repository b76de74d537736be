"""PAdES signing and verification with pyHanko, with keys that stay in the keystore.

``KeyStoreSigner`` is pyHanko's ``Signer`` over a ``KeyStore`` handle (as
pyHanko's own PKCS#11 signer is over an HSM session); ``KeyStoreTimeStamper``
is dancu's in-process RFC 3161 time-stamping unit, so signing never calls the
internet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from asn1crypto import cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import SigningError, as_signing_certificate, simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import async_validate_detached_cms, async_validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from sqlalchemy.orm import Session

from dancu.identity.pki import services as pki
from dancu.identity.pki.keystore import KeyHandle, KeyStore

_HASHES = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}
# Updates after the signed revision that do not change what was signed: pyHanko's own
# validation-data (DSS) and document-timestamp updates.
_HARMLESS_UPDATES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


class SignatureInputError(ValueError):
    """The input cannot be signed or checked; ``code`` names the problem for the pages."""

    # The API's code; each instance also names its finer problem for the pages in ``self.code``.
    code = "signing.input_invalid"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _run(coroutine):
    """Run pyHanko's coroutine to completion from sync code, also when this thread already runs
    an event loop (an async endpoint, Playwright's sync API): then in a worker thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coroutine).result()


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


class KeyStoreSigner(signers.Signer):
    def __init__(self, store: KeyStore, handle: KeyHandle, cert: x509.Certificate, ca: x509.Certificate) -> None:
        self._store, self._handle = store, handle
        super().__init__(signing_cert=_asn1(cert), cert_registry=SimpleCertificateStore.from_certs([_asn1(ca)]))

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        hash_algorithm = _HASHES.get(digest_algorithm.lower())
        if hash_algorithm is None:
            raise SigningError(f"digest {digest_algorithm} is not supported by the keystore signer")
        if dry_run:
            # Room for the largest signature of this key (ECDSA DER grows with the curve).
            return bytes(512)
        return self._store.sign(self._handle, data, hash_algorithm)


class KeyStoreTimeStamper(DummyTimeStamper):
    """RFC 3161 tokens from dancu's TSA certificate, signed through the keystore."""

    def __init__(self, store: KeyStore, handle: KeyHandle, cert: x509.Certificate, ca: x509.Certificate) -> None:
        self._store, self._handle = store, handle
        super().__init__(tsa_cert=_asn1(cert), tsa_key=None, certs_to_embed=[_asn1(ca)])

    def _sign_tst_info(self, tst_info_data: bytes, md_algorithm: str, dt_: dt.datetime):
        # Same signed attributes as pyHanko's TSA; only the signature comes from the keystore.
        digest = hashes.Hash(_HASHES[md_algorithm.lower()])
        digest.update(tst_info_data)
        signed_attrs = cms.CMSAttributes([
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt_)})),
            simple_cms_attribute("signing_certificate", as_signing_certificate(self.tsa_cert)),
            simple_cms_attribute("message_digest", digest.finalize()),
        ])
        signature = self._store.sign(self._handle, signed_attrs.dump(), _HASHES[md_algorithm.lower()])
        return signature, signed_attrs


def validation_context(session: Session) -> ValidationContext:
    """Trust only the dancu CA, check revocation against its current CRL, fetch nothing."""
    ca = pki.country_ca(session)
    crl = pki.current_crl(session)
    return ValidationContext(trust_roots=[_asn1(ca)], crls=[crl.public_bytes(serialization.Encoding.DER)],
                             allow_fetching=False, revocation_mode="hard-fail")


def timestamper(session: Session) -> KeyStoreTimeStamper:
    handle, cert = pki.tsa_signer(session)
    return KeyStoreTimeStamper(pki.keystore(session), handle, cert, pki.country_ca(session))


def _reader(pdf_bytes: bytes) -> PdfFileReader:
    if not pdf_bytes.lstrip()[:5] == b"%PDF-":
        raise SignatureInputError("not-pdf", "the file is not a PDF document")
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
        reader.root  # noqa: B018 - parses the trailer and catalog: a broken file fails here
    except Exception as exc:  # noqa: BLE001 - an untrusted file breaks the parser in many ways (zlib, attributes...)
        raise SignatureInputError("damaged", f"the PDF cannot be read ({type(exc).__name__})") from None
    return reader


def sign_pdf(session: Session, pdf_bytes: bytes, *, handle: KeyHandle, cert: x509.Certificate, reason: str,
             location: str = "", name: str | None = None) -> bytes:
    """Sign as PAdES B-LT: signature, RFC 3161 timestamp, and the chain and CRL embedded (DSS)."""
    reader = _reader(pdf_bytes)
    if reader.encrypted:
        raise SignatureInputError("encrypted", "encrypted PDF documents cannot be signed")
    store = pki.keystore(session)
    ca = pki.country_ca(session)
    existing = len(reader.embedded_signatures)
    metadata = signers.PdfSignatureMetadata(
        field_name=f"dancu-signature-{existing + 1}", reason=reason[:200] or None, location=location[:200] or None,
        name=name, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
        embed_validation_info=True, validation_context=validation_context(session),
    )
    pdf_signer = signers.PdfSigner(metadata, signer=KeyStoreSigner(store, handle, cert, ca),
                                   timestamper=timestamper(session))
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
        out = _run(pdf_signer.async_sign_pdf(writer))
    except (PdfError, SigningError, ValueError, KeyError, TypeError, AttributeError, zlib.error) as exc:
        # A PDF that parses but whose objects are broken fails while pyHanko rewrites it.
        raise SignatureInputError("unsignable", f"the PDF cannot be signed ({type(exc).__name__}: {exc})") from None
    return out.getvalue()


def sign_data(session: Session, data: bytes, *, handle: KeyHandle, cert: x509.Certificate) -> bytes:
    """A detached CMS (CAdES-B-T) signature of ``data``, DER-encoded."""
    signer = KeyStoreSigner(pki.keystore(session), handle, cert, pki.country_ca(session))
    content = _run(signer.async_sign_general_data(
        data, "sha256", detached=True, timestamper=timestamper(session), use_cades=True))
    return content.dump()


@dataclass(frozen=True)
class SignatureReport:
    """One signature's verdict. ``problem`` is None when valid, else a code the pages translate."""

    field_name: str
    signer: str                         # the full distinguished name
    signer_name: str                    # its common name, as people read it
    signer_serial: int | None
    signed_at: dt.datetime | None       # from the timestamp when there is one, else as the signer claims
    timestamped: bool
    intact: bool
    trusted: bool
    revoked: bool
    revoked_at: dt.datetime | None
    covers_whole_file: bool
    problem: str | None
    details: str

    @property
    def valid(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Verification:
    sha256: str
    signatures: list[SignatureReport] = field(default_factory=list)
    problem: str | None = None          # whole-file problem: not-pdf, damaged, unsigned

    @property
    def valid(self) -> bool:
        return self.problem is None and bool(self.signatures) and all(s.valid for s in self.signatures)

    @property
    def verdict(self) -> str:
        if self.problem:
            return self.problem
        return "valid" if self.valid else next(s.problem for s in self.signatures if s.problem)


def _signer(cert: asn1_x509.Certificate) -> tuple[str, str]:
    """(distinguished name, common name) of the signer."""
    subject = x509.load_der_x509_certificate(cert.dump()).subject
    names = subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return subject.rfc4514_string(), str(names[0].value) if names else subject.rfc4514_string()


def _problem(status, covers_whole_file: bool) -> str | None:
    if not status.intact or not status.valid:
        return "altered"
    if status.revoked:
        return "revoked"
    if not status.trusted:
        return "untrusted"
    timestamp = status.timestamp_validity
    if timestamp is not None and not (timestamp.intact and timestamp.valid and timestamp.trusted):
        return "bad-timestamp"
    if not covers_whole_file and status.modification_level not in _HARMLESS_UPDATES:
        return "modified-after-signing"
    if not status.bottom_line:
        return "untrusted"
    return None


def verify_pdf(session: Session, pdf_bytes: bytes) -> Verification:
    """Check every signature in a PDF against the dancu CA and its current CRL."""
    sha256 = hashlib.sha256(pdf_bytes).hexdigest()
    try:
        reader = _reader(pdf_bytes)
        embedded = reader.embedded_signatures
    except SignatureInputError as exc:
        return Verification(sha256=sha256, problem=exc.code)
    except Exception:  # noqa: BLE001 - see _reader: any parser failure on the signature fields means damaged
        return Verification(sha256=sha256, problem="damaged")
    if not embedded:
        return Verification(sha256=sha256, problem="unsigned")
    context = validation_context(session)
    return Verification(sha256=sha256, signatures=[_report(session, sig, context) for sig in embedded])


def _report(session: Session, sig, context: ValidationContext) -> SignatureReport:
    name = sig.field_name or "?"
    try:
        status = _run(async_validate_pdf_signature(sig, signer_validation_context=context))
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many types on malformed signatures
        return SignatureReport(name, "?", "?", None, None, False, False, False, False, None, False, "altered",
                               f"{type(exc).__name__}: {exc}")
    cert = status.signing_cert
    dn, common_name = _signer(cert)
    info = pki.certificate_info(session, cert.serial_number)
    timestamp = status.timestamp_validity
    covers = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    return SignatureReport(
        field_name=name, signer=dn, signer_name=common_name, signer_serial=cert.serial_number,
        signed_at=timestamp.timestamp if timestamp is not None else status.signer_reported_dt,
        timestamped=timestamp is not None, intact=status.intact, trusted=status.trusted, revoked=status.revoked,
        revoked_at=info.revoked_at if info else None, covers_whole_file=covers,
        problem=_problem(status, covers), details=status.summary(),
    )


def verify_data(session: Session, data: bytes, signature_der: bytes) -> SignatureReport:
    """Check a detached CMS signature made by ``sign_data``."""
    try:
        content = cms.ContentInfo.load(signature_der)
        signed_data = content["content"]
        status = _run(async_validate_detached_cms(data, signed_data,
                                                         signer_validation_context=validation_context(session)))
    except Exception as exc:  # noqa: BLE001
        raise SignatureInputError("damaged", f"the signature cannot be read ({type(exc).__name__})") from None
    cert = status.signing_cert
    info = pki.certificate_info(session, cert.serial_number)
    timestamp = status.timestamp_validity
    problem = _problem(status, True)
    return SignatureReport("cms", *_signer(cert), cert.serial_number,
                           timestamp.timestamp if timestamp is not None else status.signer_reported_dt,
                           timestamp is not None, status.intact, status.trusted, status.revoked,
                           info.revoked_at if info else None, True, problem, status.summary())
