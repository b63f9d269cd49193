"""Clinical sign-off of plan versions: recording one, and asking whether a version has one.

A sign-off names the clinician, their role, the date and the plan version, and is tied
to the version's exact content (sha256), so an edited file that kept its number is not
covered. Recording one writes the audit log. Enrolment into a version nobody has signed
off carries a warning for staff, or is refused when `REQUIRE_PLAN_SIGNOFF` is set.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from service.audit import record_audit
from service.db.models import PlanSignoff
from service.domain import ActorType
from service.plans.catalog import load_catalog
from service.plans.export import SignoffLine
from service.plans.model import Plan, UnknownPlan
from service.plans.store import load_pinned


class SignoffError(ValueError):
    """A sign-off cannot be recorded; the message names the field."""


def plan_version(session: Session, templates_dir: Path, key: str, version: int | None) -> Plan:
    """The current plan file, or a version pinned in the database. Raises PlanError."""
    current = load_catalog(templates_dir).get(key)
    if version is None or version == current.version:
        return current
    try:
        return load_pinned(session, key, version)
    except UnknownPlan:
        raise UnknownPlan(
            f"plan {key!r} has no version {version}: the file is v{current.version} and "
            f"v{version} was never used"
        ) from None


def record_signoff(
    session: Session,
    *,
    templates_dir: Path,
    key: str,
    version: int,
    signer_name: str,
    signer_role: str,
    signed_on: date | None,
    note: str | None,
    actor: str,
    clinic_id: int | None = None,
) -> PlanSignoff:
    """Store one sign-off of (key, version) and audit it."""
    plan = plan_version(session, templates_dir, key, version)
    signed_on = check_signer(signer_name, signer_role, signed_on)
    row = PlanSignoff(
        plan_key=plan.key,
        plan_version=plan.version,
        sha256=plan.sha256,
        signer_name=signer_name.strip()[:200],
        signer_role=signer_role.strip()[:120],
        signed_on=signed_on,
        note=(note or "").strip()[:1000] or None,
        recorded_by=actor,
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor_type=ActorType.SYSTEM if actor == "cli" else ActorType.USER,
        actor=actor,
        action="plan.signoff",
        entity_type="plan_signoff",
        entity_id=row.id,
        clinic_id=clinic_id,
        detail={
            "plan": plan.key,
            "version": plan.version,
            "sha256": plan.sha256,
            "signer_name": row.signer_name,
            "signer_role": row.signer_role,
            "signed_on": signed_on.isoformat(),
        },
    )
    return row


def check_signer(signer_name: str, signer_role: str, signed_on: date | None) -> date:
    """The date of a sign-off (today when not given); SignoffError naming the field."""
    if not signer_name.strip():
        raise SignoffError("name: the clinician's name is required")
    if not signer_role.strip():
        raise SignoffError("role: the clinician's role is required (e.g. 'Medical director, MD')")
    today = datetime.now(UTC).date()
    signed_on = signed_on or today
    if signed_on > today:
        raise SignoffError("date: a sign-off cannot be dated in the future")
    return signed_on


def signoffs_of(session: Session, plan: Plan) -> list[PlanSignoff]:
    query = (
        select(PlanSignoff)
        .where(
            PlanSignoff.plan_key == plan.key,
            PlanSignoff.plan_version == plan.version,
            PlanSignoff.sha256 == plan.sha256,
        )
        .order_by(col(PlanSignoff.recorded_at))
    )
    return list(session.exec(query).all())


def signoff_lines(session: Session, plan: Plan) -> list[SignoffLine]:
    return [
        SignoffLine(
            signer_name=row.signer_name,
            signer_role=row.signer_role,
            signed_on=row.signed_on.isoformat(),
            recorded_at=f"{row.recorded_at:%Y-%m-%d %H:%M} UTC by {row.recorded_by}",
        )
        for row in signoffs_of(session, plan)
    ]


def unsigned_warning(session: Session, plan: Plan) -> str | None:
    """The warning staff see when enrolling into `plan`, or None when it is signed off."""
    if signoffs_of(session, plan):
        return None
    return (
        f"plan {plan.key!r} v{plan.version} has not been signed off by a clinician: "
        "review it (aftercare plans export) before relying on it"
    )
