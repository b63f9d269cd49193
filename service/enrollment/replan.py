"""Re-plan a clinic's unsent messages after its quiet hours, night window, sender number
or sender rate changed, with the same guarantees as a reschedule.

Every open (active or paused) enrolment of the clinic is planned again at its own
procedure time, exactly as `reschedule` would to the same time: the same schedule,
limits and pacing code, and the same row handling (`service.enrollment.apply`): only
scheduled rows this transaction locked move; sent, claimed and closed rows are never
changed (a closed unsent row the new settings make valid again comes back as a new row,
as on a reschedule); a row whose time does not change is not written. Enrolments are
locked first, in id order.

Pacing and the daily cap: enrolments are planned in batches (one plan version per
batch, a patient at most once per batch); each batch ignores its own rows and those of
the batches still to come, which are about to move, and counts those already
re-planned, so sends sharing an instant are spread over the new rate as one queue.

Other unsent messages to patients (a catch-up, a fallback) are not part of a plan: they
are moved out of the new window when they fall in it. Urgent ones (pages, safety-net
replies) have no window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from service.db.models import Clinic, Enrollment, Message, Patient
from service.db.queries import one_of
from service.domain import EnrollmentStatus, MessageKind, MessageStatus, Priority
from service.enrollment import rows as q
from service.enrollment.apply import (
    RescheduleResult,
    apply_planned,
    lock_plan_rows,
    write_moves,
)
from service.enrollment.planning import Pending, compute, recipient_for, windows_for
from service.plans.store import load_pinned
from service.scheduling import declared_night, next_allowed, step_window

# Settings a plan's send times depend on: changing one re-plans the clinic (the sender
# number and its rate decide how texts due together are spread).
TIMING_SETTINGS = frozenset(
    {"quiet_start", "quiet_end", "night_start", "night_end", "sms_from", "sender_rate_per_second"}
)
BATCH = 200  # enrolments planned together (rows held in memory at once)
LABEL = "re-planned"
_OPEN = (EnrollmentStatus.ACTIVE.value, EnrollmentStatus.PAUSED.value)


@dataclass
class ReplanResult:
    enrollments: int = 0
    moved: int = 0  # plan rows given a new time
    unchanged: int = 0  # unsent plan rows whose time stays as it was (not written)
    added: int = 0  # closed unsent rows planned again as new rows
    skipped: int = 0  # rows closed because the new settings make them too late
    cancelled: int = 0
    others_moved: int = 0  # non-plan rows moved out of the new window

    def add(self, part: RescheduleResult) -> None:
        for name in ("moved", "unchanged", "added", "skipped", "cancelled"):
            setattr(self, name, getattr(self, name) + getattr(part, name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def replan_clinic(
    session: Session, *, clinic: Clinic, now: datetime, actor: str, daily_cap: int = 3
) -> ReplanResult:
    """Plan every unsent message of the clinic again with its current settings."""
    result = ReplanResult()
    enrollments = _lock_open(session, clinic)
    result.enrollments = len(enrollments)
    patients = _patients(session, [e.patient_id for e in enrollments])
    remaining = {e.id for e in enrollments if e.id is not None}
    for batch in _batches(enrollments):
        ids = [e.id for e in batch if e.id is not None]
        plan = load_pinned(session, batch[0].plan_key, batch[0].plan_version)
        pendings = [_pending(e, patients[e.patient_id]) for e in batch]
        compute(session, clinic=clinic, plan=plan, pendings=pendings, now=now,
                daily_cap=daily_cap, exclude=frozenset(remaining))  # fmt: skip
        rows, movable = lock_plan_rows(session, ids)
        batch_result = RescheduleResult()
        for pending in pendings:
            apply_planned(session, rows.get(pending.enrollment_id, []), movable, pending,
                          now=now, actor=actor, label=LABEL, result=batch_result)  # fmt: skip
        write_moves(session, batch_result)
        result.add(batch_result)
        session.flush()  # the next batch's pacing counts these rows where they now are
        remaining.difference_update(ids)
    result.others_moved = _others_out_of_window(session, clinic, now=now)
    return result


def _lock_open(session: Session, clinic: Clinic) -> list[Enrollment]:
    query = (
        select(Enrollment)
        .where(Enrollment.clinic_id == clinic.id, col(Enrollment.status).in_(_OPEN))
        .order_by(col(Enrollment.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.exec(query))


def _patients(session: Session, ids: Sequence[int]) -> dict[int, Patient]:
    found: dict[int, Patient] = {}
    for chunk in q.chunks(sorted(set(ids))):
        query = select(Patient).where(one_of(session, col(Patient.id), chunk))
        found.update({p.id: p for p in session.exec(query) if p.id is not None})
    return found


def _pending(enrollment: Enrollment, patient: Patient) -> Pending:
    return Pending(patient, enrollment.procedure_at, recipient_for(patient), enrollment.id or 0)


def _batches(enrollments: list[Enrollment]) -> Iterator[list[Enrollment]]:
    """Enrolments of one plan version, a patient at most once, at most BATCH each."""
    by_plan: dict[tuple[str, int], list[Enrollment]] = defaultdict(list)
    for enrollment in enrollments:
        by_plan[(enrollment.plan_key, enrollment.plan_version)].append(enrollment)
    for group in by_plan.values():
        rounds: list[list[Enrollment]] = []
        seen: dict[int, int] = defaultdict(int)
        for enrollment in group:
            n = seen[enrollment.patient_id]
            seen[enrollment.patient_id] += 1
            if n == len(rounds):
                rounds.append([])
            rounds[n].append(enrollment)
        for round_ in rounds:
            for start in range(0, len(round_), BATCH):
                yield round_[start : start + BATCH]


def _others_out_of_window(session: Session, clinic: Clinic, *, now: datetime) -> int:
    """Scheduled non-plan rows to the clinic's patients, locked, moved out of the window
    their priority must avoid when they now fall in it."""
    query = (
        select(Message, Patient.timezone)
        .join(Patient, col(Patient.id) == col(Message.patient_id))
        .where(
            Message.clinic_id == clinic.id,
            Message.status == MessageStatus.SCHEDULED.value,
            Message.kind != MessageKind.PLAN.value,
            Message.priority != Priority.URGENT.value,
        )
        .order_by(col(Message.id))
        .with_for_update(of=Message)
    )
    windows = windows_for(clinic)
    moved = 0
    for message, timezone in session.exec(query):
        window = step_window(message.priority, declared_night(message.context),
                             quiet=windows.quiet, night=windows.night)  # fmt: skip
        at = next_allowed(max(message.next_attempt_at, now), tz=ZoneInfo(timezone), window=window)
        if at != max(message.next_attempt_at, now):
            message.next_attempt_at = at
            message.status_reason = f"{LABEL}: moved out of the clinic's new quiet hours"
            message.updated_at = now
            session.add(message)
            moved += 1
    return moved
