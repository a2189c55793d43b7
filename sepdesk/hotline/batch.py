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
from sepdesk.store import insert_rows
from sepdesk.store.counters import CounterBlock

# Insert order at flush; no table here points at another one's rows except messages ->
# outbox (ids handed out above) and every one of them -> tickets (already written).
TABLES = ("outbox", "messages", "events", "auto_replies", "hotline_calls")


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
                insert_rows(self.db, table, rows)
                rows.clear()
