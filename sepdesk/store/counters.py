"""Sequential identifiers per year: T-YYYY-NNNNNN tickets and C-YYYY-NNNNN Call IDs.

Called inside the caller's write transaction, so a rolled-back ticket does
not use up its number.
"""

from __future__ import annotations

import sqlite_utils

FORMATS = {"ticket": "T-{year}-{n:06d}", "call": "C-{year}-{n:05d}"}


def next_value(db: sqlite_utils.Database, name: str, year: int) -> int:
    row = db.execute(
        "INSERT INTO counters(name, year, value) VALUES (?, ?, 1) "
        "ON CONFLICT(name, year) DO UPDATE SET value = value + 1 RETURNING value",
        [name, year],
    ).fetchone()
    return int(row[0])


def next_id(db: sqlite_utils.Database, name: str, year: int) -> str:
    return FORMATS[name].format(year=year, n=next_value(db, name, year))


class CounterBlock:
    """Identifiers handed out from memory for one write transaction, stored by :meth:`save`.

    For bulk writers: one read per (name, year) and one write at the end instead of an
    upsert per identifier. Only valid while the caller holds the write transaction from
    the first :meth:`next_id` to :meth:`save` (no other writer can take numbers meanwhile);
    rolled back with it, so nothing is used up when the transaction fails.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._values: dict[tuple[str, int], int] = {}

    def next_id(self, name: str, year: int) -> str:
        key = (name, year)
        if key not in self._values:
            row = self.db.execute(
                "SELECT value FROM counters WHERE name = ? AND year = ?", [name, year]
            ).fetchone()
            self._values[key] = int(row[0]) if row else 0
        self._values[key] += 1
        return FORMATS[name].format(year=year, n=self._values[key])

    def save(self) -> None:
        """Store the last value handed out per (name, year); call before the commit."""
        self.db.conn.executemany(
            "INSERT INTO counters(name, year, value) VALUES (?, ?, ?) "
            "ON CONFLICT(name, year) DO UPDATE SET value = excluded.value",
            [(name, year, value) for (name, year), value in self._values.items()],
        )
