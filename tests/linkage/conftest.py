from collections.abc import Callable
from pathlib import Path

import pytest

from dancu.registry import synthetic


@pytest.fixture
def write_city(session, tmp_path) -> Callable[..., tuple[Path, Path]]:
    """Writes a generated Hồ Chí Minh City (real 2025 communes) with injected errors; returns (file, truth)."""
    city, elsewhere = synthetic.communes_from_db(session, "79")

    def write(people: int, seed: int, errors: float, name: str = "city") -> tuple[Path, Path]:
        out, truth = tmp_path / f"{name}.csv", tmp_path / f"{name}.truth.csv"
        records = synthetic.generate(people, seed, "79", errors, communes=city, elsewhere=elsewhere)
        synthetic.write_dataset(records, out, truth)
        return out, truth

    return write
