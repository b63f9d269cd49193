"""`aftercare clinics|users|apikeys create`: from nothing to an authenticated API call."""

from __future__ import annotations

from datetime import time

import typer
from sqlmodel import select

from service import accounts
from service.cli.common import db_session, emit, fail
from service.db.models import Clinic, User
from service.domain import Role

clinics = typer.Typer(help="Clinics.", no_args_is_help=True)
users = typer.Typer(help="Staff, operator and admin accounts.", no_args_is_help=True)
apikeys = typer.Typer(help="API keys for the REST API.", no_args_is_help=True)


def _parse_time(value: str | None, name: str) -> time | None:
    if value is None:
        return None
    try:
        return time.fromisoformat(value)
    except ValueError:
        fail(f"--{name}: expected HH:MM, got {value!r}")


@clinics.command("create")
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
    oncall: list[str] = typer.Option(
        [], help="On-call recipient NAME,PHONE,EMAIL (repeat in escalation order)"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Create a clinic."""
    with db_session() as session:
        try:
            clinic = accounts.create_clinic(
                session,
                name=name,
                contact_phone=phone,
                timezone=timezone,
                slug=slug,
                emergency_phone=emergency_phone,
                default_region=region,
                sms_from=sms_from,
                email_from=email_from,
                quiet_start=_parse_time(quiet_start, "quiet-start"),
                quiet_end=_parse_time(quiet_end, "quiet-end"),
            )
            for entry in oncall:
                person, phone_no, email = [*entry.split(","), "", ""][:3]
                accounts.add_oncall(
                    session, clinic=clinic, name=person, phone=phone_no or None, email=email or None
                )
        except accounts.AccountError as exc:
            fail(str(exc))
        emit(
            {
                "id": clinic.id,
                "slug": clinic.slug,
                "name": clinic.name,
                "timezone": clinic.timezone,
            },
            as_json=as_json,
        )


@users.command("create")
def create_user(
    email: str = typer.Option(..., help="Login email"),
    role: Role = typer.Option(Role.STAFF, help="staff, operator or admin"),
    clinic: str | None = typer.Option(None, help="Clinic slug or id (required for staff)"),
    name: str = typer.Option("", help="Display name"),
    password: str | None = typer.Option(
        None,
        envvar="AFTERCARE_USER_PASSWORD",
        help="Web login password (or env AFTERCARE_USER_PASSWORD)",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Create a user."""
    with db_session() as session:
        clinic_id = None
        if clinic is not None:
            found = session.exec(
                select(Clinic).where((Clinic.slug == clinic) | (Clinic.id == _int_or_none(clinic)))
            ).first()
            if found is None:
                fail(f"--clinic: no clinic {clinic!r}")
            clinic_id = found.id
        try:
            user = accounts.create_user(
                session, email=email, role=role, clinic_id=clinic_id, name=name, password=password
            )
        except accounts.AccountError as exc:
            fail(str(exc))
        emit(
            {"id": user.id, "email": user.email, "role": user.role, "clinic_id": user.clinic_id},
            as_json=as_json,
        )


@apikeys.command("create")
def create_apikey(
    user: str = typer.Option(..., help="Email of the user the key acts as"),
    name: str = typer.Option("", help="What the key is for"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Create an API key. The key is printed once and cannot be shown again."""
    with db_session() as session:
        owner = session.exec(select(User).where(User.email == user.strip().lower())).first()
        if owner is None:
            fail(f"--user: no user {user!r}")
        row, key = accounts.create_api_key(session, user=owner, name=name)
        emit(
            {
                "id": row.id,
                "key": key,
                "user": owner.email,
                "role": owner.role,
                "clinic_id": owner.clinic_id,
            },
            as_json=as_json,
        )


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isdigit() else None
