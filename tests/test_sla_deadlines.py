"""First-response deadlines: the hand-checked policy table, budgets, refresh and responses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlite_utils

from sepdesk.instants import to_db
from sepdesk.sla.calendar import ALWAYS, MAJOR_HOURS, MINOR_HOURS, SupportCalendar
from sepdesk.sla.deadlines import (
    budget,
    effective_level,
    first_response_due,
    is_breached,
    record_response,
    refresh_due,
    schedule_for,
)
from sepdesk.store import open_db

BERLIN = ZoneInfo("Europe/Berlin")
CAL = SupportCalendar()
XMAS = SupportCalendar(extra_closed=["12-24", "12-31", "2026-05-15"])
BAVARIA = SupportCalendar(subdivisions=["BY"])
BY_SN = SupportCalendar(subdivisions=["BY", "SN"])

# (case, calendar, received (Berlin wall clock or with offset), severity, contract, due)
CASES = [
    ("Major Friday 17:30 -> Monday", CAL, "2026-03-13T17:30", 2, "business",
     "2026-03-16T15:30:00+01:00"),
    ("Minor Thursday before Easter 16:00", CAL, "2026-04-02T16:00", 3, "business",
     "2026-04-08T12:00:00+02:00"),
    ("Major over the spring switch", CAL, "2026-03-27T14:00", 2, "business",
     "2026-03-30T12:00:00+02:00"),
    ("Major over the autumn switch", CAL, "2026-10-23T16:00", 2, "business",
     "2026-10-26T14:00:00+01:00"),
    ("Critical spring switch 00:30 CET", CAL, "2026-03-29T00:30", 1, "business",
     "2026-03-29T05:30:00+02:00"),
    ("Critical autumn switch 01:30 CEST", CAL, "2026-10-25T01:30+02:00", 1, "business",
     "2026-10-25T04:30:00+01:00"),
    ("Critical over Christmas, not paused", XMAS, "2026-12-24T22:00", 1, "business",
     "2026-12-25T02:00:00+01:00"),
    ("Emergency Call Sunday 03:00", CAL, "2026-03-15T03:00", 3, "emergency",
     "2026-03-15T04:30:00+01:00"),
    ("Emergency Call on Good Friday, severity 4", CAL, "2026-04-03T23:00", 4, "emergency",
     "2026-04-04T00:30:00+02:00"),
    ("Cosmetic on a Saturday", CAL, "2026-03-14T10:00", 4, "business",
     "2026-03-17T13:00:00+01:00"),
    ("Major at exactly 08:00", CAL, "2026-03-16T08:00", 2, "business",
     "2026-03-16T16:00:00+01:00"),
    ("Major at exactly 18:00", CAL, "2026-03-16T18:00", 2, "business",
     "2026-03-17T16:00:00+01:00"),
    ("Major ends at the closing edge", CAL, "2026-03-16T10:00", 2, "business",
     "2026-03-16T18:00:00+01:00"),
    ("Minor at exactly 17:00", CAL, "2026-03-16T17:00", 3, "business",
     "2026-03-18T13:00:00+01:00"),
    ("Major before extra closed 24 Dec", XMAS, "2026-12-23T14:00", 2, "business",
     "2026-12-28T12:00:00+01:00"),
    ("Major without extra closed days", CAL, "2026-12-23T14:00", 2, "business",
     "2026-12-24T12:00:00+01:00"),
    ("Major over Ascension and an ISO extra day", XMAS, "2026-05-13T16:00", 2, "business",
     "2026-05-18T14:00:00+02:00"),
    ("Minor over Epiphany in Bavaria", BAVARIA, "2026-01-05T13:00", 3, "business",
     "2026-01-07T17:00:00+01:00"),
    ("Minor over Epiphany, no subdivision", CAL, "2026-01-05T13:00", 3, "business",
     "2026-01-06T17:00:00+01:00"),
    ("Minor over Saxony's day of prayer (BY+SN)", BY_SN, "2026-11-17T13:00", 3, "business",
     "2026-11-19T17:00:00+01:00"),
    ("Demo is Minor hours, 12 h, even when Critical", CAL, "2026-03-13T15:00", 1, "demo",
     "2026-03-17T11:00:00+01:00"),
    ("No contract: by severity", CAL, "2026-03-13T17:30", 2, None,
     "2026-03-16T15:30:00+01:00"),
]  # fmt: skip


def _instant(text: str) -> datetime:
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("cal", "received", "severity", "contract", "due"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_policy_table(
    cal: SupportCalendar, received: str, severity: int, contract: str | None, due: str
) -> None:
    got = first_response_due(cal, _instant(received), severity, contract)
    assert got.isoformat() == due


def test_budgets_and_schedules() -> None:
    assert [budget(s, "business") for s in (1, 2, 3, 4)] == [
        timedelta(hours=h) for h in (4, 8, 12, 12)
    ]
    assert budget(2, None) == timedelta(hours=8)
    assert budget(4, "emergency") == timedelta(hours=1, minutes=30)
    assert budget(1, "demo") == timedelta(hours=12)
    assert [schedule_for(s, None) for s in (1, 2, 3, 4)] == [
        ALWAYS,
        MAJOR_HOURS,
        MINOR_HOURS,
        MINOR_HOURS,
    ]
    assert schedule_for(3, "Emergency") is ALWAYS
    assert schedule_for(1, "demo") is MINOR_HOURS
    with pytest.raises(ValueError, match="severity"):
        budget(5, None)


def test_an_expired_contract_counts_as_none() -> None:
    assert effective_level("emergency", "expired") is None
    assert effective_level("emergency", "current") == "emergency"
    assert effective_level(None, "current") is None


def test_is_breached_edges() -> None:
    due = datetime(2026, 3, 16, 15, tzinfo=UTC)
    assert not is_breached(due, due, due + timedelta(days=1))  # answered on the dot
    assert is_breached(due, due + timedelta(seconds=1), due)
    assert not is_breached(due, None, due - timedelta(seconds=1))
    assert is_breached(due, None, due)
    assert not is_breached(None, None, due)


# -- the ticket's clock in the database --------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return open_db(tmp_path / "sepdesk.db")


def _ticket(db: sqlite_utils.Database, received: datetime, severity: int, **extra: object) -> int:
    values = {
        "ticket_number": "T-2026-000001",
        "status": "new",
        "channel": "email",
        "severity": severity,
        "received_at": to_db(received),
        "created_at": to_db(received),
        "updated_at": to_db(received),
        **extra,
    }
    rowid = db.table("tickets").insert(values).last_rowid
    assert rowid is not None
    return rowid


def test_refresh_due_recomputes_from_the_original_receipt(db: sqlite_utils.Database) -> None:
    received = _instant("2026-03-13T17:30")  # Friday
    tid = _ticket(db, received, 3)
    due = refresh_due(db, CAL, tid)
    assert due.isoformat() == "2026-03-17T13:00:00+01:00"
    db.execute("UPDATE tickets SET severity = 1 WHERE id = ?", [tid])
    monday = _instant("2026-03-16T09:00")
    due = refresh_due(db, CAL, tid, at=monday)
    assert due.isoformat() == "2026-03-13T21:30:00+01:00"
    row = db.execute(
        "SELECT first_response_due, breached FROM tickets WHERE id = ?", [tid]
    ).fetchone()
    assert row == ("2026-03-13T20:30:00+00:00", 1)  # raised after the new due: breached
    kinds = [r[0] for r in db.execute("SELECT kind FROM events WHERE ticket_id = ?", [tid])]
    assert kinds == ["due_changed"]


def test_record_response_sets_the_first_response_once(db: sqlite_utils.Database) -> None:
    received = _instant("2026-03-16T09:00")
    tid = _ticket(db, received, 2)
    refresh_due(db, CAL, tid)  # due 17:00 the same day
    assert record_response(db, tid, _instant("2026-03-16T10:00"), "anna@sep.example")
    assert not record_response(db, tid, _instant("2026-03-17T10:00"), "bob@sep.example")
    row = db.execute(
        "SELECT first_response_at, breached, next_escalation_at FROM tickets WHERE id = ?", [tid]
    ).fetchone()
    assert row == ("2026-03-16T09:00:00+00:00", 0, None)
    events = db.execute(
        "SELECT actor, kind, detail FROM events WHERE ticket_id = ? ORDER BY id", [tid]
    ).fetchall()
    assert [(a, k, json.loads(d)["first"]) for a, k, d in events] == [
        ("anna@sep.example", "responded", True),
        ("bob@sep.example", "responded", False),
    ]


def test_a_late_first_response_marks_the_ticket_breached(db: sqlite_utils.Database) -> None:
    tid = _ticket(db, _instant("2026-03-16T09:00"), 1)
    refresh_due(db, CAL, tid)  # due 13:00
    record_response(db, tid, _instant("2026-03-16T13:00:01"), "anna@sep.example")
    assert db.execute("SELECT breached FROM tickets WHERE id = ?", [tid]).fetchone() == (1,)


def test_instants_are_stored_as_utc_text_to_the_second() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert (
        to_db(datetime(2026, 12, 6, 12, 30, 59, 999_999, tzinfo=UTC)) == "2026-12-06T12:30:59+00:00"
    )
    assert to_db(datetime(2026, 7, 1, 0, 0, 1, 500, tzinfo=berlin)) == "2026-06-30T22:00:01+00:00"
    assert to_db(datetime(2026, 12, 6, 9, 0, tzinfo=berlin)) == "2026-12-06T08:00:00+00:00"
    with pytest.raises(ValueError, match="naive"):
        to_db(datetime(2026, 12, 6, 9, 0))
