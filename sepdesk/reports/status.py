"""``sepdesk status``: the desk's health in one dict (intake, quarantine, outbox, IMAP, SLA)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sepdesk.desk import Desk
from sepdesk.instants import db_to_local, now, to_db


def _scalar(desk: Desk, sql: str, args: list[Any] | None = None) -> Any:
    return desk.db.execute(sql, args or []).fetchone()[0]


def desk_status(desk: Desk, at: datetime | None = None) -> dict[str, Any]:
    at = at or now()
    tz = desk.tz
    midnight = datetime.combine(at.astimezone(ZoneInfo(tz)).date(), time(0), ZoneInfo(tz))
    open_by_sev = {
        str(sev): n
        for sev, n in desk.db.execute(
            "SELECT severity, count(*) FROM tickets WHERE status NOT IN ('solved', 'closed')"
            " GROUP BY severity"
        ).fetchall()
    }
    imap = list(desk.db.query("SELECT mailbox, last_contact_at, last_error FROM imap_state"))
    next_due = _scalar(
        desk,
        "SELECT min(first_response_due) FROM tickets WHERE first_response_at IS NULL"
        " AND first_response_due IS NOT NULL AND status NOT IN ('solved', 'closed')",
    )
    return {
        "intake_pending": _scalar(desk, "SELECT count(*) FROM intake WHERE state = 'pending'"),
        "quarantine": _scalar(desk, "SELECT count(*) FROM quarantine WHERE released_at IS NULL"),
        "outbox_queued": _scalar(desk, "SELECT count(*) FROM outbox WHERE state = 'queued'"),
        "outbox_failed": _scalar(desk, "SELECT count(*) FROM outbox WHERE state = 'failed'"),
        "outbox_oldest_unsent": db_to_local(
            _scalar(desk, "SELECT min(created_at) FROM outbox WHERE state = 'queued'"), tz
        ),
        "imap": [
            {
                "mailbox": r["mailbox"],
                "last_contact_at": db_to_local(r["last_contact_at"], tz),
                "last_error": r["last_error"],
            }
            for r in imap
        ],
        "next_response_due": db_to_local(next_due, tz),
        "open_tickets_by_severity": open_by_sev,
        "breaches_today": _scalar(
            desk,
            "SELECT count(*) FROM escalations WHERE kind = 'breach' AND fired_at >= ?",
            [to_db(midnight)],
        ),
    }
