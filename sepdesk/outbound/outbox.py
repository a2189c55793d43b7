"""The outbox: outgoing mail as rows written in the caller's transaction, then sent by sender.py.

States: queued -> sent | failed (permanent, or attempts exhausted); sent -> bounced when a
delivery status notification for it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from sepdesk.config import Settings
from sepdesk.instants import from_db, to_db
from sepdesk.outbound.compose import compose, header_safe, new_message_id

KINDS = (
    "ack",
    "call_accepted",
    "needs_info",
    "no_contract",
    "relay",
    "team_notice",
    "escalation",
    "command_error",
    "confirmation",
)
# Mails that answer a customer automatically count against max_auto_replies_per_day.
CUSTOMER_AUTO_KINDS = ("ack", "call_accepted", "needs_info", "no_contract", "confirmation")
# Mails to staff are internal messages of the ticket, not part of the customer conversation.
INTERNAL_KINDS = ("team_notice", "escalation", "command_error")


def enqueue(
    db: sqlite_utils.Database,
    settings: Settings,
    *,
    kind: str,
    to: Sequence[str],
    subject: str,
    body: str,
    at: datetime,
    ticket_id: int | None = None,
    ticket_ref: str | None = None,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    automatic: bool = True,
    reply_to: str | None = None,
    from_name: str | None = None,
    cc: Sequence[str] = (),
) -> int:
    """Queue one mail; must run inside the caller's write transaction. Returns the outbox id.

    ``subject`` is already tagged by the caller (compose.tagged_subject). The row
    holds the mail's parts with its Message-ID fixed now; :func:`raw_of` builds the
    bytes. When the mail belongs to a ticket it is also stored as an outgoing message.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    recipients = [header_safe(a, 254).lower() for a in to if a]
    message_id = new_message_id(settings, ticket_ref, at)
    cur = db.execute(
        "INSERT INTO outbox (ticket_id, kind, to_addrs, subject, message_id, in_reply_to, raw,"
        " automatic, next_attempt_at, created_at, body, cc, refs, reply_to, from_name)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ticket_id,
            kind,
            json.dumps(recipients),
            header_safe(subject, 250),
            message_id,
            in_reply_to,
            b"",
            int(automatic),
            to_db(at),
            to_db(at),
            body,
            json.dumps(list(cc)),
            json.dumps(list(references)),
            reply_to,
            from_name,
        ],
    )
    outbox_id = int(cur.lastrowid or 0)
    if ticket_id is not None:
        db.execute(
            "INSERT INTO messages (ticket_id, direction, kind, from_addr, to_addrs, at, message_id,"
            " in_reply_to, subject, body, outbox_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ticket_id,
                "internal" if kind in INTERNAL_KINDS else "out",
                kind,
                settings.desk.support_address,
                json.dumps(recipients),
                to_db(at),
                message_id,
                in_reply_to,
                header_safe(subject, 250),
                body,
                outbox_id,
            ],
        )
    if automatic and kind in CUSTOMER_AUTO_KINDS:
        for address in recipients:
            db.execute("INSERT INTO auto_replies (address, at) VALUES (?, ?)", [address, to_db(at)])
    return outbox_id


def raw_of(settings: Settings, row: dict[str, Any]) -> bytes:
    """The bytes of an outbox mail: as sent, or composed now from the row's parts."""
    if row["raw"]:
        return bytes(row["raw"])
    return compose(
        settings,
        to=json.loads(row["to_addrs"]),
        subject=row["subject"],
        body=row["body"],
        message_id=row["message_id"],
        at=from_db(row["created_at"]),
        automatic=bool(row["automatic"]),
        in_reply_to=row["in_reply_to"],
        references=json.loads(row["refs"]),
        reply_to=row["reply_to"],
        from_name=row["from_name"],
        cc=json.loads(row["cc"]),
    )


def auto_replies_since(db: sqlite_utils.Database, address: str, at: datetime) -> int:
    """How many automatic customer replies went to ``address`` in the 24 h before ``at``."""
    row = db.execute(
        "SELECT count(*) FROM auto_replies WHERE address = ? AND at > ?",
        [address.lower(), to_db(at - timedelta(hours=24))],
    ).fetchone()
    return int(row[0])


def backoff(attempts: int) -> timedelta:
    """Exponential retry delay: 1, 2, 4 ... minutes, capped at one hour."""
    return timedelta(minutes=min(60, 2 ** max(0, attempts - 1)))
