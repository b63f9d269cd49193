"""The security sweep: Schemathesis over the whole OpenAPI, and sign-in timing by account state.

1. Schemathesis generates requests for every operation (valid ones and invalid ones:
   ids past 2^31, huge offsets, odd instants, NULs, broken bodies...) and sends each as
   staff and as an admin to the app on a fresh PostgreSQL database. Every response is
   checked: no server error, the body matches its documented schema, the status code
   and content type are documented, and an operation never answers without its key.
2. Failed sign-ins are timed with production password hashing for an existing account,
   an unknown email, a deactivated account and a throttled one. The baseline is the
   existing account's wrong password, measured in the same run: the ratios should be 1.

The last line is one JSON object: requests, server errors, schema violations, other
failures and the timing ratios. The database is dropped afterwards.

Usage: .venv/bin/python bench/security.py [--examples N] [--logins N] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.modes import GenerationMode
from sqlalchemy import create_engine, text
from sqlmodel import Session

from service.api.app import create_app
from service.config import load_settings
from service.db import migrate
from service.db.engine import make_engine
from service.db.types import utcnow
from service.domain import Role
from service.web import auth
from tests.factories import Factory
from tests.fuzz_support import CHECKS

ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "bench password 123"


def _url(name: str) -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + name


def seed_data(engine: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        factory = Factory(session)
        clinic, other = factory.clinic(), factory.clinic()
        for place in (clinic, other):
            patient = factory.patient(place)
            factory.enrol(place, patient, procedure_at=now + timedelta(days=1), now=now)
        keys = {
            "staff": factory.api_key(factory.user(clinic, Role.STAFF)),
            "admin": factory.api_key(factory.user(None, Role.ADMIN)),
        }
        users = {
            "existing": factory.user(clinic, password=PASSWORD),
            "deactivated": factory.user(clinic, password=PASSWORD),
            "throttled": factory.user(clinic, password=PASSWORD),
        }
        users["deactivated"].is_active = False
        session.commit()
    return {"keys": keys, "emails": {name: u.email for name, u in users.items()}}


def sweep(app: Any, keys: dict[str, str], examples: int, seed_value: int) -> dict[str, Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    requests = 0
    kinds: Counter[str] = Counter()
    examples_of: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @seed(seed_value)
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))  # fmt: skip
            def run(case: Any) -> None:
                nonlocal requests
                for key in keys.values():
                    headers = {"Authorization": f"Bearer {key}"}
                    response = case.call(headers=headers)
                    requests += 1
                    try:
                        case.validate_response(response, checks=CHECKS, headers=headers)
                    except FailureGroup as group:
                        _count(group.exceptions, case.operation.label, kinds, examples_of)
                    except Failure as failure:
                        _count([failure], case.operation.label, kinds, examples_of)

            try:
                run()
            except Unsatisfiable:  # nothing invalid to send (an operation without inputs)
                continue
            except Exception as exc:  # a generator problem: counted, not fatal
                kinds["generation_error"] += 1
                examples_of.setdefault("generation_error", f"{operation.label}: {exc}")
    return {"requests": requests, "failures": dict(kinds), "examples": examples_of}


def _count(failures: Any, label: str, kinds: Counter[str], examples_of: dict[str, str]) -> None:
    for failure in failures:
        kind = type(failure).__name__
        kinds[kind] += 1
        examples_of.setdefault(kind, f"{label}: {failure.title}")


def time_logins(engine: Any, emails: dict[str, str], rounds: int) -> dict[str, float]:
    """Median milliseconds of a failed sign-in per account state (production hashing)."""
    now = utcnow()
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(10):  # the throttled account: past its allowance from this client
            auth.attempt_login(session, email=emails["throttled"], password="nope",
                               client="bench", now=now)  # fmt: skip
        session.commit()
    cases = {**emails, "unknown": f"nobody-{uuid.uuid4().hex[:6]}@example.test"}
    timings: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, email in cases.items():
            with Session(engine, expire_on_commit=False) as session:
                start = time.perf_counter()
                auth.attempt_login(session, email=email, password="wrong password",
                                   client="bench" if name == "throttled" else f"c{_}",
                                   now=now)  # fmt: skip
                session.rollback()  # the counts stay as they were: every round alike
                timings[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=150, help="examples per operation and mode")
    parser.add_argument("--logins", type=int, default=15, help="timed sign-ins per state")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # refused webhooks log a warning each

    name = f"aftercare_security_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    config = load_settings(database_url=_url(name), scheduler_enabled=False, environment="test",
                           public_base_url="https://aftercare.example.test")  # fmt: skip
    try:
        migrate.upgrade(config)
        engine = make_engine(config)
        seeded = seed_data(engine)
        app = create_app(config, engine=engine)
        started = time.perf_counter()
        swept = sweep(app, seeded["keys"], args.examples, args.seed)
        seconds = time.perf_counter() - started
        logins = time_logins(engine, seeded["emails"], args.logins)
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    failures = swept["failures"]
    server_errors = failures.get("ServerError", 0)
    schema_violations = failures.get("JsonSchemaError", 0) + failures.get("MalformedJson", 0)
    other = sum(failures.values()) - server_errors - schema_violations
    print(f"Schemathesis: {swept['requests']:,} requests in {seconds:.0f} s "
          f"({args.examples} examples per operation and mode, staff and admin keys)")  # fmt: skip
    print(f"  server errors: {server_errors}, schema violations: {schema_violations}, "
          f"other failures: {other} {failures or ''}")  # fmt: skip
    for kind, example in swept["examples"].items():
        print(f"  first {kind}: {example}")
    base = logins["existing"]
    print("Failed sign-in, median ms (production argon2), ratio to an existing account's:")
    for state, ms in logins.items():
        print(f"  {state:12s} {ms:7.1f} ms  ratio {ms / base:.2f}")
    print(json.dumps({
        "requests": swept["requests"], "server_errors": server_errors,
        "schema_violations": schema_violations, "other_failures": other,
        "examples_per_operation_and_mode": args.examples,
        "login_ms": {k: round(v, 1) for k, v in logins.items()},
        "login_ratio_to_existing": {k: round(v / base, 2) for k, v in logins.items()},
    }))  # fmt: skip


if __name__ == "__main__":
    main()
