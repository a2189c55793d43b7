"""``hotline import``: a hotline log CSV in, one outcome per row out (SPEC §3 "Hotline log CSV").

Outcomes: ``new_ticket``, ``appended`` (the row's ``ticket`` names an existing
ticket or Call ID), ``duplicate`` (this ``call_uid`` was imported before with the
same content), ``rejected`` (a bad row; written to ``<input>.rejects.csv`` byte for
byte as it was in the input, after the input's header line, and why to
``<input>.rejects.txt``: the admin fixes the one and imports it; where those exist from
an earlier import, ``<input>.1.rejects.csv`` and so on). A ``call_uid``
imported before with other content (in an earlier file or earlier in this one) is
rejected too, naming the fields that differ: a phone log is history, and a second
version must not silently rewrite a ticket a customer was already told about, nor
vanish without a trace.

Idempotence rests on ``hotline_calls``: a row's ``call_uid``, its normalised content
and that content's sha256 are stored in the same transaction as its ticket and its
confirmation mail, so a crash or a second import can neither create nor send
anything twice.

The file is streamed (never loaded whole) and committed in batches of
``batch_size`` rows: one transaction per row would cost an fsync per row under
``synchronous=FULL``. Within a batch, each row is first checked and decided without
writing, so a row rejected then leaves nothing behind while the rest of its batch
still commits; its writes follow, tickets at once and everything else collected per
batch (:mod:`sepdesk.hotline.batch`). Earlier imports of a batch's ``call_uid`` values
are read in one query. Results are handed to ``on_result`` only after their batch
committed.

``dry_run`` reads the database (duplicates, target tickets) but writes nothing:
no rows, no mail, no rejects file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import count, islice
from pathlib import Path
from typing import IO, Any

from sepdesk.desk import Desk
from sepdesk.errors import SepdeskError, one_line
from sepdesk.hotline import calls
from sepdesk.hotline.batch import Batch
from sepdesk.hotline.csvrows import FIELDS, CallReader, CallRow, content_digest
from sepdesk.instants import db_to_local, local_iso
from sepdesk.pipeline.customer import contract_index
from sepdesk.store import write_tx
from sepdesk.tickets import store as tickets
from sepdesk.tickets.actions import opens_linked

OUTCOMES = ("new_ticket", "appended", "duplicate", "rejected")
BATCH_SIZE = 500
REJECTS_SUFFIX = ".rejects.csv"
REASONS_SUFFIX = ".rejects.txt"


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
    reasons_file: str | None = None
    rejects_error: str | None = None  # why the rejects files could not be written

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
        if self.reasons_file:
            line += f", why in {self.reasons_file}"
        if self.rejects_error:
            line += f"; no rejects file ({self.rejects_error}): the rejected rows are listed above"
        return line


def rejects_path(path: Path) -> Path:
    return Path(str(path) + REJECTS_SUFFIX)


def reasons_path(path: Path) -> Path:
    return Path(str(path) + REASONS_SUFFIX)


def free_rejects_paths(base: Path) -> Iterator[tuple[Path, Path]]:
    """Names for the rejects and reasons files of ``base``, first choice first:
    ``<base>.rejects.csv``, then ``<base>.1.rejects.csv``... (``.txt`` alike).

    Only a pair of which neither file exists is free (see :class:`_Rejects`): phone
    systems export under one name each day, and the rejects of an earlier day, maybe
    being fixed, were overwritten or deleted by the next day's import (review finding).
    """
    yield rejects_path(base), reasons_path(base)
    for n in count(1):
        yield rejects_path(Path(f"{base}.{n}")), reasons_path(Path(f"{base}.{n}"))


class _Rejects:
    """The rejects file and its reasons file, opened on the first rejected row.

    The rejects file holds the input's header line, then each rejected row's lines byte
    for byte as they were read: nothing re-encoded, no field added or cut, so a fixed
    rejects file re-imported lets in only what the admin wrote. Why each row was
    rejected goes to the reasons file, one line per row naming its line in the input and
    in the rejects file. Neither is written when every row is good. They are named
    after ``base`` (the input, or where the spool will move it) under the first free
    name (:func:`free_rejects_paths`): a file there already, written by an earlier
    import and maybe half fixed, is never overwritten nor removed.
    """

    def __init__(self, source: Path, base: Path, header: bytes, stamp: str, enabled: bool) -> None:
        self.source, self.base, self.header, self.stamp = source, base, header, stamp
        self.enabled = enabled
        self._data: IO[bytes] | None = None
        self._why: IO[str] | None = None
        self._lines = 0  # lines written to the rejects file so far
        self.path: Path | None = None
        self.reasons: Path | None = None
        self.error: str | None = None

    def _open(self) -> tuple[IO[bytes], IO[str]]:
        """Create both files under the first free pair of names (exclusively: another
        import writing the same name at the same time takes the next pair)."""
        self.base.parent.mkdir(parents=True, exist_ok=True)
        for path, reasons in free_rejects_paths(self.base):
            try:
                data = path.open("xb")
            except FileExistsError:
                continue
            try:
                why = reasons.open("x", encoding="utf-8", newline="\n")
            except OSError as exc:
                data.close()
                path.unlink()  # our own, still empty
                if isinstance(exc, FileExistsError):
                    continue
                raise
            self.path, self.reasons = path, reasons
            data.write(self.header)
            why.write(_heading(self.source, path, self.stamp))
            return data, why
        raise AssertionError("unreachable: free_rejects_paths never ends")

    def add(self, row: CallRow, reason: str) -> None:
        if not self.enabled:
            return
        try:
            self._write(row, reason)
        except OSError as exc:
            # A read-only folder stopped the import at its first bad row: later rows
            # committed but never reported, the rest never imported (review finding).
            # Every row is in the report anyway; the import goes on without the files.
            self.enabled, self.error = False, f"{exc.filename or self.base}: {exc.strerror}"

    def _write(self, row: CallRow, reason: str) -> None:
        if self._data is None or self._why is None:
            self._data, self._why = self._open()
            self._lines = 1
        at = self._lines + 1
        self._data.write(row.data)
        self._lines += max(row.last_line, row.line) - row.line + 1
        uid = one_line(row.call_uid) or "-"
        self._why.write(
            f"line {row.line} (rejects line {at}), call_uid {uid}: {one_line(reason)}\n"
        )

    def close(self) -> tuple[str | None, str | None]:
        """Finish both files; returns their paths, or (None, None) when none was written."""
        if self._data is None or self._why is None:
            return None, None
        files, self._data, self._why = (self._data, self._why), None, None
        try:
            for f in files:
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:  # a full disk: the report still lists every row
            self.error = self.error or f"{self.path}: {exc.strerror}"
        finally:
            for f in files:
                with contextlib.suppress(OSError):
                    f.close()
        if self.error:
            return None, None
        return str(self.path), str(self.reasons)


# (row digest, ticket ref, where it was imported, its content: None when not on record)
Prior = tuple[str, str | None, str, str | None]


@dataclass
class _Run:
    ctx: calls.CallImport
    dry_run: bool
    # call_uid -> Prior of rows not in the database yet: in a dry run every new row of the
    # file; in an import those of the current batch (earlier batches are committed).
    seen: dict[str, Prior] = field(default_factory=dict)
    stored: dict[str, Prior] = field(default_factory=dict)  # the batch's uids found in the db

    def prior(self, uid: str) -> Prior | None:
        """(digest, ticket ref, where from) of an earlier import of ``uid``."""
        return self.seen.get(uid) or self.stored.get(uid)

    def look_up(self, batch: list[CallRow]) -> None:
        """Read the earlier imports of a batch's call_uids in one query (not one per row)."""
        uids = json.dumps([row.call_uid for row in batch if row.ok])
        rows = self.ctx.desk.db.execute(
            "SELECT h.call_uid, h.row_digest, t.call_id, t.ticket_number, h.source_file,"
            " h.imported_at, h.row_values FROM hotline_calls h"
            " LEFT JOIN tickets t ON t.id = h.ticket_id"
            " WHERE h.call_uid IN (SELECT value FROM json_each(?))",
            [uids],
        )
        self.stored = {
            uid: (digest, call_id or number, _where(source, at, self.ctx.desk.tz), content)
            for uid, digest, call_id, number, source, at, content in rows
        }

    def remember(self, uid: str, plan: _Plan, ref: str | None) -> None:
        """A row written (or, in a dry run, that would be): a repeat of it is a duplicate."""
        if self.dry_run:
            self.seen[uid] = (plan.digest, None, "earlier in this file", plan.content)
        else:
            self.seen[uid] = (plan.digest, ref, self.here, plan.content)

    @cached_property
    def here(self) -> str:
        """Where this import's rows will be found by a later one."""
        return _where(self.ctx.source, self.ctx.stamp, self.ctx.desk.tz)


def _where(source: str, imported_at: str, tz: str) -> str:
    return f"{source or '?'} at {db_to_local(imported_at, tz)}"


def import_file(
    desk: Desk,
    path: Path,
    at: datetime,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    on_result: Callable[[RowResult], None] | None = None,
    rejects_base: Path | None = None,
) -> ImportSummary:
    """Import one hotline CSV; raises InputError when the file cannot be read at all.

    Rejected rows go to files named after ``rejects_base`` (default: the input itself;
    the spool names the input's place in ``failed/``, so that it never finds them as
    input of its own).
    """
    path = Path(path)
    summary = ImportSummary(str(path), dry_run)
    run = _Run(calls.CallImport(desk, contract_index(desk), at, path.name), dry_run)
    with CallReader.open(path, desk.tz, desk.settings.hotline.columns, at=at) as reader:
        stamp = local_iso(at.replace(microsecond=0), desk.tz) or ""
        base = Path(rejects_base) if rejects_base is not None else path
        rejects = _Rejects(path, base, reader.header_data, stamp, not dry_run)
        try:
            for batch in _batches(reader.rows(), batch_size):
                for row, result in _run_batch(run, batch):
                    summary.counts[result.outcome] += 1
                    if result.outcome == "rejected":
                        rejects.add(row, result.reason)
                    if on_result:
                        on_result(result)
        finally:
            summary.rejects_file, summary.reasons_file = rejects.close()
            summary.rejects_error = rejects.error
    return summary


def _heading(path: Path, rejects_file: Path, stamp: str) -> str:
    rejects = rejects_file.name
    return (
        f"# {path.name}: rows rejected by sepdesk hotline import at {stamp}.\n"
        f"# {rejects} holds them as they were in {path.name}, after its header line:\n"
        f"# fix them there and import {rejects}.\n"
    )


def _batches(rows: Iterable[CallRow], size: int) -> Iterator[list[CallRow]]:
    it = iter(rows)
    while batch := list(islice(it, max(1, size))):
        yield batch


def _run_batch(run: _Run, rows: list[CallRow]) -> list[tuple[CallRow, RowResult]]:
    if run.dry_run:
        run.look_up(rows)
        return [(row, _one(run, None, row)) for row in rows]
    with write_tx(run.ctx.desk.db):
        run.seen.clear()  # the rows of earlier batches are committed: look_up finds them
        run.look_up(rows)
        batch = Batch(run.ctx.desk.db)
        results = [(row, _one(run, batch, row)) for row in rows]
        batch.flush()
    return results


def _one(run: _Run, batch: Batch | None, row: CallRow) -> RowResult:
    """One row: first every check and decision, then (not in a dry run) its writes.

    Our own errors while checking reject the row before anything of it is written, so
    the rest of the batch still commits. The writes themselves raise only on a broken
    database, and then the whole batch is rolled back.
    """
    try:
        decided = _decide(run, row)
    except SepdeskError as exc:
        return RowResult(row.line, row.call_uid, "rejected", None, str(exc))
    if isinstance(decided, RowResult):
        return decided
    if batch is None:
        target = decided.target
        run.remember(row.call_uid, decided, None)
        ref = tickets.ref_of(target) if target else None
        outcome = "appended" if target else "new_ticket"
        return RowResult(row.line, row.call_uid, outcome, ref, decided.note)
    return _apply(run, batch, row, decided)


@dataclass(frozen=True)
class _Plan:
    """A row that is going in: its content and digest, the ticket it names or the new one's plan."""

    content: str
    digest: str
    target: dict[str, Any] | None
    call: calls.NewCall | None
    note: str = ""  # for the row's record: why a row naming a ticket opens a new one


def _decide(run: _Run, row: CallRow) -> RowResult | _Plan:
    if not row.ok:
        return RowResult(row.line, row.call_uid, "rejected", None, row.reason)
    content = row.content()
    digest = content_digest(content)
    prior = run.prior(row.call_uid)
    if prior is not None:
        return _repeat(row, content, digest, prior)
    if row.get("ticket"):
        target = tickets.find_opt(run.ctx.desk.db, row.get("ticket"))
        if target is None:
            why = f"ticket: {row.get('ticket')}: no such ticket or Call ID"
            return RowResult(row.line, row.call_uid, "rejected", None, why)
        theirs, named = target["customer_number"], row.get("customer_number").strip()
        if named and theirs and named != theirs:
            # Appending makes the caller one of the ticket's people (threading trusts
            # them): a call of another customer is more likely a typo than a colleague.
            why = (
                f"ticket: {target['ticket_number']} is customer {theirs}'s,"
                f" the call names customer {named}"
            )
            return RowResult(row.line, row.call_uid, "rejected", None, why)
        if not _closed_for(run, target, row):
            return _Plan(content, digest, target, None)
        note = f"{target['ticket_number']} is {target['status']}: a new ticket, linked to it"
        return _Plan(content, digest, None, _linked(run, row, target), note)
    if run.dry_run:
        return _Plan(content, digest, None, None)
    return _Plan(content, digest, None, calls.plan_ticket(run.ctx, row))


def _closed_for(run: _Run, target: dict[str, Any], row: CallRow) -> bool:
    """Whether a call on ``target`` opens a linked ticket rather than being appended: the
    mail path's rule (closed, or solved more than ``reopen_days`` before the call). A
    call made before the ticket was solved or closed is only recorded on it."""
    assert row.started_at is not None
    if calls.before_ending(target, row.started_at):
        return False
    return opens_linked(run.ctx.desk, target, row.started_at)


def _linked(run: _Run, row: CallRow, target: dict[str, Any]) -> calls.NewCall | None:
    return None if run.dry_run else calls.plan_ticket(run.ctx, row, linked=target)


def _repeat(row: CallRow, content: str, digest: str, prior: Prior) -> RowResult:
    """A call_uid seen before: a duplicate when the content is the same, else rejected."""
    old_digest, ref, where, old_content = prior
    if old_digest == digest:
        return RowResult(row.line, row.call_uid, "duplicate", ref, f"imported before ({where})")
    why = (
        f"call_uid: already imported with different content ({where}"
        f"{f', ticket {ref}' if ref else ''}): {_differences(old_content, content)};"
        " not applied: correct the ticket, or log a new call under a new call_uid"
    )
    return RowResult(row.line, row.call_uid, "rejected", ref, why)


def _differences(old_content: str | None, content: str) -> str:
    """The fields in which a row differs from the one imported before, with both values."""
    if old_content is None:  # imported before sepdesk kept the content (migration m008)
        return "which fields differ is not on record"
    old, new = json.loads(old_content), json.loads(content)
    diffs = [
        f"{k} ({_short(old.get(k, ''))} -> {_short(new.get(k, ''))})"
        for k in FIELDS
        if old.get(k, "") != new.get(k, "")
    ]
    return f"differs in {', '.join(diffs)}"


def _short(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def _apply(run: _Run, batch: Batch, row: CallRow, plan: _Plan) -> RowResult:
    ctx = run.ctx
    note = ""
    if plan.target is not None:
        note = calls.append_call(ctx, batch, plan.target, row)
        ticket_id, ref, outcome = plan.target["id"], tickets.ref_of(plan.target), "appended"
    else:
        assert plan.call is not None
        ticket_id, ref = calls.open_ticket(ctx, batch, plan.call)
        outcome, note = "new_ticket", plan.note
    stored = {
        "call_uid": row.call_uid,
        "row_digest": plan.digest,
        "ticket_id": ticket_id,
        "source_file": ctx.source,
        "imported_at": ctx.stamp,
        "row_values": plan.content,
    }
    batch.add("hotline_calls", stored)
    run.remember(row.call_uid, plan, ref)
    return RowResult(row.line, row.call_uid, outcome, ref, note)
