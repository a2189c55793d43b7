"""What one phone call does to the database: a new phone ticket, or a call appended to a ticket.

Everything here runs inside the importer's write transaction and never commits. A new
ticket is first decided (:func:`plan_ticket`: reads only, so a row that fails there
leaves nothing behind), then written by :func:`open_ticket` in its final state with one
INSERT: what creating it, accepting it (Call ID), starting its clock and, with an
engineer, the first response used to write one after the other. Its events, messages
and confirmation mail go to the batch (:mod:`sepdesk.hotline.batch`) in the order those
steps logged them; ``tests/test_hotline_bulk.py`` holds the result against the steps.

Policy choices (SPEC §1 is written for mail; these are the phone equivalents):

- Missing information is always ``()``: the hotline engineer took the details on
  the phone, so a phone ticket with a current contract is accepted at once.
- The customer is the row's ``customer_number`` when it is known, else the one
  customer whose contacts hold ``caller_email`` (address, then ``@domain``). Two
  or more customers for that address make the ticket ambiguous (``needs-info``), and
  the confirmation asks which customer number the call is for, as a mail's answer does.
  Phone numbers are not matched: the contracts carry no phone numbers yet.
- ``engineer`` set on a NEW ticket means a support engineer answered the call and
  logged it: the call itself is the first response, at ``started_at``, so the
  response clock stops at once. On an APPENDED call it is a response too
  (as ``record_response``: only the first one stops the clock), unless the call
  started before the ticket's clock did: it answered no request yet.
- The confirmation mail goes to ``caller_email``, failing that to the customer's
  registered full addresses (never to an ``@domain`` entry). Contract details
  (level, end) appear only when every recipient is a registered contact of the
  customer, so an unknown caller never learns them. Language: a recipient domain
  ending in ``.de``, ``.at`` or ``.ch`` gives German, anything else English.
- An appended call leaves the ticket's status and customer as they are (the engineer
  changes those with ``tickets accept``...), but as a customer's mail would: it reopens a
  ticket solved at most ``reopen_days`` before (the clock restarts from the call where
  a new one is due) and wakes a waiting one; a call naming a closed ticket, or one
  solved longer ago, opens a new phone ticket linked to it. Its severity stays unless the call's is
  graver: the hotline's word raises it (a ``severity`` event, the due recomputed from
  receipt; a demo contract still shows Minor at most). A Critical phoned in about a
  ticket opened as Minor kept Minor's due, two days out (review finding).
- Demo contracts are shown as Minor, as for mail; the row's severity is kept as
  ``stated_severity``. An emergency contract whose one incident is used makes the
  call ``unqualified``, and the mail says which Call ID used it.
- Appended calls get no mail: the customer was on the phone with us, and the
  ticket's own conversation carries on by mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sepdesk.desk import Desk
from sepdesk.hotline.batch import Batch
from sepdesk.hotline.csvrows import CallRow
from sepdesk.instants import db_to_local, from_db, to_db
from sepdesk.outbound.compose import tagged_subject
from sepdesk.outbound.outbox import queued_mail
from sepdesk.pipeline.customers import ContractIndex, ContractView, contract_state
from sepdesk.sla.deadlines import (
    clock_start,
    due_change,
    reopen_clock,
    response_detail,
    restart_clock,
    start_clock,
    stop_clock,
)
from sepdesk.templates import greeting, render, severity_line
from sepdesk.tickets import store as tickets
from sepdesk.tickets.acceptance import decide_status, emergency_used_by, shown_severity
from sepdesk.tickets.actions import active_status

GERMAN_TLDS = (".de", ".at", ".ch")
DEFAULT_SUBJECT = "Phone call"


@dataclass(frozen=True)
class Customer:
    """Who the caller is, as far as the contracts tell."""

    number: str | None
    contract: ContractView | None
    state: str  # current | expired | none
    basis: str  # number | contact | none
    reason: str
    ambiguous: tuple[str, ...] = ()


def find_customer(
    index: ContractIndex, row: CallRow, tz: str, known: str | None = None
) -> Customer:
    """The customer of a call: a known customer number first (the row's, else ``known``,
    that of the ticket the row names), else the caller's address."""
    assert row.started_at is not None
    day = row.started_at.astimezone(ZoneInfo(tz)).date()
    stated = row.get("customer_number")
    if stated and index.get(stated):
        return _customer(index, stated, day, "number", f"customer {stated}: named by the hotline.")
    if not stated and known and index.get(known):
        why = f"customer {known}: of the ticket the hotline named."
        return _customer(index, known, day, "number", why)
    note = f"customer number {stated} is unknown; " if stated else ""
    email = row.get("caller_email").lower()
    numbers = index.customers_of_sender(email) if email else ()
    if len(numbers) == 1:
        why = f"{note}caller {email} is a registered contact of customer {numbers[0]}."
        return _customer(index, numbers[0], day, "contact", why)
    if numbers:
        why = f"{note}caller {email} is a contact of several customers ({', '.join(numbers)})."
        return Customer(None, None, "none", "none", why, tuple(numbers))
    return Customer(None, None, "none", "none", f"{note}caller {email or '?'} is not a contact.")


def _customer(index: ContractIndex, number: str, day: Any, basis: str, why: str) -> Customer:
    contract = index.on_day(number, day)
    return Customer(number, contract, contract_state(contract, day), basis, why)


def language_of(addresses: list[str], contract: ContractView | None) -> str:
    """German for .de/.at/.ch domains (the recipient's, else the contract's contacts), else English."""
    candidates = addresses or list(contract.contacts if contract else ())
    for address in candidates:
        if address.lower().rstrip(".").endswith(GERMAN_TLDS):
            return "de"
    return "en"


def recipients(row: CallRow, contract: ContractView | None) -> list[str]:
    if row.get("caller_email"):
        return [row.get("caller_email").lower()]
    if contract is None:
        return []
    return [c for c in contract.contacts if c and not c.startswith("@")]


def call_note(row: CallRow) -> str:
    """The call as a message body: who called, from where, who took it, what was said."""
    lines = [
        f"Phone call {row.call_uid}",
        f"Caller: {row.get('caller_name') or '-'}",
        f"Phone: {row.get('caller_phone') or '-'}",
        f"Email: {row.get('caller_email') or '-'}",
        f"Engineer: {row.get('engineer') or '-'}",
        "",
        row.get("summary"),
    ]
    return "\n".join(lines).rstrip() + "\n"


@dataclass
class CallImport:
    """What every call of one import shares: desk, contracts, the import's instant and file.

    It also keeps the mail blocks that depend only on customer and language (contract
    details, closing): thousands of confirmations would otherwise render them anew.
    """

    desk: Desk
    index: ContractIndex
    at: datetime
    source: str
    stamp: str = field(init=False)  # ``at`` as database text, for the many rows that carry it
    _blocks: dict[tuple[Any, ...], list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.stamp = to_db(self.at)

    def blocks(self, lang: str, who: Customer, verified: bool, used: str | None) -> list[str]:
        """Contract blocks and closing of a confirmation: the same for every call of a customer."""
        key = (lang, who.number, who.state, verified, used)
        if key not in self._blocks:
            closing = render(lang, "closing", desk=self.desk.settings.desk.name)
            self._blocks[key] = [*_contract_blocks(self.desk, lang, who, verified, used), closing]
        return self._blocks[key]


def _call_rows(ctx: CallImport, batch: Batch, ticket_id: int, row: CallRow, started: str) -> None:
    """The call as an incoming message of the ticket, and the event that logs it.

    ``started`` is the call's start as database text, which the caller has at hand.
    """
    caller = row.get("caller_email") or row.get("caller_phone") or row.get("caller_name")
    message = tickets.message_values(
        ticket_id,
        direction="in",
        at=started,
        from_addr=caller or "hotline",
        subject=row.get("summary"),
        body=call_note(row),
        kind="phone",
    )
    batch.add("messages", message)
    detail = {"call_uid": row.call_uid, "source_file": ctx.source}
    actor = row.get("engineer") or "hotline"
    batch.add("events", tickets.event_values(ticket_id, ctx.stamp, actor, "phone_call", detail))


def append_call(ctx: CallImport, batch: Batch, ticket: dict[str, Any], row: CallRow) -> str:
    """Log the call on an existing ticket (as read just now); with an engineer it is a response.

    The ticket's clock is updated at once, so a later row of the batch naming the same
    ticket sees that it was answered. Returns a note for the row's record ("" if none).
    """
    assert row.started_at is not None
    started = to_db(row.started_at)
    settled = before_ending(ticket, row.started_at)
    if not settled:
        _reopen(ctx, batch, ticket, row)
    _call_rows(ctx, batch, ticket["id"], row, started)
    if not settled:
        _raise_severity(ctx, batch, ticket, row)
    engineer = row.get("engineer")
    if engineer and row.started_at < clock_start(ticket):
        # A call before the request came (or before its reopening restarted the clock)
        # answered something else: counted, it gave negative response times that the
        # SLA report called met (review finding). Clamped to the receipt, it would claim
        # an answer nobody gave to the request; so the clock runs on, the call is on record.
        return "engineer's call before the ticket's clock started: not counted as a response"
    if engineer:
        detail = response_detail(ticket, row.started_at)
        if detail["first"]:
            stop_clock(ctx.desk.db, ticket["id"], row.started_at, bool(detail["late"]))
        event = tickets.event_values(ticket["id"], started, engineer, "responded", detail)
        batch.add("events", event)
    return ""


def before_ending(ticket: dict[str, Any], started_at: datetime) -> bool:
    """Whether a call on a solved or closed ticket was made before it was solved or closed.

    Hotline logs are imported after the fact: such a call was part of the case its solve
    or close settled (often the very call that settled it), so it is recorded on the
    ticket and neither reopens it nor opens a linked one (review finding: a "works now,
    close it" call imported later opened a new accepted ticket and mailed the customer).
    A customer's mail is different: one waiting in the queue had not been seen."""
    ended: str | None = {"solved": ticket["solved_at"], "closed": ticket["closed_at"]}.get(
        ticket["status"]
    )
    return ended is not None and started_at < from_db(ended)


def _reopen(ctx: CallImport, batch: Batch, ticket: dict[str, Any], row: CallRow) -> None:
    """A call on a solved ticket (within ``reopen_days``: the importer links a new ticket
    otherwise) reopens it, and one on a waiting ticket wakes it, as the customer's mail
    does (pipeline/followup.py): a Critical "the problem is back" call left the ticket
    solved, with no clock and in no open list (review finding). The clock restarts from
    the call's start where :func:`reopen_clock` says a new one is due."""
    assert row.started_at is not None
    if ticket["status"] not in ("solved", "waiting"):
        return
    tid, started, db = ticket["id"], to_db(row.started_at), ctx.desk.db
    actor, by = row.get("engineer") or "hotline", {"by": f"hotline call {row.call_uid}"}
    if ticket["status"] == "waiting":
        tickets.update(db, tid, ctx.at, status=active_status(ticket))
        batch.add("events", tickets.event_values(tid, started, actor, "woken", by))
    else:
        clock = reopen_clock(ticket, row.started_at)
        tickets.update(db, tid, ctx.at, status=active_status(ticket), solved_at=None, **clock)
        if clock:
            due = to_db(restart_clock(ctx.desk, tid))
            change = due_change(ticket["first_response_due"], due, clock.get("clock_from"))
            batch.add("events", tickets.event_values(tid, started, "desk", "due_changed", change))
        batch.add("events", tickets.event_values(tid, started, actor, "reopened", by))
    ticket.update(tickets.get(db, tid))  # later rows of the batch see it open


def _raise_severity(ctx: CallImport, batch: Batch, ticket: dict[str, Any], row: CallRow) -> None:
    """The call's severity on its ticket where it is graver: the hotline's word (SPEC §1:
    Critical issues are phoned in). Its events go with the batch's, in row order."""
    assert row.started_at is not None and row.severity is not None
    level, _why = shown_severity(row.severity, ticket["contract_state"], ticket["contract_level"])
    if level >= ticket["severity"]:
        return
    tid, started, old_due = ticket["id"], to_db(row.started_at), ticket["first_response_due"]
    tickets.update(ctx.desk.db, tid, row.started_at, severity=level)
    if old_due is not None:
        due = to_db(restart_clock(ctx.desk, tid))
        if due != old_due:
            change = due_change(old_due, due, ticket["clock_from"])
            batch.add("events", tickets.event_values(tid, started, "desk", "due_changed", change))
    actor = row.get("engineer") or "hotline"
    detail = {
        "value": level,
        "from": ticket["severity"],
        "by": f"hotline call {row.get('call_uid')}",
    }
    batch.add("events", tickets.event_values(tid, started, actor, "severity", detail))
    ticket.update(tickets.get(ctx.desk.db, tid))  # later rows of the batch see the new level


@dataclass(frozen=True)
class NewCall:
    """Everything decided about a call that opens a ticket, before anything is written."""

    row: CallRow
    who: Customer
    used: str | None  # the Call ID that already used the emergency contract's incident
    status: str
    why: str
    to: list[str]
    ticket: tickets.NewTicket
    linked: dict[str, Any] | None = None  # the closed ticket the call named


def plan_ticket(ctx: CallImport, row: CallRow, linked: dict[str, Any] | None = None) -> NewCall:
    """Decide customer, status, recipients and the ticket's fields; reads, never writes.

    ``linked``: the closed (or long solved) ticket the row names; the new ticket is
    linked to it, as a mail on such a ticket opens one, and is its customer's when the
    row names none (the hotline named the ticket, and so the customer).
    """
    assert row.started_at is not None and row.severity is not None
    known = linked["customer_number"] if linked else None
    who = find_customer(ctx.index, row, ctx.desk.tz, known)
    used = _emergency_used(ctx.desk, who)
    status, why = decide_status(
        contract_state=who.state,
        missing=(),
        ambiguous=bool(who.ambiguous),
        emergency_used=bool(used),
    )
    to = recipients(row, who.contract)
    email = row.get("caller_email")
    verified = bool(who.number) and ctx.index.is_contact(who.number or "", email)
    new = _new_ticket(row, who, status, to, verified, linked["ticket_number"] if linked else None)
    return NewCall(row, who, used, status, why, to, new, linked)


def open_ticket(ctx: CallImport, batch: Batch, call: NewCall) -> tuple[int, str]:
    """Write the phone ticket in its final state with one INSERT; returns (id, ref).

    The row holds what creating, accepting (Call ID), starting the clock and, with an
    engineer, the first response used to write one after the other; the events record
    those steps in the same order, with the same details.
    """
    values, responded = _ticket_values(ctx, batch, call)
    ticket_id = tickets.insert(ctx.desk.db, values)
    _ticket_events(ctx, batch, ticket_id, call, values, responded)
    if call.linked is not None:  # as for a mail on a closed ticket: engineers see the link
        link = {"new": values["ticket_number"]}
        batch.add(
            "events", tickets.event_values(call.linked["id"], ctx.stamp, "desk", "linked", link)
        )
    if call.to:
        _confirm(ctx, batch, {**values, "id": ticket_id}, call)
    return ticket_id, str(values["call_id"] or values["ticket_number"])


def _ticket_values(
    ctx: CallImport, batch: Batch, call: NewCall
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The tickets row as creating, accepting, starting the clock and responding leave it.

    Also returns the ``responded`` event's detail when the engineer's call is the response.
    """
    row, t = call.row, call.ticket
    assert row.started_at is not None
    year = t.received_at.astimezone(ZoneInfo(ctx.desk.tz)).year
    values = tickets.new_values(t, batch.counters.next_id("ticket", year), ctx.stamp)
    if call.status == "accepted":
        # assign_call_id reads the year off the stored received_at, which only lacks the
        # microseconds: never across a midnight, so the ticket number's year is the same.
        values["call_id"] = batch.counters.next_id("call", year)
    if call.status in ("accepted", "needs-info") and call.who.state == "current":
        start_clock(ctx.desk, values)
    if not row.get("engineer"):
        return values, None
    responded = response_detail(values, row.started_at)
    values["first_response_at"] = values["received_at"]  # the call's start: to_db(started_at)
    values["breached"] = max(values["breached"], int(responded["late"]))
    values["next_escalation_at"] = None
    return values, responded


def _ticket_events(
    ctx: CallImport,
    batch: Batch,
    ticket_id: int,
    call: NewCall,
    values: dict[str, Any],
    responded: dict[str, Any] | None,
) -> None:
    """created, phone_status, the call, accepted, responded: as the steps used to log them."""
    row, at = call.row, ctx.stamp
    assert row.started_at is not None
    created = {"ticket_number": values["ticket_number"], "status": call.status}
    batch.add("events", tickets.event_values(ticket_id, at, "desk", "created", created))
    status = {"why": call.why}
    batch.add("events", tickets.event_values(ticket_id, at, "desk", "phone_status", status))
    _call_rows(ctx, batch, ticket_id, row, values["received_at"])
    engineer = row.get("engineer")
    if values["call_id"]:
        accepted = {"call_id": values["call_id"]}
        event = tickets.event_values(ticket_id, at, engineer or "desk", "accepted", accepted)
        batch.add("events", event)
    if responded is not None:
        when = values["first_response_at"]
        batch.add("events", tickets.event_values(ticket_id, when, engineer, "responded", responded))


def _emergency_used(desk: Desk, who: Customer) -> str | None:
    c = who.contract
    if who.state != "current" or c is None or c.level != "emergency":
        return None
    return emergency_used_by(desk.db, c.customer_number, c.start, desk.tz, contract_end=c.end)


def _new_ticket(
    row: CallRow, who: Customer, status: str, to: list[str], verified: bool, linked: str | None
) -> tickets.NewTicket:
    assert row.started_at is not None and row.severity is not None
    level = who.contract.level if who.contract else None
    severity, why = shown_severity(row.severity, who.state, level)
    reasons = [f"stated by the hotline: {row.get('severity')}", *([why] if why else [])]
    email = row.get("caller_email").lower()
    return tickets.NewTicket(
        channel="phone",
        received_at=row.started_at,
        severity=severity,
        subject=row.get("summary") or DEFAULT_SUBJECT,
        requester=email,
        requester_name=row.get("caller_name"),
        customer_number=who.number,
        contract_level=who.contract.level if who.contract else None,
        contract_state=who.state,
        match_basis=who.basis,
        match_reason=who.reason,
        verified_sender=verified,  # the caller's address is a registered contact
        stated_severity=row.severity,
        severity_reasons=reasons,
        missing_info=[],
        language=language_of(to, who.contract),
        status=status,
        linked_ticket=linked,
    )


def _confirm(ctx: CallImport, batch: Batch, ticket: dict[str, Any], call: NewCall) -> int:
    """Queue the confirmation mail with the batch's rows; returns the outbox id."""
    row, who, to, settings = call.row, call.who, call.to, ctx.desk.settings
    verified = bool(who.number) and all(ctx.index.is_contact(who.number or "", a) for a in to)
    body = confirmation_body(ctx, ticket, row, who, verified, call.used)
    ref = tickets.ref_of(ticket)
    mail = queued_mail(
        settings,
        kind="confirmation",
        to=to,
        subject=tagged_subject(settings, ref, row.get("summary") or DEFAULT_SUBJECT),
        body=body,
        at=ctx.at,
        ticket_id=ticket["id"],
        ticket_ref=ref,
    )
    return batch.queue_mail(mail)


def confirmation_body(
    ctx: CallImport,
    ticket: dict[str, Any],
    row: CallRow,
    who: Customer,
    verified: bool,
    used: str | None,
) -> str:
    """The mail text: greeting, the call, Call ID, clock, contract (to contacts only), closing."""
    lang, tz = ticket["language"], ctx.desk.tz
    assert row.started_at is not None
    when = row.started_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    blocks = [
        greeting(lang, row.get("caller_name")),
        render(
            lang,
            "phone_opened",
            when=when,
            ticket=ticket["ticket_number"],
            summary=row.get("summary"),
        ),
    ]
    if ticket["linked_ticket"]:
        blocks.append(
            render(lang, "linked", ticket=ticket["ticket_number"], old=ticket["linked_ticket"])
        )
    if ticket["call_id"]:
        blocks.append(render(lang, "accepted", call_id=ticket["call_id"]))
    clock = who.state == "current" and not used and not ticket["first_response_at"]
    due = db_to_local(ticket["first_response_due"], tz) if clock else None
    if due:
        # A log imported late (the phone system exports once a day) must not promise a
        # first response by a time already past (review finding).
        passed = from_db(ticket["first_response_due"]) <= ctx.at
        blocks.append(severity_line(lang, ticket["severity"], due, passed))
    if who.ambiguous:  # as the mail path asks (pipeline/reply.py): the ticket needs it
        blocks.append(render(lang, "ambiguous"))
    blocks.extend(ctx.blocks(lang, who, verified, used))
    return "\n\n".join(b.strip() for b in blocks if b.strip()) + "\n"


def _contract_blocks(
    desk: Desk, lang: str, who: Customer, verified: bool, used: str | None
) -> list[str]:
    s, c = desk.settings, who.contract
    # The contract's level and the call that used it go to its contacts alone (SPEC §4);
    # anyone else learns the ways to help that everyone learns.
    if used and verified:
        return [
            render(
                lang,
                "emergency_used",
                used=used,
                form=s.desk.emergency_form_url,
                hotline=s.desk.hotline_phone,
            )
        ]
    if who.ambiguous:  # asked which customer it is: the answer says whether one is current
        return []
    if who.state == "current" and c is not None and not used:
        if not verified:
            return []
        return [render(lang, "contract", level=c.level, customer=c.customer_number, end=c.end)]
    form, hotline = s.desk.emergency_form_url, s.desk.hotline_phone
    if who.state == "expired" and c is not None and verified:
        # As the mail's reply (pipeline/reply.py): the expired contract named, then what
        # to do until renewal, not "no contract could be matched" after it.
        return [
            render(lang, "expired", customer=c.customer_number, end=c.end),
            render(lang, "expired_help", form=form, hotline=hotline),
        ]
    return [render(lang, "phone_no_contract", form=form, hotline=hotline)]
