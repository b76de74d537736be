"""Keys kept outside the database: field encryption and audit-chain MAC.

The master key lives in a file (``DANCU_KEY_FILE``), never in the database, so
a stolen database dump alone reveals no sensitive field and cannot be used to
forge an audit chain. Sub-keys are derived per purpose with HKDF.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator

from dancu.config import get_settings


class KeyMissingError(RuntimeError):
    pass


def ensure_master_key(path: Path | None = None) -> Path:
    """Create the master key file (mode 0600) if it does not exist yet."""
    path = path or get_settings().key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(32)))
    return path


@lru_cache
def _master_key() -> bytes:
    path = get_settings().key_file
    if not path.exists():
        raise KeyMissingError(
            f"Master key file {path} not found. Run `dancu db upgrade` (creates it) "
            "or point DANCU_KEY_FILE at the key of this database."
        )
    return base64.urlsafe_b64decode(path.read_bytes().strip())


def derive_key(purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(_master_key())


@lru_cache
def _field_cipher() -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derive_key("dancu/field-encryption/v1")))])


def encrypt_text(value: str) -> str:
    return _field_cipher().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str:
    try:
        return _field_cipher().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise KeyMissingError("A field cannot be decrypted with the configured master key.") from exc


class EncryptedText(TypeDecorator[str]):
    """A string column stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else encrypt_text(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else decrypt_text(value)


def reset_key_cache() -> None:
    _master_key.cache_clear()
    _field_cipher.cache_clear()
