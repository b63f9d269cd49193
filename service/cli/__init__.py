"""The `aftercare` command line (DESIGN §4, contract).

`aftercare --help` must answer in well under a second, so this module and every command
module import only typer and the standard library at the top (see service.cli.common).
"""

from __future__ import annotations

import typer

from service.cli import (  # noqa: F401 (user_admin adds commands to users and apikeys)
    accounts,
    clinics,
    db,
    enrol,
    messages,
    plans,
    senders,
    simulate,
    triage,
    user_admin,
    worker,
)
from service.cli.common import announce_database, ready_database, settings

app = typer.Typer(
    help="Aftercare messaging for cosmetic and aesthetic clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(db.app, name="db")
app.add_typer(clinics.app, name="clinics")
app.add_typer(accounts.users, name="users")
app.add_typer(accounts.apikeys, name="apikeys")
app.add_typer(plans.app, name="plans")
app.add_typer(senders.app, name="senders")
app.add_typer(messages.app, name="messages")
app.add_typer(simulate.app, name="simulate")
app.command("worker")(worker.worker)
app.command("triage")(triage.triage)
app.command("enrol")(enrol.enrol_command)
app.command("import", help=enrol.IMPORT_HELP)(enrol.import_command)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
) -> None:
    """Web UI, REST API, webhooks and the scheduler in one process."""
    import uvicorn

    from service.api.app import create_app
    from service.logs import configure_logging

    config = settings()
    configure_logging(config.log_level, json_output=config.log_json)
    announce_database(config)
    ready_database(config)
    uvicorn.run(create_app(config), host=host, port=port, log_config=None)


def main() -> None:
    app()
