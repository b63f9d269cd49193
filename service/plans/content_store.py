"""Clinic content versions in the database: finding them, the one new enrolments use,
and the plan an enrolment renders from (its pinned plan with its clinic's wording).

A version is used only when a clinician signed off its exact content (sha256) and it
was written for the plan version being enrolled into (the same plan sha256): texts
reviewed against another version of the plan are never sent with this one.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from service.db.models import ClinicContentSignoff, ClinicContentVersion
from service.plans.model import Plan, PlanError
from service.plans.overrides import apply_overrides
from service.plans.store import load_pinned


def content_versions(session: Session, clinic_id: int, plan_key: str) -> list[ClinicContentVersion]:
    """The clinic's versions for a plan, newest first."""
    query = (
        select(ClinicContentVersion)
        .where(ClinicContentVersion.clinic_id == clinic_id)
        .where(ClinicContentVersion.plan_key == plan_key)
        .order_by(col(ClinicContentVersion.version).desc())
    )
    return list(session.exec(query).all())


def content_signoffs(session: Session, row: ClinicContentVersion) -> list[ClinicContentSignoff]:
    """The sign-offs of exactly this content (a sign-off of other content does not count)."""
    query = (
        select(ClinicContentSignoff)
        .where(ClinicContentSignoff.content_version_id == row.id)
        .where(ClinicContentSignoff.sha256 == row.sha256)
        .order_by(col(ClinicContentSignoff.recorded_at))
    )
    return list(session.exec(query).all())


def signed_content(session: Session, clinic_id: int, plan: Plan) -> ClinicContentVersion | None:
    """The version new enrolments of the clinic into `plan` use: the latest one signed
    off and written for this exact plan version (None: the plan's own texts)."""
    query = (
        select(ClinicContentVersion)
        .join(
            ClinicContentSignoff,
            (col(ClinicContentSignoff.content_version_id) == col(ClinicContentVersion.id))
            & (col(ClinicContentSignoff.sha256) == col(ClinicContentVersion.sha256)),
        )
        .where(ClinicContentVersion.clinic_id == clinic_id)
        .where(ClinicContentVersion.plan_key == plan.key)
        .where(ClinicContentVersion.plan_version == plan.version)
        .where(ClinicContentVersion.plan_sha256 == plan.sha256)
        .order_by(col(ClinicContentVersion.version).desc())
        .limit(1)
    )
    return session.exec(query).first()


def outdated_content(session: Session, clinic_id: int, plan: Plan) -> ClinicContentVersion | None:
    """The clinic's latest signed-off texts for `plan` written for another plan version
    (they are not used: the plan's own texts are, until the clinic signs off new ones)."""
    query = (
        select(ClinicContentVersion)
        .join(
            ClinicContentSignoff,
            col(ClinicContentSignoff.content_version_id) == col(ClinicContentVersion.id),
        )
        .where(ClinicContentVersion.clinic_id == clinic_id)
        .where(ClinicContentVersion.plan_key == plan.key)
        .where(ClinicContentVersion.plan_sha256 != plan.sha256)
        .order_by(col(ClinicContentVersion.version).desc())
        .limit(1)
    )
    return session.exec(query).first()


def with_content(plan: Plan, row: ClinicContentVersion) -> Plan:
    """`plan` with the version's texts; PlanError if they were not written for it or the
    stored copy no longer matches its sha256."""
    if row.plan_key != plan.key or row.plan_sha256 != plan.sha256:
        raise PlanError(
            f"clinic texts v{row.version} were written for plan {row.plan_key!r} "
            f"v{row.plan_version}, not for {plan.key!r} v{plan.version}"
        )
    effective = apply_overrides(plan, row.templates)
    if row.templates and effective.sha256 != row.sha256:
        raise PlanError(f"clinic texts v{row.version}: stored copy does not match its sha256")
    return effective


def load_enrolled(session: Session, key: str, version: int, content_id: int | None) -> Plan:
    """The plan an enrolment renders from: its pinned plan, with the clinic's texts it
    was enrolled with."""
    plan = load_pinned(session, key, version)
    if content_id is None:
        return plan
    row = session.get(ClinicContentVersion, content_id)
    if row is None:
        raise PlanError(f"clinic texts {content_id} of plan {key!r} are missing")
    return with_content(plan, row)
