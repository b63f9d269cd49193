"""What every CLI command shares: settings, a database session, output helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from sqlmodel import Session

from service.config import Settings, SettingsError, load_settings
from service.db.engine import make_engine, session_scope


def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


@contextmanager
def db_session() -> Iterator[Session]:
    engine = make_engine(settings())
    try:
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def emit(data: dict[str, Any], *, as_json: bool) -> None:
    """Print what a command made: one JSON object, or `key: value` lines."""
    if as_json:
        typer.echo(json.dumps(data, default=str))
        return
    for key, value in data.items():
        typer.echo(f"{key}: {value}")
