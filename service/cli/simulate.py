"""`aftercare simulate reply --from PHONE TEXT`: try the service without a phone.

It posts a correctly signed inbound SMS to a running service, exactly as Twilio would, so
triage, alerts, pages and the inbox can be seen on the embedded default. The signature
uses TWILIO_AUTH_TOKEN, which must be the same as the running service's.
"""

from __future__ import annotations

import typer

from service.cli.common import command_group, emit, fail, json_option, settings

app = command_group("Try the service without a phone.")


@app.command("reply")
def reply(
    text: str = typer.Argument(..., help="What the patient texts"),
    sender: str = typer.Option(..., "--from", help="The patient's mobile number"),
    to: str | None = typer.Option(
        None, help="The clinic's number written to (default: TWILIO_FROM; else matched by patient)"
    ),
    url: str | None = typer.Option(
        None, help="The running service (default: PUBLIC_BASE_URL)", show_default=False
    ),
    as_json: bool = json_option(),
) -> None:
    """Post a signed inbound text to a running service, as Twilio would."""
    from service.channels.twilio_webhooks import SimulationError, post_simulated_sms
    from service.patients import PatientError, normalise_phone

    config = settings()
    token = config.twilio_auth_token.get_secret_value() if config.twilio_auth_token else ""
    if not token:
        fail("TWILIO_AUTH_TOKEN is not set: set the same value for the service and this command")
    try:
        phone, _ = normalise_phone(sender, region=config.default_phone_region)
    except PatientError as exc:
        fail(f"--from: {exc.message}")
    base = (url or config.public_base_url).rstrip("/")
    try:
        sid = post_simulated_sms(base_url=base, auth_token=token, sender=phone,
                                 to=to or config.twilio_from or "", body=text)  # fmt: skip
    except SimulationError as exc:
        fail(f"--url: {exc}")
    emit({"sent_to": base, "from": phone, "message_sid": sid}, as_json=as_json)
