"""Enrolment: (patient, plan, procedure time) -> an enrolment and all its message rows.

`enrol_many` is the one code path (REST, CLI, CSV import and the benchmark all use it;
`enrol` is a batch of one). Per batch it pins the plan once, finds existing enrolments
(idempotency), inserts new enrolments in one statement (ids from the sequence first on
PostgreSQL, RETURNING on SQLite), computes every schedule in pure Python (`planning`)
and inserts all message rows in one more (`db.queries.insert_rows`: a COPY on
PostgreSQL, an executemany on SQLite). It flushes but never commits: the caller's
transaction makes it all-or-nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlmodel import Session

from service import households
from service.db.models import AuditLog, Clinic, Enrollment, Message, Patient
from service.db.queries import insert_rows
from service.domain import ActorType, EnrollmentStatus, MessageStatus
from service.enrollment import rows as q
from service.enrollment.catch_up import queue_catch_up, record_creation_events
from service.enrollment.errors import EnrolError
from service.enrollment.planning import Pending, compute, hold_settings, recipient_for
from service.enrollment.queued import QueuedSms
from service.enrollment.rows import table
from service.enrollment.schedule import PatientLike
from service.plans.content_store import outdated_content, signed_content
from service.plans.model import Plan, UnknownLanguage
from service.plans.signoffs import unsigned_warning
from service.plans.store import pin_plan
from service.rendering import Renderer

MAX_AHEAD = timedelta(days=366)


@dataclass(frozen=True)
class EnrolRequest:
    patient: PatientLike
    procedure_at: datetime


@dataclass
class BulkResult:
    """One enrolment of a batch: its id, whether it is new, and what was planned."""

    enrollment_id: int
    created: bool
    messages: int = 0
    skipped: int = 0
    catch_up_id: int | None = None


@dataclass
class EnrolResult:
    """`enrol`'s answer: the enrolment row itself plus the batch figures."""

    enrollment: Enrollment
    created: bool
    messages: int = 0
    skipped: int = 0
    catch_up_id: int | None = None
    warnings: list[str] = field(default_factory=list)  # for staff, e.g. an unsigned plan
    shares_phone_with: list[int] = field(default_factory=list)  # the household's other patients


@dataclass(frozen=True)
class _Batch:
    """What every enrolment in one call shares."""

    session: Session
    clinic: Clinic
    plan: Plan
    now: datetime
    actor: str
    daily_cap: int
    renderer: Renderer | None
    reason: str | None
    # The clinic's signed-off wording of this plan version new enrolments get (None: the
    # plan's own texts): looked up at each enrolment, so a version signed off a moment
    # ago is used at once, without a restart.
    content_version_id: int | None = None
    queued: QueuedSms = field(default_factory=QueuedSms)  # SMS queued per instant (pacing)


def check_procedure_at(value: datetime, *, now: datetime) -> datetime:
    """UTC procedure time, or EnrolError naming `procedure_at`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise EnrolError("procedure_at", "needs a UTC offset, e.g. 2026-03-02T10:00:00-05:00")
    if abs(value - now) > MAX_AHEAD:
        raise EnrolError("procedure_at", "must be within a year of today")
    return value.astimezone(now.tzinfo)


def enrol(
    session: Session,
    *,
    clinic: Clinic,
    patient: Patient,
    plan: Plan,
    procedure_at: datetime,
    now: datetime,
    actor: str,
    daily_cap: int = 3,
    renderer: Renderer | None = None,
    reason: str | None = None,
    require_signoff: bool = False,
) -> EnrolResult:
    """Enrol one patient: the existing enrolment (created=False) or a new one with its rows."""
    procedure_at = check_procedure_at(procedure_at, now=now)
    hold_settings(session, clinic)
    warning = check_signoff(session, plan, required=require_signoff)
    request = EnrolRequest(patient=patient, procedure_at=procedure_at)
    check_languages(plan, [request])
    pin_plan(session, plan)
    batch = _Batch(session, clinic, plan, now, actor, daily_cap, renderer, reason,
                   _content_id(session, clinic, plan))  # fmt: skip
    done = _enrol_round(batch, [request])[0]
    enrollment = session.get(Enrollment, done.enrollment_id)
    assert enrollment is not None  # just inserted or found
    others = _household(session, clinic, patient, actor)
    shared = households.shared_warning(patient, others)
    texts = _texts_warning(session, clinic, plan) if batch.content_version_id is None else None
    return EnrolResult(
        enrollment, done.created, done.messages, done.skipped, done.catch_up_id,
        warnings=[w for w in (warning, shared, texts) if w],
        shares_phone_with=[p.id for p in others if p.id],
    )  # fmt: skip


def _household(session: Session, clinic: Clinic, patient: Patient, actor: str) -> list[Patient]:
    """Other patients of the clinic on the patient's number, recorded as a household."""
    if not patient.phone:
        return []
    numbers = households.on_numbers(session, clinic_id=clinic.id, phones=[patient.phone])  # type: ignore[arg-type]
    others = households.others_on_number(patient, numbers.get(patient.phone, []))
    households.record(session, patient=patient, others=others, actor=actor, clinic_id=clinic.id)  # type: ignore[arg-type]
    return others


def check_signoff(session: Session, plan: Plan, *, required: bool) -> str | None:
    """The staff warning for a plan version nobody has signed off; an EnrolError instead
    when sign-off is required (REQUIRE_PLAN_SIGNOFF)."""
    warning = unsigned_warning(session, plan)
    if warning is not None and required:
        raise EnrolError("plan", f"{warning} (this service requires a sign-off)")
    return warning


def enrol_many(
    session: Session,
    *,
    clinic: Clinic,
    plan: Plan,
    requests: Sequence[EnrolRequest],
    now: datetime,
    actor: str,
    daily_cap: int = 3,
    renderer: Renderer | None = None,
    reason: str | None = None,
    require_signoff: bool = False,
    queued: QueuedSms | None = None,
) -> list[BulkResult]:
    """Enrol every request in `plan`; results in request order (existing ones: created=False).

    A patient enrolled twice in one batch (two procedures) is handled in a second round
    so the limits see the first enrolment's rows. An unsigned plan is refused when
    `require_signoff` (callers show `check_signoff`'s warning otherwise). `queued`: the
    tally of SMS queued per instant shared by the calls of one run (an import).
    """
    check_languages(plan, requests)
    if require_signoff:
        check_signoff(session, plan, required=True)
    hold_settings(session, clinic)
    pin_plan(session, plan)
    batch = _Batch(session, clinic, plan, now, actor, daily_cap, renderer, reason,
                   _content_id(session, clinic, plan), queued or QueuedSms())  # fmt: skip
    results: dict[int, BulkResult] = {}
    for indexes in _rounds(requests):
        done = _enrol_round(batch, [requests[i] for i in indexes])
        results.update(zip(indexes, done, strict=True))
    return [results[i] for i in range(len(requests))]


def _content_id(session: Session, clinic: Clinic, plan: Plan) -> int | None:
    row = signed_content(session, clinic.id, plan)  # type: ignore[arg-type]
    return row.id if row is not None else None


def _texts_warning(session: Session, clinic: Clinic, plan: Plan) -> str | None:
    """Staff are told when the clinic's own texts are not used because they were signed
    off for an earlier version of the plan."""
    old = outdated_content(session, clinic.id, plan)  # type: ignore[arg-type]
    if old is None:
        return None
    return (
        f"the clinic's own texts for plan {plan.key!r} (v{old.version}) were written for plan "
        f"v{old.plan_version}; this patient gets the plan's v{plan.version} texts until the "
        "clinic's texts are saved and signed off again for it"
    )


def check_languages(plan: Plan, requests: Sequence[EnrolRequest]) -> None:
    """EnrolError naming `language` for a patient whose language the plan does not have
    (rendering would otherwise fall back to English without anyone knowing)."""
    for request in requests:
        try:
            plan.check_language(request.patient.language)
        except UnknownLanguage as exc:
            raise EnrolError("language", str(exc)) from None


def _rounds(requests: Sequence[EnrolRequest]) -> list[list[int]]:
    seen: dict[int | None, int] = {}
    rounds: list[list[int]] = []
    for i, request in enumerate(requests):
        n = seen.get(request.patient.id, 0)
        seen[request.patient.id] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(i)
    return rounds


def _enrol_round(batch: _Batch, requests: list[EnrolRequest]) -> list[BulkResult]:
    found = q.existing_enrollments(
        batch.session,
        clinic_id=batch.clinic.id,  # type: ignore[arg-type]
        plan_key=batch.plan.key,
        patient_ids=[r.patient.id for r in requests],  # type: ignore[misc]
    )
    fresh = [
        Pending(r.patient, r.procedure_at, recipient_for(r.patient))
        for r in requests
        if (r.patient.id, r.procedure_at) not in found
    ]
    created = iter(_create(batch, fresh) if fresh else [])
    return [
        BulkResult(found[key].id, created=False) if key in found else next(created)  # type: ignore[arg-type]
        for key in ((r.patient.id, r.procedure_at) for r in requests)
    ]


def _create(batch: _Batch, fresh: list[Pending]) -> list[BulkResult]:
    session, now = batch.session, batch.now
    _insert_enrollments(batch, fresh)
    _insert_audit(batch, fresh)
    compute(
        session,
        clinic=batch.clinic,
        plan=batch.plan,
        pendings=fresh,
        now=now,
        daily_cap=batch.daily_cap,
        queued=batch.queued,
    )
    rows = [
        q.message_row(
            planned,
            clinic_id=batch.clinic.id,  # type: ignore[arg-type]
            patient_id=p.patient.id,  # type: ignore[arg-type]
            enrollment_id=p.enrollment_id,
            language=p.patient.language,
            now=now,
        )
        for p in fresh
        for planned in p.planned
    ]
    insert_rows(session.connection(), table(Message), rows)
    skipped = [row["dedupe_key"] for row in rows if row["status"] == MessageStatus.SKIPPED]
    record_creation_events(session, dedupe_keys=skipped, now=now)
    return [_result(batch, p) for p in fresh]


def _result(batch: _Batch, pending: Pending) -> BulkResult:
    skipped = sum(pl.status == MessageStatus.SKIPPED for pl in pending.planned)
    result = BulkResult(pending.enrollment_id, True, len(pending.planned), skipped)
    if any(pl.late for pl in pending.planned):
        result.catch_up_id = queue_catch_up(
            batch.session,
            clinic=batch.clinic,
            plan=batch.plan,
            enrollment_id=pending.enrollment_id,
            procedure_at=pending.procedure_at,
            patient=pending.patient,
            planned=pending.planned,
            now=batch.now,
            renderer=batch.renderer,
            queued=batch.queued,
        )
    return result


def _insert_enrollments(batch: _Batch, fresh: list[Pending]) -> None:
    values: list[dict[str, object]] = [
        {
            "clinic_id": batch.clinic.id,
            "patient_id": p.patient.id,
            "plan_key": batch.plan.key,
            "plan_version": batch.plan.version,
            "content_version_id": batch.content_version_id,
            "procedure_at": p.procedure_at,
            "status": EnrollmentStatus.ACTIVE.value,
            "status_reason": None,
            "paused_at": None,
            "created_by": batch.actor,
            "created_at": batch.now,
            "updated_at": batch.now,
        }
        for p in fresh
    ]
    t = table(Enrollment)
    known = q.sequence_ids(batch.session, t, len(values))
    if known is not None:  # PostgreSQL
        for pending, value, new_id in zip(fresh, values, known, strict=True):
            value["id"] = pending.enrollment_id = new_id
        insert_rows(batch.session.connection(), t, values)
        return
    # RETURNING without sort_by_parameter_order keeps SQLite's insertmanyvalues batched;
    # rows are matched back by patient, unique within a round.
    statement = insert(t).returning(t.c.id, t.c.patient_id)
    ids = {pid: eid for eid, pid in batch.session.execute(statement, values)}
    for pending in fresh:
        pending.enrollment_id = ids[pending.patient.id]


def _audit_detail(batch: _Batch, pending: Pending) -> dict[str, object]:
    detail: dict[str, object] = {
        "plan": batch.plan.key,
        "version": batch.plan.version,
        "patient_id": pending.patient.id,
    }
    if batch.content_version_id is not None:
        detail["content_version_id"] = batch.content_version_id  # the clinic's texts
    return detail


def _insert_audit(batch: _Batch, fresh: list[Pending]) -> None:
    rows = [
        {
            "at": batch.now,
            "clinic_id": batch.clinic.id,
            "actor_type": ActorType.USER.value,
            "actor": batch.actor,
            "action": "enrollment.create",
            "entity_type": "enrollment",
            "entity_id": p.enrollment_id,
            "reason": batch.reason,
            "detail": _audit_detail(batch, p),
        }
        for p in fresh
    ]
    insert_rows(batch.session.connection(), table(AuditLog), rows)
