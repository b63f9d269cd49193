"""Backups of the embedded SQLite database (the online backup API), and the pg_dump
command for PostgreSQL."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """The backup could not be made; the message says why."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    messages: int  # rows in the copy's outbox: a quick sign the copy is the real thing


def backup_sqlite(source: str, target: Path) -> Backup:
    """Copy `source` to `target` page by page with SQLite's backup API.

    Safe while the service writes: the copy is one consistent state of the database
    (the source stays readable and writable; pages written meanwhile are copied again).
    """
    source_path = Path(source)
    if not source_path.is_file():
        raise BackupError(f"no database at {source_path}")
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} is not a folder")
    # Read-only URI: a backup must never create or change the source.
    src = sqlite3.connect(f"{source_path.resolve().as_uri()}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        src.backup(copy, pages=1024)
        messages = copy.execute("SELECT count(*) FROM messages").fetchone()[0]
    except sqlite3.Error as exc:
        copy.close()
        target.unlink(missing_ok=True)
        raise BackupError(f"backup failed: {exc}") from None
    finally:
        copy.close()
        src.close()
    return Backup(target, target.stat().st_size, int(messages))


def pg_dump_hint(database_url: str) -> str:
    """The pg_dump command for this database, without its password (pg_dump reads
    PGPASSWORD or ~/.pgpass)."""
    url = make_url(database_url)
    parts = ["pg_dump", "--format=custom", "--file=aftercare.dump"]
    if url.host:
        parts.append(f"--host={url.host}")
    if url.port:
        parts.append(f"--port={url.port}")
    if url.username:
        parts.append(f"--username={url.username}")
    parts.append(url.database or "")
    return " ".join(parts)
