"""`aftercare plans lint|show|export|signoff` (DESIGN §4, contract)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from service.cli.common import command_group, db_session, fail, settings
from service.domain import Channel

if TYPE_CHECKING:
    from service.plans.model import Plan
    from service.plans.timeline import TimelineRow

app = command_group("Aftercare plans: validate, preview, export for review, sign off.")


@app.command("lint")
def lint(
    path: Path | None = typer.Argument(None, help="Templates directory (default: settings)"),
    quiet_warnings: bool = typer.Option(False, "--no-warnings", help="Print errors only"),
) -> None:
    """Validate every plan and render every template; exit 1 on any error."""
    from service.plans.lint import lint_dir

    templates_dir = path or settings().templates_dir
    if not templates_dir.is_dir():
        fail(f"{templates_dir} is not a directory")
    findings = lint_dir(templates_dir)
    errors = [f for f in findings if f.severity == "error"]
    for finding in findings:
        if finding.severity == "error" or not quiet_warnings:
            typer.echo(str(finding), err=finding.severity == "error")
    warnings = len(findings) - len(errors)
    typer.echo(f"{len(errors)} error(s), {warnings} warning(s) in {templates_dir}")
    if errors:
        raise typer.Exit(1)


@app.command("show")
def show(
    key: str = typer.Argument(..., help="Plan key, e.g. thread_lift"),
    procedure_at: str | None = typer.Option(None, help="ISO time (default: tomorrow 10:00)"),
    tz: str = typer.Option("America/New_York", help="The patient's IANA time zone"),
    lang: str = typer.Option("en", help="Language: en or es"),
) -> None:
    """Print a plan's concrete timeline with the rendered SMS text."""
    from service.plans.catalog import load_catalog
    from service.plans.export import show_context
    from service.plans.model import PlanError
    from service.plans.timeline import simulate
    from service.rendering import Renderer, RenderError
    from service.scheduling import QuietHours

    # The clinic defaults (service.db.models.Clinic): routine 20:00-08:00, safety 21:00-08:00.
    quiet, night = QuietHours(time(20, 0), time(8, 0)), QuietHours(time(21, 0), time(8, 0))
    zone = _zone(tz)
    at = _procedure_at(procedure_at, zone)
    templates_dir = settings().templates_dir
    try:
        plan = load_catalog(templates_dir).get(key)
        _check_language(plan, lang)
        context = show_context(lang, at.astimezone(zone))
        rows = simulate(
            plan, procedure_at=at, tz=zone, quiet=quiet, night=night,
            renderer=Renderer(templates_dir), context=context, language=lang,
        )  # fmt: skip
    except (PlanError, RenderError) as exc:
        fail(str(exc))
    typer.echo(f"{plan.title} ({plan.key} v{plan.version}, {len(plan.steps)} steps)")
    typer.echo(f"procedure {at.astimezone(zone):%Y-%m-%d %H:%M %Z} ({tz}), language {lang}\n")
    for row in rows:
        typer.echo(_format_row(row, zone, at))


def _check_language(plan: Plan, lang: str) -> None:
    from service.plans.model import UnknownLanguage

    try:
        plan.check_language(lang)
    except UnknownLanguage as exc:
        fail(f"--lang: {exc}")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--tz: unknown time zone {name!r} (use an IANA name such as Europe/Madrid)")


def _procedure_at(text: str | None, zone: ZoneInfo) -> datetime:
    if text is None:
        tomorrow = datetime.now(zone).date() + timedelta(days=1)
        return datetime.combine(tomorrow, time(10, 0), tzinfo=zone)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--procedure-at: {text!r} is not an ISO date-time such as 2026-03-05T10:00")
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


def _format_row(row: TimelineRow, zone: ZoneInfo, procedure_at: datetime) -> str:
    step, local = row.occurrence.step, row.due_at.astimezone(zone)
    day = (local.date() - procedure_at.astimezone(zone).date()).days
    repeat = f" #{row.occurrence.index + 1}" if step.repeat_every else ""
    flags = [step.priority.value, f"valid {_span(row.valid_until - row.due_at)}"]
    if step.true_until is not None:
        flags.append(f"advice true until {step.true_until} after the procedure")
    if row.never_sent:
        flags.append("NOT SENT: quiet hours move it past the time its advice is true")
    if row.moved:
        flags.append(f"moved from {row.planned_at.astimezone(zone):%H:%M} by quiet hours")
    if step.fallback:
        flags.append(f"fallback {step.fallback.value}")
    if step.expects_reply:
        flags.append("expects reply")
    head = (
        f"day {day:>3}  {local:%a %Y-%m-%d %H:%M %Z}  ({row.due_at:%Y-%m-%d %H:%MZ})  "
        f"{row.channel.value:<5} {step.key}{repeat}: {step.title}\n          [{', '.join(flags)}]"
    )
    if row.channel is Channel.SMS:
        body = f"{row.rendered.text}\n({row.rendered.segments} segment(s))"
    else:
        body = f"Subject: {row.rendered.subject}"
    return head + "\n          " + body.replace("\n", "\n          ") + "\n"


def _span(delta: timedelta) -> str:
    hours = max(int(delta.total_seconds() // 3600), 0)
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


@app.command("export")
def export(
    key: str = typer.Argument(..., help="Plan key, e.g. dermal_filler"),
    fmt: str = typer.Option("html", "--format", help="Only html for now"),
    version: int | None = typer.Option(None, help="A pinned version (default: the current file)"),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)"),
) -> None:
    """Render a plan version as the document a clinician reviews and signs off."""
    from service.plans import signoffs
    from service.plans.export import export_html
    from service.plans.model import PlanError
    from service.rendering import Renderer

    if fmt != "html":
        fail(f"--format: {fmt!r} is not supported (use html)")
    templates_dir = settings().templates_dir
    with db_session() as session:
        try:
            plan = signoffs.plan_version(session, templates_dir, key, version)
        except PlanError as exc:
            fail(str(exc))
        lines = signoffs.signoff_lines(session, plan)
    html = export_html(
        plan, templates_dir=templates_dir, renderer=Renderer(templates_dir), signoffs=lines
    )
    if output is None:
        typer.echo(html)
    else:
        output.write_text(html, encoding="utf-8")
        typer.echo(f"wrote {output} ({plan.key} v{plan.version})", err=True)


@app.command("signoff")
def signoff(
    key: str = typer.Argument(..., help="Plan key, e.g. dermal_filler"),
    version: int = typer.Option(..., help="The plan version signed off"),
    name: str = typer.Option(..., help="The clinician's name"),
    role: str = typer.Option(..., help="The clinician's role, e.g. 'Medical director, MD'"),
    signed_on: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default: today)"),
    note: str | None = typer.Option(None, help="Anything the clinician adds"),
) -> None:
    """Record a clinician's sign-off of a plan version (written to the audit log)."""
    from service.plans import signoffs
    from service.plans.model import PlanError

    templates_dir = settings().templates_dir
    with db_session() as session:
        try:
            row = signoffs.record_signoff(
                session,
                templates_dir=templates_dir,
                key=key,
                version=version,
                signer_name=name,
                signer_role=role,
                signed_on=_date(signed_on),
                note=note,
                actor="cli",
            )
        except (PlanError, signoffs.SignoffError) as exc:
            fail(str(exc))
        typer.echo(f"signed off: {row.plan_key} v{row.plan_version} by {row.signer_name} "
                   f"({row.signer_role}) on {row.signed_on}")  # fmt: skip


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--date: {text!r} is not a date such as 2026-03-05")
