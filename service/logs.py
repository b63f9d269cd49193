"""Structured, private logging.

Log lines are `action=... key=value` pairs. Phone numbers and email addresses are
masked by `mask_phone` / `mask_email`, and a filter scrubs anything that still looks
like one from INFO-and-above records, so PHI does not reach log files by accident.
Message bodies are never logged above DEBUG.

Tracebacks, at every level, go through the same masking and lose what a database error
quotes back: SQLAlchemy's `[parameters: ...]` (engines also set `hide_parameters`) and
PostgreSQL's `DETAIL:` line (`Key (email)=(...) already exists`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

# E.164 (+ and 8-15 digits) or a formatted 3-3-4 number; not dates, times or addresses.
_PHONE = re.compile(r"(?<![\w+])\+\d{8,15}\b|(?<!\d)\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# The same, URL-encoded, as they appear in a logged query string (`To=%2B14155550123`,
# `to=ana%40example.com`): + is %2B and @ is %40 (either case).
_PHONE_ENCODED = re.compile(r"%2[Bb]\d{8,15}\b")
_EMAIL_ENCODED = re.compile(r"[\w.%+-]+%40[\w-]+\.[\w.-]+")
# Libraries that log each request at INFO with its URL (query strings carry numbers)
# and ~1 KB of headers per message: only their warnings are news.
NOISY_LOGGERS = ("apscheduler", "twilio")
_SQL_PARAMETERS = re.compile(r"^\[parameters: .*$", re.M)
_SQL_DETAIL = re.compile(r"^(DETAIL|HINT|CONTEXT|WHERE):.*$", re.M)
_TRACEBACKS = logging.Formatter()


def mask_phone(phone: str | None) -> str:
    if not phone:
        return "-"
    digits = re.sub(r"\D", "", phone)
    return f"+***{digits[-2:]}" if len(digits) >= 4 else "***"


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return "-"
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def scrub(text: str) -> str:
    text = _EMAIL_ENCODED.sub(lambda m: mask_email(m.group(0).replace("%40", "@")), text)
    text = _PHONE_ENCODED.sub(lambda m: mask_phone(m.group(0)[3:]), text)
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def scrub_traceback(text: str) -> str:
    """A traceback without the values a failed statement quotes back, numbers or emails."""
    text = _SQL_PARAMETERS.sub("[parameters hidden]", text)
    text = _SQL_DETAIL.sub(lambda m: f"{m.group(1)}: (hidden)", text)
    return scrub(text)


def quiet_library_loggers(level: int = logging.INFO) -> None:
    """Only warnings (or worse, at a stricter `level`) from `NOISY_LOGGERS`."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, level))


class PrivacyFilter(logging.Filter):
    """Scrubs phone numbers and emails from INFO-and-above records, and tracebacks at
    every level (formatters print the scrubbed `exc_text` instead of formatting again)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_traceback(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_traceback(record.stack_info)
        if (
            record.name == "uvicorn.access"
            and isinstance(record.args, tuple)
            and len(record.args) > 2
        ):
            # Query strings can carry a patient search (`?q=Ana`): keep only the path.
            args = list(record.args)
            args[2] = str(args[2]).split("?", 1)[0]
            record.args = tuple(args)
        if record.levelno >= logging.INFO:
            record.msg = scrub(record.getMessage())
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload)


def configure_logging(level: str = "INFO", *, json_output: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(PrivacyFilter())
    if json_output:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_library_loggers(root.level)


def kv(action: str, **fields: Any) -> str:
    """Format a structured log line: `action=sent message_id=12 channel=sms`."""
    parts = [f"action={action}"]
    parts += [f"{key}={value}" for key, value in fields.items()]
    return " ".join(parts)
