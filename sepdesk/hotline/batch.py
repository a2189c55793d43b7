"""The rows one batch of calls writes, kept in memory and inserted table by table at its end.

Why: a new phone ticket used to cost some twenty statements (counters, events, messages,
outbox, auto-replies, the call itself, each a round trip). Here only what later rows of
the same batch must be able to read is written at once: the tickets (a row may append to
a ticket made a few rows before; the emergency rule reads Call IDs). Everything that only
points at a ticket waits in a list and goes in with a few multi-row INSERTs per table
when the batch ends, still inside the batch's write transaction.

The lists keep the order in which the rows were made, so every id comes out exactly as it
did when each row was inserted on its own: events, messages and auto-replies get theirs
from SQLite in that order; outbox ids are handed out here (max + 1 onwards, which is what
SQLite would pick) because a ticket's outgoing message must name its outbox row.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from sepdesk.outbound.outbox import QueuedMail
from sepdesk.store.counters import CounterBlock

# Insert order at flush; no table here points at another one's rows except messages ->
# outbox (ids handed out above) and every one of them -> tickets (already written).
TABLES = ("outbox", "messages", "events", "auto_replies", "hotline_calls")
SQL_VARIABLES = 999  # parameters per statement: the lowest limit an SQLite build may have


class Batch:
    """Pending rows per table, Call ID and ticket counters, outbox ids: one batch's writes."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.counters = CounterBlock(db)
        self.rows: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
        self._next_outbox_id: int | None = None

    def add(self, table: str, values: dict[str, Any]) -> None:
        self.rows[table].append(values)

    def queue_mail(self, mail: QueuedMail) -> int:
        """Queue a mail's outbox row, its ticket message and auto-reply rows; returns its id."""
        outbox_id = self._outbox_id()
        self.add("outbox", {"id": outbox_id, **mail.outbox})
        if mail.message is not None:
            self.add("messages", {**mail.message, "outbox_id": outbox_id})
        for values in mail.auto_replies:
            self.add("auto_replies", values)
        return outbox_id

    def _outbox_id(self) -> int:
        if self._next_outbox_id is None:
            top = self.db.execute("SELECT max(id) FROM outbox").fetchone()[0]
            self._next_outbox_id = int(top or 0) + 1
        self._next_outbox_id += 1
        return self._next_outbox_id - 1

    def flush(self) -> None:
        """Write the counters and every pending row; call inside the batch's transaction."""
        self.counters.save()
        for table, rows in self.rows.items():
            if rows:
                _insert_many(self.db, table, rows)
                rows.clear()


def _insert_many(db: sqlite_utils.Database, table: str, rows: list[dict[str, Any]]) -> None:
    """Multi-row INSERTs for rows that all have the keys of the first, in the same order.

    The statements sqlite-utils' ``insert_all`` builds (a third cheaper per row than an
    ``executemany`` of one-row INSERTs), without its inspection and conversion of every
    value, which took a quarter of the import's time: these rows are SQL values already.
    SQLite inserts the rows of one VALUES list in order, so ids follow the list.
    """
    cols = list(rows[0])
    per = max(1, SQL_VARIABLES // len(cols))
    marks = f"({', '.join('?' * len(cols))})"
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        values = ", ".join([marks] * len(chunk))
        params = [value for row in chunk for value in row.values()]
        db.conn.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES {values}", params)
