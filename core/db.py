"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from django.db import connection, models


@lru_cache(maxsize=32)
def _insert_sql(table: str, columns: tuple[str, ...], conflict: tuple[str, ...], returning: str) -> str:
    quote = connection.ops.quote_name
    names = ", ".join(quote(name) for name in columns)
    placeholders = ", ".join(["%s"] * len(columns))
    target = ", ".join(quote(name) for name in conflict)
    return (
        f"INSERT INTO {quote(table)} ({names}) VALUES ({placeholders}) "  # noqa: S608 (names are ours)
        f"ON CONFLICT ({target}) DO NOTHING RETURNING {quote(returning)}"
    )


def insert_or_skip(
    *, model: type[models.Model], values: Mapping[str, Any], conflict: Sequence[str], returning: str
) -> Any | None:
    """`INSERT … ON CONFLICT (conflict) DO NOTHING RETURNING returning`, one statement: the
    `returning` column of the new row, or None when a row with the same `conflict` columns is
    there already.

    Where a unique row is the guard (an event stored once, a fulfillment made once, a wake-up
    row), this is the whole check: no exception and no savepoint to roll back for the loser, and
    no lock taken on the existing row, so concurrent callers do not wait for each other. In
    autocommit the statement is its own transaction; inside a caller's it is part of it.

    `values` maps column names to values; every column the table requires must be in it (no
    model defaults are applied)."""
    sql = _insert_sql(model._meta.db_table, tuple(values), tuple(conflict), returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, list(values.values()))
        row = cursor.fetchone()
    return None if row is None else row[0]
