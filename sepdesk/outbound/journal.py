"""The sender's journal of mails the relay took, a small file beside the database.

The relay's 250 and the commit that marks the outbox row sent are two steps,
and between them the sender may wait for the database's write lock (another
process writing, a backup) or die: the next start sent the mail again. As
Postfix records a delivery in its queue file before it moves on, the sender
appends the outbox id to ``<database>.sent`` and fsyncs it right after the
250, which needs no database lock; before each pass (so before anything is
sent at start) the entries are folded into the outbox (sender.fold_journal)
and the file is emptied. What is left is the instant between the 250 arriving
and the fsync ending (a few milliseconds). One sender per database (the serve
lock) writes it.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sepdesk.config import Settings

log = logging.getLogger("sepdesk.sender")


@dataclass(frozen=True)
class Taken:
    """One mail the relay took: its outbox id, when, the recipients it refused meanwhile."""

    outbox_id: int
    at: str  # as stored (sepdesk.instants.to_db)
    refused: dict[str, tuple[int, str]]
    # The mail's own Message-ID: an outbox id alone named another mail after a restore
    # from a backup (the ids are handed out again), which was then marked sent unsent
    # (review finding). "" in lines written before it was kept: the id alone then.
    message_id: str = ""


def journal_path(settings: Settings) -> Path:
    return Path(f"{settings.database.path}.sent")


def note(settings: Settings, taken: Taken) -> bool:
    """Append ``taken`` and make it durable; False (logged) when the file cannot be written:
    the record in the database is then all there is, as before the journal."""
    path = journal_path(settings)
    line = json.dumps(
        {"id": taken.outbox_id, "at": taken.at, "refused": taken.refused, "mid": taken.message_id}
    )
    try:
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:  # the file's name must survive a crash too
            sync_folder(path.parent)
    except OSError as exc:
        log.warning(
            "outbox #%s: cannot note in %s that the relay took it (%s); a crash before its"
            " record would send it again",
            taken.outbox_id,
            path,
            exc.strerror or exc,
        )
        return False
    return True


def sync_folder(folder: Path) -> None:
    """Make a folder's new or renamed entries durable (its own fsync)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def entries(settings: Settings) -> list[Taken]:
    """What the journal holds. A line cut short (the crash came during its write, before
    its fsync ended) is left out: that mail was never noted."""
    try:
        text = journal_path(settings).read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines(keepends=True):
        try:
            if not line.endswith("\n"):
                raise ValueError("cut short")
            item = json.loads(line)
            refused = {a: (int(c), str(m)) for a, (c, m) in item["refused"].items()}
            mid = str(item.get("mid", ""))
            found.append(Taken(int(item["id"]), str(item["at"]), refused, mid))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("%s: line left out: %r", journal_path(settings), line[:80])
    return found


def empty(settings: Settings) -> None:
    """Empty the journal once its entries are committed. Not flushed: entries that come
    back after a crash name mails recorded already, which folding skips."""
    path = journal_path(settings)
    if path.exists():
        os.truncate(path, 0)
