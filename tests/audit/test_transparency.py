"""The access log as a transparency log: every tampering done with SQL is caught given an earlier checkpoint.

The strongest attacker here holds the database *and* the master key file: they
recompute entry MACs and rebuild the stored Merkle tree so that the database
is self-consistent again, and delete the stored checkpoints. Only a checkpoint
kept outside the database (the file ``dancu audit checkpoint`` wrote, or any
copy of /audit/checkpoint) still convicts them.
"""

import base64
import hashlib
import http.server
import json
import threading

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, text
from test_smoke_cli import run_dancu

from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit import merkle, note, transparency
from dancu.audit.models import AccessLogEntry, AuditTreeNode
from dancu.audit.services import _entry_mac, entry_content, leaf_hash, record_access, seal_all
from dancu.identity.signing import pades

REGISTRAR = Actor("registrar", Role.REGISTRAR)


def _log(session, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        record_access(session, REGISTRAR, "read", "person", 1000 + i, "xác minh cư trú")
    session.commit()
    seal_all(session)


@pytest.fixture
def checkpoint_file(session):
    """A checkpoint of 8 entries written outside the database, then 4 more entries sealed after it."""
    _log(session, 8)
    row = transparency.checkpoint_now(session)
    assert row is not None and row.tree_size == 8
    _log(session, 4, start=8)
    path = transparency.checkpoint_dir() / "checkpoint.8"
    assert path.read_text() == row.note
    return path


def _verify_cli(path):
    return run_dancu("audit", "verify", "--checkpoint", str(path))


def _erase_stored_checkpoints(session) -> None:
    session.execute(text("DELETE FROM audit_checkpoint"))
    session.commit()


def _rebuild(session) -> None:
    """What an insider with the key does after rewriting entries: fresh MACs, a fresh tree, a matching head."""
    entries = session.scalars(select(AccessLogEntry).where(AccessLogEntry.seq.is_not(None))
                              .order_by(AccessLogEntry.seq)).all()
    for entry in entries:
        session.execute(text("UPDATE access_log SET entry_mac = :mac WHERE id = :id"),
                        {"mac": _entry_mac(entry_content(entry)), "id": entry.id})
    nodes = merkle.new_nodes(0, [leaf_hash(entry) for entry in entries], {})
    session.execute(text("DELETE FROM audit_tree_node"))
    session.execute(insert(AuditTreeNode.__table__),
                    [{"level": level, "idx": idx, "hash": value} for (level, idx), value in nodes.items()])
    session.execute(text("UPDATE audit_chain_head SET seq = :n"), {"n": len(entries)})
    session.commit()
    _erase_stored_checkpoints(session)


def _verify(session, checkpoints=None):
    """Verify, then end the transaction: checking a timestamp may issue the CRL, which a `dancu` run would wait for."""
    result = transparency.verify(session, checkpoints)
    session.commit()
    return result


def _reasons(session, path) -> list[str]:
    return [b.reason for b in _verify(session, [path.read_text()]).breaks]


def test_an_untouched_log_extends_its_checkpoint(session, checkpoint_file):
    result = _verify(session, [checkpoint_file.read_text()])
    assert result.ok and result.tree_size == 12 and result.checkpoints_checked == 2  # the file and the stored one
    cli = _verify_cli(checkpoint_file)
    assert cli.returncode == 0 and "tree size 12" in cli.stdout


def test_tail_truncation_is_detected(session, checkpoint_file):
    """The issue's attack: delete the newest rows and rewind the head, with SQL only."""
    session.execute(text("DELETE FROM access_log WHERE seq > 5"))
    session.execute(text("DELETE FROM audit_tree_node"))
    session.execute(text("UPDATE audit_chain_head SET seq = 5"))
    session.commit()
    _rebuild(session)
    assert _verify(session).ok, "without a checkpoint, a truncated log looks whole"
    assert any("its tail was removed" in reason for reason in _reasons(session, checkpoint_file))
    cli = _verify_cli(checkpoint_file)
    assert cli.returncode == 1 and "TAMPERED" in cli.stderr


def test_truncation_hidden_by_new_entries_is_detected(session, checkpoint_file):
    session.execute(text("DELETE FROM access_log WHERE seq > 5"))
    session.execute(text("UPDATE audit_chain_head SET seq = 5"))
    session.commit()
    _rebuild(session)
    _log(session, 9, start=100)  # the tree is larger than the checkpoint again
    reasons = _reasons(session, checkpoint_file)
    assert any("does not extend checkpoint 1 given (size 8)" in reason for reason in reasons)
    assert _verify_cli(checkpoint_file).returncode == 1


def test_a_rewritten_entry_is_detected_even_with_the_key(session, checkpoint_file):
    session.execute(text("UPDATE access_log SET purpose = 'không có gì' WHERE seq = 3"))
    session.commit()
    assert "entry content was altered" in [b.reason for b in _verify(session).breaks]
    _rebuild(session)
    assert _verify(session).ok, "an insider with the key makes the database self-consistent"
    assert any("does not extend" in reason for reason in _reasons(session, checkpoint_file))
    assert _verify_cli(checkpoint_file).returncode == 1


def test_a_duplicated_entry_is_detected(session, checkpoint_file):
    """A copy of entry 3 inserted at position 4 (the rest shifted), even without the uid's unique index."""
    session.execute(text("DROP INDEX ix_access_log_uid"))
    session.execute(text("DROP INDEX ix_access_log_seq"))
    session.execute(text("UPDATE access_log SET seq = seq + 1 WHERE seq >= 4"))
    session.execute(text(
        "INSERT INTO access_log (seq, uid, at, actor, action, subject_type, subject_id, purpose, detail, entry_mac,"
        " refused) SELECT 4, uid, at, actor, action, subject_type, subject_id, purpose, detail, entry_mac, refused"
        " FROM access_log WHERE seq = 3"))
    session.commit()
    _rebuild(session)
    reasons = _reasons(session, checkpoint_file)
    assert any("share the uid" in reason for reason in reasons)
    assert any("does not extend" in reason for reason in reasons)
    assert _verify_cli(checkpoint_file).returncode == 1


def test_a_duplicated_pending_entry_is_refused_by_the_sealer(session, checkpoint_file):
    session.execute(text("DROP INDEX ix_access_log_uid"))
    session.execute(text(
        "INSERT INTO access_log (uid, at, actor, action, subject_type, subject_id, purpose, detail, entry_mac,"
        " refused) SELECT uid, at, actor, action, subject_type, subject_id, purpose, detail, entry_mac, refused"
        " FROM access_log WHERE seq = 6"))
    session.commit()
    assert seal_all(session) == 0
    result = _verify(session, [checkpoint_file.read_text()])
    assert result.tree_size == 12
    reasons = sorted(b.reason for b in result.breaks)
    assert len(reasons) == 2 and reasons[0] == "refused by the sealer (forged, altered or duplicate entry)"
    assert reasons[1].startswith("several entries share the uid")


def test_reordered_entries_are_detected(session, checkpoint_file):
    """The entry MAC does not cover the position; the tree does."""
    session.execute(text("UPDATE access_log SET seq = -1 WHERE seq = 2"))
    session.execute(text("UPDATE access_log SET seq = 2 WHERE seq = 3"))
    session.execute(text("UPDATE access_log SET seq = 3 WHERE seq = -1"))
    session.commit()
    assert "the stored tree nodes do not match the entries" in [b.reason for b in _verify(session).breaks]
    _rebuild(session)
    assert _verify(session).ok
    assert any("does not extend" in reason for reason in _reasons(session, checkpoint_file))
    assert _verify_cli(checkpoint_file).returncode == 1


def test_a_deletion_in_the_middle_is_detected(session, checkpoint_file):
    session.execute(text("DELETE FROM access_log WHERE seq = 4"))
    session.commit()
    assert any("entries 4..4 are missing" in b.reason for b in _verify(session).breaks)
    session.execute(text("UPDATE access_log SET seq = seq - 1 WHERE seq > 4"))
    session.commit()
    _rebuild(session)
    assert _verify(session).ok
    assert any("does not extend" in reason for reason in _reasons(session, checkpoint_file))
    assert _verify_cli(checkpoint_file).returncode == 1


def test_a_forged_checkpoint_is_refused(session, checkpoint_file, tmp_path):
    genuine = checkpoint_file.read_text()
    body, signatures = genuine.split("\n\n")
    lines = body.split("\n")
    altered = tmp_path / "altered"
    altered.write_text("\n".join([lines[0], "5", *lines[2:]]) + "\n\n" + signatures)
    assert any("does not verify" in reason for reason in _reasons(session, altered))
    assert _verify_cli(altered).returncode == 1
    # Signed by a key that is not the log's, under the log's name.
    other = Ed25519PrivateKey.generate()
    raw = other.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    forged = tmp_path / "forged"
    forged.write_text(note.sign(note.Checkpoint(lines[0], 3, b"\0" * 32), lines[0], raw, other.sign))
    assert any("no signature of" in reason for reason in _reasons(session, forged))
    cli = _verify_cli(forged)
    assert cli.returncode == 1 and "refused" in cli.stderr


def test_a_checkpoint_is_a_c2sp_signed_note_with_an_rfc3161_timestamp(session, checkpoint_file):
    text_ = checkpoint_file.read_text()
    origin, size, root, blank, signature, end = text_.split("\n")
    assert (size, blank, end) == ("8", "", "") and origin == transparency.origin()
    name, key_hash, raw = transparency.verifier_key(session).split("+", 2)
    dash, signer, sig = signature.split(" ")
    assert dash == "\u2014" and signer == name == origin and base64.b64decode(sig)[:4].hex() == key_hash
    public = base64.b64decode(raw)[1:]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(sig)[4:], f"{origin}\n8\n{root}\n".encode())
    assert base64.b64decode(root) == merkle.root(8, lambda needed: {
        node: bytes(h) for node, h in ((
            (row.level, row.idx), row.hash) for row in session.scalars(select(AuditTreeNode)))})
    token = cms.ContentInfo.load((checkpoint_file.parent / "checkpoint.8.tst").read_bytes())
    signed_data = token["content"]
    imprint = signed_data["encap_content_info"]["content"].parsed["message_imprint"]
    assert imprint["hashed_message"].native == hashlib.sha256(text_.encode()).digest()
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus

    status = TimestampSignatureStatus(**pades._run(validate_tst_signed_data(
        signed_data, pades.validation_context(session), lambda _algorithm: hashlib.sha256(text_.encode()).digest())))
    assert status.intact and status.valid and status.trusted


def test_the_checkpoint_and_key_are_published(session, checkpoint_file):
    from dancu.web.app import create_app

    assert transparency.checkpoint_now(session).tree_size == 12
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        published = client.get("/audit/checkpoint")
        key = client.get("/audit/checkpoint/key")
        stamp = client.get("/audit/checkpoint/timestamp")
        latest = note.open_signed(published.text, *note.parse_verifier_key(key.text))
        proof = client.get("/audit/proof/consistency", params={"first": 8, "second": latest.size})
        too_far = client.get("/audit/proof/consistency", params={"first": 8, "second": 10_000})
    # A monitor holding only the old checkpoint file checks the published one against it.
    old = note.open_signed(checkpoint_file.read_text(), *note.parse_verifier_key(key.text))
    assert merkle.verify_consistency(old.size, latest.size, old.root, latest.root,
                                     [base64.b64decode(line) for line in proof.text.split()])
    assert too_far.status_code == 422
    # The first 8 leaves are a whole subtree of 12: the proof is the one hash of the other 4.
    assert published.status_code == 200 and latest.size == 12 and proof.text.count("\n") == 1
    assert key.text.strip() == transparency.verifier_key(session)
    assert stamp.status_code == 200 and cms.ContentInfo.load(stamp.content)["content_type"].native == "signed_data"
    cli = run_dancu("audit", "verify", "--key", key.text.strip(), "--checkpoint", str(checkpoint_file))
    assert cli.returncode == 0


def test_a_citizens_entries_come_with_inclusion_proofs(session, checkpoint_file, tmp_path):
    record_access(session, REGISTRAR, "read", "person", 1003, "cấp CT07")
    session.commit()
    seal_all(session)
    transparency.checkpoint_now(session)
    bundle = transparency.inclusion_bundle(session, "person", 1003)
    assert len(bundle["entries"]) == 2 and not bundle["pending"]
    assert transparency.verify_inclusion_bundle(bundle).verified == 2
    path = tmp_path / "proofs.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False))
    key = transparency.verifier_key(session)
    cli = run_dancu("audit", "verify-inclusion", str(path), "--key", key)
    assert cli.returncode == 0 and "2 entries proven in the log of 13 entries" in cli.stdout
    bundle["entries"][0]["leaf"] = bundle["entries"][0]["leaf"].replace("cấp CT07", "khác")
    path.write_text(json.dumps(bundle, ensure_ascii=False))
    cli = run_dancu("audit", "verify-inclusion", str(path), "--key", key)
    assert cli.returncode == 1 and "NOT PROVEN" in cli.stderr


class _Witness(http.server.BaseHTTPRequestHandler):
    """A tiny C2SP tlog-witness: checks the signature and the consistency proof from the size it last saw."""

    verifier: tuple[str, bytes]
    seen: list[int]

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        header, _, signed = body.partition("\n\n")
        old_line, *proof_lines = header.split("\n")
        old = int(old_line.removeprefix("old "))
        checkpoint = note.open_signed(signed, *self.verifier)
        last = self.seen[-1] if self.seen else 0
        ok = old == last and merkle.verify_consistency(
            old, checkpoint.size, self.roots.get(old, merkle.EMPTY_ROOT), checkpoint.root,
            [base64.b64decode(line) for line in proof_lines])
        if ok:
            self.seen.append(checkpoint.size)
            self.roots[checkpoint.size] = checkpoint.root
        self.send_response(200 if ok else 409)
        self.end_headers()
        self.wfile.write(b"\xe2\x80\x94 witness AAAA\n" if ok else b"")

    def log_message(self, *args):
        pass


def test_checkpoints_are_pushed_to_a_witness_with_consistency_proofs(session, monkeypatch):
    handler = type("Witness", (_Witness,), {"seen": [], "roots": {},
                                            "verifier": note.parse_verifier_key(transparency.verifier_key(session))})
    session.commit()
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("DANCU_AUDIT_WITNESS_URL", f"http://127.0.0.1:{server.server_port}/add-checkpoint")
        for batch in (3, 5, 1):
            _log(session, batch, start=len(handler.seen) * 10)
            assert transparency.checkpoint_now(session) is not None
    finally:
        server.shutdown()
    assert handler.seen == [3, 8, 9]


def test_the_sealer_checkpoints_when_due_and_writes_the_file(session, monkeypatch, tmp_path):
    from dancu.audit.sealer import Sealer

    monkeypatch.setenv("DANCU_AUDIT_CHECKPOINT_DIR", str(tmp_path / "published"))
    monkeypatch.setenv("DANCU_AUDIT_CHECKPOINT_INTERVAL", "3600")
    for i in range(3):
        record_access(session, REGISTRAR, "read", "person", i, "xác minh cư trú")
    session.commit()
    sealer = Sealer()
    assert sealer.seal_once() == 3
    assert (tmp_path / "published" / "checkpoint.3").read_text() == (tmp_path / "published" / "checkpoint").read_text()
    record_access(session, REGISTRAR, "read", "person", 9, "xác minh cư trú")
    session.commit()
    assert sealer.seal_once() == 1
    assert not (tmp_path / "published" / "checkpoint.4").exists(), "the next checkpoint waits for its interval"
    monkeypatch.setenv("DANCU_AUDIT_CHECKPOINT_INTERVAL", "0")
    assert sealer.seal_once() == 0
    assert (tmp_path / "published" / "checkpoint.4").exists()
    assert _verify(session, [(tmp_path / "published" / "checkpoint.3").read_text()]).ok


def test_a_replaced_timestamp_is_detected(session, checkpoint_file):
    other = transparency.checkpoint_now(session)  # size 12, with its own token
    session.execute(text("UPDATE audit_checkpoint SET timestamp_token = (SELECT timestamp_token FROM audit_checkpoint"
                         " WHERE tree_size = 8) WHERE tree_size = :n"), {"n": other.tree_size})
    session.commit()
    assert [b.reason for b in _verify(session).breaks] == [
        "the timestamp of stored checkpoint 12 does not verify"]
