"""Query helpers shared by the bulk and hot paths (enrolment, the dispatcher)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Connection, any_, bindparam, func, insert, update
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


def update_rows(
    connection: Connection,
    table: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    match: Sequence[str] = ("id",),
    values: Mapping[str, Any] | None = None,
) -> int | None:
    """One UPDATE per row: SET the row's other keys (and the shared `values`) WHERE the
    row's `match` keys equal their columns. Every row has the same keys.

    PostgreSQL: one statement over `unnest()`ed array parameters, a parameter per column
    rather than per row (an executemany costs a protocol round of work per row); elsewhere
    one executemany. Returns how many rows matched, or None where the driver cannot tell.
    """
    if not rows:
        return 0
    keys = list(rows[0])
    own = [key for key in keys if key not in match]
    shared = dict(values or {})
    if connection.dialect.name == "postgresql":
        arrays = [
            bindparam(None, [row[key] for row in rows], type_=ARRAY(table.c[key].type))
            for key in keys
        ]
        given = func.unnest(*arrays).table_valued(*keys).render_derived(name="given")
        statement = (
            update(table)
            .where(*(table.c[key] == given.c[key] for key in match))
            .values({**{key: given.c[key] for key in own}, **shared})
        )
        return connection.execute(statement).rowcount
    statement = (
        update(table)
        .where(*(table.c[key] == bindparam(f"m_{key}") for key in match))
        .values({**{key: bindparam(f"v_{key}") for key in own}, **shared})
    )
    params = [
        {**{f"m_{key}": row[key] for key in match}, **{f"v_{key}": row[key] for key in own}}
        for row in rows
    ]
    result = connection.execute(statement, params)
    return result.rowcount if connection.dialect.supports_sane_multi_rowcount else None


def insert_rows(connection: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (every one with the same keys) in one go: a Core executemany, or on
    PostgreSQL one `COPY ... FROM STDIN` (psycopg), each value bound as the column's type
    binds it in an INSERT. COPY writes a bulk enrolment's rows at ~1.5x the executemany's
    rate with less client CPU: no statement per row to pipeline (BENCHMARKS.md, Enrolment)."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), list(rows))
        return
    dialect = connection.dialect
    keys = list(rows[0])
    binds = [table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys]
    quote = dialect.identifier_preparer.quote
    statement = (
        f"COPY {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(key) for key in keys)}) FROM STDIN"
    )
    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = [row[key] for key in keys]
            copy.write_row([b(v) if b else v for v, b in zip(values, binds, strict=True)])
