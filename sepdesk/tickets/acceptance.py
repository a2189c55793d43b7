"""When a ticket is a valid support call (SPEC §2), and giving it its Call ID.

``decide_status`` is pure: the facts of a request in, the ticket status out.
``assign_call_id`` writes, inside the caller's transaction; ``new_call_id`` and
``log_accepted`` are its two halves for a ticket accepted before it is inserted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from sepdesk.instants import day_start, from_db, to_db
from sepdesk.store.counters import next_id
from sepdesk.tickets import store as tickets

DEMO_SEVERITY = 3  # SPEC §1: demo contracts are best effort, shown as Minor


def shown_severity(severity: int, contract_state: str, level: str | None) -> tuple[int, str | None]:
    """The severity a ticket shows, and why it differs from the content's, if it does.

    A current demo contract is best effort: nothing on it is shown as more urgent
    than Minor; a question stays Cosmetic.
    """
    if contract_state == "current" and level == "demo" and severity < DEMO_SEVERITY:
        return DEMO_SEVERITY, f"demo contract: shown as Minor (judged {severity})"
    return severity, None


def decide_status(
    *,
    contract_state: str,
    missing: tuple[str, ...] | list[str],
    ambiguous: bool,
    emergency_used: bool,
    unverified_emergency: bool = False,
) -> tuple[str, str]:
    """(status, why) for a request: accepted only with a current contract and complete information.

    ``unverified_emergency``: the request would use an Emergency Call's one paid incident
    and its sender is no registered contact of that customer; an engineer decides (new).
    """
    if ambiguous:
        return "needs-info", "two or more known customers named; asking which one"
    if contract_state != "current":
        return "unqualified", f"no current contract ({contract_state})"
    if emergency_used:
        return "unqualified", "the emergency contract's one incident is already used"
    if missing:
        return "needs-info", "missing: " + ", ".join(missing)
    if unverified_emergency:
        return "new", "emergency contract asked for by no registered contact; an engineer accepts"
    return "accepted", "current contract and complete request"


def emergency_used_by(
    db: sqlite_utils.Database,
    customer_number: str,
    contract_start: date,
    tz: str,
    exclude_id: int | None = None,
    contract_end: date | None = None,
) -> str | None:
    """The Call ID that already used an emergency contract's single incident, if any.

    ``contract_start`` and ``contract_end`` are local days of the desk's timezone ``tz``;
    the contract's incidents are the calls received from the start's local midnight on,
    up to the end's last instant: a renewed contract's calls are not the earlier one's.
    """
    until = to_db(day_start(contract_end + timedelta(days=1), tz)) if contract_end else None
    row = db.execute(
        "SELECT call_id FROM tickets WHERE customer_number = ? AND call_id IS NOT NULL"
        " AND received_at >= ? AND (? IS NULL OR received_at < ?) AND id != ?"
        " ORDER BY id LIMIT 1",
        [customer_number, to_db(day_start(contract_start, tz)), until, until, exclude_id or -1],
    ).fetchone()
    return str(row[0]) if row else None


def new_call_id(db: sqlite_utils.Database, received_at: str, tz: str) -> str:
    """The next C-YYYY-NNNNN of the year a ticket was received (``received_at`` as stored)."""
    return next_id(db, "call", from_db(received_at).astimezone(ZoneInfo(tz)).year)


def log_accepted(
    db: sqlite_utils.Database, ticket_id: int, call_id: str, at: datetime, actor: str
) -> None:
    tickets.add_event(db, ticket_id, at, actor, "accepted", {"call_id": call_id})


def assign_call_id(
    db: sqlite_utils.Database, ticket: dict[str, Any], tz: str, at: datetime, actor: str
) -> str:
    """Accept a ticket: a new Call ID unless it has one already; returns its Call ID.

    A new ticket accepted at once gets its Call ID in its first INSERT instead
    (:func:`new_call_id`, :func:`log_accepted`).
    """
    if ticket["call_id"]:
        return str(ticket["call_id"])
    call_id = new_call_id(db, ticket["received_at"], tz)
    tickets.update(db, ticket["id"], at, call_id=call_id, status="accepted")
    log_accepted(db, ticket["id"], call_id, at, actor)
    return call_id
