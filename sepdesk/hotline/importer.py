"""``hotline import``: a hotline log CSV in, one outcome per row out (SPEC §3 "Hotline log CSV").

Outcomes: ``new_ticket``, ``appended`` (the row's ``ticket`` names an existing
ticket or Call ID), ``duplicate`` (this ``call_uid`` was imported before with the
same content), ``changed`` (imported before with other content: reported, not
applied — a phone log is history, and a second version must not silently rewrite
a ticket a customer was already told about), ``rejected`` (a bad row; written to
``<input>.rejects.csv`` with the input's header plus ``reason``).

Idempotence rests on ``hotline_calls``: a row's ``call_uid`` and the sha256 of its
normalised content are stored in the same transaction as its ticket and its
confirmation mail, so a crash or a second import can neither create nor send
anything twice.

The file is streamed (never loaded whole) and committed in batches of
``batch_size`` rows: one transaction per row would cost an fsync per row under
``synchronous=FULL``. Each row runs in its own savepoint, so a row that fails
half-way leaves nothing behind while the rest of its batch still commits.
Results are handed to ``on_result`` only after their batch committed.

``dry_run`` reads the database (duplicates, target tickets) but writes nothing:
no rows, no mail, no rejects file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from sepdesk.desk import Desk
from sepdesk.errors import SepdeskError
from sepdesk.hotline import calls
from sepdesk.hotline.csvrows import CallReader, CallRow
from sepdesk.instants import db_to_local, to_db
from sepdesk.pipeline.customer import contract_index
from sepdesk.pipeline.customers import ContractIndex
from sepdesk.store import write_tx
from sepdesk.tickets import store as tickets

OUTCOMES = ("new_ticket", "appended", "duplicate", "changed", "rejected")
BATCH_SIZE = 500
REJECTS_SUFFIX = ".rejects.csv"


@dataclass(frozen=True)
class RowResult:
    """One row's outcome: the per-row record of the report."""

    line: int
    call_uid: str
    outcome: str
    ticket: str | None = None
    reason: str = ""

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportSummary:
    file: str
    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    rejects_file: str | None = None

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rejected(self) -> int:
        return self.counts["rejected"]

    def text(self) -> str:
        parts = ", ".join(f"{n} {k}" for k, n in self.counts.items() if n)
        noun = "row" if self.rows == 1 else "rows"
        line = f"{self.file}: {self.rows} {noun}" + (f": {parts}" if parts else "")
        if self.dry_run:
            line += " (dry run, nothing written)"
        if self.rejects_file:
            line += f"; rejected rows in {self.rejects_file}"
        return line


def rejects_path(path: Path) -> Path:
    return Path(str(path) + REJECTS_SUFFIX)


class _Rejects:
    """The rejects file, opened on the first rejected row (none written when all rows are good)."""

    def __init__(self, path: Path, header: list[str], delimiter: str, enabled: bool) -> None:
        self.path, self.header, self.delimiter, self.enabled = path, header, delimiter, enabled
        self._file: TextIO | None = None
        self._writer: Any = None

    def add(self, row: CallRow, reason: str) -> None:
        if not self.enabled:
            return
        if self._writer is None:
            self._file = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._file, delimiter=self.delimiter)
            self._writer.writerow([*self.header, "reason"])
        cells = (row.raw + [""] * len(self.header))[: len(self.header)]
        self._writer.writerow([*cells, f"line {row.line}: {reason}"])

    def close(self) -> str | None:
        """Finish the file; a stale one from an earlier run is removed when nothing was rejected."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            return str(self.path)
        if self.enabled and self.path.exists():
            self.path.unlink()
        return None


@dataclass
class _Run:
    desk: Desk
    at: datetime
    source: str
    dry_run: bool
    index: ContractIndex
    seen: dict[str, str] = field(default_factory=dict)  # dry run only: call_uid -> digest

    def prior(self, uid: str) -> tuple[str, str | None, str] | None:
        """(digest, ticket ref, where from) of an earlier import of ``uid``."""
        if uid in self.seen:
            return self.seen[uid], None, "earlier in this file"
        row = self.desk.db.execute(
            "SELECT h.row_digest, t.call_id, t.ticket_number, h.source_file, h.imported_at"
            " FROM hotline_calls h LEFT JOIN tickets t ON t.id = h.ticket_id WHERE h.call_uid = ?",
            [uid],
        ).fetchone()
        if row is None:
            return None
        where = f"{row[3] or '?'} at {db_to_local(row[4], self.desk.tz)}"
        return row[0], row[1] or row[2], where


def import_file(
    desk: Desk,
    path: Path,
    at: datetime,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    on_result: Callable[[RowResult], None] | None = None,
) -> ImportSummary:
    """Import one hotline CSV; raises InputError when the file cannot be read at all."""
    path = Path(path)
    summary = ImportSummary(str(path), dry_run)
    run = _Run(desk, at, path.name, dry_run, contract_index(desk))
    with CallReader.open(path, desk.tz, desk.settings.hotline.columns) as reader:
        rejects = _Rejects(rejects_path(path), reader.header, reader.delimiter, not dry_run)
        try:
            for batch in _batches(reader.rows(), batch_size):
                for row, result in _run_batch(run, batch):
                    summary.counts[result.outcome] += 1
                    if result.outcome == "rejected":
                        rejects.add(row, result.reason)
                    if on_result:
                        on_result(result)
        finally:
            summary.rejects_file = rejects.close()
    return summary


def _batches(rows: Iterable[CallRow], size: int) -> Iterator[list[CallRow]]:
    it = iter(rows)
    while batch := list(islice(it, max(1, size))):
        yield batch


def _run_batch(run: _Run, batch: list[CallRow]) -> list[tuple[CallRow, RowResult]]:
    if run.dry_run:
        return [(row, _one(run, row)) for row in batch]
    with write_tx(run.desk.db):
        return [(row, _guarded(run, row)) for row in batch]


def _guarded(run: _Run, row: CallRow) -> RowResult:
    """One row in its own savepoint: our own errors reject the row, not the batch."""
    try:
        with write_tx(run.desk.db):
            return _one(run, row)
    except SepdeskError as exc:
        return RowResult(row.line, row.call_uid, "rejected", None, str(exc))


def _one(run: _Run, row: CallRow) -> RowResult:
    if not row.ok:
        return RowResult(row.line, row.call_uid, "rejected", None, row.reason)
    digest = row.digest()
    prior = run.prior(row.call_uid)
    if prior is not None:
        return _repeat(row, digest, prior)
    target = None
    if row.get("ticket"):
        target = tickets.find_opt(run.desk.db, row.get("ticket"))
        if target is None:
            why = f"ticket: {row.get('ticket')}: no such ticket or Call ID"
            return RowResult(row.line, row.call_uid, "rejected", None, why)
    if run.dry_run:
        run.seen[row.call_uid] = digest
        ref = tickets.ref_of(target) if target else None
        return RowResult(row.line, row.call_uid, "appended" if target else "new_ticket", ref)
    return _apply(run, row, digest, target)


def _repeat(row: CallRow, digest: str, prior: tuple[str, str | None, str]) -> RowResult:
    old_digest, ref, where = prior
    if old_digest == digest:
        return RowResult(row.line, row.call_uid, "duplicate", ref, f"imported before ({where})")
    why = f"differs from the row imported before ({where}); not applied"
    return RowResult(row.line, row.call_uid, "changed", ref, why)


def _apply(run: _Run, row: CallRow, digest: str, target: dict[str, Any] | None) -> RowResult:
    desk = run.desk
    if target is not None:
        ticket = calls.append_call(desk, target, row, run.at, run.source)
        outcome = "appended"
    else:
        ticket = calls.open_ticket(desk, run.index, row, run.at, run.source)
        outcome = "new_ticket"
    desk.db.execute(
        "INSERT INTO hotline_calls (call_uid, row_digest, ticket_id, source_file, imported_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [row.call_uid, digest, ticket["id"], run.source, to_db(run.at)],
    )
    return RowResult(row.line, row.call_uid, outcome, tickets.ref_of(ticket))
