"""Checks shared by the plan and system-template linters, and the sample data they use."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from service.domain import CLINIC_NAME_MAX, Channel
from service.phones import PHONE_DISPLAY_MAX
from service.rendering import Rendered, message_context
from service.sms import count_segments, non_gsm7_chars

SMS_HARD_LIMIT = 2  # segments: with the longest clinic name and number the service accepts
OPT_OUT_WORDS = ("STOP", "HELP")
# The worst case the service accepts: a clinic name of CLINIC_NAME_MAX characters and a
# number whose international form is PHONE_DISPLAY_MAX long, shown to a patient abroad.
SAMPLE: dict[str, str] = {
    "patient_first_name": "Alexandra",
    "clinic_name": "Riverside Aesthetics & Laser Skin Clinic",
    "clinic_phone": "+911861123456789",
    "emergency_phone": "911",
}
SAMPLE_PATIENT_PHONE = "+14155550123"
SAMPLE_CLINIC_PHONE_SHOWN = "+91 1861 123 456 789"
assert len(SAMPLE["clinic_name"]) == CLINIC_NAME_MAX
assert len(SAMPLE_CLINIC_PHONE_SHOWN) == PHONE_DISPLAY_MAX
SAMPLE_PROCEDURE_AT = datetime.datetime(2026, 3, 5, 10, 0, tzinfo=ZoneInfo("America/New_York"))


Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    severity: Severity
    message: str
    plan: str | None = None
    step: str | None = None
    template: str | None = None
    line: int | None = None
    channel: str | None = None
    language: str | None = None

    def __str__(self) -> str:
        where = "/".join(part for part in (self.plan, self.step) if part) or "-"
        if self.channel or self.language:
            where += f" ({' '.join(p for p in (self.channel, self.language) if p)})"
        if self.template:
            where += f" [{self.template}{f':{self.line}' if self.line else ''}]"
        elif self.line:
            where += f" [line {self.line}]"
        return f"{self.severity.upper()} {where}: {self.message}"


def sample_context(language: str, **extra: object) -> dict[str, object]:
    return message_context(
        patient_first_name=SAMPLE["patient_first_name"],
        clinic_name=SAMPLE["clinic_name"],
        clinic_phone=SAMPLE["clinic_phone"],
        emergency_phone=SAMPLE["emergency_phone"],
        procedure_at_local=SAMPLE_PROCEDURE_AT,
        language=language,
        extra=extra,
        patient_phone=SAMPLE_PATIENT_PHONE,
    )


def check_message(
    result: Rendered,
    channel: Channel,
    *,
    plan: str | None,
    step: str | None,
    template: str,
    clinic_phone: Severity = "error",
) -> list[Finding]:
    """Per-message checks: emergency line and clinic number; SMS length and encoding."""
    where = (channel.value, _language(template))
    findings = []
    if SAMPLE["emergency_phone"] not in result.text:
        msg = "emergency line missing: the text never gives {{ emergency_phone }}"
        findings.append(Finding("error", msg, plan, step, template, None, *where))
    if SAMPLE_CLINIC_PHONE_SHOWN not in result.text:
        msg = "clinic number missing: the text never gives {{ clinic_phone }}"
        findings.append(Finding(clinic_phone, msg, plan, step, template, None, *where))
    if channel is Channel.SMS:
        findings += check_sms(result.text, plan=plan, step=step, template=template)
    return findings


def _language(template: str) -> str | None:
    parts = template.rsplit("/", 1)[-1].split(".")
    return parts[2] if len(parts) == 4 else None


def check_sms(text: str, *, plan: str | None, step: str | None, template: str) -> list[Finding]:
    info = count_segments(text)
    where = ("sms", _language(template))
    findings = []
    size = f"{info.units} {info.encoding} units"
    if info.segments > SMS_HARD_LIMIT:
        msg = (
            f"SMS is {info.segments} segments ({size}) with the longest clinic name and "
            f"number the service accepts; the limit is {SMS_HARD_LIMIT}"
        )
        findings.append(Finding("error", msg, plan, step, template, None, *where))
    odd = non_gsm7_chars(text)
    if odd:
        msg = f"characters {''.join(odd)!r} force UCS-2 (70 characters a segment)"
        findings.append(Finding("warning", msg, plan, step, template, None, *where))
    return findings
