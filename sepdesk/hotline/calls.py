"""What one phone call does to the database: a new phone ticket, or a call appended to a ticket.

Everything here runs inside the importer's write transaction and never commits.

Policy choices (SPEC §1 is written for mail; these are the phone equivalents):

- Missing information is always ``()``: the hotline engineer took the details on
  the phone, so a phone ticket with a current contract is accepted at once.
- The customer is the row's ``customer_number`` when it is known, else the one
  customer whose contacts hold ``caller_email`` (address, then ``@domain``). Two
  or more customers for that address make the ticket ambiguous (``needs-info``).
  Phone numbers are not matched: the contracts carry no phone numbers yet.
- ``engineer`` set on a NEW ticket means a support engineer answered the call and
  logged it: the call itself is the first response, at ``started_at``, so the
  response clock stops at once. On an APPENDED call it is a response too
  (``record_response``; only the first one stops the clock).
- The confirmation mail goes to ``caller_email``, failing that to the customer's
  registered full addresses (never to an ``@domain`` entry). Contract details
  (level, end) appear only when every recipient is a registered contact of the
  customer, so an unknown caller never learns them. Language: a recipient domain
  ending in ``.de``, ``.at`` or ``.ch`` gives German, anything else English.
- An appended call leaves the ticket's severity, status and customer as they are
  (the engineer changes those with ``tickets severity``/``accept``...).
- Demo contracts are shown as Minor, as for mail; the row's severity is kept as
  ``stated_severity``. An emergency contract whose one incident is used makes the
  call ``unqualified``, and the mail says which Call ID used it.
- Appended calls get no mail: the customer was on the phone with us, and the
  ticket's own conversation carries on by mail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sepdesk.desk import Desk
from sepdesk.hotline.csvrows import CallRow
from sepdesk.instants import db_to_local
from sepdesk.outbound.compose import tagged_subject
from sepdesk.outbound.outbox import enqueue
from sepdesk.pipeline.customers import ContractIndex, ContractView, contract_state
from sepdesk.sla.deadlines import record_response, restart_clock
from sepdesk.templates import render, table
from sepdesk.tickets import store as tickets
from sepdesk.tickets.acceptance import (
    assign_call_id,
    decide_status,
    emergency_used_by,
    shown_severity,
)

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


def find_customer(index: ContractIndex, row: CallRow, tz: str) -> Customer:
    """The customer of a call: a known customer number first, else the caller's address."""
    assert row.started_at is not None
    day = row.started_at.astimezone(ZoneInfo(tz)).date()
    stated = row.get("customer_number")
    if stated and index.get(stated):
        return _customer(index, stated, day, "number", f"customer {stated}: named by the hotline.")
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
    contract = index.get(number)
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


def _add_call(desk: Desk, ticket_id: int, row: CallRow, at: datetime, source: str) -> None:
    assert row.started_at is not None
    caller = row.get("caller_email") or row.get("caller_phone") or row.get("caller_name")
    tickets.add_message(
        desk.db,
        ticket_id,
        direction="in",
        at=row.started_at,
        from_addr=caller or "hotline",
        subject=row.get("summary"),
        body=call_note(row),
        kind="phone",
    )
    detail = {"call_uid": row.call_uid, "source_file": source}
    tickets.add_event(
        desk.db, ticket_id, at, row.get("engineer") or "hotline", "phone_call", detail
    )


def append_call(
    desk: Desk, ticket: dict[str, Any], row: CallRow, at: datetime, source: str
) -> dict[str, Any]:
    """Log the call on an existing ticket; with an engineer it counts as a response."""
    assert row.started_at is not None
    _add_call(desk, ticket["id"], row, at, source)
    if row.get("engineer"):
        record_response(desk.db, ticket["id"], row.started_at, row.get("engineer"))
    return tickets.get(desk.db, ticket["id"])


def open_ticket(
    desk: Desk, index: ContractIndex, row: CallRow, at: datetime, source: str
) -> dict[str, Any]:
    """Create the phone ticket, accept it when the contract is current, start its clock, confirm."""
    assert row.started_at is not None and row.severity is not None
    who = find_customer(index, row, desk.tz)
    used = _emergency_used(desk, who)
    status, why = decide_status(
        contract_state=who.state,
        missing=(),
        ambiguous=bool(who.ambiguous),
        emergency_used=bool(used),
    )
    to = recipients(row, who.contract)
    verified = bool(who.number) and index.is_contact(who.number or "", row.get("caller_email"))
    new = _new_ticket(row, who, status, to, verified)
    ticket = tickets.create(desk.db, new, desk.tz, at)
    tickets.add_event(desk.db, ticket["id"], at, "desk", "phone_status", {"why": why})
    _add_call(desk, ticket["id"], row, at, source)
    if status == "accepted":
        ticket = assign_call_id(desk.db, ticket, desk.tz, at, row.get("engineer") or "desk")
    if status in ("accepted", "needs-info") and who.state == "current":
        restart_clock(desk, ticket["id"])
    if row.get("engineer"):
        record_response(desk.db, ticket["id"], row.started_at, row.get("engineer"))
    ticket = tickets.get(desk.db, ticket["id"])
    if to:
        _confirm(desk, index, ticket, row, who, to, used, at)
    return ticket


def _emergency_used(desk: Desk, who: Customer) -> str | None:
    c = who.contract
    if who.state != "current" or c is None or c.level != "emergency":
        return None
    return emergency_used_by(desk.db, c.customer_number, c.start.isoformat())


def _new_ticket(
    row: CallRow, who: Customer, status: str, to: list[str], verified: bool
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
    )


def _confirm(
    desk: Desk,
    index: ContractIndex,
    ticket: dict[str, Any],
    row: CallRow,
    who: Customer,
    to: list[str],
    used: str | None,
    at: datetime,
) -> int:
    """Queue the confirmation mail in the caller's transaction; returns the outbox id."""
    verified = bool(who.number) and all(index.is_contact(who.number or "", a) for a in to)
    body = confirmation_body(desk, ticket, row, who, verified, used)
    ref = tickets.ref_of(ticket)
    return enqueue(
        desk.db,
        desk.settings,
        kind="confirmation",
        to=to,
        subject=tagged_subject(desk.settings, ref, row.get("summary") or DEFAULT_SUBJECT),
        body=body,
        at=at,
        ticket_id=ticket["id"],
        ticket_ref=ref,
    )


def confirmation_body(
    desk: Desk,
    ticket: dict[str, Any],
    row: CallRow,
    who: Customer,
    verified: bool,
    used: str | None,
) -> str:
    """The mail text: greeting, the call, Call ID, clock, contract (to contacts only), closing."""
    lang, s = ticket["language"], desk.settings
    assert row.started_at is not None
    when = row.started_at.astimezone(ZoneInfo(desk.tz)).strftime("%Y-%m-%d %H:%M")
    blocks = [
        render(lang, "greeting", name=row.get("caller_name")).replace(" ,", ","),
        render(
            lang,
            "phone_opened",
            when=when,
            ticket=ticket["ticket_number"],
            summary=row.get("summary"),
        ),
    ]
    if ticket["call_id"]:
        blocks.append(render(lang, "accepted", call_id=ticket["call_id"]))
    due = db_to_local(ticket["first_response_due"], desk.tz)
    if due and who.state == "current" and not used and not ticket["first_response_at"]:
        name = table(lang, "severities").get(str(ticket["severity"]), str(ticket["severity"]))
        blocks.append(render(lang, "severity", severity_name=name, due=due))
    blocks.extend(_contract_blocks(desk, lang, who, verified, used))
    blocks.append(render(lang, "closing", desk=s.desk.name))
    return "\n\n".join(b.strip() for b in blocks if b.strip()) + "\n"


def _contract_blocks(
    desk: Desk, lang: str, who: Customer, verified: bool, used: str | None
) -> list[str]:
    s, c = desk.settings, who.contract
    if used:
        return [render(lang, "emergency_used", used=used, form=s.desk.emergency_form_url)]
    if who.state == "current" and c is not None:
        if not verified:
            return []
        return [render(lang, "contract", level=c.level, customer=c.customer_number, end=c.end)]
    blocks = []
    if who.state == "expired" and c is not None and verified:
        blocks.append(render(lang, "expired", customer=c.customer_number, end=c.end))
    hotline = s.desk.hotline_phone
    blocks.append(
        render(lang, "phone_no_contract", form=s.desk.emergency_form_url, hotline=hotline)
    )
    return blocks
