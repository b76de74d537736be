"""Helpers shared by the benchmarks: percentiles, markdown output, environment."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

OUT = Path(__file__).parent / "out"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(1000 * percentile(samples, 50), 3),
        "p95_ms": round(1000 * percentile(samples, 95), 3),
        "mean_ms": round(1000 * statistics.fmean(samples), 3),
    }


def machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write_result(name: str, result: dict) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.json"
    # the command that produced the result, without the database password
    command = re.sub(r"(://[^:/@\s]+):[^@\s]+@", r"\1:***@", "python " + " ".join(sys.argv))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    path.write_text(json.dumps({"machine": machine(), "command": command, "finished": stamp, **result},
                               indent=2, ensure_ascii=False))
    return path
