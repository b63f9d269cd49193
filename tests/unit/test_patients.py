"""Patient validation and normalisation: phones, emails, zones, languages, identity."""

from __future__ import annotations

import pytest

from service.patients import (
    PatientError,
    PatientInput,
    clean_patient,
    ensure_patients,
    find_or_create,
    normalise_email,
    normalise_phone,
)


@pytest.fixture
def clinic(factory):
    return factory.clinic()


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("(415) 555-0142", "US", "+14155550142"),
        ("415.555.0142", "US", "+14155550142"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("612 34 56 78", "ES", "+34612345678"),
    ],
)
def test_phones_are_parsed_in_the_clinics_region_and_stored_e164(raw, region, e164):
    assert normalise_phone(raw, region=region)[0] == e164


@pytest.mark.parametrize("raw", ["12", "555-01", "not a phone", "+1 415 555"])
def test_invalid_phones_are_refused_naming_the_field(raw):
    with pytest.raises(PatientError) as error:
        normalise_phone(raw, region="US")
    assert error.value.field == "phone"


def test_a_number_known_to_be_a_landline_is_flagged_unable_to_sms():
    assert normalise_phone("020 7946 0018", region="GB") == ("+442079460018", False)
    assert normalise_phone("07911 123456", region="GB") == ("+447911123456", True)
    assert normalise_phone("912 34 56 78", region="ES") == ("+34912345678", False)
    # US numbers are "fixed line or mobile": the library cannot tell, so SMS is assumed.
    assert normalise_phone("(415) 555-0142", region="US")[1] is True


def test_emails_are_validated_and_normalised():
    assert normalise_email(" Ana@Example.COM ") == "Ana@example.com"
    with pytest.raises(PatientError, match="email"):
        normalise_email("ana@")


def test_a_patient_defaults_to_the_clinics_zone_and_needs_some_contact(clinic):
    clean = clean_patient(PatientInput(first_name=" Ana ", phone="4155550142"), clinic=clinic)
    assert (clean.first_name, clean.timezone, clean.language) == ("Ana", clinic.timezone, "en")
    with pytest.raises(PatientError) as error:
        clean_patient(PatientInput(first_name="Ana"), clinic=clinic)
    assert error.value.field == "phone"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"first_name": "  "}, "first_name"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"language": "Spanish please"}, "language"),
    ],
)
def test_each_bad_field_is_named(clinic, overrides, field):
    values = {"first_name": "Ana", "phone": "4155550142", **overrides}
    with pytest.raises(PatientError) as error:
        clean_patient(PatientInput(**values), clinic=clinic)
    assert error.value.field == field


def test_the_same_patient_is_found_again_by_ref_or_by_contact_and_name(session, clinic, now):
    by_contact = clean_patient(PatientInput(first_name="Ana", phone="4155550142"), clinic=clinic)
    first, created = find_or_create(session, clinic=clinic, clean=by_contact, now=now)
    again, created_again = find_or_create(session, clinic=clinic, clean=by_contact, now=now)
    assert created and not created_again and again.id == first.id
    sibling = clean_patient(PatientInput(first_name="Bea", phone="4155550142"), clinic=clinic)
    assert find_or_create(session, clinic=clinic, clean=sibling, now=now)[1]
    ref = clean_patient(
        PatientInput(first_name="Cy", email="c@example.com", external_ref="R1"), clinic=clinic
    )
    made = find_or_create(session, clinic=clinic, clean=ref, now=now)[0]
    renamed = clean_patient(
        PatientInput(first_name="Cyrus", email="x@example.com", external_ref="R1"), clinic=clinic
    )
    assert find_or_create(session, clinic=clinic, clean=renamed, now=now)[0].id == made.id


def test_the_bulk_path_creates_each_person_once(session, clinic, now):
    cleans = [
        clean_patient(PatientInput(first_name=name, phone=phone), clinic=clinic)
        for name, phone in [("Ana", "4155550142"), ("Bea", "4155550143"), ("Ana", "4155550142")]
    ]
    result = ensure_patients(session, clinic=clinic, cleans=cleans, now=now)
    assert [created for _, created in result] == [True, True, True]
    assert result[0][0] is result[2][0]
    again = ensure_patients(session, clinic=clinic, cleans=cleans, now=now)
    assert [p.id for p, _ in again] == [p.id for p, _ in result]
    assert not any(created for _, created in again)
    assert result[0][0].sms_consent_at == now
