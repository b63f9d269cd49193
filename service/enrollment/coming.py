"""What is still coming for a patient, told truthfully: how many plan messages and when
the next one is (for the catch-up message and the START confirmation). Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from service.rendering import format_date


@dataclass(frozen=True)
class Coming:
    count: int  # planned sends still to go, a step on two channels counted once
    next_at: datetime | None

    def context(self, tz: ZoneInfo, language: str) -> dict[str, object]:
        """Template values: `coming_count` and `next_date` ("" when nothing is coming)."""
        next_date = (
            format_date(self.next_at.astimezone(tz).date(), language) if self.next_at else ""
        )
        return {"coming_count": self.count, "next_date": next_date}


def coming(sends: Iterable[tuple[str | None, int, datetime]]) -> Coming:
    """From (step key, occurrence, next attempt time) of every send still scheduled."""
    first: dict[tuple[str | None, int], datetime] = {}
    for step, occurrence, at in sends:
        key = (step, occurrence)
        first[key] = min(at, first.get(key, at))
    return Coming(count=len(first), next_at=min(first.values(), default=None))
