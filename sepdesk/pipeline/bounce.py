"""Recording a delivery status notification on the ticket whose mail it reports (never answered).

A mail of ours is marked bounced (and its ticket's delivery_failed set) when the
notice returns that mail's Message-ID, or returns its headers with our subject tag
and names the recipient of that ticket's mail (in a Final-Recipient field, or in a
notice's prose: the sample corpus's Postfix DSN, a qmail notice). A notice that only names a customer's address, or our
tag in its own subject, is easily written by anyone: it is kept on the ticket it
points to (``bounce_unmatched``) for engineers to judge, and marks nothing. A DSN
that reports no failed recipient (delivered, delayed, relayed) is no bounce.
"""

from __future__ import annotations

import json
from typing import Any

from sepdesk.outbound.outbox import CUSTOMER_KINDS
from sepdesk.pipeline.bounces import BounceReport
from sepdesk.pipeline.conversation import subject_refs
from sepdesk.pipeline.guards import auto_reply_subject, from_mail_system
from sepdesk.pipeline.work import Work
from sepdesk.store import holds_address
from sepdesk.tickets import store as tickets


def returns_our_mail(work: Work) -> bool:
    """Whether a mail system's notice in no standard form returns a mail of ours by its
    Message-ID (in a returned message or headers part, or quoted in its text): a bounce
    all the same. Domino's "DELIVERY FAILURE: User ... not listed", a daemon's
    "Zustellung fehlgeschlagen", an Exchange notice in prose from an administrator with
    a null Return-Path: no list of subjects can know them all, our Message-ID tells.

    An auto-reply is none, null reverse path or not (RFC 3834 §3.3 has it sent so): the
    mail it quotes did arrive.
    """
    m = work.parsed
    if not from_mail_system(m, work.envelope_from) or auto_reply_subject(m.subject):
        return False
    return _by_message_id(work, work.bounce_report()) is not None


def _by_message_id(work: Work, report: BounceReport) -> dict[str, Any] | None:
    """The outbox row whose Message-ID the notice returns."""
    for mid in report.message_ids:
        rows = list(work.desk.db.query("SELECT * FROM outbox WHERE message_id = ?", [mid]))
        if rows:
            return rows[0]
    return None


def _returned_mail(work: Work, report: BounceReport) -> dict[str, Any] | None:
    """The outbox row the notice returns: by its Message-ID, else by our tag in the
    returned headers and the DSN's failed recipient."""
    db = work.desk.db
    by_id = _by_message_id(work, report)
    if by_id is not None:
        return by_id
    for ref in [r for s in report.subjects for r in subject_refs(s)]:
        ticket = tickets.find_opt(db, ref)
        if ticket is None:
            continue
        for rcpt in _named_recipients(work, report):
            rows = list(
                db.query(
                    f"SELECT * FROM outbox WHERE ticket_id = ? AND {holds_address('to_addrs')}"
                    " ORDER BY id DESC LIMIT 1",
                    [ticket["id"], rcpt],
                )
            )
            if rows:
                return rows[0]
    return None


def _pointed_ticket(work: Work, report: BounceReport) -> dict[str, Any] | None:
    """The ticket a notice without our Message-ID points to: our tag in the returned
    subject or the notice's own, else the last mail of ours to a recipient it names."""
    db = work.desk.db
    for ref in [r for s in (*report.subjects, work.parsed.subject) for r in subject_refs(s)]:
        ticket = tickets.find_opt(db, ref)
        if ticket is not None:
            return ticket
    for rcpt in _named_recipients(work, report):
        row = db.execute(
            f"SELECT ticket_id FROM outbox WHERE {holds_address('to_addrs')}"
            " AND ticket_id IS NOT NULL ORDER BY id DESC LIMIT 1",
            [rcpt],
        ).fetchone()
        if row:
            return tickets.get(db, int(row[0]))
    return None


def _named_recipients(work: Work, report: BounceReport) -> tuple[str, ...]:
    """The failed recipients: the DSN's fields, else the addresses the notice's text names
    (a qmail or Exchange notice in prose); the desk's own addresses are no recipients."""
    desk = work.desk.settings.desk_addresses()
    return report.recipients or tuple(a for a in report.mentioned if a not in desk)


def _record_on_pointed_ticket(work: Work, report: BounceReport) -> None:
    """A notice that points to a ticket but returns no mail of ours: kept on the ticket.

    No outbox row is marked and no delivery_failed set: which mail failed is not known
    for sure (and such a notice is easily written by anyone); the event lets engineers
    judge.
    """
    ticket = _pointed_ticket(work, report)
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
        f"bounce pointing to {ticket['ticket_number']}; no mail of ours identified",
        ticket,
    )


def record_bounce(work: Work) -> None:
    db = work.desk.db
    report = work.bounce_report()
    if not report.failure:
        work.finish("ignored", f"delivery status notification: {', '.join(report.actions)}")
        return
    row = _returned_mail(work, report)
    if row is None or row["ticket_id"] is None:
        _record_on_pointed_ticket(work, report)
        return
    ticket = tickets.get(db, row["ticket_id"])
    db.execute(
        "UPDATE outbox SET state = 'bounced', last_error = ? WHERE id = ?",
        [f"bounced {report.status} for {', '.join(report.recipients) or '?'}", row["id"]],
    )
    work.store_on(ticket, "in", "bounce")
    if row["kind"] in CUSTOMER_KINDS:
        tickets.update(db, ticket["id"], work.at, delivery_failed=1)
    detail = {
        "outbox_id": row["id"],
        "recipients": list(report.recipients),
        "status": report.status,
    }
    reply_to = (ticket["reply_to"] or "").lower()
    if reply_to and reply_to in json.loads(row["to_addrs"]) and ticket["requester"]:
        # The Reply-To the customer gave bounced (a typo, as in the samples): later
        # automatic mail goes to the sender instead of bouncing again.
        tickets.update(db, ticket["id"], work.at, reply_to="")
        detail["reply_to_dropped"] = reply_to
    tickets.add_event(db, ticket["id"], work.at, "desk", "delivery_failed", detail)
    work.finish("bounce_recorded", f"bounce of outbox #{row['id']} ({row['kind']})", ticket)
