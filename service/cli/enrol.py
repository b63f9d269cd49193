"""`aftercare enrol ...` (one patient) and `aftercare import FILE.csv` (many)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from service.cli.common import db_session, emit, fail, json_option, settings
from service.clock import Clock

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlmodel import Session

    from service.config import Settings
    from service.db.models import Clinic
    from service.plans.catalog import PlanCatalog

ACTOR = "cli"


def _clinic(session: Session, ref: str) -> Clinic:
    from service.clinics import find_clinic

    clinic = find_clinic(session, ref)
    if clinic is None:
        fail(f"--clinic: no clinic {ref!r}")
    return clinic


def _catalog(config: Settings) -> PlanCatalog:
    from service.plans.catalog import load_catalog
    from service.plans.model import PlanError

    try:
        return load_catalog(config.templates_dir)
    except PlanError as exc:
        fail(f"plans: {exc}")


def enrol_command(
    clinic: str = typer.Option(..., help="Clinic slug or id"),
    first_name: str = typer.Option(..., help="Patient's first name (used in messages)"),
    last_name: str = typer.Option("", help="Patient's last name"),
    phone: str | None = typer.Option(
        None, help="Mobile number: +country code, or local digits read in --country"
    ),
    country: str | None = typer.Option(
        None, help="ISO 3166 code (GB, ES...) of a number without +; default: the clinic's"
    ),
    email: str | None = typer.Option(None, help="Email address"),
    tz: str | None = typer.Option(None, "--tz", help="IANA time zone (default: the clinic's)"),
    lang: str = typer.Option("en", "--lang", help="Message language, e.g. en or es"),
    external_ref: str | None = typer.Option(None, help="The clinic's own record id"),
    plan: str = typer.Option(..., help="Plan key (see `aftercare plans show`)"),
    procedure_at: str = typer.Option(
        ..., help="ISO 8601 procedure time; without an offset it is the patient's local time"
    ),
    reason: str | None = typer.Option(None, help="Why (kept in the audit log)"),
    as_json: bool = json_option(),
) -> None:
    """Enrol one patient in a plan (idempotent: the same patient, plan and time is reused)."""
    from service import csv_import
    from service.enrollment import EnrolError, enrol
    from service.patients import PatientError, PatientInput, clean_patient, find_or_create
    from service.plans.model import UnknownLanguage, UnknownPlan
    from service.rendering import Renderer

    config = settings()
    catalog = _catalog(config)
    now = Clock.from_settings(config).now()
    with db_session() as session:
        found = _clinic(session, clinic)
        data = PatientInput(
            first_name=first_name,
            last_name=last_name,
            phone=phone,
            email=email,
            timezone=tz,
            language=lang,
            external_ref=external_ref,
            consent_source="cli",
            country=country,
        )
        try:
            chosen = catalog.get(plan)
            clean = clean_patient(data, clinic=found)
            chosen.check_language(clean.language)
            when = csv_import.parse_procedure_at(procedure_at, clean.timezone, now)
            patient, _ = find_or_create(session, clinic=found, clean=clean, now=now)
            result = enrol(
                session,
                clinic=found,
                patient=patient,
                plan=chosen,
                procedure_at=when,
                now=now,
                actor=ACTOR,
                daily_cap=config.patient_daily_cap,
                renderer=Renderer(config.templates_dir),
                reason=reason,
                require_signoff=config.require_plan_signoff,
            )
        except UnknownPlan as exc:
            fail(f"--plan: {exc}")
        except UnknownLanguage as exc:
            fail(f"--lang: {exc}")
        except (PatientError, EnrolError) as exc:
            fail(f"--{_option(exc.field)}: {exc.message}")
        for warning in result.warnings:
            typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
        emit(
            {
                "enrollment_id": result.enrollment.id,
                "created": result.created,
                "patient_id": patient.id,
                "plan": chosen.key,
                "plan_version": chosen.version,
                "procedure_at": result.enrollment.procedure_at,
                "messages": result.messages,
                "skipped": result.skipped,
                "catch_up_id": result.catch_up_id,
            },
            as_json=as_json,
        )


def _option(field: str) -> str:
    return {"timezone": "tz", "language": "lang"}.get(field, field).replace("_", "-")


IMPORT_HELP = "\n\n".join(
    [
        "Enrol many patients from a CSV file (header row required).",
        "Columns (any order, case-insensitive; * = required): first_name*; last_name; "
        "phone and/or email (one is required); country (ISO 3166 code such as GB for a "
        "phone number written without +; default the clinic's region); "
        "timezone (IANA, default the clinic's); language (default en); external_ref (the "
        "clinic's record id, used to recognise the patient on a re-run); plan* (or --plan); "
        "procedure_at* (ISO 8601, e.g. 2026-03-03T10:00-05:00; without an offset it is the "
        "patient's local time); sms_consent, email_consent (yes/no, default yes).",
        "Every bad row is reported with its line number and column; the good rows are "
        "imported. Re-running the same file enrols nobody twice. Exit code 1 when any row "
        "was bad.",
    ]
)


def import_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    clinic: str = typer.Option(..., help="Clinic slug or id"),
    plan: str | None = typer.Option(None, help="Plan for rows without a plan column"),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as one JSON object"),
) -> None:
    from service import csv_import
    from service.rendering import Renderer

    config = settings()
    catalog = _catalog(config)
    total = max(sum(1 for _ in file.open(encoding="utf-8-sig")) - 1, 0)
    with db_session() as session, file.open(encoding="utf-8-sig", newline="") as stream:
        found = _clinic(session, clinic)
        with _progress(disable=as_json) as bar:
            task = bar.add_task("enrolling", total=total)
            try:
                report = csv_import.import_rows(
                    session,
                    clinic=found,
                    catalog=catalog,
                    rows=csv_import.read_rows(stream),
                    now=Clock.from_settings(config).now(),
                    actor=ACTOR,
                    default_plan=plan,
                    daily_cap=config.patient_daily_cap,
                    renderer=Renderer(config.templates_dir),
                    progress=lambda n: bar.advance(task, n),
                    require_signoff=config.require_plan_signoff,
                )
            except csv_import.CsvFormatError as exc:
                fail(f"{file.name}: {exc}")
    for warning in report.warnings:
        typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
    for error in report.errors:
        typer.secho(f"{file.name}: {error}", err=True, fg=typer.colors.RED)
    summary = {
        "rows": report.rows,
        "enrolled": report.enrolled,
        "already_enrolled": report.existing,
        "patients_created": report.patients_created,
        "messages": report.messages,
        "bad_rows": len(report.errors),
    }
    emit(summary, as_json=as_json)
    if report.errors:
        raise typer.Exit(1)


import_command.__doc__ = IMPORT_HELP


def _progress(*, disable: bool) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=disable,
        transient=True,
    )
