"""`aftercare senders list|update`: the numbers and addresses messages leave from, and
the rate each is paced at (service.senders)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from service.cli.common import command_group, db_session, emit, fail, json_option, settings

if TYPE_CHECKING:
    from service.db.models import Sender

app = command_group("Senders: the numbers and addresses messages leave from, and their rates.")
ACTOR = "cli"
KIND_HELP = (
    "long_code, toll_free, short_code, messaging_service or email: its default rate "
    "applies unless --rate is given"
)


def _details(sender: Sender, clinics: int) -> dict[str, Any]:
    return {
        "id": sender.id, "channel": sender.channel, "address": sender.address,
        "kind": sender.kind, "rate_per_second": sender.rate_per_second,
        "burst": sender.burst, "clinics": clinics,
    }  # fmt: skip


@app.command("list")
def list_senders(as_json: bool = json_option()) -> None:
    """Every sender: channel, address, kind, rate (messages/s; none: not paced), burst,
    and how many clinics send from it as their own. The service's default senders
    (TWILIO_FROM / TWILIO_MESSAGING_SERVICE_SID, EMAIL_FROM) are listed too."""
    from service import senders
    from service.domain import Channel

    defaults = senders.Defaults.from_settings(settings())
    with db_session() as session:
        for channel, address in ((Channel.SMS, defaults.sms), (Channel.EMAIL, defaults.email)):
            if address:
                senders.ensure(session, channel, address)
        items = [_details(sender, n) for sender, n in senders.list_senders(session)]
    if as_json:
        emit({"senders": items}, as_json=True)
        return
    for item in items:
        rate = "not paced" if item["rate_per_second"] is None else f"{item['rate_per_second']:g}/s"
        typer.echo(f"{item['channel']:<6} {item['address']:<36} {item['kind']:<18} "
                   f"{rate:<12} burst {item['burst']:<5} clinics {item['clinics']}")  # fmt: skip


@app.command("update")
def update_sender(
    address: str = typer.Argument(..., help="E.164 number, Messaging Service SID or email"),
    channel: str = typer.Option("sms", help="sms or email"),
    rate: float | None = typer.Option(None, help="Messages per second at most (all workers)"),
    burst: int | None = typer.Option(None, help="Messages that may leave back to back"),
    kind: str | None = typer.Option(None, help=KIND_HELP),
    unpaced: bool = typer.Option(False, "--unpaced", help="Do not pace this sender at all"),
    as_json: bool = json_option(),
) -> None:
    """Set a sender's rate, burst or kind (made with its kind's defaults if new)."""
    from service import senders

    if channel not in ("sms", "email"):
        fail(f"--channel: sms or email, not {channel!r}")
    changes = senders.SenderChanges(
        kind=kind, rate_per_second=rate, burst=burst, paced=False if unpaced else None
    )
    with db_session() as session:
        sender = senders.ensure(session, channel, address.strip())
        try:
            changed = senders.update_sender(session, sender, changes, actor=ACTOR)
        except senders.SenderError as exc:
            option = {"rate_per_second": "rate"}.get(exc.field, exc.field)
            fail(f"--{option}: {exc.message}")
        details = _details(sender, len(senders.clinics_using(session, sender)))
    emit(details | {"changed": changed}, as_json=as_json)
