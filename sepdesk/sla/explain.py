"""A ticket's clock in words (``sepdesk sla explain ID``): why it is due when it is due.

Lists the open windows the response budget runs through, the closed stretches
between them (nights, weekends, holidays, extra closed days) and what the
timer has fired, all as local instants with the desk's offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sepdesk.desk import Desk
from sepdesk.instants import from_db, from_db_opt, local_iso
from sepdesk.sla.asof import changes, known_at
from sepdesk.sla.breach import STOP_COLUMNS, clock_stop, ticket_breached
from sepdesk.sla.calendar import Schedule, SupportCalendar, Window
from sepdesk.sla.deadlines import (
    budget,
    clock_start,
    response_time,
    ticket_level,
    ticket_schedule,
)
from sepdesk.sla.timer import warning_instant
from sepdesk.tickets.store import SEVERITY_NAMES, find

_STOP_NAMES = {"first_response_at": "first response", "solved_at": "solved", "closed_at": "closed"}


def _hours(span: timedelta) -> float:
    return round(span.total_seconds() / 3600, 2)


def _gap_reason(cal: SupportCalendar, start: datetime, end: datetime, schedule: Schedule) -> str:
    """'night' for an ordinary overnight gap, else the closed days it spans."""
    days = cal.closed_days(start, end, schedule)
    if not days:
        return "night" if start.date() != end.date() else "outside support hours"
    return ", ".join(reason for _, reason in days)


def _skipped(
    cal: SupportCalendar, received: datetime, windows: list[Window], schedule: Schedule, tz: str
) -> list[dict[str, Any]]:
    """The closed stretches before and between the windows the budget used."""
    out: list[dict[str, Any]] = []
    edge = received
    for start, end in windows:
        if start.astimezone(UTC) > edge.astimezone(UTC):
            out.append(
                {
                    "from": local_iso(edge, tz),
                    "to": local_iso(start, tz),
                    "reason": _gap_reason(cal, edge, start, schedule),
                }
            )
        edge = end
    return out


def _escalations(desk: Desk, ticket_id: int, tz: str, at: datetime) -> list[dict[str, Any]]:
    """The escalations fired by ``at``: one fired later was not known then."""
    return [
        {
            "kind": r["kind"],
            "n": r["n"],
            "due_at": local_iso(from_db(r["due_at"]), tz),
            "fired_at": local_iso(from_db(r["fired_at"]), tz),
            "late": bool(r["late"]),
            "mailed": r["outbox_id"] is not None,
        }
        for r in desk.db.query(
            "SELECT * FROM escalations WHERE ticket_id = ? ORDER BY id", [ticket_id]
        )
        if from_db(r["fired_at"]) <= at
    ]


def _holidays(windows_from: datetime, to: datetime, cal: SupportCalendar) -> list[str]:
    """Public or extra closed days in the span, whether or not the schedule honours them."""
    first, last = windows_from.date(), to.date()
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [f"{d.isoformat()} {name}" for d in days if (name := cal.holiday_name(d)) is not None]


def _clock(ticket: dict[str, Any], at: datetime, tz: str) -> str:
    """The state of the response clock in words: why there is no due, or what stopped it."""
    if ticket["first_response_due"] is None:
        if ticket["contract_state"] != "current":
            return f"not started: no current contract ({ticket['contract_state']})"
        return f"not started: the ticket is {ticket['status']}"
    stopped = clock_stop(ticket, at)
    if stopped is None:
        return "running"
    by = next(c for c in STOP_COLUMNS if ticket[c] and from_db(ticket[c]) == stopped)
    return f"stopped at {local_iso(stopped, tz)} ({_STOP_NAMES[by]})"


def _timeline(desk: Desk, ticket: dict[str, Any], due: datetime | None) -> dict[str, Any]:
    """Windows, closed stretches and holidays from receipt to the due (none without a due)."""
    tz, cal = desk.tz, desk.calendar
    if due is None:
        return {"windows": [], "skipped": [], "holidays": [], "warning_at": None}
    schedule = ticket_schedule(ticket)
    received = clock_start(ticket).astimezone(cal.tz)  # a reopening may have restarted it
    due = due.astimezone(cal.tz)
    windows = cal.windows(received, due, schedule)
    warning = warning_instant(cal, ticket, desk.settings.sla.warn_at)
    return {
        "windows": [
            {
                "from": local_iso(s, tz),
                "to": local_iso(e, tz),
                "hours": _hours(e.astimezone(UTC) - s.astimezone(UTC)),
            }
            for s, e in windows
        ],
        "skipped": _skipped(cal, received, windows, schedule, tz),
        "holidays": _holidays(received, due, cal) if not schedule.continuous else [],
        "warning_at": local_iso(warning, tz),
    }


def explain(desk: Desk, ref: str, at: datetime) -> dict[str, Any]:
    """The clock of the ticket ``ref`` (ticket number or Call ID) as seen at ``at``.

    Due, contract and breached are the ticket record's (``tickets show``) as the desk
    knew it at ``at`` (:mod:`sepdesk.sla.asof`: severity, due and solving as they were;
    a response or an escalation after ``at`` is not shown); status, Call ID and contract
    are the row's. A ticket without a due (no current contract, unqualified) has no
    clock to explain.
    """
    tz, cal = desk.tz, desk.calendar
    row = find(desk.db, ref)
    ticket = known_at(row, changes(desk.db, row["id"]).get(row["id"], []), at)
    schedule = ticket_schedule(ticket)
    received = from_db(ticket["received_at"])
    due = from_db_opt(ticket["first_response_due"])
    responded = from_db_opt(ticket["first_response_at"])
    if responded is not None and responded > at:
        responded = None
    return {
        "ticket_number": ticket["ticket_number"],
        "call_id": ticket["call_id"],
        "status": ticket["status"],
        "severity": ticket["severity"],
        "severity_name": SEVERITY_NAMES.get(ticket["severity"], "?"),
        "contract_level": ticket["contract_level"],
        "contract_state": ticket["contract_state"],
        "schedule": schedule.name,
        "budget_hours": _hours(budget(int(ticket["severity"]), ticket_level(ticket))),
        "received_at": local_iso(received, tz),
        "clock": _clock(ticket, at, tz),
        **_timeline(desk, ticket, due),
        "first_response_due": local_iso(due, tz),
        "first_response_at": local_iso(responded, tz),
        "response_support_hours": (
            None if responded is None else _hours(response_time(cal, ticket, responded))
        ),
        "breached": ticket_breached(ticket, at),
        "escalations": _escalations(desk, ticket["id"], tz, at),
    }
