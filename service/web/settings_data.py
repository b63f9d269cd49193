"""What the clinic settings page shows and reads: the form's values from a clinic, the
changes a submitted form asks for, and the recent changes from the audit log in words."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlmodel import Session, col, select

from service.clinics import ClinicChanges
from service.db.models import ApiKey, AuditLog, Clinic, Sender, User
from service.web.forms import FormData

# Every setting the page edits, as the form and the audit log name it, with its label.
LABELS: dict[str, str] = {
    "name": "Clinic name",
    "contact_phone": "Clinic phone",
    "phone_24h": "Phone answered 24 hours",
    "emergency_phone": "Emergency number",
    "timezone": "Clinic time zone",
    "quiet_start": "Quiet hours start",
    "quiet_end": "Quiet hours end",
    "night_start": "Night window start",
    "night_end": "Night window end",
    "sms_from": "Sender number",
    "sender_rate_per_second": "Sender rate (texts per second)",
    "sender_burst": "Sender burst",
    "alert_ack_minutes": "Alert acknowledgement window (minutes)",
    "reply_response_minutes": "Reply response time (minutes)",
    "reply_day_start": "Reply day start",
    "reply_day_end": "Reply day end",
    "reply_night_due": "Late replies due at",
    "page_detail": "On-call page detail",
    "oncall": "On-call list",
    "email_from": "Sender email address",
}
TIMES = ("quiet_start", "quiet_end", "night_start", "night_end", "reply_day_start",
         "reply_day_end", "reply_night_due")  # fmt: skip
MINUTES = ("alert_ack_minutes", "reply_response_minutes")
TEXTS = ("name", "contact_phone", "emergency_phone", "timezone", "sms_from", "page_detail")
SENDER = ("sender_rate_per_second", "sender_burst")


def form_values(clinic: Clinic, sender: Sender | None) -> dict[str, str]:
    """The form as the clinic stands."""
    values = {name: str(getattr(clinic, name) or "") for name in TEXTS + MINUTES}
    values |= {name: f"{getattr(clinic, name):%H:%M}" for name in TIMES}
    if clinic.phone_24h:
        values["phone_24h"] = "on"
    if sender is not None:
        values["sender_rate_per_second"] = _number(sender.rate_per_second)
        values["sender_burst"] = str(sender.burst)
    return values


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def changes_from(form: FormData, clinic: Clinic, sender: Sender | None) -> ClinicChanges:
    """What the submitted form changes; a field it cannot read is a form error (named).

    An empty field keeps its setting. The sender's rate and burst are passed only when
    they differ: a clinic on the service's default number may not set them at all."""
    values: dict[str, Any] = {name: form.get(name) or None for name in TEXTS}
    values["phone_24h"] = form.flag("phone_24h")
    for name in TIMES:
        values[name] = _time(form, name)
    for name in MINUTES:
        values[name] = _int(form, name)
    rate, burst = _float(form, "sender_rate_per_second"), _int(form, "sender_burst")
    if rate is not None and (sender is None or rate != sender.rate_per_second):
        values["sender_rate_per_second"] = rate
    if burst is not None and (sender is None or burst != sender.burst):
        values["sender_burst"] = burst
    if values.get("sms_from") == (clinic.sms_from or None):
        values["sms_from"] = None  # as it is (and a clinic may not clear its number here)
    return ClinicChanges(**values)


def _time(form: FormData, name: str) -> time | None:
    text = form.get(name)
    if not text:
        return None
    try:
        value = time.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or len(text) != 5:
        form.error(name, f"{LABELS[name]}: use HH:MM on a 24-hour clock, e.g. 20:00.")
        return None
    return value


def _int(form: FormData, name: str) -> int | None:
    text = form.get(name)
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        form.error(name, f"{LABELS[name]}: a whole number, e.g. 15.")
        return None
    return int(text)


def _float(form: FormData, name: str) -> float | None:
    text = form.get(name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or len(text) > 12:  # NaN, "inf" is refused by the rate's own check
        form.error(name, f"{LABELS[name]}: a number, e.g. 1 or 0.5.")
        return None
    return value


@dataclass(frozen=True)
class Change:
    at: datetime
    who: str
    setting: str
    before: str
    after: str


def recent_changes(session: Session, clinic: Clinic, *, limit: int = 30) -> list[Change]:
    """The latest setting changes, one line per setting, newest first."""
    query = (
        select(AuditLog)
        .where(AuditLog.clinic_id == clinic.id, AuditLog.action == "clinic.update")
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .limit(limit)
    )
    rows = list(session.exec(query))
    names = _people(session, [row.actor for row in rows])
    found = []
    for row in rows:
        detail = row.detail or {}
        changes = detail.get("changes") or {name: {} for name in detail.get("changed", [])}
        for name, values in changes.items():
            found.append(Change(row.at, names.get(row.actor or "", row.actor or "system"),
                                LABELS.get(name, name), _shown(values.get("from")),
                                _shown(values.get("to"))))  # fmt: skip
    return found[:limit]


def _people(session: Session, actors: list[str | None]) -> dict[str, str]:
    """A person ("user:3") by name or email, an API key ("api_key:7") as "API key of"
    its owner; the CLI and the system as they are."""
    users = _ids(actors, "user")
    keys = _ids(actors, "api_key")
    found: dict[str, str] = {}
    if users:
        rows = session.exec(select(User).where(col(User.id).in_(users)))
        found |= {f"user:{u.id}": u.name or u.email for u in rows}
    if keys:
        query = select(ApiKey.id, User.name, User.email).join(User, col(User.id) == ApiKey.user_id)
        owners = session.exec(query.where(col(ApiKey.id).in_(keys)))
        found |= {f"api_key:{kid}": f"API key of {name or email}" for kid, name, email in owners}
    return found


def _ids(actors: list[str | None], kind: str) -> list[int]:
    parts = [actor.split(":", 1) for actor in actors if actor and ":" in actor]
    return sorted({int(n) for k, n in parts if k == kind and n.isascii() and n.isdigit()})


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):  # an on-call list
        return "; ".join(_person(p) for p in value) or "nobody"
    return str(value)


def _person(person: dict[str, Any]) -> str:
    how = {"sms": " (text only)", "email": " (email only)"}.get(person.get("page_by", ""), "")
    return f"{person.get('name')}{how}"
