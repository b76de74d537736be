"""Vietnamese text handling shared by search, import and record linkage."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# đ/Đ have no Unicode decomposition, so NFD alone does not fold them.
_NON_DECOMPOSING = str.maketrans({"đ": "d", "Đ": "D"})


def normalize(text: str) -> str:
    """NFC form with collapsed whitespace: how every name is stored."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def fold(text: str) -> str:
    """Lower-case, accent-free form used to match with or without diacritics.

    Must give the same result as the PostgreSQL function ``dancu_fold`` (built
    on ``unaccent``) so that rows loaded by COPY and rows written by the ORM
    are found alike.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_NON_DECOMPOSING))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.lower()).strip()


def split_full_name(full_name: str) -> tuple[str, str, str]:
    """Split "Nguyễn Thị Minh Khai" into family, middle and given name.

    Vietnamese order is family name first and given name last; everything in
    between is the middle name (which may be empty or several words).
    """
    parts = normalize(full_name).split(" ")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return parts[0], "", parts[1]
    return parts[0], " ".join(parts[1:-1]), parts[-1]


def join_name(family: str, middle: str, given: str) -> str:
    return " ".join(part for part in (family, middle, given) if part)
