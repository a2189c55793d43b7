"""Mails about a ticket that any actor may trigger: the Call ID notice (SPEC §2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sepdesk.desk import Desk
from sepdesk.instants import db_to_local, from_db
from sepdesk.outbound.compose import tagged_subject
from sepdesk.outbound.outbox import enqueue, queued_mail
from sepdesk.pipeline.parse import header_sender_name
from sepdesk.templates import greeting, render, severity_line
from sepdesk.tickets import store as tickets


def customer_thread(desk: Desk, ticket_id: int) -> list[str]:
    """Message-IDs of the customer's mails on the ticket, oldest first (for In-Reply-To)."""
    rows = desk.db.execute(
        "SELECT message_id FROM messages WHERE ticket_id = ? AND direction = 'in' AND kind = ''"
        " AND message_id IS NOT NULL ORDER BY at, id",
        [ticket_id],
    ).fetchall()
    return [str(r[0]) for r in rows]


# Enough of a stored mail to hold its header block (the name in its From), not its body.
_HEAD_BYTES = 64 * 1024


def _greeted(desk: Desk, ticket: dict[str, Any]) -> str:
    """Whom the notice greets: the writer of the latest customer mail, as the pipeline's
    replies do (answer._greeted); the notice goes where that mail asked
    (followup._answer_here). It greeted the requester in a mail to their colleague who
    had taken over (review finding)."""
    row = desk.db.execute(
        "SELECT m.from_addr, substr(i.raw, 1, ?) FROM messages m JOIN intake i"
        " ON i.id = m.intake_id WHERE m.ticket_id = ? AND m.direction = 'in' AND m.kind = ''"
        " ORDER BY m.at DESC, m.id DESC LIMIT 1",
        [_HEAD_BYTES, ticket["id"]],
    ).fetchone()
    if row is None or row[0] == (ticket["requester"] or "").lower():
        return str(ticket["requester_name"] or "")
    return header_sender_name(bytes(row[1] or b""))


def call_id_notice(desk: Desk, ticket: dict[str, Any], at: datetime) -> int | None:
    """Queue the mail that tells the customer the ticket's Call ID; None when there is nobody."""
    s, lang = desk.settings, ticket["language"]
    to = tickets.recipient(ticket)
    if not ticket["call_id"] or not to or to in s.desk_addresses():
        return None
    blocks = (
        greeting(lang, _greeted(desk, ticket)),
        # The new Call ID tied to the ticket number the customer was told (the subject
        # carries the Call ID alone from now on).
        render(lang, "notice_ticket", ticket=ticket["ticket_number"]),
        render(lang, "accepted", call_id=ticket["call_id"]),
        *_severity_block(desk, ticket, at),
        render(lang, "closing", desk=s.desk.name),
    )
    thread = customer_thread(desk, ticket["id"])
    ref = tickets.ref_of(ticket)
    return enqueue(
        desk.db,
        queued_mail(
            s,
            kind="call_accepted",
            to=[to],
            subject=tagged_subject(s, ref, ticket["subject"]),
            body="\n\n".join(b.strip() for b in blocks) + "\n",
            at=at,
            ticket_id=ticket["id"],
            ticket_ref=ref,
            in_reply_to=thread[-1] if thread else None,
            references=thread,
        ),
    )


def _severity_block(desk: Desk, ticket: dict[str, Any], at: datetime) -> list[str]:
    """The severity and the first-response due, as the acknowledgement of an accepted
    request gives them (a review found the notice without them), and for a Critical one
    the hotline: while the clock runs and nobody has answered yet."""
    due = ticket["first_response_due"]
    if not due or ticket["first_response_at"]:
        return []
    # Under no current contract too: an engineer accepted it, and its clock runs.
    lang = ticket["language"]
    local = db_to_local(due, desk.settings.desk.timezone) or ""
    # Accepted after the due (an engineer's late accept): no promise of a time gone by.
    blocks = [severity_line(lang, ticket["severity"], local, from_db(due) <= at)]
    if ticket["severity"] == 1:  # SPEC §1: a Critical request's reply gives the hotline
        blocks.append(render(lang, "critical", hotline=desk.settings.desk.hotline_phone))
    return blocks
