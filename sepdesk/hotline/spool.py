"""The hotline spool: CSV files dropped into ``[hotline] spool_dir`` are imported, then moved away.

A file is imported only once it has settled: the same size and mtime seen on two
passes at least ``settle_seconds`` apart (state kept in the job), so a file the
phone system is still writing is never read half. Names starting with ``.`` are
ignored: writers may create ``.name.csv`` and rename it into place when done.

After the import the file goes to ``done/``; when a row was rejected or the file
could not be read it goes to ``failed/``, with ``<name>.rejects.csv`` (the rejected
rows as they were in the file) and ``<name>.rejects.txt`` (why) beside it; for an
unreadable file only the ``.txt``, as the file itself is the rejected input. Good rows
of a file in ``failed/`` are in the database all the same. The import writes the
rejects files straight into ``failed/``, named after the place the file will get
there: every CSV in the spool is input (a rejects file the admin fixed and dropped in
is imported like any other), so none of ours may ever lie there. Rejects files already
in ``failed/`` are never overwritten: the next free name is taken. A crash between
commit and move is harmless: the next pass re-imports the file, finds every good row a
duplicate, writes the rejects anew (beside those of the first try) and moves it.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

from sepdesk.desk import Desk
from sepdesk.errors import SepdeskError, one_line
from sepdesk.hotline.importer import REJECTS_SUFFIX, free_rejects_paths, import_file
from sepdesk.store.faults import PassFaults

log = logging.getLogger(__name__)
SETTLE_SECONDS = 2.0


def is_input(path: Path) -> bool:
    """A hotline CSV to import (not a hidden file still being written). A rejects file
    is one too: the admin drops it in once its rows are fixed (README)."""
    return path.suffix.lower() == ".csv" and not path.name.startswith(".") and path.is_file()


class SpoolJob:
    """A worker job: ``job(at)`` imports every settled file and returns how many it handled."""

    def __init__(self, desk: Desk, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.desk = desk
        self.settle_seconds = settle_seconds
        # path -> (size, mtime_ns, first pass that saw this size/mtime)
        self._seen: dict[Path, tuple[int, int, datetime]] = {}
        self._failed: dict[Path, PassFaults] = {}  # files failing on their own

    @property
    def spool(self) -> Path:
        return Path(self.desk.settings.hotline.spool_dir)

    def __call__(self, at: datetime) -> int:
        self.spool.mkdir(parents=True, exist_ok=True)
        handled = 0
        present = set()
        for path in sorted(self.spool.iterdir()):
            if not is_input(path):
                continue
            present.add(path)
            if not self._settled(path, at):
                continue
            try:
                self._handle(path, at)
            except (OSError, sqlite3.Error):  # the spool's or the database's fault, not
                raise  # the file's: the job's fence logs it once and retries the pass
            except Exception as exc:  # this file's own: the files after it go on
                self._faults(path).failed(exc)
                continue
            self._seen.pop(path, None)
            if path in self._failed:
                self._failed.pop(path).worked()
            handled += 1
        for gone in set(self._seen) - present:  # removed or renamed by someone else
            del self._seen[gone]
        for gone in set(self._failed) - present:
            del self._failed[gone]
        return handled

    def _faults(self, path: Path) -> PassFaults:
        """A file that failed for a reason of its own stays in the spool, tried on each
        pass; its error is logged once, with the traceback (a bug to report)."""
        if path not in self._failed:
            self._failed[path] = PassFaults(
                f"hotline spool: {path}", ("import", "imports"), "it stays in the spool", log
            )
        return self._failed[path]

    def _settled(self, path: Path, at: datetime) -> bool:
        """True on a pass that sees the size/mtime of an earlier pass, settle_seconds ago or more."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        prev = self._seen.get(path)
        if prev is None or prev[:2] != (st.st_size, st.st_mtime_ns):
            self._seen[path] = (st.st_size, st.st_mtime_ns, at)
            return False
        return (at - prev[2]).total_seconds() >= self.settle_seconds

    def _handle(self, path: Path, at: datetime) -> None:
        """Import one file and move it; the log line names where everything now is.

        A file with rejected rows (or none imported) needs a person: WARNING. Its rejects
        files are written straight into failed/, beside the place the file goes to.
        """
        planned = _free_name(path, self.spool / "failed")
        try:
            summary = import_file(self.desk, path, at, rejects_base=planned)
        except SepdeskError as exc:
            if not path.exists():  # taken away by someone else meanwhile: nothing to move
                return
            target, why = self._move_failed(path, planned, reason=str(exc))
            log.warning("hotline spool: %s; file moved to %s, why in %s", exc, target, why)
            return
        if summary.rejected:
            target, _ = self._move_failed(path, planned)
            log.warning("hotline spool: %s; file moved to %s", summary.text(), target)
        else:
            target = _move(path, self.spool / "done")
            log.info("hotline spool: %s; file moved to %s", summary.text(), target)

    def _move_failed(
        self, path: Path, planned: Path, *, reason: str = ""
    ) -> tuple[Path, Path | None]:
        """Move the file to failed/, to ``planned`` (its rejects files' namesake) unless
        that was taken meanwhile; returns (file, reasons file).

        With a ``reason`` (the file could not be imported) that goes to a reasons file of
        its own, under a free name: one left there by an earlier import is kept.
        """
        target = _free_name(path, planned.parent) if planned.exists() else planned
        target.parent.mkdir(parents=True, exist_ok=True)
        why = None
        if reason:
            why = next(t for c, t in free_rejects_paths(target) if not (c.exists() or t.exists()))
            with why.open("x", encoding="utf-8") as f:
                f.write(f"# {path.name}: not imported\n{one_line(reason)}\n")
        shutil.move(str(path), target)
        return target, why


def spool_status(spool: Path) -> dict[str, int]:
    """For ``sepdesk status``: files waiting in the spool, and files in failed/ (each a file
    with rejected rows or unreadable, which someone has to look at and clear away; their
    rejects files beside them are not counted again)."""

    def inputs(folder: Path, *, failed: bool = False) -> int:
        try:
            found = [p for p in folder.iterdir() if is_input(p)]
        except OSError:  # not there (yet): nothing waiting, nothing failed
            return 0
        return sum(1 for p in found if not (failed and _rejects_of_a_file_beside(p)))

    return {
        "hotline_waiting": inputs(spool),
        "hotline_failed": inputs(spool / "failed", failed=True),
    }


def _rejects_of_a_file_beside(path: Path) -> bool:
    """Whether ``path`` is named as the rejects file of a file in its folder (``X.rejects.csv``
    or ``X.<n>.rejects.csv`` beside ``X``: see free_rejects_paths)."""
    if not path.name.endswith(REJECTS_SUFFIX):
        return False
    base = path.name[: -len(REJECTS_SUFFIX)]
    stem, dot, n = base.rpartition(".")
    names = [base, *([stem] if dot and n.isdigit() else [])]
    return any((path.parent / name).is_file() for name in names)


def _move(path: Path, folder: Path) -> Path:
    """Move into folder under a free name (see :func:`_free_name`)."""
    target = _free_name(path, folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    return target


def _free_name(path: Path, folder: Path) -> Path:
    """Where in folder the file goes: an existing name gets a numbered suffix, never
    overwritten."""
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    return target
