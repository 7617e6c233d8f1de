"""Plain executemany for batches of rows, without SQLAlchemy's per-row parameter work.

A batch of reports writes some eighty rows whose timestamps are mostly one and the same
object; SQLAlchemy would convert every value of every row in Python. Here each column's
bind processor runs once per distinct value object, and the driver gets a list of tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

_SQL: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple]] = {}


def _statement(conn: Connection, table: Table, columns: tuple[str, ...]) -> tuple[str, tuple]:
    dialect = conn.dialect
    key = (dialect.name, table.name, columns)
    cached = _SQL.get(key)
    if cached is None:
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
               f"VALUES ({', '.join(mark for _ in columns)})")
        processors = tuple(table.c[c].type._cached_bind_processor(dialect) for c in columns)
        cached = _SQL[key] = (sql, processors)
    return cached


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in one executemany."""
    if not rows:
        return
    columns = tuple(rows[0])
    sql, processors = _statement(conn, table, columns)
    memo: dict[int, Any] = {}
    converted = [(i, p) for i, p in enumerate(processors) if p is not None]
    params = []
    for row in rows:
        values = list(row.values())
        for i, processor in converted:
            value = values[i]
            if value is not None:
                values[i] = _once(memo, processor, value)
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


def _once(memo: dict[int, Any], processor, value):
    key = id(value)
    hit = memo.get(key)
    if hit is None or hit[0] is not value:
        hit = memo[key] = (value, processor(value))
    return hit[1]
