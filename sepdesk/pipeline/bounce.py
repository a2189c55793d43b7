"""Recording a delivery status notification on the ticket whose mail it reports (never answered)."""

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
    refs = [r for s in report.subjects for r in subject_refs(s)]
    for ref in refs:
        ticket = tickets.find_opt(db, ref)
        if ticket is None:
            continue
        for rcpt in report.recipients or ("",):
            rows = list(
                db.query(
                    "SELECT * FROM outbox WHERE ticket_id = ? AND (? = '' OR to_addrs LIKE ?)"
                    " ORDER BY id DESC LIMIT 1",
                    [ticket["id"], rcpt, f'%"{rcpt}"%'],
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


def record_bounce(work: Work) -> None:
    mail, db = work.parsed, work.desk.db
    report = read_report(mail, work.raw)
    row = _outbox_row(work, report)
    if row is None or row["ticket_id"] is None:
        work.finish("ignored", "delivery status notification for no mail of ours")
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
