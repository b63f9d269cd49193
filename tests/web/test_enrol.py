"""Enrolling from the web form: success, idempotence, and errors named by field."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from service.db.models import Enrollment, Message, Patient
from tests.web.conftest import login

# A procedure a month ahead: enrolment with a past date is a different page (it says so).
AHEAD = datetime.combine(date.today() + timedelta(days=30), time(10, 0))


def _form(token: str, **overrides: str) -> dict[str, str]:
    values = {
        "csrf_token": token,
        "first_name": "Dana",
        "last_name": "Reyes",
        "phone": "+14155550142",
        "email": "dana@example.com",
        "language": "en",
        "plan": "botox",
        "procedure_at": AHEAD.strftime("%Y-%m-%dT%H:%M"),
        "sms_consent": "on",
        "email_consent": "on",
    }
    values.update(overrides)
    return values


def test_enrolling_creates_the_patient_and_their_plan_and_shows_the_timeline(
    client, clinic, staff, session
) -> None:
    token = login(client, staff)
    response = client.post("/app/enrol", data=_form(token), follow_redirects=False)
    assert response.status_code == 303, response.text
    patient = session.exec(select(Patient).where(Patient.first_name == "Dana")).one()
    assert response.headers["location"] == f"/app/patients/{patient.id}?done=enrolled"
    enrollment = session.exec(select(Enrollment).where(Enrollment.patient_id == patient.id)).one()
    assert enrollment.created_by == f"user:{staff.id}"
    timeline = client.get(response.headers["location"]).text
    assert "Patient enrolled." in timeline
    messages = session.exec(select(Message).where(Message.enrollment_id == enrollment.id)).all()
    assert messages
    assert f"message-{messages[0].id}" in timeline


def test_the_procedure_time_is_the_patients_local_time(client, clinic, staff, session) -> None:
    token = login(client, staff)
    client.post("/app/enrol", data=_form(token, timezone="America/Los_Angeles"))
    enrollment = session.exec(select(Enrollment)).one()
    expected = AHEAD.replace(tzinfo=ZoneInfo("America/Los_Angeles")).astimezone(UTC)
    assert enrollment.procedure_at == expected


def test_enrolling_the_same_patient_twice_says_so(client, clinic, staff, session) -> None:
    token = login(client, staff)
    client.post("/app/enrol", data=_form(token))
    again = client.post("/app/enrol", data=_form(token))
    assert "already enrolled" in again.text
    assert len(session.exec(select(Enrollment)).all()) == 1


def test_every_bad_field_is_named_and_nothing_is_saved(client, clinic, staff, session) -> None:
    token = login(client, staff)
    response = client.post(
        "/app/enrol",
        data=_form(token, phone="12", plan="nose_job", procedure_at="next tuesday"),
    )
    assert response.status_code == 422
    assert 'id="e-phone"' in response.text
    assert 'id="e-plan"' in response.text
    assert 'id="e-procedure_at"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="Dana"' in response.text  # what was typed is kept
    assert session.exec(select(Patient)).all() == []


def test_a_patient_needs_a_phone_or_an_email(client, clinic, staff) -> None:
    token = login(client, staff)
    response = client.post("/app/enrol", data=_form(token, phone="", email=""))
    assert response.status_code == 422
    assert "Give a mobile phone number or an email address (or both)" in response.text


def test_all_the_problems_come_in_one_round_each_next_to_its_field(
    client, clinic, staff, session
) -> None:
    token = login(client, staff)
    response = client.post("/app/enrol", data=_form(
        token, first_name="", phone="", email="", timezone="Mars/Olympus", language="klingon!",
        plan="", procedure_at="",
    ))  # fmt: skip
    assert response.status_code == 422
    for field in ("first_name", "phone", "timezone", "language", "plan", "procedure_at"):
        assert f'id="e-{field}"' in response.text, field
        assert f'<a href="#f-{field}">' in response.text, field  # in the summary too
    assert "Please fix 6 problems" in response.text
    assert "First name: must not be empty" in response.text  # the summary names each field
    assert "Procedure date and time: required" in response.text
    assert session.exec(select(Patient)).all() == []


def test_the_time_zone_suggestions_are_a_working_list(client, clinic, staff) -> None:
    login(client, staff)
    page = client.get("/app/enrol").text
    assert 'list="zones"' in page and "&#34;" not in page
    assert '<option value="Europe/London">' in page and '<option value="EST">' not in page


def test_consent_starts_unticked_and_says_what_was_agreed(client, clinic, staff) -> None:
    login(client, staff)
    page = client.get("/app/enrol").text
    assert 'name="sms_consent">' in page and 'name="sms_consent" checked' not in page
    assert 'name="email_consent">' in page
    assert "the patient agreed to receive aftercare texts from Lakeside Aesthetics" in page
    assert "they can reply STOP at any time" in page


def test_no_consent_at_all_is_refused_naming_the_consent(client, clinic, staff, session) -> None:
    token = login(client, staff)
    data = _form(token)
    del data["sms_consent"], data["email_consent"]
    response = client.post("/app/enrol", data=data)
    assert response.status_code == 422 and 'id="e-sms_consent"' in response.text
    assert "without consent to texts or emails, no message can be sent" in response.text
    assert session.exec(select(Patient)).all() == []


def test_consent_to_one_channel_is_recorded_for_that_channel_only(
    client, clinic, staff, session
) -> None:
    token = login(client, staff)
    data = _form(token)
    del data["email_consent"]
    client.post("/app/enrol", data=data)
    patient = session.exec(select(Patient)).one()
    assert patient.sms_consent_at is not None and patient.email_consent_at is None


def test_an_international_number_is_accepted_with_its_code_or_its_country(
    client, clinic, staff, session
) -> None:
    token = login(client, staff)
    client.post("/app/enrol", data=_form(token, first_name="Uma", phone="+44 7911 123456"))
    client.post("/app/enrol", data=_form(token, first_name="Vic", phone="07911 123457",
                                         country="GB", email=""))  # fmt: skip
    phones = {p.first_name: p.phone for p in session.exec(select(Patient))}
    assert phones == {"Uma": "+447911123456", "Vic": "+447911123457"}


def test_a_bad_number_is_named_with_the_country_it_was_read_for(client, clinic, staff) -> None:
    token = login(client, staff)
    uk = client.post("/app/enrol", data=_form(token, phone="+44 7700 900123"))
    assert "is not a valid United Kingdom number (+44)" in uk.text
    local = client.post("/app/enrol", data=_form(token, phone="07911 123456"))
    assert "not a valid United States number" in local.text and "choose its country" in local.text


def test_a_procedure_far_in_the_future_is_refused(client, clinic, staff) -> None:
    token = login(client, staff)
    response = client.post("/app/enrol", data=_form(token, procedure_at="2031-01-01T10:00"))
    assert response.status_code == 422
    assert "within a year" in response.text


def test_the_enrol_form_needs_the_csrf_token(client, clinic, staff, session) -> None:
    login(client, staff)
    assert client.post("/app/enrol", data=_form("forged")).status_code == 403
    assert session.exec(select(Patient)).all() == []


def test_an_admin_chooses_the_clinic_and_is_told_when_they_forget(
    client, factory, clinic, session
) -> None:
    from service.domain import Role
    from tests.web.conftest import PASSWORD

    admin = factory.user(None, role=Role.ADMIN, password=PASSWORD)
    token = login(client, admin)
    assert "Delivery log" in client.get("/app/enrol").text  # both sets of navigation
    missing = client.post("/app/enrol", data=_form(token))
    assert missing.status_code == 422 and 'id="e-clinic_id"' in missing.text
    done = client.post("/app/enrol", data=_form(token, clinic_id=str(clinic.id)))
    assert "Patient enrolled." in done.text
    assert session.exec(select(Patient)).one().clinic_id == clinic.id


def test_a_language_the_plan_does_not_have_is_named_next_to_the_field(
    client, clinic, staff, session
) -> None:
    token = login(client, staff)
    response = client.post("/app/enrol", data=_form(token, language="fr"))
    assert response.status_code == 422
    assert 'id="e-language"' in response.text and "choose one of en, es" in response.text
    assert session.exec(select(Patient)).all() == []


def test_enrolling_after_the_procedure_says_so_and_how_many_messages_are_skipped(
    client, clinic, staff, session
) -> None:
    token = login(client, staff)
    past = (datetime.now() - timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    response = client.post(
        "/app/enrol", data=_form(token, procedure_at=past), follow_redirects=False
    )
    assert response.headers["location"].endswith("?done=enrolled_late")
    page = client.get(response.headers["location"]).text
    assert "the procedure date is in the past" in page
    enrollment = session.exec(select(Enrollment)).one()
    late = {
        (m.step_key, m.occurrence)
        for m in session.exec(
            select(Message).where(
                Message.enrollment_id == enrollment.id, Message.status == "skipped"
            )
        )
        if (m.status_reason or "").startswith("too late")
    }
    count = "1 planned message was" if len(late) == 1 else f"{len(late)} planned messages were"
    assert f"Enrolled after the procedure: {count} too late to be useful" in page
    assert "one catch-up message tells the patient what is still coming" in page


def test_a_number_another_patient_has_is_accepted_and_the_pages_say_whose_it_also_is(
    client, clinic, staff, session
) -> None:  # type: ignore[no-untyped-def]
    token = login(client, staff)
    client.post("/app/enrol", data=_form(token))
    response = client.post("/app/enrol", data=_form(token, first_name="Teo", email=""),
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303 and response.headers["location"].endswith(
        "?done=enrolled_shared"
    )
    page = client.get(response.headers["location"]).text
    assert "Their phone number also belongs to another patient of the clinic" in page
    dana = session.exec(select(Patient).where(Patient.first_name == "Dana")).one()
    assert f'also belongs to <a href="/app/patients/{dana.id}">Dana Reyes</a>' in page
    assert "Teo Reyes" in client.get(f"/app/patients/{dana.id}").text  # and the other way


def test_a_fields_extra_attributes_are_attributes_not_text(client, clinic, staff) -> None:
    from service.web.forms import FormData
    from service.web.templating import templates_at

    env = templates_at(str(client.app.state.settings.templates_dir / "web")).env
    source = '{% from "_macros.html" import field %}'
    source += "{{ field(form, 'n', 'N', type='number', extra='min=\"1\"') }}"
    macro = env.from_string(source)
    html = macro.render(form=FormData({}, {}))
    assert 'min="1"' in html and "&#34;" not in html
