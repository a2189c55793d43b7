"""The one automatic mail a customer gets per incoming message, and the team notice.

Both are outbox rows in the pipeline's transaction. A customer reply is held
back (and the reason recorded in the intake row's steps) when the mail was
automatic or the sender has had ``max_auto_replies_per_day`` automatic replies in
the last 24 hours. A reply the daily limit holds back is also a ``reply_held``
event on the ticket and a WARNING (one per address and hour; INFO for the rest): the
customer got no answer (to a new request: no ticket number), which an engineer should
know; that automatic mail gets no answer is no news.
"""

from __future__ import annotations

import json
import logging
import shlex
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sepdesk.instants import db_to_local, from_db
from sepdesk.outbound.compose import header_safe, tagged_subject
from sepdesk.outbound.outbox import auto_replies_since, enqueue, queued_mail
from sepdesk.pipeline.classify import older_versions
from sepdesk.pipeline.customer import CustomerFacts, next_start
from sepdesk.pipeline.guards import is_automatic_address
from sepdesk.pipeline.parse import ParsedMail, attachment_list, unreadable
from sepdesk.pipeline.reply import ReplyFacts, reply_body
from sepdesk.pipeline.work import Work
from sepdesk.templates import render
from sepdesk.tickets import store as tickets
from sepdesk.tickets.store import recipient

log = logging.getLogger(__name__)


def may_answer(work: Work, to: str) -> str | None:
    """Why no automatic answer may go to ``to``, or None when it may."""
    if work.automatic:
        return f"no reply: {work.automatic}"
    if not to:
        given = work.parsed.header("from")
        if given and not work.parsed.from_addr:
            return f"no reply: the sender address {header_safe(given, 80)!r} is not a valid mailbox"
        return "no reply: no sender address"
    if is_automatic_address(to):
        return f"no reply: {to} is a mailer daemon, postmaster or no-reply address"
    if to in work.desk.settings.desk_addresses():
        return "no reply: the address is the desk's own"
    if work.desk.settings.is_staff(to):
        # Mail that was not taken for staff mail (no valid authentication) but names a
        # staff address as its sender or Reply-To: a forger would make the desk mail staff.
        return f"no reply: {to} is a staff address"
    return over_limit(work, to)


class OverLimit(str):
    """The reason of a reply held back by the daily limit (those are events as well)."""


def over_limit(work: Work, to: str) -> str | None:
    """Why ``to`` may get no more automatic replies today (the daily limit), or None."""
    limit = work.desk.settings.desk.max_auto_replies_per_day
    if auto_replies_since(work.desk.db, to, work.at) >= limit:
        return OverLimit(f"no reply: {to} already had {limit} automatic replies in 24 h")
    return None


def hold_reply(work: Work, ticket: dict[str, Any], kind: str, to: str, why: str) -> None:
    """Record a customer reply held back: in the steps; when by the daily limit, for people too."""
    work.decide("reply", why)
    if not isinstance(why, OverLimit):
        return
    detail = {"kind": kind, "to": to, "why": why}
    tickets.add_event(work.desk.db, ticket["id"], work.at, "desk", "reply_held", detail)
    # A sender over the limit is often a loop or a flood: one WARNING per address and
    # hour is news, one per message would drown the log (the events keep each one).
    level = logging.WARNING if _first_in_a_while(to, work.at) else logging.INFO
    log.log(
        level,
        "ticket %s: automatic %s to %s held back by max_auto_replies_per_day: %s",
        tickets.ref_of(ticket),
        kind,
        to,
        why,
    )


_WARNED: dict[str, datetime] = {}  # per process: address -> when its last WARNING was logged
WARN_EVERY = timedelta(hours=1)


def _first_in_a_while(address: str, at: datetime) -> bool:
    last = _WARNED.get(address)
    if last is not None and timedelta(0) <= at - last < WARN_EVERY:
        return False
    if len(_WARNED) >= 10_000:  # bounded: a flood of distinct senders
        _WARNED.clear()
    _WARNED[address] = at
    return True


def _greeted(work: Work, ticket: dict[str, Any]) -> str:
    """Whom the reply greets: the writer of the mail it answers. A colleague's follow-up is
    answered to the colleague (followup._answer_here), by their name, not the requester's."""
    if work.parsed.from_addr == (ticket["requester"] or "").lower():
        return str(ticket["requester_name"] or "")
    return work.parsed.from_name


def _next_start(work: Work, cf: CustomerFacts) -> str | None:
    """When the customer's next contract period starts, for a request none covers."""
    if cf.contract is None or cf.state == "current":
        return None
    start = next_start(work.desk, cf.contract.customer_number, work.received_at)
    return start.isoformat() if start else None


def reply_facts(
    work: Work,
    ticket: dict[str, Any],
    cf: CustomerFacts,
    versions: Sequence[str] = (),
    **kw: Any,
) -> ReplyFacts:
    """What the reply says; ``versions``: the SEP sesam versions the request names."""
    s = work.desk.settings
    contract = cf.contract
    due, answered = ticket["first_response_due"], ticket["first_response_at"] is not None
    return ReplyFacts(
        language=ticket["language"],
        ticket_number=ticket["ticket_number"],
        requester_name=_greeted(work, ticket),
        call_id=ticket["call_id"],
        severity=ticket["severity"],
        # Once answered, a first response is no longer to come (a reopened ticket's).
        due=None if answered else db_to_local(due, s.desk.timezone),
        # A follow-up that completes a request (or makes it Critical) late: the due counts
        # from the first mail and was over when this one came; it is no promise then.
        due_passed=bool(due) and from_db(due) <= work.received_at,
        contract_state=cf.state,
        contract_level=contract.level if contract else None,
        contract_end=contract.end.isoformat() if contract else None,
        contract_next=_next_start(work, cf),
        customer_number=contract.customer_number if contract else None,
        # SPEC §4: contract details only to a registered contact. The reply goes to the
        # Reply-To the customer gave, which need not be one when the sender is (a typo,
        # a private address): it is the recipient that counts, not the sender.
        verified=contract is not None and contract.has_contact(recipient(ticket)),
        hotline=s.desk.hotline_phone,
        form_url=s.desk.emergency_form_url,
        current_version=s.policy.current_version,
        old_versions=older_versions(versions, s.policy.current_version),
        desk_name=s.desk.name,
        unreadable=bool(unreadable(work.parsed)),
        **kw,
    )


def answer_customer(
    work: Work, ticket: dict[str, Any], kind: str, cf: CustomerFacts, **facts: Any
) -> int | None:
    """Queue the customer's reply unless a guard holds it back; returns the outbox id.

    ``facts`` are :func:`reply_facts`' keywords, gathered only for a reply that goes out
    (a sender over the daily limit, as in a mail loop, costs no composing).
    """
    to = recipient(ticket)
    held = may_answer(work, to)
    if held:
        hold_reply(work, ticket, kind, to, held)
        return None
    mail = work.parsed
    outbox_id = enqueue(
        work.desk.db,
        queued_mail(
            work.desk.settings,
            kind=kind,
            to=[to],
            subject=tagged_subject(
                work.desk.settings, tickets.ref_of(ticket), mail.subject or ticket["subject"]
            ),
            body=reply_body(reply_facts(work, ticket, cf, **facts)),
            at=work.at,
            ticket_id=ticket["id"],
            ticket_ref=tickets.ref_of(ticket),
            in_reply_to=mail.message_id if mail.has_message_id else None,
            references=mail.references,
        ),
    )
    work.decide("reply", f"{kind} queued to {to}")
    return outbox_id


def _notice_text(mail: ParsedMail, ticket: dict[str, Any]) -> str:
    """The customer's text for the team, or why there is none to show."""
    why = unreadable(mail)
    if why:
        return (
            f"(no readable text: the message is {why}; its raw mail: sepdesk tickets show"
            f" {ticket['ticket_number']} --raw --message {shlex.quote(mail.message_id)}"
            " --out FILE)"
        )
    return mail.text[:4000] or "(no text)"


def _accept_note(ticket: dict[str, Any]) -> str:
    """The team notice's line for a request left for an engineer to accept (see
    opening.unverified_emergency), else nothing: the notice reads as before."""
    waits = ticket["status"] == "new" and not ticket["verified_sender"]
    if not (waits and ticket["contract_level"] == "emergency"):
        return ""
    return (
        "\nAccept:     not automatic: the requester is no registered contact, and accepting"
        " uses the Emergency Call contract's one incident (#accept or tickets accept)"
    )


def notify_team(work: Work, ticket: dict[str, Any], event: str) -> None:
    """Announce a new ticket (or a customer follow-up) to the team address."""
    s = work.desk.settings
    if not s.desk.team_address:
        return
    ref = tickets.ref_of(ticket)
    body = render(
        "en",
        "team_notice",
        event=event,
        ticket=ticket["ticket_number"],
        call_id=ticket["call_id"] or "-",
        status=ticket["status"],
        customer=tickets.customer_label(work.desk.db, ticket) or "unknown",
        contract=f"{ticket['contract_level'] or '-'} ({ticket['contract_state']})",
        severity=ticket["severity"],
        stated=ticket["stated_severity"] or "-",
        reasons="; ".join(json.loads(ticket["severity_reasons"])) or "-",
        requester=ticket["requester"],
        verified="yes" if ticket["verified_sender"] else "no",
        due=db_to_local(ticket["first_response_due"], s.desk.timezone) or "-",
        missing=", ".join(json.loads(ticket["missing_info"])) or "-",
        attachments=attachment_list(work.parsed),
        text=_notice_text(work.parsed, ticket),
        accept_note=_accept_note(ticket),
    )
    enqueue(
        work.desk.db,
        queued_mail(
            s,
            kind="team_notice",
            to=[s.desk.team_address],
            subject=tagged_subject(s, ref, ticket["subject"]),
            body=body,
            at=work.at,
            ticket_id=ticket["id"],
            ticket_ref=ref,
            reply_to=s.desk.support_address,
            references=[work.parsed.message_id],
        ),
    )
    work.decide("team", f"team notice to {s.desk.team_address}")
