"""On-call lists: who is paged for an urgent reply, validated wherever a list is set.

An entry with neither a phone nor an email would page nobody, so it is refused; phones
are stored E.164 (parsed in the clinic's region). A clinic may have no list - urgent
pages then go to its main number only - but every place that sets a list says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, delete, select

from service.audit import record_audit
from service.db.models import Clinic, OnCallRecipient
from service.domain import ActorType
from service.patients import PatientError, normalise_phone

_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$")


@dataclass(frozen=True)
class OnCallEntry:
    name: str
    phone: str | None = None
    email: str | None = None


class OnCallError(ValueError):
    """A bad entry: `index` (0-based) and `field` (name, phone, email, or None for the
    entry as a whole) say where."""

    def __init__(self, index: int, field: str | None, message: str) -> None:
        super().__init__(f"on-call entry {index + 1}: {message}")
        self.index, self.field, self.message = index, field, message


def parse_entry(text: str) -> OnCallEntry:
    """The command line's `NAME,PHONE,EMAIL` (phone or email may be left empty)."""
    name, phone, email = [*(part.strip() for part in text.split(",")), "", ""][:3]
    return OnCallEntry(name=name, phone=phone or None, email=email or None)


def clean_entries(entries: Sequence[OnCallEntry], *, region: str) -> list[OnCallEntry]:
    """Validated and normalised entries, in order; raises OnCallError for the first bad one."""
    return [_clean(index, entry, region) for index, entry in enumerate(entries)]


def _clean(index: int, entry: OnCallEntry, region: str) -> OnCallEntry:
    name = entry.name.strip()
    if not name:
        raise OnCallError(index, "name", "needs a name")
    phone = (entry.phone or "").strip() or None
    email = (entry.email or "").strip().lower() or None
    if phone is None and email is None:
        raise OnCallError(index, None, f"{name} needs a phone or an email, or nobody is paged")
    if phone is not None:
        try:
            phone, _ = normalise_phone(phone, region=region)
        except PatientError as exc:
            raise OnCallError(index, "phone", f"{name}: {exc.message}") from None
    if email is not None and not _EMAIL.match(email):
        raise OnCallError(index, "email", f"{name}: {email!r} is not an email address")
    return OnCallEntry(name=name[:200], phone=phone, email=email)


def list_oncall(session: Session, clinic: Clinic) -> list[OnCallRecipient]:
    query = select(OnCallRecipient).where(OnCallRecipient.clinic_id == clinic.id)
    return list(session.exec(query.order_by(col(OnCallRecipient.position))))


def replace_oncall(
    session: Session, *, clinic: Clinic, entries: Sequence[OnCallEntry], actor: str | None
) -> list[OnCallRecipient]:
    """Validate `entries` and make them the clinic's list, in escalation order (audited)."""
    clean = clean_entries(entries, region=clinic.default_region)
    session.exec(delete(OnCallRecipient).where(col(OnCallRecipient.clinic_id) == clinic.id))
    assert clinic.id is not None, "the clinic must be flushed first"
    rows = [
        OnCallRecipient(
            clinic_id=clinic.id, position=position, name=e.name, phone=e.phone, email=e.email
        )
        for position, e in enumerate(clean)
    ]
    session.add_all(rows)
    session.flush()
    record_audit(session, actor_type=ActorType.USER if actor else ActorType.SYSTEM, actor=actor,
                 action="clinic.oncall", entity_type="clinic", entity_id=clinic.id,
                 clinic_id=clinic.id, detail={"entries": len(rows)})  # fmt: skip
    return rows


def missing_warning(clinic: Clinic, count: int) -> str | None:
    """What staff must know when a clinic has nobody on call."""
    if count:
        return None
    return (
        f"{clinic.name} has no on-call list: urgent pages go only to the clinic's main "
        f"number {clinic.contact_phone}. Add at least one person with a mobile phone."
    )
