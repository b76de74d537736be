"""Jinja2 environment and the one function every page uses to render."""

from __future__ import annotations

import datetime as dt
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from dancu.accounts.services import Actor
from dancu.i18n import DEFAULT_LANGUAGE, LANGUAGES, catalog, t
from dancu.web.security import csrf_token

# Set at login: the user menu shows the registrar's area without a query per page.
SCOPE_LABEL = "scope_label"
LOCAL_TIME = ZoneInfo("Asia/Ho_Chi_Minh")

templates = Jinja2Templates(directory=str(files("dancu.web").joinpath("templates")))


def format_date(value: dt.date | None) -> str:
    """dd/mm/yyyy, as on Vietnamese documents, in both languages."""
    return value.strftime("%d/%m/%Y") if value else ""


def format_datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(LOCAL_TIME).strftime("%d/%m/%Y %H:%M")


def format_number(value: int, lang: str) -> str:
    """Thousands grouped with "." in Vietnamese, "," in English."""
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if lang == "vi" else grouped


def format_percent(ratio: float, lang: str) -> str:
    text = f"{100 * ratio:.1f}%"
    return text.replace(".", ",") if lang == "vi" else text


templates.env.filters["date"] = format_date
templates.env.filters["percent"] = format_percent
templates.env.filters["number"] = format_number
templates.env.filters["datetime"] = format_datetime


def request_lang(request: Request) -> str:
    return getattr(request.state, "lang", DEFAULT_LANGUAGE)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _language_links(request: Request) -> dict[str, str]:
    links = {}
    for lang in LANGUAGES:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", lang)]
        links[lang] = f"{request.url.path}?{urlencode(query)}"
    return links


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           actor: Actor | None = None, status_code: int = 200) -> HTMLResponse:
    lang = request_lang(request)
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": lambda key, **values: t(key, lang, **values),
            # For open-ended codes (event kinds, log actions) that other modules may add before the catalogs do.
            "t_or": lambda key, fallback: catalog(lang).get(key, fallback),
            "csrf_token": csrf_token(request),
            "actor": actor,
            "scope_label": request.session.get(SCOPE_LABEL),
            "language_links": _language_links(request),
            **(context or {}),
        },
        status_code=status_code,
    )
