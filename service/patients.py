"""Patients: validating and normalising contact details, and finding or creating the row.

Phones are parsed with `phonenumbers` in the clinic's default region and stored E.164;
a number the library knows to be a landline is kept but flagged `phone_can_sms=False`
(US numbers are usually "fixed line or mobile", which we must assume can take SMS).
Emails go through `email-validator` (syntax only: no DNS at enrolment time).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, insert, text
from sqlmodel import Session, col, select

from service.config import validate_timezone
from service.country_names import COUNTRY_NAMES
from service.db.models import Clinic, Patient
from service.db.queries import insert_rows, one_of
from service.enrollment.rows import sequence_ids
from service.words import search_name

# At most 8 characters, the column's size: en, es, pt-br, zh-hant, es-419.
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")
NAME_MAX = 100
EXTERNAL_REF_MAX = 64
TIMEZONE_MAX = 64
_NOT_SMS = {phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.PAGER}
T = TypeVar("T")


class PatientError(ValueError):
    """Invalid patient input; `field` names the offending field. `problems` holds every
    invalid field found (this one first), so a form can show them all at once."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.problems: list[PatientError] = [self]

    @classmethod
    def of(cls, problems: list[PatientError]) -> PatientError:
        first = problems[0]
        error = cls(first.field, first.message)
        error.problems = list(problems)
        return error


@dataclass(frozen=True)
class PatientInput:
    """What a caller knows about a patient, before validation."""

    first_name: str
    last_name: str = ""
    phone: str | None = None
    email: str | None = None
    timezone: str | None = None  # default: the clinic's
    language: str = "en"
    external_ref: str | None = None
    sms_consent: bool = True  # staff confirm consent when they enrol
    email_consent: bool = True
    consent_source: str = "staff"
    # Where a phone number written without +country is from (ISO 3166 code such as GB);
    # default: the clinic's region.
    country: str | None = None


@dataclass(frozen=True)
class CleanPatient:
    """Validated, normalised patient values, ready to store."""

    first_name: str
    last_name: str
    phone: str | None
    phone_can_sms: bool
    email: str | None
    timezone: str
    language: str
    external_ref: str | None
    sms_consent: bool
    email_consent: bool
    consent_source: str


def normalise_phone(raw: str, *, region: str) -> tuple[str, bool]:
    """E.164 form and whether it can receive SMS, or PatientError naming `phone`.

    A number written with + (or 00) and its country code is read as that country's,
    whatever `region` is; one written without is read as a number of `region`.
    """
    try:
        number = phonenumbers.parse(raw.strip(), region.upper())
    except phonenumbers.NumberParseException:
        raise PatientError("phone", f"not a phone number: {raw!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise PatientError("phone", _invalid_number(raw, number, region.upper()))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.number_type(number) not in _NOT_SMS


def _invalid_number(raw: str, number: phonenumbers.PhoneNumber, region: str) -> str:
    code = number.country_code or 0
    read_as = phonenumbers.region_code_for_country_code(code)
    written_with_code = raw.strip().startswith(("+", "00"))
    if written_with_code or read_as != region:
        name = COUNTRY_NAMES.get(read_as, f"+{code}")
        return f"{raw!r} is not a valid {name} number (+{code})"
    name = COUNTRY_NAMES.get(region, region)
    return (
        f"{raw!r} is not a valid {name} number; for another country's number, start it "
        "with + and the country code, or choose its country"
    )


def normalise_country(raw: str | None, default: str) -> str:
    """An ISO 3166 country code phone numbers can be parsed for, or PatientError naming
    `country`; blank is `default` (the clinic's region)."""
    value = (raw or "").strip().upper() or default.upper()
    if value not in COUNTRY_NAMES:
        raise PatientError("country", f"not a country code such as GB, ES or MX: {raw!r}")
    return value


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise PatientError("email", str(exc)) from None


def _text(field: str, raw: str, limit: int) -> str:
    """A stripped text field within its column, without control characters (PostgreSQL
    refuses a NUL in text; a tab or a line break has no place in a name either)."""
    value = raw.strip()
    if len(value) > limit:
        raise PatientError(field, f"at most {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise PatientError(field, "must not contain control characters")
    return value


def normalise_language(raw: str | None) -> str:
    value = (raw or "en").strip().lower().replace("_", "-")
    if not _LANGUAGE.match(value):
        raise PatientError("language", f"not a language code like 'en' or 'es': {raw!r}")
    return value


def clean_patient(data: PatientInput, *, clinic: Clinic) -> CleanPatient:
    """Validate everything; PatientError names the first bad field and carries them all
    (`problems`), so a person fixes the form in one round."""
    problems: list[PatientError] = []

    def check(fn: Callable[[], T], fallback: T) -> T:
        try:
            return fn()
        except PatientError as exc:
            problems.append(exc)
            return fallback

    first_name = check(lambda: _required("first_name", data.first_name), "")
    last_name = check(lambda: _text("last_name", data.last_name, NAME_MAX), "")
    region = check(lambda: normalise_country(data.country, clinic.default_region), None)
    phone: str | None = None
    can_sms = False
    if data.phone and data.phone.strip() and region is not None:
        parsed = check(lambda: normalise_phone(data.phone or "", region=region), None)
        phone, can_sms = parsed if parsed is not None else (None, False)
    email = None
    if data.email and data.email.strip():
        email = check(lambda: normalise_email(data.email or ""), None)
    given = bool((data.phone or "").strip() or (data.email or "").strip())
    if not given:
        need = "give a mobile phone number or an email address (or both): without one "
        problems.append(PatientError("phone", need + "nothing can be sent"))
    zone = check(lambda: _zone(data.timezone, clinic.timezone), clinic.timezone)
    language = check(lambda: normalise_language(data.language), "en")
    ref = check(lambda: _text("external_ref", data.external_ref or "", EXTERNAL_REF_MAX), "")
    if problems:
        raise PatientError.of(problems)
    return CleanPatient(
        first_name=first_name,
        last_name=last_name,
        phone=phone,
        phone_can_sms=can_sms,
        email=email,
        timezone=zone,
        language=language,
        external_ref=ref or None,
        sms_consent=data.sms_consent,
        email_consent=data.email_consent,
        consent_source=data.consent_source,
    )


def _required(field: str, raw: str) -> str:
    value = _text(field, raw, NAME_MAX)
    if not value:
        raise PatientError(field, "must not be empty")
    return value


def _zone(raw: str | None, default: str) -> str:
    zone = _text("timezone", raw or "", TIMEZONE_MAX) or default
    try:
        validate_timezone(zone)
    except ValueError as exc:
        raise PatientError("timezone", str(exc)) from None
    return zone


def patient_values(clean: CleanPatient, *, clinic_id: int, now: datetime) -> dict[str, Any]:
    """Column values for a new patient row (used by the ORM path and the bulk path)."""
    return {
        "clinic_id": clinic_id,
        "external_ref": clean.external_ref,
        "first_name": clean.first_name,
        "last_name": clean.last_name,
        "phone": clean.phone,
        "phone_can_sms": clean.phone_can_sms,
        "email": clean.email,
        "timezone": clean.timezone,
        "language": clean.language,
        "sms_consent_at": now if clean.sms_consent and clean.phone else None,
        "sms_consent_source": clean.consent_source if clean.sms_consent else None,
        "email_consent_at": now if clean.email_consent and clean.email else None,
        "email_consent_source": clean.consent_source if clean.email_consent else None,
        "sms_opted_out_at": None,
        "email_opted_out_at": None,
        "created_at": now,
        "search_name": search_name(clean.first_name, clean.last_name),
    }


def identity(clean: CleanPatient) -> tuple[str, str]:
    """How a re-submitted patient is recognised: the clinic's record id, else contact+name."""
    return _row_identity(clean.external_ref, clean.phone, clean.email, clean.first_name)


def _row_identity(
    ref: str | None, phone: str | None, email: str | None, first_name: str
) -> tuple[str, str]:
    if ref:
        return ("ref", ref)
    return ("contact", f"{phone or email or ''}|{first_name.lower()}")


def identity_of(patient: Patient) -> list[tuple[str, str]]:
    keys = []
    if patient.external_ref:
        keys.append(("ref", patient.external_ref))
    for contact in (patient.phone, patient.email):
        if contact:
            keys.append(("contact", f"{contact}|{patient.first_name.lower()}"))
    return keys


def find_existing(
    session: Session, *, clinic_id: int, cleans: list[CleanPatient]
) -> dict[tuple[str, str], Patient]:
    """Existing patients of the clinic matching any of `cleans`, keyed by identity."""
    refs = {c.external_ref for c in cleans if c.external_ref}
    contacts = {c.phone or c.email for c in cleans if not c.external_ref} - {None}
    found: dict[tuple[str, str], Patient] = {}
    for chunk in _chunks(sorted(refs), 500):
        query = select(Patient).where(
            Patient.clinic_id == clinic_id, one_of(session, col(Patient.external_ref), chunk)
        )
        found.update({("ref", p.external_ref or ""): p for p in session.exec(query)})
    for chunk in _chunks(sorted(c for c in contacts if c), 500):
        query = select(Patient).where(
            Patient.clinic_id == clinic_id,
            one_of(session, col(Patient.phone), chunk) | one_of(session, col(Patient.email), chunk),
        )
        for patient in session.exec(query):
            found.update({key: patient for key in identity_of(patient) if key[0] == "contact"})
    return found


def find_or_create(
    session: Session, *, clinic: Clinic, clean: CleanPatient, now: datetime
) -> tuple[Patient, bool]:
    """The clinic's existing patient with this identity, or a new row (flushed).

    On PostgreSQL two requests for the same new patient (a double-submitted form, two
    staff at once) queue on a transaction lock for that identity, so the second finds
    the first's row once it is committed instead of creating a twin.
    """
    _lock_identity(session, clinic_id=clinic.id, clean=clean)  # type: ignore[arg-type]
    existing = find_existing(session, clinic_id=clinic.id, cleans=[clean])  # type: ignore[arg-type]
    patient = existing.get(identity(clean))
    if patient is not None:
        return patient, False
    patient = Patient(**patient_values(clean, clinic_id=clinic.id, now=now))  # type: ignore[arg-type]
    session.add(patient)
    session.flush()
    return patient, True


def _lock_identity(session: Session, *, clinic_id: int, clean: CleanPatient) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: writers are already one at a time (BEGIN IMMEDIATE)
    name = f"patient:{clinic_id}:{identity(clean)}".encode()
    key = int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


@dataclass(slots=True)
class PatientRow:
    """A patient as the bulk path sees it, once inserted.

    Not an ORM object on purpose: building SQLModel instances costs more than inserting
    the rows. It has the attributes enrolment reads (see `enrollment.schedule.PatientLike`).
    """

    id: int
    clinic_id: int
    external_ref: str | None
    first_name: str
    last_name: str
    phone: str | None
    phone_can_sms: bool
    email: str | None
    timezone: str
    language: str
    sms_consent_at: datetime | None
    sms_consent_source: str | None
    email_consent_at: datetime | None
    email_consent_source: str | None
    sms_opted_out_at: datetime | None
    email_opted_out_at: datetime | None
    created_at: datetime
    search_name: str = ""


def ensure_patients(
    session: Session, *, clinic: Clinic, cleans: list[CleanPatient], now: datetime
) -> list[tuple[Patient | PatientRow, bool]]:
    """The bulk path: existing or new patient per input, new ones in one executemany.

    Inputs with the same identity (the same person twice in one file) share one row.
    Existing patients are returned as they are; their details are not overwritten.
    """
    clinic_id: int = clinic.id  # type: ignore[assignment]
    known = find_existing(session, clinic_id=clinic_id, cleans=cleans)
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for clean in cleans:
        key = identity(clean)
        if key not in known and key not in fresh:
            fresh[key] = patient_values(clean, clinic_id=clinic_id, now=now)
    created = _insert(session, list(fresh.values()))
    made = dict(zip(fresh, created, strict=True))
    return [
        (known[identity(c)], False) if identity(c) in known else (made[identity(c)], True)
        for c in cleans
    ]


def _insert(session: Session, values: list[dict[str, Any]]) -> list[PatientRow]:
    if not values:
        return []
    # Core, one executemany; RETURNING without sort_by_parameter_order stays batched on
    # SQLite, so rows are matched back by identity (unique within `values`).
    t: Table = Patient.__table__  # type: ignore[attr-defined]
    known = sequence_ids(session, t, len(values))
    if known is not None:  # PostgreSQL: ids first, then one COPY
        with_ids = [{**v, "id": i} for v, i in zip(values, known, strict=True)]
        insert_rows(session.connection(), t, with_ids)
        return [PatientRow(id=i, **v) for v, i in zip(values, known, strict=True)]
    statement = insert(t).returning(t.c.id, t.c.external_ref, t.c.phone, t.c.email, t.c.first_name)
    ids = {}
    for new_id, ref, phone, email, first_name in session.execute(statement, values):
        ids[_row_identity(ref, phone, email, first_name)] = new_id
    rows = []
    for value in values:
        ref, phone, email = value["external_ref"], value["phone"], value["email"]
        rows.append(
            PatientRow(id=ids[_row_identity(ref, phone, email, value["first_name"])], **value)
        )
    return rows


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
