"""An authenticated engineer's mail on a ticket: commands at the top, the rest relayed.

Only reached for staff mail that passed sepdesk.pipeline.staff's checks. The
mail itself is stored on the ticket as an internal message. Commands
(sepdesk.pipeline.commands) are all checked before any is applied, and all
are applied in one savepoint: a wrong or impossible command rolls every one
back and the engineer gets a ``command_error`` mail instead, with nothing
relayed. Otherwise the engineer's own text (quoted history removed) goes to
the customer as a human answer (outbox kind ``relay``, ``Auto-Submitted:
no``) and stops the response clock. A bare ``#accept`` (no text) mails the
new Call ID instead; either way the customer gets one mail at most. An engineer who
wrote to the customer too (Reply-All) is not relayed again: that mail is the answer.

A staff address's mail on a ticket that failed authentication never comes here
(sepdesk.pipeline.followup keeps it); ``unverified_notice`` tells that address.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sepdesk.errors import InputError, InvalidTransition, NotFound
from sepdesk.instants import to_db
from sepdesk.outbound.compose import bare_subject, tagged_subject
from sepdesk.outbound.outbox import enqueue, queued_mail
from sepdesk.pipeline import rules
from sepdesk.pipeline.answer import hold_reply, may_answer, over_limit
from sepdesk.pipeline.classify import own_text
from sepdesk.pipeline.commands import Command, misplaced, parse_commands
from sepdesk.pipeline.conversation import subject_refs
from sepdesk.pipeline.parse import unreadable
from sepdesk.pipeline.repeats import REFUSED, REPEAT_WINDOW, said_before
from sepdesk.pipeline.work import Work
from sepdesk.sla.deadlines import clock_start, record_response
from sepdesk.templates import render
from sepdesk.tickets import actions
from sepdesk.tickets import store as tickets
from sepdesk.tickets.notices import call_id_notice, customer_thread
from sepdesk.tickets.store import recipient

_SIGNATURE_IMAGE = re.compile(r"^(?:|image\d{3}\.(?:png|jpe?g|gif))$", re.IGNORECASE)
_SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b")
_BLANK_RUN = re.compile(r"\n[^\S\n]*(?:\n[^\S\n]*){2,}")
BELOW = "a command must be among the first lines, before any text; nothing was relayed"
NOTHING_DONE = "Nothing was applied and nothing was sent to the customer."
REPEAT_HELD = "repeat_held"  # event: a staff sender told that their repeat was held back
NO_TICKET = "it names no ticket (keep the [tag T-...] or [tag C-...] in the subject)"


def handle_engineer_mail(work: Work) -> None:
    commands, rest, errors = parse_commands(answer_lines(work.parsed.text))
    if work.thread is None:
        named = subject_refs(work.parsed.subject)
        # Naming one that does not exist is another mistake than naming none.
        what = f"{named[0]} is no ticket or Call ID of this desk" if named else NO_TICKET
        command_error(work, None, what, [])
        work.finish("ignored", f"staff mail from {work.staff} names no ticket")
        return
    ticket = work.thread
    note = any(c.name == "internal" for c in commands)
    number = ticket["ticket_number"]
    text = "" if note else relay_text(work, rest)
    errors += [f"{line!r} stands below other text: {BELOW}" for line in misplaced(text)]
    if errors:
        _store(work, ticket, REFUSED)
        command_error(work, ticket, "a command is wrong", errors)
        work.finish("follow_up", f"staff mail on {number}: bad command, nothing done", ticket)
        return
    had_call_id = ticket["call_id"]
    try:
        ticket = _apply(work, ticket, commands)
    except (InvalidTransition, InputError, NotFound) as exc:
        _store(work, ticket, REFUSED)
        command_error(work, ticket, "a command cannot be done", [str(exc)])
        work.finish("follow_up", f"staff mail on {number}: {exc}; nothing done", ticket)
        return
    if not commands and not text:
        _nothing_to_do(work, ticket)
        return
    _store(work, ticket, "note" if note else "staff")
    # A Call ID given by this mail is told; a ticket accepted again (waiting, then
    # #accept) had its Call ID mailed already (SPEC §2: once; a review found it twice).
    accepted = any(c.name == "accept" for c in commands) and not had_call_id
    why = _answer(work, ticket, text, accepted) or (
        "internal note, not relayed" if note else "commands only, not relayed"
    )
    work.finish("follow_up", f"staff mail on {number}: {why}", ticket)


def _nothing_to_do(work: Work, ticket: dict[str, Any]) -> None:
    """A mail with neither a command nor words of the engineer's own to relay: an
    encrypted one, or one whose answer the desk did not find. Dropped in silence, the
    engineer believed the customer answered while the ticket breached (review finding)."""
    number, m = ticket["ticket_number"], work.parsed
    if not m.text.strip() and not m.attachments:
        _store(work, ticket, "staff")
        work.finish("follow_up", f"staff mail on {number}: empty, nothing done", ticket)
        return
    _store(work, ticket, REFUSED)  # went on to no one: sent again, it is no repeat
    unread = unreadable(m)
    what = (
        f"it is {unread}: the desk cannot read it; send it again unencrypted"
        if unread
        else "no text of your own was found in it to pass on, and no command"
        " (write your answer above or below the quoted mail, not inside it)"
    )
    command_error(work, ticket, what, [])
    why = f"{unread}, nothing to relay" if unread else "no own text and no command"
    work.finish("follow_up", f"staff mail on {number}: {why}; sender told", ticket)


def answer_lines(text: str) -> str:
    """An engineer's mail without each quoted mail under its heading ("Am ... schrieb
    ...:" then "> " lines): the answer may stand below or between the quotes
    (Thunderbird's and Gmail's bottom-posting, an interleaved reply). Taken for history
    from the heading on, such an answer, and the commands above it, were dropped in
    silence (review finding). A heading above unquoted text (a forward, Outlook's
    style) stays for ``own_text``, which cuts everything from there on."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        size = _heading_size(lines, i)
        if not size or not _quote_below(lines, i + size):
            kept.append(lines[i])
            i += 1
            continue
        i += size
        while i < len(lines) and (rules.QUOTED_LINE.match(lines[i]) or not lines[i].strip()):
            i += 1
    return "\n".join(kept)


def _heading_size(lines: list[str], i: int) -> int:
    """How many lines the heading of a quoted mail at ``lines[i]`` takes: 1, 2 when its
    client wrapped it, or 0 when it is none."""
    line = lines[i]
    if rules.QUOTED_LINE.match(line):
        return 0
    if rules.WROTE_HEADING.search(line):
        return 1
    second = lines[i + 1] if i + 1 < len(lines) else ""
    if not second.rstrip().endswith(":"):
        return 0
    english = rules.WROTE_OPENER.match(line) and rules.WROTE_LINE.search(second)
    return 2 if english or rules.WROTE_WRAPPED.match(line) else 0


def _quote_below(lines: list[str], i: int) -> bool:
    below = next((b for b in lines[i : i + 2] if b.strip()), "")
    return bool(rules.QUOTED_LINE.match(below))


def relay_text(work: Work, text: str) -> str:
    """What of an engineer's mail goes to the customer: their own lines, without quoted
    history or forwarded messages, and cut at a line that attributes a mail of the desk
    ("Support Team <support@...> schrieb am ...:"): whatever the client's style, what
    follows is the desk's own mail (a team notice holds contract details, SPEC §4)."""
    lines = own_text(text, keep_forwards=False).split("\n")
    desk = work.desk.settings.desk_addresses()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _heading_size(lines, i) == 2 or _desk_heading(lines, i, desk):
            # Gmail's German heading wraps behind the verb: its first half goes too.
            if kept and rules.WROTE_WRAPPED.match(kept[-1]):
                kept.pop()
            break
        kept.append(line)
    # A quote taken from between the engineer's paragraphs leaves its blank lines on both sides.
    text = _BLANK_RUN.sub("\n\n", "\n".join(kept)).strip()
    # A signature ("-- ") or a closing line alone says nothing to the customer: relayed,
    # it stopped the response clock with no answer given (a command mail, signed).
    closing = rules.CLOSING.search(text)
    said = text[: closing.start()] if closing else text
    return text if said.strip() else ""


def _desk_heading(lines: list[str], i: int, desk: Collection[str]) -> bool:
    """Whether ``lines[i]`` heads a mail of the desk: it names a desk address and ends in
    a colon, and says who wrote (or when), or a quote follows. Not any line naming the
    address ("send the logs to support@... or upload them here:"): the answer was cut
    there (review finding)."""
    line = lines[i]
    if not line.rstrip().endswith(":") or not any(a in line.lower() for a in desk):
        return False
    wrapped = i > 0 and rules.WROTE_WRAPPED.match(lines[i - 1])
    said = rules.WROTE_HEADING.search(line) or _TIME.search(line)
    return bool(wrapped or said or _quote_below(lines, i + 1))


def _answer(work: Work, ticket: dict[str, Any], text: str, accepted: bool) -> str | None:
    """What goes to the customer after the commands: the relay, a Call ID notice, or nothing.

    One mail at most: a relay after ``#accept`` carries the Call ID itself.
    """
    to = recipient(ticket)
    if to in work.desk.settings.desk_addresses() | {""}:
        if text:
            command_error(work, ticket, "the ticket has no customer address to relay to", [])
        return "no customer address, not relayed"
    if text and said_before(work, ticket):
        return _repeat_held(work, ticket)
    if text and _addressed(work, to):
        return _answered_directly(work, ticket, to, accepted)
    if text:
        relay(work, ticket, text, accepted)
        return f"relayed to {to}" + _attachments_kept(work, ticket)
    if accepted:
        return f"accepted, Call ID to {to}" if announce_call_id(work, ticket) else "accepted"
    return None


def _repeat_held(work: Work, ticket: dict[str, Any]) -> str:
    """The sender's same words again within a day, not relayed: an engineer's autoresponder
    without loop headers would answer each notice of the ticket (see repeats.py), and the
    desk cannot tell it from a person's reminder ("Gibt es Neuigkeiten?"). A person is told,
    as dropped in silence the reminder never reached the customer (review finding); once a
    day per ticket, counted against the daily limit, so that an autoresponder answering
    the notice ends there too."""
    assert work.staff is not None
    why = "the sender's same words again, not relayed"
    since = to_db(work.received_at - REPEAT_WINDOW)
    told = work.desk.db.execute(
        "SELECT 1 FROM events WHERE ticket_id = ? AND kind = ? AND actor = ? AND at >= ?",
        [ticket["id"], REPEAT_HELD, work.staff, since],
    ).fetchone()
    held = "told before" if told else over_limit(work, work.staff)
    if held:
        work.decide("command_error", held)
        return f"{why} ({held})"
    tickets.add_event(work.desk.db, ticket["id"], work.at, work.staff, REPEAT_HELD)
    applied = any(step["step"] == "command" for step in work.steps)
    command_error(
        work,
        ticket,
        "it says the same as your earlier mail on this ticket (within 24 hours), and the desk"
        " holds such a repeat back as an autoresponder's; change its words to send it again",
        [],
        outcome=(
            "Its commands were applied; its text was not sent to the customer."
            if applied
            else NOTHING_DONE
        ),
        counted=True,
    )
    return f"{why}; sender told"


def _attachments_kept(work: Work, ticket: dict[str, Any]) -> str:
    """Tell the engineer that the files of a relayed mail stayed with the desk: a relay is
    text alone, and the engineer believed the customer had the PDF (review finding).
    Images of a signature (image001.png, or no name) and a signed mail's signature part
    (smime.p7s) are no files the customer needs."""
    files = [
        a.filename
        for a in work.parsed.attachments
        if not _SIGNATURE_IMAGE.match(a.filename) and a.content_type not in _SIGNATURE_TYPES
    ]
    if not files:
        return ""
    names = ", ".join(f or "(no name)" for f in files)
    command_error(
        work,
        ticket,
        f"its attachments ({names}) were not passed on: the desk relays an answer's text"
        " only; send them to the customer directly",
        [],
        outcome="Its text was sent to the customer, without the attachments.",
    )
    return "; attachments not passed on, sender told"


def _addressed(work: Work, to: str) -> bool:
    """Whether the engineer's mail itself went to ``to`` (a Reply-All keeps the customer
    in To or Cc): relayed as well, the customer had the answer twice (review finding)."""
    m = work.parsed
    return to.lower() in {*m.to, *m.cc}


def _answered_directly(work: Work, ticket: dict[str, Any], to: str, accepted: bool) -> str:
    """The customer has the engineer's mail already: it is the answer (the clock stops),
    and a Call ID this mail gave, which the engineer's own mail did not carry, is told."""
    work.decide("relay", f"none: {to} had the mail{_responded(work, ticket)}")
    told = accepted and announce_call_id(work, ticket)
    return f"{to} had the mail directly, not relayed" + ("; Call ID told" if told else "")


def _store(work: Work, ticket: dict[str, Any], kind: str) -> None:
    """The engineer's mail on the ticket, internal: it is never shown to the customer as is.

    Kind ``note``, ``staff``, or REFUSED when a command error kept all of it back.
    """
    work.store_on(ticket, "internal", kind)


def _action_arg(command: Command) -> Any:
    return int(command.arg) if command.name == "severity" and command.arg else command.arg


def _apply(work: Work, ticket: dict[str, Any], commands: list[Command]) -> dict[str, Any]:
    """Apply every command in order in one savepoint; an exception undoes them all.

    Actions are dated at the mail's receipt: that is when the engineer acted
    (and a reply after ``reopen_days`` is measured from that solve).
    """
    assert work.staff is not None
    with work.desk.db.atomic():
        for command in commands:
            if command.name == "internal":
                continue
            ticket = actions.apply(
                work.desk,
                ticket["ticket_number"],
                command.name,
                work.received_at,
                work.staff,
                _action_arg(command),
                notify_customer=False,  # _answer sends at most one mail: relay or notice
            )
    # Recorded only once all are applied: a rolled-back command was never done.
    for command in commands:
        work.decide("command", f"#{command.name} {command.arg or ''}".strip())
    return ticket


def engineer_name(work: Work) -> str:
    """The name the customer sees: the From display name, else the address's local part."""
    m = work.parsed
    return m.from_name.strip() or m.from_addr.partition("@")[0]


def relay(work: Work, ticket: dict[str, Any], text: str, accepted: bool = False) -> int:
    """Queue the engineer's text to the customer, as the desk, and stop the response clock."""
    desk, s = work.desk, work.desk.settings
    ref = tickets.ref_of(ticket)
    to = recipient(ticket)
    thread = customer_thread(work.desk, ticket["id"])
    if accepted and ticket["call_id"]:
        text += "\n\n" + render(ticket["language"], "accepted", call_id=ticket["call_id"])
    body = render(
        ticket["language"],
        "relay",
        text=text,
        engineer=engineer_name(work),
        desk=s.desk.name,
        ref=f"[{s.desk.tag} {ref}]",
    )
    outbox_id = enqueue(
        desk.db,
        queued_mail(
            s,
            kind="relay",
            to=[to],
            subject=tagged_subject(s, ref, ticket["subject"]),
            body=body,
            at=work.at,
            ticket_id=ticket["id"],
            ticket_ref=ref,
            in_reply_to=thread[-1] if thread else None,
            references=thread,
            automatic=False,  # a person's answer: Auto-Submitted: no, not rate-limited
            from_name=f"{engineer_name(work)} ({s.desk.name})",
        ),
    )
    work.decide("relay", f"outbox #{outbox_id} to {to}{_responded(work, ticket)}")
    return outbox_id


def _responded(work: Work, ticket: dict[str, Any]) -> str:
    """Record this mail as an engineer's response to ``ticket``; a note for the decision.

    Not one received before the response clock started (the ticket's receipt, or a
    reopening): it answered something else, and counted it gave a negative response time
    the SLA report called met (review finding). It stays on the ticket and the clock runs
    on, as for a hotline call and ``tickets respond --at``.
    """
    if work.received_at < clock_start(ticket):
        return " (received before the ticket's clock started: not counted as a response)"
    assert work.staff is not None
    first = record_response(work.desk.db, ticket["id"], work.received_at, work.staff)
    return " (first response)" if first else ""


def announce_call_id(work: Work, ticket: dict[str, Any]) -> int | None:
    """Mail the new Call ID to the customer after a bare ``#accept`` (SPEC §2); automatic."""
    to = recipient(ticket)
    held = may_answer(work, to)
    if held:
        hold_reply(work, ticket, "call_accepted", to, held)
        return None
    outbox_id = call_id_notice(work.desk, ticket, work.at)
    work.decide("reply", "call_accepted queued" if outbox_id else "no Call ID notice")
    return outbox_id


def command_error(
    work: Work,
    ticket: dict[str, Any] | None,
    what: str,
    errors: list[str],
    outcome: str = NOTHING_DONE,
    counted: bool | None = None,
) -> int | None:
    """Tell the engineer why the mail was not processed (automatic, to the engineer only)."""
    if work.staff is None:
        return None
    body = render(
        "en",
        "command_error",
        subject=work.parsed.subject,
        what=what,
        errors="\n".join(f"  - {e}" for e in errors),
        outcome=outcome,
        desk=work.desk.settings.desk.name,
    ).replace("\n\n\n\n", "\n\n")  # no list of errors: no empty paragraph either
    return _not_processed(work, ticket, work.staff, what, body, counted=counted)


def unverified_notice(work: Work, ticket: dict[str, Any], why: str) -> int | None:
    """Tell a staff address that its mail, which failed authentication, did not reach the
    customer: else the engineer believes the customer answered while the ticket breaches.

    To the From only, a staff address: whoever forged it, the notice reaches staff alone.
    Forged mail can be sent at will, so it counts against the daily automatic replies.
    """
    to = work.parsed.from_addr
    held = over_limit(work, to)
    if held:
        work.decide("command_error", held)
        return None
    s = work.desk.settings
    body = render(
        "en",
        "unverified_staff",
        subject=work.parsed.subject,
        why=why,
        ticket=ticket["ticket_number"],
        domain=to.rpartition("@")[2],
        desk=s.desk.name,
    )
    return _not_processed(work, ticket, to, f"failed authentication: {why}", body, counted=True)


def _not_processed(
    work: Work,
    ticket: dict[str, Any] | None,
    to: str,
    what: str,
    body: str,
    counted: bool | None = None,
) -> int | None:
    """Queue a ``command_error`` mail to staff address ``to`` answering this mail."""
    s, m = work.desk.settings, work.parsed
    if to in s.desk_addresses():
        return None
    ref = tickets.ref_of(ticket) if ticket else None
    outbox_id = enqueue(
        work.desk.db,
        queued_mail(
            s,
            kind="command_error",
            to=[to],
            subject=tagged_subject(s, ref, f"Not processed: {bare_subject(m.subject)}"),
            body=body,
            at=work.at,
            ticket_id=ticket["id"] if ticket else None,
            ticket_ref=ref,
            in_reply_to=m.message_id if m.has_message_id else None,
            references=m.references,
            counted=counted,
        ),
    )
    work.decide("command_error", f"outbox #{outbox_id} to {to}: {what}")
    return outbox_id
