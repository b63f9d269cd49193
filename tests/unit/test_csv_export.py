"""CSV exports follow OWASP's CSV-injection guidance: no cell runs as a formula."""

from __future__ import annotations

import csv
import io

import pytest

from service.web.csvout import csv_line, csv_lines

DANGEROUS = [
    "=1+2",
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\t=cmd|' /C calc'!A0",
    "\r=1+1",
    "\n=1+1",
    " =1+1",
    "   @SUM(A1)",
    "\u00a0=1",
    "\u3000=1",  # ideographic space
    "\ufeff=1",  # byte order mark
    "\uff1d1+1",  # full-width =
    "\uff0b1",  # full-width +
    "\uff0d1",  # full-width -
    "\uff20SUM(A1)",  # full-width @
    "\ufe661+1",  # small equals sign
    "\x00=1",
]
HARMLESS = ["ok", "Call us on 555 0100", "", "1.5", "a=b", "#3", "O'Brien"]


def read(line: str) -> list[str]:
    return next(csv.reader(io.StringIO(line)))


@pytest.mark.parametrize("value", DANGEROUS)
def test_a_cell_a_spreadsheet_could_run_starts_with_a_quote(value):
    assert read(csv_line([value])) == ["'" + value]


@pytest.mark.parametrize("value", HARMLESS)
def test_ordinary_text_is_unchanged(value):
    assert read(csv_line([value])) == [value]


def test_every_cell_is_quoted_and_quotes_are_doubled():
    line = csv_line(['say "hi"', 3, None, 'x",=1+1'])
    assert line == '"say ""hi""","3","","x"",=1+1"\r\n'
    assert read(line) == ['say "hi"', "3", "", 'x",=1+1']  # one cell: no new cell starts


def test_many_lines_at_once():
    text = csv_lines([["=a"], ["b"]])
    assert list(csv.reader(io.StringIO(text))) == [["'=a"], ["b"]]
