"""Request parameters shared by every API router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from dancu.db import MAX_ID, MAX_UNIT_ID

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
UnitIdPath = Annotated[int, Path(ge=1, le=MAX_UNIT_ID)]
UnitIdQuery = Annotated[int | None, Query(ge=1, le=MAX_UNIT_ID)]
# Deep paging is refused: past this, narrow the query instead.
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
