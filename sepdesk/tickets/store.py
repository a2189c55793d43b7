"""Ticket rows: creation with a number, lookup by ticket number or Call ID, updates, events, records.

Every function here runs inside the caller's write transaction; none commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from sepdesk.errors import NotFound
from sepdesk.instants import db_to_local, now, to_db
from sepdesk.sla.breach import ticket_breached
from sepdesk.store import insert_row
from sepdesk.store.counters import next_id

STATUSES = ("new", "needs-info", "accepted", "waiting", "solved", "closed", "unqualified")
OPEN_STATUSES = ("new", "needs-info", "accepted", "waiting", "unqualified")
SEVERITY_NAMES = {1: "Critical", 2: "Major", 3: "Minor", 4: "Cosmetic"}
_JSON_COLUMNS = ("severity_reasons", "missing_info", "versions", "operating_systems")
# json.dumps(..., ensure_ascii=False) builds a new encoder on every call; events are many.
_DETAIL_JSON = json.JSONEncoder(ensure_ascii=False)


@dataclass
class NewTicket:
    """What intake (mail or phone) knows when it opens a ticket."""

    channel: str
    received_at: datetime
    severity: int
    subject: str = ""
    requester: str = ""
    requester_name: str = ""
    reply_to: str = ""
    customer_number: str | None = None
    contract_level: str | None = None
    contract_state: str = "none"
    match_basis: str = "none"
    match_reason: str = ""
    verified_sender: bool = False
    stated_severity: int | None = None
    severity_reasons: list[str] = field(default_factory=list)
    missing_info: list[str] = field(default_factory=list)
    language: str = "en"
    versions: list[str] = field(default_factory=list)
    operating_systems: list[str] = field(default_factory=list)
    status: str = "new"
    linked_ticket: str | None = None


def create(db: sqlite_utils.Database, t: NewTicket, tz: str, at: datetime) -> dict[str, Any]:
    """Insert a ticket with the next T-YYYY-NNNNNN of the received year (desk timezone)."""
    return insert_new(db, new_row(db, t, tz, at), at)


def new_row(db: sqlite_utils.Database, t: NewTicket, tz: str, at: datetime) -> dict[str, Any]:
    """A new ticket's row with the next T-YYYY-NNNNNN of the received year (desk timezone).

    Not inserted yet: the caller may settle more of it first (Call ID, clock), so that
    :func:`insert_new` writes the ticket in its final state with one INSERT.
    """
    year = t.received_at.astimezone(ZoneInfo(tz)).year
    return new_values(t, next_id(db, "ticket", year), to_db(at))


def insert_new(db: sqlite_utils.Database, values: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Insert a new ticket's row (:func:`new_row`) and log its creation; returns the row as stored.

    The row is not read back: it is ``values`` and its id. So a row with a due must carry
    the timer's next look (``sla.deadlines.start_clock`` sets both), or the SLA insert
    trigger would store another one.
    """
    if values["first_response_due"] is not None and values["next_escalation_at"] is None:
        raise ValueError("a new ticket with a due needs its next_escalation_at")
    ticket = {"id": insert(db, values), **values}
    detail = {"ticket_number": ticket["ticket_number"], "status": ticket["status"]}
    add_event(db, ticket["id"], at, "desk", "created", detail)
    return ticket


def new_values(t: NewTicket, number: str, created_at: str) -> dict[str, Any]:
    """The tickets row of a new ticket numbered ``number``, as column -> value.

    Every column but ``id`` is there, at its starting value (no Call ID, no clock), so
    ``{"id": ..., **values}`` is the row as stored. ``created_at`` is database text
    (``to_db``), as in the other ``*_values`` helpers: bulk writers make many rows of one
    instant and convert it once.
    """
    values = {
        "ticket_number": number,
        "status": t.status,
        "channel": t.channel,
        "customer_number": t.customer_number,
        "contract_level": t.contract_level,
        "contract_state": t.contract_state,
        "match_basis": t.match_basis,
        "match_reason": t.match_reason,
        "verified_sender": int(t.verified_sender),
        "severity": t.severity,
        "stated_severity": t.stated_severity,
        "subject": t.subject,
        "requester": t.requester,
        "requester_name": t.requester_name,
        "reply_to": t.reply_to,
        "received_at": to_db(t.received_at),
        "language": t.language,
        "linked_ticket": t.linked_ticket,
        "created_at": created_at,
        "updated_at": created_at,
        "call_id": None,
        "first_response_due": None,
        "first_response_at": None,
        "breached": 0,
        "next_escalation_at": None,
        "assigned_to": None,
        "delivery_failed": 0,
        "solved_at": None,
        "closed_at": None,
        "clock_from": None,  # set when a reopening starts the response clock again
    }
    for col in _JSON_COLUMNS:
        values[col] = _json_list(getattr(t, col))
    return values


def insert(db: sqlite_utils.Database, values: dict[str, Any]) -> int:
    """Insert one tickets row (column -> value); returns its id. No event: callers log their own."""
    return insert_row(db, "tickets", values)


def get(db: sqlite_utils.Database, ticket_id: int) -> dict[str, Any]:
    rows = list(db.query("SELECT * FROM tickets WHERE id = ?", [ticket_id]))
    if not rows:
        raise NotFound(f"ticket #{ticket_id}: no such ticket")
    return rows[0]


def find(db: sqlite_utils.Database, ref: str) -> dict[str, Any]:
    """A ticket by ticket number or Call ID (case-insensitive)."""
    key = ref.strip().upper()
    rows = list(
        db.query("SELECT * FROM tickets WHERE ticket_number = ? OR call_id = ?", [key, key])
    )
    if not rows:
        # As typed (stripped): "GARBAGE" named something nobody typed (review finding).
        raise NotFound(f"{ref.strip()}: no such ticket or Call ID")
    return rows[0]


def find_opt(db: sqlite_utils.Database, ref: str) -> dict[str, Any] | None:
    try:
        return find(db, ref)
    except NotFound:
        return None


def update(db: sqlite_utils.Database, ticket_id: int, at: datetime, **values: Any) -> None:
    for col in _JSON_COLUMNS:
        if col in values:
            values[col] = json.dumps(list(values[col]))
    values["updated_at"] = to_db(at)
    sets = ", ".join(f"{k} = ?" for k in values)
    db.execute(f"UPDATE tickets SET {sets} WHERE id = ?", [*values.values(), ticket_id])


def add_event(
    db: sqlite_utils.Database,
    ticket_id: int | None,
    at: datetime,
    actor: str,
    kind: str,
    detail: dict[str, Any] | None = None,
) -> None:
    insert_row(db, "events", event_values(ticket_id, to_db(at), actor, kind, detail))


def event_values(
    ticket_id: int | None,
    at: str,
    actor: str,
    kind: str,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The events row :func:`add_event` writes, for callers that insert events in bulk.

    ``at`` is database text (``to_db``): bulk writers log many events of one instant.
    """
    return {
        "ticket_id": ticket_id,
        "at": at,
        "actor": actor,
        "kind": kind,
        "detail": _DETAIL_JSON.encode(detail or {}),
    }


def add_message(db: sqlite_utils.Database, values: dict[str, Any]) -> int:
    """Insert a messages row built by :func:`message_values`; returns its id."""
    return insert_row(db, "messages", values)


def message_values(
    ticket_id: int,
    *,
    direction: str,
    at: str,
    from_addr: str,
    to_addrs: Iterable[str] = (),
    message_id: str | None = None,
    in_reply_to: str | None = None,
    subject: str = "",
    body: str = "",
    kind: str = "",
    intake_id: int | None = None,
    outbox_id: int | None = None,
) -> dict[str, Any]:
    """A messages row, for :func:`add_message` or for callers that insert in bulk.

    ``at`` is database text (``to_db``).
    """
    return {
        "ticket_id": ticket_id,
        "direction": direction,
        "kind": kind,
        "from_addr": from_addr,
        "to_addrs": _json_list(to_addrs),
        "at": at,
        "message_id": message_id,
        "in_reply_to": in_reply_to,
        "subject": subject,
        "body": body,
        "intake_id": intake_id,
        "outbox_id": outbox_id,
    }


def _json_list(items: Iterable[str]) -> str:
    """``json.dumps(list(items))``, without the encoder for the common empty list."""
    values = list(items)
    return json.dumps(values) if values else "[]"


def recipient(ticket: dict[str, Any]) -> str:
    """Where mail to the customer goes: the Reply-To they gave, else the sender."""
    return str(ticket["reply_to"] or ticket["requester"])


def ref_of(ticket: dict[str, Any]) -> str:
    """The identifier mails carry: the Call ID once there is one, else the ticket number."""
    return str(ticket.get("call_id") or ticket["ticket_number"])


def record(
    db: sqlite_utils.Database, ticket: dict[str, Any], tz: str, at: datetime | None = None
) -> dict[str, Any]:
    """The ticket as SPEC §3's JSON record (``tickets show ID --json``), as of ``at`` (now).

    ``breached`` is judged at ``at`` (sepdesk.sla.breach), not read from the stored
    flag, which only the SLA timer sets once the due has passed.
    """
    messages = [
        {
            "direction": m["direction"],
            "from": m["from_addr"],
            "at": db_to_local(m["at"], tz),
            "message_id": m["message_id"],
        }
        for m in db.query(
            "SELECT direction, from_addr, at, message_id FROM messages WHERE ticket_id = ?"
            " ORDER BY at, id",
            [ticket["id"]],
        )
    ]
    return {
        "ticket_number": ticket["ticket_number"],
        "call_id": ticket["call_id"],
        "status": ticket["status"],
        "channel": ticket["channel"],
        "customer_number": ticket["customer_number"],
        "contract_level": ticket["contract_level"],
        "verified_sender": bool(ticket["verified_sender"]),
        "severity": ticket["severity"],
        "severity_name": SEVERITY_NAMES.get(ticket["severity"], "?"),
        "subject": ticket["subject"],
        "requester": ticket["requester"],
        "received_at": db_to_local(ticket["received_at"], tz),
        "first_response_due": db_to_local(ticket["first_response_due"], tz),
        "first_response_at": db_to_local(ticket["first_response_at"], tz),
        "breached": ticket_breached(ticket, at or now()),
        "missing_info": json.loads(ticket["missing_info"]),
        "language": ticket["language"],
        "messages": messages,
        # Beyond SPEC's list, for engineers; scripts may ignore them.
        "stated_severity": ticket["stated_severity"],
        "severity_reasons": json.loads(ticket["severity_reasons"]),
        "contract_state": ticket["contract_state"],
        "match_basis": ticket["match_basis"],
        "match_reason": ticket["match_reason"],
        "assigned_to": ticket["assigned_to"],
        "linked_ticket": ticket["linked_ticket"],
        "delivery_failed": bool(ticket["delivery_failed"]),
    }


def customer_label(db: sqlite_utils.Database, ticket: dict[str, Any]) -> str:
    """The ticket's customer as staff mails name it: number and name ("" without one)."""
    number = ticket.get("customer_number")
    if not number:
        return ""
    row = db.execute(
        "SELECT customer_name FROM contracts WHERE customer_number = ? ORDER BY start DESC",
        [number],
    ).fetchone()
    return f"{number} {row[0]}" if row else str(number)
