"""`InboundReply`: one patient reply in our own words, whatever channel it came on."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.domain import Channel

MAX_BODY_CHARS = 20_000  # far above SMS's 1,600; bounds what a stray email can store


@dataclass(frozen=True)
class InboundReply:
    """A parsed reply, before it is matched to a patient.

    `text` is what the patient wrote and what triage reads: for email, quoted history,
    signatures and disclaimers are already stripped. `body` is the full text as
    received, kept for staff review.
    """

    provider_id: str  # unique per provider message: replays are recognised by it
    channel: Channel
    from_address: str
    to_address: str | None
    body: str
    text: str
    media_urls: tuple[str, ...] = field(default_factory=tuple)
    subject: str | None = None
    unstripped_text: str | None = None  # email: the latest reply incl. its signature
    automated: bool = False  # an out-of-office or other auto-reply: never answered

    @property
    def is_empty(self) -> bool:
        return not self.text.strip() and not self.media_urls
