import subprocess

import pytest
from migration_helpers import downgrade_below
from sqlalchemy import create_engine, func, select, text
from test_smoke_cli import run_dancu

from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit.models import AccessLogEntry
from dancu.audit.services import record_access, record_accesses, seal_all, seal_pending
from dancu.audit.transparency import verify
from dancu.db import is_postgres, new_session

AUDITOR = Actor("auditor", Role.AUDITOR)
REGISTRAR = Actor("registrar", Role.REGISTRAR)


def _log_eight(session) -> None:
    for i in range(5):
        record_access(session, REGISTRAR, "read", "person", i, "xác minh cư trú")
    record_accesses(session, REGISTRAR, "search_hit", "person", [7, 8, 9], "tra cứu")
    session.commit()


@pytest.fixture
def logged(session):
    """Eight entries, sealed into the chain."""
    _log_eight(session)
    assert seal_all(session) == 8
    return 8


def _audit(*args: str) -> subprocess.CompletedProcess:
    return run_dancu("audit", *args)


def test_an_untouched_log_verifies(session, logged):
    result = verify(session)
    assert result.ok and result.entries_checked == logged and result.pending == 0
    cli = _audit("verify")
    assert cli.returncode == 0 and f"{logged} entries verified" in cli.stdout


def test_an_altered_row_is_detected(session, logged):
    session.execute(text("UPDATE access_log SET purpose = 'nothing to see' WHERE seq = 3"))
    session.commit()
    result = verify(session)
    assert (3, "entry content was altered") in [(b.seq, b.reason) for b in result.breaks]
    cli = _audit("verify")
    assert cli.returncode == 1 and "BROKEN at entry 3" in cli.stderr


def test_a_deleted_row_is_detected(session, logged):
    session.execute(text("DELETE FROM access_log WHERE seq = 4"))
    session.commit()
    reasons = {b.seq: b.reason for b in verify(session).breaks}
    assert "missing" in reasons[4] and _audit("verify").returncode == 1


def test_a_truncated_tail_is_detected(session, logged):
    session.execute(text("DELETE FROM access_log WHERE seq >= 7"))
    session.commit()
    result = verify(session)
    assert not result.ok and "head says 8" in result.breaks[-1].reason


def test_a_recomputed_plain_hash_cannot_forge_an_entry(session, logged):
    """Without the key file an attacker cannot produce a valid MAC for a forged entry."""
    import hashlib

    forged = hashlib.sha256(b"ghost").hexdigest()
    session.execute(text("UPDATE access_log SET actor = 'ghost', entry_mac = :m WHERE seq = 2"), {"m": forged})
    session.commit()
    assert (2, "entry content was altered") in [(b.seq, b.reason) for b in verify(session).breaks]


def test_entries_are_visible_before_they_are_sealed_and_sealing_keeps_append_order(session):
    _log_eight(session)
    pending = session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id)).all()
    assert len(pending) == 8 and all(e.seq is None and e.entry_mac and len(e.uid) == 32 for e in pending)
    assert len({e.uid for e in pending}) == 8
    result = verify(session)
    assert result.ok and result.pending == 8
    assert _audit("seal").stdout.strip() == "8 entries sealed"
    session.expire_all()
    sealed = session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.id)).all()
    assert [e.seq for e in sealed] == list(range(1, 9))
    result = verify(session)
    assert result.ok and result.pending == 0 and result.tree_size == 8


def test_a_pending_entry_altered_before_sealing_is_refused_by_the_sealer(session):
    _log_eight(session)
    target = session.scalar(select(func.min(AccessLogEntry.id)))
    session.execute(text("UPDATE access_log SET actor = 'ghost' WHERE id = :id"), {"id": target})
    session.commit()
    before = verify(session)
    assert [(b.seq, b.entry_id) for b in before.breaks] == [(None, target)]
    cli = _audit("verify")
    assert cli.returncode == 1 and f"BROKEN at pending entry id {target}" in cli.stderr
    assert seal_all(session) == 7
    session.expire_all()
    assert session.get(AccessLogEntry, target).seq is None and session.get(AccessLogEntry, target).refused
    after = verify(session)
    assert [(b.entry_id, b.reason) for b in after.breaks] == [
        (target, "refused by the sealer (forged, altered or duplicate entry)")]
    assert after.tree_size == 7


def test_a_pending_entry_without_its_mac_is_detected(session):
    _log_eight(session)
    session.execute(text("UPDATE access_log SET entry_mac = '', purpose = 'x'"
                         " WHERE id = (SELECT MAX(id) FROM access_log)"))
    session.commit()
    assert len(verify(session).breaks) == 1


def test_later_entries_chain_onto_earlier_batches(session, logged):
    record_access(session, REGISTRAR, "read", "person", 42, "kiểm tra")
    session.commit()
    assert seal_pending(session).sealed == 1
    session.commit()
    assert session.scalar(select(func.max(AccessLogEntry.seq))) == logged + 1
    assert verify(session).ok


def test_readers_append_while_a_sealer_holds_the_chain_head(session, database_url):
    """Appending takes no lock; a second sealer skips instead of waiting."""
    if not is_postgres(session):
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are a PostgreSQL feature; SQLite has one writer")
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as holder:
        holder.execute(text("SET lock_timeout = '5s'"))
        holder.execute(text("SELECT * FROM audit_chain_head WHERE id = 1 FOR UPDATE"))
        reader = new_session()
        try:
            reader.execute(text("SET lock_timeout = '2s'"))
            record_access(reader, REGISTRAR, "read", "person", 1, "tra cứu")
            reader.commit()
            assert seal_pending(reader).taken == 0
            reader.rollback()
        finally:
            reader.close()
        holder.rollback()
    engine.dispose()
    assert seal_all(session) == 1 and verify(session).ok


def test_migrations_0006_and_0011_keep_the_log_both_ways(session, database_url):
    """Down to the locked-append HMAC chain and up again to the Merkle tree: entries keep their order."""
    from dancu import migrate
    from dancu.db import get_engine

    _log_eight(session)
    seal_all(session)
    order = session.scalars(select(AccessLogEntry.subject_id).order_by(AccessLogEntry.seq)).all()
    session.close()
    downgrade_below("0006_audit_sealing")
    with get_engine().connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM access_log WHERE mac IS NOT NULL")).scalar() == 8
    migrate.upgrade()
    assert seal_all(session) == 8
    assert session.scalars(select(AccessLogEntry.subject_id).order_by(AccessLogEntry.seq)).all() == order
    result = verify(session)
    assert result.ok and result.entries_checked == 8 and result.tree_size == 8
    record_access(session, REGISTRAR, "read", "person", 9, "sau nâng cấp")
    session.commit()
    assert seal_all(session) == 1 and verify(session).ok


def test_upgrading_refuses_a_tampered_hmac_chain(session, database_url):
    """The old chain is checked before its entries enter the tree: tampering is not laundered."""
    from dancu import migrate
    from dancu.db import get_engine

    _log_eight(session)
    seal_all(session)
    session.close()
    downgrade_below("0011_audit_transparency")
    with get_engine().begin() as connection:
        connection.execute(text("UPDATE access_log SET purpose = 'rewritten' WHERE seq = 2"))
    with pytest.raises(RuntimeError, match="HMAC chain is broken"):
        migrate.upgrade()
