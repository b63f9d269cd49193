"""Checks shared by the plan and system-template linters, and the sample data they use."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

from service.domain import Channel
from service.rendering import Rendered, message_context
from service.sms import count_segments, non_gsm7_chars

SMS_HARD_LIMIT = 4  # segments: beyond this a message is too costly and too long to read
SMS_SOFT_LIMIT = 2
OPT_OUT_WORDS = ("STOP", "HELP")
SAMPLE = {
    "patient_first_name": "Alexandra",
    "clinic_name": "Riverside Aesthetics",
    "clinic_phone": "+15550100100",
    "emergency_phone": "911",
}
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

    def __str__(self) -> str:
        where = "/".join(part for part in (self.plan, self.step) if part) or "-"
        if self.template:
            where += f" [{self.template}{f':{self.line}' if self.line else ''}]"
        elif self.line:
            where += f" [line {self.line}]"
        return f"{self.severity.upper()} {where}: {self.message}"


def sample_context(language: str, **extra: object) -> dict[str, object]:
    return message_context(
        procedure_at_local=SAMPLE_PROCEDURE_AT, language=language, extra=extra, **SAMPLE
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
    findings = []
    if SAMPLE["emergency_phone"] not in result.text:
        msg = "emergency line missing: the text never gives {{ emergency_phone }}"
        findings.append(Finding("error", msg, plan, step, template))
    if SAMPLE["clinic_phone"] not in result.text:
        msg = "clinic number missing: the text never gives {{ clinic_phone }}"
        findings.append(Finding(clinic_phone, msg, plan, step, template))
    if channel is Channel.SMS:
        findings += check_sms(result.text, plan=plan, step=step, template=template)
    return findings


def check_sms(text: str, *, plan: str | None, step: str | None, template: str) -> list[Finding]:
    info = count_segments(text)
    findings = []
    size = f"{info.units} {info.encoding} units"
    if info.segments > SMS_HARD_LIMIT:
        msg = f"SMS is {info.segments} segments ({size}), the limit is {SMS_HARD_LIMIT}"
        findings.append(Finding("error", msg, plan, step, template))
    elif info.segments > SMS_SOFT_LIMIT:
        msg = f"SMS is {info.segments} segments ({size}): keep to 2 if you can"
        findings.append(Finding("warning", msg, plan, step, template))
    odd = non_gsm7_chars(text)
    if odd:
        msg = f"characters {''.join(odd)!r} force UCS-2 (70 characters a segment)"
        findings.append(Finding("warning", msg, plan, step, template))
    return findings
