"""First-response deadlines: the policy tables of SPEC §1 as functions, and the ticket's clock.

The top half is pure (budget, schedule, due); whether a ticket is breached is
:mod:`sepdesk.sla.breach` (re-exported here as ``is_breached``). The two functions at
the bottom write a ticket's clock and are what other code calls:
:func:`refresh_due` after severity or contract changes, and
:func:`record_response` whenever a support engineer answers (mail reply,
phone call, ``tickets respond``). :func:`start_clock` puts the same clock into
a new ticket's row before it is inserted.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from sepdesk.config import Settings
from sepdesk.desk import Desk
from sepdesk.instants import from_db, from_db_opt, to_db
from sepdesk.sla.breach import clock_stop, is_breached, ticket_breached
from sepdesk.sla.calendar import (
    ALWAYS,
    MAJOR_HOURS,
    MINOR_HOURS,
    ZERO,
    Schedule,
    SupportCalendar,
)
from sepdesk.store import write_tx
from sepdesk.tickets.store import add_event, get

SEVERITY_HOURS = {1: 4, 2: 8, 3: 12, 4: 12}
SEVERITY_SCHEDULES = {1: ALWAYS, 2: MAJOR_HOURS, 3: MINOR_HOURS, 4: MINOR_HOURS}
EMERGENCY_BUDGET = timedelta(hours=1, minutes=30)
DEMO_BUDGET = timedelta(hours=12)
# Contract states in which the ticket is handled as if there were no contract.
NO_CONTRACT_STATES = frozenset({"expired", "future", "not_started", "inactive"})


def _check_severity(severity: int) -> None:
    if severity not in SEVERITY_HOURS:
        raise ValueError(f"severity must be 1-4, got {severity!r}")


def effective_level(contract_level: str | None, contract_state: str | None = None) -> str | None:
    """The contract level the clock uses: None without a current contract."""
    if not contract_level or (contract_state or "").lower() in NO_CONTRACT_STATES:
        return None
    return contract_level.lower()


# SPEC §1 contracts table: these levels set their own budget and hours; every other
# (business, no contract, expired, unknown) goes by severity.
_LEVEL_TERMS = {"emergency": (EMERGENCY_BUDGET, ALWAYS), "demo": (DEMO_BUDGET, MINOR_HOURS)}


def _terms(severity: int, contract_level: str | None) -> tuple[timedelta, Schedule]:
    _check_severity(severity)
    by_severity = (timedelta(hours=SEVERITY_HOURS[severity]), SEVERITY_SCHEDULES[severity])
    return _LEVEL_TERMS.get((contract_level or "").lower(), by_severity)


def budget(severity: int, contract_level: str | None) -> timedelta:
    """Support time allowed until the first response (SPEC §1 contracts table)."""
    return _terms(severity, contract_level)[0]


def schedule_for(severity: int, contract_level: str | None) -> Schedule:
    """Which support hours the clock runs in for this severity and contract."""
    return _terms(severity, contract_level)[1]


def first_response_due(
    cal: SupportCalendar, received_at: datetime, severity: int, contract_level: str | None
) -> datetime:
    """When the first response is due, as a local instant of the desk's timezone."""
    return cal.add(
        received_at, budget(severity, contract_level), schedule_for(severity, contract_level)
    )


def ticket_level(ticket: dict[str, Any]) -> str | None:
    return effective_level(ticket.get("contract_level"), ticket.get("contract_state"))


def ticket_schedule(ticket: dict[str, Any]) -> Schedule:
    return schedule_for(int(ticket["severity"]), ticket_level(ticket))


def clock_start(ticket: dict[str, Any]) -> datetime:
    """Where the response clock runs from: the receipt, or a reopening that started it
    again (:func:`reopen_clock`)."""
    return from_db(ticket.get("clock_from") or ticket["received_at"])


def response_time(cal: SupportCalendar, ticket: dict[str, Any], responded: datetime) -> timedelta:
    """Support time from the clock's start to the first response at ``responded``.

    Never negative: a response before the running clock started (a reply received before
    a reopening, processed after it) waited no time on that clock. Negative, it lowered
    the report's median and counted as within the SLA.
    """
    return max(cal.elapsed(clock_start(ticket), responded, ticket_schedule(ticket)), ZERO)


def ticket_due(cal: SupportCalendar, ticket: dict[str, Any]) -> datetime:
    """The due instant from the clock's start and the ticket's current severity/contract."""
    return first_response_due(
        cal, clock_start(ticket), int(ticket["severity"]), ticket_level(ticket)
    )


def reopen_clock(ticket: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The column to set when ``ticket`` (a row as read, solved or closed) is reopened at
    ``at``: a new response clock from ``at`` where the old one stopped in time (solved or
    closed by its due, no response yet) and its due has passed since. Reopening once
    cleared the stop and ran the clock against the old due: every view then called the
    ticket breached back to its due, when it had been solved in time, and the timer
    mailed a breach at once. Otherwise (reopened before the due, or late already) nothing."""
    due = from_db_opt(ticket["first_response_due"])
    stopped = clock_stop(ticket)
    if ticket["first_response_at"] or due is None or stopped is None:
        return {}
    return {"clock_from": to_db(at)} if stopped <= due <= at else {}


def warning_instant(cal: SupportCalendar, ticket: dict[str, Any], warn_at: float) -> datetime:
    """When ``warn_at`` of the support time between receipt and due is used.

    Measured on the stored due, not on a fresh budget, so the warning always
    precedes the due the customer was told, whoever computed it.
    """
    received = clock_start(ticket)
    due = from_db(ticket["first_response_due"])
    schedule = ticket_schedule(ticket)
    span = max(cal.elapsed(received, due, schedule), ZERO)
    return min(cal.add(received, span * warn_at, schedule), due)


def _calendar(cal: SupportCalendar | Settings) -> SupportCalendar:
    return cal if isinstance(cal, SupportCalendar) else SupportCalendar.from_settings(cal)


def refresh_due(
    db: sqlite_utils.Database,
    cal: SupportCalendar | Settings,
    ticket_id: int,
    at: datetime | None = None,
    warn_at: float | None = None,
) -> datetime:
    """Recompute and store ``first_response_due`` from the clock's start (severity/contract
    changed, or a reopening restarted it).

    The clock runs from the original receipt (or a reopening), never from the change. The
    breached flag follows the new due for answered tickets, and for open ones
    when ``at`` is given (otherwise the timer sets it when the due instant passes).
    With ``warn_at`` the timer's next look is set to the warning instant here, the
    earliest any escalation of the ticket can be due, so the timer is not woken just
    to work that out. Runs in the caller's transaction, or its own. Returns the due.
    """
    calendar = _calendar(cal)
    with write_tx(db):
        ticket = get(db, ticket_id)
        due, breached, look = clock_of(calendar, ticket, at, warn_at)
        old = ticket["first_response_due"]
        db.execute(
            "UPDATE tickets SET first_response_due = ?, breached = ?, next_escalation_at = ?"
            " WHERE id = ?",
            [to_db(due), breached, look, ticket_id],
        )
        if at is not None and old != to_db(due):
            detail = due_change(old, to_db(due), ticket["clock_from"])
            add_event(db, ticket_id, at, "desk", "due_changed", detail)
    return due


def due_change(old: str | None, new: str | None, clock_from: str | None) -> dict[str, Any]:
    """A ``due_changed`` event's detail: the due before and after (database text) and, when
    a reopening or an acceptance started the clock anew, where it runs from; so that
    ``sla.asof`` can tell the clock as it stood before the change."""
    detail: dict[str, Any] = {"from": old, "to": new}
    if clock_from:
        detail["clock_from"] = clock_from
    return detail


def clock_of(
    cal: SupportCalendar,
    ticket: dict[str, Any],
    at: datetime | None = None,
    warn_at: float | None = None,
) -> tuple[datetime, int, str | None]:
    """What :func:`refresh_due` stores for ``ticket`` (a row as read): due, breached, next look.

    Pure, so that a bulk writer can put the clock into the row it inserts.
    """
    due = ticket_due(cal, ticket)
    responded = from_db_opt(ticket["first_response_at"])
    breached = int(ticket["breached"])
    if responded is not None or at is not None:
        judged = at or responded or due
        breached = int(ticket_breached({**ticket, "first_response_due": to_db(due)}, judged))
    look = ticket["next_escalation_at"]
    if warn_at is not None and responded is None and ticket["status"] not in ("solved", "closed"):
        warn = warning_instant(cal, {**ticket, "first_response_due": to_db(due)}, warn_at)
        look = to_db(warn)
    return due, breached, look


def start_clock(desk: Desk, values: dict[str, Any]) -> None:
    """Put into a new ticket's row, before it is inserted, the clock :func:`restart_clock`
    would store once it exists: due, breached and the timer's next look."""
    due, breached, look = clock_of(desk.calendar, values, None, desk.settings.sla.warn_at)
    values.update(first_response_due=to_db(due), breached=breached, next_escalation_at=look)


def restart_clock(desk: Desk, ticket_id: int, at: datetime | None = None) -> datetime:
    """:func:`refresh_due` with the desk's calendar and warning fraction."""
    return refresh_due(desk.db, desk.calendar, ticket_id, at, desk.settings.sla.warn_at)


def record_response(db: sqlite_utils.Database, ticket_id: int, at: datetime, actor: str) -> bool:
    """Record a support engineer's response; True when it was the first one (stops the clock).

    Later responses are logged as events but leave the first response time as it
    was. A first response after the due instant marks the ticket breached.
    """
    with write_tx(db):
        detail = response_detail(get(db, ticket_id), at)
        if detail["first"]:
            stop_clock(db, ticket_id, at, bool(detail["late"]))
        add_event(db, ticket_id, at, actor, "responded", detail)
    return bool(detail["first"])


def response_detail(ticket: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The ``responded`` event's detail for a response at ``at`` to ``ticket`` (a row as read)."""
    first = ticket["first_response_at"] is None
    # A ticket solved or closed in time was not late, whenever the response came after.
    stopped = min(s for s in (clock_stop(ticket, at), at) if s is not None)
    late = is_breached(from_db_opt(ticket["first_response_due"]), stopped, at)
    return {"first": first, "late": late if first else None}


def stop_clock(db: sqlite_utils.Database, ticket_id: int, at: datetime, late: bool) -> None:
    """Store the first response at ``at``; a late one marks the ticket breached."""
    db.execute(
        "UPDATE tickets SET first_response_at = ?,"
        " breached = max(breached, ?), next_escalation_at = NULL WHERE id = ?",
        [to_db(at), int(late), ticket_id],
    )
