"""A new conversation becomes a ticket: customer, understanding, status, Call ID, clock, answer."""

from __future__ import annotations

import json
from typing import Any

from sepdesk.outbound.compose import bare_subject
from sepdesk.pipeline.answer import answer_customer, notify_team
from sepdesk.pipeline.classify import Understanding, bounded, own_text, stated_severity
from sepdesk.pipeline.customer import CustomerFacts, contract_index, local_day
from sepdesk.pipeline.customers import CustomerMatch, contract_state
from sepdesk.pipeline.guards import is_automatic_address
from sepdesk.pipeline.work import Work
from sepdesk.sla.deadlines import start_clock
from sepdesk.tickets import store as tickets
from sepdesk.tickets.acceptance import (
    decide_status,
    emergency_used_by,
    log_accepted,
    new_call_id,
    shown_severity,
)

REPLY_KINDS = {
    "new": "ack",
    "accepted": "call_accepted",
    "needs-info": "needs_info",
    "unqualified": "no_contract",
}


def _severity(u: Understanding, cf: CustomerFacts) -> tuple[int, list[str]]:
    severity, why = shown_severity(u.severity, cf.state, cf.level)
    return severity, [*u.severity_reasons, *([why] if why else [])]


def emergency_used(work: Work, cf: CustomerFacts, ticket_id: int | None = None) -> str | None:
    """The Call ID that used the sender's emergency contract's one incident (another
    ticket than ``ticket_id``), or None: no such contract, or the incident is free."""
    if cf.state != "current" or cf.level != "emergency" or cf.contract is None:
        return None
    c = cf.contract
    return emergency_used_by(
        work.desk.db, c.customer_number, c.start, work.desk.tz, ticket_id, contract_end=c.end
    )


def unverified_emergency(cf: CustomerFacts, verified: bool) -> bool:
    """Whether a request would use the one paid incident of an Emergency Call contract
    for a sender who is no registered contact of it (``verified``: the ticket's sender
    is one). A customer number is easily quoted: a stranger's mail used up the
    customer's incident and the customer's own call was refused. Such a ticket waits for
    an engineer's accept (status new, no Call ID: the incident stays free until then)."""
    return cf.state == "current" and cf.level == "emergency" and not verified


def usable_reply_to(work: Work) -> str:
    """The mail's Reply-To as the desk may answer to it (kept on the ticket): '' for none.

    A mailer daemon, postmaster or no-reply address is never answered (SPEC §4 "No
    loops"): it is dropped, with the reason recorded, and replies go to the sender.
    """
    mail = work.parsed
    if not mail.reply_to and mail.header("reply-to"):
        work.decide("reply_to", "Reply-To holds no valid mailbox; not used")
    if not mail.reply_to or mail.reply_to == mail.from_addr:
        return ""
    if is_automatic_address(mail.reply_to):
        work.decide("reply_to", f"Reply-To {mail.reply_to} is an automatic address; not used")
        return ""
    # Nor the desk's own address or a staff one: kept, the desk never answered the
    # customer (its own address is never mailed) and engineers' replies had nowhere to go
    # (review finding).
    settings = work.desk.settings
    if mail.reply_to in settings.desk_addresses() or settings.is_staff(mail.reply_to):
        work.decide("reply_to", f"Reply-To {mail.reply_to} is the desk's own; not used")
        return ""
    return mail.reply_to


def _stated(work: Work, u: Understanding, linked: str | None) -> int | None:
    """The severity the sender claims. A reply to a closed ticket keeps that ticket's
    subject: a "Kritisch:" in it was the old request's claim, read from this mail's own
    text alone (review finding: "no production outage this time" was recorded as a
    stated Critical)."""
    old = tickets.find_opt(work.desk.db, linked) if linked else None
    if old is None or bare_subject(work.parsed.subject) != bare_subject(old["subject"]):
        return u.stated_severity
    return stated_severity(own_text(bounded(work.parsed.text)))


def _past_customer(work: Work, cf: CustomerFacts, past: dict[str, Any] | None) -> CustomerFacts:
    """The customer of a ticket opened by a reply to ``past``, the sender's own closed
    ticket: the customer this mail names, else ``past``'s, its contract judged on this
    mail's day. Judged from the reply alone, a customer who had given the number once
    (or a consultant Cc'd on the ticket) was told "no valid contract" and got no clock
    (review finding), where a follow-up a day earlier would have kept the customer."""
    number = past["customer_number"] if past else None
    if past is None or not number or cf.match.customer_number:
        return cf
    day = local_day(work.desk, work.received_at)
    contract = contract_index(work.desk).on_day(number, day)
    if contract is None:  # the contract has gone since (a re-import without it)
        return cf
    why = f"customer {number}: of {past['ticket_number']}, the closed ticket this mail answers."
    match = CustomerMatch(number, "number", why, contract.has_contact(work.parsed.from_addr))
    return CustomerFacts(match, contract, contract_state(contract, day))


def _past_missing(u: Understanding, past: dict[str, Any] | None) -> tuple[str, ...]:
    """What a request still lacks: of a reply to ``past`` (see _past_customer), only what
    ``past`` lacked too; the setup it gave was asked for again (review finding)."""
    if past is None:
        return u.missing_info
    before = json.loads(past["missing_info"] or "[]")
    return tuple(m for m in u.missing_info if m in before)


def _subject(work: Work, linked: str | None) -> str:
    """As the desk's own mails name it: no Re:/AW: and no tag of the ticket replied to (a
    linked ticket showed "AW: [SEP C-2026-00001] ..." in lists, escalations). A reply
    whose subject was the tag alone keeps the closed ticket's subject, not none."""
    subject = bare_subject(work.parsed.subject)
    old = tickets.find_opt(work.desk.db, linked) if linked and not subject else None
    return old["subject"] if old else subject


def _new_ticket(
    work: Work,
    cf: CustomerFacts,
    severity: int,
    reasons: list[str],
    status: str,
    linked: str | None,
    missing: tuple[str, ...],
) -> tickets.NewTicket:
    mail, u = work.parsed, work.understanding()
    return tickets.NewTicket(
        channel="email",
        received_at=work.received_at,
        severity=severity,
        subject=_subject(work, linked),
        requester=mail.from_addr,
        requester_name=mail.from_name,
        reply_to=usable_reply_to(work),
        customer_number=cf.match.customer_number,
        contract_level=cf.level,
        contract_state=cf.state,
        match_basis=cf.match.basis,
        match_reason=cf.match.reason,
        verified_sender=cf.match.verified_sender,
        stated_severity=_stated(work, u, linked),
        severity_reasons=reasons,
        missing_info=list(missing),
        language=u.language,
        versions=list(u.versions),
        operating_systems=list(u.operating_systems),
        status=status,
        linked_ticket=linked,
    )


def _insert(work: Work, new: tickets.NewTicket, cf: CustomerFacts) -> dict[str, Any]:
    """Write the ticket in its final state: number, Call ID when accepted, clock when it runs.

    One INSERT instead of creating, accepting and starting the clock one after the
    other; the events say the same (created, then accepted).
    """
    desk = work.desk
    row = tickets.new_row(desk.db, new, desk.tz, work.at)
    if new.status == "accepted":
        row["call_id"] = new_call_id(desk.db, row["received_at"], desk.tz)
    # A request left for an engineer to accept has its clock all the same: the
    # contract's reaction time holds for the engineer's look (SPEC: no deadline missed).
    if new.status in ("accepted", "needs-info", "new") and cf.state == "current":
        start_clock(desk, row)
    ticket = tickets.insert_new(desk.db, row, work.at)
    if ticket["call_id"]:
        log_accepted(desk.db, ticket["id"], ticket["call_id"], work.at, "desk")
    return ticket


def open_from_mail(
    work: Work,
    linked_from: str | None = None,
    announce_link: bool = True,
    past: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the ticket for this mail, queue its answer and team notice; returns the ticket.

    ``linked_from``: the ticket this one is linked to; ``announce_link``: whether the
    answer says so (the customer's own closed ticket), or is that of any new mail (a
    ticket the sender does not belong to: nothing about it goes to them); ``past``: that
    closed ticket when the sender belongs to it, whose customer and given information
    the new one keeps.
    """
    cf = _past_customer(work, work.customer(), past)
    work.decide("customer", f"{cf.match.basis}: {cf.match.reason}; contract {cf.state}")
    u = work.understanding()
    missing = _past_missing(u, past)
    severity, reasons = _severity(u, cf)
    used = emergency_used(work, cf)
    status, why = decide_status(
        contract_state=cf.state,
        missing=missing,
        ambiguous=bool(cf.match.ambiguous),
        emergency_used=used is not None,
        unverified_emergency=unverified_emergency(cf, cf.match.verified_sender),
    )
    work.decide("classify", f"severity {severity}, language {u.language}, {why}")
    ticket = _insert(
        work, _new_ticket(work, cf, severity, reasons, status, linked_from, missing), cf
    )
    work.store_on(ticket)
    answer_customer(
        work,
        ticket,
        REPLY_KINDS[status],
        cf,
        opened="linked" if linked_from and announce_link else "new",
        linked_from=linked_from if announce_link else None,
        missing=missing,
        critical=severity == 1,
        versions=u.versions,
        ambiguous=bool(cf.match.ambiguous),
        emergency_used_by=used,
    )
    notify_team(work, ticket, "New ticket")
    return ticket
