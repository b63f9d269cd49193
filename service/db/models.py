"""Tables. The database is the source of truth: every message that will ever be sent
for an enrolment is a row here from the moment of enrolment (the outbox).

Every datetime is timezone-aware UTC (see `UTCDateTime`); local time only appears when
plans are expanded and messages rendered.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, event, false, text
from sqlmodel import Field, SQLModel

from service.db.types import UTCDateTime, utcnow
from service.domain import (
    AlertStatus,
    EnrollmentStatus,
    MessageKind,
    MessageStatus,
    Priority,
)
from service.words import SEARCH_NAME_MAX, search_name


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _when(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


class Clinic(SQLModel, table=True):
    __tablename__ = "clinics"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=80, unique=True)
    timezone: str = Field(default="America/New_York", max_length=64)
    default_region: str = Field(default="US", max_length=2)  # phonenumbers region for parsing
    sms_from: str | None = Field(default=None, max_length=20)  # E.164 sender number
    messaging_service_sid: str | None = Field(default=None, max_length=64)
    email_from: str | None = Field(default=None, max_length=254)
    contact_phone: str = Field(max_length=32)  # shown to patients in every message
    emergency_phone: str = Field(default="911", max_length=32)
    # The clinic answers `contact_phone` day and night: only then may messages say so.
    phone_24h: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Routine messages never fall inside [quiet_start, quiet_end); safety reminders may use
    # the evening but never [night_start, night_end). Local to the patient's time zone.
    quiet_start: time = Field(default=time(20, 0))
    quiet_end: time = Field(default=time(8, 0))
    night_start: time = Field(default=time(21, 0))
    night_end: time = Field(default=time(8, 0))
    alert_ack_minutes: int = Field(default=15)  # re-page and escalate after this
    # Replies inbox: an unread reply is due within `reply_response_minutes` when it comes in
    # between reply_day_start and reply_day_end (clinic time); what cannot be answered by
    # the day's end is due at reply_night_due the next morning (service.inbox.due).
    reply_response_minutes: int = Field(default=240, sa_column_kwargs={"server_default": "240"})
    reply_day_start: time = Field(
        default=time(8, 0), sa_column_kwargs={"server_default": text("'08:00:00'")}
    )
    reply_day_end: time = Field(
        default=time(20, 0), sa_column_kwargs={"server_default": text("'20:00:00'")}
    )
    reply_night_due: time = Field(
        default=time(10, 0), sa_column_kwargs={"server_default": text("'10:00:00'")}
    )
    # What an on-call page SMS carries: "full" (first name, callback number, procedure and
    # day, the warning sign) or "minimal" (the callback number and a link).
    page_detail: str = Field(
        default="full", max_length=16, sa_column_kwargs={"server_default": "full"}
    )
    created_at: datetime = _created()


class Sender(SQLModel, table=True):
    """A number, Messaging Service or email address messages leave from, the rate its
    carrier or relay takes, and the pacing state every worker shares (`service.pacing`).

    A clinic sends SMS from its `sms_from` (else its `messaging_service_sid`, else the
    service's TWILIO_MESSAGING_SERVICE_SID / TWILIO_FROM) and email from its `email_from`
    (else EMAIL_FROM): the sender is the row with that channel and address, so clinics
    sharing a number share its rate. `service.senders` creates rows with defaults by kind.
    """

    __tablename__ = "senders"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=8)
    address: str = Field(max_length=254)  # E.164 number, Messaging Service SID or email
    kind: str = Field(max_length=24)  # service.senders.SenderKind
    # Messages per second at most, across every worker; None: not paced.
    rate_per_second: float | None = Field(default=None)
    # How many may leave back to back after a quiet spell (the token bucket's size).
    burst: int = Field(default=1)
    # Pacing state (GCRA's theoretical arrival time): when the next send is due at the
    # steady rate; a burst may start up to (burst - 1) / rate earlier. None: idle.
    next_slot_at: datetime | None = _when()
    created_at: datetime = _created()
    updated_at: datetime = _created()


class OnCallRecipient(SQLModel, table=True):
    """Who is paged for an urgent reply, in escalation order (position 0 first)."""

    __tablename__ = "oncall_recipients"
    __table_args__ = (UniqueConstraint("clinic_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id", index=True)
    position: int = Field(default=0)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    # "sms", "email" or "both" (every address given): service.domain.PAGE_BY.
    page_by: str = Field(default="both", max_length=8, sa_column_kwargs={"server_default": "both"})
    created_at: datetime = _created()


class Patient(SQLModel, table=True):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_clinic_phone", "clinic_id", "phone"),
        Index("ix_patients_clinic_email", "clinic_id", "email"),
        UniqueConstraint("clinic_id", "external_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id", index=True)
    external_ref: str | None = Field(default=None, max_length=64)  # the clinic's own record id
    first_name: str = Field(max_length=100)
    last_name: str = Field(default="", max_length=100)
    phone: str | None = Field(default=None, max_length=20)  # E.164
    phone_can_sms: bool = Field(default=True)  # False when the number is known to be a landline
    email: str | None = Field(default=None, max_length=254)
    timezone: str = Field(max_length=64)
    language: str = Field(default="en", max_length=8)
    sms_consent_at: datetime | None = _when()
    sms_consent_source: str | None = Field(default=None, max_length=64)
    email_consent_at: datetime | None = _when()
    email_consent_source: str | None = Field(default=None, max_length=64)
    sms_opted_out_at: datetime | None = _when()
    email_opted_out_at: datetime | None = _when()
    created_at: datetime = _created()
    # When and why the carrier said this number cannot take texts (landline, no such
    # number): shown to staff; `phone_can_sms` is False from then on.
    sms_unreachable_at: datetime | None = _when()
    sms_unreachable_reason: str | None = Field(default=None, max_length=200)
    # The name folded for search (no case, no accents: "nunez" finds "Núñez"), kept by
    # `patient_values` on the bulk path and by the mapper events below on the ORM path.
    search_name: str = Field(
        default="", max_length=SEARCH_NAME_MAX, sa_column_kwargs={"server_default": ""}
    )


@event.listens_for(Patient, "before_insert")
@event.listens_for(Patient, "before_update")
def _fold_name(_mapper: Any, _connection: Any, patient: Patient) -> None:
    patient.search_name = search_name(patient.first_name, patient.last_name or "")


class PlanVersion(SQLModel, table=True):
    """A frozen copy of a plan and its templates, taken the first time it is used.

    A version in use is immutable: enrolments are pinned to (key, version) and their
    messages render from this copy, so editing files later never changes what a pinned
    patient receives. The loader refuses a changed file that kept its version number.
    """

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)
    version: int
    sha256: str = Field(max_length=64)
    definition: dict[str, Any] = Field(sa_type=JSON)
    templates: dict[str, str] = Field(sa_type=JSON)  # relative path -> template source
    created_at: datetime = _created()


class PlanSignoff(SQLModel, table=True):
    """A clinician's sign-off of one plan version, tied to its exact content (sha256).

    Enrolment into a version nobody has signed off warns staff (or is refused, with
    `REQUIRE_PLAN_SIGNOFF`). Recording one is also written to the audit log.
    """

    __tablename__ = "plan_signoffs"
    __table_args__ = (Index("ix_plan_signoffs_plan", "plan_key", "plan_version"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_key: str = Field(max_length=64)
    plan_version: int
    sha256: str = Field(max_length=64)
    signer_name: str = Field(max_length=200)
    signer_role: str = Field(max_length=120)  # e.g. "Medical director, MD"
    signed_on: date
    note: str | None = Field(default=None, max_length=1000)
    recorded_by: str = Field(max_length=120)  # "cli" or "user:3"
    recorded_at: datetime = _created()


class ClinicContentVersion(SQLModel, table=True):
    """One version of a clinic's own wording for some messages of one plan version.

    `templates` holds only the replaced templates (name -> source); everything else is
    the plan's. `sha256` covers the plan's exact content and the replacements
    (`service.plans.overrides.content_sha256`). The latest version may be edited while
    nobody has signed it off and no enrolment uses it; after that it is frozen and a
    change makes the next version. New enrolments use the clinic's latest signed-off
    version for the plan's current version; an enrolment keeps the one it got.
    """

    __tablename__ = "clinic_content_versions"
    __table_args__ = (UniqueConstraint("clinic_id", "plan_key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    plan_key: str = Field(max_length=64)
    version: int  # 1, 2, ... per clinic and plan
    plan_version: int  # the plan version these texts were written and linted for
    plan_sha256: str = Field(max_length=64)
    sha256: str = Field(max_length=64)
    templates: dict[str, str] = Field(sa_type=JSON)
    note: str | None = Field(default=None, max_length=500)  # what changed, for the reviewer
    created_by: str = Field(max_length=120)
    created_at: datetime = _created()
    updated_by: str = Field(max_length=120)
    updated_at: datetime = _created()


class ClinicContentSignoff(SQLModel, table=True):
    """A clinician's sign-off of one clinic content version, tied to its sha256."""

    __tablename__ = "clinic_content_signoffs"

    id: int | None = Field(default=None, primary_key=True)
    content_version_id: int = Field(foreign_key="clinic_content_versions.id", index=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    sha256: str = Field(max_length=64)
    signer_name: str = Field(max_length=200)
    signer_role: str = Field(max_length=120)
    signed_on: date
    note: str | None = Field(default=None, max_length=1000)
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = _created()


class Enrollment(SQLModel, table=True):
    __tablename__ = "enrollments"
    __table_args__ = (
        # Enrolling the same patient in the same plan for the same procedure is idempotent.
        UniqueConstraint("patient_id", "plan_key", "procedure_at"),
        Index("ix_enrollments_clinic_status", "clinic_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    patient_id: int = Field(foreign_key="patients.id", index=True)
    plan_key: str = Field(max_length=64)
    plan_version: int
    # The clinic's signed-off wording in use when the patient was enrolled (None: the
    # plan's own texts); kept for the whole enrolment, like the plan version.
    content_version_id: int | None = Field(default=None, foreign_key="clinic_content_versions.id")
    procedure_at: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default=EnrollmentStatus.ACTIVE, max_length=16)
    status_reason: str | None = Field(default=None, max_length=500)
    paused_at: datetime | None = _when()
    created_by: str | None = Field(default=None, max_length=120)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Message(SQLModel, table=True):
    """The outbox: one row per planned send (enrolment, step, channel, occurrence).

    `due_at` is when the plan wants it; `next_attempt_at` is when the dispatcher may next
    take it (moved by quiet hours, pacing, retries and holds). `valid_until` bounds
    lateness: past it the row is skipped with a reason, never sent late.
    """

    __tablename__ = "messages"
    __table_args__ = (
        # The dispatcher's claim: scheduled rows by next attempt time.
        Index(
            "ix_messages_claim",
            "next_attempt_at",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
        # A sender's due rows, by clinic, priority and age (service.dispatch.lanes).
        Index(
            "ix_messages_lane",
            "clinic_id",
            "channel",
            "priority",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
        # Unpaced senders' due rows, by channel, priority and age.
        Index(
            "ix_messages_channel",
            "channel",
            "priority",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
        # Rows whose validity ended while they waited (service.dispatch.expiry).
        Index(
            "ix_messages_expiry",
            "valid_until",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
        # In-doubt reconciliation scans rows stuck in `sending`.
        Index(
            "ix_messages_sending",
            "claimed_at",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        # Operator log filters.
        Index("ix_messages_clinic_due", "clinic_id", "due_at"),
        Index("ix_messages_status_due", "status", "due_at"),
        Index("ix_messages_channel_due", "channel", "due_at"),
        Index("ix_messages_patient_due", "patient_id", "due_at"),
        Index("ix_messages_enrollment", "enrollment_id", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)  # makes enrolment idempotent
    clinic_id: int = Field(foreign_key="clinics.id")
    patient_id: int | None = Field(default=None, foreign_key="patients.id")
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id")
    kind: str = Field(default=MessageKind.PLAN, max_length=16)
    step_key: str | None = Field(default=None, max_length=64)
    occurrence: int = Field(default=0)
    channel: str = Field(max_length=8)
    fallback_channel: str | None = Field(default=None, max_length=8)
    priority: str = Field(default=Priority.ROUTINE, max_length=8)
    language: str = Field(default="en", max_length=8)
    # Set for pages and replies to a number that is not a patient; otherwise the
    # patient's current contact is used at send time.
    to_address: str | None = Field(default=None, max_length=254)
    due_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime | None = _when()
    status: str = Field(default=MessageStatus.SCHEDULED, max_length=16)
    status_reason: str | None = Field(default=None, max_length=500)
    # Provider calls started for this row (a claim that never reached the provider is
    # not an attempt); `claim_count` tells one claim of the row from a later one.
    attempts: int = Field(default=0)
    claim_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    claimed_at: datetime | None = _when()
    claimed_by: str | None = Field(default=None, max_length=120)
    # When this claim's provider call was started (committed just before the call): a
    # row in `sending` without it never reached the provider and is not in doubt.
    call_started_at: datetime | None = _when()
    sent_at: datetime | None = _when()
    delivered_at: datetime | None = _when()
    provider: str | None = Field(default=None, max_length=32)
    provider_id: str | None = Field(default=None, max_length=64, unique=True)
    # Exact content: pre-rendered for ad hoc messages, filled at send time for plan steps.
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    segments: int | None = Field(default=None)
    error_code: str | None = Field(default=None, max_length=32)
    error_text: str | None = Field(default=None, max_length=500)
    fallback_of_id: int | None = Field(default=None, foreign_key="messages.id")
    context: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # extra template values
    created_at: datetime = _created()
    updated_at: datetime = _created()


class MessageEvent(SQLModel, table=True):
    """Append-only history of every status change, with its reason."""

    __tablename__ = "message_events"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id", index=True)
    at: datetime = _created()
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    provider_status: str | None = Field(default=None, max_length=32)
    error_code: str | None = Field(default=None, max_length=32)
    actor: str | None = Field(default=None, max_length=120)


class StatusCallback(SQLModel, table=True):
    """A provider's delivery status callback, recorded as it arrives and applied to its
    message in bulk moments later (`delivery_receipts.apply_pending`), then deleted:
    the message's events keep the history. No foreign key: a callback for a message we
    do not know is still recorded (and logged when applied)."""

    __tablename__ = "status_callbacks"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _created()
    message_id: int | None = Field(default=None)  # our id, from the callback URL
    provider_id: str | None = Field(default=None, max_length=64)
    provider_status: str = Field(max_length=32)
    error_code: str | None = Field(default=None, max_length=32)


class InboundMessage(SQLModel, table=True):
    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_clinic_received", "clinic_id", "received_at"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: str = Field(max_length=200, unique=True)  # Twilio MessageSid or Message-ID
    channel: str = Field(max_length=8)
    clinic_id: int | None = Field(default=None, foreign_key="clinics.id")
    patient_id: int | None = Field(default=None, foreign_key="patients.id", index=True)
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id")
    from_address: str = Field(max_length=254)
    to_address: str | None = Field(default=None, max_length=254)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    triaged_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    media_urls: list[str] = Field(default_factory=list, sa_type=JSON)
    intent: str | None = Field(default=None, max_length=16)  # triage label or check-in answer
    matches: list[str] = Field(default_factory=list, sa_type=JSON)
    received_at: datetime = _created()
    handled_at: datetime | None = _when()


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_clinic_status", "clinic_id", "status", "created_at"),
        Index(
            "ix_alerts_escalation",
            "next_escalation_at",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    patient_id: int | None = Field(default=None, foreign_key="patients.id", index=True)
    enrollment_id: int | None = Field(default=None, foreign_key="enrollments.id")
    inbound_id: int | None = Field(default=None, foreign_key="inbound_messages.id")
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    severity: str = Field(max_length=16)
    kind: str = Field(max_length=32)  # triage_urgent, triage_concern, callback, opt_out, ...
    summary: str = Field(max_length=500)
    status: str = Field(default=AlertStatus.OPEN, max_length=16)
    escalation_level: int = Field(default=0)
    next_escalation_at: datetime | None = _when()
    acknowledged_by: str | None = Field(default=None, max_length=120)
    acknowledged_at: datetime | None = _when()
    resolved_by: str | None = Field(default=None, max_length=120)
    resolved_at: datetime | None = _when()
    created_at: datetime = _created()


class ReplyItem(SQLModel, table=True):
    """One patient reply in one clinic's replies inbox, read and handled by a person.

    Triage sets `rank` (0 urgent, 1 concern, 2 the rest: the inbox order), not whether
    the reply is seen. `patient_id` is the patient it is attributed to; on a shared
    number it stays empty until staff assign it, and `ReplyCandidate` rows list everyone
    it may be from. A reply routed to several clinics (a shared sender) is one item in
    each.
    """

    __tablename__ = "reply_items"
    __table_args__ = (
        UniqueConstraint("inbound_id", "clinic_id"),
        Index("ix_reply_items_inbox", "clinic_id", "handled_at", "rank", "received_at"),
        # The response-time job: unread items not yet reported late, by due time.
        Index(
            "ix_reply_items_due",
            "due_at",
            postgresql_where=text("handled_at IS NULL AND overdue_alert_id IS NULL"),
            sqlite_where=text("handled_at IS NULL AND overdue_alert_id IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int = Field(foreign_key="inbound_messages.id", index=True)
    clinic_id: int = Field(foreign_key="clinics.id")
    patient_id: int | None = Field(default=None, foreign_key="patients.id", index=True)
    channel: str = Field(max_length=8)
    label: str = Field(max_length=16)  # the triage label
    rank: int = Field(default=2)
    received_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)  # the clinic's response time
    alert_id: int | None = Field(default=None, foreign_key="alerts.id")  # what the reply opened
    overdue_alert_id: int | None = Field(default=None, foreign_key="alerts.id")  # late: a task
    handled_at: datetime | None = _when()
    handled_by: str | None = Field(default=None, max_length=120)
    handled_note: str | None = Field(default=None, max_length=500)
    assigned_at: datetime | None = _when()
    assigned_by: str | None = Field(default=None, max_length=120)


class ReplyCandidate(SQLModel, table=True):
    """A patient a reply may be from: everyone of the clinic on the number it came from."""

    __tablename__ = "reply_candidates"

    reply_id: int = Field(foreign_key="reply_items.id", primary_key=True)
    patient_id: int = Field(foreign_key="patients.id", primary_key=True, index=True)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    clinic_id: int | None = Field(default=None, foreign_key="clinics.id", index=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=200)
    is_active: bool = Field(default=True)
    last_login_at: datetime | None = _when()
    created_at: datetime = _created()


class UserSession(SQLModel, table=True):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is here.

    It ends at logout, after `SESSION_IDLE_MINUTES` without a request, after twelve
    hours, and when the user's password, role or active state changes (revoked_at).
    """

    __tablename__ = "user_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _created()
    last_seen_at: datetime = _created()
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = _when()
    revoked_reason: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=200)  # to tell sessions apart


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per key ("account:...", "pair:...", "client:..."), whether or not
    the account exists: each failure past a key's allowance doubles its wait."""

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = Field(default=0)
    last_failure_at: datetime = _created()
    blocked_until: datetime | None = _when()


class ApiKey(SQLModel, table=True):
    """Bearer keys. Only a SHA-256 of the key is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str = Field(default="", max_length=120)
    prefix: str = Field(max_length=16, index=True)  # lets operators tell keys apart
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _created()
    last_used_at: datetime | None = _when()
    revoked_at: datetime | None = _when()


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_clinic_at", "clinic_id", "at"),
        Index("ix_audit_entity", "entity_type", "entity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _created()
    clinic_id: int | None = Field(default=None, foreign_key="clinics.id")
    actor_type: str = Field(max_length=16)
    actor: str | None = Field(default=None, max_length=120)
    action: str = Field(max_length=64)
    entity_type: str = Field(max_length=32)
    entity_id: int | None = Field(default=None)
    reason: str | None = Field(default=None, max_length=500)
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class WorkerHeartbeat(SQLModel, table=True):
    """Last tick per worker process, for the operators' health page."""

    __tablename__ = "worker_heartbeats"

    worker_id: str = Field(primary_key=True, max_length=120)
    hostname: str = Field(max_length=200)
    pid: int
    started_at: datetime = _created()
    last_tick_at: datetime = _created()
    last_claimed: int = Field(default=0)


__all__ = [
    "Alert",
    "ApiKey",
    "AuditLog",
    "Clinic",
    "ClinicContentSignoff",
    "ClinicContentVersion",
    "Enrollment",
    "InboundMessage",
    "LoginThrottle",
    "Message",
    "MessageEvent",
    "OnCallRecipient",
    "Patient",
    "PlanSignoff",
    "PlanVersion",
    "ReplyCandidate",
    "ReplyItem",
    "Sender",
    "StatusCallback",
    "User",
    "UserSession",
    "WorkerHeartbeat",
]
