"""Partial dates: registers hold "1948", "03/1948" or "12/03/1948"."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import NamedTuple


class PartialDate(NamedTuple):
    year: int | None
    month: int | None = None
    day: int | None = None

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; raise ValueError with the reason."""
        text = (text or "").strip()
        if not text:
            return cls(None)
        parts = text.split("-")
        if len(parts) > 3 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
            raise ValueError(f"{text!r} is not a date (expected YYYY, YYYY-MM or YYYY-MM-DD)")
        numbers = [int(p) for p in parts]
        date = cls(*numbers)
        problem = date.impossibility()
        if problem:
            raise ValueError(f"{text!r}: {problem}")
        return date

    def impossibility(self) -> str | None:
        if self.year is None:
            return "day or month without a year" if (self.month, self.day) != (None, None) else None
        if self.month is None:
            return "day without a month" if self.day is not None else None
        if not 1 <= self.month <= 12:
            return f"month {self.month} does not exist"
        if self.day is not None and not 1 <= self.day <= calendar.monthrange(self.year, self.month)[1]:
            return f"day {self.day} does not exist in {self.month:02d}/{self.year}"
        return None

    def iso(self) -> str:
        if self.year is None:
            return ""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    def display(self) -> str:
        """dd/mm/yyyy as written on Vietnamese documents, shortened when partial."""
        if self.year is None:
            return ""
        if self.month is None:
            return f"{self.year:04d}"
        if self.day is None:
            return f"{self.month:02d}/{self.year:04d}"
        return f"{self.day:02d}/{self.month:02d}/{self.year:04d}"

    def earliest(self) -> dt.date | None:
        if self.year is None or self.impossibility():
            return None
        return dt.date(self.year, self.month or 1, self.day or 1)

    def latest(self) -> dt.date | None:
        if self.year is None or self.impossibility():
            return None
        month = self.month or 12
        return dt.date(self.year, month, self.day or calendar.monthrange(self.year, month)[1])
