"""Settings: read once from the environment (and an optional .env), then passed in.

Nothing imports a global settings object; entry points call `load_settings()` and hand
the result to `create_app(settings)`, the worker and the CLI commands.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.secret_strength import GENERATE, weakness

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATES_DIR = REPO_ROOT / "templates"
# The embedded default's database lives in the checkout, beside templates/ and
# migrations/, whichever folder a command runs from (a relative path made every folder
# its own empty database). DATABASE_URL overrides it.
DEFAULT_DATABASE_PATH = REPO_ROOT / "aftercare.db"
# Outside production only; production refuses it (and any other weak secret).
DEVELOPMENT_SECRET_KEY = "dev-only-secret-change-me"  # noqa: S105 (refused in production)


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the setting."""


class Settings(BaseSettings):
    """Every setting the service reads. Environment names are the upper-case field names."""

    # The checkout's .env, then the working folder's (which wins): the same settings
    # whichever folder a command runs from, as for the database.
    model_config = SettingsConfigDict(
        env_file=(REPO_ROOT / ".env", ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir=None,
    )

    # Storage. The embedded default is a SQLite file at the repository root.
    database_url: str = f"sqlite:///{DEFAULT_DATABASE_PATH}"
    database_pool_size: int = Field(default=10, ge=1, le=200)

    # Where the outside world reaches us; webhook signatures are computed against it.
    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    environment: Literal["development", "production", "test"] = "development"

    # Channels: "console" writes to the log and the dashboard; nothing leaves the machine.
    sms_provider: Literal["console", "twilio"] = "console"
    email_provider: Literal["console", "smtp"] = "console"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_base_url: str | None = None  # points the real SDK at a local server in tests
    twilio_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    email_from: str = "aftercare@localhost"
    email_inbound_secret: SecretStr | None = None

    # Worker.
    scheduler_enabled: bool = True  # `serve` runs the scheduler too (embedded default)
    dispatch_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # Rows per claim; also capped at 50 per sending thread (see service.dispatch.dispatcher).
    dispatch_batch_size: int = Field(default=400, ge=1, le=5000)
    dispatch_concurrency: int = Field(default=8, ge=1, le=256)
    # Dispatcher tuning (service.dispatch.options.DispatchOptions is built from these).
    dispatch_retry_base_seconds: float = Field(default=30.0, gt=0)
    dispatch_retry_cap_seconds: float = Field(default=1800.0, gt=0)
    dispatch_retry_max_attempts: int = Field(default=8, ge=1)
    # A claim's checks stay fresh this long; claims are sized to start within half of it,
    # and a claim abandoned before any call goes back to the queue after it.
    dispatch_claim_ttl_seconds: float = Field(default=20.0, gt=0)
    # Scheduling jitter and clock reads between the claim check and the call.
    dispatch_reconcile_margin_seconds: float = Field(default=2.0, ge=0)
    # How long after a call's timeout a provider listing without it means "not sent" (the
    # listing may lag behind what was accepted): a row in doubt waits this long before a
    # retry. Raise it if the provider's listing lags more; it bounds how soon the rows of
    # a crash settle (timeout + margin + this, 27 s by default).
    dispatch_provider_window_seconds: float = Field(default=15.0, ge=0)
    # How far ahead a claim takes a paced sender's send slots (service.dispatch.lanes): an
    # urgent row waits at most this long behind routine rows already given slots. Capped
    # at half the claim TTL (a row's checks must still be fresh when its slot comes).
    dispatch_pace_ahead_seconds: float = Field(default=1.0, gt=0, le=60)
    dispatch_reconcile_interval_seconds: float = Field(default=2.0, gt=0)
    dispatch_reconcile_batch: int = Field(default=500, ge=1)
    dispatch_hold_minutes: float = Field(default=15.0, gt=0)  # re-check paused/held rows
    dispatch_heartbeat_seconds: float = Field(default=5.0, gt=0)
    dispatch_retention_interval_seconds: float = Field(default=3600.0, gt=0)
    dispatch_heartbeat_retention_days: int = Field(default=7, ge=1)
    worker_id: str | None = None
    # How often a worker applies the status callbacks the web processes recorded.
    receipts_interval_seconds: float = Field(default=0.5, gt=0, le=60)
    # On SIGTERM a worker stops claiming, gives back what it has not started at once and
    # exits within this many seconds (calls still running then are reconciled later).
    # Keep it under the orchestrator's grace period (docker-compose: stop_grace_period).
    worker_stop_seconds: float = Field(default=20.0, gt=0, le=600)

    # Enrolment.
    patient_daily_cap: int = Field(default=3, ge=1, le=50)
    # Enrolment into a plan version no clinician has signed off: a warning, or refused.
    require_plan_signoff: bool = False
    default_phone_region: str = "US"

    # Logging.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False

    # Exposure. In production /docs, /redoc and /openapi.json need a signed-in admin or
    # an API key unless DOCS_PUBLIC; /metrics needs `Authorization: Bearer METRICS_TOKEN`
    # (without a token it is off in production, open elsewhere).
    docs_public: bool = False
    # A signed-in browser is signed out after this long without a request.
    session_idle_minutes: int = Field(default=30, ge=1, le=720)
    metrics_token: SecretStr | None = None

    templates_dir: Path = DEFAULT_TEMPLATES_DIR

    # A scaled clock for a simulated day (bench/scale_day.py; service.clock): the clock
    # read CLOCK_START (with its UTC offset) at Unix time CLOCK_ANCHOR and runs CLOCK_RATE
    # times the wall clock. Unset: the wall clock. Refused in production.
    clock_start: datetime | None = None
    clock_anchor: float = 0.0
    clock_rate: float = Field(default=1.0, gt=0, le=100_000)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        if value.startswith("postgres://"):
            raise ValueError("use the postgresql:// scheme")
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; SQLAlchemy would otherwise look for psycopg2.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("twilio_from")
    @classmethod
    def _e164_sender(cls, value: str | None) -> str | None:
        if value and not (value.startswith("+") and value[1:].isdigit()):
            raise ValueError("must be an E.164 number such as +15005550006")
        return value

    @field_validator("clock_start")
    @classmethod
    def _aware_start(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("needs a UTC offset, e.g. 2026-03-10T00:00:00+00:00")
        return value

    @model_validator(mode="after")
    def _providers_configured(self) -> Settings:
        if self.sms_provider == "twilio":
            _require(self, "twilio_account_sid", "twilio_auth_token")
            if not (self.twilio_from or self.twilio_messaging_service_sid):
                raise ValueError(
                    "TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required "
                    "with SMS_PROVIDER=twilio"
                )
        if self.email_provider == "smtp":
            _require(self, "smtp_host")
        if self.environment == "production":
            problems = production_problems(self)
            if problems:
                raise ValueError("; ".join(problems))
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def database_shown(self) -> str:
        """The database as a person should see it: an absolute file, or a URL without
        its password."""
        if self.is_sqlite:
            _, sep, path = self.database_url.partition(":///")
            if not sep or path in ("", ":memory:"):
                return "an in-memory SQLite database"
            return str(Path(path).resolve())
        scheme, _, rest = self.database_url.partition("://")
        credentials, at, location = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return (
            f"{scheme}://{user}:***@{location}" if at and ":" in credentials else self.database_url
        )


def production_problems(settings: Settings) -> list[str]:
    """What stops these settings from running in production, each naming its setting.

    Secrets must be strong (service.secret_strength): SECRET_KEY always,
    EMAIL_INBOUND_SECRET when set (without it the email webhook refuses everything), and
    TWILIO_AUTH_TOKEN when Twilio sends. The public URL must be https: the session
    cookie is Secure only then.
    """
    problems = []
    if settings.clock_start is not None:
        problems.append("CLOCK_START is for benchmarks (a simulated clock): unset it in production")
    secret_key = settings.secret_key.get_secret_value()
    checks: list[tuple[str, str | None]] = [
        ("SECRET_KEY", None if secret_key == DEVELOPMENT_SECRET_KEY else secret_key)
    ]
    if settings.email_inbound_secret is not None:
        checks.append(("EMAIL_INBOUND_SECRET", settings.email_inbound_secret.get_secret_value()))
    if settings.sms_provider == "twilio" and settings.twilio_auth_token is not None:
        checks.append(("TWILIO_AUTH_TOKEN", settings.twilio_auth_token.get_secret_value()))
    if settings.metrics_token is not None:
        checks.append(("METRICS_TOKEN", settings.metrics_token.get_secret_value()))
    for name, value in checks:
        why = weakness(value)
        if why is not None:
            problems.append(f"{name} is {why}; generate one with {GENERATE}")
    if not settings.public_base_url.startswith("https://"):
        problems.append(
            "PUBLIC_BASE_URL must be https:// in production (the session cookie is Secure "
            "only then)"
        )
    return problems


def _require(settings: Settings, *names: str) -> None:
    for name in names:
        if not getattr(settings, name):
            raise ValueError(f"{name.upper()} is required with the chosen provider")


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, raising SettingsError naming the bad setting.

    Any setting may instead be given as `NAME_FILE=/path` (Docker/Kubernetes secrets).
    """
    try:
        return Settings(**(_from_files() | overrides))  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _from_files() -> dict[str, object]:
    values: dict[str, object] = {}
    for name in Settings.model_fields:
        path = os.environ.get(f"{name.upper()}_FILE")
        if path and f"{name.upper()}" not in os.environ:
            try:
                value = Path(path).read_text().strip()
            except OSError as exc:
                raise SettingsError(f"{name.upper()}_FILE: cannot read {path}: {exc}") from None
            if not value:
                raise SettingsError(f"{name.upper()}_FILE: {path} is empty")
            values[name] = value
    return values


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]).upper()
        message = error["msg"].removeprefix("Value error, ")
        # Checks across settings (model validators) name their settings themselves.
        lines.append(f"{name}: {message}" if name else message)
    return "invalid settings: " + "; ".join(lines)


def validate_timezone(name: str) -> ZoneInfo:
    """Return the IANA zone or raise ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/London)"
        ) from None
