"""One ``sepdesk serve`` per database: a second one would poll the same mailboxes,
fetch and move every message twice and race the first for its outbox files."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import IO

from sepdesk.errors import SepdeskError


class AlreadyServing(SepdeskError):
    """Another ``sepdesk serve`` holds the database's lock."""


def hold_serve_lock(db_path: str) -> IO[str]:
    """Take the lock beside the database for as long as the returned file stays open
    (the kernel drops it when the process ends, however it ends); raises
    :class:`AlreadyServing` naming the holder's pid when another daemon has it."""
    path = _lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    if not _take(handle, fcntl.LOCK_EX, LOCK_WAIT):
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise AlreadyServing(
            f"another sepdesk serve (pid {holder}) runs on {db_path}: one daemon per database"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


# Seconds a starting serve tries for the lock: `status` holds it shared for an instant
# when it looks whether serve runs, which must not stop a restart.
LOCK_WAIT = 2.0


def _lock_path(db_path: str) -> Path:
    return Path(f"{db_path}.serve.lock")


def _take(handle: IO[str], kind: int, wait: float) -> bool:
    """flock ``kind`` on ``handle`` within ``wait`` seconds; False when another holds it."""
    end = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle.fileno(), kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= end:
                return False
            time.sleep(0.02)


def serving_pid(db_path: str) -> int | None:
    """The pid of the ``sepdesk serve`` on this database, or None when none runs (0: one
    runs whose pid is unreadable). Reads only: no lock file is made where there is none."""
    try:
        handle = _lock_path(db_path).open("r")
    except OSError:
        return None
    with handle:
        if _take(handle, fcntl.LOCK_SH, 0.0):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None
        text = handle.read().strip()
        return int(text) if text.isdigit() else 0
