"""The dancu country CA: certificates issued by profile, revocation and the CRL.

Every private key stays in a ``KeyStore`` (``SoftwareKeyStore`` by default,
sealed under the master key; an HSM would implement the same protocol). The
CA is created on first use and kept; it signs the certificates and, itself,
the CRL (a separate CRL signer would make the CRL indirect, which common
validators such as NSS do not follow).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dancu.config import get_settings
from dancu.identity.pki.keystore import KeyHandle, KeyStore, KeyStoreError, SoftwareKeyStore, signing_key
from dancu.identity.pki.models import PkiCertificate, PkiCrl

__all__ = [
    "PROFILES",
    "CertificateInfo",
    "KeyHandle",
    "KeyStore",
    "KeyStoreError",
    "PkiError",
    "SoftwareKeyStore",
    "certificate",
    "certificate_info",
    "certificates",
    "country_ca",
    "current_crl",
    "document_signer",
    "issue_certificate",
    "keystore",
    "public_base_url",
    "revoke",
    "service_signer",
    "state_signer",
    "tsa_signer",
]

CA_PURPOSE = "country-ca"
CA_KEY_LABEL = "country-ca/1"
CA_SUBJECT = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dancu"),
    x509.NameAttribute(NameOID.COMMON_NAME, "dancu Country CA"),
])
CA_LIFETIME = dt.timedelta(days=20 * 365)
CRL_LIFETIME = dt.timedelta(days=7)
# A CRL this close to its nextUpdate is replaced when someone asks for the current one.
CRL_REFRESH_BEFORE = dt.timedelta(days=1)
# A service signer (document signer, state signer, TSA) this close to expiry is replaced.
SIGNER_RENEW_BEFORE = dt.timedelta(days=30)
REVOCATION_REASONS = tuple(flag.name for flag in x509.ReasonFlags
                           if flag not in (x509.ReasonFlags.remove_from_crl, x509.ReasonFlags.aa_compromise))


class PkiError(ValueError):
    """A refused PKI request; the message is safe to show."""

    code = "pki.refused"


@dataclass(frozen=True)
class Profile:
    name: str
    lifetime: dt.timedelta
    key_usage: frozenset[str]
    extended_key_usage: tuple[x509.ObjectIdentifier, ...] = ()


def _usage(*names: str) -> frozenset[str]:
    return frozenset(names)


PROFILES: dict[str, Profile] = {
    # Signs the data set in an identity card's chip (and its QR), like an ICAO document signer.
    "document-signer": Profile("document-signer", dt.timedelta(days=3 * 365), _usage("digital_signature")),
    # A citizen's own signing certificate, bound to their level-2 e-ID.
    "citizen-signing": Profile("citizen-signing", dt.timedelta(days=2 * 365),
                               _usage("digital_signature", "content_commitment")),
    # The state's seal on PDF results (PAdES).
    "state-signing": Profile("state-signing", dt.timedelta(days=3 * 365),
                             _usage("digital_signature", "content_commitment")),
    # RFC 3161 time-stamping unit: the EKU must be timeStamping and critical.
    "tsa": Profile("tsa", dt.timedelta(days=5 * 365), _usage("digital_signature"),
                   (ExtendedKeyUsageOID.TIME_STAMPING,)),
}

_KEY_USAGE_FIELDS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                     "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")


@dataclass(frozen=True)
class CertificateInfo:
    serial: int
    profile: str
    purpose: str
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime
    revoked_at: dt.datetime | None
    revocation_reason: str | None
    key_id: int | None

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def public_base_url() -> str:
    """Where relying parties fetch the CA certificate and the CRL (``DANCU_PUBLIC_URL``, read by dancu.config)."""
    return get_settings().public_url or "http://localhost:8000"


def keystore(session: Session) -> KeyStore:
    return SoftwareKeyStore(session)


def _key_usage(names: frozenset[str]) -> x509.KeyUsage:
    return x509.KeyUsage(**{name: name in names for name in _KEY_USAGE_FIELDS})


def _info(row: PkiCertificate) -> CertificateInfo:
    return CertificateInfo(
        serial=int(row.serial, 16), profile=row.profile, purpose=row.purpose, subject=row.subject,
        not_before=_aware(row.not_before), not_after=_aware(row.not_after),
        revoked_at=_aware(row.revoked_at) if row.revoked_at else None,
        revocation_reason=row.revocation_reason, key_id=row.key_id,
    )


def _store(session: Session, cert: x509.Certificate, profile: str, purpose: str, key_id: int | None) -> None:
    session.add(PkiCertificate(
        serial=format(cert.serial_number, "x"), profile=profile, purpose=purpose,
        subject=cert.subject.rfc4514_string()[:500], key_id=key_id,
        not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
        der=cert.public_bytes(serialization.Encoding.DER),
    ))
    session.flush()


def _ca_row(session: Session) -> PkiCertificate | None:
    return session.scalar(select(PkiCertificate).where(PkiCertificate.purpose == CA_PURPOSE)
                          .order_by(PkiCertificate.id.desc()).limit(1))


def _create_ca(session: Session) -> None:
    store = keystore(session)
    handle = store.generate(CA_KEY_LABEL, "ec-p384")
    public_key = store.public_key(handle)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(CA_SUBJECT).issuer_name(CA_SUBJECT).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(_usage("key_cert_sign", "crl_sign", "digital_signature")), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(signing_key(store, handle), hashes.SHA384())
    )
    _store(session, cert, "country-ca", CA_PURPOSE, handle.key_id)


def country_ca(session: Session) -> x509.Certificate:
    """The dancu country CA certificate, created (with its key) on first use."""
    row = _ca_row(session)
    if row is None:
        try:
            with session.begin_nested():
                _create_ca(session)
        except IntegrityError:
            pass  # another process created it at the same moment (the key label is unique): use theirs
        row = _ca_row(session)
        assert row is not None
    return x509.load_der_x509_certificate(row.der)


def _ca_handle(session: Session) -> tuple[KeyStore, KeyHandle, x509.Certificate]:
    ca = country_ca(session)
    row = _ca_row(session)
    store = keystore(session)
    return store, store.handle(row.key_id), ca


def issue_certificate(session: Session, *, profile: str, subject: x509.Name, public_key: CertificatePublicKeyTypes,
                      purpose: str, key_id: int | None = None) -> x509.Certificate:
    """Issue a certificate under the country CA with ``profile``'s usages and lifetime.

    ``purpose`` says what it is for (looked up by ``service_signer`` and shown in
    ``dancu pki show``); ``key_id`` links a key kept in dancu's keystore.
    """
    spec = PROFILES.get(profile)
    if spec is None:
        raise PkiError(f"unknown certificate profile {profile!r}; known: {', '.join(PROFILES)}")
    store, ca_handle, ca = _ca_handle(session)
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(ca.subject).public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + spec.lifetime, ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(spec.key_usage), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
        .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(f"{public_base_url()}/pki/crl.der")],
            relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
        .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
            x509.AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(f"{public_base_url()}/pki/ca.pem"))]), critical=False)
    )
    if spec.extended_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(spec.extended_key_usage)), critical=True)
    cert = builder.sign(signing_key(store, ca_handle), hashes.SHA384())
    _store(session, cert, profile, purpose, key_id)
    return cert


def service_signer(session: Session, *, profile: str, purpose: str, common_name: str,
                   algorithm: str = "ec-p256") -> tuple[KeyHandle, x509.Certificate]:
    """The current key and certificate of one of the state's own signers, issued on first use
    and replaced when revoked or near expiry."""
    horizon = _now() + SIGNER_RENEW_BEFORE
    row = session.scalar(
        select(PkiCertificate)
        .where(PkiCertificate.purpose == purpose, PkiCertificate.revoked_at.is_(None),
               PkiCertificate.key_id.is_not(None))
        .order_by(PkiCertificate.id.desc()).limit(1))
    store = keystore(session)
    if row is not None and _aware(row.not_after) > horizon:
        return store.handle(row.key_id), x509.load_der_x509_certificate(row.der)
    country_ca(session)
    handle = store.generate(f"{purpose}/{x509.random_serial_number():x}", algorithm)
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dancu"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    cert = issue_certificate(session, profile=profile, subject=subject, public_key=store.public_key(handle),
                             purpose=purpose, key_id=handle.key_id)
    return handle, cert


def document_signer(session: Session, purpose: str) -> tuple[KeyHandle, x509.Certificate]:
    """The document signer for ``purpose`` (e.g. "card-chip"): key in the keystore, certificate from the CA."""
    if not purpose or len(purpose) > 40 or not purpose.replace("-", "").isalnum():
        raise PkiError("a document-signer purpose is 1-40 letters, digits or '-'")
    return service_signer(session, profile="document-signer", purpose=f"document-signer:{purpose}",
                          common_name=f"dancu Document Signer ({purpose})")


def state_signer(session: Session) -> tuple[KeyHandle, x509.Certificate]:
    """The state's seal for PDF results (PAdES)."""
    return service_signer(session, profile="state-signing", purpose="state-signing",
                          common_name="dancu State Seal")


def tsa_signer(session: Session) -> tuple[KeyHandle, x509.Certificate]:
    """dancu's own time-stamping unit. RSA: pyHanko's in-process TSA builds RSA SignerInfos only."""
    return service_signer(session, profile="tsa", purpose="tsa", common_name="dancu Time-Stamping Authority",
                          algorithm="rsa-3072")


def _row_by_serial(session: Session, serial: int) -> PkiCertificate | None:
    return session.scalar(select(PkiCertificate).where(PkiCertificate.serial == format(serial, "x")))


def certificate_info(session: Session, serial: int) -> CertificateInfo | None:
    row = _row_by_serial(session, serial)
    return None if row is None else _info(row)


def certificate(session: Session, serial: int) -> x509.Certificate:
    row = _row_by_serial(session, serial)
    if row is None:
        raise PkiError(f"no certificate with serial {serial:x} was issued by this CA")
    return x509.load_der_x509_certificate(row.der)


def certificates(session: Session, *, purpose: str | None = None, limit: int = 200) -> list[CertificateInfo]:
    query = select(PkiCertificate).order_by(PkiCertificate.id.desc()).limit(limit)
    if purpose is not None:
        query = query.where(PkiCertificate.purpose == purpose)
    return [_info(row) for row in session.scalars(query)]


def revoke(session: Session, serial: int, reason: str | x509.ReasonFlags = "unspecified") -> CertificateInfo:
    """Revoke a certificate issued by the CA and publish a new CRL at once."""
    reason_value = reason.name if isinstance(reason, x509.ReasonFlags) else reason
    if reason_value not in REVOCATION_REASONS:
        raise PkiError(f"unknown revocation reason {reason_value!r}; use one of {', '.join(REVOCATION_REASONS)}")
    row = _row_by_serial(session, serial)
    if row is None:
        raise PkiError(f"no certificate with serial {serial:x} was issued by this CA")
    if row.purpose == CA_PURPOSE:
        raise PkiError("the country CA cannot revoke itself; replace it with a new CA instead")
    if row.revoked_at is not None:
        raise PkiError(f"certificate {serial:x} is already revoked")
    row.revoked_at = _now()
    row.revocation_reason = reason_value
    session.flush()
    _issue_crl(session)
    return _info(row)


def _issue_crl(session: Session) -> PkiCrl:
    store, ca_handle, ca = _ca_handle(session)
    now = _now()
    number = (session.scalar(select(func.max(PkiCrl.number))) or 0) + 1
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject).last_update(now).next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), critical=False)
    )
    for row in session.scalars(select(PkiCertificate).where(PkiCertificate.revoked_at.is_not(None))):
        entry = (x509.RevokedCertificateBuilder().serial_number(int(row.serial, 16))
                 .revocation_date(_aware(row.revoked_at)))
        if row.revocation_reason and row.revocation_reason != "unspecified":
            entry = entry.add_extension(x509.CRLReason(x509.ReasonFlags[row.revocation_reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(signing_key(store, ca_handle), hashes.SHA384())
    stored = PkiCrl(number=number, this_update=now, next_update=now + CRL_LIFETIME,
                    der=crl.public_bytes(serialization.Encoding.DER))
    try:
        with session.begin_nested():
            session.add(stored)
    except IntegrityError:
        # Another process published CRL number `number` meanwhile; it lists the same revocations.
        stored = session.scalar(select(PkiCrl).order_by(PkiCrl.number.desc()).limit(1))
    return stored


def current_crl(session: Session) -> x509.CertificateRevocationList:
    """The newest CRL, reissued when it comes within a day of its nextUpdate."""
    latest = session.scalar(select(PkiCrl).order_by(PkiCrl.number.desc()).limit(1))
    if latest is None or _aware(latest.next_update) - _now() < CRL_REFRESH_BEFORE:
        latest = _issue_crl(session)
    return x509.load_der_x509_crl(latest.der)
