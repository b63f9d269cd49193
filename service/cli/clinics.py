"""`aftercare clinics create|list|show|update`."""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING, Any

import typer

from service.cli.common import (
    command_group,
    db_session,
    emit,
    fail,
    json_option,
    settings,
    when,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from service.db.models import Clinic, OnCallRecipient

app = command_group("Clinics: create, list, show and change their settings.")
ACTOR = "cli"
ONCALL_HELP = (
    "On-call recipient NAME,PHONE,EMAIL[,sms|email|both] (repeat, in escalation order; "
    "paged by both, every address given, unless told)"
)


def _time(value: str | None, option: str) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        fail(f"--{option}: expected HH:MM, got {value!r}")


@app.command("create")
def create_clinic(
    name: str = typer.Option(..., help="Clinic name shown to patients"),
    phone: str = typer.Option(..., help="Clinic contact phone shown in every message"),
    timezone: str = typer.Option("America/New_York", help="IANA time zone"),
    slug: str | None = typer.Option(None, help="Short unique key (default: from the name)"),
    emergency_phone: str = typer.Option("911", help="Emergency number patients are told to call"),
    region: str = typer.Option("US", help="Default region for parsing local phone numbers"),
    sms_from: str | None = typer.Option(None, help="E.164 sender number for this clinic"),
    email_from: str | None = typer.Option(None, help="From address for this clinic's emails"),
    quiet_start: str | None = typer.Option(None, help="Quiet hours start, HH:MM (default 20:00)"),
    quiet_end: str | None = typer.Option(None, help="Quiet hours end, HH:MM (default 08:00)"),
    phone_24h: bool = typer.Option(
        False, "--24h-line", help="The clinic answers its number day and night (texts may say so)"
    ),
    oncall: list[str] = typer.Option([], help=ONCALL_HELP),
    as_json: bool = json_option(),
) -> None:
    """Create a clinic."""
    from service import accounts
    from service.clinics import ClinicError, parse_oncall

    with db_session() as session:
        try:
            clinic = accounts.create_clinic(
                session, name=name, contact_phone=phone, timezone=timezone, slug=slug,
                emergency_phone=emergency_phone, default_region=region, sms_from=sms_from,
                email_from=email_from, quiet_start=_time(quiet_start, "quiet-start"),
                quiet_end=_time(quiet_end, "quiet-end"), phone_24h=phone_24h,
            )  # fmt: skip
            for entry in oncall:
                person = parse_oncall(entry, region=clinic.default_region)
                accounts.add_oncall(session, clinic=clinic, name=person.name,
                                    phone=person.phone, email=person.email,
                                    page_by=person.page_by)  # fmt: skip
        except accounts.AccountError as exc:
            fail(str(exc))
        except ClinicError as exc:
            fail(f"--{exc.field.replace('_', '-')}: {exc.message}")
        _warn_if_nobody(clinic, len(oncall))
        emit(
            {"id": clinic.id, "slug": clinic.slug, "name": clinic.name,
             "timezone": clinic.timezone, "phone": clinic.contact_phone,
             "phone_24h": clinic.phone_24h},
            as_json=as_json,
        )  # fmt: skip


@app.command("list")
def list_clinics(as_json: bool = json_option()) -> None:
    """Every clinic: id, slug, name, time zone."""
    from sqlmodel import col, select

    from service.db.models import Clinic

    with db_session() as session:
        rows = session.exec(select(Clinic).order_by(col(Clinic.id))).all()
        items = [{"id": c.id, "slug": c.slug, "name": c.name, "timezone": c.timezone}
                 for c in rows]  # fmt: skip
    if as_json:
        emit({"clinics": items}, as_json=True)
        return
    for item in items:
        typer.echo(f"{item['id']:>4}  {item['slug']:<24} {item['timezone']:<22} {item['name']}")
    if not items:
        typer.echo("no clinics yet: create one with `aftercare clinics create`")


@app.command("show")
def show_clinic(
    clinic: str = typer.Argument(..., help="Clinic slug or id"), as_json: bool = json_option()
) -> None:
    """Every setting of one clinic, with its on-call list in escalation order."""
    with db_session() as session:
        details = _details(session, _found(session, clinic))
    _print(details, as_json=as_json)


@app.command("update")
def update_clinic(
    clinic: str = typer.Argument(..., help="Clinic slug or id"),
    name: str | None = typer.Option(None, help="Clinic name shown to patients"),
    phone: str | None = typer.Option(None, help="Contact phone shown in every message"),
    emergency_phone: str | None = typer.Option(None, help="Emergency number, e.g. 911"),
    timezone: str | None = typer.Option(None, help="IANA time zone"),
    quiet_start: str | None = typer.Option(None, help="Quiet hours start, HH:MM"),
    quiet_end: str | None = typer.Option(None, help="Quiet hours end, HH:MM"),
    night_start: str | None = typer.Option(
        None, help="Night window start, HH:MM: no safety reminders"
    ),
    night_end: str | None = typer.Option(None, help="Night window end, HH:MM"),
    ack_minutes: int | None = typer.Option(
        None, help="Re-page and escalate an unacknowledged alert after this"
    ),
    sms_from: str | None = typer.Option(None, help="E.164 sender number for this clinic"),
    email_from: str | None = typer.Option(None, help="From address for this clinic's emails"),
    sender_rate: float | None = typer.Option(
        None, help="Messages per second the clinic's own number may take (all workers)"
    ),
    sender_burst: int | None = typer.Option(
        None, help="Messages the clinic's own number may send back to back"
    ),
    phone_24h: bool | None = typer.Option(
        None, "--24h-line/--no-24h-line", help="Whether the number is answered day and night"
    ),
    reply_minutes: int | None = typer.Option(
        None, help="Replies inbox: an unread reply is due this many minutes after it came in"
    ),
    reply_day: str | None = typer.Option(
        None, help="HH:MM-HH:MM: when replies are answered (default 08:00-20:00, clinic time)"
    ),
    reply_night_due: str | None = typer.Option(
        None, help="HH:MM: when a reply that came in too late is due the next morning"
    ),
    page_detail: str | None = typer.Option(
        None, help="full (name, callback, procedure and day, the sign) or minimal on-call pages"
    ),
    oncall: list[str] = typer.Option([], help=ONCALL_HELP + "; replaces the whole list"),
    as_json: bool = json_option(),
) -> None:
    """Change a clinic's settings; only the options given change."""
    from service.clinic_settings import change_settings
    from service.clinics import ClinicChanges, ClinicError, parse_oncall
    from service.db.types import utcnow

    day_start, _, day_end = (reply_day or "").partition("-")
    times = {name: _time(value, option) for name, value, option in (
        ("quiet_start", quiet_start, "quiet-start"), ("quiet_end", quiet_end, "quiet-end"),
        ("night_start", night_start, "night-start"), ("night_end", night_end, "night-end"),
        ("reply_day_start", day_start or None, "reply-day"),
        ("reply_day_end", day_end or None, "reply-day"),
        ("reply_night_due", reply_night_due, "reply-night-due"))}  # fmt: skip
    with db_session() as session:
        found = _found(session, clinic)
        try:
            people = [parse_oncall(entry, region=found.default_region) for entry in oncall]
            changes = ClinicChanges(
                name=name, contact_phone=phone, emergency_phone=emergency_phone,
                timezone=timezone, sms_from=sms_from, email_from=email_from, **times,
                sender_rate_per_second=sender_rate, sender_burst=sender_burst,
                alert_ack_minutes=ack_minutes,
                phone_24h=phone_24h, oncall=people or None, page_detail=page_detail,
                reply_response_minutes=reply_minutes,
            )  # fmt: skip
            result = change_settings(session, found, changes, actor=ACTOR, now=utcnow(),
                                     daily_cap=settings().patient_daily_cap)  # fmt: skip
        except ClinicError as exc:
            fail(f"--{_OPTION.get(exc.field, exc.field).replace('_', '-')}: {exc.message}")
        details = _details(session, found) | {"changed": result.changed}
        if result.replanned is not None:
            details["replanned"] = result.replanned.as_dict()
    _warn_if_nobody(found, len(details["oncall"]))
    _print(details, as_json=as_json)


def _warn_if_nobody(clinic: Clinic, count: int) -> None:
    from service.clinics import missing_warning

    warning = missing_warning(clinic, count)
    if warning:
        typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)


# Setting names as the options that set them are called.
_OPTION = {"contact_phone": "phone", "alert_ack_minutes": "ack_minutes", "phone_24h": "24h-line",
           "sender_rate_per_second": "sender_rate", "sender_burst": "sender_burst",
           "reply_response_minutes": "reply_minutes", "reply_day_start": "reply_day",
           "reply_day_end": "reply_day"}  # fmt: skip


def _found(session: Session, ref: str) -> Clinic:
    from service.clinics import find_clinic

    clinic = find_clinic(session, ref)
    if clinic is None:
        fail(f"clinic: no clinic {ref!r} (see `aftercare clinics list`)")
    return clinic


def _details(session: Session, clinic: Clinic) -> dict[str, Any]:
    from service import senders
    from service.clinics import oncall_list

    hhmm = "%H:%M"
    sender = senders.sms_sender_of(session, clinic, senders.Defaults.from_settings(settings()))
    return {
        "id": clinic.id, "slug": clinic.slug, "name": clinic.name, "timezone": clinic.timezone,
        "contact_phone": clinic.contact_phone, "emergency_phone": clinic.emergency_phone,
        "phone_24h": clinic.phone_24h, "sms_from": clinic.sms_from, "email_from": clinic.email_from,
        "quiet_hours": f"{clinic.quiet_start:{hhmm}}-{clinic.quiet_end:{hhmm}}",
        "night_window": f"{clinic.night_start:{hhmm}}-{clinic.night_end:{hhmm}}",
        "ack_minutes": clinic.alert_ack_minutes,
        "sender": sender.address if sender else None,
        "sender_rate": sender.rate_per_second if sender else None,
        "sender_burst": sender.burst if sender else None,
        "reply_minutes": clinic.reply_response_minutes,
        "reply_day": f"{clinic.reply_day_start:{hhmm}}-{clinic.reply_day_end:{hhmm}}",
        "reply_night_due": f"{clinic.reply_night_due:{hhmm}}", "page_detail": clinic.page_detail,
        "created_at": when(clinic.created_at),
        "oncall": [_person(r) for r in oncall_list(session, clinic)],
    }  # fmt: skip


def _person(row: OnCallRecipient) -> dict[str, Any]:
    """An on-call entry; `page_by` only when it is not "both" (the output before people
    could be paged by one channel, unchanged for them)."""
    person = {"name": row.name, "phone": row.phone, "email": row.email}
    return person if row.page_by == "both" else person | {"page_by": row.page_by}


def _print(details: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit(details, as_json=True)
        return
    oncall = details.pop("oncall")
    emit(details, as_json=False)
    typer.echo("oncall:" + ("" if oncall else " none (pages go to the contact phone)"))
    for position, person in enumerate(oncall, start=1):
        contact = ", ".join(part for part in (person["phone"], person["email"]) if part)
        by = f", paged by {person['page_by']} only" if "page_by" in person else ""
        typer.echo(f"  {position}. {person['name']} ({contact}{by})")
