"""Request parameters shared by every API router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from dancu.db import MAX_ID

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
