"""The durable intake row: raw bytes, envelope and received time, committed before anyone says OK.

Every source (SMTP, IMAP, ingest files) ends here. What happens to the row
afterwards is the pipeline's business (sepdesk.pipeline.runner).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

import sqlite_utils

from sepdesk.instants import now, to_db
from sepdesk.pipeline.conversation import names_a_thread
from sepdesk.store import write_tx


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
    threaded = names_a_thread(raw)  # before the write lock, like the digest
    values: list[object] = [
        source,
        source_ref,
        mail_from,
        json.dumps(list(rcpt_to)),
        raw,
        len(raw),
        digest,
        to_db(received_at),
        to_db(now()),
        int(threaded),
    ]
    if db.conn.in_transaction:
        # A caller's group commit (IMAP, SMTP): one statement, atomic by itself, so no
        # savepoint of its own; one per message cost the IMAP poller 10% of its CPU.
        return _insert(db, source, source_ref, values)
    with write_tx(db):
        return _insert(db, source, source_ref, values)


# Idempotent in one statement: the row of a ref stored before is looked up only then.
_INSERT = (
    "INSERT INTO intake (source, source_ref, mail_from, rcpt_to, raw, size, digest,"
    " received_at, stored_at, threaded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (source, source_ref) WHERE source_ref IS NOT NULL DO NOTHING"
)


def _insert(
    db: sqlite_utils.Database, source: str, source_ref: str | None, values: list[object]
) -> Stored:
    cur = db.execute(_INSERT, values)
    if cur.rowcount == 1:
        return Stored(int(cur.lastrowid or 0), True)
    row = db.execute(
        "SELECT id FROM intake WHERE source = ? AND source_ref = ?", [source, source_ref]
    ).fetchone()
    return Stored(int(row[0]), False)


def intake_state(db: sqlite_utils.Database, intake_id: int) -> dict:
    """State, outcome and ticket of one intake row (for IMAP's move decision and tests)."""
    rows = list(
        db.query(
            "SELECT id, state, outcome, reason, ticket_id, attempts FROM intake WHERE id = ?",
            [intake_id],
        )
    )
    return rows[0] if rows else {}
