"""CSV import: many enrolments at once, through the same bulk path as everything else.

Every row is validated first; a bad row is reported with its line number and the column
at fault and the good rows are imported anyway. Re-running the same file is harmless:
patients are recognised (by `external_ref`, else by phone or email plus first name) and
enrolments are idempotent on (patient, plan, procedure time).

Columns (header row required, names case-insensitive, order free):
  first_name*, last_name, phone, email, timezone, language, external_ref,
  plan* (or a default plan for the whole file), procedure_at*,
  sms_consent, email_consent (yes/no, default yes).
`procedure_at` is ISO 8601; without a UTC offset it is read as local time in the
patient's time zone (a spring-forward gap moves forward, a repeated hour takes the
earlier instant, as everywhere else).
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from service import households
from service.db.engine import bulk_page_cache
from service.db.models import Clinic
from service.db.statistics import GrowingTables
from service.enrollment import (
    EnrolError,
    EnrolRequest,
    check_procedure_at,
    check_signoff,
    enrol_many,
)
from service.enrollment.queued import QueuedSms
from service.patients import (
    CleanPatient,
    PatientError,
    PatientInput,
    clean_patient,
    ensure_patients,
)
from service.plans.catalog import PlanCatalog
from service.plans.model import UnknownLanguage, UnknownPlan
from service.rendering import Renderer
from service.scheduling import resolve_wall

COLUMNS = (
    "first_name",
    "last_name",
    "phone",
    "country",
    "email",
    "timezone",
    "language",
    "external_ref",
    "plan",
    "procedure_at",
    "sms_consent",
    "email_consent",
)
REQUIRED = ("first_name", "procedure_at")
_YES = {"", "y", "yes", "true", "1"}
_NO = {"n", "no", "false", "0"}
BATCH = 2000


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.column}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    enrolled: int = 0  # new enrolments
    existing: int = 0  # already enrolled (a re-run)
    patients_created: int = 0
    messages: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a plan nobody has signed off


@dataclass(frozen=True)
class ValidRow:
    line: int
    patient: CleanPatient
    plan_key: str
    procedure_at: datetime


class CsvFormatError(ValueError):
    """The file itself is unusable (no header, missing required columns)."""


def read_rows(stream: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; the header is line 1. Raises CsvFormatError."""
    reader = csv.DictReader(stream)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise CsvFormatError(f"line 1: {exc}") from None
    if not header:
        raise CsvFormatError("the file is empty: a header row is required")
    reader.fieldnames = [name.strip().lower() for name in header]
    missing = [name for name in REQUIRED if name not in reader.fieldnames]
    if missing:
        raise CsvFormatError(f"missing column(s): {', '.join(missing)}")
    try:
        for row in reader:
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}
    except csv.Error as exc:  # a cell over the csv module's limit, a broken quote...
        raise CsvFormatError(f"line {reader.line_num + 1}: {exc}") from None


def validate_row(
    line: int,
    row: dict[str, str],
    *,
    clinic: Clinic,
    catalog: PlanCatalog,
    default_plan: str | None,
    now: datetime,
) -> ValidRow | RowError:
    try:
        patient = clean_patient(_patient_input(row), clinic=clinic)
    except PatientError as exc:
        return RowError(line, exc.field, exc.message)
    except ValueError as exc:
        return RowError(line, "consent", str(exc))
    plan_key = row.get("plan") or default_plan or ""
    try:
        catalog.get(plan_key).check_language(patient.language)
    except UnknownLanguage as exc:
        return RowError(line, "language", str(exc))
    except UnknownPlan as exc:
        return RowError(line, "plan", str(exc) if plan_key else "required")
    try:
        procedure_at = parse_procedure_at(row.get("procedure_at", ""), patient.timezone, now)
    except EnrolError as exc:
        return RowError(line, "procedure_at", exc.message)
    return ValidRow(line, patient, plan_key, procedure_at)


def _patient_input(row: dict[str, str]) -> PatientInput:
    return PatientInput(
        first_name=row.get("first_name", ""),
        last_name=row.get("last_name", ""),
        phone=row.get("phone") or None,
        email=row.get("email") or None,
        timezone=row.get("timezone") or None,
        language=row.get("language") or "en",
        external_ref=row.get("external_ref") or None,
        sms_consent=_flag(row.get("sms_consent", ""), "sms_consent"),
        email_consent=_flag(row.get("email_consent", ""), "email_consent"),
        consent_source="csv",
        country=row.get("country") or None,
    )


def _flag(value: str, column: str) -> bool:
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise PatientError(column, f"expected yes or no, got {value!r}")


def parse_procedure_at(value: str, zone: str, now: datetime) -> datetime:
    """ISO 8601; a time without an offset is local to `zone`. Raises EnrolError."""
    if not value:
        raise EnrolError("procedure_at", "required")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise EnrolError("procedure_at", f"not an ISO 8601 date and time: {value!r}") from None
    if parsed.tzinfo is None:  # local to the patient, resolved like every wall time
        try:
            parsed = resolve_wall(parsed.date(), parsed.time(), ZoneInfo(zone))
        except OverflowError:  # 9999-12-31T23:59 west of UTC is past year 9999
            raise EnrolError("procedure_at", "must be within a year of today") from None
    return check_procedure_at(parsed, now=now)


@dataclass(frozen=True)
class Importer:
    """Everything a batch of valid rows needs to be enrolled."""

    session: Session
    clinic: Clinic
    catalog: PlanCatalog
    now: datetime
    actor: str
    daily_cap: int = 3
    renderer: Renderer | None = None
    require_signoff: bool = False
    # SMS queued per instant, kept across the import's batches (see enrollment.queued).
    queued: QueuedSms = field(default_factory=QueuedSms)
    growing: GrowingTables = field(init=False)

    def __post_init__(self) -> None:
        # The tables the import fills and looks up by the batch (see db.statistics).
        tables = GrowingTables(self.session, ("patients", "enrollments", "messages"))
        object.__setattr__(self, "growing", tables)

    def enrol_valid(self, batch: list[ValidRow], report: ImportReport) -> None:
        """The bulk path: patients in one executemany, then `enrol_many` per plan; then
        the planner's statistics of the tables the next batches look rows up in."""
        before = (report.patients_created, report.enrolled, report.messages)
        with _no_cycle_collection():
            self._enrol(batch, report)
        self.growing.grew(
            patients=report.patients_created - before[0],
            enrollments=report.enrolled - before[1],
            messages=report.messages - before[2],
        )

    def _enrol(self, batch: list[ValidRow], report: ImportReport) -> None:
        cleans = [row.patient for row in batch]
        patients = ensure_patients(self.session, clinic=self.clinic, cleans=cleans, now=self.now)
        report.patients_created += len({id(p) for p, created in patients if created})
        self._households(batch, [patient for patient, _ in patients], report)
        by_plan: dict[str, list[EnrolRequest]] = {}
        lines: dict[str, list[int]] = {}
        for row, (patient, _) in zip(batch, patients, strict=True):
            by_plan.setdefault(row.plan_key, []).append(EnrolRequest(patient, row.procedure_at))
            lines.setdefault(row.plan_key, []).append(row.line)
        for plan_key, requests in by_plan.items():
            plan = self.catalog.get(plan_key)
            try:
                warning = check_signoff(self.session, plan, required=self.require_signoff)
            except EnrolError as exc:  # refused: every row of this plan says why
                report.errors += [RowError(line, "plan", exc.message) for line in lines[plan_key]]
                continue
            if warning and warning not in report.warnings:
                report.warnings.append(warning)
            results = enrol_many(
                self.session,
                clinic=self.clinic,
                plan=plan,
                requests=requests,
                now=self.now,
                actor=self.actor,
                daily_cap=self.daily_cap,
                renderer=self.renderer,
                reason="csv import",
                queued=self.queued,
            )
            for result in results:
                report.enrolled += result.created
                report.existing += not result.created
                report.messages += result.messages

    def _households(self, batch: list[ValidRow], patients: list[Any], report: ImportReport) -> None:
        """Say which rows put a patient on a number another patient of the clinic has."""
        clinic_id: int = self.clinic.id  # type: ignore[assignment]
        numbers = households.shared(self.session, clinic_id=clinic_id,
                                    phones=[p.phone for p in patients])  # fmt: skip
        for row, patient in zip(batch, patients, strict=True):
            others = households.others_on_number(patient, numbers.get(patient.phone or "", []))
            warning = households.shared_warning(patient, others)
            if warning:
                report.warnings.append(f"line {row.line}: {warning}")
                households.record(self.session, patient=patient, others=others,
                                  actor=self.actor, clinic_id=clinic_id)  # fmt: skip


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused for one batch (about a second), as it was after.

    A batch of 2,000 patients allocates ~100,000 dicts and schedule values, none in a
    reference cycle (reference counting frees them), and the collector's young-generation
    passes walked them over and over: ~10% of an import's CPU (BENCHMARKS.md, Enrolment).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_rows(
    session: Session,
    *,
    clinic: Clinic,
    catalog: PlanCatalog,
    rows: Iterable[tuple[int, dict[str, str]]],
    now: datetime,
    actor: str,
    default_plan: str | None = None,
    daily_cap: int = 3,
    renderer: Renderer | None = None,
    progress: Callable[[int], None] | None = None,
    require_signoff: bool = False,
) -> ImportReport:
    """Validate and enrol every row, in batches; bad rows are reported, not fatal."""
    importer = Importer(session, clinic, catalog, now, actor, daily_cap, renderer, require_signoff)
    report = ImportReport()
    batch: list[ValidRow] = []
    with bulk_page_cache(session):
        for line, row in rows:
            report.rows += 1
            checked = validate_row(
                line, row, clinic=clinic, catalog=catalog, default_plan=default_plan, now=now
            )
            if isinstance(checked, RowError):
                report.errors.append(checked)
            else:
                batch.append(checked)
            if len(batch) >= BATCH:
                importer.enrol_valid(batch, report)
                batch = []
            if progress:
                progress(1)
        if batch:
            importer.enrol_valid(batch, report)
    return report
