"""One ``sepdesk serve`` per database: a second one would poll the same mailboxes,
fetch and move every message twice and race the first for its outbox files."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sepdesk.errors import SepdeskError


class AlreadyServing(SepdeskError):
    """Another ``sepdesk serve`` holds the database's lock."""


def hold_serve_lock(db_path: str) -> IO[str]:
    """Take the lock beside the database for as long as the returned file stays open
    (the kernel drops it when the process ends, however it ends); raises
    :class:`AlreadyServing` naming the holder's pid when another daemon has it."""
    path = Path(f"{db_path}.serve.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
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
