"""CSV lines that are safe to open in a spreadsheet (OWASP's CSV-injection guidance).

Exports carry text from outside: patients' SMS bodies, staff's reasons and notes,
provider error texts. Every cell is wrapped in double quotes (inner quotes doubled, so a
comma or quote cannot start a new cell), and a text cell that a spreadsheet could read
as a formula gets a leading single quote. That is any cell starting with = + - @, a tab,
a carriage return or a line feed, the same after leading spaces or other invisible
characters, and their full-width or small forms (U+FF1D, U+FF0B, U+FE66...), which spreadsheets
fold to the ASCII ones.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence

_FORMULA_STARTS = frozenset("=+-@\t\r\n")
# Characters a spreadsheet skips before deciding what a cell is.
_SKIPPED = (" \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
            "\u200a\u200b\u202f\u205f\u3000\ufeff")  # fmt: skip


def csv_line(fields: Sequence[object]) -> str:
    return csv_lines([fields])


def csv_lines(rows: Iterable[Sequence[object]]) -> str:
    """Many lines as one string: a streamed export sends one chunk per batch, not per row."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for fields in rows:
        writer.writerow([neutralise(f) for f in fields])
    return out.getvalue()


def neutralise(value: object) -> object:
    """The cell as a spreadsheet will show it as text, never run it as a formula."""
    if value is None:
        return ""
    if isinstance(value, str) and _could_be_formula(value):
        return "'" + value
    return value


def _could_be_formula(value: str) -> bool:
    if value and unicodedata.category(value[0]) in ("Cc", "Cf"):  # tab, CR, LF, NUL, BOM...
        return True
    rest = value.lstrip(_SKIPPED)
    return bool(rest) and unicodedata.normalize("NFKC", rest[0])[:1] in _FORMULA_STARTS
