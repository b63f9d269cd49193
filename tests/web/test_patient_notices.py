"""The patient page says plainly when texts cannot reach the patient, and whether the
red flags still do."""

from __future__ import annotations

from tests.web.conftest import login


def test_a_number_that_cannot_take_texts_is_explained_with_the_carriers_reason(
    client, factory, clinic, staff, now
) -> None:
    patient = factory.patient(
        clinic,
        phone_can_sms=False,
        sms_unreachable_at=now,
        email_consent_at=now,
        sms_unreachable_reason="The number is a landline (Twilio 30006)",
    )
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert 'id="sms-unreachable"' in page and "cannot take texts" in page
    assert "The number is a landline (Twilio 30006)" in page
    assert "Red-flag reminders and safety messages go by email instead." in page


def test_an_opted_out_patient_without_email_is_flagged_as_unreachable_for_red_flags(
    client, factory, clinic, staff, now
) -> None:
    patient = factory.patient(clinic, email=None, sms_opted_out_at=now)
    login(client, staff)
    page = client.get(f"/app/patients/{patient.id}").text
    assert 'id="sms-opted-out"' in page
    assert "red-flag reminders cannot reach this patient. Phone them." in page
