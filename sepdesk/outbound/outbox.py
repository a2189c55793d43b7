"""The outbox: outgoing mail as rows written in the caller's transaction, then sent by sender.py.

States: queued -> sent | failed (permanent, or attempts exhausted); sent -> bounced when a
delivery status notification for it arrives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from sepdesk.config import Settings
from sepdesk.errors import InputError, NotFound
from sepdesk.instants import from_db, to_db
from sepdesk.outbound.compose import compose, header_safe, new_message_id
from sepdesk.store import insert_row, write_tx
from sepdesk.tickets.store import message_values

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
# Mails that answer a customer automatically count against max_auto_replies_per_day, the
# guard against mail loops. A phone call's confirmation answers no mail (the hotline took
# the call), so it is not counted: else a customer whose calls were imported got no
# acknowledgement, and no ticket number, for their own mails that day.
CUSTOMER_AUTO_KINDS = ("ack", "call_accepted", "needs_info", "no_contract")
# Mails to staff are internal messages of the ticket, not part of the customer conversation.
INTERNAL_KINDS = ("team_notice", "escalation", "command_error")
# The rest reach the customer: one that bounced or failed for good flags its ticket.
CUSTOMER_KINDS = tuple(k for k in KINDS if k not in INTERNAL_KINDS)


def enqueue(db: sqlite_utils.Database, mail: QueuedMail) -> int:
    """Queue one mail built by :func:`queued_mail`; must run inside the caller's write
    transaction. Returns the outbox id. When the mail belongs to a ticket it is also
    stored as an outgoing message; :func:`raw_of` builds the bytes when it is sent."""
    outbox_id = insert_row(db, "outbox", mail.outbox)
    if mail.message is not None:
        insert_row(db, "messages", {**mail.message, "outbox_id": outbox_id})
    for values in mail.auto_replies:
        insert_row(db, "auto_replies", values)
    return outbox_id


@dataclass(frozen=True)
class QueuedMail:
    """The rows :func:`enqueue` writes for one mail, built without writing anything.

    For writers that insert many mails at once; ``message`` (the ticket's outgoing
    message, None without a ticket) lacks the ``outbox_id``, known only once the
    outbox row has its id.
    """

    outbox: dict[str, Any]
    message: dict[str, Any] | None
    auto_replies: list[dict[str, Any]]


def queued_mail(
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
    counted: bool | None = None,
) -> QueuedMail:
    """The rows of one mail to queue (:func:`enqueue` writes them).

    ``subject`` is already tagged by the caller (compose.tagged_subject); the
    Message-ID is fixed now. ``counted``: whether it counts against
    max_auto_replies_per_day; by default the customers' automatic kinds do.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    recipients = [header_safe(a, 254).lower() for a in to if a]
    message_id = new_message_id(settings, ticket_ref, at)
    stamp, safe_subject, to_json = to_db(at), header_safe(subject, 250), json.dumps(recipients)
    outbox = {
        "ticket_id": ticket_id,
        "kind": kind,
        "to_addrs": to_json,
        "subject": safe_subject,
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "raw": b"",
        "automatic": int(automatic),
        "next_attempt_at": stamp,
        "created_at": stamp,
        "body": body,
        "cc": json.dumps(list(cc)) if cc else "[]",
        "refs": json.dumps(list(references)) if references else "[]",
        "reply_to": reply_to,
        "from_name": from_name,
    }
    message = None
    if ticket_id is not None:
        message = message_values(
            ticket_id,
            direction="internal" if kind in INTERNAL_KINDS else "out",
            kind=kind,
            from_addr=settings.desk.support_address,
            at=stamp,
            message_id=message_id,
            in_reply_to=in_reply_to,
            subject=safe_subject,
            body=body,
        )
        message["to_addrs"] = to_json  # the outbox row's recipients, encoded once
    if counted is None:
        counted = automatic and kind in CUSTOMER_AUTO_KINDS
    replies = [{"address": a, "at": stamp} for a in recipients] if counted else []
    return QueuedMail(outbox, message, replies)


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


def _must_have_failed(db: sqlite_utils.Database, outbox_id: int, done: str) -> None:
    """NotFound for no such mail, InputError for one that has not failed (only a failed
    mail is ``done``: retried, dismissed)."""
    row = db.execute("SELECT state FROM outbox WHERE id = ?", [outbox_id]).fetchone()
    if row is None:
        raise NotFound(f"outbox #{outbox_id}: no such mail")
    if row[0] != "failed":
        raise InputError(f"outbox #{outbox_id}: {row[0]}, not failed; only a failed mail is {done}")


def requeue(db: sqlite_utils.Database, outbox_id: int, at: datetime) -> None:
    """Queue a failed mail again, due at ``at``, with a fresh count of attempts (its
    attempts ran out, or a fault since fixed made it fail); InputError/NotFound else."""
    with write_tx(db):
        _must_have_failed(db, outbox_id, "retried")
        db.execute(
            "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = ? WHERE id = ?",
            [to_db(at), outbox_id],
        )
        # Tried again, it is news again: should it fail once more, status counts it.
        db.execute("DELETE FROM outbox_dismissals WHERE outbox_id = ?", [outbox_id])


def dismiss(db: sqlite_utils.Database, outbox_id: int, at: datetime) -> None:
    """Take a failed mail out of ``status``'s ``outbox_failed``: an admin has seen to it
    (answered the customer by hand, or given up). Its state stays ``failed``; InputError
    for a mail in another state, NotFound for none."""
    with write_tx(db):
        _must_have_failed(db, outbox_id, "dismissed")
        db.execute(
            "INSERT OR IGNORE INTO outbox_dismissals (outbox_id, at) VALUES (?, ?)",
            [outbox_id, to_db(at)],
        )


# The failed mails status counts: those nobody has dismissed.
UNDISMISSED_FAILED = "state = 'failed' AND id NOT IN (SELECT outbox_id FROM outbox_dismissals)"
