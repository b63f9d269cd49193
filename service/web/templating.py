"""Jinja2 for the web pages: autoescape always on, strict undefined, a few filters.

Autoescape is on for every template (not only *.html), so a patient called
`<script>alert(1)</script>` is text wherever it appears. Pages also carry a strict
Content-Security-Policy (scripts and styles only from our own static files) as a
second line of defence.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from service.logs import mask_email, mask_phone
from service.web.timeline_text import (
    channel_word,
    enrollment_word,
    language_name,
    plain_reason,
    status_word,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show patient data: never keep them in shared caches or the back/forward cache.
    "Cache-Control": "no-store",
}


def local_time(value: datetime | None, tz: str | None = None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC instant shown on the clinic's (or patient's) wall clock, with the zone."""
    if value is None:
        return "—"
    zone = ZoneInfo(tz) if tz else ZoneInfo("UTC")
    local = value.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_and_patient(value: datetime | None, tz: str, patient_tz: str | None = None) -> str:
    """The clinic's wall clock, with the patient's beside it when that reads differently:
    "2026-03-02 10:00 EST (patient: 07:00 PST)"."""
    shown = local_time(value, tz)
    if value is None or not patient_tz or patient_tz == tz:
        return shown
    theirs = value.astimezone(ZoneInfo(patient_tz))
    if theirs.utcoffset() == value.astimezone(ZoneInfo(tz)).utcoffset():
        return shown
    return f"{shown} (patient: {theirs:%H:%M} {theirs.tzname()})"


def wall(value: datetime | None, tz: str) -> str:
    """The value for a datetime-local input: the wall clock in `tz`, no zone."""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M") if value else ""


def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


@lru_cache(maxsize=4)
def templates_at(directory: str) -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        local=local_time,
        local_and_patient=local_and_patient,
        iso=iso,
        wall=wall,
        mask_phone=mask_phone,
        mask_email=mask_email,
        status_word=status_word,
        enrollment_word=enrollment_word,
        channel_word=channel_word,
        language_name=language_name,
        plain_reason=plain_reason,
    )
    return Jinja2Templates(env=env)


def templates_for(request: Request) -> Jinja2Templates:
    base: Path = request.app.state.settings.templates_dir
    return templates_at(str(base / "web"))


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    response = templates_for(request).TemplateResponse(
        request, name, context, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response
