"""Query helpers shared by the bulk and hot paths."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Connection, any_, bindparam
from sqlmodel import Session


def one_of(bind: Session | Connection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL `column = ANY(:array)`, one parameter.

    An IN list makes a new statement text per length (and, past a few dozen values, one
    too long for psycopg's cache), which psycopg parses client-side every time and the
    server plans every time; an array parameter keeps one prepared statement per query.
    """
    dialect = bind.dialect if isinstance(bind, Connection) else bind.get_bind().dialect
    if dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))
