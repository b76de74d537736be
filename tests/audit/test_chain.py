import subprocess
import sys

import pytest
from sqlalchemy import text

from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit.services import record_access, record_accesses, verify_chain

AUDITOR = Actor("auditor", Role.AUDITOR)


@pytest.fixture
def logged(session):
    actor = Actor("registrar", Role.REGISTRAR)
    for i in range(5):
        record_access(session, actor, "read", "person", i, "xác minh cư trú")
    record_accesses(session, actor, "search_hit", "person", [7, 8, 9], "tra cứu")
    session.commit()
    return 8


def _audit_verify() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dancu.cli", "audit", "verify"], capture_output=True, text=True)


def test_an_untouched_log_verifies(session, logged):
    result = verify_chain(session)
    assert result.ok and result.entries_checked == logged
    cli = _audit_verify()
    assert cli.returncode == 0 and f"{logged} entries verified" in cli.stdout


def test_an_altered_row_is_detected(session, logged):
    session.execute(text("UPDATE access_log SET purpose = 'nothing to see' WHERE seq = 3"))
    session.commit()
    result = verify_chain(session)
    assert [(b.seq, b.reason) for b in result.breaks] == [(3, "entry content was altered")]
    cli = _audit_verify()
    assert cli.returncode == 1 and "BROKEN at entry 3" in cli.stderr


def test_a_deleted_row_is_detected(session, logged):
    session.execute(text("DELETE FROM access_log WHERE seq = 4"))
    session.commit()
    reasons = {b.seq: b.reason for b in verify_chain(session).breaks}
    assert "missing" in reasons[4] and _audit_verify().returncode == 1


def test_a_truncated_tail_is_detected(session, logged):
    session.execute(text("DELETE FROM access_log WHERE seq >= 7"))
    session.commit()
    result = verify_chain(session)
    assert not result.ok and "head says 8" in result.breaks[-1].reason


def test_a_recomputed_plain_hash_cannot_forge_the_chain(session, logged):
    """Without the key file an attacker cannot produce a valid MAC for a forged entry."""
    import hashlib

    row = session.execute(text("SELECT prev_mac FROM access_log WHERE seq = 2")).one()
    forged = hashlib.sha256((row.prev_mac + "forged").encode()).hexdigest()
    session.execute(text("UPDATE access_log SET actor = 'ghost', mac = :m WHERE seq = 2"), {"m": forged})
    session.commit()
    assert {b.seq for b in verify_chain(session).breaks} >= {2, 3}
