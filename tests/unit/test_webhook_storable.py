"""storable(): a reply made safe for the database keeps its types (a str enum stays one)."""

from __future__ import annotations

from service.api.routers.webhooks_inbound import storable
from service.domain import Channel
from service.inbound.reply import InboundReply


def test_a_stored_reply_keeps_its_channel_and_loses_its_nul_bytes() -> None:
    reply = InboundReply(
        provider_id="SM1",
        channel=Channel.SMS,
        from_address="+14155550100",
        to_address="+14155550199",
        body="my lip\x00 is white",
        text="my lip\x00 is white",
    )
    stored = storable(reply)
    assert stored.channel is Channel.SMS  # matching compares it by .value
    assert stored.body == "my lip is white"
