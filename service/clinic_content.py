"""A clinic's own wording of plan messages: saving a version, and its clinical sign-off.

A save is linted first (`service.plans.lint_overrides`) and a version with any error is
refused, each error naming step, channel, language and problem. The clinic's latest
version is a draft while nobody has signed it off and no enrolment uses it: a save
changes it in place. A version signed off or in use is frozen: a save makes the next
version. A sign-off names the clinician and is tied to the exact content the clinician
reviewed (its sha256); from then on new enrolments of the clinic into that plan version
use it (`service.plans.content_store.signed_content`), without a restart, while
enrolments made before keep the texts they were enrolled with. Both are audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from service.audit import record_audit
from service.db.models import ClinicContentSignoff, ClinicContentVersion, Enrollment
from service.db.types import utcnow
from service.domain import ActorType
from service.plans.content_store import content_signoffs, content_versions
from service.plans.lint_checks import Finding
from service.plans.lint_overrides import errors_of, lint_overrides
from service.plans.model import Plan
from service.plans.overrides import OverrideError, content_sha256, slot_of
from service.plans.signoffs import SignoffError, check_signer
from service.rendering import Renderer

Problem = Literal["invalid", "conflict", "missing"]


class ContentError(ValueError):
    """A save or sign-off that cannot be done; `field` names the input at fault and
    `problem` says whether it is invalid (422), conflicts with the stored state (409)
    or names a version that does not exist (404)."""

    def __init__(self, field: str, message: str, *, problem: Problem = "invalid") -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.problem = field, message, problem


class ContentRefused(ContentError):
    """The linter found errors: `findings` name step, channel, language and problem."""

    def __init__(self, findings: list[Finding]) -> None:
        first = findings[0]
        super().__init__("templates", f"{len(findings)} problem(s), first: {first}")
        self.findings = findings


@dataclass(frozen=True)
class Saved:
    row: ClinicContentVersion
    change: Literal["created", "updated", "unchanged"]
    warnings: list[Finding] = field(default_factory=list)


def frozen_reason(session: Session, row: ClinicContentVersion) -> str | None:
    """Why a version may no longer change (None: it is a draft)."""
    signed = session.exec(
        select(func.count()).where(ClinicContentSignoff.content_version_id == row.id)
    ).one()
    if signed:
        return "it has been signed off"
    used = session.exec(select(func.count()).where(Enrollment.content_version_id == row.id)).one()
    return f"{used} enrolment(s) use it" if used else None


def starting_texts(
    session: Session, clinic_id: int, plan: Plan
) -> tuple[dict[str, str], list[Finding]]:
    """The texts the next save starts from: the latest version's, those the plan still
    has (texts written for an older plan version carry forward and are linted again);
    a warning for each one that cannot carry forward."""
    versions = content_versions(session, clinic_id, plan.key)
    if not versions:
        return {}, []
    kept: dict[str, str] = {}
    dropped: list[Finding] = []
    for name, source in versions[0].templates.items():
        if name in plan.templates:
            kept[name] = source
        else:
            msg = f"plan v{plan.version} has no message {name!r}: its clinic text is not kept"
            dropped.append(Finding("warning", msg, plan.key, template=name))
    return kept, dropped


def save_text(
    session: Session,
    *,
    clinic_id: int,
    plan: Plan,
    step: str,
    channel: str,
    language: str,
    text: str | None,
    actor: str,
    renderer: Renderer,
    note: str | None = None,
) -> Saved:
    """Replace one message's text (None, or the plan's own text: use the plan's again)."""
    try:
        slot = slot_of(plan, step, channel, language)
    except OverrideError as exc:
        field_name, _, message = str(exc).partition(": ")
        raise ContentError(field_name, message) from None
    texts, dropped = starting_texts(session, clinic_id, plan)
    source = None if text is None else text.replace("\r\n", "\n")
    if source is None or source.strip() == plan.templates[slot.name].strip():
        texts.pop(slot.name, None)
    else:
        texts[slot.name] = source
    saved = save_version(session, clinic_id=clinic_id, plan=plan, templates=texts, actor=actor,
                         renderer=renderer, note=note)  # fmt: skip
    return Saved(saved.row, saved.change, dropped + saved.warnings)


def save_version(
    session: Session,
    *,
    clinic_id: int,
    plan: Plan,
    templates: Mapping[str, str],
    actor: str,
    renderer: Renderer,
    note: str | None = None,
) -> Saved:
    """Store the clinic's whole set of texts for `plan`, linted (ContentRefused)."""
    texts = {name: source.replace("\r\n", "\n") for name, source in templates.items()}
    findings = lint_overrides(plan, texts, renderer)
    errors = errors_of(findings)
    if errors:
        raise ContentRefused(errors)
    warnings = [finding for finding in findings if finding.severity != "error"]
    sha = content_sha256(plan.sha256, texts)
    latest = _latest(session, clinic_id, plan.key, lock=True)
    if latest is not None and latest.sha256 == sha:
        return Saved(latest, "unchanged", warnings)
    note = _clean(note, 500)
    draft = latest is not None and latest.plan_sha256 == plan.sha256
    if latest is not None and draft and frozen_reason(session, latest) is None:
        _update(session, latest, texts, sha, note, actor)
        _audit(session, "content.update", latest, actor)
        return Saved(latest, "updated", warnings)
    row = ClinicContentVersion(
        clinic_id=clinic_id, plan_key=plan.key, version=(latest.version + 1) if latest else 1,
        plan_version=plan.version, plan_sha256=plan.sha256, sha256=sha, templates=texts,
        note=note, created_by=actor, updated_by=actor,
    )  # fmt: skip
    try:
        with session.begin_nested():  # two first saves racing: the loser is told, not a 500
            session.add(row)
    except IntegrityError:
        raise ContentError(
            "version",
            f"another save made version {row.version} meanwhile: reload and save again",
            problem="conflict",
        ) from None
    _audit(session, "content.create", row, actor)
    return Saved(row, "created", warnings)


def _latest(
    session: Session, clinic_id: int, plan_key: str, *, lock: bool = False
) -> ClinicContentVersion | None:
    query = (
        select(ClinicContentVersion)
        .where(ClinicContentVersion.clinic_id == clinic_id)
        .where(ClinicContentVersion.plan_key == plan_key)
        .order_by(col(ClinicContentVersion.version).desc())
        .limit(1)
    )
    # The draft is locked while it changes, and while a sign-off is recorded: a save
    # never changes texts under a clinician signing them.
    return session.exec(query.with_for_update() if lock else query).first()


def _update(session: Session, row: ClinicContentVersion, texts: dict[str, str], sha: str,
            note: str | None, actor: str) -> None:  # fmt: skip
    row.templates, row.sha256 = texts, sha
    row.note = note or row.note
    row.updated_by, row.updated_at = actor, utcnow()
    session.add(row)
    session.flush()


def _audit(session: Session, action: str, row: ClinicContentVersion, actor: str) -> None:
    record_audit(
        session, actor_type=_actor_type(actor), actor=actor, action=action,
        entity_type="clinic_content", entity_id=row.id, clinic_id=row.clinic_id,
        detail={"plan": row.plan_key, "plan_version": row.plan_version,
                "version": row.version, "sha256": row.sha256,
                "texts": sorted(row.templates)},
    )  # fmt: skip


def _clean(text: str | None, limit: int) -> str | None:
    """A note or name as stored: no NUL (PostgreSQL refuses one), trimmed, None if empty."""
    return (text or "").replace("\x00", "").strip()[:limit] or None


def _actor_type(actor: str) -> ActorType:
    return ActorType.SYSTEM if actor == "cli" else ActorType.USER


def find_version(
    session: Session, clinic_id: int, plan_key: str, version: int, *, lock: bool = False
) -> ClinicContentVersion:
    query = (
        select(ClinicContentVersion)
        .where(ClinicContentVersion.clinic_id == clinic_id)
        .where(ClinicContentVersion.plan_key == plan_key)
        .where(ClinicContentVersion.version == version)
    )
    row = session.exec(query.with_for_update() if lock else query).first()
    if row is None:
        raise ContentError("version", f"there is no version {version}", problem="missing")
    return row


def record_content_signoff(
    session: Session,
    *,
    clinic_id: int,
    plan: Plan,
    version: int,
    sha256: str,
    signer_name: str,
    signer_role: str,
    signed_on: date | None,
    note: str | None,
    actor: str,
    renderer: Renderer,
) -> ClinicContentSignoff:
    """A clinician's sign-off of version `version`, whose content they reviewed as
    `sha256`. Linted again (the linter may have learnt more since the save)."""
    row = find_version(session, clinic_id, plan.key, version, lock=True)
    _check_signable(row, plan, sha256)
    signer_name, signer_role = _clean(signer_name, 200) or "", _clean(signer_role, 120) or ""
    try:
        signed_on = check_signer(signer_name, signer_role, signed_on)
    except SignoffError as exc:
        field_name, _, message = str(exc).partition(": ")
        raise ContentError(field_name, message) from None
    errors = errors_of(lint_overrides(plan, row.templates, renderer))
    if errors:
        raise ContentRefused(errors)
    signoff = ClinicContentSignoff(
        content_version_id=row.id, clinic_id=clinic_id, sha256=row.sha256,  # type: ignore[arg-type]
        signer_name=signer_name, signer_role=signer_role, signed_on=signed_on,
        note=_clean(note, 1000), recorded_by=actor,
    )  # fmt: skip
    session.add(signoff)
    session.flush()
    record_audit(
        session, actor_type=_actor_type(actor), actor=actor, action="content.signoff",
        entity_type="clinic_content", entity_id=row.id, clinic_id=clinic_id,
        detail={"plan": plan.key, "plan_version": plan.version, "version": row.version,
                "sha256": row.sha256, "signer_name": signoff.signer_name,
                "signer_role": signoff.signer_role, "signed_on": signed_on.isoformat()},
    )  # fmt: skip
    return signoff


def _check_signable(row: ClinicContentVersion, plan: Plan, sha256: str) -> None:
    if row.sha256 != sha256:
        raise ContentError(
            "sha256",
            f"version {row.version} changed after you opened it: review it again, then sign",
            problem="conflict",
        )
    if row.plan_sha256 != plan.sha256:
        raise ContentError(
            "version",
            f"version {row.version} was written for plan v{row.plan_version}; the plan is now "
            f"v{plan.version}: save the texts again for v{plan.version}, then sign that version",
            problem="conflict",
        )


def is_signed(session: Session, row: ClinicContentVersion) -> bool:
    return bool(content_signoffs(session, row))
