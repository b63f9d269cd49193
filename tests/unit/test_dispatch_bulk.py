"""The set-based transition and the dispatcher's settings: same rules as one row at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from service.config import load_settings
from service.db.models import Message, MessageEvent
from service.dispatch.options import DispatchOptions
from service.domain import MessageStatus
from service.outbox import Move, TransitionRefused, transition_many
from tests.dispatch_support import ad_hoc, consenting


def test_a_bulk_transition_writes_one_event_per_row_with_its_reason(session, factory, now):
    clinic = factory.clinic()
    rows = [
        ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now, key=k)
        for k in ("a", "b")
    ]
    moves = [Move(rows[0].id, "scheduled"), Move(rows[1].id, "scheduled", reason="own reason")]
    transition_many(session, moves, MessageStatus.CANCELLED, reason="shared", now=now)
    session.commit()
    session.expire_all()
    assert [session.get(Message, m.id).status_reason for m in rows] == ["shared", "own reason"]
    events = session.exec(
        select(MessageEvent.to_status, MessageEvent.reason).where(
            MessageEvent.to_status == "cancelled"
        )
    ).all()
    assert sorted(tuple(e) for e in events) == [
        ("cancelled", "own reason"),
        ("cancelled", "shared"),
    ]


def test_a_bulk_transition_never_moves_a_row_backwards(session, factory, now):
    clinic = factory.clinic()
    row = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    with pytest.raises(TransitionRefused):
        transition_many(session, [Move(row.id, "sent")], MessageStatus.SENDING, reason="x", now=now)


def test_a_row_changed_behind_the_callers_back_refuses_the_batch(session, factory, now):
    clinic = factory.clinic()
    row = ad_hoc(session, clinic=clinic, patient=consenting(factory, clinic), due_at=now)
    with pytest.raises(TransitionRefused):  # it is `scheduled`, not `sending` as read
        transition_many(session, [Move(row.id, "sending")], MessageStatus.SENT, reason="x", now=now)


def test_dispatch_options_come_from_the_settings_and_their_environment(monkeypatch):
    monkeypatch.setenv("DISPATCH_CLAIM_TTL_SECONDS", "7.5")
    monkeypatch.setenv("DISPATCH_RETRY_MAX_ATTEMPTS", "3")
    options = DispatchOptions.from_settings(load_settings())
    assert options.claim_ttl == timedelta(seconds=7.5)
    assert options.retry_max_attempts == 3


def test_dispatch_options_default_to_the_settings_defaults(monkeypatch):
    monkeypatch.delenv("DISPATCH_CLAIM_TTL_SECONDS", raising=False)
    assert DispatchOptions() == DispatchOptions.from_settings(load_settings(_env_file=None))


def test_a_bad_dispatch_setting_is_named(monkeypatch):
    from service.config import SettingsError

    monkeypatch.setenv("DISPATCH_CLAIM_TTL_SECONDS", "0")
    with pytest.raises(SettingsError, match="DISPATCH_CLAIM_TTL_SECONDS"):
        load_settings()
