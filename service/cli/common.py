"""What every CLI command shares: settings, a database session, output helpers.

Imports stay light here and in every command module: `aftercare --help` loads each of
them, and pydantic, SQLAlchemy or the triage lexicon would cost seconds. Heavy modules
are imported inside the commands that use them.

One wording for every command's errors: `error: <what>: <why>` on stderr, exit code 1.
One date format for every command's output: ISO 8601 in UTC, `2026-03-02T15:00:00Z`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from service.config import Settings

JSON_HELP = "Print one JSON object"


def command_group(help: str) -> typer.Typer:
    """A sub-command group with the CLI's shared behaviour: plain help (which shows
    flags such as --json as flags), no pretty tracebacks, help when called bare."""
    return typer.Typer(
        help=help, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False
    )


def json_option() -> Any:
    return typer.Option(False, "--json", help=JSON_HELP)


def settings() -> Settings:
    from service.config import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


@contextmanager
def db_session() -> Iterator[Session]:
    """A unit of work on a database that is migrated (else one line saying so)."""
    from service.db.engine import make_engine, session_scope

    config = settings()
    require_migrated(config)
    engine = make_engine(config)
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def clinic_id_of(session: Session, clinic: str | None) -> int | None:
    """The `--clinic` option (a slug or an id) as an id, None when not given."""
    if clinic is None:
        return None
    from service.clinics import find_clinic

    found = find_clinic(session, clinic)
    if found is None:
        fail(f"--clinic: no clinic {clinic!r}")
    return found.id


def ready_database(config: Settings) -> None:
    """`serve` and `worker`: the embedded default (SQLite) migrates itself; any other
    database must have been migrated (`aftercare db upgrade`). Alembic is imported only
    when there is something to apply: its imports cost a process start about a second
    of CPU, and every worker start would pay it."""
    from service.db.revision import NotMigrated, require_current

    if not config.is_sqlite:
        require_migrated(config)
        return
    try:
        require_current(config)
    except NotMigrated:
        from service.db import migrate

        migrate.upgrade(config)


def require_migrated(config: Settings) -> None:
    from service.db.revision import NotMigrated, require_current

    try:
        require_current(config)
    except NotMigrated as exc:
        fail(str(exc))


def announce_database(config: Settings) -> None:
    """`serve` and `worker` say which database they use before anything else."""
    typer.echo(f"aftercare: database {config.database_shown}", err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def when(value: datetime | None) -> str | None:
    """The CLI's one date format: ISO 8601, UTC, to the second."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def emit(data: dict[str, Any], *, as_json: bool) -> None:
    """Print what a command made: one JSON object, or `key: value` lines."""
    data = {key: when(value) if isinstance(value, datetime) else value
            for key, value in data.items()}  # fmt: skip
    if as_json:
        typer.echo(json.dumps(data, default=str))
        return
    for key, value in data.items():
        typer.echo(f"{key}: {'' if value is None else value}")
