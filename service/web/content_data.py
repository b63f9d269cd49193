"""What the clinic texts pages show: each plan's versions with their state, each
message with whether the clinic reworded it, and the clinic values previews use."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from service import clinic_content
from service.db.models import Clinic, ClinicContentSignoff, ClinicContentVersion
from service.domain import Channel
from service.plans.catalog import PlanCatalog
from service.plans.content_store import content_signoffs, content_versions, signed_content
from service.plans.lint_checks import Finding
from service.plans.model import Offset, Plan
from service.plans.override_preview import ClinicValues
from service.plans.overrides import Slot, slots

CHANNEL_NAMES = {Channel.SMS: "Text (SMS)", Channel.EMAIL: "Email"}
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


@dataclass(frozen=True)
class VersionView:
    row: ClinicContentVersion
    signoffs: list[ClinicContentSignoff]
    frozen: str | None  # why it may not change; None: a draft
    current_plan: bool  # written for the plan version enrolments use now
    live: bool  # what new enrolments get

    @property
    def state(self) -> str:
        if self.live:
            return "In use for new enrolments"
        if not self.current_plan:
            return f"Written for plan v{self.row.plan_version}: not used"
        if self.signoffs:
            return "Signed off (a later version is in use)"
        return "Draft: awaiting clinical sign-off"


@dataclass(frozen=True)
class PlanRow:
    plan: Plan
    live: ClinicContentVersion | None
    latest: VersionView | None


@dataclass(frozen=True)
class MessageRow:
    slot: Slot
    reworded: bool

    @property
    def channel(self) -> str:
        return CHANNEL_NAMES[self.slot.channel]

    @property
    def language(self) -> str:
        return LANGUAGE_NAMES.get(self.slot.language, self.slot.language)

    @property
    def when(self) -> str:
        return when_words(self.slot.step.offset)


def when_words(offset: Offset) -> str:
    """ "1d at 09:00" -> "day 1 at 09:00"; "4h" -> "4h after the procedure"."""
    if offset.at is not None:
        return f"day {offset.calendar_days} at {offset.at:%H:%M}"
    if offset.is_whole_days:
        return f"day {offset.calendar_days}"
    return f"{offset} after the procedure"


def clinic_values(clinic: Clinic) -> ClinicValues:
    return ClinicValues(name=clinic.name, phone=clinic.contact_phone,
                        emergency_phone=clinic.emergency_phone, phone_24h=clinic.phone_24h,
                        timezone=clinic.timezone)  # fmt: skip


def versions(session: Session, clinic: Clinic, plan: Plan) -> list[VersionView]:
    """The clinic's versions of `plan`, newest first."""
    live = signed_content(session, clinic.id, plan)  # type: ignore[arg-type]
    return [
        VersionView(
            row=row,
            signoffs=content_signoffs(session, row),
            frozen=clinic_content.frozen_reason(session, row),
            current_plan=row.plan_sha256 == plan.sha256,
            live=live is not None and live.id == row.id,
        )
        for row in content_versions(session, clinic.id, plan.key)  # type: ignore[arg-type]
    ]


def plan_rows(session: Session, clinic: Clinic, catalog: PlanCatalog) -> list[PlanRow]:
    rows = []
    for plan in catalog.all():
        found = versions(session, clinic, plan)
        live = next((v.row for v in found if v.live), None)
        rows.append(PlanRow(plan, live, found[0] if found else None))
    return rows


def message_rows(plan: Plan, texts: dict[str, str]) -> list[MessageRow]:
    return [MessageRow(slot, slot.name in texts) for slot in slots(plan)]


def finding_lines(plan: Plan, findings: list[Finding]) -> list[str]:
    """Each problem with the message it is in, in words: "Day 1 care (Text (SMS), Spanish):
    ..." (a problem may be in another message than the one edited, e.g. a sign the
    English text names and the Spanish one does not)."""
    titles = {step.key: step.title for step in plan.steps}
    lines = []
    for finding in findings:
        where = [
            CHANNEL_NAMES.get(Channel(finding.channel), finding.channel) if finding.channel else "",
            LANGUAGE_NAMES.get(finding.language, finding.language) if finding.language else "",
        ]
        place = ", ".join(part for part in where if part)
        title = titles.get(finding.step or "", plan.title)
        lines.append(
            f"{title} ({place}): {finding.message}" if place else f"{title}: {finding.message}"
        )
    return lines


def texts_of(latest: VersionView | None) -> dict[str, str]:
    """The clinic's current wording (its latest version's), by template name."""
    return dict(latest.row.templates) if latest is not None else {}
