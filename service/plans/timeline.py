"""The plan simulator behind `aftercare plans show`: a plan laid out on a real calendar.

It uses the same scheduling maths as enrolment (`service.scheduling`): the local due
time of each occurrence, moved out of the priority's quiet window, with its validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from service.domain import Channel
from service.plans.model import Occurrence, Plan
from service.rendering import Rendered, Renderer
from service.scheduling import QuietHours, local_due, next_allowed, step_window


@dataclass(frozen=True)
class TimelineRow:
    occurrence: Occurrence
    channel: Channel
    planned_at: datetime  # UTC, before quiet hours
    due_at: datetime  # UTC, after quiet hours
    valid_until: datetime  # UTC
    rendered: Rendered

    @property
    def moved(self) -> bool:
        return self.due_at != self.planned_at

    @property
    def never_sent(self) -> bool:
        """Its advice stops being true before it may go (quiet hours moved it too far)."""
        return self.valid_until <= self.due_at


def simulate(
    plan: Plan,
    *,
    procedure_at: datetime,
    tz: ZoneInfo,
    quiet: QuietHours,
    night: QuietHours,
    renderer: Renderer,
    context: dict[str, object],
    language: str,
) -> list[TimelineRow]:
    """Every send of `plan` in time order, rendered in `language` with `context`."""
    rows = []
    for occ in plan.occurrences():
        planned = local_due(procedure_at, occ.offset, tz=tz)
        step = occ.step
        window = step_window(step.priority, step.night, quiet=quiet, night=night)
        due = next_allowed(planned, tz=tz, window=window)
        valid_until = due + occ.step.valid_for
        if occ.step.true_until is not None:
            valid_until = min(valid_until, local_due(procedure_at, occ.step.true_until, tz=tz))
        for channel in occ.step.channels:
            rendered = renderer.render_step(
                plan=plan,
                step_key=occ.step.key,
                channel=channel,
                language=language,
                context=context,
            )
            rows.append(TimelineRow(occ, channel, planned, due, valid_until, rendered))
    return sorted(rows, key=lambda row: (row.due_at, row.channel.value))
