"""Breached or not: the one rule every command uses (show, list, status, explain, reports).

Pure: a ticket row (as stored) and an instant in, the answer out; no I/O, no clock.

The response clock runs from receipt until it stops, and it stops at the first
of: the first response, solving the ticket, closing it. Solving or closing
without a response stops it too: the customer is no longer waiting, and the
SLA timer stops escalating such a ticket at that moment (reopening clears
solved/closed: the clock runs again against its old due, or, where it had stopped in
time and that due has passed, from the reopening: ``deadlines.reopen_clock``). A ticket is breached
at ``at`` when its due instant has come by then and the clock had not stopped
by the due instant. Everything is judged as of ``at``: a response logged for a
later instant does not count yet, so ``--at`` gives the picture of that moment.

The stored ``tickets.breached`` flag only records what the timer and the
response recorder saw when they ran; it is not read here, so a ticket is
breached in every view as soon as its due passes, whether or not the timer ran.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sepdesk.instants import from_db, from_db_opt

# The columns whose instant stops the response clock, earliest wins.
STOP_COLUMNS = ("first_response_at", "solved_at", "closed_at")


def is_breached(due: datetime | None, stopped_at: datetime | None, at: datetime) -> bool:
    """Late at ``at``: the due instant has come and the clock had not stopped by then.

    A response at exactly the due instant is in time; the timer's breach fires at
    the due instant, so a ticket still waiting counts as breached from then on.
    """
    if due is None or at < due:
        return False
    return stopped_at is None or stopped_at > due


def clock_stop(ticket: dict[str, Any], at: datetime | None = None) -> datetime | None:
    """When the ticket's response clock stopped (first response, solved, closed), if by ``at``."""
    stops = [from_db(ticket[c]) for c in STOP_COLUMNS if ticket.get(c)]
    if at is not None:
        stops = [s for s in stops if s <= at]
    return min(stops) if stops else None


def ticket_breached(ticket: dict[str, Any], at: datetime) -> bool:
    """Whether ``ticket`` (a tickets row) is breached as of ``at``."""
    return is_breached(from_db_opt(ticket["first_response_due"]), clock_stop(ticket, at), at)


def sla_state(ticket: dict[str, Any], at: datetime) -> str | None:
    """'breached', 'met' (clock stopped in time) or 'pending' as of ``at``; None without a due."""
    if ticket["first_response_due"] is None:
        return None
    if ticket_breached(ticket, at):
        return "breached"
    return "met" if clock_stop(ticket, at) is not None else "pending"
