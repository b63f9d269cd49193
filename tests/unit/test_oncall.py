"""On-call lists: every entry reaches someone, a clinic without one is warned about,
and escalation with one person on call goes to the clinic's main number."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from service import accounts
from service.alerts import escalate_due, open_alert
from service.db.models import AuditLog, Message
from service.domain import AlertSeverity, MessageKind
from service.inbound.pages import page_urgent
from service.inbound.replies import Composer
from service.oncall import (
    OnCallEntry,
    OnCallError,
    clean_entries,
    list_oncall,
    missing_warning,
    parse_entry,
    replace_oncall,
)
from service.rendering import Renderer

MAIN = "+14155550100"  # the Factory clinic's contact number


@pytest.mark.parametrize(
    ("entry", "index", "field", "text"),
    [
        (OnCallEntry("Dr Ray"), 1, None, "Dr Ray needs a phone or an email"),
        (OnCallEntry("", "+14155550111"), 1, "name", "needs a name"),
        (OnCallEntry("Dr Ray", "12"), 1, "phone", "not a valid number"),
        (OnCallEntry("Dr Ray", None, "ray-at-clinic"), 1, "email", "not an email address"),
    ],
)
def test_an_entry_that_would_page_nobody_is_refused_naming_it(entry, index, field, text) -> None:
    good = OnCallEntry("Dr Ana", "+14155550110")
    with pytest.raises(OnCallError) as caught:
        clean_entries([good, entry], region="US")
    assert (caught.value.index, caught.value.field) == (index, field)
    assert text in caught.value.message


def test_entries_are_normalised_and_the_cli_form_is_read() -> None:
    entry = parse_entry(" Dr Ray , (415) 555-0111 , Ray@Lakeside.example ")
    [clean] = clean_entries([entry, parse_entry("Dr Ana,,ana@lakeside.test")], region="US")[:1]
    assert clean == OnCallEntry("Dr Ray", "+14155550111", "ray@lakeside.example")


def test_replacing_the_list_keeps_the_order_and_is_audited(session, factory) -> None:
    clinic = factory.clinic()
    accounts.add_oncall(session, clinic=clinic, name="Old", phone="+14155550199", email=None)
    rows = replace_oncall(
        session,
        clinic=clinic,
        actor="user:1",
        entries=[
            OnCallEntry("Dr B", "+14155550112"),
            OnCallEntry("Dr A", None, "a@lakeside.test"),
        ],
    )
    assert [(r.name, r.position) for r in list_oncall(session, clinic)] == [
        ("Dr B", 0),
        ("Dr A", 1),
    ]
    assert len(rows) == 2
    audit = session.exec(select(AuditLog).where(AuditLog.action == "clinic.oncall")).one()
    assert audit.actor == "user:1" and audit.detail == {"entries": 2}


def test_a_bad_entry_leaves_the_list_as_it_was(session, factory) -> None:
    clinic = factory.clinic()
    accounts.add_oncall(session, clinic=clinic, name="Dr Keep", phone="+14155550199", email=None)
    session.commit()
    with pytest.raises(OnCallError):
        replace_oncall(session, clinic=clinic, actor=None, entries=[OnCallEntry("Nobody")])
    assert [r.name for r in list_oncall(session, clinic)] == ["Dr Keep"]


def test_adding_an_entry_without_phone_or_email_is_an_account_error(session, factory) -> None:
    clinic = factory.clinic()
    with pytest.raises(accounts.AccountError, match="oncall: Dr X needs a phone or an email"):
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
