"""The one small interface every channel adapter implements.

An adapter turns an `OutboundMessage` into a provider request and returns a `Receipt`,
or raises `DeliveryError` saying whether the failure is permanent, transient (surely
not processed: safe to retry) or in doubt (the provider may have accepted it: reconcile
with `find_sent` before any retry). A retry policy, not the adapter, decides what next.

Adapters are listed in one explicit registry of dotted paths, chosen by settings and
imported lazily, so the twilio SDK is only loaded when Twilio is configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from service.domain import Channel

if TYPE_CHECKING:
    from service.config import Settings


@dataclass(frozen=True)
class OutboundMessage:
    message_id: int
    channel: Channel
    to: str
    body: str
    subject: str | None = None
    html: str | None = None
    from_: str | None = None  # the clinic's sender number or email, else the default
    messaging_service_sid: str | None = None
    status_callback: str | None = None  # overrides the adapter's default callback URL
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Receipt:
    provider: str
    provider_id: str
    # The hand-off is itself the delivery, so no receipt will follow: the console
    # adapter's log is the handset. Real providers report delivery later (callbacks).
    delivered: bool = False


class DeliveryError(Exception):
    """A send did not succeed. Exactly one of three kinds:

    - permanent: sending again cannot work (invalid number, unsubscribed, SMTP 5xx);
    - in_doubt: the request may have been processed (HTTP 5xx, read timeout after the
      request left); reconcile with the provider before any retry;
    - otherwise transient and surely not processed (429, connection refused, SMTP 4xx);
      `retry_after` is the provider's hint in seconds, if it gave one.
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        in_doubt: bool = False,
        provider_code: str | None = None,
        retry_after: float | None = None,
        opted_out: bool = False,
        not_mobile: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.in_doubt = in_doubt
        self.provider_code = provider_code
        self.retry_after = retry_after
        self.opted_out = opted_out  # the recipient unsubscribed at the carrier (21610)
        self.not_mobile = not_mobile  # the number cannot receive SMS (21614)

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.reason!r}, permanent={self.permanent}, "
            f"in_doubt={self.in_doubt}, provider_code={self.provider_code!r})"
        )


class ChannelAdapter(Protocol):
    name: str

    def send(self, message: OutboundMessage) -> Receipt: ...

    def find_sent(self, *, to: str, since: datetime, body: str, message_id: int) -> Receipt | None:
        """For an in-doubt send: the provider's receipt if it accepted it, else None."""
        ...


# One line per provider; a new provider is one file plus one line here.
ADAPTERS: dict[tuple[Channel, str], str] = {
    (Channel.SMS, "console"): "service.channels.console:ConsoleAdapter",
    (Channel.EMAIL, "console"): "service.channels.console:ConsoleAdapter",
    (Channel.SMS, "twilio"): "service.channels.twilio_sms:TwilioSmsAdapter",
    (Channel.EMAIL, "smtp"): "service.channels.smtp_email:SmtpEmailAdapter",
}


def provider_for(settings: Settings, channel: Channel) -> str:
    return settings.sms_provider if channel == Channel.SMS else settings.email_provider


def load_adapter(settings: Settings, channel: Channel) -> ChannelAdapter:
    """Build the adapter the settings choose for `channel`, importing it lazily."""
    provider = provider_for(settings, channel)
    try:
        dotted = ADAPTERS[(Channel(channel), provider)]
    except KeyError:
        raise ValueError(f"no {channel} adapter named {provider!r}") from None
    module_name, _, class_name = dotted.partition(":")
    adapter_class = getattr(importlib.import_module(module_name), class_name)
    return adapter_class(settings=settings, channel=Channel(channel))
