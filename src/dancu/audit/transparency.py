"""The access log as a transparency log: signed checkpoints, their publication, proofs and verification.

The sealer keeps the access log in an RFC 9162 Merkle tree
(``dancu.audit.services``). Every ``DANCU_AUDIT_CHECKPOINT_INTERVAL`` seconds
(default 60) in which the tree grew, it signs a checkpoint - origin, tree
size, root hash - as a C2SP signed note with the log's Ed25519 key from the
keystore, has dancu's RFC 3161 time-stamping unit timestamp the signed note,
stores both, and publishes them outside the database: a file per checkpoint
in ``DANCU_AUDIT_CHECKPOINT_DIR`` (default ``$DANCU_DATA_DIR/audit-checkpoints``),
the public URL ``/audit/checkpoint``, and, when ``DANCU_AUDIT_WITNESS_URL`` is
set, a C2SP tlog-witness ``add-checkpoint`` request with the consistency
proof from the previous checkpoint.

``verify`` rebuilds the tree root from the entries themselves and proves, with
a consistency proof read from the stored tree, that today's log extends every
checkpoint it is given; it also checks every entry's MAC, the uniqueness of
every uid, that positions run 1..n without gaps, and the pending and refused
entries. Given any earlier checkpoint, truncating, rewriting, duplicating,
reordering or deleting sealed entries is detected, whoever did it, with or
without the master key. Entries appended after the last checkpoint handed out
are protected only by their MACs.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dancu.audit import merkle, note
from dancu.audit.models import AccessLogEntry, AuditChainHead, AuditCheckpoint
from dancu.audit.services import canonical, entry_content, entry_mac_intact, leaf_hash, tree_nodes, tree_size
from dancu.config import get_settings
from dancu.identity.pki.keystore import KeyHandle, SoftwareKeyStore
from dancu.identity.pki.services import public_base_url
from dancu.identity.signing import pades

log = logging.getLogger(__name__)

KEY_LABEL = "audit-log/ed25519/1"
WITNESS_TIMEOUT = 5.0


def origin() -> str:
    """The log's name, a schema-less URL (``DANCU_AUDIT_ORIGIN``, else the public URL's host + /audit)."""
    configured = os.environ.get("DANCU_AUDIT_ORIGIN", "").strip()
    if configured:
        return configured
    url = urlsplit(public_base_url())
    return f"{url.netloc}{url.path}/audit"


def checkpoint_dir() -> Path:
    configured = os.environ.get("DANCU_AUDIT_CHECKPOINT_DIR", "").strip()
    return Path(configured) if configured else get_settings().data_dir / "audit-checkpoints"


def checkpoint_interval() -> float:
    return float(os.environ.get("DANCU_AUDIT_CHECKPOINT_INTERVAL", "60"))


def _key(session: Session) -> tuple[SoftwareKeyStore, KeyHandle]:
    """The log's signing key, made on first use like the country CA's (one wins a race: the label is unique)."""
    store = SoftwareKeyStore(session)
    handle = store.handle_by_label(KEY_LABEL)
    if handle is None:
        try:
            with session.begin_nested():
                store.generate(KEY_LABEL, "ed25519")
        except IntegrityError:
            pass
        handle = store.handle_by_label(KEY_LABEL)
    return store, handle


def _public_key(store: SoftwareKeyStore, handle: KeyHandle) -> bytes:
    return store.public_key(handle).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifier_key(session: Session) -> str:
    """The published verifier key, ``<origin>+<key hash>+<base64 key>`` (c2sp.org/signed-note)."""
    store, handle = _key(session)
    return note.verifier_key(origin(), _public_key(store, handle))


def existing_verifier_key(session: Session) -> str | None:
    """The verifier key if the log has a key yet. Looked up, never made: readers and verifiers write nothing
    (and so never wait for a writer)."""
    store = SoftwareKeyStore(session)
    handle = store.handle_by_label(KEY_LABEL)
    return None if handle is None else note.verifier_key(origin(), _public_key(store, handle))


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))


def sign_checkpoint(session: Session) -> AuditCheckpoint | None:
    """Sign and timestamp the current tree head; None when the tree has not grown since the last one.

    Call with the chain head locked (the sealer's transaction) or after
    sealing; publish it with ``publish`` once committed.
    """
    head = session.scalar(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update())
    latest = latest_checkpoint(session)
    if head is None or head.seq == 0 or (latest is not None and latest.tree_size >= head.seq):
        return None
    store, handle = _key(session)
    checkpoint = note.Checkpoint(origin(), head.seq, merkle.root(head.seq, lambda needed: tree_nodes(session, needed)))
    signed = note.sign(checkpoint, origin(), _public_key(store, handle), lambda data: store.sign(handle, data, None))
    token = pades._run(pades.timestamper(session).async_timestamp(hashlib.sha256(signed.encode()).digest(), "sha256"))
    row = AuditCheckpoint(tree_size=checkpoint.size, root_hash=checkpoint.root, note=signed,
                          timestamp_token=token.dump(), created_at=dt.datetime.now(dt.UTC))
    session.add(row)
    session.flush()
    return row


def checkpoint_due(session: Session) -> bool:
    latest = latest_checkpoint(session)
    if latest is None:
        return tree_size(session) > 0
    created = latest.created_at if latest.created_at.tzinfo else latest.created_at.replace(tzinfo=dt.UTC)
    return (tree_size(session) > latest.tree_size
            and dt.datetime.now(dt.UTC) - created >= dt.timedelta(seconds=checkpoint_interval()))


def write_files(row: AuditCheckpoint) -> Path:
    """``checkpoint.<size>`` (the signed note), ``checkpoint.<size>.tst`` (its RFC 3161 timestamp token) and
    ``checkpoint`` (the latest); returns the note's path. Files are written whole, then renamed into place."""
    directory = checkpoint_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint.{row.tree_size}"
    files = ((path, row.note.encode()), (directory / f"checkpoint.{row.tree_size}.tst", bytes(row.timestamp_token)),
             (directory / "checkpoint", row.note.encode()))
    for target, data in files:
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        partial.replace(target)
    return path


def witness_request(session: Session, row: AuditCheckpoint) -> bytes:
    """A C2SP tlog-witness add-checkpoint body: ``old <size>``, the consistency proof from the previous
    checkpoint, a blank line, the signed checkpoint."""
    previous = session.scalar(select(AuditCheckpoint).where(AuditCheckpoint.tree_size < row.tree_size)
                              .order_by(AuditCheckpoint.tree_size.desc()).limit(1))
    old = previous.tree_size if previous is not None else 0
    proof = merkle.consistency_proof(old, row.tree_size, lambda needed: tree_nodes(session, needed))
    lines = [f"old {old}", *(base64.b64encode(h).decode() for h in proof)]
    return ("\n".join(lines) + "\n\n" + row.note).encode()


def push_to_witness(session: Session, row: AuditCheckpoint, url: str) -> str | None:
    """Send the checkpoint to a witness; its cosignature lines, or None if it refused or could not be reached."""
    try:
        response = httpx.post(url, content=witness_request(session, row), timeout=WITNESS_TIMEOUT)
    except httpx.HTTPError as exc:
        log.warning("the audit witness at %s could not be reached: %s", url, exc)
        return None
    if response.status_code != 200:
        log.warning("the audit witness at %s refused checkpoint %s: %s %s", url, row.tree_size,
                    response.status_code, response.text[:200])
        return None
    return response.text


def publish(session: Session, row: AuditCheckpoint) -> Path:
    """Write the checkpoint's files and push it to the witness, if one is configured."""
    path = write_files(row)
    witness = os.environ.get("DANCU_AUDIT_WITNESS_URL", "").strip()
    if witness:
        push_to_witness(session, row, witness)
    return path


def checkpoint_now(session: Session) -> AuditCheckpoint | None:
    """Sign, commit and publish a checkpoint of the current tree (``dancu audit checkpoint``)."""
    row = sign_checkpoint(session)
    session.commit()
    if row is not None:
        publish(session, row)
    return row


def proof_of_consistency(session: Session, first: int, second: int) -> list[bytes]:
    """The RFC 9162 proof that the tree of ``second`` leaves extends the one of ``first`` (for monitors
    and witnesses holding an older checkpoint); ``ValueError`` for sizes the log does not have."""
    if second > tree_size(session):
        raise ValueError(f"the log has fewer than {second} entries")
    return merkle.consistency_proof(first, second, lambda needed: tree_nodes(session, needed))


# ---- verification -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    seq: int | None
    reason: str
    entry_id: int | None = None


@dataclass
class Verification:
    entries_checked: int = 0  # sealed and pending
    pending: int = 0
    tree_size: int = 0
    checkpoints_checked: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


def _entries(session: Session, condition, key, batch: int = 5000):
    """Entries matching ``condition`` in ``key`` order, a batch at a time."""
    last = 0
    while True:
        rows = list(session.scalars(select(AccessLogEntry).where(condition, key > last).order_by(key).limit(batch)))
        if not rows:
            return
        yield from rows
        last = getattr(rows[-1], key.key)
        session.expunge_all()


def _check_checkpoint(session: Session, text: str, keys: list[tuple[str, bytes]], size: int, root: bytes,
                      label: str) -> Break | None:
    """None if the log of ``size`` leaves and ``root`` provably extends the checkpoint in ``text``."""
    errors = [] if keys else ["the log has no signing key, so it never signed a checkpoint"]
    for name, public_key in keys:
        try:
            checkpoint = note.open_signed(text, name, public_key)
            break
        except note.NoteError as exc:
            errors.append(str(exc))
    else:
        return Break(None, f"{label} is refused: {'; '.join(errors)}")
    if checkpoint.size > size:
        return Break(size + 1, f"{label} has {checkpoint.size} entries, the log only {size}: its tail was removed")
    try:
        proof = merkle.consistency_proof(checkpoint.size, size, lambda needed: tree_nodes(session, needed))
    except LookupError:
        proof = []
    if not merkle.verify_consistency(checkpoint.size, size, checkpoint.root, root, proof):
        return Break(None, f"the log does not extend {label} (size {checkpoint.size}): entries up to it were "
                           "rewritten, reordered, duplicated or deleted")
    return None


def verify(session: Session, checkpoints: list[str] | None = None, verifier_keys: list[str] | None = None,
           ) -> Verification:
    """Check every entry and prove that the log extends every stored checkpoint and each of ``checkpoints``.

    The checkpoints' signatures are checked with ``verifier_keys`` when given
    (keys obtained out of band), else with the log's key from the keystore.
    """
    result = Verification()
    compact = merkle.CompactRange()
    for entry in _entries(session, AccessLogEntry.seq.is_not(None), AccessLogEntry.seq):
        result.entries_checked += 1
        expected = compact.size + 1
        if entry.seq != expected:
            result.breaks.append(Break(expected, f"entries {expected}..{entry.seq - 1} are missing"))
        if not entry_mac_intact(entry):
            result.breaks.append(Break(entry.seq, "entry content was altered", entry.id))
        # The leaf holds the entry's own position: a renumbered entry changes the tree.
        compact.append(leaf_hash(entry))
    for entry in _entries(session, AccessLogEntry.seq.is_(None), AccessLogEntry.id):
        result.entries_checked += 1
        result.pending += 1
        if entry.refused:
            result.breaks.append(Break(None, "refused by the sealer (forged, altered or duplicate entry)", entry.id))
        elif not entry_mac_intact(entry):
            result.breaks.append(Break(None, "pending entry content was altered", entry.id))
    # Counted by the database, not in memory: the log may hold hundreds of millions of entries.
    for column, what in ((AccessLogEntry.uid, "uid"), (AccessLogEntry.seq, "position")):
        for value in session.scalars(select(column).where(column.is_not(None)).group_by(column)
                                     .having(func.count() > 1)):
            result.breaks.append(Break(None, f"several entries share the {what} {value}: a duplicated entry"))
    size, root = compact.size, compact.root()
    result.tree_size = size
    head_size = tree_size(session)
    if head_size != size:
        result.breaks.append(Break(size + 1, f"the log ends at {size} but the head says {head_size}"))
    try:
        stored_root = merkle.root(size, lambda needed: tree_nodes(session, needed))
    except LookupError:
        stored_root = b""
    if stored_root != root:
        result.breaks.append(Break(None, "the stored tree nodes do not match the entries"))
    if verifier_keys:
        keys = [note.parse_verifier_key(key) for key in verifier_keys]
    else:
        known = existing_verifier_key(session)
        keys = [] if known is None else [note.parse_verifier_key(known)]
    given = [(text, f"checkpoint {i + 1} given") for i, text in enumerate(checkpoints or [])]
    # Only the latest stored one: it extends the earlier ones or the sealer would not have signed it, and
    # whoever can rewrite the log can rewrite this table too. The checkpoints kept outside are what count.
    latest = latest_checkpoint(session)
    stored = [] if latest is None else [(latest.note, f"stored checkpoint {latest.tree_size}")]
    for text, label in given + stored:
        result.checkpoints_checked += 1
        problem = _check_checkpoint(session, text, keys, size, root, label)
        if problem is not None:
            result.breaks.append(problem)
    if latest is not None and not timestamp_valid(session, latest.note, bytes(latest.timestamp_token)):
        result.breaks.append(Break(None, f"the timestamp of stored checkpoint {latest.tree_size} does not verify"))
    return result


def timestamp_valid(session: Session, signed_note: str, token: bytes) -> bool:
    """Is ``token`` an intact RFC 3161 timestamp over ``signed_note`` by a TSA the dancu CA trusts?"""
    try:
        signed_data = cms.ContentInfo.load(token)["content"]
        status = TimestampSignatureStatus(**pades._run(validate_tst_signed_data(
            signed_data, pades.validation_context(session),
            lambda _algorithm: hashlib.sha256(signed_note.encode()).digest())))
    except (ValueError, KeyError, TypeError):
        return False
    return status.intact and status.valid and status.trusted


# ---- inclusion proofs for a subject's entries ----------------------------------------------------------


def inclusion_bundle(session: Session, subject_type: str, subject_id: str | int, limit: int = 200) -> dict:
    """The subject's entries under the latest checkpoint, each with its leaf and RFC 9162 inclusion proof.

    Verifiable offline with ``dancu audit verify-inclusion FILE`` (or any RFC
    9162 implementation): hash each leaf, check its proof against the
    checkpoint's root, check the checkpoint's signature with the published
    verifier key. Entries not yet under a checkpoint are listed as pending.
    """
    latest = latest_checkpoint(session)
    size = latest.tree_size if latest is not None else 0
    entries = list(session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.subject_type == subject_type, AccessLogEntry.subject_id == str(subject_id))
        .order_by(AccessLogEntry.id.desc()).limit(limit)))
    proven, pending = [], []
    nodes = lambda needed: tree_nodes(session, needed)  # noqa: E731 - one source for every proof below
    for entry in entries:
        if entry.seq is not None and entry.seq <= size:
            proof = merkle.inclusion_proof(entry.seq - 1, size, nodes)
            proven.append({"leaf_index": entry.seq - 1, "leaf": canonical(entry_content(entry), entry.seq),
                           "inclusion_proof": [base64.b64encode(h).decode() for h in proof]})
        else:
            pending.append({"leaf": canonical(entry_content(entry), None)})
    return {
        "format": "dancu-access-log-inclusion/v1",
        "checkpoint": latest.note if latest is not None else None,
        "checkpoint_timestamp": base64.b64encode(bytes(latest.timestamp_token)).decode() if latest else None,
        "verifier_key": existing_verifier_key(session),
        "entries": proven,
        "pending": pending,
    }


@dataclass(frozen=True)
class InclusionCheck:
    tree_size: int
    verified: int
    failures: list[str]


def verify_inclusion_bundle(bundle: dict, verifier_key_text: str | None = None) -> InclusionCheck:
    """Check a bundle from ``inclusion_bundle`` offline, with ``verifier_key_text`` if given (else the
    bundle's own key, which proves only that the bundle is self-consistent: compare it with the published one)."""
    if not bundle.get("checkpoint"):
        return InclusionCheck(0, 0, ["no checkpoint yet: the entries are not provable"] if bundle["entries"] else [])
    name, public_key = note.parse_verifier_key(verifier_key_text or bundle["verifier_key"])
    checkpoint = note.open_signed(bundle["checkpoint"], name, public_key)
    failures, verified = [], 0
    for item in bundle["entries"]:
        proof = [base64.b64decode(h) for h in item["inclusion_proof"]]
        leaf = merkle.leaf_hash(item["leaf"].encode())
        if merkle.verify_inclusion(leaf, item["leaf_index"], checkpoint.size, proof, checkpoint.root):
            verified += 1
        else:
            failures.append(f"entry at {item['leaf_index']} is not in the checkpointed log")
    return InclusionCheck(checkpoint.size, verified, failures)
