"""A consistent copy of the live database with SQLite's online backup API (safe while serve writes)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from sepdesk.errors import StoreError


def backup_to(db: sqlite_utils.Database, target: str | Path) -> int:
    """Copy the database to ``target`` (replaced atomically); returns the page count.

    The copy is readable by its owner only (0600), whatever the umask: it holds every
    mail the desk received, and backup folders are often readable by everyone, where
    the live database sits in the service's own 0750 state directory.
    """
    target = Path(target)
    live = _live_file(db, target)
    if live is not None:
        raise StoreError(f"{target}: that is the live database ({live}); back up to another file")
    if not target.parent.is_dir():
        # Not created: a mistyped folder (/srv/bakup) reported success, and the copy sat
        # where no backup job collects it (review finding). Every other output refuses it.
        raise StoreError(f"{target}: backup failed: no folder {target.parent}")
    if target.exists() and not (target.is_file() or target.is_dir()):
        # The rename replaced it: as root, `backup /dev/null` made /dev/null a plain file
        # holding every mail. A folder fails at the rename, changing nothing.
        raise StoreError(f"{target}: backup refused: not a regular file (a device, a FIFO)")
    real = target.resolve()  # the file a symlink names is replaced, the link kept
    tmp = real.with_name(real.name + ".partial")
    try:
        tmp.unlink(missing_ok=True)
        # Created empty with its final mode first: SQLite would create it from the umask,
        # and gives its rollback journal the database file's mode.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        dest = sqlite3.connect(str(tmp))
        try:
            # All pages in one step, under one read transaction (WAL: serve writes on
            # meanwhile). In steps, every commit of another connection between two steps
            # restarted the copy from page 1: a large database under steady mail never
            # finished (160 MB, a commit every 100 ms: still copying after 20 s).
            db.conn.backup(dest)
            pages = int(dest.execute("PRAGMA page_count").fetchone()[0])
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
        tmp.replace(real)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        # The reason, not the temporary file's name beside it ("'x.partial' -> 'x'").
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise StoreError(f"{target}: backup failed: {why}") from None
    return pages


def _live_file(db: sqlite_utils.Database, target: Path) -> Path | None:
    """The database file (or its -wal, -shm) that ``target`` names, by whatever path.

    The copy replaces its target by a rename: onto the live database, under a running
    ``serve``, that left the daemon writing to the replaced file while every new
    connection read the copy with the old WAL: "database disk image is malformed".
    """
    name = db.execute("PRAGMA database_list").fetchone()[2]
    if not name:  # an in-memory database has no file to overwrite
        return None
    main = Path(name)
    for live in (main, *(main.with_name(main.name + s) for s in ("-wal", "-shm"))):
        if target.resolve() == live.resolve():
            return live
        try:
            if os.path.samefile(target, live):  # a hard link or another mount of it
                return live
        except OSError:  # one of them does not exist: not the same file
            pass
    return None
