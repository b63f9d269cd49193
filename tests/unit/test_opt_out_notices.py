"""Opt-outs are announced when they commit, so a dispatcher can stop a fenced call."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from service.db.notices import OptOutNotices
from tests.dispatch_support import consenting

SMS = "sms_opted_out_at"


def test_a_committed_stop_is_noticed_and_a_later_start_undoes_it(engine, session, factory):
    notices = OptOutNotices(engine)
    patient = consenting(factory, factory.clinic())
    before = time.monotonic()
    patient.sms_opted_out_at = datetime.now(UTC)
    session.add(patient)
    session.commit()
    assert notices.opted_out_since(patient.id, SMS, before)
    assert not notices.opted_out_since(patient.id, "email_opted_out_at", before)
    assert not notices.opted_out_since(patient.id, SMS, time.monotonic())  # fenced after it
    patient.sms_opted_out_at = None
    session.add(patient)
    session.commit()
    assert not notices.opted_out_since(patient.id, SMS, before)


def test_an_opt_out_rolled_back_is_never_announced(engine, session, factory):
    notices = OptOutNotices(engine)
    patient = consenting(factory, factory.clinic())
    before = time.monotonic()
    patient.email_opted_out_at = datetime.now(UTC)
    session.add(patient)
    session.flush()
    session.rollback()
    assert not notices.opted_out_since(patient.id, "email_opted_out_at", before)
