"""User-interface strings in Vietnamese (default) and English.

Catalogs are flat JSON objects in ``dancu/locales/<lang>.json``, plus one
``<domain>.<lang>.json`` per domain that wants its own file (so that domains
do not all edit one catalog); keys are dotted names ("nav.search"). A key missing from a catalog falls back to the
Vietnamese text and then to the key itself, so a gap shows up visibly instead
of breaking the page.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"


@lru_cache
def catalog(lang: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in sorted(files("dancu.locales").iterdir(), key=lambda path: path.name):
        if path.name == f"{lang}.json" or path.name.endswith(f".{lang}.json"):
            merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def t(key: str, lang: str = DEFAULT_LANGUAGE, **values: object) -> str:
    text = catalog(lang).get(key) or catalog(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**values) if values else text


def supported(lang: str | None) -> str | None:
    lang = (lang or "").strip().lower()[:2]
    return lang if lang in LANGUAGES else None


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, then the ``lang`` cookie, then the browser's preference."""
    for candidate in (query, cookie):
        if chosen := supported(candidate):
            return chosen
    ranked = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if quality > 0 and (chosen := supported(tag)):
            ranked.append((-quality, position, chosen))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
