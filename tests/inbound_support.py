"""Replies through the inbound use case, for the unit tests of inbound handling and the
replies inbox: a clinic with an on-call list, and an `Inbox` that sends texts through
`handle_reply` with fresh provider ids."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from service import accounts
from service.composer import Composer
from service.db.models import Clinic, Message
from service.domain import Channel, MessageKind
from service.inbound.handle import handle_reply
from service.inbound.reply import InboundReply
from tests.factories import Factory

CLINIC_NUMBER = "+14155550999"


def oncall_clinic(factory: Factory, session: Session, **overrides: object) -> Clinic:
    """A clinic texting from CLINIC_NUMBER, Dr A (SMS and email) then Dr B (SMS) on call."""
    values: dict[str, object] = {"sms_from": CLINIC_NUMBER, "email_from": "care@glow.test"}
    clinic = factory.clinic(**(values | overrides))
    accounts.add_oncall(
        session, clinic=clinic, name="Dr A", phone="+14155550501", email="a@glow.test"
    )
    accounts.add_oncall(session, clinic=clinic, name="Dr B", phone="+14155550502", email=None)
    session.commit()
    return clinic


class Inbox:
    """Sends replies through `handle_reply` with fresh provider ids."""

    def __init__(self, session: Session, composer: Composer, now: datetime) -> None:
        self.session, self.composer, self.now, self.n = session, composer, now, 0

    def sms(self, text: str, *, sender: str = "+14155550123", sid=None, to=CLINIC_NUMBER, **kw):  # type: ignore[no-untyped-def]
        self.n += 1
        reply = InboundReply(
            provider_id=sid or f"SM{self.n:032d}",
            channel=Channel.SMS,
            from_address=sender,
            to_address=to,
            body=text,
            text=text.strip(),
            **kw,
        )
        return self.handle(reply)

    def handle(self, reply: InboundReply):  # type: ignore[no-untyped-def]
        outcome = handle_reply(self.session, reply=reply, composer=self.composer, now=self.now)
        self.session.commit()
        return outcome


def rows(session: Session, model, **where):  # type: ignore[no-untyped-def]
    query = select(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return list(session.exec(query))


def replies(session: Session) -> list[Message]:
    return rows(session, Message, kind=MessageKind.AUTO_REPLY)


def pages(session: Session) -> list[Message]:
    return rows(session, Message, kind=MessageKind.PAGE)
