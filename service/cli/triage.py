"""`aftercare triage TEXT`: classify one patient reply and print the result."""

from __future__ import annotations

import dataclasses
import json

import typer

from service.triage import PROCEDURES, classify


def triage(
    text: str = typer.Argument(..., help="The patient's reply"),
    procedure: str | None = typer.Option(
        None, help=f"Procedure key: {', '.join(PROCEDURES)}", show_default=False
    ),
    day: int | None = typer.Option(
        None, min=0, help="Days since the procedure", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Classify one reply: urgent, concern, normal, stop, start, help or other."""
    if procedure is not None and procedure not in PROCEDURES:
        raise typer.BadParameter(
            f"unknown procedure {procedure!r}; use one of {', '.join(PROCEDURES)}",
            param_hint="--procedure",
        )
    result = classify(text, procedure=procedure, day=day)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(result), ensure_ascii=False))
        return
    typer.echo(result.label)
    for match in result.matches:
        typer.echo(f"  {match}")
