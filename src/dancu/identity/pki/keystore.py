"""Where private keys live: a protocol an HSM could implement, and the software keystore.

Callers never see private key material. They hold a ``KeyHandle`` and ask the
keystore to sign; ``signing_key`` wraps a handle in an object that looks like a
``cryptography`` private key (its ``sign`` goes back to the keystore), so the
X.509 builders can sign certificates and CRLs with keys they cannot read.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from dancu.crypto import derive_key
from dancu.identity.pki.models import PkiKey

ALGORITHMS = ("ec-p256", "ec-p384", "rsa-3072", "ed25519")
_SEAL_KEY_PURPOSE = "dancu/pki-keystore/v1"
_NONCE_BYTES = 12


class KeyStoreError(Exception):
    pass


@dataclass(frozen=True)
class KeyHandle:
    key_id: int
    label: str
    algorithm: str


class KeyStore(Protocol):
    def generate(self, label: str, algorithm: str) -> KeyHandle: ...

    def handle(self, key_id: int) -> KeyHandle: ...

    def public_key(self, handle: KeyHandle) -> PublicKeyTypes: ...

    def sign(self, handle: KeyHandle, data: bytes, hash_algorithm: hashes.HashAlgorithm | None) -> bytes:
        """ECDSA (DER-encoded) for EC keys, RSA PKCS#1 v1.5 for RSA keys, pure Ed25519 (no
        ``hash_algorithm``) for Ed25519 keys."""
        ...


def _new_private_key(algorithm: str) -> PrivateKeyTypes:
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if algorithm == "ed25519":  # signed notes (the access log's checkpoints)
        return ed25519.Ed25519PrivateKey.generate()
    raise KeyStoreError(f"unsupported key algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")


class SoftwareKeyStore:
    """Keys in the ``pki_key`` table, the private half sealed with AES-256-GCM.

    The sealing key is derived (HKDF) from the master key file in the data
    directory, so a database dump alone holds no usable private key. The key
    label is the GCM associated data: a sealed key copied onto another row's
    label does not open.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def _aead(self) -> AESGCM:
        return AESGCM(derive_key(_SEAL_KEY_PURPOSE))

    def generate(self, label: str, algorithm: str) -> KeyHandle:
        private_key = _new_private_key(algorithm)
        plain = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
        nonce = os.urandom(_NONCE_BYTES)
        row = PkiKey(
            label=label,
            algorithm=algorithm,
            public_key_der=private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo),
            sealed_private_key=nonce + self._aead().encrypt(nonce, plain, label.encode()),
            created_at=dt.datetime.now(dt.UTC),
        )
        self.session.add(row)
        self.session.flush()
        return KeyHandle(row.id, row.label, row.algorithm)

    def _row(self, key_id: int) -> PkiKey:
        row = self.session.get(PkiKey, key_id)
        if row is None:
            raise KeyStoreError(f"no key {key_id} in the keystore")
        return row

    def handle(self, key_id: int) -> KeyHandle:
        row = self._row(key_id)
        return KeyHandle(row.id, row.label, row.algorithm)

    def handle_by_label(self, label: str) -> KeyHandle | None:
        row = self.session.scalar(select(PkiKey).where(PkiKey.label == label))
        return None if row is None else KeyHandle(row.id, row.label, row.algorithm)

    def public_key(self, handle: KeyHandle) -> PublicKeyTypes:
        return serialization.load_der_public_key(self._row(handle.key_id).public_key_der)

    def sign(self, handle: KeyHandle, data: bytes, hash_algorithm: hashes.HashAlgorithm | None) -> bytes:
        row = self._row(handle.key_id)
        sealed = row.sealed_private_key
        try:
            plain = self._aead().decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], row.label.encode())
        except Exception as exc:  # InvalidTag: wrong master key or a tampered row
            raise KeyStoreError(f"key {row.label!r} cannot be unsealed with the configured master key") from exc
        # The GCM tag proved these are the bytes this keystore generated, so the slow RSA
        # consistency check (about 150 ms for a 3072-bit key) adds nothing.
        private_key = serialization.load_der_private_key(plain, password=None, unsafe_skip_rsa_key_validation=True)
        if isinstance(private_key, ec.EllipticCurvePrivateKey):
            return private_key.sign(data, ec.ECDSA(hash_algorithm))
        if isinstance(private_key, rsa.RSAPrivateKey):
            return private_key.sign(data, padding.PKCS1v15(), hash_algorithm)
        if isinstance(private_key, ed25519.Ed25519PrivateKey):
            return private_key.sign(data)
        raise KeyStoreError(f"unsupported key type in {row.label!r}")


class _KeyInStore:
    """What both stand-in keys share: the public half, and refusing to hand out the private half."""

    def __init__(self, store: KeyStore, handle: KeyHandle) -> None:
        self._store, self._handle = store, handle
        self._public = store.public_key(handle)

    def public_key(self):
        return self._public

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def private_numbers(self):
        raise KeyStoreError("private keys never leave the keystore")

    def private_bytes(self, encoding, format, encryption_algorithm):
        raise KeyStoreError("private keys never leave the keystore")

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


class _EcKeyInStore(_KeyInStore, ec.EllipticCurvePrivateKey):
    def sign(self, data, signature_algorithm):
        return self._store.sign(self._handle, data, signature_algorithm.algorithm)

    @property
    def curve(self):
        return self._public.curve

    def exchange(self, algorithm, peer_public_key):
        raise KeyStoreError("keys in the keystore only sign")


class _RsaKeyInStore(_KeyInStore, rsa.RSAPrivateKey):
    def sign(self, data, padding_, algorithm):
        if not isinstance(padding_, padding.PKCS1v15):
            raise KeyStoreError("the keystore signs RSA with PKCS#1 v1.5 only")
        return self._store.sign(self._handle, data, algorithm)

    def decrypt(self, ciphertext, padding_):
        raise KeyStoreError("keys in the keystore only sign")


def signing_key(store: KeyStore, handle: KeyHandle) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """A stand-in private key for ``cryptography``'s builders whose signatures come from ``store``."""
    if handle.algorithm.startswith("ec-"):
        return _EcKeyInStore(store, handle)
    return _RsaKeyInStore(store, handle)
