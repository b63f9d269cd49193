"""CSV import: line-numbered errors naming the column, good rows kept, idempotent."""

from __future__ import annotations

import gc
import io
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from service import csv_import
from service.config import DEFAULT_TEMPLATES_DIR
from service.csv_import import CsvFormatError, import_rows, read_rows
from service.db.models import Enrollment, Patient
from service.plans.catalog import load_catalog

HEADER = "first_name,last_name,phone,email,timezone,language,plan,procedure_at,external_ref\n"
GOOD = [
    "Ana,Lopez,(415) 555-0142,ana@example.com,America/Los_Angeles,es,botox,"
    "2026-03-03T10:00:00-08:00,A1\n",
    "Bob,Smith,415-555-0143,,,en,botox,2026-03-04 09:30,B2\n",
]
BAD = [
    "Cat,Jones,12,,,en,botox,2026-03-03T10:00:00Z,C3\n",  # line 4: phone
    "Dan,Brown,4155550144,,Mars/Base,en,botox,2026-03-03T10:00:00Z,D4\n",  # line 5: timezone
    "Eve,Green,4155550145,,,en,lipo,2026-03-03T10:00:00Z,E5\n",  # line 6: plan
    "Fay,White,4155550146,,,en,botox,next tuesday,F6\n",  # line 7: procedure_at
    ",Nobody,4155550147,,,en,botox,2026-03-03T10:00:00Z,G7\n",  # line 8: first_name
    "Gus,Gray,4155550148,,,en,botox,2028-03-03T10:00:00Z,H8\n",  # line 9: procedure_at
]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(DEFAULT_TEMPLATES_DIR)


def run(session, clinic, catalog, text, now, **kwargs):
    return import_rows(
        session,
        clinic=clinic,
        catalog=catalog,
        rows=read_rows(io.StringIO(text)),
        now=now,
        actor="test",
        **kwargs,
    )


def test_it_reports_every_bad_row_with_line_and_column_and_imports_the_good_ones(
    session, factory, catalog, now
):
    clinic = factory.clinic()
    report = run(session, clinic, catalog, HEADER + "".join(GOOD + BAD), now)
    assert [(e.line, e.column) for e in report.errors] == [
        (4, "phone"),
        (5, "timezone"),
        (6, "plan"),
        (7, "procedure_at"),
        (8, "first_name"),
        (9, "procedure_at"),
    ]
    assert "unknown plan 'lipo'" in report.errors[2].message
    assert (report.rows, report.enrolled, report.patients_created) == (8, 2, 2)
    assert report.messages > 0
    assert len(session.exec(select(Enrollment)).all()) == 2


def test_a_time_without_offset_is_local_to_the_patient(session, factory, catalog, now):
    clinic = factory.clinic(timezone="America/New_York")
    run(session, clinic, catalog, HEADER + GOOD[1], now)
    enrollment = session.exec(select(Enrollment)).one()
    assert enrollment.procedure_at == datetime(2026, 3, 4, 14, 30, tzinfo=UTC)


def test_a_rerun_imports_nothing_twice(session, factory, catalog, now):
    clinic = factory.clinic()
    text = HEADER + "".join(GOOD + BAD)
    run(session, clinic, catalog, text, now)
    again = run(session, clinic, catalog, text, now)
    assert (again.enrolled, again.existing, again.patients_created) == (0, 2, 0)
    assert len(again.errors) == len(BAD)
    assert len(session.exec(select(Patient)).all()) == 2


def test_a_default_plan_fills_rows_without_one(session, factory, catalog, now):
    clinic = factory.clinic()
    text = "first_name,phone,procedure_at\nAna,4155550142,2026-03-03T10:00:00Z\n"
    report = run(session, clinic, catalog, text, now, default_plan="botox")
    assert report.enrolled == 1 and not report.errors
    missing = run(session, clinic, catalog, text.replace("Ana", "Bea"), now)
    assert [(e.line, e.column, e.message) for e in missing.errors] == [(2, "plan", "required")]


def test_progress_counts_every_row(session, factory, catalog, now):
    clinic = factory.clinic()
    seen = []
    run(session, clinic, catalog, HEADER + "".join(GOOD + BAD), now, progress=seen.append)
    assert sum(seen) == len(GOOD + BAD)


def test_a_file_without_the_required_columns_is_refused():
    with pytest.raises(CsvFormatError, match="procedure_at"):
        list(read_rows(io.StringIO("first_name,phone\nAna,1\n")))
    with pytest.raises(CsvFormatError, match="empty"):
        list(read_rows(io.StringIO("")))


def test_a_country_column_reads_numbers_written_without_a_country_code(
    session, factory, catalog, now
):
    clinic = factory.clinic()
    text = (
        "first_name,phone,country,procedure_at\n"
        "Ana,07911 123456,GB,2026-03-03T10:00:00Z\n"
        "Bea,+34 612 345 678,,2026-03-03T10:00:00Z\n"
        "Cai,07911 123457,,2026-03-03T10:00:00Z\n"
    )
    report = run(session, clinic, catalog, text, now, default_plan="botox")
    phones = sorted(p.phone for p in session.exec(select(Patient)))
    assert phones == ["+34612345678", "+447911123456"]
    assert [(e.line, e.column) for e in report.errors] == [(4, "phone")]
    assert "not a valid United States number" in report.errors[0].message


def _paced_import(catalog, now, monkeypatch, *, recount: bool) -> list[tuple]:
    """A file in batches of 7 whose patients share slots (pacing spreads them), some
    enrolled late (a catch-up SMS each); every message row as it came out."""
    from sqlalchemy.pool import StaticPool
    from sqlmodel import Session, SQLModel, create_engine

    from service import csv_import
    from service.db.models import Message
    from service.enrollment.queued import QueuedSms
    from tests.factories import Factory

    monkeypatch.setattr(csv_import, "BATCH", 7)
    if recount:  # every batch counts in the database again (the code before the tally)
        counted = QueuedSms.at

        def at_recounting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            self._counts.clear()
            return counted(self, *args, **kwargs)

        monkeypatch.setattr(QueuedSms, "at", at_recounting)
    engine = create_engine("sqlite://", connect_args={"check_same_thread": False},
                           poolclass=StaticPool)  # fmt: skip
    SQLModel.metadata.create_all(engine)
    lines = [
        f"P{i},Test,+1415555{1000 + i},,America/New_York,en,{('botox', 'dermal_filler')[i % 2]},"
        f"2026-03-{1 + i % 3:02d}T{9 + i % 2:02d}:00:00-05:00,R{i}\n"
        for i in range(40)
    ]
    with Session(engine, expire_on_commit=False) as session:
        clinic = Factory(session).clinic()
        report = run(session, clinic, catalog, HEADER + "".join(lines), now)
        assert report.enrolled == 40 and not report.errors
        rows = session.exec(select(Message)).all()
        found = sorted((m.dedupe_key, m.kind, m.due_at, m.next_attempt_at, m.status) for m in rows)
    engine.dispose()
    return found


def test_pacing_over_an_imports_batches_matches_counting_each_batch_in_the_database(
    catalog, now, monkeypatch
):
    tallied = _paced_import(catalog, now, monkeypatch, recount=False)
    assert any(kind == "catch_up" for _, kind, *_ in tallied)
    assert sum(due != at for _, _, due, at, _ in tallied) > 20  # pacing moved many
    assert tallied == _paced_import(catalog, now, monkeypatch, recount=True)


@pytest.mark.parametrize("enabled", [True, False])
def test_a_batch_pauses_the_cycle_collector_and_leaves_it_as_it_was(
    session, factory, catalog, now, monkeypatch, enabled
):
    seen = []
    real = csv_import.ensure_patients

    def ensure(*args, **kwargs):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(csv_import, "ensure_patients", ensure)
    monkeypatch.setattr(csv_import, "BATCH", 1)
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(RuntimeError):
            run(session, factory.clinic(), catalog, HEADER + "".join(GOOD), now)
        assert (seen, gc.isenabled()) == ([False, False], enabled)
    finally:
        (gc.enable if was else gc.disable)()
