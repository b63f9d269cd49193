"""Clinics, users and API keys: creation, hashing and look-up.

API keys look like `ac_<prefix>_<secret>`; only the SHA-256 of the whole key is stored
(keys are long random strings, so a slow hash adds nothing), and the key is returned
once. Passwords use argon2.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from service import senders
from service.audit import record_audit
from service.clinics import ClinicError, OnCall, check_person, oncall_list
from service.config import validate_timezone
from service.db.models import ApiKey, Clinic, OnCallRecipient, User
from service.db.types import utcnow
from service.domain import (
    CLINIC_NAME_MAX,
    CLINIC_ROLES,
    EMERGENCY_PHONE_DIGITS,
    ActorType,
    Channel,
    Role,
)
from service.phones import PHONE_DISPLAY_MAX, international

_hasher = PasswordHasher()
KEY_PREFIX = "ac_"


class AccountError(ValueError):
    """Invalid input for a clinic, user or key; the message names the field."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind a session or an API key."""

    user_id: int
    clinic_id: int | None
    role: Role
    label: str  # for the audit log: "user:3" / "api_key:7"

    def can_see_clinic(self, clinic_id: int | None) -> bool:
        """Admins and operators see every clinic; everyone else only their own."""
        if self.role in (Role.ADMIN, Role.OPERATOR):
            return True
        return clinic_id is not None and clinic_id == self.clinic_id


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80] or "clinic"


def create_clinic(
    session: Session,
    *,
    name: str,
    contact_phone: str,
    timezone: str = "America/New_York",
    slug: str | None = None,
    emergency_phone: str = "911",
    default_region: str = "US",
    sms_from: str | None = None,
    email_from: str | None = None,
    quiet_start: time | None = None,
    quiet_end: time | None = None,
    phone_24h: bool = False,
) -> Clinic:
    if not name.strip():
        raise AccountError("name: must not be empty")
    if len(name.strip()) > CLINIC_NAME_MAX:
        raise AccountError(
            f"name: at most {CLINIC_NAME_MAX} characters (every text names the clinic and "
            "must fit two SMS segments)"
        )
    try:
        validate_timezone(timezone)
    except ValueError as exc:
        raise AccountError(f"timezone: {exc}") from None
    contact_phone = _clinic_phone(contact_phone, default_region)
    _check_emergency(emergency_phone)
    slug = slug or slugify(name)
    if session.exec(select(Clinic).where(Clinic.slug == slug)).first():
        raise AccountError(f"slug: a clinic {slug!r} already exists")
    clinic = Clinic(
        name=name.strip(),
        slug=slug,
        timezone=timezone,
        contact_phone=contact_phone,
        emergency_phone=emergency_phone,
        default_region=default_region.upper(),
        sms_from=sms_from,
        email_from=email_from,
        phone_24h=phone_24h,
    )
    if quiet_start is not None:
        clinic.quiet_start = quiet_start
    if quiet_end is not None:
        clinic.quiet_end = quiet_end
    session.add(clinic)
    session.flush()
    for channel, address in ((Channel.SMS, sms_from), (Channel.EMAIL, email_from)):
        if address:  # its row now, with its kind's default rate (service.senders)
            senders.ensure(session, channel, address)
    record_audit(
        session,
        actor_type=ActorType.SYSTEM,
        action="clinic.create",
        entity_type="clinic",
        entity_id=clinic.id,
        clinic_id=clinic.id,
    )
    return clinic


def _clinic_phone(raw: str, region: str) -> str:
    """The clinic's number, E.164; patients see it in their own format (service.phones)."""
    try:
        number = phonenumbers.parse(raw.strip(), region.upper())
    except phonenumbers.NumberParseException:
        raise AccountError(f"phone: {raw!r} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise AccountError(f"phone: {raw!r} is not a possible phone number")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(international(e164)) > PHONE_DISPLAY_MAX:
        raise AccountError(f"phone: {raw!r} is longer than any SMS is checked for")
    return e164


def _check_emergency(number: str) -> None:
    low, high = EMERGENCY_PHONE_DIGITS
    if not (number.isdigit() and low <= len(number) <= high):
        raise AccountError(
            f"emergency_phone: {number!r} must be the local emergency number, "
            f"{low} to {high} digits (911, 112, 999, 000)"
        )


def add_oncall(
    session: Session,
    *,
    clinic: Clinic,
    name: str,
    phone: str | None,
    email: str | None,
    page_by: str = "both",
) -> OnCallRecipient:
    """Append one checked entry to the clinic's on-call list (AccountError naming it)."""
    position = len(oncall_list(session, clinic))
    try:
        entry = check_person(OnCall(name, phone, email, page_by), region=clinic.default_region)
    except ClinicError as exc:
        raise AccountError(f"oncall: {exc.message}") from None
    assert clinic.id is not None, "the clinic must be flushed first"
    recipient = OnCallRecipient(
        clinic_id=clinic.id, position=position, name=entry.name, phone=entry.phone,
        email=entry.email, page_by=entry.page_by,
    )  # fmt: skip
    session.add(recipient)
    session.flush()
    return recipient


def create_user(
    session: Session,
    *,
    email: str,
    role: Role,
    clinic_id: int | None,
    name: str = "",
    password: str | None = None,
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError("email: not an email address")
    if role in CLINIC_ROLES and clinic_id is None:
        raise AccountError(f"clinic: {role} users belong to a clinic")
    if session.exec(select(User).where(User.email == email)).first():
        raise AccountError(f"email: a user {email!r} already exists")
    if password is not None:
        check_password(password)
    user = User(
        email=email,
        role=role,
        clinic_id=clinic_id,
        name=name,
        password_hash=hash_password(password) if password else None,
    )
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor_type=ActorType.SYSTEM,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        clinic_id=clinic_id,
        detail={"role": str(role)},
    )
    return user


PASSWORD_MIN = 12  # ASVS 2.1.1
PASSWORD_MAX = 128  # ASVS 2.1.2: at least 64 allowed, no more than 128


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"password: at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"password: at most {PASSWORD_MAX} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


_decoys: dict[int, User] = {}


def decoy_user() -> User:
    """A user to verify a password against when there is none: its hash costs what a
    real user's costs, so the answer takes as long."""
    found = _decoys.get(id(_hasher))
    if found is None:
        found = User(email="decoy@invalid", role="staff",
                     password_hash=_hasher.hash(secrets.token_urlsafe(12)))  # fmt: skip
        _decoys[id(_hasher)] = found
    return found


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(session: Session, *, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Create a key for `user`; returns the row and the plaintext key (shown once)."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(user_id=user.id, name=name, prefix=prefix, key_hash=hash_key(key))  # type: ignore[arg-type]
    session.add(row)
    session.flush()
    record_audit(
        session,
        actor_type=ActorType.SYSTEM,
        action="api_key.create",
        entity_type="api_key",
        entity_id=row.id,
        clinic_id=user.clinic_id,
    )
    return row, key


def principal_for_key(
    session: Session, key: str, *, now: datetime | None = None
) -> Principal | None:
    """The caller behind a bearer key, or None when the key is unknown, revoked or inactive."""
    if not key.startswith(KEY_PREFIX):
        return None
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    row.last_used_at = now or utcnow()
    session.add(row)
    return principal_for_user(user, label=f"api_key:{row.id}")


def principal_for_user(user: User, *, label: str | None = None) -> Principal:
    assert user.id is not None, "the user must be flushed first"
    return Principal(
        user_id=user.id,
        clinic_id=user.clinic_id,
        role=Role(user.role),
        label=label or f"user:{user.id}",
    )
