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
