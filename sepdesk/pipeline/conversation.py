"""Threading: which ticket an incoming mail belongs to (SPEC §2), and whether its sender does.

First an identifier in the subject (ticket number or Call ID, behind any
Re:/AW:/WG:/Fwd: and in any case), then In-Reply-To/References against
every Message-ID the desk has seen or sent.

Naming a ticket is not enough to join it (SPEC §4 "Nobody in where they
don't belong"): a mail is appended only when its sender belongs to the
ticket (:func:`belongs_to`). Anyone else gets a ticket of their own, linked
to the one they named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import sqlite_utils

from sepdesk.desk import Desk
from sepdesk.pipeline.customer import contract_index
from sepdesk.pipeline.parse import ParsedMail, blank_line, eight_bit_text, header_text
from sepdesk.store import holds_address
from sepdesk.tickets import store as tickets

_IDENT = re.compile(r"\b([TC])\s*-\s*(\d{4})\s*-\s*(\d{5,6})\b", re.I)
# The message kinds that show a person wrote in a ticket (not bounces, auto-replies,
# forged staff mail): their own mails, and phone calls the hotline logged for them.
_WRITTEN_KINDS = ("", "phone")


def subject_refs(subject: str) -> list[str]:
    """Ticket numbers and Call IDs named in a subject, normalised (``T-2026-000123``)."""
    refs = []
    for kind, year, num in _IDENT.findall(subject):
        kind = kind.upper()
        if (kind == "T" and len(num) == 6) or (kind == "C" and len(num) == 5):
            refs.append(f"{kind}-{year}-{num}")
    return refs


# In the header block: an In-Reply-To or References line, and the Subject's value with
# its folded lines. Both linear (a multi-MB Subject took seconds with a lazy pattern).
_REPLY_HEADER = re.compile(rb"\n(?i:in-reply-to|references)[ \t]*:")
_SUBJECT = re.compile(rb"\n(?i:subject)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")


def names_a_thread(raw: bytes) -> bool:
    """Whether a stored mail answers or names a conversation: In-Reply-To, References, or
    a ticket number in its (decoded) Subject, by the rule the thread step uses. Such mail
    is processed in the order received (runner.pending_ids): what it does to a ticket
    depends on what came before it (a #solve, then a reply)."""
    end = blank_line(raw)
    head = b"\n" + (raw[: end.start()] if end else raw)
    if _REPLY_HEADER.search(head):
        return True
    subject = _SUBJECT.search(head)
    return bool(subject and subject_refs(header_text(eight_bit_text(subject.group(1)))))


def _subject_tickets(
    db: sqlite_utils.Database, subject: str
) -> Iterator[tuple[dict[str, Any], str]]:
    for ref in subject_refs(subject):
        ticket = tickets.find_opt(db, ref)
        if ticket:
            yield ticket, f"subject names {ref}"


def _message_id_tickets(
    db: sqlite_utils.Database, ids: list[str]
) -> Iterator[tuple[dict[str, Any], str]]:
    # Newest reference first: the message replied to is the best evidence. Every ticket
    # that holds the Message-ID, newest first: a stranger reusing someone's Message-ID
    # must not hide the ticket its owner replies to (the caller picks the one the
    # sender belongs to).
    for mid in reversed(ids):
        rows = db.execute(
            "SELECT ticket_id, max(id) AS newest FROM messages WHERE message_id = ?"
            " GROUP BY ticket_id ORDER BY newest DESC",
            [mid],
        ).fetchall()
        for row in rows:
            yield tickets.get(db, int(row[0])), f"In-Reply-To/References <{mid}>"


def _answered_tickets(
    db: sqlite_utils.Database, mail: ParsedMail, ticket_ids: Sequence[int]
) -> Iterator[tuple[dict[str, Any], str]]:
    """The tickets holding a reply to this very mail (``ticket_ids``, newest first, as the
    dedupe step found them), processed before it: a replay out of order, a mail delayed
    on its way. It opened a second ticket, and its sender got two acknowledgements
    (review finding)."""
    for ticket_id in ticket_ids:
        yield tickets.get(db, ticket_id), f"a reply to <{mail.message_id}> came first"


def _reply_ids(mail: ParsedMail) -> list[str]:
    ids = [*mail.references, mail.in_reply_to] if mail.in_reply_to else list(mail.references)
    return [i for i in ids if i]


def referred_tickets(
    db: sqlite_utils.Database, mail: ParsedMail, answered_in: Sequence[int] = ()
) -> Iterator[tuple[dict[str, Any], str]]:
    """Every ticket the mail refers to, best evidence first, each once, and how it does.

    Lazy: the caller stops at the first ticket it takes, and the rest is never looked up.
    """
    seen: set[int] = set()
    for found in (
        _subject_tickets(db, mail.subject),
        _message_id_tickets(db, _reply_ids(mail)),
        _answered_tickets(db, mail, answered_in),
    ):
        for ticket, how in found:
            if ticket["id"] not in seen:
                seen.add(ticket["id"])
                yield ticket, how


def linked_from(db: sqlite_utils.Database, ticket: dict[str, Any], number: str) -> bool:
    """Whether ``ticket`` was opened beside ticket ``number``, directly or through a chain
    of linked tickets (a reply to a closed one, whose own reply was closed again)."""
    seen = {ticket["ticket_number"]}
    while ticket["linked_ticket"] and ticket["linked_ticket"] not in seen:
        if ticket["linked_ticket"] == number:
            return True
        seen.add(ticket["linked_ticket"])
        found = tickets.find_opt(db, ticket["linked_ticket"])
        if found is None:
            return False
        ticket = found
    return False


def belongs_to(desk: Desk, ticket: dict[str, Any], sender: str) -> str | None:
    """Why ``sender`` belongs to ``ticket``, or None when it does not.

    The ticket's people: its requester and Reply-To, every address that already wrote
    in it (mail or logged phone call) or that its mails had in To or Cc, every address
    the desk mailed as the ticket's customer, and the registered contacts of its customer (an ``@domain`` contact covers the whole
    domain). Staff are decided elsewhere.
    """
    sender = sender.strip().lower()
    # The desk's own address is in the To of every customer mail: as a sender it is no
    # person of the ticket (our own mail coming back is the dedupe step's), only a forger.
    if not sender or sender in desk.settings.desk_addresses():
        return None
    if sender == (ticket["requester"] or "").lower():
        return "the requester"
    if sender == (ticket["reply_to"] or "").lower():
        return "the ticket's Reply-To"
    number = ticket["customer_number"]
    if number and contract_index(desk).is_contact(number, sender):
        return f"a registered contact of customer {number}"
    marks = ",".join("?" for _ in _WRITTEN_KINDS)
    holds = holds_address("to_addrs")
    wrote, addressed, answered = desk.db.execute(
        f"SELECT max(direction = 'in' AND lower(from_addr) = ?),"
        f" max(direction = 'in' AND {holds}), max(direction = 'out' AND {holds})"
        f" FROM messages WHERE ticket_id = ?"
        f" AND (direction = 'out' OR (direction = 'in' AND kind IN ({marks})))",
        [sender, sender, sender, ticket["id"], *_WRITTEN_KINDS],
    ).fetchone()
    if wrote:
        return "wrote in this ticket before"
    # The ticket's own people put them in To or Cc (a colleague, a consultant).
    if addressed:
        return "addressed in this ticket by its people"
    # A Reply-To the ticket's answers went to before a later mail asked for another one
    # (followup._answer_here): the shared mailbox that got them may still answer.
    return "the desk answered to it in this ticket" if answered else None
