"""The state one intake row carries through the pipeline, and what each step decided."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sepdesk.desk import Desk
from sepdesk.instants import to_db
from sepdesk.pipeline.bounces import BounceReport, read_report
from sepdesk.pipeline.classify import Understanding, understand
from sepdesk.pipeline.customer import CustomerFacts, facts_for, versioned_index
from sepdesk.pipeline.customers import ContractIndex
from sepdesk.pipeline.guards import automatic_reason
from sepdesk.pipeline.parse import ParsedMail, unreadable
from sepdesk.tickets import store as tickets

OUTCOMES = ("new_ticket", "follow_up", "ignored", "bounce_recorded", "quarantined", "duplicate")

# The severity of a request nothing of which could be read (encrypted, TNEF): Minor, so
# that its 12 h clock and escalations run until an engineer who reads it sets one. Judged
# from the empty text, it was Cosmetic "(no failure described)" (review finding).
UNJUDGED_SEVERITY = 3


@dataclass
class Work:
    desk: Desk
    intake_id: int
    raw: bytes
    received_at: datetime
    at: datetime  # when processing happens (events, outbox rows)
    source: str = ""  # the intake row's source: smtp, imap, file
    mail_from: str = ""  # the SMTP envelope sender as stored ('<>': the null reverse path)
    mail: ParsedMail | None = None
    parse_error: str | None = None  # set when the bytes could not be parsed at all
    _understanding: Understanding | None = None
    _customer: tuple[int, CustomerFacts] | None = None  # (contracts version, facts)
    # The contracts version and index as read once for the batch under its write lock
    # (runner.process_batch): no row changes contracts, nobody else writes meanwhile.
    contracts: tuple[int, ContractIndex] | None = None
    _loop_guard: tuple[str | None] | None = None  # (automatic_reason,) once worked out
    _bounce: BounceReport | None = None
    automatic: str | None = None  # why no automatic reply may go out, or None
    staff: str | None = None  # the engineer's address when this is authenticated staff mail
    thread: dict[str, Any] | None = None  # the ticket this mail belongs to, if any
    # A ticket the mail names whose people the sender is not among: never appended to,
    # only linked from the sender's own new ticket.
    foreign: dict[str, Any] | None = None
    ticket: dict[str, Any] | None = None  # the ticket this mail ended on
    # An earlier copy of this message (same Message-ID) is in quarantine: its entry is
    # released once this one has its outcome (runner._mark_done).
    quarantined_copy: bool = False
    # Tickets holding a reply to this very mail, processed before it (step_dedupe asks).
    answered_in: list[int] = field(default_factory=list)
    outcome: str | None = None
    reason: str = ""
    steps: list[dict[str, str]] = field(default_factory=list)

    @property
    def parsed(self) -> ParsedMail:
        assert self.mail is not None, "parse step has not run"
        return self.mail

    def understanding(self) -> Understanding:
        """What the mail says (severity, missing information, language), computed once.
        Of an unreadable mail only the subject was read: a failure it names counts, else
        the severity is not judged (UNJUDGED_SEVERITY)."""
        if self._understanding is None:
            m = self.parsed
            u = understand(m.subject, m.text, m.attachments)
            why = unreadable(m)
            if why and u.severity >= UNJUDGED_SEVERITY:
                reason = f"no readable text, the message is {why}: severity not judged"
                u = replace(u, severity=UNJUDGED_SEVERITY, severity_reasons=(reason,))
            self._understanding = u
        return self._understanding

    def bounce_report(self) -> BounceReport:
        """What a delivery status notification reports, read once: before the write lock
        (see runner._prepare), then used by the bounce step. Reading it parses the whole
        notice again (its parts, the returned headers): under the lock that was a tenth
        of the bench's write phase, for the one mail in 44 that is a bounce."""
        if self._bounce is None:
            self._bounce = read_report(self.parsed, self.raw)
        return self._bounce

    def automatic_reason(self) -> str | None:
        """Why no automatic reply may answer this mail (the loop guards), worked out once:
        before the write lock (see runner._prepare), then used by the loop_guard step."""
        if self._loop_guard is None:
            desk_addresses = self.desk.settings.desk_addresses()
            reason = automatic_reason(self.parsed, desk_addresses, self.envelope_from)
            self._loop_guard = (reason,)
        return self._loop_guard[0]

    @property
    def envelope_from(self) -> str | None:
        """The SMTP MAIL FROM, or None: only the SMTP receiver knows the envelope (other
        sources store none; their Return-Path header says the same)."""
        return self.mail_from if self.source == "smtp" else None

    def customer(self) -> CustomerFacts:
        """The customer and contract this mail names, by its text and sender.

        Worked out before the write lock (see runner._prepare) and kept while the
        contracts are unchanged: a contracts import in between means matching again.
        """
        version, index = self.contracts or versioned_index(self.desk)
        if self._customer is None or self._customer[0] != version:
            m = self.parsed
            facts = facts_for(
                self.desk,
                subject=m.subject,
                text=m.all_text(),
                sender=m.from_addr,
                at=self.received_at,
                index=index,
            )
            self._customer = (version, facts)
        return self._customer[1]

    def store_on(self, ticket: dict[str, Any], direction: str = "in", kind: str = "") -> int:
        """Keep this mail on ``ticket`` as a message (customer, engineer, auto or bounce)."""
        m = self.parsed
        values = tickets.message_values(
            ticket["id"],
            direction=direction,
            at=to_db(self.received_at),
            from_addr=m.from_addr,
            # Cc too: who a ticket's people addressed may answer in its thread.
            to_addrs=(*m.to, *(a for a in m.cc if a not in m.to)),
            message_id=m.message_id,
            in_reply_to=m.in_reply_to or None,
            subject=m.subject,
            body=m.text,
            kind=kind,
            intake_id=self.intake_id,
        )
        return tickets.add_message(self.desk.db, values)

    def decide(self, step: str, decision: str) -> None:
        self.steps.append({"step": step, "decision": decision})

    def finish(self, outcome: str, reason: str, ticket: dict[str, Any] | None = None) -> None:
        assert outcome in OUTCOMES
        self.outcome = outcome
        self.reason = reason
        if ticket is not None:
            self.ticket = ticket
