"""One intake row -> one outcome, with the runner's error fence.

The attempt counter is committed first; then every result of the steps and
the row's "done" mark commit in one transaction, or nothing does. A row that
fails MAX_ATTEMPTS times, or cannot be parsed at all, goes to quarantine;
the runner never stops for one bad message. Nor for one that ends the process
working on it (out of memory, a crash, a kill): no except branch runs then, so
each attempt is also on record as running until its batch commits, and an
attempt whose process is gone is settled by the next batch (_settle_ended).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sepdesk.desk import Desk
from sepdesk.errors import InputError, NotFound
from sepdesk.instants import from_db, now, to_db
from sepdesk.pipeline.bounces import is_bounce
from sepdesk.pipeline.customer import versioned_index
from sepdesk.pipeline.guards import from_mail_system
from sepdesk.pipeline.parse import ParseError, header_identity, parse_mail
from sepdesk.pipeline.steps import is_copy, run_steps
from sepdesk.pipeline.work import Work
from sepdesk.store import write_tx
from sepdesk.store.db import storage_fault
from sepdesk.tickets.store import add_event

MAX_ATTEMPTS = 3
BATCH = 20  # rows per commit: fewer fsyncs, short enough not to stall SMTP intake
log = logging.getLogger("sepdesk.pipeline")


@dataclass(frozen=True)
class Result:
    intake_id: int
    state: str  # done | quarantined | pending
    outcome: str | None
    ticket: str | None
    reason: str


def _begin_attempts(desk: Desk, intake_ids: list[int], at: datetime) -> list[dict]:
    """Count the attempt of every still-pending row, committed before any work starts,
    and record it as running in this process, in a batch of that many rows."""
    with write_tx(desk.db):
        marks = ",".join("?" for _ in intake_ids)
        rows = list(
            desk.db.query(
                f"SELECT * FROM intake WHERE id IN ({marks}) AND state = 'pending' ORDER BY id",
                intake_ids,
            )
        )
        if rows:
            desk.db.execute(
                f"UPDATE intake SET attempts = attempts + 1 WHERE id IN ({marks}) AND state = 'pending'",
                intake_ids,
            )
            running = [(row["id"], os.getpid(), len(rows), to_db(at)) for row in rows]
            desk.db.conn.executemany(
                "INSERT OR REPLACE INTO running_attempts (intake_id, pid, batch, began_at)"
                " VALUES (?, ?, ?, ?)",
                running,
            )
    for row in rows:
        row["attempts"] += 1
    return rows


def _finish_attempts(desk: Desk, intake_ids: list[int]) -> None:
    """The attempts of the batch ended (an outcome, or a failure the fence caught): in the
    batch's transaction, so a commit never leaves one on record as running."""
    marks = ",".join("?" for _ in intake_ids)
    desk.db.execute(f"DELETE FROM running_attempts WHERE intake_id IN ({marks})", intake_ids)


def _gone(pid: int) -> bool:
    """Whether no process has ``pid`` any more (one of another user's counts as there)."""
    if pid == os.getpid():  # another thread of ours (the IMAP poller beside the pipeline)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # not ours to signal: a process is there
        return False
    return False


# Why a message that ended its pipeline process at every try is quarantined.
ENDED_PROCESS = "the pipeline process ended while processing it (killed, out of memory or crashed)"


def _ended_reason(attempts: int) -> str:
    return f"failed {attempts} times: {ENDED_PROCESS}"


def _settle_ended(desk: Desk, intake_ids: list[int], at: datetime) -> list[int]:
    """Settle the rows whose last attempt never finished, its process gone; the ids to
    try one at a time.

    A mail that kills its process (an OOM kill on a huge log, a segfault in a parser)
    ran into no except branch: it was tried for ever, and its batch-mates with it, their
    attempts climbing. Begun alone, the attempt was the mail's: counted, and at
    MAX_ATTEMPTS the mail is quarantined. Begun in a batch, nobody knows whose it was:
    the attempt is given back and each row of it is tried alone, so the culprit is
    found and the others go through.
    """
    marks = ",".join("?" for _ in intake_ids)
    ended = [
        (int(r[0]), int(r[1]), int(r[2]))
        for r in desk.db.execute(
            f"SELECT intake_id, pid, batch FROM running_attempts WHERE intake_id IN ({marks})",
            intake_ids,
        ).fetchall()
        if _gone(int(r[1]))
    ]
    if not ended:
        return []
    with write_tx(desk.db):
        settled = [_settle_one(desk, *mark, at) for mark in ended]
    alone = []
    for (intake_id, _pid, batch), (outcome, attempts, message_id) in zip(
        ended, settled, strict=True
    ):
        if outcome == "quarantined":
            _log_outcome(intake_id, outcome, _ended_reason(attempts), message_id)
        elif outcome == "alone":
            alone.append(intake_id)
            shared = f", one of a batch of {batch} (not counted)" if batch > 1 else ""
            log.warning(
                "intake #%s: %s at attempt %s%s; tried again alone",
                intake_id,
                ENDED_PROCESS,
                attempts,
                shared,
            )
    return alone


def _settle_one(
    desk: Desk, intake_id: int, pid: int, batch: int, at: datetime
) -> tuple[str | None, int, str]:
    """One ended attempt, under the write lock: ``alone``, ``quarantined`` or None (settled
    by another worker meanwhile, or the row has its outcome); the attempts it had, its
    Message-ID."""
    rows = list(
        desk.db.query("SELECT * FROM intake WHERE id = ? AND state = 'pending'", [intake_id])
    )
    sql = "DELETE FROM running_attempts WHERE intake_id = ? AND pid = ?"
    if not desk.db.execute(sql, [intake_id, pid]).rowcount or not rows:
        return None, 0, "?"
    row = rows[0]
    message_id = row["message_id"] or "?"
    if batch > 1:
        sql = "UPDATE intake SET attempts = max(0, attempts - 1) WHERE id = ?"
        desk.db.execute(sql, [intake_id])
        return "alone", row["attempts"], message_id
    if row["attempts"] < MAX_ATTEMPTS:
        return "alone", row["attempts"], message_id
    _quarantine(desk, row, _ended_reason(row["attempts"]), at)
    return "quarantined", row["attempts"], message_id


def _give_back_attempts(desk: Desk, intake_ids: list[int]) -> None:
    """Uncount the attempt of a batch the storage failed (a full disk): no fault of the
    mails'. Counted, a mail that saw a long fault reached its last attempt, and its
    first real failure later quarantined it at once. Best effort: the disk may still
    be full, and then the count stays."""
    marks = ",".join("?" for _ in intake_ids)
    with contextlib.suppress(sqlite3.Error), write_tx(desk.db):
        desk.db.execute(
            f"UPDATE intake SET attempts = max(0, attempts - 1) WHERE id IN ({marks})"
            " AND state = 'pending'",
            intake_ids,
        )
        _finish_attempts(desk, intake_ids)


def _mark_done(work: Work) -> None:
    """The row's outcome, what each step decided, and the Message-ID the parse step read;
    on its ticket, what was wrong with the mail's MIME (the text may be incomplete)."""
    ticket_id = work.ticket["id"] if work.ticket else None
    if ticket_id and work.parsed.defects:
        add_event(
            work.desk.db,
            ticket_id,
            work.at,
            "desk",
            "mime_defects",
            {"intake": work.intake_id, "defects": list(work.parsed.defects)},
        )
    if work.quarantined_copy:
        _release_copies(work)
    work.desk.db.execute(
        "UPDATE intake SET state = 'done', outcome = ?, reason = ?, steps = ?, ticket_id = ?,"
        " processed_at = ?, message_id = ? WHERE id = ?",
        [
            work.outcome,
            work.reason,
            json.dumps(work.steps, ensure_ascii=False),
            ticket_id,
            to_db(work.at),
            work.parsed.message_id,
            work.intake_id,
        ],
    )


def _release_copies(work: Work) -> None:
    """Release the quarantine entries of earlier copies of this message: the admin moved
    it back to the IMAP folder (after raising ``max_message_bytes``, say), or its sender
    sent it again, and this copy got its outcome. Listed still, the entry asked for work
    that was done (review finding)."""
    db = work.desk.db
    rows = db.execute(
        "SELECT id, digest FROM intake WHERE message_id = ? AND state = 'quarantined' AND id != ?",
        [work.parsed.message_id, work.intake_id],
    ).fetchall()
    # Copies of this very mail only: a client that reuses Message-IDs must not hide
    # another mail's entry.
    copies = [int(i) for i, digest in rows if is_copy(work, int(i), digest)]
    if not copies:
        return
    marks = ",".join("?" for _ in copies)
    db.execute(
        f"UPDATE quarantine SET released_at = ? WHERE released_at IS NULL AND intake_id IN ({marks})",
        [to_db(work.at), *copies],
    )
    work.decide("quarantine", f"released the entry of intake #{', #'.join(map(str, copies))}")


def _quarantine(
    desk: Desk,
    row: dict,
    reason: str,
    at: datetime,
    steps: list | None = None,
    message_id: str | None = None,
) -> None:
    """Mark the row quarantined and write its entry: one per message, however often it fails.

    A message quarantined before (and released by ``quarantine retry``) gets its entry
    back, with the new reason, attempts and time; its id stays the one the admin knows.
    """
    stamp = to_db(at)
    with write_tx(desk.db):
        # The Message-ID the parse read (kept when none was read): a copy processed later
        # finds this row by it (_release_copies).
        desk.db.execute(
            "UPDATE intake SET state = 'quarantined', outcome = 'quarantined', reason = ?,"
            " steps = ?, processed_at = ?, message_id = coalesce(?, message_id) WHERE id = ?",
            [reason, json.dumps(steps or [], ensure_ascii=False), stamp, message_id, row["id"]],
        )
        entry = desk.db.execute(
            "SELECT max(id) FROM quarantine WHERE intake_id = ?", [row["id"]]
        ).fetchone()[0]
        if entry is not None:
            desk.db.execute(
                "UPDATE quarantine SET reason = ?, attempts = ?, updated_at = ?,"
                " released_at = NULL WHERE id = ?",
                [reason, row["attempts"], stamp, entry],
            )
            return
        desk.db.execute(
            "INSERT INTO quarantine (intake_id, source, received_at, reason, attempts,"
            " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row["id"], row["source"], row["received_at"], reason, row["attempts"], stamp, stamp],
        )


def quarantine_intake(desk: Desk, intake_id: int, reason: str, at: datetime | None = None) -> None:
    """Put a stored message straight into quarantine (oversize IMAP mail, unreadable input)."""
    rows = list(desk.db.query("SELECT * FROM intake WHERE id = ?", [intake_id]))
    if not rows:
        raise NotFound(f"intake #{intake_id}: no such message")
    if rows[0]["state"] == "pending":
        _quarantine(desk, rows[0], reason, at or now())
        # Known for an oversize IMAP mail (quarantine_oversize read its header): the line
        # said "message-id=?" while `quarantine show` named it.
        _log_outcome(intake_id, "quarantined", reason, rows[0]["message_id"] or "?")


def _log_outcome(
    intake_id: int,
    outcome: str | None,
    reason: str,
    message_id: str = "?",
    ticket: str | None = None,
) -> None:
    """The one line every processed message gets. A quarantined mail waits for an admin:
    its line is a WARNING, which the docs' ``journalctl -p warning`` shows; every other
    outcome is routine (INFO)."""
    level = logging.WARNING if outcome == "quarantined" else logging.INFO
    log.log(
        level,
        "intake #%s message-id=%s outcome=%s ticket=%s reason=%s",
        intake_id,
        message_id,
        outcome,
        ticket,
        reason,
    )


# An earlier header-only row of the same message: a Message-ID and the same header bytes.
OVERSIZE_TWIN_QUERY = (
    "SELECT min(id) FROM intake WHERE message_id = ? AND state = 'quarantined' AND id != ?"
    " AND digest = (SELECT digest FROM intake WHERE id = ?)"
)


def quarantine_oversize(
    desk: Desk, intake_id: int, reason: str, at: datetime | None = None
) -> None:
    """Quarantine a message of which only the header was stored (too large), keeping its
    Message-ID on the row as a processed one gets it (_mark_done).

    Such a row skips the steps, so the dedupe step never saw it: the same message read
    again (a new IMAP UIDVALIDITY) was quarantined a second time. A copy of one
    quarantined so before, by Message-ID and the same header bytes (step_dedupe's "same
    bytes"), is now a duplicate, as a copy of a processed mail is.
    """
    (raw,) = desk.db.execute("SELECT raw FROM intake WHERE id = ?", [intake_id]).fetchone()
    try:
        message_id = parse_mail(raw).message_id
    except Exception:  # a header the parser cannot read: quarantined without its Message-ID
        quarantine_intake(desk, intake_id, reason, at)
        return
    at = at or now()
    with write_tx(desk.db):
        desk.db.execute(
            "UPDATE intake SET message_id = ? WHERE id = ? AND state = 'pending'",
            [message_id, intake_id],
        )
        (twin,) = desk.db.execute(
            OVERSIZE_TWIN_QUERY, [message_id, intake_id, intake_id]
        ).fetchone()
        if twin is None:
            quarantine_intake(desk, intake_id, reason, at)
            return
        why = f"Message-ID already quarantined as too large (intake #{twin})"
        done = desk.db.execute(
            "UPDATE intake SET state = 'done', outcome = 'duplicate', reason = ?,"
            " processed_at = ? WHERE id = ? AND state = 'pending'",
            [why, to_db(at), intake_id],
        ).rowcount
    if done:
        _log_outcome(intake_id, "duplicate", why, message_id)


def _result(desk: Desk, intake_id: int) -> Result:
    row = desk.db.execute(
        "SELECT i.state, i.outcome, t.ticket_number, i.reason FROM intake i"
        " LEFT JOIN tickets t ON t.id = i.ticket_id WHERE i.id = ?",
        [intake_id],
    ).fetchone()
    return Result(intake_id, row[0], row[1], row[2], row[3] or "")


def _prepare(desk: Desk, row: dict, at: datetime) -> Work:
    """The pure part of the work, done before the write lock is taken: parse and understand."""
    work = Work(desk, row["id"], row["raw"], from_db(row["received_at"]), at)
    work.source, work.mail_from = row["source"], row["mail_from"]  # the envelope, for the guards
    try:
        work.mail = parse_mail(row["raw"])
    except ParseError as exc:
        work.parse_error = str(exc)
        return work
    except Exception as exc:  # a parser surprise must not stall the batch: this row's
        work.parse_error = f"{type(exc).__name__}: {exc}"  # own outcome, quarantine
        log.exception("intake #%s: parsing failed", row["id"])
        return work
    try:
        if is_bounce(work.parsed) or from_mail_system(work.parsed, work.envelope_from):
            work.bounce_report()  # reads the notice's parts: no lock needed
        # Only a new ticket reads them (opening.py). A mail that names a conversation
        # mostly joins its ticket: read for nothing, it cost as much again as its parse.
        # Should it open a ticket after all (its ticket closed), the step reads them.
        if work.automatic_reason() is None and not row.get("threaded"):
            work.understanding()
            work.customer()  # reads contracts only; a new ticket needs it, under the lock it is checked
    except Exception:  # asked again in the steps, inside the row's fence (attempts, quarantine)
        log.exception("intake #%s: reading the mail failed", row["id"])
    return work


def _still_pending(desk: Desk, intake_ids: list[int]) -> set[int]:
    """The rows no other worker (IMAP poller, second process) finished meanwhile.

    Asked once under the write lock: until the commit nobody else can finish one,
    and processing a row never changes another row's state.
    """
    marks = ",".join("?" for _ in intake_ids)
    sql = f"SELECT id FROM intake WHERE id IN ({marks}) AND state = 'pending'"
    return {int(r[0]) for r in desk.db.execute(sql, intake_ids).fetchall()}


def _process_row(desk: Desk, row: dict, work: Work) -> None:
    """One row inside the batch transaction; its own savepoint keeps a failure to itself."""
    try:
        with desk.db.atomic():
            run_steps(work)
            _mark_done(work)
    except ParseError as exc:
        message_id = header_identity(row["raw"])[0]
        _quarantine(desk, row, f"unparseable: {exc}", work.at, work.steps, message_id)
    except Exception as exc:  # the fence: one bad message never stops the runner
        if storage_fault(exc):  # the disk's fault, not the message's: the batch is retried
            raise
        log.exception("intake #%s attempt %s failed", row["id"], row["attempts"])
        if row["attempts"] >= MAX_ATTEMPTS:
            reason = f"failed {row['attempts']} times: {type(exc).__name__}: {exc}"
            message_id = work.mail.message_id if work.mail else None
            _quarantine(desk, row, reason, work.at, work.steps, message_id)


def process_batch(
    desk: Desk,
    intake_ids: list[int],
    at: datetime | None = None,
    progress: Callable[[], None] = lambda: None,
) -> list[Result]:
    """Process rows with one commit for the batch (one fsync), each row atomic in a savepoint.

    A crash before the commit leaves every row of the batch pending, so each
    is processed again after restart: exactly one outcome per row either way.
    Rows whose last attempt ended its process are tried one at a time, after the
    others (_settle_ended). ``progress`` is called after each row is read and
    after each is written: a pipeline process's heartbeat (a batch of large mails
    takes minutes).
    """
    at = at or now()
    if not intake_ids:
        return []
    alone = _settle_ended(desk, intake_ids, at)
    rest = [i for i in intake_ids if i not in alone]
    done: dict[int, Work] = {}
    # The others first: a mail that ends the process again must not hold them up.
    for batch in [rest, *([i] for i in alone)]:
        if batch:
            done.update(_run_batch(desk, batch, at, progress))
    results = [_result(desk, i) for i in intake_ids]
    for r in results:
        w = done.get(r.intake_id)
        if w is None:
            continue  # not ours to report: already done, or done by another worker
        _log_outcome(
            r.intake_id, r.outcome, r.reason, w.mail.message_id if w.mail else "?", r.ticket
        )
    return results


def _run_batch(
    desk: Desk, intake_ids: list[int], at: datetime, progress: Callable[[], None]
) -> dict[int, Work]:
    """One batch: attempts counted, the pure work, then one transaction; the rows it
    processed (the others were done already, or by another worker meanwhile)."""
    rows = _begin_attempts(desk, intake_ids, at)
    if not rows:
        return {}
    works = []
    for row in rows:
        works.append(_prepare(desk, row, at))
        progress()
    done: dict[int, Work] = {}
    ids = [row["id"] for row in rows]
    try:
        with write_tx(desk.db):
            pending = _still_pending(desk, ids)
            contracts = versioned_index(desk)  # asked once, not per row: see Work.contracts
            for row, work in zip(rows, works, strict=True):
                if row["id"] in pending:
                    work.contracts = contracts
                    _process_row(desk, row, work)
                    done[work.intake_id] = work
                    progress()
            _finish_attempts(desk, ids)
    except Exception as exc:
        if storage_fault(exc):
            _give_back_attempts(desk, ids)
        raise
    return done


def process(desk: Desk, intake_id: int, at: datetime | None = None) -> Result:
    """Process one stored message once (a no-op for a row that already has its outcome)."""
    rows = list(desk.db.query("SELECT id FROM intake WHERE id = ?", [intake_id]))
    if not rows:
        raise NotFound(f"intake #{intake_id}: no such message")
    return process_batch(desk, [intake_id], at)[0]


def process_intake(desk: Desk, intake_id: int) -> str:
    """Process and return the row's state: done, quarantined, or pending (retry later)."""
    return process(desk, intake_id).state


# `sepdesk ingest` processes the rows it stores itself (it prints each outcome), and so
# does the IMAP poller when no pipeline processes run (it moves each message only after
# its outcome). Background workers leave such rows to them unless they wait this long
# (an ingest killed, a poller that went away). In `serve` with pipeline processes the
# poller hands its rows over instead, and those processes pass ``leave=HANDED_OFF_LEAVE``.
SELF_PROCESSED_SOURCES = ("imap", "file")
HANDED_OFF_LEAVE = ("file",)
SELF_PROCESSED_GRACE = timedelta(minutes=5)


def pending_ids(
    desk: Desk,
    limit: int = 100,
    shard: tuple[int, int] = (0, 1),
    newest: bool = False,
    at: datetime | None = None,
    leave: tuple[str, ...] = SELF_PROCESSED_SOURCES,
    unthreaded: bool = False,
) -> list[int]:
    """Pending rows, oldest first (or newest); ``shard`` (index, count) splits them.

    Rows that name a conversation (``intake.threaded``) all fall in shard 0, so one
    process takes them in the order received: what a reply or a mail command does
    depends on what came before it in its ticket. The others are split by id. (A row
    whose attempt failed waits for its next try; later rows do not wait for it.)
    ``unthreaded``: only rows of the other kind (any process may take those).

    With ``at`` (a background worker asking), fresh rows of the sources in ``leave``
    are left to whoever stored them.
    """
    index, count = shard
    order = "DESC" if newest else "ASC"
    marks = ",".join("?" for _ in leave)
    skip_theirs = (
        "" if at is None or not leave else f" AND (source NOT IN ({marks}) OR stored_at <= ?)"
    )
    args: list[object] = [count, index]
    if at is not None and leave:
        args += [*leave, to_db(at - SELF_PROCESSED_GRACE)]
    only = " AND NOT threaded" if unthreaded else ""
    return [
        int(r[0])
        for r in desk.db.execute(
            "SELECT id FROM intake WHERE state = 'pending'"
            f" AND (CASE WHEN threaded THEN 0 ELSE id % ? END) = ?{skip_theirs}{only}"
            f" ORDER BY id {order} LIMIT ?",
            [*args, limit],
        ).fetchall()
    ]


def run_once(desk: Desk, at: datetime | None = None) -> int:
    """Process every pending row once (a failing row is tried again on the next pass)."""
    ids = pending_ids(desk, limit=1000)
    for start in range(0, len(ids), BATCH):
        process_batch(desk, ids[start : start + BATCH], at)
    return len(ids)


# The reason an oversize IMAP message is quarantined with: only its header was fetched.
HEADERS_ONLY = "message too large"


def retry(desk: Desk, quarantine_id: int, at: datetime | None = None) -> Result:
    """Put a quarantined message back into the pipeline and process it now.

    The attempts go on counting (a retry is one more attempt): a message that failed
    MAX_ATTEMPTS times and fails again goes straight back to its quarantine entry. A
    message of which only the header was stored (too large) is refused: processing the
    header alone would open a ticket that asks the customer for everything.
    """
    at = at or now()
    with write_tx(desk.db):
        row = desk.db.execute(
            "SELECT intake_id, reason, source FROM quarantine WHERE id = ? AND released_at IS NULL",
            [quarantine_id],
        ).fetchone()
        if not row or row[0] is None:
            raise NotFound(f"quarantine #{quarantine_id}: no such entry waiting")
        if str(row[1] or "").startswith(HEADERS_ONLY):
            raise InputError(
                f"quarantine #{quarantine_id}: only the header of this message is stored"
                " (it was too large); to process it, raise [smtp] max_message_bytes and"
                + (
                    " ingest the file again (named in the entry's reason)"
                    if row[2] == "file"
                    else " move the message from the IMAP quarantine folder back to the"
                    " watched folder"
                )
            )
        desk.db.execute(
            "UPDATE quarantine SET released_at = ? WHERE id = ?", [to_db(at), quarantine_id]
        )
        desk.db.execute(
            "UPDATE intake SET state = 'pending', outcome = NULL WHERE id = ?",
            [row[0]],
        )
    return process(desk, int(row[0]), at)


def release(desk: Desk, quarantine_id: int, at: datetime | None = None) -> None:
    """Take a waiting entry off the list (and ``status``'s count) without processing it:
    the admin fixed the mail by hand and ingested the fixed copy, which differs and so
    released nothing, or decided it needs nothing. Its message stays stored (``quarantine
    show --raw``); ``quarantine list --all`` still shows it, with ``released_at``."""
    with write_tx(desk.db):
        released = desk.db.execute(
            "UPDATE quarantine SET released_at = ? WHERE id = ? AND released_at IS NULL",
            [to_db(at or now()), quarantine_id],
        ).rowcount
    if not released:
        raise NotFound(f"quarantine #{quarantine_id}: no such entry waiting")


def quarantine_entry(desk: Desk, quarantine_id: int) -> dict:
    """A quarantine entry (released or not) with its message's intake row: ``raw``, steps..."""
    rows = list(
        desk.db.query(
            "SELECT q.id, q.intake_id, q.source, q.received_at, q.reason, q.attempts,"
            " q.created_at, q.updated_at, q.released_at, i.source_ref, i.mail_from, i.rcpt_to,"
            " i.size, i.message_id, i.steps, i.raw FROM quarantine q"
            " LEFT JOIN intake i ON i.id = q.intake_id WHERE q.id = ?",
            [quarantine_id],
        )
    )
    if not rows:
        raise NotFound(f"quarantine #{quarantine_id}: no such entry")
    return rows[0]


def attempts_of(desk: Desk, intake_id: int) -> int:
    """How often the pipeline has tried the stored message so far."""
    row = desk.db.execute("SELECT attempts FROM intake WHERE id = ?", [intake_id]).fetchone()
    return int(row[0]) if row else 0
