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
    """Insert `rows` (every one with the same keys) in one go, each value bound as the
    column's type binds it in an INSERT, column defaults filled in as an INSERT fills
    them: on PostgreSQL one `COPY ... FROM STDIN` (psycopg), on SQLite the driver's
    executemany of plain tuples, elsewhere a Core executemany.

    COPY writes a bulk enrolment's rows at ~1.5x the executemany's rate with less client
    CPU; on SQLite the Core executemany spent a third of its time building each row's
    parameters (per-row dict, key lookups) around the driver's own insert
    (BENCHMARKS.md, Enrolment)."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":
        _copy(connection, table, rows)
    elif dialect == "sqlite" and not _python_defaults(table, rows[0], callable_=True):
        _sqlite_executemany(connection, table, rows)
    else:
        connection.execute(insert(table), list(rows))


def _python_defaults(table: Any, row: Mapping[str, Any], *, callable_: bool) -> dict[str, Any]:
    """The columns missing from `row` that an INSERT would fill from a Python-side
    default: scalar ones with their value, or (`callable_`) the callable ones."""
    found: dict[str, Any] = {}
    for column in table.c:
        default = column.default
        if column.key in row or default is None or default.is_sequence:
            continue
        if default.is_scalar != callable_:
            found[column.key] = default.arg
    return found


def _sqlite_executemany(
    connection: Connection, table: Any, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Column by column: each column's values through its bind processor (once per
    distinct value object: rows share instants, `now`, None, a step's context), then
    the driver's executemany of tuples, in the connection's transaction."""
    dialect = connection.dialect
    keys = list(rows[0])
    filled = _python_defaults(table, rows[0], callable_=False)
    names = keys + list(filled)
    columns = [[row[key] for row in rows] for key in keys]
    columns += [[value] * len(rows) for value in filled.values()]
    bound = [
        _bound(values, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name, values in zip(names, columns, strict=True)
    ]
    quote = dialect.identifier_preparer.quote
    statement = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(name) for name in names)}) VALUES ({', '.join('?' * len(names))})"
    )
    driver: Any = connection.connection.driver_connection
    driver.executemany(statement, zip(*bound, strict=True))


def _bound(values: Sequence[Any], process: Any) -> Sequence[Any]:
    """`values` through `process`, once per distinct object: the rows hold every value
    for the whole call, so an id is never reused meanwhile."""
    if process is None:
        return values
    distinct = {id(value): value for value in values}
    done = {key: process(value) for key, value in distinct.items()}
    return [done[id(value)] for value in values]


def _copy(connection: Connection, table: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    dialect = connection.dialect
    keys = list(rows[0])
    binds = [table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys]
    quote = dialect.identifier_preparer.quote
    statement = (
        f"COPY {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(key) for key in keys)}) FROM STDIN"
    )
    # Bound column by column, like the SQLite executemany (each distinct value once).
    columns = [
        _bound([row[key] for row in rows], bind) for key, bind in zip(keys, binds, strict=True)
    ]
    driver: Any = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for values in zip(*columns, strict=True):
            copy.write_row(values)
