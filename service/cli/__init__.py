"""The `aftercare` command line (DESIGN §4, contract)."""

from __future__ import annotations

import typer

from service.cli import accounts, db, enrol, plans, triage, worker
from service.cli.common import settings
from service.logs import configure_logging

app = typer.Typer(
    help="Aftercare messaging for cosmetic and aesthetic clinics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(accounts.clinics, name="clinics")
app.add_typer(accounts.users, name="users")
app.add_typer(accounts.apikeys, name="apikeys")
app.add_typer(plans.app, name="plans")
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
    from service.db import migrate

    config = settings()
    configure_logging(config.log_level, json_output=config.log_json)
    if config.is_sqlite:
        migrate.upgrade(config)  # the embedded default migrates itself
    uvicorn.run(create_app(config), host=host, port=port, log_config=None)


def main() -> None:
    app()
