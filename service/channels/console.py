"""The embedded default: records and logs each message, sends nothing anywhere.

Writing the message to the log is its delivery, so the receipt says so at once and the
dispatcher records `delivered` (a console delivery receipt): a development install's
charts and logs then look like a real one's, not "0 delivered".
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from service.channels.base import OutboundMessage, Receipt
from service.domain import Channel
from service.logs import kv

if TYPE_CHECKING:
    from service.config import Settings

log = logging.getLogger(__name__)

# Shared by every console adapter in the process, so the dashboard and tests see what
# "went out" whichever adapter instance sent it. Bounded: it is a recent-history view.
_SENT: list[tuple[OutboundMessage, Receipt]] = []
_LOCK = threading.Lock()
_KEEP = 1000


class ConsoleAdapter:
    name = "console"
    can_find_sent = True  # it remembers what it recorded

    def __init__(self, *, settings: Settings | None = None, channel: Channel = Channel.SMS) -> None:
        self.channel = channel

    def send(self, message: OutboundMessage) -> Receipt:
        receipt = Receipt(
            provider=self.name, provider_id=f"console-{uuid.uuid4().hex}", delivered=True
        )
        with _LOCK:
            _SENT.append((message, receipt))
            del _SENT[:-_KEEP]
        log.info(kv("console.send", message_id=message.message_id, channel=message.channel))
        log.debug(kv("console.body", message_id=message.message_id, body=repr(message.body)))
        return receipt

    def find_sent(self, *, to: str, since: datetime, body: str, message_id: int) -> Receipt | None:
        with _LOCK:
            for sent, receipt in reversed(_SENT):
                if sent.message_id == message_id:
                    return receipt
        return None


def sent_messages() -> list[tuple[OutboundMessage, Receipt]]:
    """What the console adapters recorded, oldest first (for the dashboard and tests)."""
    with _LOCK:
        return list(_SENT)


def clear_sent() -> None:
    with _LOCK:
        _SENT.clear()
