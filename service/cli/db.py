"""`aftercare db ...`: schema migrations and backups."""

from __future__ import annotations

from pathlib import Path

import typer

from service.cli.common import command_group, emit, fail, json_option, settings

app = command_group("Database: migrations (Alembic, in migrations/) and backups.")


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from service.db import migrate

    config = settings()
    migrate.upgrade(config, revision)
    typer.echo(f"database {config.database_shown} at {revision}")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base")) -> None:
    """Revert migrations down to REVISION."""
    from service.db import migrate

    config = settings()
    migrate.downgrade(config, revision)
    typer.echo(f"database {config.database_shown} at {revision}")


@app.command("backup")
def backup(
    target: Path = typer.Argument(..., help="File to write the copy to (must not exist)"),
    as_json: bool = json_option(),
) -> None:
    """Copy the SQLite database while the service runs (SQLite's online backup).

    The copy is consistent even while messages are being sent. On PostgreSQL this prints
    the pg_dump command to use instead.
    """
    from service.db.backup import BackupError, backup_sqlite, pg_dump_hint

    config = settings()
    if not config.is_sqlite:
        fail(f"the database is PostgreSQL: back it up with {pg_dump_hint(config.database_url)}")
    try:
        result = backup_sqlite(config.database_shown, target)
    except BackupError as exc:
        fail(str(exc))
    emit({"database": config.database_shown, "backup": str(result.path),
          "bytes": result.size, "messages": result.messages}, as_json=as_json)  # fmt: skip
