"""A language the plans do not have is refused everywhere it can be chosen, naming the
languages that exist, instead of the patient silently getting English."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from service.cli import app
from service.config import DEFAULT_TEMPLATES_DIR
from service.csv_import import import_rows, read_rows
from service.db.models import Enrollment
from service.enrollment import EnrolError, EnrolRequest, enrol, enrol_many
from service.plans.catalog import load_catalog
from service.plans.model import UnknownLanguage


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(DEFAULT_TEMPLATES_DIR)


def test_a_plan_refuses_a_language_it_has_no_messages_in_and_lists_its_own(catalog) -> None:
    botox = catalog.get("botox")
    botox.check_language("es")
    with pytest.raises(UnknownLanguage, match=r"no messages in 'fr' \(available: en, es\)"):
        botox.check_language("fr")
    assert catalog.languages() == ["en", "es"]


def test_enrolling_a_french_speaking_patient_names_the_language_field(
    session, factory, catalog, now
) -> None:
    clinic = factory.clinic()
    patient = factory.patient(clinic, language="fr")
    with pytest.raises(EnrolError) as caught:
        enrol(
            session,
            clinic=clinic,
            patient=patient,
            plan=catalog.get("botox"),
            procedure_at=now + timedelta(days=1),
            now=now,
            actor="test",
        )
    assert caught.value.field == "language" and "available: en, es" in caught.value.message
    with pytest.raises(EnrolError):
        enrol_many(
            session,
            clinic=clinic,
            plan=catalog.get("botox"),
            now=now,
            actor="test",
            requests=[EnrolRequest(patient, now + timedelta(days=1))],
        )
    assert session.exec(select(Enrollment)).all() == []


def test_a_csv_row_in_an_unknown_language_is_reported_with_its_line(
    session, factory, catalog, now
) -> None:
    clinic = factory.clinic()
    text = (
        "first_name,phone,language,plan,procedure_at\n"
        "Ana,4155550142,es,botox,2026-03-03T10:00:00Z\n"
        "Jean,4155550143,fr,botox,2026-03-03T10:00:00Z\n"
    )
    report = import_rows(
        session,
        clinic=clinic,
        catalog=catalog,
        now=now,
        actor="test",
        rows=read_rows(io.StringIO(text)),
    )
    [error] = report.errors
    assert (error.line, error.column) == (3, "language")
    assert "'fr'" in error.message and "available: en, es" in error.message
    assert report.enrolled == 1


def test_plans_show_refuses_an_unknown_language_with_the_available_ones() -> None:
    result = CliRunner().invoke(app, ["plans", "show", "botox", "--lang", "fr"])
    assert result.exit_code == 1
    assert "--lang" in result.output and "available: en, es" in result.output
