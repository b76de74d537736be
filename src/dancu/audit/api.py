"""Access-log API for auditors (/api/v1/audit)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from dancu.audit import services, transparency
from dancu.web.deps import ApiActor, DbSession
from dancu.web.errors import service_errors
from dancu.web.params import Offset
from dancu.web.problems import API_ERRORS

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=API_ERRORS)


class Entry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    seq: int | None = Field(description="Position in the Merkle tree (1-based); null until the entry is sealed "
                                        "(well under a second)")
    uid: str = Field(description="The entry's unique id, covered by its MAC")
    at: dt.datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    purpose: str
    detail: str


class Break(BaseModel):
    seq: int | None
    entry_id: int | None
    reason: str


class Verification(BaseModel):
    ok: bool
    entries_checked: int
    pending: int
    tree_size: int
    checkpoints_checked: int
    breaks: list[Break]


@router.get("/entries", response_model=list[Entry], summary="Access-log entries, newest first")
def entries(session: DbSession, actor: ApiActor,
            subject_id: Annotated[str | None, Query(max_length=64)] = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 50,
            offset: Offset = 0) -> list[Entry]:
    with service_errors():
        if subject_id:
            rows = services.entries_for_subject(session, actor, "person", subject_id, limit, offset)
        else:
            rows = services.recent_entries(session, actor, limit, offset)
    return [Entry.model_validate(row) for row in rows]


@router.get("/verify", response_model=Verification,
            summary="Check every entry and prove that the log extends every stored checkpoint")
def verify(session: DbSession, actor: ApiActor) -> Verification:
    with service_errors():
        actor.require(services.Role.AUDITOR, services.Role.ADMIN)
        result = transparency.verify(session)
    return Verification(ok=result.ok, entries_checked=result.entries_checked, pending=result.pending,
                        tree_size=result.tree_size, checkpoints_checked=result.checkpoints_checked,
                        breaks=[Break(seq=b.seq, entry_id=b.entry_id, reason=b.reason) for b in result.breaks])
