"""Response-time compliance per month and severity (``sepdesk sla report``).

Response times are support hours on each ticket's own schedule (a Major
answered Monday 09:00 after arriving Friday 17:30 took 1.5 h, not 63.5 h).
Months are the desk's local months of receipt. Everything is as of the
report's instant ``at``: tickets received later are not counted, nor are
responses given later, and each ticket's severity, due and solving are as the
desk knew them then (:mod:`sepdesk.sla.asof`). A ticket is breached, within
SLA (its clock stopped in time: answered, solved or closed by its due) or
pending, by the one rule of :mod:`sepdesk.sla.breach`.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from sepdesk.instants import from_db, from_db_opt, to_db
from sepdesk.sla.asof import changes, known_at
from sepdesk.sla.breach import sla_state
from sepdesk.sla.calendar import SupportCalendar
from sepdesk.sla.deadlines import response_time
from sepdesk.tickets.store import SEVERITY_NAMES

COLUMNS = [
    "month",
    "severity",
    "severity_name",
    "tickets",
    "answered",
    "within_sla",
    "breached",
    "pending",
    "compliance",
    "median_response_h",
    "p90_response_h",
]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile: a value that occurred, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _row(month: str, severity: int, tickets: list[dict[str, Any]]) -> dict[str, Any]:
    hours = [t["response_h"] for t in tickets if t["response_h"] is not None]
    within = sum(1 for t in tickets if t["state"] == "within")
    breached = sum(1 for t in tickets if t["state"] == "breached")
    decided = within + breached
    return {
        "month": month,
        "severity": severity,
        "severity_name": SEVERITY_NAMES.get(severity, "?"),
        "tickets": len(tickets),
        "answered": len(hours),
        "within_sla": within,
        "breached": breached,
        "pending": sum(1 for t in tickets if t["state"] == "pending"),
        "compliance": round(within / decided, 4) if decided else None,
        "median_response_h": round(statistics.median(hours), 2) if hours else None,
        "p90_response_h": _round(percentile(hours, 0.9)),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


_STATES = {"met": "within", "breached": "breached", "pending": "pending"}


def _classify(cal: SupportCalendar, ticket: dict[str, Any], at: datetime) -> dict[str, Any]:
    responded = from_db_opt(ticket["first_response_at"])
    response_h = None
    if responded is not None and responded <= at:
        response_h = response_time(cal, ticket, responded).total_seconds() / 3600
    return {"state": _STATES[sla_state(ticket, at) or "pending"], "response_h": response_h}


def compliance(
    db: sqlite_utils.Database, cal: SupportCalendar, tz: str, at: datetime
) -> list[dict[str, Any]]:
    """One record per (local month of receipt, severity), oldest month first."""
    zone = ZoneInfo(tz)
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    found = changes(db)
    for row in db.query(
        "SELECT id, received_at, clock_from, severity, contract_level, contract_state,"
        " first_response_due, first_response_at, solved_at, closed_at FROM tickets"
        " WHERE received_at <= ?",
        [to_db(at)],
    ):
        ticket = known_at(row, found.get(row["id"], []), at)
        if ticket["first_response_due"] is None:  # no clock then (or ever)
            continue
        month = from_db(ticket["received_at"]).astimezone(zone).strftime("%Y-%m")
        groups[(month, int(ticket["severity"]))].append(_classify(cal, ticket, at))
    return [_row(month, sev, groups[(month, sev)]) for month, sev in sorted(groups)]
