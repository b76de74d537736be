"""Administrative-unit pages: old-to-new address conversion and the commune picker."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from dancu.units.services import AddressNotRecognised, convert_address, search_units, unit_label
from dancu.web.deps import DbSession, PageActor
from dancu.web.templating import is_htmx, render

router = APIRouter(prefix="/units", include_in_schema=False)

EXAMPLES = (
    "12 Nguyễn Huệ, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
    "Số 5 Hàng Bông, Phường Hàng Trống, Quận Hoàn Kiếm, Hà Nội",
    "Xã Tân Thông Hội, Huyện Củ Chi, TP. Hồ Chí Minh",
)


@router.get("/convert")
def convert_form(request: Request, actor: PageActor) -> HTMLResponse:
    return render(request, "units/convert.html",
                  {"section": "convert", "address": "", "result": None, "error": None, "examples": EXAMPLES},
                  actor=actor)


@router.post("/convert")
def convert(request: Request, session: DbSession, actor: PageActor,
            address: Annotated[str, Form(max_length=500)] = "") -> HTMLResponse:
    result, error = None, None
    try:
        result = convert_address(session, address)
    except AddressNotRecognised as exc:
        error = str(exc)
    context = {"section": "convert", "address": address, "result": result, "error": error, "examples": EXAMPLES}
    template = "units/_conversion.html" if is_htmx(request) else "units/convert.html"
    return render(request, template, context, actor=actor)


@router.get("/options")
def unit_options(
    request: Request,
    session: DbSession,
    actor: PageActor,
    q: Annotated[str, Query(max_length=120)] = "",
    level: Annotated[str, Query(pattern="^(province|commune)$")] = "commune",
) -> HTMLResponse:
    """``<option>`` elements for the commune pickers of the registrar forms."""
    units = search_units(session, q, level=level, limit=30)
    return render(request, "units/_options.html",
                  {"options": [(u.id, unit_label(u)) for u in units], "query": q}, actor=actor)
