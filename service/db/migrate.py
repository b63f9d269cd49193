"""Run Alembic migrations from code (the CLI's `db upgrade`, `serve` on the embedded default)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from service.config import REPO_ROOT, Settings


def alembic_config(settings: Settings) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["database_url"] = settings.database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def check(settings: Settings) -> None:
    """Raise if the models and the migration head disagree (alembic check)."""
    command.check(alembic_config(settings))


class NotMigrated(RuntimeError):
    """The database's schema is not the one this code needs; the message is one line
    naming the database and what to run."""


def require_current(settings: Settings) -> None:
    """Raise NotMigrated unless the database is at the migrations' head.

    A missing SQLite file is reported, not created: connecting would leave an empty file.
    """
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from service.db.engine import make_engine

    where = settings.database_shown
    upgrade_hint = f"the database {where} is not migrated: run `aftercare db upgrade`"
    if settings.is_sqlite and ":///" in settings.database_url and not Path(where).exists():
        raise NotMigrated(upgrade_hint)
    script = ScriptDirectory.from_config(alembic_config(settings))
    heads = set(script.get_heads())
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    if current == heads:
        return
    known = {revision.revision for revision in script.walk_revisions()}
    if current - known:
        raise NotMigrated(
            f"the database {where} is at revision {', '.join(sorted(current))}, which this "
            "version of aftercare does not know: run a newer version"
        )
    raise NotMigrated(upgrade_hint)
