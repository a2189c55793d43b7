"""A customer's mail on an existing ticket: append, re-check, reopen or open a linked ticket.

Also the mail that names a ticket its sender does not belong to: a ticket of their own,
linked to it (:func:`open_beside`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from sepdesk.instants import from_db, to_db
from sepdesk.pipeline.answer import answer_customer, notify_team
from sepdesk.pipeline.classify import (
    Understanding,
    bounded,
    own_text,
    severity_raised_by,
    telling_language,
    understand,
    without_signature,
)
from sepdesk.pipeline.customer import CustomerFacts, facts_for, facts_for_number, local_day
from sepdesk.pipeline.customers import contract_state
from sepdesk.pipeline.engineer import unverified_notice
from sepdesk.pipeline.opening import (
    REPLY_KINDS,
    emergency_used,
    open_from_mail,
    unverified_emergency,
    usable_reply_to,
)
from sepdesk.pipeline.parse import unreadable
from sepdesk.pipeline.repeats import UNVERIFIED, said_before
from sepdesk.pipeline.staff import auth_failure
from sepdesk.pipeline.work import Work
from sepdesk.sla.deadlines import due_change, reopen_clock, restart_clock
from sepdesk.tickets import store as tickets
from sepdesk.tickets.acceptance import assign_call_id, decide_status, shown_severity
from sepdesk.tickets.actions import active_status, opens_linked, set_severity


class _Texts(NamedTuple):
    """What the customer wrote on a ticket, quoted history removed (see _customer_texts)."""

    written: str  # as written, this mail included: to match the customer
    asked: str  # each mail without its signature, this mail included: to understand
    asked_before: str  # the same without this mail: what a raise is measured against


def _customer_texts(work: Work, ticket: dict[str, Any]) -> _Texts:
    """Everything the customer wrote on this ticket, quoted history removed, plus this mail:
    as written (to match the customer: a signature names the number) and without each
    mail's signature (to understand: cut from the joined text, the first signature's
    separator would take every later mail with it). This mail is stored on the ticket
    already: read from the database, it came twice."""
    bodies = [
        own_text(r["body"])
        for r in work.desk.db.query(
            "SELECT body FROM messages WHERE ticket_id = ? AND direction = 'in' AND kind = ''"
            " AND coalesce(intake_id, -1) != ? ORDER BY at, id",
            [ticket["id"], work.intake_id],
        )
    ]
    asked = [*map(without_signature, bodies)]
    this = own_text(work.parsed.text)
    return _Texts(
        "\n\n".join([*bodies, this]),
        "\n\n".join([*asked, without_signature(this)]),
        "\n\n".join(asked),
    )


def _store(work: Work, ticket: dict[str, Any], kind: str = "") -> None:
    work.store_on(ticket, "in", kind)


def _answer_here(work: Work, ticket: dict[str, Any]) -> None:
    """Point the ticket's mail to the customer at where this mail asks to be answered: its
    usable Reply-To, else its From (kept as '' when that is the requester). The answer to
    it and later relays and notices go there; the first mail's Reply-To, kept for the
    ticket's whole life, sent a customer's "please answer me" to a dead typo address
    (review finding). A desk, staff or automatic Reply-To is refused as at opening."""
    address = usable_reply_to(work) or work.parsed.from_addr
    if not address:
        return
    kept = "" if address == (ticket["requester"] or "").lower() else address
    if kept != (ticket["reply_to"] or "").lower():
        tickets.update(work.desk.db, ticket["id"], work.at, reply_to=kept)
        work.decide("reply_to", f"answers now go to {address}")


def _follow_language(work: Work, ticket: dict[str, Any]) -> None:
    """Answer in the language of this mail's own text, where it is long enough to tell,
    from now on (SPEC §3 ``language``: the sender's own text): a customer who switched to
    German, or an English colleague on a German ticket, was answered in the first mail's
    language for the ticket's whole life (review finding)."""
    said = telling_language(own_text(bounded(work.parsed.text)))
    if said and said != ticket["language"]:
        tickets.update(work.desk.db, ticket["id"], work.at, language=said)
        work.decide("language", f"answers now in {said}: the language of this mail")


def _refresh_customer(work: Work, ticket: dict[str, Any], text: str) -> CustomerFacts:
    """The customer of a ticket that has none yet, from what the customer wrote.

    This mail first: it may answer the acknowledgement's question which of two customer
    numbers is meant, which the whole conversation (naming both) cannot settle.
    Only who the customer is goes onto the ticket here; the contract (level, state) is
    _recheck's to record: _renewed must see the state the request had, or a customer
    who bought a first contract since was timed from before it existed (review finding).
    """
    if ticket["customer_number"]:
        return facts_for_number(work.desk, ticket["customer_number"], work.received_at)
    cf = None
    for subject, where in (
        (work.parsed.subject, own_text(work.parsed.text)),
        (ticket["subject"], text),
    ):
        cf = facts_for(
            work.desk, subject=subject, text=where, sender=ticket["requester"], at=work.received_at
        )
        if cf.match.customer_number:
            break
    assert cf is not None
    if cf.match.customer_number:
        tickets.update(
            work.desk.db,
            ticket["id"],
            work.at,
            customer_number=cf.match.customer_number,
            match_basis=cf.match.basis,
            match_reason=cf.match.reason,
            verified_sender=int(cf.match.verified_sender),
        )
        work.decide("customer", f"follow-up names the customer: {cf.match.reason}")
    return cf


def _renewed(ticket: dict[str, Any], cf: CustomerFacts) -> bool:
    """A request qualified only by a contract current as of this mail records that contract:
    its level gives the clock its terms (an expired customer who bought an Emergency Call
    is timed as one, not by the old contract's severity table), and its clock runs from
    this mail (see _recheck). One current when the request came keeps the terms of that
    day (SPEC §1)."""
    return cf.contract is not None and ticket["contract_state"] != "current"


def _covers_request(work: Work, ticket: dict[str, Any], cf: CustomerFacts) -> bool:
    """Whether ``cf``'s contract was current on the day the request was received (one
    bought that very day, imported after the request came, covers it)."""
    day = local_day(work.desk, from_db(ticket["received_at"]))
    return contract_state(cf.contract, day) == "current"


def _as_of_request(work: Work, ticket: dict[str, Any], cf: CustomerFacts) -> CustomerFacts:
    """The contract facts a follow-up is judged by: a contract current when the request
    came stays so (SPEC §1: support needs one "on the day the message is received"),
    also when it has ended by the follow-up; the request was judged then, and its clock
    runs. Judged as of the follow-up, the last day's request was made unqualified and
    its deadline dropped (review finding). It is the period current on the request's
    day, not a renewal current on the follow-up's: that one's terms and emergency
    incident are not the request's."""
    if ticket["contract_state"] != "current":
        return cf
    then = facts_for_number(work.desk, ticket["customer_number"], from_db(ticket["received_at"]))
    contract = then.contract if then.state == "current" else cf.contract
    return replace(cf, contract=contract, state="current")


def _recheck(
    work: Work,
    ticket: dict[str, Any],
    text: str,
    u: Understanding,
    cf: CustomerFacts,
    raised: bool = False,
    reopened: bool = False,
) -> None:
    """Re-check the request with the new text (``cf``: its customer, see _refresh_customer;
    ``raised``: this mail raised its severity; ``reopened``: it reopened the solved
    request); accept it when it became complete."""
    desk = work.desk
    # Only this mail's attachments are at hand: what was given before stays given.
    before = json.loads(ticket["missing_info"])
    missing = tuple(m for m in u.missing_info if m in before)
    was_needs_info = ticket["status"] == "needs-info"
    was_new = ticket["status"] == "new"
    cf = _as_of_request(work, ticket, cf)
    # An emergency contract's one incident may have gone to another call meanwhile.
    used = emergency_used(work, cf, ticket["id"])
    status, why = decide_status(
        contract_state=cf.state,
        missing=missing,
        ambiguous=bool(cf.match.ambiguous),
        emergency_used=bool(used),
        unverified_emergency=unverified_emergency(cf, bool(ticket["verified_sender"])),
    )
    clock = (
        {} if status != "unqualified" else {"first_response_due": None, "next_escalation_at": None}
    )
    renewed = _renewed(ticket, cf)
    contract = {"contract_level": cf.level, "contract_state": cf.state} if renewed else {}
    if renewed and cf.state == "current" and not _covers_request(work, ticket, cf):
        # The request had no current contract, and the new one began after it: this mail
        # is the first received under it, and the clock runs from here. From the
        # request's receipt it was breached before the contract began (review finding).
        contract["clock_from"] = to_db(work.received_at)
    tickets.update(
        desk.db,
        ticket["id"],
        work.at,
        missing_info=list(missing),
        status=status,
        versions=sorted(set(json.loads(ticket["versions"])) | set(u.versions)),
        **clock,
        **contract,
    )
    work.decide("recheck", why)
    if status == "accepted":  # the update above left call_id and received_at as they were
        assign_call_id(desk.db, ticket, desk.tz, work.at, "desk")
    if cf.state == "current" and status != "unqualified":
        # Dated, so that a new clock (a new contract) is logged: sla.asof undoes it before.
        restart_clock(desk, ticket["id"], work.at)
    elif clock and ticket["first_response_due"]:
        change = due_change(ticket["first_response_due"], None, ticket["clock_from"])
        tickets.add_event(desk.db, ticket["id"], work.at, "desk", "due_changed", change)
    ticket = tickets.get(desk.db, ticket["id"])
    # No new word for a request still without a contract (it was told), but for one
    # whose emergency incident another call took.
    kind = REPLY_KINDS[status] if status != "unqualified" or used else None
    # Nor for one still missing just what it was told is missing: an autoresponder
    # without loop headers ("Re: ...", quoting us) got the same list for each of its
    # replies. The question which of two customer numbers is meant is asked again, and a
    # raised severity is told (its new due; a Critical one, the hotline number: SPEC §1),
    # and so is a reopening: the customer of a solved request was told nothing of it
    # (review finding), and what is missing was asked before the solve.
    unchanged = was_needs_info and status == "needs-info" and missing == tuple(before)
    # An unreadable mail supplied nothing it could: it is asked for again, or the customer
    # believes the missing information sent (review finding).
    unchanged = unchanged and not raised and not reopened and not unreadable(work.parsed)
    if unchanged and not cf.match.ambiguous:
        work.decide("reply", f"no reply: still missing {', '.join(missing)}, as told")
        kind = None
    # Nor for one that still waits for an engineer's accept (unverified_emergency): it
    # was told its ticket number. No "reply" step: a reopened one is told it is open.
    if was_new and status == "new" and not raised:
        kind = None
    if kind:
        answer_customer(
            work,
            ticket,
            kind,
            cf,
            opened="reopened" if reopened else "followup",
            missing=missing,
            critical=(raised or reopened) and _clock_runs(ticket) and ticket["severity"] == 1,
            versions=u.versions,
            ambiguous=bool(cf.match.ambiguous),
            emergency_used_by=used,
        )
    work.ticket = ticket


def _record_supplied(work: Work, ticket: dict[str, Any], u: Understanding) -> None:
    """The missing information a follow-up gave on a ticket accepted by hand before it
    came: it stayed listed as missing, on the ticket and in the team notice above the
    very text that gave it (review finding). No reply: the ticket is accepted."""
    before = json.loads(ticket["missing_info"] or "[]")
    still = [m for m in u.missing_info if m in before]
    if still == before:
        return
    tickets.update(work.desk.db, ticket["id"], work.at, missing_info=still)
    given = ", ".join(m for m in before if m not in still)
    work.decide("missing", f"now given: {given}")


def _tell_raise(work: Work, ticket: dict[str, Any]) -> None:
    """Answer a follow-up that raised an accepted (or waiting) ticket: its new severity and
    due, and the hotline number when it is now Critical (SPEC §1; README). Only a ticket
    still being re-checked was answered: this customer kept the old due (review finding)."""
    cf = facts_for_number(work.desk, ticket["customer_number"], work.received_at)
    kind = "call_accepted" if ticket["call_id"] else "ack"
    answer_customer(
        work,
        ticket,
        kind,
        _as_of_request(work, ticket, cf),
        opened="followup",
        critical=ticket["severity"] == 1,
    )


def _clock_runs(ticket: dict[str, Any]) -> bool:
    """Whether the ticket awaits its first response: a due set and nobody has answered."""
    return bool(ticket["first_response_due"]) and ticket["first_response_at"] is None


def _tell_reopened(work: Work, ticket: dict[str, Any]) -> None:
    """Tell the customer their solved ticket is open again (review finding: it was reopened
    in silence, and the reopened text never used), when this mail got no other answer;
    for a Critical one still awaiting its response, with the hotline (SPEC §1)."""
    cf = facts_for_number(work.desk, ticket["customer_number"], work.received_at)
    kind = "call_accepted" if ticket["call_id"] else "ack"
    critical = _clock_runs(ticket) and ticket["severity"] == 1
    answer_customer(
        work, ticket, kind, _as_of_request(work, ticket, cf), opened="reopened", critical=critical
    )


def _ask_again(work: Work, ticket: dict[str, Any]) -> None:
    """Ask for an unreadable follow-up again unencrypted (reply_facts says so), when it got
    no other answer: only a team notice went out, and the customer of a ticket waiting
    for information believed it sent (review finding)."""
    cf = facts_for_number(work.desk, ticket["customer_number"], work.received_at)
    kind = REPLY_KINDS.get(ticket["status"]) or ("call_accepted" if ticket["call_id"] else "ack")
    answer_customer(work, ticket, kind, _as_of_request(work, ticket, cf), opened="followup")


def _follow_up_event(status: str, before: dict[str, Any], after: dict[str, Any]) -> str:
    """The team notice's headline: what the follow-up changed that the team must see
    (review finding: a reopen and a raise to Critical read as any other follow-up)."""
    woken = {"solved": "reopened: it had been solved", "waiting": "it was waiting for the customer"}
    changes = [woken[status]] if status in woken else []
    if after["severity"] < before["severity"]:
        changes.append(f"severity raised from {before['severity']} to {after['severity']}")
    return "Customer follow-up" + (f" ({'; '.join(changes)})" if changes else "")


def _may_raise_severity(work: Work, ticket: dict[str, Any]) -> bool:
    """Only while nobody has answered (an answered ticket's clock has stopped, and its
    engineer reads the mail) and nobody has set the severity: an engineer's change or the
    hotline's word stands; and not when it is Critical already."""
    if ticket["first_response_at"] is not None or ticket["channel"] != "email":
        return False
    if ticket["severity"] <= 1:
        return False
    by_hand = "SELECT 1 FROM events WHERE ticket_id = ? AND kind = 'severity' LIMIT 1"
    return work.desk.db.execute(by_hand, [ticket["id"]]).fetchone() is None


def _raise_severity(
    work: Work,
    ticket: dict[str, Any],
    judged: tuple[int, Sequence[str]],
    cf: CustomerFacts | None,
) -> bool:
    """A follow-up that shows the request graver than it was judged raises its severity,
    never lowers it: "the production stands still now" on a Major is Critical, and its
    due is recomputed from receipt as for ``tickets severity`` (see _may_raise_severity).

    Judged under the contract the re-check (``cf``) records: a demo customer named in
    this very mail is shown no more than Minor (shown_severity)."""
    db = work.desk.db
    state, level = ticket["contract_state"], ticket["contract_level"]
    if cf is not None and _renewed(ticket, cf):
        state, level = cf.state, cf.level
    severity, why = shown_severity(judged[0], state, level)
    if severity >= ticket["severity"]:
        return False
    reasons = [*judged[1], *([why] if why else [])]
    set_severity(work.desk, ticket, severity, work.at, severity_reasons=reasons)
    detail = {"value": severity, "from": ticket["severity"], "by": "follow-up"}
    tickets.add_event(db, ticket["id"], work.at, "desk", "severity_raised", detail)
    work.decide("severity", f"raised {ticket['severity']} -> {severity}: {'; '.join(reasons)}")
    return True


def _unverified_staff(work: Work, ticket: dict[str, Any]) -> None:
    """A staff From that failed authentication: kept on the ticket, obeyed and relayed never.

    Treating it as a customer follow-up would still reopen, re-check and answer
    the real customer on a forger's word; so it goes on record, and the staff
    address is told it was not passed on: dropped in silence, an engineer's real
    answer (sent from an account the MX does not sign for) left the customer
    unanswered and the ticket breaching while the engineer thought it answered.
    """
    _store(work, ticket, kind=UNVERIFIED)
    sender = work.parsed.from_addr
    why = auth_failure(work.desk.settings, work.parsed)
    tickets.add_event(
        work.desk.db, ticket["id"], work.at, sender, "unverified_staff_mail", {"why": why}
    )
    told = unverified_notice(work, ticket, why)
    work.finish(
        "ignored",
        f"staff address {sender} failed authentication; stored on {ticket['ticket_number']}"
        + ("; sender told" if told else ""),
        ticket,
    )


def handle_follow_up(work: Work, ticket: dict[str, Any], how: str) -> None:
    desk = work.desk
    if work.automatic:
        _store(work, ticket, kind="auto")
        work.finish("ignored", f"{work.automatic}; stored on {ticket['ticket_number']}", ticket)
        return
    if desk.settings.is_staff(work.parsed.from_addr) and not work.staff:
        _unverified_staff(work, ticket)
        return
    status = ticket["status"]
    if opens_linked(desk, ticket, work.received_at):
        new = open_from_mail(work, linked_from=ticket["ticket_number"], past=ticket)
        tickets.add_event(
            desk.db, ticket["id"], work.at, "desk", "linked", {"new": new["ticket_number"]}
        )
        work.finish(
            "new_ticket", f"{ticket['ticket_number']} is {status}; opened linked ticket", new
        )
        return
    _store(work, ticket)
    _answer_here(work, ticket)
    _follow_language(work, ticket)
    before = ticket
    # Reopened or woken, a request goes back to what it was (still missing information,
    # still without a contract), and this mail is checked as any other follow-up.
    if status == "solved":
        # The new clock runs from this mail's receipt (SPEC §1), not from when it was
        # processed: a backlog after downtime, a replay, put its due days late (review).
        clock = reopen_clock(ticket, work.received_at)
        tickets.update(
            desk.db, ticket["id"], work.at, status=active_status(ticket), solved_at=None, **clock
        )
        if clock:
            restart_clock(desk, ticket["id"], work.at)
        tickets.add_event(desk.db, ticket["id"], work.at, work.parsed.from_addr, "reopened", {})
        work.decide("reopen", f"reply within {desk.settings.desk.reopen_days} days of solving")
    elif status == "waiting":
        tickets.update(desk.db, ticket["id"], work.at, status=active_status(ticket))
        tickets.add_event(desk.db, ticket["id"], work.at, work.parsed.from_addr, "woken", {})
    ticket = tickets.get(desk.db, ticket["id"])
    recheck = ticket["status"] in ("needs-info", "unqualified", "new")
    # Accepted by an engineer while still missing something: what comes now is recorded.
    fill = not recheck and bool(json.loads(ticket["missing_info"] or "[]"))
    raise_ok = _may_raise_severity(work, ticket)
    if recheck or raise_ok or fill:  # the conversation read again only where it can matter
        texts = _customer_texts(work, ticket)
        text, asked = texts.written, texts.asked
        read = recheck or fill
        u = understand(ticket["subject"], asked, work.parsed.attachments) if read else None
        cf = _refresh_customer(work, ticket, text) if recheck else None
        ticket = tickets.get(desk.db, ticket["id"])
        subject = ticket["subject"]
        judged = severity_raised_by(subject, texts.asked_before, asked) if raise_ok else None
        raised = judged is not None and _raise_severity(work, ticket, judged, cf)
        if raised:  # first: the re-check's reply shows it
            ticket = tickets.get(desk.db, ticket["id"])
        if u is not None and cf is not None:
            _recheck(work, ticket, text, u, cf, raised, reopened=status == "solved")
            ticket = tickets.get(desk.db, ticket["id"])
        elif raised:
            _tell_raise(work, ticket)
        if fill and u is not None:
            _record_supplied(work, ticket, u)
            ticket = tickets.get(desk.db, ticket["id"])
    answered = any(s["step"] == "reply" for s in work.steps)
    if status == "solved" and not answered:
        _tell_reopened(work, ticket)
    elif unreadable(work.parsed) and not answered:
        _ask_again(work, ticket)
    if said_before(work, ticket):
        work.decide("notice", "no team notice: the sender's same words again (an autoresponder)")
    else:
        notify_team(work, ticket, _follow_up_event(status, before, ticket))
    work.finish("follow_up", f"{how}: appended to {ticket['ticket_number']}", ticket)


def open_beside(work: Work, other: dict[str, Any]) -> None:
    """A ticket of the sender's own for a mail naming ``other``, which they do not belong to.

    Opened as any new mail is (their own contract matching, their own acknowledgement,
    which says nothing about ``other``) and linked to ``other``. Nothing of ``other``
    changes (status, missing information, Call ID, requester, messages); an event on
    each of the two tickets tells engineers about the link.
    """
    db, number = work.desk.db, other["ticket_number"]
    new = open_from_mail(work, linked_from=number, announce_link=False)
    why = f"mail from {work.parsed.from_addr or '?'}, who does not belong to {number}"
    tickets.add_event(
        db, other["id"], work.at, "desk", "linked", {"new": new["ticket_number"], "reason": why}
    )
    tickets.add_event(db, new["id"], work.at, "desk", "linked", {"to": number, "reason": why})
    work.finish(
        "new_ticket",
        f"opened {new['ticket_number']} ({new['status']}), linked to {number}:"
        " the sender does not belong to it",
        new,
    )
