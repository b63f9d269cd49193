"""Senders: kinds and their default rates, a clinic's sender, who may set a rate."""

from __future__ import annotations

import pytest
from sqlmodel import select

from service import senders
from service.clinics import ClinicChanges, ClinicError, update_clinic
from service.db.models import AuditLog, Sender
from service.senders import Defaults, SenderChanges, SenderError, SenderKind

SERVICE_SID = "MG" + "a" * 32


@pytest.mark.parametrize(
    ("channel", "address", "kind", "rate"),
    [
        ("sms", "+14155550166", SenderKind.LONG_CODE, 1.0),
        ("sms", "+18885550166", SenderKind.TOLL_FREE, 3.0),
        ("sms", "+18005550166", SenderKind.TOLL_FREE, 3.0),
        ("sms", "+442071838750", SenderKind.LONG_CODE, 1.0),
        ("sms", "12345", SenderKind.SHORT_CODE, 100.0),
        ("sms", SERVICE_SID, SenderKind.MESSAGING_SERVICE, 1.0),
        ("email", "care@glow.test", SenderKind.EMAIL, None),
        ("sms", "+15005550006", SenderKind.TEST, None),  # Twilio's test From: no carrier
    ],
)
def test_it_makes_a_sender_with_its_kinds_default_rate(session, channel, address, kind, rate):
    sender = senders.ensure(session, channel, address)
    assert (sender.kind, sender.rate_per_second) == (kind, rate)
    assert sender.burst == max(1, int(rate or 1))
    assert senders.ensure(session, channel, address).id == sender.id  # made once


def test_a_clinic_sends_from_its_number_else_its_service_else_the_default(session, factory):
    defaults = Defaults(sms="+15005550006", email="hello@aftercare.test")
    own = factory.clinic(sms_from="+14155550166")
    service = factory.clinic()
    service.messaging_service_sid = SERVICE_SID
    bare = factory.clinic()
    assert senders.address_of(own, "sms", defaults) == "+14155550166"
    assert senders.address_of(service, "sms", defaults) == SERVICE_SID
    assert senders.address_of(bare, "sms", defaults) == "+15005550006"
    assert senders.address_of(bare, "sms", Defaults()) is None  # console: no sender
    assert senders.address_of(bare, "email", defaults) == "hello@aftercare.test"


def test_creating_a_clinic_with_a_number_makes_its_sender(session, factory):
    factory.clinic(sms_from="+18885550166", email_from="care@glow.test")
    made = {(s.channel, s.address): s.rate_per_second for s in session.exec(select(Sender))}
    assert made == {("sms", "+18885550166"): 3.0, ("email", "care@glow.test"): None}


def test_a_clinic_sets_its_own_numbers_rate_and_burst_audited(session, factory):
    clinic = factory.clinic(sms_from="+14155550166")
    changed = update_clinic(session, clinic, ClinicChanges(sender_rate_per_second=4,
                            sender_burst=2), actor="user:1")  # fmt: skip
    assert list(changed) == ["sender_rate_per_second", "sender_burst"]
    sender = senders.find(session, "sms", "+14155550166")
    assert (sender.rate_per_second, sender.burst) == (4.0, 2)
    actions = session.exec(select(AuditLog.action)).all()
    assert "sender.update" in actions and "clinic.update" in actions


def test_a_new_number_and_its_rate_in_one_change(session, factory):
    clinic = factory.clinic()
    changes = ClinicChanges(sms_from="(415) 555-0177", sender_rate_per_second=2)
    update_clinic(session, clinic, changes, actor="user:1")
    assert senders.find(session, "sms", "+14155550177").rate_per_second == 2.0


def test_a_clinic_on_the_default_number_cannot_set_its_rate(session, factory):
    clinic = factory.clinic()
    with pytest.raises(ClinicError) as caught:
        update_clinic(session, clinic, ClinicChanges(sender_rate_per_second=5), actor="u")
    assert caught.value.field == "sender_rate_per_second"
    assert "default number" in caught.value.message


def test_a_shared_numbers_rate_is_an_operators(session, factory):
    clinic = factory.clinic(sms_from="+14155550166")
    factory.clinic(sms_from="+14155550166")
    with pytest.raises(ClinicError, match="shared with 1 other clinic"):
        update_clinic(session, clinic, ClinicChanges(sender_rate_per_second=5), actor="u")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (ClinicChanges(sender_rate_per_second=0), "sender_rate_per_second"),
        (ClinicChanges(sender_rate_per_second=float("nan")), "sender_rate_per_second"),
        (ClinicChanges(sender_rate_per_second=20_000), "sender_rate_per_second"),
        (ClinicChanges(sender_burst=0), "sender_burst"),
    ],
)
def test_a_bad_rate_or_burst_names_its_field(session, factory, changes, field):
    clinic = factory.clinic(sms_from="+14155550166")
    with pytest.raises(ClinicError) as caught:
        update_clinic(session, clinic, changes, actor="u")
    assert caught.value.field == field


def test_an_operator_changes_kind_rate_and_pacing(session):
    sender = senders.ensure(session, "sms", SERVICE_SID)
    senders.update_sender(session, sender, SenderChanges(kind="short_code"), actor="cli")
    assert (sender.kind, sender.rate_per_second, sender.burst) == ("short_code", 100.0, 100)
    senders.update_sender(session, sender, SenderChanges(rate_per_second=250), actor="cli")
    assert (sender.rate_per_second, sender.burst) == (250.0, 250)
    senders.update_sender(session, sender, SenderChanges(paced=False), actor="cli")
    assert sender.rate_per_second is None
    with pytest.raises(SenderError, match="kind"):
        senders.update_sender(session, sender, SenderChanges(kind="email"), actor="cli")
    with pytest.raises(SenderError, match="kind"):
        senders.update_sender(session, sender, SenderChanges(kind="pigeon"), actor="cli")
