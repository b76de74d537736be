"""`dancu eid`: create an account, unlock it, deliver the outbox."""

from __future__ import annotations

import datetime as dt

from eid_helpers import CITIZEN_PASSWORD, PARENT_PIN, outbox_messages
from typer.testing import CliRunner

from dancu import db
from dancu.cli import app
from dancu.identity.eid import services as eid
from dancu.identity.eid.outbox import notify


def test_create_unlock_and_deliver(citizens, data_dir):
    runner = CliRunner()
    created = runner.invoke(app, ["eid", "create", PARENT_PIN, "--phone", "0912345678", "--level", "2",
                                  "--password", CITIZEN_PASSWORD])
    assert created.exit_code == 0, created.output
    again = runner.invoke(app, ["eid", "create", PARENT_PIN, "--password", CITIZEN_PASSWORD])
    assert again.exit_code != 0
    assert "already has an e-ID account" in " ".join(again.output.replace("│", " ").split())
    with db.session_scope() as session:
        account = session.scalar(eid.select(eid.EidAccount).where(eid.EidAccount.pin == PARENT_PIN))
        assert account.level == 2
        account.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
        notify(session, account_id=account.id, phone=account.phone, kind="level_changed", level=2)
    assert runner.invoke(app, ["eid", "unlock", PARENT_PIN]).exit_code == 0
    with db.session_scope() as session:
        assert eid.authenticate_password(session, PARENT_PIN, CITIZEN_PASSWORD, "192.0.2.1").level == 2
    delivered = runner.invoke(app, ["eid", "deliver"])
    assert delivered.exit_code == 0 and "sent 1 message" in delivered.output
    assert [m["kind"] for m in outbox_messages(data_dir)] == ["level_changed"]
    assert runner.invoke(app, ["eid", "unlock", "079000000000"]).exit_code != 0
