"""Checkpoints in the C2SP formats: tlog-checkpoint bodies in signed notes (c2sp.org/signed-note).

A checkpoint body is three lines: the log's origin, the tree size in decimal
and the root hash in standard base64. The signed note appends a blank line and
one line per signature, ``— <key name> <base64(key hash || signature)>``, where
for an Ed25519 key the key hash is the first four bytes of ``SHA-256(name ||
"\\n" || 0x01 || public key)`` and the signature is over the body's bytes. The
verifier key is published as ``<name>+<key hash hex>+<base64(0x01 || public key)>``.
Any tool that reads these formats (Go's golang.org/x/mod/sumdb/note, the
transparency-dev witnesses) reads dancu's checkpoints.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ALG_ED25519 = b"\x01"
_SIGNATURE_LINE = re.compile(r"^\u2014 (\S+) ([A-Za-z0-9+/=]+)$")


class NoteError(ValueError):
    """A checkpoint that is malformed or not signed by the expected key."""

    code = "audit.checkpoint_invalid"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    return f"{name}+{key_hash(name, public_key).hex()}+{base64.b64encode(ALG_ED25519 + public_key).decode()}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """The key name and raw Ed25519 public key of a verifier key string."""
    try:
        name, hash_hex, encoded = text.strip().split("+", 2)  # a key name never holds "+"
        raw = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise NoteError("not a verifier key (name+hash+base64 key)") from None
    if raw[:1] != ALG_ED25519 or len(raw) != 33 or key_hash(name, raw[1:]).hex() != hash_hex:
        raise NoteError("the verifier key is not an Ed25519 key matching its hash")
    return name, raw[1:]


def sign(checkpoint: Checkpoint, name: str, public_key: bytes, signer: Callable[[bytes], bytes]) -> str:
    """The signed note: the body, a blank line, and the signature line of key ``name``."""
    body = checkpoint.body()
    signature = base64.b64encode(key_hash(name, public_key) + signer(body.encode())).decode()
    return f"{body}\n\u2014 {name} {signature}\n"


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or not re.fullmatch(r"0|[1-9]\d{0,19}", lines[1]):
        raise NoteError("the note is not a checkpoint (origin, tree size, root hash)")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        root = b""
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not a base64 SHA-256 hash")
    return Checkpoint(lines[0], int(lines[1]), root)


def open_signed(text: str, name: str, public_key: bytes) -> Checkpoint:
    """The checkpoint in ``text`` if key ``name`` signed it; ``NoteError`` otherwise.

    Signatures by other keys (witnesses' cosignatures) are allowed and ignored.
    """
    body, separator, signatures = text.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise NoteError("the text is not a signed note (body, blank line, signature lines)")
    body += "\n"
    expected = key_hash(name, public_key)
    for line in signatures[:-1].split("\n"):
        match = _SIGNATURE_LINE.match(line)
        if match is None:
            raise NoteError(f"malformed signature line {line[:40]!r}")
        if match.group(1) != name:
            continue
        try:
            raw = base64.b64decode(match.group(2), validate=True)
        except binascii.Error:
            raise NoteError(f"malformed signature line {line[:40]!r}") from None
        if raw[:4] != expected:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], body.encode())
        except InvalidSignature:
            raise NoteError(f"the signature of {name} does not verify: the checkpoint was forged or altered") from None
        checkpoint = _parse_body(body)
        if checkpoint.origin != name:
            raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not the key's name {name!r}")
        return checkpoint
    raise NoteError(f"the note carries no signature of {name} with this key")
