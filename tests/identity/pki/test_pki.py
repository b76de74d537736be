"""The country CA, the sealed software keystore, profiles, revocation and the CRL."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from dancu import crypto, db
from dancu.identity.pki import services
from dancu.identity.pki.keystore import KeyStoreError, signing_key
from dancu.identity.pki.models import PkiKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def test_country_ca_is_created_once_and_kept(session):
    first = services.country_ca(session)
    session.commit()
    with db.new_session() as other:
        again = services.country_ca(other)
    assert again.fingerprint(hashes.SHA256()) == first.fingerprint(hashes.SHA256())
    assert first.subject == first.issuer
    assert first.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    first.verify_directly_issued_by(first)
    assert session.scalar(select(PkiKey.label)) == services.CA_KEY_LABEL


def test_private_keys_are_sealed_at_rest(session):
    services.country_ca(session)
    handle, cert = services.document_signer(session, "card-chip")
    session.commit()
    row = session.get(PkiKey, handle.key_id)
    # Open the seal the way only a holder of the master key can, to know what must not be stored in clear.
    aead = AESGCM(crypto.derive_key("dancu/pki-keystore/v1"))
    plain = aead.decrypt(row.sealed_private_key[:12], row.sealed_private_key[12:], row.label.encode())
    private_key = serialization.load_der_private_key(plain, password=None)
    scalar = private_key.private_numbers().private_value.to_bytes(32, "big")
    assert plain not in row.sealed_private_key and scalar not in row.sealed_private_key
    assert private_key.public_key() == cert.public_key()
    # The database row alone is not enough: another master key cannot unseal it.
    other_key = AESGCM(AESGCM.generate_key(256))
    with pytest.raises(InvalidTag):
        other_key.decrypt(row.sealed_private_key[:12], row.sealed_private_key[12:], row.label.encode())


def test_a_sealed_key_moved_to_another_label_does_not_open(session):
    store = services.keystore(session)
    one = store.generate("test/one", "ec-p256")
    two = store.generate("test/two", "ec-p256")
    session.get(PkiKey, two.key_id).sealed_private_key = session.get(PkiKey, one.key_id).sealed_private_key
    session.flush()
    store.sign(one, b"data", hashes.SHA256())
    with pytest.raises(KeyStoreError, match="cannot be unsealed"):
        store.sign(two, b"data", hashes.SHA256())


def test_the_keystore_signs_but_never_exports(session):
    store = services.keystore(session)
    handle = store.generate("test/signer", "ec-p256")
    signature = store.sign(handle, b"hello", hashes.SHA256())
    store.public_key(handle).verify(signature, b"hello", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        store.public_key(handle).verify(signature, b"hellO", ec.ECDSA(hashes.SHA256()))
    stand_in = signing_key(store, handle)
    with pytest.raises(KeyStoreError, match="never leave"):
        stand_in.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    with pytest.raises(KeyStoreError, match="unsupported key algorithm"):
        store.generate("test/dsa", "dsa-1024")


@pytest.mark.parametrize("profile", sorted(services.PROFILES))
def test_every_profile_issues_a_certificate_under_the_ca(session, profile):
    ca = services.country_ca(session)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = services.issue_certificate(session, profile=profile, subject=_name(f"Test {profile}"),
                                      public_key=key.public_key(), purpose=f"test:{profile}")
    cert.verify_directly_issued_by(ca)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    crl_points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crl_points[0].full_name[0].value.endswith("/pki/crl.der")
    if profile == "tsa":
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    if profile in ("citizen-signing", "state-signing"):
        assert usage.content_commitment
    info = services.certificate_info(session, cert.serial_number)
    assert info is not None and info.profile == profile and info.revoked_at is None


def test_unknown_profile_is_refused(session):
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(services.PkiError, match="unknown certificate profile"):
        services.issue_certificate(session, profile="root", subject=_name("x"), public_key=key.public_key(),
                                   purpose="test")


def test_document_signer_is_kept_per_purpose(session):
    handle, cert = services.document_signer(session, "card-chip")
    again_handle, again = services.document_signer(session, "card-chip")
    _, other = services.document_signer(session, "wallet")
    assert (again_handle, again.serial_number) == (handle, cert.serial_number)
    assert other.serial_number != cert.serial_number
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    with pytest.raises(services.PkiError):
        services.document_signer(session, "card chip; drop table")


def test_revocation_reaches_the_crl_and_a_revoked_signer_is_replaced(session):
    ca = services.country_ca(session)
    first_crl = services.current_crl(session)
    assert first_crl.is_signature_valid(ca.public_key()) and len(first_crl) == 0
    _, cert = services.document_signer(session, "card-chip")

    info = services.revoke(session, cert.serial_number, "key_compromise")
    assert info.revoked_at is not None and info.revocation_reason == "key_compromise"

    crl = services.current_crl(session)
    assert crl.is_signature_valid(ca.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number > first_crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    _, replacement = services.document_signer(session, "card-chip")
    assert replacement.serial_number != cert.serial_number


def test_revocation_refusals(session):
    ca = services.country_ca(session)
    _, cert = services.document_signer(session, "card-chip")
    with pytest.raises(services.PkiError, match="cannot revoke itself"):
        services.revoke(session, ca.serial_number)
    with pytest.raises(services.PkiError, match="no certificate"):
        services.revoke(session, 12345)
    with pytest.raises(services.PkiError, match="unknown revocation reason"):
        services.revoke(session, cert.serial_number, "bored")
    services.revoke(session, cert.serial_number)
    with pytest.raises(services.PkiError, match="already revoked"):
        services.revoke(session, cert.serial_number)
