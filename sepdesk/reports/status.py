"""``sepdesk status``: the desk's health in one dict (intake, quarantine, outbox, hotline
spool, IMAP, SLA).

Read-only and cheap: a handful of indexed counts, so an admin (or a monitoring
check) can run it every minute against the live database while serve writes.
Instants are ISO 8601 with the desk's offset; "today" is the desk's local day.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sepdesk.daemon.lock import serving_pid
from sepdesk.desk import Desk
from sepdesk.instants import day_start, db_to_local, local_iso, now, to_db
from sepdesk.outbound.outbox import UNDISMISSED_FAILED
from sepdesk.sla.breach import ticket_breached
from sepdesk.sla.timer import configured_recipients, escalation_recipients
from sepdesk.tickets.store import OPEN_STATUSES

_OPEN = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES))


def _scalar(desk: Desk, sql: str, args: list[Any] | None = None) -> Any:
    return desk.db.execute(sql, args or []).fetchone()[0]


def _local_midnight(at: datetime, tz: str) -> datetime:
    return day_start(at.astimezone(ZoneInfo(tz)).date(), tz)


def _intake(desk: Desk) -> dict[str, Any]:
    tz = desk.tz
    return {
        "intake_pending": _scalar(desk, "SELECT count(*) FROM intake WHERE state = 'pending'"),
        "intake_oldest_pending": db_to_local(
            _scalar(desk, "SELECT min(stored_at) FROM intake WHERE state = 'pending'"), tz
        ),
        "quarantine": _scalar(desk, "SELECT count(*) FROM quarantine WHERE released_at IS NULL"),
    }


def _hotline(desk: Desk) -> dict[str, Any]:
    from sepdesk.hotline.spool import spool_status

    return spool_status(Path(desk.settings.hotline.spool_dir))


def _outbox(desk: Desk) -> dict[str, Any]:
    return {
        "outbox_queued": _scalar(desk, "SELECT count(*) FROM outbox WHERE state = 'queued'"),
        # Failed mails an admin dismissed (outbox dismiss) no longer count: else the
        # documented alarm on outbox_failed > 0 stayed on for good.
        "outbox_failed": _scalar(desk, f"SELECT count(*) FROM outbox WHERE {UNDISMISSED_FAILED}"),
        "outbox_oldest_unsent": db_to_local(
            _scalar(desk, "SELECT min(created_at) FROM outbox WHERE state = 'queued'"), desk.tz
        ),
    }


def _imap(desk: Desk) -> dict[str, Any]:
    """The mailboxes of the config given, in its order. The rows of folders it no longer
    reads stay in the database (a folder that comes back keeps its UIDVALIDITY and UIDs),
    but are not shown: their last error, stale for ever, kept a monitoring check alerting
    after the operator had fixed the config."""
    names = desk.settings.imap.mailbox_names()
    marks = ", ".join("?" * len(names))
    found = {
        r["mailbox"]: r
        for r in desk.db.query(
            "SELECT mailbox, last_contact_at, last_error FROM imap_state"
            f" WHERE mailbox IN ({marks})",
            names,
        )
    }
    rows = [found[n] for n in names if n in found]
    contacts = [r["last_contact_at"] for r in rows if r["last_contact_at"]]
    return {
        "imap_enabled": desk.settings.imap.enabled,
        # Text order is time order for stored instants (sepdesk.instants), so max() is latest.
        "imap_last_contact": db_to_local(max(contacts), desk.tz) if contacts else None,
        "imap": [
            {
                "mailbox": r["mailbox"],
                "last_contact_at": db_to_local(r["last_contact_at"], desk.tz),
                "last_error": _local_error(r["last_error"], desk.tz),
            }
            for r in rows
        ],
    }


def _local_error(text: str | None, tz: str) -> str | None:
    """The poller stores "<instant> <error>"; the instant shown in the desk's zone."""
    if not text:
        return text
    when, _, error = text.partition(" ")
    try:
        return f"{db_to_local(when, tz)} {error}"
    except ValueError:
        return text


def _next_escalation(desk: Desk) -> str | None:
    """The SLA timer's next instant, when the schema has it (migration m002).

    A value in the past means "the timer should look now": a stale one while
    serve runs says the timer is stuck, which is what an admin wants to see.
    """
    if "next_escalation_at" not in desk.db["tickets"].columns_dict:
        return None
    return db_to_local(
        _scalar(
            desk,
            "SELECT min(next_escalation_at) FROM tickets WHERE next_escalation_at IS NOT NULL",
        ),
        desk.tz,
    )


def _sla(desk: Desk, at: datetime) -> dict[str, Any]:
    by_sev = dict.fromkeys(("1", "2", "3", "4"), 0)
    for sev, n in desk.db.execute(
        f"SELECT severity, count(*) FROM tickets WHERE {_OPEN} GROUP BY severity"
    ).fetchall():
        by_sev[str(sev)] = n
    next_due = _scalar(
        desk,
        "SELECT min(first_response_due) FROM tickets WHERE first_response_at IS NULL"
        f" AND first_response_due IS NOT NULL AND {_OPEN}",
    )
    return {
        "next_response_due": db_to_local(next_due, desk.tz),
        "next_escalation_at": _next_escalation(desk),
        "open_tickets_by_severity": by_sev,
        "breaches_today": breaches_between(desk, _local_midnight(at, desk.tz), at),
        "breached_open": breached_open(desk, at),
    }


def _escalation_recipients(desk: Desk) -> dict[str, Any]:
    """Who SLA escalations go to, and how many waiting tickets' escalations would reach nobody.

    Without [desk] escalation_to or team_address only a ticket's assignee gets them:
    every unassigned ticket on the clock would then warn and breach unseen.
    """
    recipients = configured_recipients(desk.settings)
    unreachable = 0
    if not recipients:  # else every ticket has them; the timer's own rule for the rest
        rows = desk.db.execute(
            "SELECT assigned_to FROM tickets WHERE first_response_at IS NULL"
            f" AND first_response_due IS NOT NULL AND {_OPEN}"
        )
        unreachable = sum(
            1 for (who,) in rows if not escalation_recipients(desk.settings, {"assigned_to": who})
        )
    return {
        "escalation_recipients": recipients,
        "tickets_without_escalation_recipient": unreachable,
    }


def breaches_between(desk: Desk, start: datetime, end: datetime) -> int:
    """Tickets whose response deadline fell in [start, end] and was missed, as of ``end``.

    Judged from the tickets by the one rule (sepdesk.sla.breach), not from the
    escalation rows or the timer's flag, so a breach shows up even while the SLA
    timer is not running (serve stopped): that is when it matters. The due range
    is an index range; only its few tickets are judged in Python.
    """
    rows = desk.db.query(
        "SELECT first_response_due, first_response_at, solved_at, closed_at FROM tickets"
        " WHERE first_response_due >= ? AND first_response_due <= ?",
        [to_db(start), to_db(end)],
    )
    return sum(1 for t in rows if ticket_breached(t, end))


def breached_open(desk: Desk, at: datetime) -> int:
    """Open tickets breached at ``at`` and still waiting for their first response."""
    rows = desk.db.query(
        "SELECT first_response_due, first_response_at, solved_at, closed_at FROM tickets"
        f" WHERE first_response_at IS NULL AND first_response_due <= ? AND {_OPEN}",
        [to_db(at)],
    )
    return sum(1 for t in rows if ticket_breached(t, at))


def desk_status(desk: Desk, at: datetime | None = None) -> dict[str, Any]:
    """Every figure of ``sepdesk status`` at ``at`` (default: now)."""
    at = at or now()
    return {
        "at": local_iso(at.replace(microsecond=0), desk.tz),
        # Whether a daemon serves this database (its lock): the figures below look
        # healthy whether or not anyone is taking mail (review finding).
        "serve_pid": serving_pid(desk.settings.database.path),
        **_intake(desk),
        **_outbox(desk),
        **_hotline(desk),
        **_imap(desk),
        **_sla(desk, at),
        **_escalation_recipients(desk),
    }
