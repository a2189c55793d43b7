"""The durable intake row: raw bytes, envelope and received time, committed before anyone says OK.

Every source (SMTP, IMAP, ingest files) ends here. What happens to the row
afterwards is the pipeline's business (sepdesk.pipeline.runner).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from sepdesk.instants import now, to_db
from sepdesk.store import write_tx

# Header lines that tie a mail to a conversation, in the lower-cased header block (a
# folded Subject's continuation lines included). Matched without IGNORECASE and
# MULTILINE, which made this ~4 times as costly in the daemon's store path.
_THREAD_HEADER = re.compile(
    rb"\n(?:in-reply-to|references)[ \t]*:"
    rb"|\nsubject[ \t]*:(?:[^\n]|\n[ \t])*?\b[tc]-\d{4}-\d{5,6}\b"
)


def names_a_thread(raw: bytes) -> bool:
    """Whether the mail answers or names a conversation (In-Reply-To, References, or a
    ticket number in the Subject): such mail is processed in the order received, since
    what it does to a ticket depends on what came before (a #solve, then a reply)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i != -1]
    head = raw[: min(ends)] if ends else raw
    return _THREAD_HEADER.search(b"\n" + head.lower()) is not None


@dataclass(frozen=True)
class Stored:
    intake_id: int
    new: bool  # False when (source, source_ref) was already stored


def store_raw(
    db: sqlite_utils.Database,
    *,
    source: str,
    raw: bytes,
    received_at: datetime,
    mail_from: str = "",
    rcpt_to: list[str] | tuple[str, ...] = (),
    source_ref: str | None = None,
) -> Stored:
    """Commit one incoming message; idempotent on (source, source_ref) when a ref is given."""
    digest = hashlib.sha256(raw).hexdigest()
    # Inside a caller's transaction (group commit) this is a savepoint, committed by the caller.
    with write_tx(db):
        if source_ref is not None:
            row = db.execute(
                "SELECT id FROM intake WHERE source = ? AND source_ref = ?", [source, source_ref]
            ).fetchone()
            if row:
                return Stored(int(row[0]), False)
        cur = db.execute(
            "INSERT INTO intake (source, source_ref, mail_from, rcpt_to, raw, size, digest,"
            " received_at, stored_at, threaded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source,
                source_ref,
                mail_from,
                json.dumps(list(rcpt_to)),
                raw,
                len(raw),
                digest,
                to_db(received_at),
                to_db(now()),
                int(names_a_thread(raw)),
            ],
        )
        return Stored(int(cur.lastrowid or 0), True)


def intake_state(db: sqlite_utils.Database, intake_id: int) -> dict:
    """State, outcome and ticket of one intake row (for IMAP's move decision and tests)."""
    rows = list(
        db.query(
            "SELECT id, state, outcome, reason, ticket_id, attempts FROM intake WHERE id = ?",
            [intake_id],
        )
    )
    return rows[0] if rows else {}
