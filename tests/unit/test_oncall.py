"""On-call lists: every entry reaches someone, a clinic without one is warned about,
and escalation with one person on call goes to the clinic's main number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from service import accounts
from service.alerts import escalate_due, open_alert
from service.alerts.pages import page_urgent
from service.clinics import (
    ClinicChanges,
    ClinicError,
    OnCall,
    checked_oncall,
    missing_warning,
    oncall_list,
    parse_oncall,
    update_clinic,
)
from service.composer import Composer
from service.db.models import AuditLog, Message
from service.domain import AlertSeverity, MessageKind
from service.rendering import Renderer

MAIN = "+14155550100"  # the Factory clinic's contact number


@pytest.mark.parametrize(
    ("entry", "field", "text"),
    [
        (OnCall("Dr Ray", None, None), "oncall.1", "Dr Ray: give a phone, an email or both"),
        (OnCall("", "+14155550111", None), "oncall.1.name", "needs a name"),
        (OnCall("Dr Ray", "12", None), "oncall.1.phone", "not a valid United States number"),
        (OnCall("Dr Ray", None, "ray-at-clinic"), "oncall.1.email", "not an email address"),
    ],
)
def test_an_entry_that_would_page_nobody_is_refused_naming_it(entry, field, text) -> None:
    good = OnCall("Dr Ana", "+14155550110", None)
    with pytest.raises(ClinicError) as caught:
        checked_oncall([good, entry], region="US")
    assert caught.value.field == field and text in caught.value.message


def test_entries_are_normalised_and_the_cli_form_is_read() -> None:
    entry = parse_oncall(" Dr Ray , (415) 555-0111 , Ray@Lakeside.example ", region="US")
    assert entry == OnCall("Dr Ray", "+14155550111", "ray@lakeside.example")
    with pytest.raises(ClinicError, match="'Dr X,,': Dr X: give a phone, an email or both"):
        parse_oncall("Dr X,,", region="US")


def test_replacing_the_list_keeps_the_order_and_is_audited(session, factory) -> None:
    clinic = factory.clinic()
    accounts.add_oncall(session, clinic=clinic, name="Old", phone="+14155550199", email=None)
    people = [OnCall("Dr B", "+14155550112", None), OnCall("Dr A", None, "a@lakeside.test")]
    update_clinic(session, clinic, ClinicChanges(oncall=people), actor="user:1")
    assert [(r.name, r.position) for r in oncall_list(session, clinic)] == [
        ("Dr B", 0),
        ("Dr A", 1),
    ]
    audit = session.exec(select(AuditLog).where(AuditLog.action == "clinic.update")).one()
    assert audit.actor == "user:1" and audit.actor_type == "user"
    assert audit.detail["changed"] == ["oncall"]
    oncall = audit.detail["changes"]["oncall"]
    before, after = oncall["from"], oncall["to"]
    assert [p["name"] for p in before] == ["Old"] and [p["name"] for p in after] == ["Dr B", "Dr A"]


def test_a_bad_entry_leaves_the_list_as_it_was(session, factory) -> None:
    clinic = factory.clinic()
    accounts.add_oncall(session, clinic=clinic, name="Dr Keep", phone="+14155550199", email=None)
    session.commit()
    with pytest.raises(ClinicError):
        changes = ClinicChanges(oncall=[OnCall("Nobody", None, None)])
        update_clinic(session, clinic, changes, actor="user:1")
    assert [r.name for r in oncall_list(session, clinic)] == ["Dr Keep"]


def test_adding_an_entry_without_phone_or_email_is_an_account_error(session, factory) -> None:
    clinic = factory.clinic()
    with pytest.raises(accounts.AccountError, match="oncall: Dr X: give a phone, an email or both"):
        accounts.add_oncall(session, clinic=clinic, name="Dr X", phone=None, email=None)


def test_a_clinic_without_an_on_call_list_is_warned_about(factory) -> None:
    clinic = factory.clinic(name="Glow")
    warning = missing_warning(clinic, 0)
    assert warning is not None and "no on-call list" in warning and MAIN in warning
    assert missing_warning(clinic, 1) is None


def _pages(session) -> list[tuple[int, str]]:
    rows = session.exec(select(Message).where(Message.kind == MessageKind.PAGE)).all()
    return sorted((m.context["level"], m.to_address) for m in rows)


def _page_and_escalate_twice(session, clinic, now, composer) -> None:  # type: ignore[no-untyped-def]
    """An urgent alert nobody acknowledges: paged at once, escalated twice."""
    alert = open_alert(session, clinic=clinic, severity=AlertSeverity.URGENT, now=now,
                       kind="triage_urgent", summary="x")  # fmt: skip
    page_urgent(session, composer=composer, alert=alert, clinic=clinic, now=now)
    session.commit()
    for minutes in (15, 30):
        escalate_due(session, now=now + timedelta(minutes=minutes), composer=composer)


@pytest.fixture
def composer(settings) -> Composer:
    return Composer(renderer=Renderer(settings.templates_dir), base_url="https://care.test")


def test_with_one_person_on_call_escalation_pages_the_main_number_not_them_again(
    session, factory, now, composer
) -> None:
    clinic = factory.clinic()
    accounts.add_oncall(session, clinic=clinic, name="Dr Solo", phone="+14155550111", email=None)
    _page_and_escalate_twice(session, clinic, now, composer)
    assert _pages(session) == [(0, "+14155550111"), (1, MAIN), (2, MAIN)]


def test_a_longer_list_ends_with_the_main_number(session, factory, now, composer) -> None:
    clinic = factory.clinic()
    for n in range(2):
        accounts.add_oncall(
            session, clinic=clinic, name=f"Dr {n}", phone=f"+1415555011{n}", email=None
        )
    _page_and_escalate_twice(session, clinic, now, composer)
    assert [to for level, to in _pages(session) if level == 2] == [
        MAIN,
        "+14155550110",
        "+14155550111",
    ]
