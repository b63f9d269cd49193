"""A database error's traceback carries no PHI into any log line, at any level.

SQLAlchemy prints a failed statement's `[parameters: ...]` (names, numbers, emails,
message bodies) and PostgreSQL quotes a duplicate key back (`DETAIL: Key (email)=...`).
Engines hide parameters, and the privacy filter scrubs every traceback.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from service.db.engine import make_engine
from service.db.models import InboundMessage, Patient, User
from service.logs import JsonFormatter, PrivacyFilter
from tests.factories import Factory

pytestmark = [pytest.mark.postgres, pytest.mark.parallel]

PHI = ["Zelda", "Quorum", "4155550123", "zelda.q@", "lips are turning blue"]
log = logging.getLogger("tests.privacy_tracebacks")


@pytest.fixture
def captured() -> Iterator[list[io.StringIO]]:
    """Two handlers as configure_logging installs them (text and JSON), at DEBUG."""
    streams = [io.StringIO(), io.StringIO()]
    handlers = []
    for stream, formatter in zip(
        streams,
        [logging.Formatter("%(levelname)s %(name)s %(message)s"), JsonFormatter()],
        strict=True,
    ):
        handler = logging.StreamHandler(stream)
        handler.addFilter(PrivacyFilter())
        handler.setFormatter(formatter)
        handler.setLevel(logging.DEBUG)
        log.addHandler(handler)
        handlers.append(handler)
    log.setLevel(logging.DEBUG)
    yield streams
    for handler in handlers:
        log.removeHandler(handler)


def fail_with_phi(engine: Engine) -> DBAPIError:
    """Store a patient whose language is longer than its column: PostgreSQL refuses."""
    with Session(engine) as session:
        clinic = Factory(session).clinic()
        session.commit()
        session.add(Patient(
            clinic_id=clinic.id, first_name="Zelda", last_name="Quorum", phone="+14155550123",
            email="zelda.q@lakeside-mail.com", timezone="UTC", language="x" * 40,
        ))  # fmt: skip
        with pytest.raises(DBAPIError) as failed:
            session.commit()
    return failed.value


def logged_everywhere(error: Exception) -> None:
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        try:
            raise error
        except DBAPIError:
            log.log(level, "store.failed", exc_info=True)


def assert_no_phi(streams: list[io.StringIO]) -> None:
    for stream in streams:
        text = stream.getvalue()
        assert "Traceback" in text or '"exc"' in text  # the tracebacks were written
        leaked = [word for word in PHI if word in text]
        assert leaked == [], text


def test_the_service_engine_never_puts_values_in_an_error(pg_settings, captured):
    engine = make_engine(pg_settings)
    try:
        error = fail_with_phi(engine)
    finally:
        engine.dispose()
    assert "Zelda" not in str(error)
    logged_everywhere(error)
    assert_no_phi(captured)


def test_a_traceback_that_quotes_parameters_is_scrubbed(pg_url, captured):
    # An engine built without hide_parameters (as a library or a script might): the
    # filter still removes what the statement quoted.
    engine = create_engine(pg_url)
    try:
        error = fail_with_phi(engine)
        with Session(engine) as session:
            session.add(InboundMessage(provider_id="x" * 300, channel="sms",
                                       from_address="+14155550123",
                                       body="my lips are turning blue"))  # fmt: skip
            with pytest.raises(DBAPIError) as too_long:
                session.commit()
    finally:
        engine.dispose()
    assert "Zelda" in str(error) and "lips are turning blue" in str(too_long.value)
    logged_everywhere(error)
    logged_everywhere(too_long.value)
    assert_no_phi(captured)


def test_a_duplicate_key_detail_is_not_logged(pg_settings, captured):
    engine = make_engine(pg_settings)
    try:
        with Session(engine) as session:
            for _ in range(2):
                session.add(User(email="zelda.q@lakeside-mail.com", role="admin",
                                 name="Zelda Quorum"))  # fmt: skip
            with pytest.raises(DBAPIError) as duplicate:
                session.commit()
    finally:
        engine.dispose()
    assert "zelda.q@" in str(duplicate.value)  # PostgreSQL's DETAIL names the key
    logged_everywhere(duplicate.value)
    assert_no_phi(captured)
