"""Seeding for bench/scale_day.py: clinics, senders, on-call lists, API keys, the days of
enrolments before the simulated one, and the enrolments that arrive during it.

Everything goes through the service's own functions (accounts, senders, the CSV
importer), as at its own moment on the simulated clock.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlmodel import Session

from service import csv_import, senders
from service.accounts import add_oncall, create_api_key, create_clinic, create_user
from service.config import DEFAULT_TEMPLATES_DIR
from service.domain import Role
from service.plans.catalog import PlanCatalog, load_catalog
from service.rendering import Renderer

# Six US zones, each with an area code for its numbers.
ZONES = [
    ("America/New_York", "212"),
    ("America/Chicago", "312"),
    ("America/Denver", "303"),
    ("America/Phoenix", "602"),
    ("America/Los_Angeles", "213"),
    ("Pacific/Honolulu", "808"),
]
# Real carrier rates (messages per second) the clinics' own numbers are given in turn.
RATES = [1.0, 1.0, 2.0, 3.0, 3.0]
PLANS = ["botox", "dermal_filler", "microneedling", "thread_lift", "rf_skin_tightening", "surgery"]
HEADER = ["first_name", "phone", "external_ref", "plan", "procedure_at"]


@dataclass
class SeedClinic:
    id: int
    slug: str
    zone: str
    area: str
    sender: str
    real_rate: float
    burst: int
    oncall: str
    api_key: str = ""
    csv: bool = False  # enrols the day's patients by CSV import (else REST)


@dataclass
class Arrival:
    """One enrolment during the simulated day: when staff make it, and its patient."""

    at: datetime  # on the simulated clock
    clinic: SeedClinic
    row: dict[str, str]


@dataclass
class Population:
    clinics: list[SeedClinic]
    phones: dict[str, int] = field(default_factory=dict)  # patient phone -> clinic id
    next_phone: int = 0

    def phone(self, clinic: SeedClinic) -> str:
        self.next_phone += 1
        number = f"+1{clinic.area}{2_000_000 + self.next_phone:07d}"
        self.phones[number] = clinic.id
        return number


def make_clinics(
    session: Session, count: int, *, clock_rate: float, rates: list[float] = RATES
) -> list[SeedClinic]:
    """`count` clinics in the six zones, each on its own number paced at a real rate
    (rate / clock_rate per clock second), with one on-call clinician and an API key."""
    made = []
    for n in range(count):
        zone, area = ZONES[n % len(ZONES)]
        rate = rates[n % len(rates)]
        sender = f"+1{area}8{n:06d}"
        clinic = create_clinic(
            session,
            name=f"Scale Clinic {n:02d}",
            contact_phone=sender,
            timezone=zone,
            slug=f"scale-{n:02d}",
            sms_from=sender,
        )
        row = senders.ensure(session, "sms", sender)
        row.rate_per_second, row.burst = rate / clock_rate, max(1, int(rate))
        oncall = f"+1{area}9{n:06d}"
        add_oncall(
            session, clinic=clinic, name=f"Dr On Call {n}", phone=oncall, email=None, page_by="sms"
        )
        user = create_user(
            session, email=f"staff{n}@scale.example", role=Role.STAFF, clinic_id=clinic.id
        )
        _, key = create_api_key(session, user=user, name="scale day")
        assert clinic.id is not None
        made.append(
            SeedClinic(
                clinic.id,
                clinic.slug,
                zone,
                area,
                sender,
                rate,
                max(1, int(rate)),
                oncall,
                key,
                csv=n % 5 == 0,
            )
        )
    session.commit()
    return made


def procedures(day: datetime, zone: str, count: int, rng: random.Random) -> list[datetime]:
    """`count` procedure times between 09:00 and 16:30 local on `day`'s local date."""
    local = day.astimezone(ZoneInfo(zone)).replace(hour=9, minute=0, second=0, microsecond=0)
    return sorted(local + timedelta(minutes=30 * rng.randrange(16)) for _ in range(count))


def patient_row(pop: Population, clinic: SeedClinic, at: datetime, rng: random.Random) -> dict:
    phone = pop.phone(clinic)
    return {
        "first_name": rng.choice(["Ana", "Ben", "Cleo", "Dev", "Eli", "Fay"]),
        "phone": phone,
        "external_ref": f"r{phone[2:]}",
        "plan": rng.choice(PLANS),
        "procedure_at": at.isoformat(),
    }


def to_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def seed_history(
    session: Session, pop: Population, *, start: datetime, days: int, per_day: int, seed: int
) -> int:
    """The `days` before `start`: each clinic enrols that day's patients at 07:00 local
    (through the CSV importer, as on that morning). Returns the patients enrolled."""
    rng = random.Random(seed)
    catalog, renderer = load_catalog(DEFAULT_TEMPLATES_DIR), Renderer(DEFAULT_TEMPLATES_DIR)
    enrolled = 0
    for back in range(days, 0, -1):
        day = start - timedelta(days=back) + timedelta(hours=12)  # that date in every zone
        for clinic in pop.clinics:
            times = procedures(day, clinic.zone, per_day, rng)
            rows = [patient_row(pop, clinic, at, rng) for at in times]
            morning = times[0].replace(hour=7, minute=0)
            enrolled += _import(session, clinic, rows, catalog, renderer, now=morning)
    return enrolled


def _import(
    session: Session,
    clinic: SeedClinic,
    rows: list[dict[str, str]],
    catalog: PlanCatalog,
    renderer: Renderer,
    *,
    now: datetime,
) -> int:
    from service.db.models import Clinic

    found = session.get(Clinic, clinic.id)
    assert found is not None
    report = csv_import.import_rows(
        session,
        clinic=found,
        catalog=catalog,
        now=now,
        actor="scale-day-history",
        rows=csv_import.read_rows(io.StringIO(to_csv(rows))),
        renderer=renderer,
    )
    session.commit()
    assert not report.errors, report.errors[:3]
    return report.enrolled


def close_history(session: Session, start: datetime) -> int:
    """Rows the days before `start` sent: marked sent at their due time (history)."""
    result = session.execute(
        text(
            "UPDATE messages SET status = 'sent', sent_at = due_at, "
            "status_reason = 'history before the simulated day' "
            "WHERE status = 'scheduled' AND next_attempt_at < :start"
        ),
        {"start": start},
    )
    session.commit()
    return int(result.rowcount or 0)


def arrivals(pop: Population, *, start: datetime, per_day: int, seed: int) -> list[Arrival]:
    """The simulated day's enrolments. CSV clinics import the day's list at 07:30 local
    (procedures later that day); the others enrol each patient by REST an hour after the
    procedure, between 10:00 and 17:30 local."""
    rng = random.Random(seed + 1)
    found: list[Arrival] = []
    for clinic in pop.clinics:
        local_day = start.astimezone(ZoneInfo(clinic.zone)) + timedelta(hours=12)
        for at in procedures(local_day, clinic.zone, per_day, rng):
            row = patient_row(pop, clinic, at, rng)
            when = at.replace(hour=7, minute=30) if clinic.csv else at + timedelta(hours=1)
            found.append(Arrival(when, clinic, row))
    return sorted(found, key=lambda a: a.at)
