"""Console pages of record linkage: the clerical review queue, a pair side by side with its weight
explained (a server-drawn waterfall), decisions and merges, agency reconciliation, a person's agency links.

Registrars and administrators decide and merge; auditors read. Every page
calls the linkage services, which read persons through the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, PermissionDenied
from dancu.i18n import t
from dancu.linkage import agency, review, services
from dancu.linkage.schemas import ComparisonWeight, PairDetail, PairQuery
from dancu.registry import services as registry
from dancu.web.deps import DbSession, page_actor_with
from dancu.web.forms import service_message
from dancu.web.params import IdPath
from dancu.web.templating import render, request_lang

router = APIRouter(prefix="/linkage", include_in_schema=False)

ReviewerActor = Annotated[Actor, Depends(page_actor_with(*review.REVIEWERS))]
DeciderActor = Annotated[Actor, Depends(page_actor_with(*review.DECIDERS))]
ReportActor = Annotated[Actor, Depends(page_actor_with(Role.ADMIN, Role.AUDITOR))]
SerialPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
FLASH = "linkage_flash"
PAGE_SIZE = 20
# Weight bands of the queue filter: (key, lowest weight, weight below which).
BANDS = {"strong": (15.0, None), "likely": (5.0, 15.0), "doubtful": (None, 5.0)}


def _purpose(request: Request, default: str = "linkage.default_purpose") -> str:
    """The purpose the user stated last in this session (the registry's search form), else the page's own."""
    return request.session.get("purpose") or t(default, request_lang(request))


def _flash(request: Request, key: str, error: str | None = None) -> None:
    request.session[FLASH] = {"key": key, "error": error}


# ---- the waterfall -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    detail: str
    start: float
    end: float
    kind: str  # prior, for, against, total


@dataclass(frozen=True)
class Waterfall:
    bars: list[Bar]
    low: float
    high: float
    width: int = 420

    def x(self, value: float) -> float:
        return round((value - self.low) / (self.high - self.low) * self.width, 1)


def waterfall(pair: PairDetail, lang: str) -> Waterfall:
    """Prior, then each comparison moving the running weight, then the total: what a reviewer reads left to right."""
    bars = [Bar(t("linkage.prior", lang), t("linkage.prior_detail", lang), 0.0, pair.prior_weight, "prior")]
    running = pair.prior_weight
    for comparison in pair.comparisons:
        step = comparison.weight + comparison.tf
        bars.append(Bar(_comparison_label(comparison, lang), _level_label(comparison, lang), running,
                        running + step, "for" if step >= 0 else "against"))
        running += step
    bars.append(Bar(t("linkage.total", lang), "", 0.0, pair.match_weight, "total"))
    values = [0.0] + [v for bar in bars for v in (bar.start, bar.end)]
    low, high = min(values), max(values)
    margin = max(1.0, (high - low) * 0.05)
    return Waterfall(bars, low - margin, high + margin)


def _comparison_label(comparison: ComparisonWeight, lang: str) -> str:
    return t(f"linkage.cmp.{comparison.comparison}", lang)


# Splink's generic level labels name the column ("Exact match on given_f"): the comparison already says which.
_GENERIC_LEVELS = (
    (re.compile(r"^Exact match on province$"), "exact_province"),
    (re.compile(r"^Exact match on "), "exact"),
    (re.compile(r" is NULL$"), "null"),
    (re.compile(r"^Damerau-Levenshtein distance of .* <= 1$"), "one_edit"),
    (re.compile(r"^Jaro-Winkler distance of "), "similar"),
    (re.compile(r"^All other comparisons$"), "else"),
)


def _level_label(comparison: ComparisonWeight, lang: str) -> str:
    if comparison.comparison == "relatives" and comparison.level == "All other comparisons":
        return t("linkage.level.not_relatives", lang)
    slug = next((name for pattern, name in _GENERIC_LEVELS if pattern.search(comparison.level)), None)
    if slug is None:
        slug = re.sub(r"[^a-z0-9]+", "_", comparison.level.lower()).strip("_")
    key = f"linkage.level.{slug}"
    text = t(key, lang)
    return comparison.level if text == key else text


# ---- the queue and a pair ------------------------------------------------------------------


@router.get("/review")
def queue_page(
    request: Request,
    session: DbSession,
    actor: ReviewerActor,
    run: Annotated[str, Query(max_length=12)] = "",
    band: Annotated[str, Query(max_length=12)] = "",
    undecided: Annotated[str, Query(max_length=3)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    low, high = BANDS.get(band, (None, None))
    run_id = int(run) if run.isdigit() and 0 < int(run) < 2**31 else None
    query = PairQuery(run_id=run_id, min_weight=low, max_weight=high, undecided=undecided == "1", page=page,
                      page_size=PAGE_SIZE)
    pairs = review.list_pairs(session, actor, query)
    runs = services.list_runs(session, limit=50)
    return render(request, "linkage/queue.html", {
        "section": "linkage", "pairs": pairs, "runs": runs, "bands": BANDS,
        "filters": {"run": str(run_id or ""), "band": band if band in BANDS else "", "undecided": undecided == "1"},
        "pages": max(1, -(-pairs.total // PAGE_SIZE)),
    }, actor=actor)


@router.get("/pairs/{pair_id}")
def pair_page(request: Request, session: DbSession, actor: ReviewerActor, pair_id: IdPath) -> HTMLResponse:
    purpose = _purpose(request)
    lang = request_lang(request)
    try:
        pair = review.get_pair(session, actor, pair_id, purpose)
    except (review.PairNotFound, registry.PersonNotFound) as exc:
        return render(request, "error.html", {"status": 404, "message": service_message(str(exc), lang)},
                      actor=actor, status_code=404)
    return render(request, "linkage/pair.html", {
        "section": "linkage", "pair": pair, "purpose": purpose, "chart": waterfall(pair, lang),
        "fields": review.SIDE_FIELDS, "flash": request.session.pop(FLASH, None),
        "can_decide": actor.role in review.DECIDERS,
        "latest": pair.decisions[0].decision if pair.decisions else None,
    }, actor=actor)


async def _form(request: Request) -> dict[str, str]:
    raw = await request.form()
    return {key: str(value).strip() for key, value in raw.items()}


def _back(pair_id: int) -> RedirectResponse:
    return RedirectResponse(f"/linkage/pairs/{pair_id}", status_code=303)


@router.post("/pairs/{pair_id}/decision")
async def decide(request: Request, session: DbSession, actor: DeciderActor, pair_id: IdPath) -> Response:
    form = await _form(request)
    try:
        review.decide(session, actor, pair_id, form.get("decision", ""), form.get("note", ""))
        _flash(request, "linkage.decided")
    except review.ReviewError as exc:
        _flash(request, "linkage.refused", service_message(str(exc), request_lang(request)))
    except review.PairNotFound:
        return RedirectResponse("/linkage/review", status_code=303)
    return _back(pair_id)


@router.post("/pairs/{pair_id}/merge")
async def merge(request: Request, session: DbSession, actor: DeciderActor, pair_id: IdPath) -> Response:
    form = await _form(request)
    survivor = form.get("survivor_id", "")
    try:
        review.merge_pair(session, actor, pair_id, int(survivor) if survivor.isdigit() else None,
                          form.get("reason", ""))
        _flash(request, "linkage.merged")
    # A record outside the registrar's area is refused as a missing one (registry.policy).
    except (review.ReviewError, registry.RegistryError, registry.PersonNotFound, PermissionDenied) as exc:
        session.rollback()
        _flash(request, "linkage.refused", service_message(str(exc), request_lang(request)))
    except review.PairNotFound:
        return RedirectResponse("/linkage/review", status_code=303)
    return _back(pair_id)


@router.post("/pairs/{pair_id}/undo-merge")
async def undo_merge(request: Request, session: DbSession, actor: DeciderActor, pair_id: IdPath) -> Response:
    form = await _form(request)
    try:
        review.undo_pair_merge(session, actor, pair_id, form.get("reason", ""))
        _flash(request, "linkage.unmerged")
    # A record outside the registrar's area is refused as a missing one (registry.policy).
    except (review.ReviewError, registry.RegistryError, registry.PersonNotFound, PermissionDenied) as exc:
        session.rollback()
        _flash(request, "linkage.refused", service_message(str(exc), request_lang(request)))
    except review.PairNotFound:
        return RedirectResponse("/linkage/review", status_code=303)
    return _back(pair_id)


# ---- agency data sets ------------------------------------------------------------------------


@router.get("/datasets")
def datasets_page(request: Request, session: DbSession, actor: ReviewerActor) -> HTMLResponse:
    return render(request, "linkage/datasets.html", {
        "section": "linkage", "datasets": agency.list_datasets(session, actor),
        "can_reconcile": actor.role in (Role.ADMIN, Role.AUDITOR),
    }, actor=actor)


@router.get("/datasets/{dataset_id}")
def reconciliation_page(
    request: Request,
    session: DbSession,
    actor: ReportActor,
    dataset_id: SerialPath,
    status: Annotated[str, Query(max_length=12)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    lang = request_lang(request)
    purpose = _purpose(request, "linkage.reconcile_purpose")
    try:
        report = agency.reconcile(session, actor, dataset_id, purpose,
                                  status if status in agency.STATUSES else None, page, PAGE_SIZE)
    except agency.DatasetNotFound as exc:
        return render(request, "error.html", {"status": 404, "message": service_message(str(exc), lang)},
                      actor=actor, status_code=404)
    return render(request, "linkage/reconciliation.html", {
        "section": "linkage", "report": report, "statuses": agency.STATUSES, "purpose": purpose,
        "pages": max(1, -(-report.total // PAGE_SIZE)),
    }, actor=actor)


@router.get("/datasets/{dataset_id}/reconciliation.csv")
def reconciliation_csv(
    request: Request,
    session: DbSession,
    actor: ReportActor,
    dataset_id: SerialPath,
    status: Annotated[str, Query(max_length=12)] = "",
) -> Response:
    try:
        report = agency.reconcile(session, actor, dataset_id, _purpose(request, "linkage.reconcile_purpose"),
                                  status if status in agency.STATUSES else None, page_size=None)
    except agency.DatasetNotFound:
        return Response(status_code=404)
    return Response(agency.reconciliation_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reconciliation-{dataset_id}.csv"'})


# ---- a person's links (an htmx fragment of the person page) ----------------------------------


@router.get("/persons/{person_id}/links")
def person_links(request: Request, session: DbSession, actor: ReviewerActor, person_id: IdPath) -> HTMLResponse:
    try:
        links = agency.links_of_person(session, actor, person_id, _purpose(request, "linkage.links_purpose"))
    except (registry.PersonNotFound, ValidationError):
        return HTMLResponse("", status_code=404)
    return render(request, "linkage/_person_links.html", {"links": links, "person_id": person_id}, actor=actor)
