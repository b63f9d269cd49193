"""`aftercare triage TEXT`: classify one patient reply and print the result."""

from __future__ import annotations

import dataclasses
import json

import typer

from service.cli.common import json_option


def triage(
    text: str = typer.Argument(..., help="The patient's reply"),
    procedure: str | None = typer.Option(
        None, help="Procedure key, e.g. thread_lift or botox", show_default=False
    ),
    day: int | None = typer.Option(
        None, min=0, help="Days since the procedure", show_default=False
    ),
    as_json: bool = json_option(),
) -> None:
    """Classify one reply: urgent, concern, normal, stop, start, help or other."""
    from service.triage import PROCEDURES, classify

    if procedure is not None and procedure not in PROCEDURES:
        raise typer.BadParameter(  # a usage error, like any bad option value (exit code 2)
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
