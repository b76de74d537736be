"""Access-log pages for auditors: recent reads, reads of one person, chain verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from dancu.audit.services import entries_for_subject, recent_entries, verify_chain
from dancu.web.deps import AuditorActor, DbSession
from dancu.web.templating import is_htmx, render

router = APIRouter(prefix="/audit", include_in_schema=False)

PAGE_SIZE = 50


@router.get("")
def access_log(
    request: Request,
    session: DbSession,
    actor: AuditorActor,
    person: Annotated[str, Query(max_length=64, pattern=r"^\d*$")] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    offset = (page - 1) * PAGE_SIZE
    if person:
        entries = entries_for_subject(session, actor, "person", person, PAGE_SIZE + 1, offset)
    else:
        entries = recent_entries(session, actor, PAGE_SIZE + 1, offset)
    return render(request, "audit/log.html", {
        "section": "audit", "entries": entries[:PAGE_SIZE], "has_more": len(entries) > PAGE_SIZE,
        "page": page, "person": person, "verification": None,
    }, actor=actor)


@router.post("")
def verify(request: Request, session: DbSession, actor: AuditorActor) -> HTMLResponse:
    result = verify_chain(session)
    if is_htmx(request):
        return render(request, "audit/_verification.html", {"verification": result}, actor=actor)
    entries = recent_entries(session, actor, PAGE_SIZE + 1)
    return render(request, "audit/log.html", {
        "section": "audit", "entries": entries[:PAGE_SIZE], "has_more": len(entries) > PAGE_SIZE,
        "page": 1, "person": "", "verification": result,
    }, actor=actor)
