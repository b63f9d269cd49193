"""`aftercare messages retry ID`: an operator's decision on a message in review."""

from __future__ import annotations

import typer

from service.cli.common import command_group, db_session, emit, fail, json_option

app = command_group("Messages: decisions operators make on single messages.")
ACTOR = "cli"


@app.command("retry")
def retry(
    message_id: int = typer.Argument(..., help="The message's id (operator pages show it)"),
    as_json: bool = json_option(),
) -> None:
    """Send a message in review again.

    A message is in review when its send is in doubt and the provider could not confirm
    it (email cannot be looked up). Check first that it really did not arrive: retrying
    one that did sends it twice.
    """
    from service.db.types import utcnow
    from service.review import ReviewError
    from service.review import retry as retry_message

    with db_session() as session:
        try:
            message = retry_message(session, message_id, actor=ACTOR, now=utcnow())
        except ReviewError as exc:
            fail(f"message: {exc}")
        emit({"id": message.id, "status": message.status, "channel": message.channel,
              "next_attempt_at": message.next_attempt_at, "valid_until": message.valid_until},
             as_json=as_json)  # fmt: skip
