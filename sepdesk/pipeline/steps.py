"""The pipeline's order of work, as data: STEPS is read top to bottom until one sets an outcome.

Each step records what it decided on the Work (and so on the intake row).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from sepdesk.pipeline.bounce import record_bounce, returns_our_mail
from sepdesk.pipeline.bounces import is_bounce
from sepdesk.pipeline.conversation import belongs_to, linked_from, referred_tickets
from sepdesk.pipeline.followup import handle_follow_up, open_beside
from sepdesk.pipeline.guards import automatic_reason
from sepdesk.pipeline.opening import open_from_mail
from sepdesk.pipeline.parse import (
    ParsedMail,
    ParseError,
    attachment_list,
    blank_line,
    parse_mail,
    parts_digest,
    unreadable,
)
from sepdesk.pipeline.staff import handle_staff, staff_sender
from sepdesk.pipeline.work import Work
from sepdesk.tickets.actions import opens_linked


def step_parse(work: Work) -> None:
    if work.parse_error:
        raise ParseError(work.parse_error)
    if work.mail is None:
        work.mail = parse_mail(work.raw)
    m = work.mail
    # The Message-ID goes onto the intake row with its outcome (runner._mark_done).
    found = f"from {m.from_addr or '?'}; message-id {m.message_id}"
    if m.attachments:
        found += f"; attachments: {attachment_list(m)}"
    why = unreadable(m)
    if why:
        found += f"; no readable text: the message is {why}"
    # What was wrong with the MIME is kept with the outcome, and on the ticket (runner).
    work.decide("parse", found + (f"; MIME defects: {', '.join(m.defects)}" if m.defects else ""))


# Both places a Message-ID may already be known, asked in one statement: the earlier
# mails with it, as "id:same bytes" pairs (newest first, a bounded few: a client that
# reuses one Message-ID for every mail must not make each new one parse them all under
# the write lock), whether it is one of ours, whether a copy is in quarantine, and
# the tickets of replies to it that came first.
DEDUPE_LOOKBACK = 5
DEDUPE_QUERY = (
    "SELECT (SELECT group_concat(id || ':' || same) FROM (SELECT id, digest = (SELECT digest"
    " FROM intake WHERE id = :id) AS same FROM intake WHERE message_id = :mid AND id != :id"
    f" AND state = 'done' AND outcome != 'duplicate' ORDER BY id DESC LIMIT {DEDUPE_LOOKBACK})),"
    " EXISTS (SELECT 1 FROM outbox WHERE message_id = :mid),"
    " EXISTS (SELECT 1 FROM intake WHERE message_id = :mid AND state = 'quarantined'"
    " AND id != :id),"
    " (SELECT group_concat(ticket_id) FROM (SELECT ticket_id, max(id) AS newest FROM messages"
    " WHERE in_reply_to = :mid AND direction = 'in' GROUP BY ticket_id ORDER BY newest DESC))"
)


def step_dedupe(work: Work) -> None:
    seen, own, quarantined, answered = work.desk.db.execute(
        DEDUPE_QUERY, {"mid": work.parsed.message_id, "id": work.intake_id}
    ).fetchone()
    work.quarantined_copy = bool(quarantined)
    if answered and work.parsed.has_message_id:  # a reply to this mail came first
        work.answered_in = [int(t) for t in str(answered).split(",")]
    earlier = (
        [(int(i), same == "1") for i, same in (p.split(":") for p in seen.split(","))]
        if seen
        else []
    )
    if own:  # first: a copy of our own mail with a footer added is still ours
        work.finish("ignored", "our own outgoing mail came back")
        return
    # Each one, not only the newest: once a mail with other content holds the
    # Message-ID, a copy of the first one must still find its twin. The same bytes
    # need no parse.
    twin = next((i for i, same in earlier if same or _same_mail(work, i)), None)
    if twin is not None:
        work.finish("duplicate", f"Message-ID already processed (intake #{twin})")
    elif earlier:
        # A sender's client reusing Message-IDs must not make us drop a different mail.
        work.decide("dedupe", f"Message-ID also on intake #{earlier[0][0]} with other content")


def is_copy(work: Work, intake_id: int, digest: str) -> bool:
    """Whether intake row ``intake_id`` (its bytes' ``digest``) holds this very mail: the
    same bytes, the same header block (a row of which only the header was stored, the
    mail being too large), or the same content (``_same_mail``)."""
    head = blank_line(work.raw)
    digests = {hashlib.sha256(work.raw).hexdigest()}
    if head:
        digests.add(hashlib.sha256(work.raw[: head.end()]).hexdigest())
    return digest in digests or _same_mail(work, intake_id)


def _same_mail(work: Work, intake_id: int) -> bool:
    """Whether the earlier mail with this Message-ID is this very mail: the same sender,
    recipients, subject, Date, thread headers and body parts (text, HTML, attachments).
    The same mail may come in by two routes with other transport headers (Received,
    Delivered-To, Return-Path, X-...), other line ends (Dovecot hands out CR LF; an SMTP
    client may send bare LF) or a body a relay re-encoded; a client that reuses one
    Message-ID for another mail (the next night's log attached) must not lose it."""
    (raw,) = work.desk.db.execute("SELECT raw FROM intake WHERE id = ?", [intake_id]).fetchone()
    try:
        earlier = parse_mail(raw)
    except ParseError:
        return False
    if _what_it_says(earlier) != _what_it_says(work.parsed):
        return False
    return parts_digest(raw) == parts_digest(work.raw)  # parsed again: the rare case only


def _what_it_says(m: ParsedMail) -> tuple[object, ...]:
    """The fields of a mail that no relay changes, line ends aside."""
    date = m.date or m.header("date")  # an unreadable Date as it stands
    return (
        m.from_addr,
        m.to,
        m.cc,
        m.subject,
        date,
        m.in_reply_to,
        m.references,
        _lines(m.text),
        _lines(m.html_text),
    )


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def step_bounce(work: Work) -> None:
    if is_bounce(work.parsed):
        work.decide("bounce", "delivery status notification")
    elif returns_our_mail(work):
        work.decide("bounce", "a mail system's notice returning a mail of ours")
    else:
        return
    record_bounce(work)


def step_loop_guard(work: Work) -> None:
    work.automatic = work.automatic_reason()
    if work.automatic:
        work.decide("loop_guard", work.automatic)


def step_thread(work: Work) -> None:
    """The ticket the mail names, if its sender belongs to it (staff: see step_staff).

    A mail that names only tickets its sender does not belong to opens a ticket of its
    own, linked to the first one named (step_new_ticket); it changes nothing of that one.
    A customer's mail whose subject names a closed ticket, answering a mail of the open
    ticket linked from it, joins that one (_successor).
    """
    sender = work.parsed.from_addr
    staff = work.desk.settings.is_staff(sender)
    found = referred_tickets(work.desk.db, work.parsed, work.answered_in)
    for ticket, how in found:
        if staff or belongs_to(work.desk, ticket, sender):
            if not staff and opens_linked(work.desk, ticket, work.received_at):
                ticket, how = _successor(work, ticket, found) or (ticket, how)
            work.thread = ticket
            work.decide("thread", f"{ticket['ticket_number']} ({how})")
            return
        if work.foreign is None:
            work.foreign = ticket
            work.decide(
                "thread",
                f"{ticket['ticket_number']} ({how}) not joined:"
                f" {sender or 'the sender'} does not belong to it",
            )


def _successor(
    work: Work, past: dict[str, Any], rest: Iterator[tuple[dict[str, Any], str]]
) -> tuple[dict[str, Any], str] | None:
    """The open ticket linked from ``past`` that the mail also answers (In-Reply-To or
    References), when its sender belongs to it: the closed ticket's tag a reply's subject
    still carries must not open yet another linked ticket beside the one the customer is
    writing in (review finding: a second ticket, acknowledgement and team notice)."""
    number = past["ticket_number"]
    for ticket, how in rest:
        if (
            linked_from(work.desk.db, ticket, number)
            and not opens_linked(work.desk, ticket, work.received_at)
            and belongs_to(work.desk, ticket, work.parsed.from_addr)
        ):
            return ticket, f"{how}; {number} named in the subject is {past['status']}"
    return None


def step_staff(work: Work) -> None:
    work.staff = staff_sender(work.desk.settings, work.parsed)
    if work.staff and work.automatic and not _automatic_by_headers(work):
        # An engineer answering a customer's out-of-office keeps its subject ("AW:
        # Automatische Antwort: [SEP ...]"); taken for an auto-reply, the answer was
        # ignored (review finding). Headers still say automatic; the repeat rule remains.
        work.decide("loop_guard", "staff mail: an automatic subject alone is no auto-reply")
        work.automatic = None
    if work.staff and not work.automatic:
        handle_staff(work)


def _automatic_by_headers(work: Work) -> str | None:
    desk_addresses = work.desk.settings.desk_addresses()
    return automatic_reason(work.parsed, desk_addresses, work.envelope_from, by_subject=False)


def step_follow_up(work: Work) -> None:
    if work.thread is not None:
        handle_follow_up(work, work.thread, "thread")


def step_automatic(work: Work) -> None:
    if work.automatic:
        work.finish("ignored", work.automatic)


def step_new_ticket(work: Work) -> None:
    if work.foreign is not None:
        open_beside(work, work.foreign)
        return
    ticket = open_from_mail(work)
    work.finish("new_ticket", f"opened {ticket['ticket_number']} ({ticket['status']})", ticket)


STEPS: tuple[tuple[str, Callable[[Work], None]], ...] = (
    ("parse", step_parse),
    ("dedupe", step_dedupe),
    ("bounce", step_bounce),
    ("loop_guard", step_loop_guard),
    ("thread", step_thread),
    ("staff", step_staff),
    ("follow_up", step_follow_up),
    ("automatic", step_automatic),
    ("new_ticket", step_new_ticket),
)


def run_steps(work: Work) -> None:
    for _name, step in STEPS:
        step(work)
        if work.outcome:
            return
    raise AssertionError("pipeline ended without an outcome")
