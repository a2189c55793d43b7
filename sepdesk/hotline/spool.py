"""The hotline spool: CSV files dropped into ``[hotline] spool_dir`` are imported, then moved away.

A file is imported only once it has settled: the same size and mtime seen on two
passes at least ``settle_seconds`` apart (state kept in the job), so a file the
phone system is still writing is never read half. Names starting with ``.`` are
ignored: writers may create ``.name.csv`` and rename it into place when done.

After the import the file goes to ``done/``; when a row was rejected or the file
could not be read it goes to ``failed/``, with ``<name>.rejects.csv`` (the rejected
rows as they were in the file) and ``<name>.rejects.txt`` (why) beside it; for an
unreadable file only the ``.txt``, as the file itself is the rejected input. Good rows
of a file in ``failed/`` are in the database all the same. A crash between commit and
move is harmless: the next pass re-imports the file, finds every row a duplicate,
and moves it.
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path

from sepdesk.desk import Desk
from sepdesk.errors import SepdeskError
from sepdesk.hotline.importer import (
    REASONS_SUFFIX,
    REJECTS_SUFFIX,
    ImportSummary,
    import_file,
    one_line,
    reasons_path,
    rejects_path,
)

log = logging.getLogger(__name__)
SETTLE_SECONDS = 2.0


class SpoolJob:
    """A worker job: ``job(at)`` imports every settled file and returns how many it handled."""

    def __init__(self, desk: Desk, settle_seconds: float = SETTLE_SECONDS) -> None:
        self.desk = desk
        self.settle_seconds = settle_seconds
        # path -> (size, mtime_ns, first pass that saw this size/mtime)
        self._seen: dict[Path, tuple[int, int, datetime]] = {}

    @property
    def spool(self) -> Path:
        return Path(self.desk.settings.hotline.spool_dir)

    def __call__(self, at: datetime) -> int:
        self.spool.mkdir(parents=True, exist_ok=True)
        handled = 0
        present = set()
        for path in sorted(self.spool.iterdir()):
            if not self._candidate(path):
                continue
            present.add(path)
            if self._settled(path, at):
                self._handle(path, at)
                self._seen.pop(path, None)
                handled += 1
        for gone in set(self._seen) - present:  # removed or renamed by someone else
            del self._seen[gone]
        return handled

    @staticmethod
    def _candidate(path: Path) -> bool:
        return (
            path.suffix.lower() == ".csv"
            and not path.name.startswith(".")
            and not path.name.endswith(REJECTS_SUFFIX)
            and path.is_file()
        )

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
        try:
            summary = import_file(self.desk, path, at)
        except SepdeskError as exc:
            if not path.exists():  # taken away by someone else meanwhile: nothing to move
                return
            log.warning("hotline spool: %s", exc)
            self._move_failed(path, reason=str(exc))
            return
        log.info("hotline spool: %s", summary.text())
        if summary.rejected:
            self._move_failed(path, summary=summary)
        else:
            _move(path, self.spool / "done")

    def _move_failed(
        self, path: Path, *, summary: ImportSummary | None = None, reason: str = ""
    ) -> None:
        failed = self.spool / "failed"
        target = _move(path, failed)
        if summary is None:
            with reasons_path(target).open("w", encoding="utf-8") as f:
                f.write(f"# {path.name}: not imported\n{one_line(reason)}\n")
            return
        for made, suffix in (
            (rejects_path(path), REJECTS_SUFFIX),
            (reasons_path(path), REASONS_SUFFIX),
        ):
            if made.exists():
                shutil.move(str(made), Path(str(target) + suffix))


def _move(path: Path, folder: Path) -> Path:
    """Move into folder; an existing name there gets a numbered suffix, never overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    n = 1
    while target.exists():
        target = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    shutil.move(str(path), target)
    return target
