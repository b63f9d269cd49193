"""Words for the staff timeline: a human title for each message and its stored reason
in plain language, with times on the clinic's clock. Pure (no database, no web).

The use cases record reasons as short technical phrases ("held: patient has an open
alert", "too late to be useful: ... (due 2026-03-02 15:00Z ...)"); a nurse reads these
instead. A reason not known here is shown as it is, minus UTC stamps and internal names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from service.domain import MessageKind
from service.plans.model import Plan, PlanError

CHANNEL_WORDS = {"sms": "text", "email": "email"}
STATUS_WORDS = {
    "scheduled": "planned",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "not delivered",
    "failed": "failed",
    "cancelled": "cancelled",
    "skipped": "not sent",
    "review": "needs checking",
}
ENROLLMENT_WORDS = {"active": "active", "paused": "paused", "cancelled": "cancelled",
                    "completed": "finished"}  # fmt: skip
LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}


def status_word(status: str | None) -> str:
    return STATUS_WORDS.get(status or "", status or "new")


def enrollment_word(status: str) -> str:
    return ENROLLMENT_WORDS.get(status, status)


def channel_word(channel: str) -> str:
    """The channel for a heading: "Text" or "Email"."""
    return CHANNEL_WORDS.get(channel, channel).capitalize()


def language_name(code: str | None) -> str:
    return LANGUAGE_NAMES.get(code or "", code or "")


_KIND_TITLES = {
    MessageKind.CATCH_UP: "Catch-up: what is still coming",
    MessageKind.STAFF_REPLY: "Reply from the clinic",
    MessageKind.PAGE: "Page to the on-call clinician",
}
_AUTO_TITLES = {
    "stop_confirmation": "Automatic reply: texts stopped (STOP confirmed)",
    "start_confirmation": "Automatic reply: texts resumed (START confirmed)",
    "help": "Automatic reply: how to reach the clinic (HELP)",
    "checkin_ack": "Automatic reply: thanks for the check-in answer",
    "callback_ack": "Automatic reply: the clinic will call back",
    "concern_reply": "Automatic reply: a nurse will review the message",
    "urgent_safety_net": "Automatic reply to an urgent message: what to do now",
}
_UTC_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2})Z")
_DAY_PREFIX = re.compile(r"^(day|days)\s+\d+(-\d+)?\s*(-|\u2013|:|,)?\s*", re.IGNORECASE)


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def day_label(due_at: datetime, procedure_at: datetime, tz: str) -> str:
    """Whole local days after the procedure: "Procedure day", "Day 1", "Day 14"."""
    zone = ZoneInfo(tz)
    days = (due_at.astimezone(zone).date() - procedure_at.astimezone(zone).date()).days
    if days == 0:
        return "Procedure day"
    if days < 0:
        return f"{-days} day{'s' if days != -1 else ''} before"
    return f"Day {days}"


def step_title(plan: Plan | None, step_key: str, occurrence: int) -> str:
    """The plan's own title for the step; "reminder 2 of 4" for a repeated one."""
    try:
        step = plan.step(step_key) if plan is not None else None
    except PlanError:
        step = None
    if step is None:
        return _key_words(step_key)
    title = step.title or _key_words(step.key)
    total = len(step.occurrences())
    if total > 1:
        title += f" ({ordinal(occurrence + 1)} of {total})"
    return title


def _key_words(key: str) -> str:
    """A step key in words ("day1_care" -> "Day 1 care"), when its plan is not at hand."""
    return re.sub(r"([a-z])(\d)", r"\1 \2", key.replace("_", " ")).capitalize()


def message_title(
    *,
    kind: str,
    step_key: str | None,
    occurrence: int,
    channel: str,
    plan: Plan | None,
    day: str | None,
    context: dict[str, object] | None,
) -> str:
    """What the message is: "Day 1: Care - cold compress, pain relief" for a plan step."""
    if step_key and kind in (MessageKind.PLAN, MessageKind.FALLBACK):
        title = step_title(plan, step_key, occurrence)
        if day and day.startswith("Day") and _DAY_PREFIX.match(title):
            title = _DAY_PREFIX.sub("", title, count=1)  # "Day 1 care" on day 1: no echo
            title = title[:1].upper() + title[1:]
        text = f"{day}: {title}" if day else title
        if kind == MessageKind.FALLBACK:
            text += f" (by {CHANNEL_WORDS.get(channel, channel)} instead)"
        return text
    if kind == MessageKind.AUTO_REPLY:
        name = str((context or {}).get("compliance") or "")
        return _AUTO_TITLES.get(name, "Automatic reply")
    return _KIND_TITLES.get(kind, "Message")  # type: ignore[call-overload]


def local_stamp(when: datetime, tz: str) -> str:
    local = when.astimezone(ZoneInfo(tz))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _utc_to_local(text: str, tz: str) -> str:
    def swap(match: re.Match[str]) -> str:
        when = datetime.strptime(match.group(0), "%Y-%m-%d %H:%MZ").replace(tzinfo=UTC)
        return local_stamp(when, tz)

    return _UTC_STAMP.sub(swap, text)


# (pattern, plain words) in order; a replacement may use the pattern's groups and is
# itself put through `plain_reason` where it carries a nested reason ({rest}).
_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str]]


def _rules() -> list[_Rule]:
    def fixed(text: str) -> Callable[[re.Match[str]], str]:
        return lambda _match: text

    def rule(pattern: str, make: Callable[[re.Match[str]], str]) -> _Rule:
        return re.compile(pattern, re.IGNORECASE), make

    return [
        rule(r"^too late to be useful: its validity ended before it was planned "
             r"\(due (?P<due>.+?), valid until (?P<until>.+?)\)$",
             lambda m: f"Not sent: its time had passed when the patient was enrolled (due "
                       f"{m['due']}, useful until {m['until']})"),
        rule(r"^too late to be useful: its validity ends before quiet hours do$",
             fixed("Not sent: its time had passed when the patient was enrolled, and it "
                   "would no longer be useful by the end of the night")),
        rule(r"^too late to be useful: its advice is only true until (?P<until>.+) after the "
             r"procedure$",
             lambda m: f"Not sent: its advice is only true until {_duration(m['until'])} "
                       "after the procedure, which had passed"),
        rule(r"^(?P<ch>sms|email) not sent: step condition has_email: .*$",
             fixed("Not planned: this message is only for patients with an email address")),
        rule(r"^(?P<ch>sms|email) not sent: step condition has_phone: .*$",
             fixed("Not planned: this message is only for patients with a phone number")),
        rule(r"^(?P<ch>sms|email) not sent: (?P<why>.+)$",
             lambda m: f"Not planned by {_channel(m['ch'])}: {_plain_blocked(m['why'])}"),
        rule(r"^(?P<ch>sms|email) unavailable \((?P<why>.+)\): sent by (?P<to>sms|email) "
             r"instead$",
             lambda m: f"Goes by {_channel(m['to'])} instead of {_article(m['ch'])}: "
                       f"{_plain_blocked(m['why'])}"),
        rule(r"^moved (?P<n>\d+) day\(s\) later: daily cap of (?P<cap>\d+) (?P<ch>sms|email) "
             r"messages reached$",
             lambda m: f"Moved {m['n']} day{'s' if m['n'] != '1' else ''} later: at most "
                       f"{m['cap']} {_channel(m['ch'])}s a day go to one patient"),
        rule(r"^paused: fell due while the enrolment was paused since (?P<since>.+)$",
             lambda m: f"Not sent: it fell due while the plan was paused (since {m['since']})"),
        rule(r"^enrolment paused(?P<rest>.*)$",
             lambda m: "On hold: the plan is paused" + _tail(m["rest"])),
        rule(r"^held: patient has an open alert(?P<rest>.*)$",
             lambda m: "On hold while an alert is open: routine messages wait until it is "
                       "resolved" + _tail(m["rest"])),
        rule(r"^quiet hours: moved to the end of the window(?P<rest>.*)$",
             lambda m: "Moved out of the patient's quiet hours (night time where they are)"
                       + _tail(m["rest"])),
        rule(r"^validity (window )?passed before it could be sent$",
             fixed("Not sent: by the time it could go out it was no longer useful")),
        rule(r"^enrolment cancelled$", fixed("Cancelled with the plan")),
        rule(r"^enrolment cancelled: (?P<why>.+)$",
             lambda m: f"Cancelled with the plan: {m['why']}"),
        rule(r"^patient opted out of SMS$", fixed("Not sent: the patient texted STOP")),
        rule(r"^patient unsubscribed from email$",
             fixed("Not sent: the patient unsubscribed from email")),
        rule(r"^no SMS consent recorded$",
             fixed("Not sent: the patient has not agreed to texts")),
        rule(r"^no email consent recorded$",
             fixed("Not sent: the patient has not agreed to emails")),
        rule(r"^patient's number cannot receive SMS$",
             fixed("Not sent: the patient's number cannot take texts")),
        rule(r"^texts stopped: (?P<why>.+)$", lambda m: f"Cancelled: texts stopped ({m['why']})"),
        rule(r"^rescheduled: no longer planned for this patient$",
             fixed("Dropped when the procedure date changed: no longer in the plan")),
        rule(r"^rescheduled: (?P<rest>.+)$",
             lambda m: "Procedure date changed: " + _lower_first(plain_reason(m["rest"], "UTC"))),
        rule(r"^rescheduled$", fixed("Moved when the procedure date changed")),
        rule(r"^retry: (?P<why>.+)$", lambda m: f"Will try again: {m['why']}"),
        rule(r"^auto-reply \S+ to inbound \d+$",
             fixed("Automatic answer to the patient's message")),
        rule(r"^email fallback for message (?P<id>\d+)$",
             lambda m: f"Email copy of message {m['id']}, which could not go as a text"),
        rule(r"^catch-up after late enrolment: (?P<n>\d+) stale step\(s\) skipped$",
             lambda m: f"One catch-up message instead of {m['n']} that were too late to send"),
        rule(r"^queued (?P<kind>\S+)$", fixed("Queued")),
        rule(r"^delivered: written to the console$",
             fixed("Delivered (test mode: written to the log; nothing left the machine)")),
        rule(r"^reconciled: the provider has it$", fixed("Confirmed with the provider")),
        rule(r"^released: claim expired before send$",
             fixed("Put back in the queue: a worker stopped before sending it")),
        rule(r"^released unsent: (?P<why>.+)$",
             lambda m: f"Put back in the queue, not sent ({m['why']})"),
        rule(r"^staff reply$", fixed("Written by clinic staff")),
    ]  # fmt: skip


def _duration(offset: str) -> str:
    units = {"mo": "month", "w": "week", "d": "day", "h": "hour", "min": "minute"}
    parts = re.findall(r"(\d+)\s*(mo|min|w|d|h)", offset)
    if not parts:
        return offset
    return " ".join(f"{n} {units[u]}{'s' if n != '1' else ''}" for n, u in parts)


def _channel(value: str) -> str:
    return CHANNEL_WORDS.get(value.lower(), value)


def _article(value: str) -> str:
    word = _channel(value)
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _plain_blocked(why: str) -> str:
    return {
        "the patient opted out of SMS": "the patient texted STOP",
        "no SMS consent": "the patient has not agreed to texts",
        "no email consent": "the patient has not agreed to emails",
    }.get(why, why)


def _tail(rest: str) -> str:
    if rest.strip() == "; validity ends before then":
        return ", and it would no longer be useful by then, so it is not sent"
    return rest


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


_RULES = _rules()


def plain_reason(reason: str | None, tz: str) -> str:
    """The stored reason in words for staff, times on `tz`'s clock (empty if none)."""
    if not reason:
        return ""
    text = _utc_to_local(reason.strip(), tz)
    for pattern, make in _RULES:
        match = pattern.match(text)
        if match:
            return make(match)
    return text[:1].upper() + text[1:]
