"""Lanes: which sender each due row leaves through, and how many each may take now.

A lane is one sender (channel and address, `service.senders`) and the clinics sending
from it. A claim locks the paced senders that have a send slot within the pace-ahead
time (`FOR UPDATE SKIP LOCKED`: a sender another worker is claiming for is skipped, not
waited for), takes from each at most as many due rows as it has slots, urgent rows
first, then safety reminders, then routine ones (oldest first within each), and hands
each row that passes its checks the sender's next slot (`service.pacing`), writing the
sender's state back in the same transaction. So every worker shares one bucket per
sender, a row is fenced and called at its slot (`calls`), and a sender never starts
more than `burst + w * rate` sends in any w seconds, whichever workers send them.
Unpaced lanes (email by default, SMS without a sender in the embedded default) are
claimed oldest first per channel, with no slots.

Cost per claim: one read of the clinics and senders (tens of rows), then per paced lane
with room one index probe per clinic and priority (PostgreSQL: all of them in one
LATERAL statement), and per unpaced channel one probe per priority: each an index range
of due rows (`ix_messages_lane`, `ix_messages_channel`), never of future rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlmodel import Session

from service import senders
from service.db.models import Clinic, Message, Sender
from service.domain import Channel, MessageStatus, Priority
from service.pacing import Bucket
from service.senders import Defaults

RANK = {Priority.URGENT: 0, Priority.SAFETY: 1, Priority.ROUTINE: 2}
# Why a row was skipped rather than sent late (timeline and logs).
RATE_LIMITED = (
    "not sent: its validity window ended while it waited for a send slot (the sender "
    "was at its rate limit)"
)
NO_SLOT_IN_TIME = (
    "not sent: its validity window ends before its sender's next free send slot (the "
    "sender is at its rate limit)"
)
UNCLAIMED = "not sent: its validity window ended before a worker could send it"
_PRIORITIES = tuple(RANK)
_MESSAGES: Any = Message.__table__  # type: ignore[attr-defined]
_SENDERS: Any = Sender.__table__  # type: ignore[attr-defined]
_CANDIDATE = ("id", "clinic_id", "channel", "priority", "next_attempt_at", "valid_until")
_SENDER_STATE = select(
    *(_SENDERS.c[name] for name in ("id", "channel", "address", "rate_per_second", "burst",
                                    "next_slot_at"))
)  # fmt: skip

# Paced lanes on PostgreSQL: every (clinic, channel, priority) probe in one statement.
_PG_PROBES = text(
    "SELECT m.id, m.clinic_id, m.channel, m.priority, m.next_attempt_at, m.valid_until"
    " FROM unnest(CAST(:clinics AS integer[]), CAST(:channels AS text[]),"
    "             CAST(:priorities AS text[]), CAST(:limits AS integer[]))"
    "      AS probe(clinic_id, channel, priority, n)"
    " CROSS JOIN LATERAL (SELECT id, clinic_id, channel, priority, next_attempt_at, valid_until"
    "   FROM messages WHERE status = 'scheduled' AND clinic_id = probe.clinic_id"
    "   AND channel = probe.channel AND priority = probe.priority AND next_attempt_at <= :now"
    "   ORDER BY next_attempt_at, id LIMIT probe.n FOR UPDATE SKIP LOCKED) AS m"
)


@dataclass(frozen=True)
class LaneKey:
    channel: str
    address: str | None  # None: no sender (the console adapter)


@dataclass
class Lane:
    key: LaneKey
    clinic_ids: list[int] = field(default_factory=list)
    sender_id: int | None = None
    bucket: Bucket = field(default_factory=lambda: Bucket(rate=None))
    tat_read: datetime | None = None  # its state as first read, before this claim's slots
    locked: bool = False  # paced, with room, and locked by this claim
    allowance: int = 0  # rows this claim may take from it
    changed: bool = False

    @property
    def paced(self) -> bool:
        return self.bucket.paced


class Lanes:
    """One claim's view of the senders (built and used inside its transaction)."""

    def __init__(self, *, defaults: Defaults, ahead: timedelta) -> None:
        self.defaults = defaults
        self.ahead = ahead
        self.lanes: dict[LaneKey, Lane] = {}
        self.by_clinic: dict[tuple[int, str], Lane] = {}
        self.room_at: datetime | None = None  # when a busy sender next has a slot

    def open(self, session: Session, *, now: datetime, limit: int) -> None:
        """Read the clinics and senders; lock the paced senders with room."""
        self.read(session, now)
        self._lock(session, now, limit)

    def due_ids(
        self, session: Session, *, now: datetime, limit: int, urgent_only: bool = False
    ) -> list[int]:
        """Ids of the rows to claim, locked, in the order to send them."""
        priorities = (Priority.URGENT,) if urgent_only else _PRIORITIES
        found = self._paced_candidates(session, now, priorities)
        found += self._unpaced_candidates(session, now, priorities, limit)
        found.sort(key=lambda row: (RANK[Priority(row.priority)], row.next_attempt_at, row.id))
        taken: dict[LaneKey, int] = defaultdict(int)
        chosen: list[int] = []
        for row in found:
            lane = self.by_clinic.get((row.clinic_id, row.channel))
            if lane is None:
                continue  # a clinic made since this claim read them: the next claim's
            stale = row.valid_until is not None and row.valid_until < now
            if lane.paced and not stale and taken[lane.key] >= lane.allowance:
                continue  # a stale row takes no slot (it is skipped), so it is not counted
            taken[lane.key] += 0 if stale else 1
            chosen.append(row.id)
            if len(chosen) >= limit:
                break
        return chosen

    def lane_of(self, row: Any) -> Lane:
        return self.by_clinic[(row.clinic_id, row.channel)]

    def expired_reason(self, row: Any) -> str:
        """Why a row whose validity ended while it waited was not sent: its sender was
        booked past the moment it fell due (`next_attempt_at`), or no worker took it."""
        lane = self.by_clinic.get((row.clinic_id, row.channel))
        tat = lane.tat_read if lane is not None and lane.paced else None
        return RATE_LIMITED if tat is not None and tat > row.next_attempt_at else UNCLAIMED

    def next_slot(self, row: Any, now: datetime) -> datetime:
        return self.lane_of(row).bucket.next_slot(now)

    def take(self, row: Any, now: datetime) -> datetime | None:
        """The row's slot (None: its sender is not paced)."""
        lane = self.lane_of(row)
        if not lane.paced:
            return None
        lane.changed = True
        return lane.bucket.take(now)

    def save(self, session: Session) -> None:
        """Write the locked senders' state back (same transaction as the claim)."""
        for lane in self.lanes.values():
            if lane.changed and lane.sender_id is not None:
                statement = (
                    update(_SENDERS)
                    .where(_SENDERS.c.id == lane.sender_id)
                    .values(next_slot_at=lane.bucket.tat)
                )
                session.connection().execute(statement)

    def read(self, session: Session, now: datetime) -> None:
        """Each clinic's lanes and each lane's sender as it stands (made if missing)."""
        columns: Any = (Clinic.id, Clinic.sms_from, Clinic.messaging_service_sid, Clinic.email_from)
        connection = session.connection()
        for clinic in connection.execute(select(*columns)):
            for channel in Channel:
                key = LaneKey(channel, senders.address_of(clinic, channel, self.defaults))
                lane = self.lanes.setdefault(key, Lane(key))
                lane.clinic_ids.append(clinic.id)
                self.by_clinic[(clinic.id, channel)] = lane
        known = {(row.channel, row.address): row for row in connection.execute(_SENDER_STATE)}
        for key, lane in self.lanes.items():
            if key.address is None:
                continue
            row: Any = known.get((key.channel, key.address))
            if row is None:
                row = senders.ensure(session, key.channel, key.address, now=now)
                session.flush()
            lane.sender_id, lane.tat_read = row.id, row.next_slot_at
            lane.bucket = Bucket(row.rate_per_second, row.burst, row.next_slot_at)

    def _lock(self, session: Session, now: datetime, limit: int) -> None:
        """Lock the paced senders that have a slot within `ahead` (skipping those another
        claim holds) and size each one's share from its state as locked."""
        with_room = []
        for lane in self.lanes.values():
            if not lane.paced:
                lane.allowance = limit
            elif lane.bucket.slots_within(now, self.ahead) > 0:
                with_room.append(lane)
            else:
                self._note_room(lane.bucket.room_at(self.ahead))
        if not with_room:
            return
        by_sender = {lane.sender_id: lane for lane in with_room}
        query = (
            select(_SENDERS.c.id, _SENDERS.c.rate_per_second, _SENDERS.c.burst,
                   _SENDERS.c.next_slot_at)
            .where(_SENDERS.c.id.in_(list(by_sender)))
            .order_by(_SENDERS.c.id)
            .with_for_update(skip_locked=True)
        )  # fmt: skip
        for row in session.connection().execute(query):
            lane = by_sender[row.id]
            lane.bucket = Bucket(row.rate_per_second, row.burst, row.next_slot_at)
            lane.locked = True
            lane.allowance = min(limit, lane.bucket.slots_within(now, self.ahead))
            if not lane.allowance:
                self._note_room(lane.bucket.room_at(self.ahead))

    def _note_room(self, at: datetime | None) -> None:
        if at is not None and (self.room_at is None or at < self.room_at):
            self.room_at = at

    def _paced_candidates(
        self, session: Session, now: datetime, priorities: tuple[Priority, ...]
    ) -> list[Any]:
        probes = [
            (clinic_id, lane.key.channel, priority, lane.allowance)
            for lane in self.lanes.values()
            if lane.paced and lane.locked and lane.allowance
            for clinic_id in lane.clinic_ids
            for priority in priorities
        ]
        if not probes:
            return []
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            clinics, channels, wanted, limits = (
                list(column) for column in zip(*probes, strict=True)
            )
            params = {"clinics": clinics, "channels": channels, "priorities": wanted,
                      "limits": limits, "now": now}  # fmt: skip
            return list(connection.execute(_PG_PROBES, params))
        found: list[Any] = []
        for clinic_id, channel, priority, n in probes:
            where = (_MESSAGES.c.clinic_id == clinic_id,)
            found += connection.execute(_probe(where, channel, priority, now, n)).all()
        return found

    def _unpaced_candidates(
        self, session: Session, now: datetime, priorities: tuple[Priority, ...], limit: int
    ) -> list[Any]:
        """Per channel with unpaced lanes: its oldest due rows of those lanes' clinics."""
        connection = session.connection()
        found: list[Any] = []
        for channel in Channel:
            lanes = [lane for lane in self.lanes.values() if lane.key.channel == channel]
            unpaced = [cid for lane in lanes if not lane.paced for cid in lane.clinic_ids]
            if not unpaced:
                continue
            paced = [cid for lane in lanes if lane.paced for cid in lane.clinic_ids]
            # Only when some clinics of this channel are paced (rare: the embedded default
            # with a clinic of its own number) does the probe filter by clinic.
            where = (_MESSAGES.c.clinic_id.not_in(paced),) if paced else ()
            for priority in priorities:
                found += connection.execute(_probe(where, channel, priority, now, limit)).all()
        return found


def _probe(where: tuple[Any, ...], channel: str, priority: str, now: datetime, n: int) -> Any:
    m = _MESSAGES
    return (
        select(*(m.c[name] for name in _CANDIDATE))
        .where(
            m.c.status == MessageStatus.SCHEDULED,
            m.c.channel == channel,
            m.c.priority == priority,
            m.c.next_attempt_at <= now,
            *where,
        )
        .order_by(m.c.next_attempt_at, m.c.id)
        .limit(n)
        .with_for_update(skip_locked=True)
    )
