"""Recording a delivery status notification on the ticket whose mail it reports (never answered).

The mail it reports is found by the returned Message-ID, else by our subject tag in
the returned headers or in the notice's own subject together with the failed
recipient, else by the failed recipient alone.
"""

from __future__ import annotations

from typing import Any

from sepdesk.pipeline.bounces import BounceReport, read_report
from sepdesk.pipeline.conversation import subject_refs
from sepdesk.pipeline.work import Work
from sepdesk.tickets import store as tickets


def _outbox_row(work: Work, report: BounceReport) -> dict[str, Any] | None:
    db = work.desk.db
    for mid in report.message_ids:
        rows = list(db.query("SELECT * FROM outbox WHERE message_id = ?", [mid]))
        if rows:
            return rows[0]
    named = _named_recipients(work, report)
    refs = [r for s in report.subjects for r in subject_refs(s)]
    for ref in refs:
        ticket = tickets.find_opt(db, ref)
        if ticket is None:
            continue
        # Named recipients first; without DSN fields any mail of the ticket, as before.
        for rcpt in report.recipients or (*named, ""):
            rows = list(
                db.query(
                    "SELECT * FROM outbox WHERE ticket_id = ? AND (? = '' OR to_addrs LIKE ?)"
                    " ORDER BY id DESC LIMIT 1",
                    [ticket["id"], rcpt, f'%"{rcpt}"%'],
                )
            )
            if rows:
                return rows[0]
    ticket = _named_ticket(work)
    if ticket is not None:
        for rcpt in named:
            rows = list(
                db.query(
                    "SELECT * FROM outbox WHERE ticket_id = ? AND to_addrs LIKE ?"
                    " ORDER BY id DESC LIMIT 1",
                    [ticket["id"], f'%"{rcpt}"%'],
                )
            )
            if rows:
                return rows[0]
    for rcpt in report.recipients:
        rows = list(
            db.query(
                "SELECT * FROM outbox WHERE to_addrs LIKE ? ORDER BY id DESC LIMIT 1",
                [f'%"{rcpt}"%'],
            )
        )
        if rows:
            return rows[0]
    return None


def _named_recipients(work: Work, report: BounceReport) -> tuple[str, ...]:
    """The failed recipients: the DSN's fields, else the addresses the notice's text names
    (a qmail or Exchange notice in prose); the desk's own addresses are no recipients."""
    desk = work.desk.settings.desk_addresses()
    return report.recipients or tuple(a for a in report.mentioned if a not in desk)


def _named_ticket(work: Work) -> dict[str, Any] | None:
    """The ticket the notice's own subject names ("Unzustellbar: [SEP C-2026-00003] ...").

    Notices in plain text often carry neither the returned headers nor a
    Final-Recipient field: the subject of the mail that failed is all they keep.
    """
    for ref in subject_refs(work.parsed.subject):
        ticket = tickets.find_opt(work.desk.db, ref)
        if ticket is not None:
            return ticket
    return None


def _record_on_named_ticket(work: Work, report: BounceReport) -> None:
    """A notice that names a ticket but no mail of ours that can be told: kept on the ticket.

    No outbox row is marked and no delivery_failed set: which mail failed is unknown
    (and such a notice is easily written by anyone); the event lets engineers judge.
    """
    ticket = _named_ticket(work)
    if ticket is None:
        work.finish("ignored", "delivery status notification for no mail of ours")
        return
    work.store_on(ticket, "in", "bounce")
    detail = {
        "outbox_id": None,
        "recipients": list(report.recipients or report.mentioned),
        "status": report.status,
    }
    tickets.add_event(work.desk.db, ticket["id"], work.at, "desk", "bounce_unmatched", detail)
    work.finish(
        "bounce_recorded",
        f"bounce naming {ticket['ticket_number']} in its subject; no mail of ours identified",
        ticket,
    )


def record_bounce(work: Work) -> None:
    mail, db = work.parsed, work.desk.db
    report = read_report(mail, work.raw)
    row = _outbox_row(work, report)
    if row is None or row["ticket_id"] is None:
        _record_on_named_ticket(work, report)
        return
    ticket = tickets.get(db, row["ticket_id"])
    db.execute(
        "UPDATE outbox SET state = 'bounced', last_error = ? WHERE id = ?",
        [f"bounced {report.status} for {', '.join(report.recipients) or '?'}", row["id"]],
    )
    work.store_on(ticket, "in", "bounce")
    if row["kind"] in (
        "ack",
        "call_accepted",
        "needs_info",
        "no_contract",
        "confirmation",
        "relay",
    ):
        tickets.update(db, ticket["id"], work.at, delivery_failed=1)
    detail = {
        "outbox_id": row["id"],
        "recipients": list(report.recipients),
        "status": report.status,
    }
    tickets.add_event(db, ticket["id"], work.at, "desk", "delivery_failed", detail)
    work.finish("bounce_recorded", f"bounce of outbox #{row['id']} ({row['kind']})", ticket)
