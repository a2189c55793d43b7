"""A consistent copy of the live database with SQLite's online backup API (safe while serve writes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from sepdesk.errors import StoreError


def backup_to(db: sqlite_utils.Database, target: str | Path) -> int:
    """Copy the database to ``target`` (replaced atomically); returns the page count."""
    target = Path(target)
    tmp = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        dest = sqlite3.connect(str(tmp))
        try:
            db.conn.backup(dest, pages=1024)
            pages = int(dest.execute("PRAGMA page_count").fetchone()[0])
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
        tmp.replace(target)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"{target}: backup failed: {exc}") from None
    return pages
