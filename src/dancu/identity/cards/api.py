"""REST API of the card domain (/api/v1/cards). Verification needs no login; the status list is published
at /cards/status.jws (pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from dancu.db import MAX_UNIT_ID
from dancu.identity.cards import services
from dancu.identity.cards.devices import SimulatedCaptureDevice
from dancu.identity.cards.schemas import (
    ApplicationFilter,
    ApplicationInput,
    ApplicationPage,
    ApplicationView,
    BatchInput,
    BatchResult,
    CaptureResult,
    CaptureUpload,
    Decision,
    EntryInput,
    LossReport,
    TeamInput,
    TeamView,
    VerifyInput,
    VerifyResult,
    VisitInput,
    VisitView,
)
from dancu.web.deps import ApiActor, DbSession
from dancu.web.errors import service_errors
from dancu.web.params import IdPath
from dancu.web.problems import API_ERRORS, ApiError, problem_responses

router = APIRouter(prefix="/api/v1/cards", tags=["cards"], responses=API_ERRORS)

# Teams and visits have INTEGER ids.
TeamIdPath = Annotated[int, Path(ge=1, le=MAX_UNIT_ID)]
VisitIdPath = TeamIdPath

PurposeParam = Annotated[
    str, Query(min_length=3, max_length=300, description="Why the data is read; written to the access log"),
]


class Created(BaseModel):
    id: int


@router.get("/applications", response_model=ApplicationPage, summary="Card applications in your area, filtered")
def list_applications(session: DbSession, actor: ApiActor,
                      query: Annotated[ApplicationFilter, Query()]) -> ApplicationPage:
    with service_errors():
        return services.list_applications(session, actor, query)


@router.post("/applications", response_model=Created, status_code=201, summary="Take a card application")
def create_application(session: DbSession, actor: ApiActor, data: ApplicationInput) -> Created:
    with service_errors():
        return Created(id=services.create_application(session, actor, data))


@router.get("/applications/{application_id}", response_model=ApplicationView,
            summary="An application with the applicant's data (logged read); never the biometrics")
def get_application(session: DbSession, actor: ApiActor, application_id: IdPath,
                    purpose: PurposeParam) -> ApplicationView:
    with service_errors():
        return services.get_application(session, actor, application_id, purpose)


@router.post("/applications/{application_id}/capture", status_code=204,
             summary="Take face and fingerprints with the station's capture device")
def capture(session: DbSession, actor: ApiActor, application_id: IdPath) -> None:
    with service_errors():
        services.capture_biometrics(session, actor, application_id, SimulatedCaptureDevice())


@router.post("/applications/{application_id}/approve", status_code=204, summary="Approve (province registrar)")
def approve(session: DbSession, actor: ApiActor, application_id: IdPath, data: Decision) -> None:
    with service_errors():
        services.decide(session, actor, application_id, True, data.note)


@router.post("/applications/{application_id}/reject", status_code=204, summary="Reject with a reason")
def reject(session: DbSession, actor: ApiActor, application_id: IdPath, data: Decision) -> None:
    with service_errors():
        services.decide(session, actor, application_id, False, data.note)


@router.post("/batches", response_model=BatchResult, status_code=201,
             summary="Produce a batch: sign chip data and QR of approved applications")
def produce_batch(session: DbSession, actor: ApiActor, data: BatchInput) -> BatchResult:
    with service_errors():
        return services.produce_batch(session, actor, data.application_ids)


@router.post("/applications/{application_id}/deliver", status_code=204, summary="The card reached its office")
def deliver(session: DbSession, actor: ApiActor, application_id: IdPath) -> None:
    with service_errors():
        services.deliver(session, actor, application_id)


@router.post("/applications/{application_id}/activate", status_code=204,
             summary="Handed to the holder: active, earlier cards revoked")
def activate(session: DbSession, actor: ApiActor, application_id: IdPath) -> None:
    with service_errors():
        services.activate(session, actor, application_id)


@router.get("/applications/{application_id}/chip", response_class=PlainTextResponse,
            summary="The card's chip data file (logged read)")
def chip_data(session: DbSession, actor: ApiActor, application_id: IdPath, purpose: PurposeParam) -> str:
    with service_errors():
        return services.chip_data(session, actor, application_id, purpose)[0]


@router.post("/losses", status_code=204, summary="Report a card lost: revoked at once in the status list")
def report_loss(session: DbSession, actor: ApiActor, data: LossReport) -> None:
    with service_errors():
        services.report_loss(session, actor, data.document_number, data.note)


@router.get("/teams", response_model=list[TeamView], summary="Mobile teams and their schedules")
def list_teams(session: DbSession, actor: ApiActor) -> list[TeamView]:
    with service_errors():
        return services.list_teams(session, actor)


@router.post("/teams", response_model=Created, status_code=201, summary="Create a mobile team")
def create_team(session: DbSession, actor: ApiActor, data: TeamInput) -> Created:
    with service_errors():
        return Created(id=services.create_team(session, actor, data))


@router.post("/teams/{team_id}/visits", response_model=Created, status_code=201, summary="Schedule a visit")
def schedule_visit(session: DbSession, actor: ApiActor, team_id: TeamIdPath, data: VisitInput) -> Created:
    with service_errors():
        return Created(id=services.schedule_visit(session, actor, team_id, data))


@router.get("/visits/{visit_id}", response_model=VisitView, summary="A visit and its list (logged reads)")
def get_visit(session: DbSession, actor: ApiActor, visit_id: VisitIdPath, purpose: PurposeParam) -> VisitView:
    with service_errors():
        return services.get_visit(session, actor, visit_id, purpose)


@router.post("/visits/{visit_id}/entries", response_model=Created, status_code=201,
             summary="Put a person on the visit list")
def add_entry(session: DbSession, actor: ApiActor, visit_id: VisitIdPath, data: EntryInput) -> Created:
    with service_errors():
        return Created(id=services.add_visit_entry(session, actor, visit_id, data))


@router.post("/visits/{visit_id}/package",
             summary="Export the visit list as an offline package (checksummed, MACed); starts a new package")
def export_package(session: DbSession, actor: ApiActor, visit_id: VisitIdPath) -> dict:
    with service_errors():
        return services.export_package(session, actor, visit_id)


@router.post("/captures", response_model=CaptureResult, summary="Upload one offline capture (idempotent)",
             responses=problem_responses(409))
def upload_capture(session: DbSession, actor: ApiActor, data: CaptureUpload,
                   idempotency_key: Annotated[str | None, Header(max_length=64)] = None) -> CaptureResult:
    if idempotency_key is not None and idempotency_key != data.capture_id:
        raise ApiError(422, "cards.idempotency_key_mismatch", "the Idempotency-Key header must equal capture_id")
    with service_errors():
        try:
            return services.upload_capture(session, actor, data)
        except services.CardConflict as exc:
            raise ApiError(409, exc.code, str(exc)) from None


@router.post("/verify", response_model=VerifyResult, summary="Verify chip data or QR text (public)")
def verify(session: DbSession, data: VerifyInput) -> VerifyResult:
    result = services.verify(session, data.data)
    return VerifyResult(valid=result.valid, source=result.source, problems=result.problems,
                        document_number=result.document_number, holder=result.holder)
