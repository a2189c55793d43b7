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
from sepdesk.sla.calendar import Schedule, SupportCalendar, Window
from sepdesk.sla.deadlines import budget, is_breached, ticket_due, ticket_level, ticket_schedule
from sepdesk.sla.timer import warning_instant
from sepdesk.tickets.store import SEVERITY_NAMES, find


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


def _escalations(desk: Desk, ticket_id: int, tz: str) -> list[dict[str, Any]]:
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
    ]


def _holidays(windows_from: datetime, to: datetime, cal: SupportCalendar) -> list[str]:
    """Public or extra closed days in the span, whether or not the schedule honours them."""
    first, last = windows_from.date(), to.date()
    days = (first + timedelta(days=i) for i in range((last - first).days + 1))
    return [f"{d.isoformat()} {name}" for d in days if (name := cal.holiday_name(d)) is not None]


def explain(desk: Desk, ref: str, at: datetime) -> dict[str, Any]:
    """The clock of the ticket ``ref`` (ticket number or Call ID) as seen at ``at``."""
    tz, cal = desk.settings.desk.timezone, desk.calendar
    ticket = find(desk.db, ref)
    schedule = ticket_schedule(ticket)
    level = ticket_level(ticket)
    received = from_db(ticket["received_at"]).astimezone(cal.tz)
    stored_due = from_db_opt(ticket["first_response_due"])
    due = (stored_due or ticket_due(cal, ticket)).astimezone(cal.tz)
    responded = from_db_opt(ticket["first_response_at"])
    windows = cal.windows(received, due, schedule)
    record: dict[str, Any] = {
        "ticket_number": ticket["ticket_number"],
        "call_id": ticket["call_id"],
        "status": ticket["status"],
        "severity": ticket["severity"],
        "severity_name": SEVERITY_NAMES.get(ticket["severity"], "?"),
        "contract_level": level or "none",
        "schedule": schedule.name,
        "budget_hours": _hours(budget(int(ticket["severity"]), level)),
        "received_at": local_iso(received, tz),
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
        "warning_at": None,
        "first_response_due": local_iso(due, tz),
        "first_response_at": local_iso(responded, tz),
        "response_support_hours": None,
        "breached": bool(ticket["breached"]) or is_breached(due, responded, at),
        "escalations": _escalations(desk, ticket["id"], tz),
    }
    if stored_due is not None:
        record["warning_at"] = local_iso(
            warning_instant(cal, ticket, desk.settings.sla.warn_at), tz
        )
    if responded is not None:
        record["response_support_hours"] = _hours(cal.elapsed(received, responded, schedule))
    return record
