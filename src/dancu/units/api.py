"""REST API of the administrative units (/api/v1): public reference data, no login."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from dancu.units import services
from dancu.units.schemas import AddressConversionOut, UnitOut, UnitPage
from dancu.web.deps import DbSession
from dancu.web.errors import service_errors
from dancu.web.params import Offset, UnitIdPath
from dancu.web.problems import PUBLIC_ERRORS, ApiError

router = APIRouter(prefix="/api/v1", tags=["units"], responses=PUBLIC_ERRORS)

MAX_PAGE = 200


@router.get("/units", response_model=UnitPage, summary="List or search administrative units")
def list_units(
    session: DbSession,
    scheme: Annotated[str | None, Query(description='"2025" or "legacy"; default: the scheme in force today')] = None,
    level: Literal["province", "district", "commune"] | None = None,
    province_code: Annotated[str | None, Query(max_length=3, description='official province code, e.g. "79"')] = None,
    q: Annotated[str | None, Query(max_length=120, description="name, with or without diacritics")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> UnitPage:
    with service_errors():
        total, units = services.query_units(
            session, scheme=scheme, level=level, province_code=province_code, text=q, limit=limit, offset=offset
        )
    return UnitPage(total=total, limit=limit, offset=offset, items=[UnitOut.of(u) for u in units])


@router.get("/units/{unit_id}", response_model=UnitOut, summary="One administrative unit")
def get_unit(session: DbSession, unit_id: UnitIdPath) -> UnitOut:
    unit = services.get_unit(session, unit_id)
    if unit is None:
        raise ApiError(404, services.UnitNotFound.code, f"no administrative unit with id {unit_id}")
    return UnitOut.of(unit)


@router.get(
    "/address/convert",
    response_model=AddressConversionOut,
    summary="Convert a free-text address to the units in force today (2025 reform)",
)
def convert_address(
    session: DbSession,
    address: Annotated[str, Query(min_length=1, max_length=500, description="street, ward, district, province")],
) -> AddressConversionOut:
    with service_errors():
        return AddressConversionOut.of(services.convert_address(session, address))
