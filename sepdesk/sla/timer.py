"""The SLA timer: warnings, breaches and reminders for unanswered tickets, each fired exactly once.

``run_once(desk, at)`` looks only at tickets whose ``next_escalation_at`` has
come (a partial index; see migration m002), and per ticket, in one write
transaction, inserts the escalation rows (UNIQUE ticket, kind, n), queues the
mail and stores the ticket's next instant. A second pass finds the rows and
sends nothing twice; a crash rolls the whole ticket back.

Escalation chain per ticket: ``warning`` (n=0) once ``warn_at`` of the support
time to the due instant is used, ``breach`` (n=0) at the due instant, then
``reminder`` n=1, 2, ... every ``repeat_after_breach`` real minutes.

After downtime nothing is sent in bulk: per ticket and pass at most one mail
goes out (the breach if it is new, else the newest due step), marked
``late=1``; steps it makes pointless (a warning after the breach, a reminder due
with a new breach) are recorded as rows without a mail so they never fire later.
Reminder slots that passed while nothing ran get no row: the one reminder sent
carries the current slot's number (n jumps), and only a higher slot fires next.

When a severity change moves the due, what has fired stays fired and reminders
follow the new due. A breach covers its due and every earlier one; a due moved
past every breach (severity lowered after the breach) is a new deadline: it gets
a breach (n+1) of its own, or it would pass unmailed. Its reminders count their
slots from it, numbered on from the old due's highest. A warning covers its due
and every earlier one: a due moved later (severity lowered, before or after the
breach) or a clock started again (reopened after its due) gets a warning of its
own, numbered by how often the due moved later (_deadline_n), or it would pass
unwarned while the views announced that warning.
Triggers (migrations m002, m004, m006) set ``next_escalation_at`` to "now"
whenever the due, the response, the status, severity or contract change, and
the next pass here works out the real instant. The only other writers are the
ones that start a clock and know the instant already (``deadlines.start_clock``
for a new ticket, the hotline import); the triggers keep such an explicit value.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from sepdesk.config import Settings
from sepdesk.desk import Desk
from sepdesk.instants import from_db, from_db_opt, local_iso, to_db
from sepdesk.outbound.compose import header_safe, tagged_subject
from sepdesk.outbound.outbox import enqueue, queued_mail
from sepdesk.sla.calendar import SupportCalendar
from sepdesk.sla.deadlines import ticket_level, warning_instant
from sepdesk.store import write_tx
from sepdesk.templates import render
from sepdesk.tickets.store import SEVERITY_NAMES, add_event, customer_label, get

CLOSED_STATUSES = ("solved", "closed")
# Fired this long after its instant, an escalation counts as late (daemon was down).
LATE_AFTER = timedelta(minutes=5)
# Escalations go to staff; one language for everyone reading the escalation list.
STAFF_LANGUAGE = "en"
# Tickets per write transaction in run_once.
BATCH = 100
# A ticket the timer failed on is looked at again after this long.
RETRY_AFTER = timedelta(minutes=15)
log = logging.getLogger("sepdesk.sla")
# The warning fraction the stored next looks were worked out with, in data_versions (as
# parts per million: the table holds integers). See _looks_follow_settings.
WARN_AT_KEY = "sla_warn_at_ppm"
# What next_due gives while the stored next looks are stale: an instant long past, "run now".
_LOOK_NOW = datetime(2000, 1, 1, tzinfo=UTC)
# What to do when an escalation has nobody to go to (log lines, run-once, status, serve).
RECIPIENT_HINT = "set [desk] escalation_to (or [desk] team_address) in the config"
_LINK = re.compile(r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+")


@dataclass(frozen=True)
class TimerPass:
    """What one pass did: escalations fired for mailing, and how many of them had no recipient."""

    fired: int = 0
    no_recipient: int = 0

    def __add__(self, other: TimerPass) -> TimerPass:
        return TimerPass(self.fired + other.fired, self.no_recipient + other.no_recipient)


@dataclass(frozen=True)
class Step:
    """One escalation to record: ``mail`` False means superseded (row only, never sent)."""

    kind: str
    n: int
    due_at: datetime
    late: bool
    mail: bool


def plan(
    warn: datetime,
    due: datetime,
    repeat: timedelta | None,
    fired: dict[str, int],
    at: datetime,
    breach_n: int = 0,
    warning_n: int = 0,
    reminder_base: int = 0,
) -> tuple[list[Step], datetime | None]:
    """What to record at ``at`` given what has fired (kind -> highest n), and the next instant.

    ``breach_n``, ``warning_n``: the numbers the breach and the warning of this due get (0,
    or more for a moved due). Reminders count slots from this due: ``fired["reminder"]`` is
    this due's highest slot, and a reminder's n is ``reminder_base`` (the highest n of the
    earlier dues' reminders) plus its slot.
    """
    due_now: list[tuple[str, int, datetime]] = []
    if "warning" not in fired and at >= warn:
        due_now.append(("warning", warning_n, warn))
    if "breach" not in fired and at >= due:
        due_now.append(("breach", breach_n, due))
    if repeat and at >= due + repeat:
        slot = math.floor((at - due) / repeat)
        if slot > fired.get("reminder", 0):
            due_now.append(("reminder", slot, due + slot * repeat))
    # One mail per ticket and pass: a new breach beats everything, else the newest step.
    kinds = [kind for kind, _, _ in due_now]
    mailed = kinds.index("breach") if "breach" in kinds else len(due_now) - 1
    steps = [
        Step(
            kind,
            n + reminder_base if kind == "reminder" else n,
            instant,
            late=i != mailed or at - instant > LATE_AFTER,
            mail=i == mailed,
        )
        for i, (kind, n, instant) in enumerate(due_now)
    ]
    done = {**fired, **{kind: n for kind, n, _ in due_now}}
    return steps, _next_instant(warn, due, repeat, done)


def _next_instant(
    warn: datetime, due: datetime, repeat: timedelta | None, done: dict[str, int]
) -> datetime | None:
    if "warning" not in done and "breach" not in done:
        return warn
    if "breach" not in done:
        return due
    if repeat:
        return due + (done.get("reminder", 0) + 1) * repeat
    return None


def _ceil_db(dt: datetime | None) -> str | None:
    """DB text rounded up to the second, so a pass at the stored instant finds the step due."""
    if dt is None:
        return None
    if dt.microsecond:
        dt = dt.replace(microsecond=0) + timedelta(seconds=1)
    return to_db(dt)


def _fired(db: sqlite_utils.Database, ticket_id: int) -> dict[str, int]:
    rows = db.execute(
        "SELECT kind, max(n) FROM escalations WHERE ticket_id = ? GROUP BY kind", [ticket_id]
    ).fetchall()
    return {kind: int(n) for kind, n in rows}


def _breach_n(db: sqlite_utils.Database, ticket_id: int, due: datetime) -> int | None:
    """The n a breach of ``due`` gets, or None when a breach fired already covers it.

    A breach of a due at or after this one covers it (a raised severity moves the due
    earlier: the ticket was escalated already). A due moved past every breach (severity
    lowered after it) is a new deadline: without its own breach it would pass unmailed.
    """
    row = db.execute(
        "SELECT max(n), max(due_at) FROM escalations WHERE ticket_id = ? AND kind = 'breach'",
        [ticket_id],
    ).fetchone()
    if row[0] is None:
        return 0
    return None if from_db(row[1]) >= due else int(row[0]) + 1


def _reminder_base(db: sqlite_utils.Database, ticket_id: int, breach_n: int | None) -> int:
    """The highest n of the reminders of earlier dues: this due's reminders are numbered on.

    Those are the reminders recorded before this due's breach (the latest breach, which
    covers it: breach_n None), or all of them for a due whose breach is yet to come. Counted
    from the ticket's highest reminder, the slots of a due moved past the breach stayed
    silent until they outnumbered the old due's (review finding: 18 hours).
    """
    if breach_n == 0:  # never breached: no reminders either
        return 0
    sql = "SELECT max(n) FROM escalations WHERE ticket_id = ? AND kind = 'reminder'"
    if breach_n is None:
        sql += " AND id < (SELECT max(id) FROM escalations WHERE ticket_id = ? AND kind = 'breach')"
    row = db.execute(sql, [ticket_id] * (2 if breach_n is None else 1)).fetchone()
    return int(row[0] or 0)


def _deadline_n(db: sqlite_utils.Database, ticket_id: int) -> int:
    """How many times the ticket's due moved later (or was set anew): its deadline's number.

    A due moved later (a lowered severity) or a clock started again (a reopening after the
    due, see deadlines.reopen_clock) is a new deadline, whose warning the views announce:
    its warning is numbered so, and a warning of an earlier number does not cover it. A due
    moved earlier (a raised severity) keeps its number: the team was warned already.
    Counted from refresh_due's due_changed events, not compared with instants: the timer,
    the CLI and a replay's --at need not run on one clock.
    """
    row = db.execute(
        "SELECT count(*) FROM events WHERE ticket_id = ? AND kind = 'due_changed'"
        " AND (json_extract(detail, '$.from') IS NULL"
        " OR json_extract(detail, '$.to') > json_extract(detail, '$.from'))",
        [ticket_id],
    ).fetchone()
    return int(row[0])


def _is_open(ticket: dict[str, Any]) -> bool:
    return (
        ticket["status"] not in CLOSED_STATUSES
        and ticket["first_response_at"] is None
        and ticket["first_response_due"] is not None
    )


def _process(desk: Desk, cal: SupportCalendar, ticket_id: int, at: datetime) -> TimerPass:
    """One ticket, all or nothing (a savepoint in run_once's batch): what it fired."""
    db, sla = desk.db, desk.settings.sla
    repeat = timedelta(minutes=sla.repeat_after_breach) if sla.repeat_after_breach > 0 else None
    with write_tx(db):
        ticket = get(db, ticket_id)
        if not _is_open(ticket):
            db.execute("UPDATE tickets SET next_escalation_at = NULL WHERE id = ?", [ticket_id])
            return TimerPass()
        # All in UTC: local instants sharing one ZoneInfo compare by wall clock.
        due = from_db(ticket["first_response_due"]).astimezone(UTC)
        warn = warning_instant(cal, ticket, sla.warn_at).astimezone(UTC)
        fired, breach_n = _fired(db, ticket_id), _breach_n(db, ticket_id, due)
        if breach_n:  # the due moved past every breach: a new deadline, not covered
            del fired["breach"]
        # A due not covered by a breach gets its warning once: fired once its number is there.
        warning_n = max(_deadline_n(db, ticket_id), breach_n or 0)
        if breach_n is not None and fired.get("warning", -1) < warning_n:
            fired.pop("warning", None)
        # Reminder slots count from this due; those of earlier dues are numbered below base.
        base = _reminder_base(db, ticket_id, breach_n)
        if fired.get("reminder", 0) > base:
            fired["reminder"] -= base
        else:
            fired.pop("reminder", None)
        steps, next_at = plan(warn, due, repeat, fired, at, breach_n or 0, warning_n, base)
        unsent = 0
        for step in steps:
            outbox_id = _mail(desk, ticket, step, at) if step.mail else None
            unsent += int(step.mail and outbox_id is None)
            db.execute(
                "INSERT INTO escalations (ticket_id, kind, n, due_at, fired_at, late, outbox_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [ticket_id, step.kind, step.n, to_db(step.due_at), to_db(at), int(step.late),
                 outbox_id],
            )  # fmt: skip
        db.execute(
            "UPDATE tickets SET next_escalation_at = ?, breached = max(breached, ?) WHERE id = ?",
            [_ceil_db(next_at), int(at >= due), ticket_id],
        )
    return TimerPass(sum(1 for s in steps if s.mail), unsent)


def run_once(desk: Desk, at: datetime) -> int:
    """Fire every escalation due at ``at``, once; returns how many fired for mailing.

    Those without a recipient count too (they are recorded and logged, see
    :func:`run_pass`): the number is the work done, for the daemon's loop.
    """
    return run_pass(desk, at).fired


def run_pass(desk: Desk, at: datetime) -> TimerPass:
    """:func:`run_once`, also saying how many escalations had nobody to mail them to.

    Tickets are handled in batches of BATCH per transaction: one fsync per batch
    instead of per ticket (a catch-up after downtime may touch thousands), while
    the write lock is still released often for intake.
    """
    at = at.astimezone(UTC)
    _looks_follow_settings(desk.db, desk.settings.sla.warn_at)
    due_ids = [
        row[0]
        for row in desk.db.execute(
            "SELECT id FROM tickets WHERE next_escalation_at IS NOT NULL"
            " AND next_escalation_at <= ? ORDER BY next_escalation_at, id",
            [to_db(at)],
        ).fetchall()
    ]
    cal, done = desk.calendar, TimerPass()
    for start in range(0, len(due_ids), BATCH):
        with write_tx(desk.db):
            for tid in due_ids[start : start + BATCH]:
                done += _guarded(desk, cal, tid, at)
    return done


def _warn_at_ppm(warn_at: float) -> int:
    return round(warn_at * 1_000_000)


def _warn_at_recorded(db: sqlite_utils.Database) -> int | None:
    row = db.execute("SELECT version FROM data_versions WHERE name = ?", [WARN_AT_KEY]).fetchone()
    return None if row is None else int(row[0])


def _looks_follow_settings(db: sqlite_utils.Database, warn_at: float) -> None:
    """Make every stored next look "look now" once when ``warn_at`` is not the fraction they
    were worked out with (a reload, a config edited between two run-once), so this pass
    sets each ticket's from the current settings.

    A next look is the warning instant of the fraction of its time; with warn_at lowered,
    the timer slept through the new instant to the old one and sent the warning late,
    saying the timer had not been running (review finding). One row read per pass; the
    open tickets are rewritten only when the fraction changed. Without a record (a
    database none of this sepdesk's openers made or migrated, see :func:`record_warn_at`)
    the looks are taken as the current settings'.
    """
    recorded, ppm = _warn_at_recorded(db), _warn_at_ppm(warn_at)
    if recorded == ppm:
        return
    with write_tx(db):
        if recorded is not None:
            # received_at: the past instant that means "look now" (see migrations m002).
            db.execute(
                "UPDATE tickets SET next_escalation_at = received_at"
                " WHERE next_escalation_at IS NOT NULL AND next_escalation_at > received_at"
            )
        db.execute(
            "INSERT INTO data_versions (name, version) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            [WARN_AT_KEY, ppm],
        )


def record_warn_at(db: sqlite_utils.Database, warn_at: float) -> None:
    """Record the warn_at the database's next looks are worked out with, where none is yet.

    Called where a database is made or migrated (``Desk.open``), so that a config changed
    before the timer's first pass (tickets ingested, warn_at edited, then run-once) is
    noticed too. The pipeline, which works the looks out, is spared the statement.
    """
    if _warn_at_recorded(db) is None:
        with write_tx(db):
            db.execute(
                "INSERT OR IGNORE INTO data_versions (name, version) VALUES (?, ?)",
                [WARN_AT_KEY, _warn_at_ppm(warn_at)],
            )


def _guarded(desk: Desk, cal: SupportCalendar, ticket_id: int, at: datetime) -> TimerPass:
    """_process behind an error fence: one bad ticket must not hold up everyone's escalations.

    Its changes are rolled back (savepoint), the error is logged and recorded on
    the ticket, and it is looked at again after RETRY_AFTER. Database errors
    are not the ticket's fault and propagate to the runner.
    """
    try:
        return _process(desk, cal, ticket_id, at)
    except sqlite3.Error:
        raise
    except Exception as exc:
        log.exception("SLA timer: ticket #%s", ticket_id)
        desk.db.execute(
            "UPDATE tickets SET next_escalation_at = ? WHERE id = ?",
            [to_db(at + RETRY_AFTER), ticket_id],
        )
        add_event(desk.db, ticket_id, at, "sla", "sla_error", {"error": str(exc)[:500]})
        return TimerPass()


def next_due(db: sqlite_utils.Database, settings: Settings | None = None) -> datetime | None:
    """The next instant run_once has work (may be in the past: run now); None when idle.

    One probe of the partial index tickets_next_escalation, whatever the number of tickets.
    With ``settings`` whose warn_at is not the one the stored instants were worked out
    with, an instant long past: the next pass works them out again.
    """
    if settings is not None:
        recorded = _warn_at_recorded(db)
        if recorded is not None and recorded != _warn_at_ppm(settings.sla.warn_at):
            return _LOOK_NOW
    row = db.execute(
        "SELECT min(next_escalation_at) FROM tickets WHERE next_escalation_at IS NOT NULL"
    ).fetchone()
    found = from_db_opt(row[0]) if row else None
    return found.astimezone(UTC) if found else None


# -- the mail ------------------------------------------------------------------------------


def configured_recipients(settings: Settings) -> list[str]:
    """Who gets every escalation whoever the ticket is assigned to; empty is a problem."""
    return escalation_recipients(settings, {})


def escalation_recipients(settings: Settings, ticket: dict[str, Any]) -> list[str]:
    """Who a ticket's escalations go to: escalation_to plus the assignee (a staff address);
    the team address when neither is configured.

    An assignee no longer assignable (outside ``[desk] staff``, assigned before assigning
    was limited, or since dropped from it; the requester) gets none: the mail is internal.
    """
    assignee = ticket.get("assigned_to") or ""
    mailed = settings.may_assign(assignee, ticket.get("requester"))
    wanted = [*settings.desk.escalation_to, assignee if mailed else ""]
    if not any(wanted) and settings.desk.team_address:
        wanted = [settings.desk.team_address]
    out: list[str] = []
    for address in wanted:
        if address and "@" in address and address.lower() not in out:
            out.append(address.lower())
    return out


def link_free(text: str) -> str:
    """The customer's words without anything a mail client would turn into a link."""
    return _LINK.sub("[link removed]", header_safe(text, 200))


_HEADLINES = {
    "warning": "warning: {pct} % of the response time used",
    "breach": "BREACH: first response overdue",
    # The time overdue, not the reminder's number: numbers count repeat intervals
    # (slots), and after a long downtime a first late reminder read "reminder 385".
    "reminder": "reminder: first response overdue for {overdue}",
}


def overdue_text(late: timedelta) -> str:
    """How long a deadline is past, in the two largest units: "45 min", "3 h 20 min", "32 d 4 h"."""
    minutes = max(0, int(late.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


def _mail(desk: Desk, ticket: dict[str, Any], step: Step, at: datetime) -> int | None:
    """Queue the escalation mail in the current transaction; None when nobody can receive it."""
    settings, tz = desk.settings, desk.settings.desk.timezone
    to = escalation_recipients(settings, ticket)
    ref = str(ticket["call_id"] or ticket["ticket_number"])
    summary = link_free(ticket["subject"]) or "(no subject)"
    pct = round(settings.sla.warn_at * 100)
    overdue = overdue_text(at - from_db(ticket["first_response_due"]))
    headline = _HEADLINES[step.kind].format(pct=pct, overdue=overdue)
    if not to:
        # Nobody configured: keep the row (it must not fire again), say so on the ticket,
        # and loudly in the log: a deadline must never be missed silently (SPEC).
        add_event(desk.db, ticket["id"], at, "sla", "escalation_unsent", {"kind": step.kind})
        log.warning("SLA %s for %s not mailed: no recipient; %s", step.kind, ref, RECIPIENT_HINT)
        return None
    body = render(
        STAFF_LANGUAGE,
        "escalation",
        headline=headline,
        ticket_number=ticket["ticket_number"],
        call_id=ticket["call_id"] or "-",
        customer=link_free(
            customer_label(desk.db, ticket)
            or f"(no contract) {ticket.get('requester') or ''}".strip()
        ),
        contract=ticket_level(ticket) or "none",
        severity=ticket["severity"],
        severity_name=SEVERITY_NAMES.get(ticket["severity"], "?"),
        summary=summary,
        received=local_iso(from_db(ticket["received_at"]), tz),
        due=local_iso(from_db(ticket["first_response_due"]), tz),
        status=ticket["status"],
        assigned=ticket.get("assigned_to") or "nobody",
        # Who a reply goes to, and what the request still lacks: what the engineer needs
        # to act on the mail alone (review finding: "a reply goes to the customer", unnamed).
        requester=link_free(_requester(ticket)),
        missing=", ".join(json.loads(ticket["missing_info"] or "[]")) or "-",
        late_note=_late_note(step, at, tz),
    )
    return enqueue(
        desk.db,
        queued_mail(
            settings,
            kind="escalation",
            to=to,
            subject=tagged_subject(settings, ref, f"SLA {headline.split(':')[0]}: {summary}"),
            body=body,
            at=at,
            ticket_id=ticket["id"],
            ticket_ref=ref,
            automatic=True,
        ),
    )


def _requester(ticket: dict[str, Any]) -> str:
    name, address = ticket.get("requester_name") or "", ticket.get("requester") or ""
    return f"{name} <{address}>" if name and address else (address or name or "unknown")


def _late_note(step: Step, at: datetime, tz: str) -> str:
    """A paragraph (ending in a blank line) when the mail is late, else nothing. Late for
    two reasons: the timer was not running, or the due moved earlier past the instant."""
    if not step.late:
        return ""
    return (
        f"Sent late: this escalation was due at {local_iso(step.due_at, tz)} and is sent at"
        f" {local_iso(at, tz)} (the timer was not running, or the due moved earlier).\n\n"
    )
