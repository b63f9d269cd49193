"""Pinning: the frozen copy of a plan version that enrolments render from.

A version in use is immutable. The first enrolment on (key, version) stores the plan's
definition and template sources; later ones reuse that row. A file edited without a new
version number has a different sha256 and is refused, so a patient's programme can never
change under them.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from service.db.models import PlanVersion
from service.plans.loader import parse_plan, plan_sha256
from service.plans.model import Plan, PlanError, UnknownPlan


def find_pinned(session: Session, key: str, version: int) -> PlanVersion | None:
    query = select(PlanVersion).where(PlanVersion.key == key, PlanVersion.version == version)
    return session.exec(query).first()


def pin_plan(session: Session, plan: Plan) -> PlanVersion:
    """Store the frozen copy the first time; refuse a changed plan under the same version."""
    row = find_pinned(session, plan.key, plan.version)
    if row is not None:
        return _check(row, plan)
    row = PlanVersion(
        key=plan.key,
        version=plan.version,
        sha256=plan.sha256,
        definition=dict(plan.definition),
        templates=dict(plan.templates),
    )
    try:
        # A savepoint: two first enrolments racing on one version must not fail the
        # loser's whole transaction; it reads the winner's row and compares instead.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return _check(find_pinned(session, plan.key, plan.version), plan)
    return row


def _check(row: PlanVersion | None, plan: Plan) -> PlanVersion:
    if row is None:
        raise PlanError(f"plan {plan.key!r} v{plan.version} could not be pinned")
    if row.sha256 != plan.sha256:
        raise PlanError(
            f"plan {plan.key!r} v{plan.version} changed since it was first used: "
            "give the edited plan a new version number"
        )
    return row


def load_pinned(session: Session, key: str, version: int) -> Plan:
    """Rebuild the plan exactly as it was pinned (its templates included)."""
    row = find_pinned(session, key, version)
    if row is None:
        raise UnknownPlan(f"plan {key!r} v{version} was never pinned")
    if plan_sha256(row.definition, row.templates) != row.sha256:
        raise PlanError(f"plan {key!r} v{version}: stored copy does not match its sha256")
    return parse_plan(row.definition, row.templates)
