"""The clinic's SMS already queued at each due instant, for pacing, over a run of batches.

Pacing spreads SMS that share a due instant (`planning._pace`), so it needs how many are
queued at each instant a batch uses. An import enrols thousands of patients in batches
within one transaction, and its patients share instants (clinics book slots): counting
in the database at every batch recounts everything the earlier batches queued there,
so the look-ups grew with the import (0.36 s -> 6.8 s for 4x the patients). Here each
instant is counted in the database the first time a batch needs it and then kept up to
date with the rows the run itself queues, so a batch's look-up follows the batch.

One `QueuedSms` per run (an import, one `enrol_many` call) and clinic. Rows other
transactions commit during the run are not seen once an instant is counted: pacing is a
spread, and the send-time rate limit is what enforces a sender's rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlmodel import Session

from service.domain import Channel, MessageStatus
from service.enrollment import rows as q


class QueuedSms:
    def __init__(self) -> None:
        self._counts: dict[datetime, int] = {}

    def at(
        self,
        session: Session,
        *,
        clinic_id: int,
        due: Sequence[datetime],
        since: datetime,
        exclude: frozenset[int] = frozenset(),
    ) -> dict[datetime, int]:
        """How many of the clinic's SMS are queued at each instant of `due` from `since`
        on (instants with none may be left out), as `rows.sms_counts_by_due` counts."""
        wanted = {at for at in due if at >= since}
        unknown = sorted(wanted - self._counts.keys())
        if unknown:
            found = q.sms_counts_by_due(
                session, clinic_id=clinic_id, due=unknown, since=since, exclude=exclude
            )
            self._counts.update({at: found.get(at, 0) for at in unknown})
        return {at: self._counts[at] for at in wanted if self._counts[at]}

    def added(self, rows: Iterable[tuple[str, str, datetime]]) -> None:
        """Rows the run has just queued, as (channel, status, due_at)."""
        for channel, status, due_at in rows:
            sms = channel == Channel.SMS and status == MessageStatus.SCHEDULED
            if sms and due_at in self._counts:
                self._counts[due_at] += 1
