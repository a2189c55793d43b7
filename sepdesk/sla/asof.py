"""A ticket as the desk knew it at an instant (``sla report --at``, ``sla explain --at``).

The tickets row holds the latest word; what changed after ``at`` is undone from the
ticket's events: a due recomputed or first set (``due_changed``: its ``from``, and the
clock start it ran from), a severity set (``severity``, ``severity_raised``: its ``from``),
a solve or close that a later reopening cleared (``solve``, ``close``, ``reopen``,
``reopened``). Responses need nothing: their instant is a column, and
:mod:`sepdesk.sla.breach` counts only those given by ``at``. Status, Call ID and contract
stay the row's. A change counts from its event's instant: a late severity change no
longer rewrites an earlier report, and a ticket that got its clock later had none then.

Events written before severity changes carried their ``from`` (2026-12-07) fall back to
the severity set before ``at``, else the row's; those before due changes carried their
clock start, to the receipt.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlite_utils

from sepdesk.instants import from_db, to_db

SEVERITY_KINDS = ("severity", "severity_raised")
REOPEN_KINDS = ("reopen", "reopened")
_STOP_COLUMNS = {"solve": "solved_at", "close": "closed_at"}
CHANGE_KINDS = ("due_changed", *_STOP_COLUMNS, *SEVERITY_KINDS, *REOPEN_KINDS)


@dataclass(frozen=True)
class Change:
    """One event that :func:`known_at` may undo."""

    at: datetime
    kind: str
    detail: dict[str, Any]


def changes(db: sqlite_utils.Database, ticket_id: int | None = None) -> dict[int, list[Change]]:
    """The events :func:`known_at` reads, per ticket id, oldest first (every ticket's
    without ``ticket_id``)."""
    marks = ", ".join("?" for _ in CHANGE_KINDS)
    sql = f"SELECT ticket_id, at, kind, detail FROM events WHERE kind IN ({marks})"
    params: list[Any] = list(CHANGE_KINDS)
    if ticket_id is not None:
        sql += " AND ticket_id = ?"
        params.append(ticket_id)
    out: dict[int, list[Change]] = defaultdict(list)
    for tid, at, kind, detail in db.execute(sql + " ORDER BY id", params).fetchall():
        out[tid].append(Change(from_db(at), kind, json.loads(detail or "{}")))
    # By instant: a change logged later may be dated earlier (``tickets reopen --at``).
    return {tid: sorted(found, key=lambda c: c.at) for tid, found in out.items()}


def known_at(ticket: dict[str, Any], found: list[Change], at: datetime) -> dict[str, Any]:
    """``ticket`` (a row as read) with its changes after ``at`` undone; ``found``: its
    :func:`changes`."""
    later = [c for c in found if c.at > at]
    if not later:
        return ticket
    earlier = [c for c in found if c.at <= at]
    return {
        **ticket,
        **_due(later, earlier),
        **_severity(later, earlier),
        **_stops(later, earlier),
    }


def _due(later: list[Change], earlier: list[Change]) -> dict[str, Any]:
    """The due before the first recomputation after ``at`` (None: no clock yet), and the
    clock start it ran from (that of the last one before ``at``; none: the receipt)."""
    undone = next((c for c in later if c.kind == "due_changed"), None)
    if undone is None:
        return {}
    done = [c for c in earlier if c.kind == "due_changed"]
    return {
        "first_response_due": undone.detail.get("from"),
        "clock_from": done[-1].detail.get("clock_from") if done else None,
    }


def _severity(later: list[Change], earlier: list[Change]) -> dict[str, Any]:
    undone = next((c for c in later if c.kind in SEVERITY_KINDS), None)
    if undone is None:
        return {}
    if "from" in undone.detail:
        return {"severity": int(undone.detail["from"])}
    done = [c for c in earlier if c.kind in SEVERITY_KINDS]
    return {"severity": int(done[-1].detail["value"])} if done else {}


def _stops(later: list[Change], earlier: list[Change]) -> dict[str, Any]:
    """Solved and closed as they stood at ``at``, where a later reopening cleared them."""
    if not any(c.kind in REOPEN_KINDS for c in later):
        return {}
    stops: dict[str, Any] = {"solved_at": None, "closed_at": None}
    for c in earlier:
        if c.kind in REOPEN_KINDS:
            stops = {"solved_at": None, "closed_at": None}
        elif c.kind in _STOP_COLUMNS:
            stops[_STOP_COLUMNS[c.kind]] = to_db(c.at)
    return stops
