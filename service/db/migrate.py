"""Run Alembic migrations from code (the CLI's `db upgrade`, `serve` on the embedded default)."""

from __future__ import annotations

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
