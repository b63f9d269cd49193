"""`aftercare db ...`: schema migrations."""

from __future__ import annotations

import typer

from service.cli.common import settings
from service.db import migrate

app = typer.Typer(help="Database schema (Alembic migrations in migrations/).", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    migrate.upgrade(settings(), revision)
    typer.echo(f"database at {revision}")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base")) -> None:
    """Revert migrations down to REVISION."""
    migrate.downgrade(settings(), revision)
    typer.echo(f"database at {revision}")
