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
                int(threaded),
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
