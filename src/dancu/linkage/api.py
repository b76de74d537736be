"""REST API of record linkage (/api/v1/linkage): runs, pairs and decisions, merges, agency data sets.

Runs and agency links are started from the command line (they read the whole
register and take minutes); the API serves what they stored, and the
clerical work done on it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from dancu.linkage import agency, review, services
from dancu.linkage.schemas import (
    AgencyDatasetInfo,
    DecisionEvaluation,
    DecisionInput,
    DecisionView,
    MergeInput,
    MergeResult,
    PairDetail,
    PairPage,
    PairQuery,
    ReconciliationPage,
    RunInfo,
    UndoInput,
)
from dancu.web.deps import ApiActor, DbSession
from dancu.web.errors import service_errors
from dancu.web.params import IdPath
from dancu.web.problems import API_ERRORS

router = APIRouter(prefix="/api/v1/linkage", tags=["linkage"], responses=API_ERRORS)

PurposeParam = Annotated[
    str, Query(min_length=3, max_length=300, description="Why the data is read; written to the access log"),
]
# runs and data sets are numbered by a 32-bit integer column
SerialPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
Status = Literal["matched", "conflicting", "unmatched"]


@router.get("/runs", response_model=list[RunInfo], summary="Stored linkage runs, most recent first")
def list_runs(session: DbSession, actor: ApiActor, limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[RunInfo]:
    with service_errors():
        actor.require(*review.REVIEWERS)
        return services.list_runs(session, limit=limit)


@router.get("/runs/{run_id}/evaluation", response_model=DecisionEvaluation,
            summary="A run's predictions scored against its clerical decisions")
def evaluate_run(session: DbSession, actor: ApiActor, run_id: SerialPath,
                 threshold: Annotated[float | None, Query(gt=0, lt=1)] = None) -> DecisionEvaluation:
    with service_errors():
        actor.require(*review.REVIEWERS)
        return review.evaluate_run(session, run_id, threshold)


@router.get("/pairs", response_model=PairPage,
            summary="The clerical review queue: pairs strongest first, by run, weight band, undecided")
def list_pairs(session: DbSession, actor: ApiActor, query: Annotated[PairQuery, Query()]) -> PairPage:
    with service_errors():
        return review.list_pairs(session, actor, query)


@router.get("/pairs/{pair_id}", response_model=PairDetail,
            summary="A pair side by side, with its match weight explained per comparison")
def get_pair(session: DbSession, actor: ApiActor, pair_id: IdPath, purpose: PurposeParam) -> PairDetail:
    with service_errors():
        return review.get_pair(session, actor, pair_id, purpose)


@router.post("/pairs/{pair_id}/decisions", response_model=DecisionView, status_code=201,
             summary="Decide a pair: match, non_match or unsure")
def decide(session: DbSession, actor: ApiActor, pair_id: IdPath, data: DecisionInput) -> DecisionView:
    with service_errors():
        return review.decide(session, actor, pair_id, data.decision, data.note)


@router.post("/pairs/{pair_id}/merge", response_model=MergeResult, status_code=201,
             summary="Merge the two persons of a pair decided match (the retired record redirects)")
def merge_pair(session: DbSession, actor: ApiActor, pair_id: IdPath, data: MergeInput) -> MergeResult:
    with service_errors():
        merge_id = review.merge_pair(session, actor, pair_id, data.survivor_id, data.reason)
        return MergeResult(pair_id=pair_id, merge_id=merge_id, undone=False)


@router.post("/pairs/{pair_id}/undo-merge", response_model=MergeResult,
             summary="Undo the merge of a pair: every changed row is put back as it was")
def undo_merge(session: DbSession, actor: ApiActor, pair_id: IdPath, data: UndoInput) -> MergeResult:
    with service_errors():
        merge_id = review.undo_pair_merge(session, actor, pair_id, data.reason)
        return MergeResult(pair_id=pair_id, merge_id=merge_id, undone=True)


@router.get("/datasets", response_model=list[AgencyDatasetInfo], summary="Linked agency data sets")
def list_datasets(session: DbSession, actor: ApiActor) -> list[AgencyDatasetInfo]:
    with service_errors():
        return agency.list_datasets(session, actor)


@router.get("/datasets/{dataset_id}/reconciliation", response_model=ReconciliationPage,
            summary="Reconciliation of an agency data set: matched, conflicting fields, unmatched")
def reconciliation(session: DbSession, actor: ApiActor, dataset_id: SerialPath, purpose: PurposeParam,
                   status: Status | None = None, page: Annotated[int, Query(ge=1, le=100_000)] = 1,
                   page_size: Annotated[int, Query(ge=1, le=500)] = 50) -> ReconciliationPage:
    with service_errors():
        return agency.reconcile(session, actor, dataset_id, purpose, status, page, page_size)


@router.get("/datasets/{dataset_id}/reconciliation.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}}, summary="The whole reconciliation as CSV")
def reconciliation_csv(session: DbSession, actor: ApiActor, dataset_id: SerialPath, purpose: PurposeParam,
                       status: Status | None = None) -> Response:
    with service_errors():
        report = agency.reconcile(session, actor, dataset_id, purpose, status, page_size=None)
    return Response(agency.reconciliation_csv(report), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="reconciliation-{dataset_id}.csv"'})
