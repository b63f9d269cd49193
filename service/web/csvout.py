"""CSV lines that are safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence


def csv_line(fields: Sequence[object]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([_no_formula(f) for f in fields])
    return out.getvalue()


def _no_formula(value: object) -> object:
    # A cell starting with = + - @ runs as a formula in spreadsheets (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value
