"""Signature test fixtures: citizens with a level-2 and a level-1 e-ID in a real Hồ Chí Minh City ward."""

from __future__ import annotations

import pytest
from signing_helpers import seed_citizens


@pytest.fixture
def citizens(session) -> dict[str, int]:
    return seed_citizens(session)
