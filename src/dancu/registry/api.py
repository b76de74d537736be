"""REST API of the population register (/api/v1)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel

from dancu.registry import applications, services
from dancu.registry.models import ApplicationStatus
from dancu.registry.schemas import (
    ApplicationDecision,
    ApplicationView,
    BirthRegistration,
    CorrectionInput,
    DeathInput,
    HouseholdView,
    InPersonApplicationInput,
    PermanentResidenceInput,
    PersonDetail,
    PersonQuery,
    PersonRegistration,
    QualityReport,
    SearchPage,
    TemporaryResidenceInput,
)
from dancu.web.deps import ApiActor, DbSession
from dancu.web.errors import service_errors
from dancu.web.params import IdPath, UnitIdQuery
from dancu.web.problems import API_ERRORS

router = APIRouter(prefix="/api/v1", tags=["registry"], responses=API_ERRORS)

PurposeParam = Annotated[
    str,
    Query(min_length=3, max_length=300, description="Why the data is read; written to the access log"),
]


IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", pattern=r'^"?[0-9]{1,9}"?$',
           description="The record's version as read (`version` of the person); if it changed since, 409"),
]


def _version(if_match: str | None) -> int | None:
    return int(if_match.strip('"')) if if_match else None


class Created(BaseModel):
    id: int


class Changes(BaseModel):
    changes: dict[str, list]


@router.get("/persons", response_model=SearchPage, summary="Search persons by name, PIN, birth date, commune")
def search_persons(session: DbSession, actor: ApiActor, purpose: PurposeParam,
                   query: Annotated[PersonQuery, Query()]) -> SearchPage:
    with service_errors():
        return services.search_persons(session, actor, query, purpose)


@router.get("/persons/{person_id}", response_model=PersonDetail, summary="A person's record, now or as of a date")
def get_person(session: DbSession, actor: ApiActor, person_id: IdPath, purpose: PurposeParam,
               as_of: dt.date | None = None) -> PersonDetail:
    with service_errors():
        return services.get_person(session, actor, person_id, purpose, as_of)


@router.post("/persons", response_model=Created, status_code=201,
             summary="Register a person not yet in the register (naturalized, born abroad, omitted)")
def register_person(session: DbSession, actor: ApiActor, data: PersonRegistration) -> Created:
    with service_errors():
        return Created(id=services.register_person(session, actor, data))


@router.patch("/persons/{person_id}", response_model=Changes, summary="Correct recorded data, with a reason")
def correct_person(session: DbSession, actor: ApiActor, person_id: IdPath, data: CorrectionInput,
                   if_match: IfMatch = None) -> Changes:
    with service_errors():
        return Changes(changes=services.correct_person(session, actor, person_id, data, _version(if_match)))


@router.post("/births", response_model=Created, status_code=201, summary="Register a birth")
def register_birth(session: DbSession, actor: ApiActor, data: BirthRegistration) -> Created:
    with service_errors():
        return Created(id=services.register_birth(session, actor, data))


@router.post("/persons/{person_id}/permanent-residence", status_code=204,
             summary="Register permanent residence for a person who has none")
def register_permanent_residence(session: DbSession, actor: ApiActor, person_id: IdPath,
                                 data: PermanentResidenceInput, if_match: IfMatch = None) -> None:
    with service_errors():
        services.register_permanent_residence(session, actor, person_id, data, _version(if_match))


@router.post("/persons/{person_id}/moves", status_code=204, summary="Move permanent residence")
def move(session: DbSession, actor: ApiActor, person_id: IdPath, data: PermanentResidenceInput,
         if_match: IfMatch = None) -> None:
    with service_errors():
        services.move_permanent_residence(session, actor, person_id, data, _version(if_match))


@router.post("/persons/{person_id}/temporary-residence", status_code=204,
             summary="Register temporary residence with an end date")
def register_temporary_residence(session: DbSession, actor: ApiActor, person_id: IdPath,
                                 data: TemporaryResidenceInput, if_match: IfMatch = None) -> None:
    with service_errors():
        services.register_temporary_residence(session, actor, person_id, data, _version(if_match))


@router.post("/persons/{person_id}/death", status_code=204, summary="Record a death")
def record_death(session: DbSession, actor: ApiActor, person_id: IdPath, data: DeathInput,
                 if_match: IfMatch = None) -> None:
    with service_errors():
        services.record_death(session, actor, person_id, data, _version(if_match))


@router.get("/households/{household_id}", response_model=HouseholdView, summary="A household and its members")
def get_household(session: DbSession, actor: ApiActor, household_id: IdPath, purpose: PurposeParam) -> HouseholdView:
    with service_errors():
        return services.get_household(session, actor, household_id, purpose)


@router.get("/quality/report", response_model=QualityReport, summary="Data quality per commune")
def quality_report(session: DbSession, actor: ApiActor,
                   province_code: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None) -> QualityReport:
    with service_errors():
        return services.quality_report(session, actor, province_code)


@router.get("/quality/failing", response_model=SearchPage, summary="Persons failing one quality rule")
def persons_failing(session: DbSession, actor: ApiActor, rule: str, purpose: PurposeParam,
                    unit_id: UnitIdQuery = None,
                    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                    page_size: Annotated[int, Query(ge=1, le=100)] = 20) -> SearchPage:
    with service_errors():
        return services.persons_failing(session, actor, rule, unit_id, purpose, page, page_size)


# ---- residence applications: the citizen's own request authorises the destination commune ----------


@router.post("/residence-applications", response_model=Created, status_code=201,
             summary="Record a citizen's residence application at the counter, with their verified chip card")
def file_application(session: DbSession, actor: ApiActor, data: InPersonApplicationInput) -> Created:
    with service_errors():
        return Created(id=applications.file_in_person(session, actor, data))


@router.get("/residence-applications", response_model=list[ApplicationView],
            summary="Residence applications to the communes of your area")
def list_applications(session: DbSession, actor: ApiActor, purpose: PurposeParam,
                      status: ApplicationStatus = ApplicationStatus.PENDING) -> list[ApplicationView]:
    with service_errors():
        return applications.list_applications(session, actor, purpose, status)


@router.get("/residence-applications/{application_id}", response_model=ApplicationView,
            summary="One residence application: what it shows, not the person's record")
def get_application(session: DbSession, actor: ApiActor, application_id: IdPath,
                    purpose: PurposeParam) -> ApplicationView:
    with service_errors():
        return applications.get_application(session, actor, application_id, purpose)


@router.post("/residence-applications/{application_id}/decision", status_code=204,
             summary="Accept (registering the residence) or refuse (with a reason) a residence application")
def decide_application(session: DbSession, actor: ApiActor, application_id: IdPath,
                       decision: ApplicationDecision) -> None:
    with service_errors():
        applications.decide(session, actor, application_id, decision)


@router.get("/residence-departures", response_model=list[ApplicationView],
            summary="Accepted moves of persons who lived in your area (the origin commune's notice)")
def list_departures(session: DbSession, actor: ApiActor, purpose: PurposeParam) -> list[ApplicationView]:
    with service_errors():
        return applications.list_departures(session, actor, purpose)
