"""Reading the old platform's PostgreSQL database, table by table, as dictionaries.

Only SELECTs; the source is never written. Large tables stream through a server-side
cursor, so memory does not grow with them.
"""

from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

BATCH = 2000


class LegacySource:
    def __init__(self, dsn: str, *, progress=None) -> None:
        # progress(iterable, label, total=n) wraps each table's rows (a progress bar).
        self.progress = progress or (lambda rows, label, total=None: rows)
        self.connection = psycopg.connect(dsn, row_factory=dict_row, autocommit=False)
        self.connection.read_only = True
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
            self.tables = {row["table_name"] for row in cursor.fetchall()}

    def close(self) -> None:
        self.connection.close()

    def has(self, table: str) -> bool:
        return table in self.tables

    def count(self, table: str) -> int:
        if not self.has(table):
            return 0
        with self.connection.cursor() as cursor:
            cursor.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table)))
            return cursor.fetchone()["n"]

    def rows(self, table: str, order_by: str = "") -> Iterator[dict[str, Any]]:
        """Every row of `table` (none if the table does not exist)."""
        if not self.has(table):
            return
        # `order_by` is always one of our own literals, never input.
        order = sql.SQL(f" ORDER BY {order_by}" if order_by else "")
        query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)) + order
        total = self.count(table)
        with self.connection.cursor(name=f"read_{table}") as cursor:
            cursor.itersize = BATCH
            cursor.execute(query)
            yield from self.progress(cursor, table, total=total)
