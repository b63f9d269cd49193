"""CSV lines that are safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence


def csv_line(fields: Sequence[object]) -> str:
    return csv_lines([fields])


def csv_lines(rows: Iterable[Sequence[object]]) -> str:
    """Many lines as one string: a streamed export sends one chunk per batch, not per row."""
    out = io.StringIO()
    writer = csv.writer(out)
    for fields in rows:
        writer.writerow([_no_formula(f) for f in fields])
    return out.getvalue()


def _no_formula(value: object) -> object:
    # A cell starting with = + - @ runs as a formula in spreadsheets (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
