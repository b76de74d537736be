"""Access-log pages: for auditors, recent reads, reads of one person and verification; for anyone,
the latest signed checkpoint, its timestamp token and the log's verifier key."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from dancu.audit import transparency
from dancu.audit.services import entries_for_subject, recent_entries
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
    result = transparency.verify(session)
    if is_htmx(request):
        return render(request, "audit/_verification.html", {"verification": result}, actor=actor)
    entries = recent_entries(session, actor, PAGE_SIZE + 1)
    return render(request, "audit/log.html", {
        "section": "audit", "entries": entries[:PAGE_SIZE], "has_more": len(entries) > PAGE_SIZE,
        "page": 1, "person": "", "verification": result,
    }, actor=actor)


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(session: DbSession) -> PlainTextResponse:
    """The latest checkpoint as a C2SP signed note: public, so that anyone can keep a copy."""
    latest = transparency.latest_checkpoint(session)
    if latest is None:
        raise HTTPException(404, "no checkpoint has been published yet")
    return PlainTextResponse(latest.note, headers={"Cache-Control": "no-cache"})


@router.get("/checkpoint/timestamp")
def checkpoint_timestamp(session: DbSession) -> Response:
    """The RFC 3161 timestamp token over the latest signed checkpoint (DER)."""
    latest = transparency.latest_checkpoint(session)
    if latest is None:
        raise HTTPException(404, "no checkpoint has been published yet")
    return Response(bytes(latest.timestamp_token), media_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="checkpoint.{latest.tree_size}.tst"',
        "Cache-Control": "no-cache"})


@router.get("/checkpoint/key", response_class=PlainTextResponse)
def checkpoint_key(session: DbSession) -> PlainTextResponse:
    """The log's verifier key (c2sp.org/signed-note), for `dancu audit verify --key`."""
    return PlainTextResponse(transparency.verifier_key(session) + "\n",
                             headers={"Cache-Control": "public, max-age=3600"})


@router.get("/proof/consistency", response_class=PlainTextResponse)
def consistency_proof(session: DbSession, first: Annotated[int, Query(ge=0, le=2**62)],
                      second: Annotated[int, Query(ge=0, le=2**62)]) -> PlainTextResponse:
    """RFC 9162 consistency proof between two tree sizes, one base64 hash a line: public, so that anyone
    holding an older checkpoint can check the latest one against it without access to the database."""
    try:
        proof = transparency.proof_of_consistency(session, first, second)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return PlainTextResponse("".join(base64.b64encode(h).decode() + "\n" for h in proof))
