"""`dancu card upload` sends a capture queue to a running server; sending it again stores nothing twice."""

import datetime as dt
import json
import sys

from serving import free_port, serving
from typer.testing import CliRunner

from dancu.accounts.services import issue_token
from dancu.cli import app
from dancu.identity.cards import services as cards
from dancu.identity.cards.schemas import ApplicationFilter, EntryInput, TeamInput, VisitInput


def test_upload_command_is_idempotent_against_a_live_server(session, approver, commune, make_person, tmp_path):
    team = cards.create_team(session, approver, TeamInput(name="Tổ lưu động số 2", unit_id=commune.id))
    visit = cards.schedule_visit(session, approver, team, VisitInput(
        visit_on=dt.date.today(), place_kind="home", place="Hẻm 42 Nguyễn Trãi", unit_id=commune.id))
    make_person(full_name="Võ Thị Lan", birth="1940-01-15", pin="079140000301")
    cards.add_visit_entry(session, approver, visit, EntryInput(pin="079140000301", note="nằm liệt giường"))
    (tmp_path / "package.json").write_text(json.dumps(cards.export_package(session, approver, visit)))
    token = issue_token(session, approver)
    session.commit()
    runner = CliRunner()
    assert runner.invoke(app, ["card", "trust-files", str(tmp_path)]).exit_code == 0
    queue = tmp_path / "queue.jsonl"
    assert runner.invoke(app, ["card", "capture-offline", str(tmp_path / "package.json"), str(queue),
                               "--ca", str(tmp_path / "ca.pem")]).exit_code == 0
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, timeout=30) as base:
        first = runner.invoke(app, ["card", "upload", str(queue), "--url", base, "--token", token])
        second = runner.invoke(app, ["card", "upload", str(queue), "--url", base, "--token", token])
    assert first.exit_code == 0 and "stored as application" in first.output, first.output
    assert second.exit_code == 0 and "already stored" in second.output, second.output
    session.expire_all()
    page = cards.list_applications(session, approver, ApplicationFilter(visit_id=visit))
    assert page.total == 1 and page.items[0].channel == "mobile"
