"""Is the database migrated? A cheap check for every worker and CLI command.

The code's head comes from the migration files' `revision`/`down_revision` lines and the
database's revision from its alembic_version table, without importing Alembic (about two
seconds on a busy machine, paid by every worker at start-up).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from service.config import REPO_ROOT, Settings


class NotMigrated(RuntimeError):
    """The database's schema is not the one this code needs; the message is one line
    naming the database and what to run."""


def require_current(settings: Settings) -> None:
    """Raise NotMigrated unless the database is at the migrations' head.

    A missing SQLite file is reported, not created: connecting would leave an empty file.
    """
    from sqlalchemy import inspect, text

    from service.db.engine import make_engine

    where = settings.database_shown
    upgrade_hint = f"the database {where} is not migrated: run `aftercare db upgrade`"
    if settings.is_sqlite and ":///" in settings.database_url and not Path(where).exists():
        raise NotMigrated(upgrade_hint)
    known, heads = revisions()
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            current: set[str] = set()
            if inspect(connection).has_table("alembic_version"):
                rows = connection.execute(text("SELECT version_num FROM alembic_version"))
                current = {str(row[0]) for row in rows}
    finally:
        engine.dispose()
    if current == heads:
        return
    if current - known:
        raise NotMigrated(
            f"the database {where} is at revision {', '.join(sorted(current))}, which this "
            "version of aftercare does not know: run a newer version"
        )
    raise NotMigrated(upgrade_hint)


def revisions() -> tuple[set[str], set[str]]:
    """Every revision in migrations/versions and the heads (those nothing revises)."""
    known: set[str] = set()
    parents: set[str] = set()
    for path in (REPO_ROOT / "migrations" / "versions").glob("*.py"):
        values = _assignments(path, ("revision", "down_revision"))
        if isinstance(values.get("revision"), str):
            known.add(values["revision"])
            down = values.get("down_revision")
            parents.update([down] if isinstance(down, str) else list(down or ()))
    return known, known - parents


def _assignments(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    """Module-level `name = literal` (annotated or not), read without importing."""
    found: dict[str, Any] = {}
    for node in ast.parse(path.read_text()).body:
        target: ast.expr
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in names:
            found[target.id] = ast.literal_eval(value)
    return found
