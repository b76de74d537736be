"""Notifications to citizens through an outbox: written with the change that caused them, sent after commit.

A ``Sink`` delivers one message; the file sink (JSON lines under the data dir)
and the console sink ship, and an SMS gateway or mail server plugs in as
another ``Sink``. Choose with ``DANCU_EID_SINK`` = ``file`` (default) or ``console``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from dancu.config import get_settings
from dancu.i18n import t
from dancu.identity.eid.models import EidOutbox

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Message:
    id: int
    channel: str  # "sms" to a phone; "inbox" when the account has no phone (shown on the account page only)
    recipient: str
    kind: str
    body: str


class Sink(Protocol):
    def send(self, message: Message) -> None: ...


class FileSink:
    """Appends each message as one JSON line: the demo's and the tests' phone."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: Message) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"id": message.id, "channel": message.channel, "to": message.recipient,
                           "kind": message.kind, "body": message.body}, ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


class ConsoleSink:
    def send(self, message: Message) -> None:
        print(f"[e-ID {message.channel} → {message.recipient or '-'}] {message.body}", file=sys.stderr)


def outbox_file() -> Path:
    return get_settings().data_dir / "eid-outbox.jsonl"


def configured_sink() -> Sink:
    return ConsoleSink() if os.environ.get("DANCU_EID_SINK") == "console" else FileSink(outbox_file())


def notify(session: Session, *, account_id: int | None, phone: str | None, kind: str, **values: object) -> None:
    """Queue a message in Vietnamese, then English on the next line (the phone has no language setting)."""
    body = f"{t(f'eid.notify.{kind}', 'vi', **values)}\n{t(f'eid.notify.{kind}', 'en', **values)}"
    session.add(EidOutbox(account_id=account_id, channel="sms" if phone else "inbox", recipient=phone or "",
                          kind=kind, body=body, created_at=dt.datetime.now(dt.UTC)))
    session.flush()


def deliver_pending(session: Session, sink: Sink | None = None, limit: int = 100) -> int:
    """Send queued messages; a failing one is retried on the next call, up to MAX_ATTEMPTS."""
    sink = sink or configured_sink()
    sent = 0
    rows = session.scalars(
        select(EidOutbox).where(EidOutbox.sent_at.is_(None), EidOutbox.attempts < MAX_ATTEMPTS)
        .order_by(EidOutbox.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.attempts += 1
        if row.channel == "inbox":
            row.sent_at = dt.datetime.now(dt.UTC)
            continue
        try:
            sink.send(Message(id=row.id, channel=row.channel, recipient=row.recipient, kind=row.kind, body=row.body))
        except Exception as exc:  # noqa: BLE001  (any adapter failure: keep the message for a retry)
            row.last_error = str(exc)[:300]
            continue
        row.sent_at = dt.datetime.now(dt.UTC)
        sent += 1
    session.commit()
    return sent


def recent_for_account(session: Session, account_id: int, limit: int = 20) -> list[EidOutbox]:
    return list(session.scalars(
        select(EidOutbox).where(EidOutbox.account_id == account_id).order_by(EidOutbox.id.desc()).limit(limit)
    ))
