"""Engineer actions on a ticket (CLI and mail commands alike): each an event, each checked.

The allowed transitions are data (ALLOWED_FROM); an impossible one raises
InvalidTransition with one line naming the ticket and its status.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sepdesk.desk import Desk
from sepdesk.errors import InputError, InvalidTransition
from sepdesk.instants import from_db, local_iso, to_db
from sepdesk.sla.deadlines import clock_start, record_response, reopen_clock, restart_clock
from sepdesk.store import write_tx
from sepdesk.tickets import store as tickets
from sepdesk.tickets.acceptance import assign_call_id, log_accepted
from sepdesk.tickets.notices import call_id_notice

OPEN = ("new", "needs-info", "accepted", "waiting", "unqualified")
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "accept": ("new", "needs-info", "waiting", "unqualified"),
    "solve": OPEN,
    "close": (*OPEN, "solved"),
    "reopen": ("solved", "closed"),
    "waiting": ("new", "needs-info", "accepted"),
    "respond": (*OPEN, "solved"),
    "severity": OPEN,
    "assign": (*OPEN, "solved"),
}
# How an action reads in "cannot <verb> at <instant>", where its name is no verb.
_VERB_AT = {"severity": "change the severity", "waiting": "set waiting"}
# The same in "cannot <verb> a ticket ...", with its object.
_VERB = {**_VERB_AT, "severity": "change the severity of"}
# Actions that stop the response clock (sla.breach.STOP_COLUMNS): not dated before it runs.
_CLOCK_STOPS = ("respond", "solve", "close")


def _check(ticket: dict[str, Any], action: str) -> None:
    if ticket["status"] not in ALLOWED_FROM[action]:
        raise InvalidTransition(
            f"{ticket['ticket_number']}: cannot {_VERB.get(action, action)} a ticket"
            f" that is {ticket['status']}"
        )


def _check_time(ticket: dict[str, Any], action: str, at: datetime, tz: str) -> None:
    """Nothing is done to a ticket before it exists, nor is its clock stopped before it
    started: either would give negative response times."""
    received = from_db(ticket["received_at"])
    if at < received:
        raise InputError(
            # Whole seconds: severity and assign have no --at, so ``at`` is now(), whose
            # microseconds only clutter the line.
            f"{ticket['ticket_number']}: cannot {_VERB_AT.get(action, action)}"
            f" at {local_iso(at.replace(microsecond=0), tz)},"
            f" before the ticket was received ({local_iso(received, tz)})"
        )
    start = clock_start(ticket)
    if action in _CLOCK_STOPS and at < start:
        # A reopening (or a new contract) started the clock again: a response dated before
        # it counted back from the new start, a negative response time (review finding).
        raise InputError(
            f"{ticket['ticket_number']}: cannot {action} at {local_iso(at.replace(microsecond=0), tz)},"
            f" before its response clock started ({local_iso(start, tz)})"
        )


def active_status(ticket: dict[str, Any]) -> str:
    """The status a reopened (or woken) ticket goes back to: what it was before it was
    solved (or set waiting).

    A ticket still missing information waits for it (SPEC §1: it stays needs-info
    until a follow-up supplies it); one without a current contract stays unqualified.
    """
    if ticket["call_id"]:
        return "accepted"
    if ticket["contract_state"] != "current":
        return "unqualified"
    return "needs-info" if json.loads(ticket["missing_info"] or "[]") else "new"


def start_at_acceptance(desk: Desk, ticket_id: int, at: datetime) -> None:
    """Start the response clock of a ticket that had none (no current contract, its
    emergency incident used) at its acceptance ``at``. Counted from its receipt, an
    accept days later was breached at once: the Call ID notice said the time had passed
    and the timer mailed a late breach, for a clock nobody ran (review finding)."""
    tickets.update(desk.db, ticket_id, at, clock_from=to_db(at))
    restart_clock(desk, ticket_id, at)


def reopen_window_open(desk: Desk, ticket: dict[str, Any], received: datetime) -> bool:
    """Whether a customer's word received at ``received`` reopens ``ticket`` (solved, at
    most ``[desk] reopen_days`` before), rather than opening a linked ticket: mail and
    phone calls alike. A message received before the solve but processed after it
    (the solve came by CLI while it waited) reopens too: whoever solved had not seen it."""
    solved = ticket["solved_at"]
    days = desk.settings.desk.reopen_days
    return bool(solved) and received - from_db(solved) <= timedelta(days=days)


def opens_linked(desk: Desk, ticket: dict[str, Any], received: datetime) -> bool:
    """Whether a customer's word received at ``received`` on ``ticket`` opens a linked
    ticket instead of joining it: the ticket is closed, or solved too long ago to reopen."""
    if ticket["status"] == "solved":
        return not reopen_window_open(desk, ticket, received)
    return ticket["status"] == "closed"


def apply(
    desk: Desk,
    ref: str,
    action: str,
    at: datetime,
    actor: str,
    arg: Any = None,
    notify_customer: bool = True,
) -> dict[str, Any]:
    """Run one action on the ticket named by ``ref``; returns the updated ticket.

    Accepting mails the new Call ID to the customer unless ``notify_customer`` is
    False (a mail command, whose one reply carries it instead).
    """
    if action not in ALLOWED_FROM:
        raise InputError(f"unknown action {action!r}")
    db = desk.db
    with write_tx(db):
        ticket = tickets.find(db, ref)
        _check(ticket, action)
        _check_time(ticket, action, at, desk.tz)
        tid = ticket["id"]
        if action == "accept":
            assign_call_id(db, ticket, desk.tz, at, actor)
            tickets.update(db, tid, at, status="accepted")
            if ticket["first_response_due"] is None:
                start_at_acceptance(desk, tid, at)
            if ticket["call_id"]:
                # Accepted before (then set waiting): the Call ID was mailed then (SPEC §2:
                # once; a review found it twice); the acceptance is logged as the first was.
                log_accepted(db, tid, ticket["call_id"], at, actor)
            elif notify_customer:
                call_id_notice(desk, tickets.get(db, tid), at)
        elif action == "solve":
            tickets.update(db, tid, at, status="solved", solved_at=to_db(at))
        elif action == "close":
            tickets.update(db, tid, at, status="closed", closed_at=to_db(at))
        elif action == "reopen":
            clock = reopen_clock(ticket, at)
            tickets.update(
                db, tid, at, status=active_status(ticket), solved_at=None, closed_at=None, **clock
            )
            if clock:
                restart_clock(desk, tid, at)
        elif action == "waiting":
            tickets.update(db, tid, at, status="waiting")
        elif action == "respond":
            record_response(db, tid, at, actor)
        elif action == "severity":
            set_severity(desk, ticket, int(arg), at)
        elif action == "assign":
            tickets.update(db, tid, at, assigned_to=_assignee(desk, ticket, str(arg)))
        if action not in ("accept", "respond"):
            detail = {"value": arg} if arg is not None else {}
            if action == "severity":  # what it was: sla.asof tells a report of before
                detail["from"] = ticket["severity"]
            tickets.add_event(db, tid, at, actor, action, detail)
        return tickets.get(db, tid)


def _assignee(desk: Desk, ticket: dict[str, Any], address: str) -> str:
    """``address`` when it may be assigned (Settings.may_assign). SLA escalations go to the
    assignee with the ticket's internal details: assigned to the customer (or any outside
    address) they went there."""
    address = address.strip().lower()
    if not desk.settings.may_assign(address, ticket["requester"]):
        why = "not in [desk] staff" if desk.settings.desk.staff else "the ticket's requester"
        raise InputError(f"{ticket['ticket_number']}: cannot assign to {address}: {why}")
    return address


def set_severity(
    desk: Desk, ticket: dict[str, Any], severity: int, at: datetime, **more: Any
) -> None:
    """Store a new severity (and ``more`` columns, say its reasons) and recompute the due
    from receipt; by an engineer here, by the desk for a follow-up that shows it graver."""
    if severity not in (1, 2, 3, 4):
        raise InputError(f"severity must be 1-4, not {severity}")
    tickets.update(desk.db, ticket["id"], at, severity=severity, **more)
    if ticket["first_response_due"] is not None:
        restart_clock(desk, ticket["id"], at)
