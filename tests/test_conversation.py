"""Conversations by mail (issue 6): threading, engineers' replies and commands, loops, bounces.

The end-to-end test runs the real SMTP receiver and a real SMTP sink as the
relay; processing is driven with explicit ``run_once`` calls, never sleeps.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import smtplib
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from pathlib import Path
from typing import Any

import pytest
import time_machine

from sepdesk.config import Settings
from sepdesk.contracts import import_csv
from sepdesk.daemon.workers import PipelineJob
from sepdesk.desk import Desk
from sepdesk.instants import db_to_local, from_db, to_db
from sepdesk.intake.files import ingest_file
from sepdesk.intake.smtp import IntakeHandler, start_receiver
from sepdesk.intake.store import store_raw
from sepdesk.outbound import sender
from sepdesk.outbound.outbox import raw_of
from sepdesk.pipeline import runner
from sepdesk.pipeline.conversation import belongs_to, names_a_thread, subject_refs
from sepdesk.pipeline.parse import parse_mail
from sepdesk.sla import timer
from sepdesk.sla.breach import ticket_breached
from sepdesk.sla.deadlines import first_response_due
from sepdesk.tickets import actions, notices
from sepdesk.tickets import store as tickets
from tests.conftest import CONTRACTS, MAILS, T0, make_settings
from tests.servers.smtp_sink import SmtpSink, smtp_sink  # noqa: F401  (fixture)

DESK = {
    "staff": ["@sep.example"],
    "team_address": "team@sep.example",
    "authserv_id": "mx.sep.example",
    "require_auth": True,
    "support_address": "support@sep.example",
}
AUTO_REPLIED = {"Auto-Submitted": "auto-replied"}
AUTH_OK = "mx.sep.example; dkim=pass header.d=sep.example; spf=pass smtp.mailfrom=sep.example"
CUSTOMER = "p.dekker@vandijk-logistiek.nl"  # a contact of a current business contract
ENGINEER = "anna.berg@sep.example"
REQUEST = """Hello,

Severity: Major

since the update to SEP sesam 5.1.0.4 the restore of our file server FS01 fails
with this error:
ERROR: STS-42 data store not readable
It occurs when we start the restore from the GUI. Server: SLES 15 SP5, SEP sesam
5.1.0.4, backup to a Si3 deduplication store on a Dell PowerVault ME5012.

Pieter Dekker
"""


def mail(
    sender_addr: str,
    subject: str,
    body: str,
    *,
    name: str = "",
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A raw mail and its Message-ID (without brackets)."""
    msg = EmailMessage()
    for key, value in (headers or {}).items():
        msg[key] = value
    msg["From"] = f"{name} <{sender_addr}>" if name else sender_addr
    msg["To"] = "support@sep.example"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0100"
    mid = make_msgid(domain=sender_addr.rpartition("@")[2])
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
        msg["References"] = f"<{in_reply_to}>"
    msg.set_content(body)
    return msg.as_bytes(), mid.strip("<>")


def engineer_mail(subject: str, body: str, **kw: Any) -> tuple[bytes, str]:
    headers = {"Authentication-Results": AUTH_OK, **kw.pop("headers", {})}
    return mail(ENGINEER, subject, body, name="Anna Berg", headers=headers, **kw)


def feed(desk: Desk, raw: bytes, at: datetime) -> runner.Result:
    """Store one raw mail received at ``at`` and process it at the same instant."""
    stored = store_raw(desk.db, source="file", raw=raw, received_at=at, mail_from="", rcpt_to=[])
    return runner.process(desk, stored.intake_id, at)


def outbox(desk: Desk, **where: Any) -> list[dict[str, Any]]:
    sql = "SELECT * FROM outbox" + (" WHERE " if where else "")
    sql += " AND ".join(f"{k} = ?" for k in where)
    rows = desk.db.query(sql + " ORDER BY id", list(where.values()))
    return [{**r, "raw": raw_of(desk.settings, r)} for r in rows]


def ticket(desk: Desk, ref: str) -> dict[str, Any]:
    return tickets.find(desk.db, ref)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk.open(make_settings(tmp_path, desk=DESK))
    import_csv(d.db, CONTRACTS, T0)
    yield d
    d.close()


def opened(desk: Desk, at: datetime = T0) -> tuple[dict[str, Any], str]:
    """A customer's new ticket and the Message-ID of the customer's mail."""
    raw, mid = mail(CUSTOMER, "Restore of FS01 fails", REQUEST, name="Pieter Dekker")
    result = feed(desk, raw, at)
    assert result.outcome == "new_ticket"
    assert result.ticket is not None
    return ticket(desk, result.ticket), mid


# --------------------------------------------------------------------------- end to end over SMTP


class Conversation:
    """The desk with its SMTP receiver and the sink as relay; one step per mail."""

    def __init__(self, settings: Settings, sink: SmtpSink, traveller: Any) -> None:
        self.settings, self.sink, self.traveller = settings, sink, traveller
        self.desk = Desk.open(settings)

    def send(self, raw: bytes, at: datetime) -> None:
        """Deliver over SMTP at ``at``, then run the pipeline and the sender at that instant."""
        self.traveller.move_to(at)
        with smtplib.SMTP(self.settings.smtp.host, self.settings.smtp.port, timeout=10) as c:
            c.sendmail("someone@example.org", ["support@sep.example"], raw)
        assert runner.run_once(self.desk, at) == 1
        sender.run_once(self.desk, at)
        assert not outbox(self.desk, state="queued"), "every mail reached the sink"

    def last_to(self, address: str) -> EmailMessage:
        received = self.sink.to(address)
        assert received, f"nothing reached {address}"
        return received[-1]


@pytest.fixture
def conversation(tmp_path: Path, smtp_sink: SmtpSink) -> Iterator[Conversation]:  # noqa: F811
    settings = make_settings(tmp_path, desk=DESK, relay=smtp_sink.relay_settings())
    handler = IntakeHandler(settings)
    controller = start_receiver(settings, handler)
    try:
        with time_machine.travel(T0, tick=True) as traveller:
            conv = Conversation(settings, smtp_sink, traveller)
            import_csv(conv.desk.db, CONTRACTS, T0)
            yield conv
            conv.desk.close()
    finally:
        controller.stop()
        handler.close()


def test_conversation_over_smtp_end_to_end(conversation: Conversation) -> None:
    c, desk = conversation, conversation.desk
    t1 = T0 + timedelta(hours=1)
    raw, customer_mid = mail(CUSTOMER, "Restore of FS01 fails", REQUEST, name="Pieter Dekker")
    c.send(raw, t1)

    ack = c.last_to(CUSTOMER)
    ref = subject_refs(ack["Subject"])[0]
    assert f"[SEP {ref}]" in ack["Subject"] and ack["Auto-Submitted"] == "auto-replied"
    assert parseaddr(ack["From"])[1] == "support@sep.example"
    notice = c.last_to("team@sep.example")
    assert notice["Reply-To"] == "support@sep.example" and ref in notice["Subject"]
    assert ticket(desk, ref)["first_response_at"] is None

    # The engineer answers the team notice; the quoted history stays with us.
    t2 = t1 + timedelta(minutes=40)
    body = (
        "Hello Mr Dekker,\n\nplease send us the sm_main log of the failed restore.\n\nAnna\n\n"
        "-----Original Message-----\nFrom: SEP Support <support@sep.example>\n"
        "Sent: Monday, 2 November 2026 10:00\n\n> secret internal notice text\n"
    )
    raw, _ = engineer_mail(f"RE: {notice['Subject']}", body, in_reply_to=notice["Message-ID"][1:-1])
    c.send(raw, t2)
    relay = c.last_to(CUSTOMER)
    assert relay["Subject"].startswith(f"[SEP {ref}] ")
    assert relay["From"] == '"Anna Berg (SEP Support)" <support@sep.example>'
    assert relay["Auto-Submitted"] == "no" and relay["In-Reply-To"] == f"<{customer_mid}>"
    text = relay.get_content()
    assert "sm_main log" in text and "Original Message" not in text and "secret" not in text
    t = ticket(desk, ref)
    assert t["first_response_at"] is not None
    assert abs(datetime.fromisoformat(t["first_response_at"]) - t2) < timedelta(seconds=5)
    [row] = outbox(desk, kind="relay")
    assert (row["state"], row["automatic"]) == ("sent", 0)
    directions = [m["direction"] for m in tickets.record(desk.db, t, desk.tz)["messages"]]
    assert directions.count("internal") >= 2  # the team notice and the engineer's mail

    # The customer follows up on the relay, by subject tag behind "AW:".
    t3 = t2 + timedelta(hours=1)
    raw, _ = mail(CUSTOMER, f"AW: {relay['Subject']}", "Log attached.\n\n> please send", name="P")
    c.send(raw, t3)
    assert desk.db.execute("SELECT outcome FROM intake ORDER BY id DESC").fetchone()[0] == (
        "follow_up"
    )
    assert ticket(desk, ref)["status"] != "solved"

    # #solve with a closing line: applied, relayed, audited as the engineer's action.
    t4 = t3 + timedelta(hours=1)
    raw, _ = engineer_mail(f"Re: [SEP {ref}] x", "#solve\n\nFixed in 5.1.0.5, please update.")
    c.send(raw, t4)
    solved = ticket(desk, ref)
    assert solved["status"] == "solved"
    assert "Fixed in 5.1.0.5" in c.last_to(CUSTOMER).get_content()
    events = desk.db.execute(
        "SELECT actor FROM events WHERE ticket_id = ? AND kind = 'solve'", [solved["id"]]
    ).fetchall()
    assert events == [(ENGINEER,)]

    # After reopen_days a reply opens a new ticket linked to the old one.
    t5 = t4 + timedelta(days=desk.settings.desk.reopen_days, hours=1)
    raw, _ = mail(CUSTOMER, f"Re: [SEP {ref}] x", "The restore fails again since today.")
    c.send(raw, t5)
    new_number = desk.db.execute("SELECT ticket_id FROM intake ORDER BY id DESC").fetchone()[0]
    new = tickets.get(desk.db, new_number)
    assert new["linked_ticket"] == solved["ticket_number"] and new["id"] != solved["id"]
    assert ticket(desk, ref)["status"] == "solved"


# --------------------------------------------------------------------------- follow-ups


@pytest.mark.parametrize("prefix", ["Re:", "AW: ", "aw:", "WG:", "Fwd:", "RE: AW:", "re:  fwd:"])
def test_subject_tag_behind_any_prefix_threads(desk: Desk, prefix: str) -> None:
    t, _ = opened(desk)
    ref = tickets.ref_of(t)
    spaced = ref.lower().replace("-", " - ", 1)  # "t - 2026-000001": spacing and case vary
    for subject in (f"{prefix} [SEP {ref}] Restore", f"{prefix} {spaced} restore"):
        raw, _ = mail(CUSTOMER, subject, "More details follow.")
        result = feed(desk, raw, T0 + timedelta(hours=1))
        assert result.ticket == t["ticket_number"], subject


def test_call_id_in_subject_threads(desk: Desk) -> None:
    t, _ = opened(desk)
    call = t["call_id"]
    assert call, "a complete request of a current contract is accepted at intake"
    raw, _ = mail(CUSTOMER, f"AW: Anfrage {call}", "Danke.")
    assert feed(desk, raw, T0 + timedelta(hours=1)).ticket == t["ticket_number"]


def test_an_identifier_in_the_subject_comes_before_in_reply_to(desk: Desk) -> None:
    """SPEC §2: threaded by the identifier in the subject, then by In-Reply-To/References."""
    first, _ = opened(desk)
    first_ack = outbox(desk, ticket_id=first["id"])[0]["message_id"]
    second, _ = opened(desk, T0 + timedelta(minutes=1))
    for ref in (second["ticket_number"], second["call_id"]):
        raw, _ = mail(CUSTOMER, f"Re: {ref}", "A detail.", in_reply_to=first_ack)
        result = feed(desk, raw, T0 + timedelta(hours=1))
        assert (result.outcome, result.ticket) == ("follow_up", second["ticket_number"]), ref
    raw, _ = mail(CUSTOMER, "Re: no identifier", "A detail.", in_reply_to=first_ack)
    assert feed(desk, raw, T0 + timedelta(hours=2)).ticket == first["ticket_number"]


def test_in_reply_to_and_references_against_seen_and_sent_ids(desk: Desk) -> None:
    t, customer_mid = opened(desk)
    sent = outbox(desk)[0]["message_id"]
    for parent in (customer_mid, sent):
        raw, _ = mail(CUSTOMER, "no tag here", "Another detail.", in_reply_to=parent)
        assert feed(desk, raw, T0 + timedelta(hours=1)).ticket == t["ticket_number"]
    raw, _ = mail(CUSTOMER, "no tag", "x", headers={"References": f"<a@b> <{sent}> <c@d>"})
    assert feed(desk, raw, T0 + timedelta(hours=2)).ticket == t["ticket_number"]


def test_follow_up_completes_needs_info_and_accepts(desk: Desk) -> None:
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["status"] == "needs-info" and t["call_id"] is None
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore fails", REQUEST)
    feed(desk, raw, T0 + timedelta(hours=1))
    t = ticket(desk, t["ticket_number"])
    assert t["status"] == "accepted" and t["call_id"]
    assert outbox(desk)[-2]["kind"] == "call_accepted"  # then the team notice
    assert t["call_id"] in outbox(desk)[-2]["subject"]


def test_a_request_completed_after_its_due_is_promised_no_time_gone_by(desk: Desk) -> None:
    """Review finding: the follow-up completing a request days later was answered "You will
    receive a first response ... by" the due of the first mail, days before."""
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore fails", REQUEST)
    feed(desk, raw, T0 + timedelta(days=3))
    [answer] = [r for r in outbox(desk)[-2:] if r["kind"] == "call_accepted"]
    due = ticket(desk, t["ticket_number"])["first_response_due"]
    assert from_db(due) < T0 + timedelta(days=3)
    assert "has already passed" in answer["body"]
    assert "You will receive a first response" not in answer["body"]
    # In time, it is the promise it was.
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
    t = ticket(desk, feed(desk, raw, T0 + timedelta(days=4)).ticket or "")
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore fails", REQUEST)
    feed(desk, raw, T0 + timedelta(days=4, minutes=30))
    [answer] = [r for r in outbox(desk)[-2:] if r["kind"] == "call_accepted"]
    assert "You will receive a first response" in answer["body"]


def test_follow_up_wakes_waiting(desk: Desk) -> None:
    t, _ = opened(desk)
    raw, _ = engineer_mail(f"Re: [SEP {t['ticket_number']}]", "#waiting\n")
    feed(desk, raw, T0 + timedelta(minutes=5))
    assert ticket(desk, t["ticket_number"])["status"] == "waiting"
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}]", "Here is the answer.")
    feed(desk, raw, T0 + timedelta(hours=1))
    assert ticket(desk, t["ticket_number"])["status"] in ("new", "accepted")


@pytest.mark.parametrize("command", ["#waiting", "#solve"])
def test_a_reply_to_a_waiting_or_solved_request_still_missing_information_needs_it(
    desk: Desk, command: str
) -> None:
    """SPEC §1: the ticket stays needs-info until a follow-up supplies what is missing;
    waiting for the customer, or solved and reopened by their reply, changes nothing of that."""
    t, _ = needs_info(desk)
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"Re: [SEP {number}]", f"{command}\n")[0], T0 + timedelta(minutes=5))
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}] Restore fails", "Any news?")
    assert feed(desk, raw, T0 + timedelta(hours=1)).outcome == "follow_up"
    after = ticket(desk, number)
    assert (after["status"], after["missing_info"]) == ("needs-info", t["missing_info"])
    # The next reply supplies it: accepted, and the one answer carries the Call ID.
    feed(desk, engineer_mail(f"Re: [SEP {number}]", f"{command}\n")[0], T0 + timedelta(hours=2))
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}] Restore fails", REQUEST)
    assert feed(desk, raw, T0 + timedelta(hours=3)).outcome == "follow_up"
    done = ticket(desk, number)
    assert done["status"] == "accepted" and done["call_id"] and done["missing_info"] == "[]"
    [answer] = [r for r in outbox(desk)[-2:] if r["kind"] != "team_notice"]
    assert answer["kind"] == "call_accepted" and done["call_id"] in answer["subject"]


def test_a_reply_naming_one_of_two_customer_numbers_settles_which(desk: Desk) -> None:
    """The acknowledgement of a mail naming two customers asks which one; the answer
    settles it (SPEC §1: needs-info until a follow-up supplies what was missing)."""
    consultant = "k.meyer@consulting.example"  # a contact of neither
    both = REQUEST.replace(
        "Severity: Major", "Severity: Major\n\nKundennummer 104217 oder Kundennummer 131462?"
    )
    t = ticket(desk, feed(desk, mail(consultant, "Restore fails", both)[0], T0).ticket or "")
    assert (t["status"], t["customer_number"]) == ("needs-info", None)
    number = t["ticket_number"]
    raw, _ = mail(consultant, f"Re: [SEP {number}] Restore fails", "Still open? No number yet.")
    feed(desk, raw, T0 + timedelta(minutes=30))
    still = ticket(desk, number)
    assert (still["status"], still["customer_number"]) == ("needs-info", None)
    asked = outbox(desk)[-2]  # asked again, then the team notice
    text = email.message_from_bytes(asked["raw"], policy=email.policy.default).get_content()
    assert asked["kind"] == "needs_info" and "more than one customer number" in text
    # Not told it has no contract (review finding): the answer settles which one it is.
    assert "Emergency Call" not in text
    raw, _ = mail(consultant, f"Re: [SEP {number}] Restore fails", "It is Kundennummer 131462.")
    feed(desk, raw, T0 + timedelta(hours=1))
    after = ticket(desk, number)
    assert (after["status"], after["customer_number"]) == ("accepted", "131462")
    assert after["call_id"] and after["first_response_due"]
    assert outbox(desk)[-2]["kind"] == "call_accepted"


def test_a_reply_to_a_solved_request_without_a_contract_stays_unqualified(desk: Desk) -> None:
    raw, _ = mail(STRANGER, "Restore fails", REQUEST)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["status"] == "unqualified"
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"Re: [SEP {number}]", "#solve\n")[0], T0 + timedelta(minutes=5))
    raw, _ = mail(STRANGER, f"Re: [SEP {number}] Restore fails", "It fails again.")
    assert feed(desk, raw, T0 + timedelta(hours=1)).outcome == "follow_up"
    after = ticket(desk, number)
    assert (after["status"], after["call_id"], after["first_response_due"]) == (
        "unqualified",
        None,
        None,
    )


def test_a_follow_up_accepted_on_a_new_contract_is_timed_by_it(desk: Desk, tmp_path: Path) -> None:
    """Expired when they wrote, an Emergency Call bought since: the follow-up is accepted and
    timed as an emergency (1.5 h, 24x7). The ticket kept the expired business contract
    before, so its clock ran by the severity table (Major: 8 support hours)."""
    head = "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
    csv = tmp_path / "renewed.csv"
    # The sample contract's period (from 2026-02-01) ended before the request.
    csv.write_text(
        head + "131462,Van Dijk,business,2026-02-01,2026-10-31,@vandijk-logistiek.nl,,full,\n"
    )
    import_csv(desk.db, csv, T0)
    t, _ = opened(desk)
    assert (t["status"], t["contract_state"], t["first_response_due"]) == (
        "unqualified",
        "expired",
        None,
    )
    csv.write_text(
        head + "131462,Van Dijk,emergency,2026-11-02,2027-11-01,@vandijk-logistiek.nl,,full,\n"
    )
    import_csv(desk.db, csv, T0)
    raw, _ = mail(
        CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore", "We bought an Emergency Call."
    )
    assert feed(desk, raw, T0 + timedelta(minutes=20)).outcome == "follow_up"
    after = ticket(desk, t["ticket_number"])
    assert (after["status"], after["contract_level"], after["contract_state"]) == (
        "accepted",
        "emergency",
        "current",
    )
    assert after["first_response_due"] == to_db(T0 + timedelta(hours=1, minutes=30))


def test_reply_within_reopen_days_reopens_and_after_close_links(desk: Desk) -> None:
    t, _ = opened(desk)
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "#solve")[0], T0 + timedelta(hours=1))
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}]", "Still broken.")
    result = feed(desk, raw, T0 + timedelta(days=3))
    assert (result.outcome, result.ticket) == ("follow_up", number)
    assert ticket(desk, number)["status"] in ("new", "accepted")
    feed(desk, engineer_mail(f"[SEP {number}]", "#close")[0], T0 + timedelta(days=3, hours=1))
    result = feed(desk, mail(CUSTOMER, f"Re: [SEP {number}]", "Again.")[0], T0 + timedelta(days=4))
    assert result.outcome == "new_ticket" and result.ticket != number
    assert ticket(desk, result.ticket or "")["linked_ticket"] == number


HUBER = "m.huber@klinikum-nordheide.de"  # no registered contact; names customer 120994
CONSULTANT = "p.berater@it-consult-nord.de"  # nobody's contact; Cc'd by HUBER


@pytest.mark.parametrize("replier", [HUBER, CONSULTANT])
def test_a_reply_to_a_closed_ticket_keeps_its_customer(desk: Desk, replier: str) -> None:
    """Review: a customer who had named the number once (or a consultant they Cc'd)
    replied to the closed ticket; the linked ticket was unqualified ("no valid contract"),
    had no clock, and asked again for the setup the closed ticket had been given."""
    raw, _ = mail(
        HUBER,
        "Restore einzelner Dateien bricht ab",
        REQUEST.replace("Severity: Major", "Kunden-Nr. 120994, Severity: Major"),
        headers={"Cc": CONSULTANT},
    )
    old = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert (old["status"], old["customer_number"]) == ("accepted", "120994")
    number = old["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "#close")[0], T0 + timedelta(hours=1))
    subject = f"AW: [SEP {old['call_id']}] Restore einzelner Dateien bricht ab"
    raw, _ = mail(replier, subject, "The error is back: STS-42 data store not readable.")
    result = feed(desk, raw, T0 + timedelta(days=14))
    assert result.outcome == "new_ticket"
    new = ticket(desk, result.ticket or "")
    assert (new["linked_ticket"], new["customer_number"]) == (number, "120994")
    assert (new["contract_state"], new["status"], new["missing_info"]) == (
        "current",
        "accepted",
        "[]",
    )
    assert new["first_response_due"] and new["verified_sender"] == 0
    [answer] = [r for r in outbox(desk, ticket_id=new["id"]) if r["kind"] != "team_notice"]
    assert answer["kind"] == "call_accepted" and "no valid contract" not in answer["body"]


def test_an_addendum_to_a_linked_ticket_joins_it_though_the_subject_names_the_closed_one(
    desk: Desk,
) -> None:
    """Review: the customer's reply to a closed ticket opened a linked one; their addendum
    twenty minutes later (same subject naming the closed ticket, In-Reply-To and References
    their first reply) opened yet another linked ticket, with a second acknowledgement and
    team notice, the first left in needs-info."""
    t, _ = opened(desk)
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "#close")[0], T0 + timedelta(hours=1))
    subject = f"AW: [SEP {number}] Restore of FS01 fails"
    raw, mid = mail(CUSTOMER, subject, "The error is back: STS-42 data store not readable.")
    first = feed(desk, raw, T0 + timedelta(days=30))
    assert first.outcome == "new_ticket" and first.ticket != number
    linked = ticket(desk, first.ticket or "")
    assert linked["linked_ticket"] == number
    rows = len(outbox(desk))
    raw, _ = mail(CUSTOMER, subject, "Addendum: SEP sesam 5.1.0.4 on SLES 15.", in_reply_to=mid)
    result = feed(desk, raw, T0 + timedelta(days=30, minutes=20))
    assert (result.outcome, result.ticket) == ("follow_up", linked["ticket_number"])
    assert ticket(desk, number)["status"] == "closed"
    assert len(desk.db.execute("SELECT id FROM tickets").fetchall()) == 2
    assert [r["kind"] for r in outbox(desk)[rows:]].count("team_notice") == 1
    # Without such a reference the closed ticket's tag still opens a linked ticket.
    raw, _ = mail(CUSTOMER, subject, "Another thing entirely.")
    assert feed(desk, raw, T0 + timedelta(days=31)).ticket not in (number, first.ticket)


def test_a_linked_ticket_keeps_the_bare_subject_and_not_the_old_claim(desk: Desk) -> None:
    """Review: a reply to a closed ticket opened a linked one whose subject kept "AW:"
    and the old ticket's tag (in lists, in escalations "SLA warning: AW: Kritisch: ..."),
    and the old subject's "Kritisch" was recorded as the new request's stated severity."""
    raw, _ = mail(CUSTOMER, "Kritisch: Restore of FS01 fails", REQUEST)
    old = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert old["stated_severity"] == 1
    number = old["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "#close")[0], T0 + timedelta(hours=1))
    subject = f"AW: [SEP {tickets.ref_of(old)}] Kritisch: Restore of FS01 fails"
    raw, _ = mail(CUSTOMER, subject, "The error is back, no production outage this time.")
    new = ticket(desk, feed(desk, raw, T0 + timedelta(days=30)).ticket or "")
    assert new["linked_ticket"] == number
    assert new["subject"] == "Kritisch: Restore of FS01 fails"
    assert new["stated_severity"] is None
    # A new subject's claim is the new request's own.
    raw, _ = mail(CUSTOMER, f"AW: [SEP {number}] Critical: now all fails", "It fails again.")
    assert (
        ticket(desk, feed(desk, raw, T0 + timedelta(days=31)).ticket or "")["stated_severity"] == 1
    )
    # A reply whose subject is the tag alone keeps the old subject, rather than none.
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}]", "The restore fails once more.")
    bare = ticket(desk, feed(desk, raw, T0 + timedelta(days=32)).ticket or "")
    assert bare["linked_ticket"] == number and bare["subject"] == "Kritisch: Restore of FS01 fails"


def test_a_reopened_ticket_is_told_to_the_customer_and_the_team(desk: Desk) -> None:
    """Review finding: a reply reopening a solved ticket reached the team as any other
    follow-up, and the customer heard nothing (the reopened text was never used)."""
    t, _ = opened(desk)
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "Restart the service, please.")[0], T0)
    feed(desk, engineer_mail(f"[SEP {number}]", "#solve")[0], T0 + timedelta(hours=1))
    before = {r["id"] for r in outbox(desk)}
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}]", "The error is back since this morning.")
    assert feed(desk, raw, T0 + timedelta(days=2)).outcome == "follow_up"
    new = [r for r in outbox(desk) if r["id"] not in before]
    [answer] = [r for r in new if r["kind"] != "team_notice"]
    [notice] = [r for r in new if r["kind"] == "team_notice"]
    assert json.loads(answer["to_addrs"]) == [CUSTOMER]
    assert f"Your ticket {number} had been solved; we have reopened it" in answer["body"]
    # Answered once already: no first response is promised, or said to be late.
    assert "first response" not in answer["body"]
    assert notice["body"].startswith("Customer follow-up (reopened: it had been solved)")
    # The customer by number and name, as the escalations name them (review finding).
    number_name = tickets.customer_label(desk.db, t)
    assert f"Customer:   {number_name}, contract" in notice["body"] and " " in number_name
    # A follow-up that changes nothing is announced as before, and not answered.
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}]", "Here is the log as well.")
    feed(desk, raw, T0 + timedelta(days=2, hours=1))
    assert [r["kind"] for r in outbox(desk)[-1:]] == ["team_notice"]
    assert outbox(desk)[-1]["body"].startswith(f"Customer follow-up: {number}")


def test_the_linked_ticket_s_answer_does_not_call_a_solved_ticket_closed(desk: Desk) -> None:
    """After reopen_days a reply to a solved ticket opens a linked one; its answer said
    the earlier ticket "is closed" (review finding): it is solved, and completed."""
    t, _ = opened(desk)
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "#solve")[0], T0 + timedelta(hours=1))
    later = T0 + timedelta(days=desk.settings.desk.reopen_days + 1)
    result = feed(desk, mail(CUSTOMER, f"Re: [SEP {number}]", "It fails again.")[0], later)
    assert result.outcome == "new_ticket" and ticket(desk, number)["status"] == "solved"
    new = ticket(desk, result.ticket or "")
    [answer] = [r for r in outbox(desk, ticket_id=new["id"]) if r["kind"] != "team_notice"]
    body = email.message_from_bytes(answer["raw"], policy=email.policy.default)
    text = body.get_content() if not body.is_multipart() else body.get_body().get_content()
    assert f"Your earlier ticket {number} has been completed" in text
    assert "is closed" not in text


def test_a_reply_reopening_after_the_due_starts_the_clock_again(desk: Desk) -> None:
    """Solved in time without an answer, reopened by the customer after the due: a new
    response clock from the reply, not a breach back to the old due (black-box review)."""
    t, _ = opened(desk)
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "#solve")[0], T0 + timedelta(hours=1))
    reply_at = T0 + timedelta(days=3)
    feed(desk, mail(CUSTOMER, f"Re: [SEP {number}]", "Still broken.")[0], reply_at)
    after = ticket(desk, number)
    assert after["clock_from"] is not None
    assert from_db(after["first_response_due"]) > reply_at
    assert not ticket_breached(after, reply_at)


@pytest.mark.parametrize("reply_to", ["SEP Support <support@sep.example>", ENGINEER])
def test_a_reply_to_of_the_desk_or_staff_is_not_used(desk: Desk, reply_to: str) -> None:
    """The customer got no acknowledgement (the desk never mails itself) and engineers'
    answers had nowhere to go (review finding): such a Reply-To is dropped, as an
    automatic one is, and the desk answers From."""
    raw, _ = mail(CUSTOMER, "Restore fails", REQUEST, headers={"Reply-To": reply_to})
    number = feed(desk, raw, T0).ticket or ""
    t = ticket(desk, number)
    assert t["reply_to"] == ""
    [ack] = [r for r in outbox(desk, ticket_id=t["id"]) if r["kind"] != "team_notice"]
    assert json.loads(ack["to_addrs"]) == [CUSTOMER]
    answer = engineer_mail(f"Re: [SEP {number}] Restore fails", "Please send the log.")[0]
    feed(desk, answer, T0 + timedelta(hours=1))
    [relayed] = outbox(desk, kind="relay", ticket_id=t["id"])
    assert json.loads(relayed["to_addrs"]) == [CUSTOMER]


def test_two_autoresponders_without_loop_headers_stop_after_one_round(desk: Desk) -> None:
    """A customer's out-of-office and an engineer's, neither marking its replies, answered
    each other through the desk for as long as they ran (review finding): each follow-up
    a team notice, each staff reply relayed. The same words again from a sender within a
    day are stored and passed on to no one."""
    t, _ = opened(desk)
    number = t["ticket_number"]
    at = T0 + timedelta(minutes=1)
    for i in range(4):
        away = mail(CUSTOMER, f"Re: [SEP {number}] Restore", "Ich bin bis 2027 nicht im Buero.")
        assert feed(desk, away[0], at + timedelta(minutes=2 * i)).outcome == "follow_up"
        oof = engineer_mail(
            f"Re: [SEP {number}] Restore", "I am out of the office until 4 January."
        )
        assert feed(desk, oof[0], at + timedelta(minutes=2 * i + 1)).outcome == "follow_up"
    notices = [r for r in outbox(desk, ticket_id=t["id"]) if r["kind"] == "team_notice"]
    assert len(notices) == 2  # the new ticket's, the first follow-up's
    assert len(outbox(desk, kind="relay", ticket_id=t["id"])) == 1
    stored = desk.db.execute("SELECT count(*) FROM messages WHERE ticket_id = ?", [t["id"]])
    assert stored.fetchone()[0] >= 9  # every mail kept on the ticket
    # Other words are passed on again.
    news = mail(CUSTOMER, f"Re: [SEP {number}] Restore", "Back early: the restore still fails.")
    feed(desk, news[0], at + timedelta(minutes=20))
    assert len([r for r in outbox(desk, ticket_id=t["id"]) if r["kind"] == "team_notice"]) == 3


def test_an_engineer_repeating_their_words_is_told_once_that_they_were_held(desk: Desk) -> None:
    """Black-box review: "Any news on the restore?" sent again by the engineer hours
    later was dropped as an autoresponder's, and nobody knew. The desk cannot tell the
    two apart (see the test above), so it holds the repeat and tells its sender, once."""
    t, _ = opened(desk)
    subject, words = f"Re: [SEP {t['ticket_number']}] Restore", "Any news on the restore?"
    for hours in (1, 6.5, 7):
        feed(desk, engineer_mail(subject, words)[0], T0 + timedelta(hours=hours))
    assert len(outbox(desk, kind="relay")) == 1
    [error] = outbox(desk, kind="command_error")
    assert json.loads(error["to_addrs"]) == [ENGINEER]
    text = " ".join(
        email.message_from_bytes(error["raw"], policy=email.policy.default).get_content().split()
    )
    assert "it says the same as your earlier mail on this ticket" in text
    assert "change its words to send it again" in text


def test_a_critical_ticket_without_contract_accepted_by_hand_gets_due_and_hotline(
    desk: Desk,
) -> None:
    """An engineer accepts a Critical request that came without a contract: its clock
    runs, and the Call ID notice said neither the due nor the hotline (review finding)."""
    body = f"{GRAVER}\nThe restore of our file server fails, the older backups too.\nKim"
    t = ticket(
        desk, feed(desk, mail("kim@gmail.example", "Restore fails", body)[0], T0).ticket or ""
    )
    assert (t["status"], t["severity"]) == ("unqualified", 1)
    actions.apply(desk, t["ticket_number"], "accept", T0 + timedelta(minutes=5), "cli")
    done = ticket(desk, t["ticket_number"])
    assert done["first_response_due"]
    [notice] = outbox(desk, kind="call_accepted", ticket_id=done["id"])
    text = notice["raw"].decode().replace("=\r\n", "").replace("=\n", "")
    assert desk.settings.desk.hotline_phone in text
    assert db_to_local(done["first_response_due"], desk.settings.desk.timezone) in text


def test_a_mail_processed_after_a_reply_to_it_joins_the_reply_s_ticket(desk: Desk) -> None:
    """Out of order (a replay, a mail delayed on its way): the reply opened a ticket, and
    the mail it answers opened a second one, with a second acknowledgement (review
    finding). The desk had seen the mail's Message-ID, in the reply's In-Reply-To."""
    original, mid = mail(CUSTOMER, "Restore fails", REQUEST, name="Pieter Dekker")
    reply = mail(CUSTOMER, "Re: Restore fails", "Also the older backups fail.", in_reply_to=mid)
    first = feed(desk, reply[0], T0 + timedelta(minutes=20))
    assert first.outcome == "new_ticket"
    later = feed(desk, original, T0 + timedelta(minutes=21))
    assert (later.outcome, later.ticket) == ("follow_up", first.ticket)
    assert desk.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    steps = desk.db.execute("SELECT steps FROM intake ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert f"a reply to <{mid}> came first" in steps


def test_information_sent_after_an_engineer_accepted_is_recorded(desk: Desk) -> None:
    """Accepted by hand while still missing the hardware, then the customer names it: it
    stayed listed as missing, also in the team notice above that text (review finding)."""
    no_hardware = REQUEST.replace(
        ", backup to a Si3 deduplication store on a Dell PowerVault ME5012", ""
    )
    t = ticket(desk, feed(desk, mail(CUSTOMER, "Restore fails", no_hardware)[0], T0).ticket or "")
    assert (t["status"], json.loads(t["missing_info"])) == ("needs-info", ["hardware"])
    actions.apply(desk, t["ticket_number"], "accept", T0 + timedelta(minutes=5), "cli")
    given = "The backup target is a Quantum Scalar i3 tape library with LTO-8 drives."
    reply = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore fails", given)[0]
    assert feed(desk, reply, T0 + timedelta(minutes=30)).outcome == "follow_up"
    done = ticket(desk, t["ticket_number"])
    assert (done["status"], json.loads(done["missing_info"])) == ("accepted", [])
    [notice] = outbox(desk, kind="team_notice", ticket_id=done["id"])[-1:]
    assert "Missing:    -" in notice["raw"].decode()  # the template's spacing


def test_a_waiting_ticket_accepted_again_gets_no_second_call_id_notice(desk: Desk) -> None:
    """SPEC §2: the Call ID is mailed once. Accepted, set waiting, accepted again (by mail
    or by the CLI's action): a second notice went out, and the CLI's change had no event
    (review finding)."""
    t, _ = needs_info(desk)
    number = t["ticket_number"]
    at = T0 + timedelta(minutes=5)
    for i, body in enumerate(("#accept", "#waiting", "#accept", "#waiting")):
        feed(desk, engineer_mail(f"Re: [SEP {number}]", body)[0], at + timedelta(minutes=i))
    actions.apply(desk, number, "accept", at + timedelta(minutes=9), "cli")
    done = ticket(desk, number)
    assert done["status"] == "accepted" and done["call_id"]
    assert len(outbox(desk, kind="call_accepted", ticket_id=done["id"])) == 1
    kinds = [
        e["kind"]
        for e in desk.db.query("SELECT kind FROM events WHERE ticket_id = ?", [done["id"]])
    ]
    assert kinds[-1] == "accepted", kinds  # as the first acceptance was logged


def test_a_reopening_reply_processed_late_runs_its_clock_from_its_receipt(desk: Desk) -> None:
    """SPEC §1: the response time runs from the receipt. Processed ten days later (a
    backlog, a replay), the reopened ticket's due was counted from the processing."""
    t, _ = opened(desk)
    number = t["ticket_number"]
    feed(desk, engineer_mail(f"[SEP {number}]", "#solve")[0], T0 + timedelta(hours=1))
    reply_at = T0 + timedelta(days=3)
    raw = mail(CUSTOMER, f"Re: [SEP {number}]", "Still broken.")[0]
    stored = store_raw(desk.db, source="file", raw=raw, received_at=reply_at)
    assert runner.process(desk, stored.intake_id, reply_at + timedelta(days=10)).outcome == (
        "follow_up"
    )
    after = ticket(desk, number)
    assert after["clock_from"] == to_db(reply_at)
    due = from_db(after["first_response_due"])
    assert reply_at < due < reply_at + timedelta(days=3)


LAST_DAY = (  # a business contract whose last day is the request's (T0: 2026-11-02)
    "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
    "190001,Ende GmbH,business,2025-11-03,2026-11-02,it@ende.example,SL-1,full,no\n"
)
RENEWED = (  # the same customer's new contract, from two days later
    "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
    "190001,Ende GmbH,business,2026-11-04,2027-11-03,it@ende.example,SL-1,full,no\n"
)


def contracts_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_a_request_of_the_contracts_last_day_completed_after_it_is_accepted(
    desk: Desk, tmp_path: Path
) -> None:
    """SPEC §1: support needs a current contract on the day the message is received.
    Completed by a follow-up after the contract ended, the request was made unqualified
    and its deadline dropped (review finding)."""
    import_csv(desk.db, contracts_file(tmp_path, "last.csv", LAST_DAY), T0)
    raw, _ = mail("it@ende.example", "Backup broken", "Hello, our backup is broken.")
    number = feed(desk, raw, T0).ticket or ""
    first = ticket(desk, number)
    assert (first["status"], first["contract_state"]) == ("needs-info", "current")
    reply = mail("it@ende.example", f"Re: [SEP {number}] Backup broken", REQUEST)[0]
    assert feed(desk, reply, T0 + timedelta(days=1)).outcome == "follow_up"
    done = ticket(desk, number)
    assert (done["status"], done["contract_state"]) == ("accepted", "current")
    # Its clock runs from the request (the follow-up raised it to Major: a new due).
    assert done["call_id"] and done["clock_from"] is None and done["first_response_due"]
    assert outbox(desk, kind="call_accepted", ticket_id=done["id"])


def test_a_request_qualified_by_a_renewal_runs_its_clock_from_the_mail_that_brought_it(
    desk: Desk, tmp_path: Path
) -> None:
    """Received without a current contract, completed after the customer renewed: the
    clock runs from the first mail received under the new contract. From the request, it
    had passed before the contract began: breached the moment it was accepted."""
    import_csv(desk.db, contracts_file(tmp_path, "old.csv", LAST_DAY), T0)
    later = T0 + timedelta(days=1)  # the day after the old contract's last
    number = feed(desk, mail("it@ende.example", "Restore fails", REQUEST)[0], later).ticket or ""
    assert ticket(desk, number)["status"] == "unqualified"
    renewal_day = T0 + timedelta(days=2)
    import_csv(desk.db, contracts_file(tmp_path, "new.csv", RENEWED), renewal_day)
    reply_at = renewal_day + timedelta(hours=1)
    reply = mail("it@ende.example", f"Re: [SEP {number}] Restore fails", "We renewed today.")[0]
    assert feed(desk, reply, reply_at).outcome == "follow_up"
    done = ticket(desk, number)
    assert (done["status"], done["contract_state"]) == ("accepted", "current")
    assert done["clock_from"] == to_db(reply_at)
    assert from_db(done["first_response_due"]) > reply_at
    assert not ticket_breached(done, reply_at)


NEW_CUSTOMER = (  # a first contract, bought two days after the request
    "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
    "300001,Neukunde GmbH,business,2026-11-04,,it@neukunde.example,SL-9,full,\n"
)


def test_a_new_customer_s_request_is_timed_from_the_first_mail_under_the_contract(
    desk: Desk, tmp_path: Path
) -> None:
    """As a renewal, so a first contract: the customer was not on file when the request
    came, and the follow-up naming the new contract was timed from the request, before
    the contract existed: a due two days past, breached at once (review finding)."""
    request = REQUEST.replace("Hello,", "Hello, our customer number is 300001.")
    number = feed(desk, mail("it@neukunde.example", "Restore fails", request)[0], T0).ticket
    assert number and ticket(desk, number)["status"] == "unqualified"
    bought = T0 + timedelta(days=2)
    import_csv(desk.db, contracts_file(tmp_path, "new.csv", NEW_CUSTOMER), bought)
    reply_at = bought + timedelta(hours=1)
    reply = mail("it@neukunde.example", f"Re: [SEP {number}] Restore fails", "Bought: 300001.")
    assert feed(desk, reply[0], reply_at).outcome == "follow_up"
    done = ticket(desk, number)
    assert (done["status"], done["customer_number"], done["contract_state"]) == (
        "accepted",
        "300001",
        "current",
    )
    assert done["clock_from"] == to_db(reply_at)
    assert from_db(done["first_response_due"]) > reply_at
    assert not ticket_breached(done, reply_at)


# --------------------------------------------------------------------------- strangers


STRANGER = "intruder@evil.example"  # no contract, nobody of any ticket
OTHER_CUSTOMER = "t.weiss@mueller-maschinenbau.de"  # a contact of customer 104217
COLLEAGUE = "j.vos@vandijk-logistiek.nl"  # CUSTOMER's colleague: @vandijk-logistiek.nl contact


def needs_info(desk: Desk, **kw: Any) -> tuple[dict[str, Any], str]:
    """A needs-info ticket of CUSTOMER and the Message-ID of the desk's acknowledgement."""
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.", **kw)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["status"] == "needs-info" and t["call_id"] is None
    [ack] = [r for r in outbox(desk) if r["ticket_id"] == t["id"] and r["kind"] == "needs_info"]
    return t, ack["message_id"]


def messages_of(desk: Desk, t: dict[str, Any]) -> list[tuple[Any, ...]]:
    sql = "SELECT * FROM messages WHERE ticket_id = ? ORDER BY id"
    return [tuple(r) for r in desk.db.execute(sql, [t["id"]]).fetchall()]


def events_of(desk: Desk, t: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    sql = "SELECT detail FROM events WHERE ticket_id = ? AND kind = ? ORDER BY id"
    return [json.loads(r[0]) for r in desk.db.execute(sql, [t["id"], kind]).fetchall()]


@pytest.mark.parametrize(
    ("sender_addr", "how"),
    [
        (STRANGER, "subject"),  # the audit's case: a stranger names the ticket number
        (STRANGER, "references"),
        (OTHER_CUSTOMER, "subject"),  # "Same problem as T-..." from another customer
        (OTHER_CUSTOMER, "references"),  # replies to another customer's acknowledgement
    ],
)
def test_a_sender_outside_the_ticket_gets_a_linked_ticket_of_their_own(
    desk: Desk, sender_addr: str, how: str
) -> None:
    t, ack = needs_info(desk)
    number = t["ticket_number"]
    messages, rows = messages_of(desk, t), len(outbox(desk))
    # A complete request: appended, it would fill the missing information and accept.
    if how == "subject":
        raw, _ = mail(sender_addr, f"Same problem as {number}", REQUEST)
    else:
        raw, _ = mail(sender_addr, "Re: Restore fails", REQUEST, in_reply_to=ack)
    result = feed(desk, raw, T0 + timedelta(hours=1))

    assert result.outcome == "new_ticket" and result.ticket not in (None, number)
    assert "does not belong" in result.reason
    # Nothing of the named ticket changed: status, missing info, Call ID, requester, messages.
    assert ticket(desk, number) == t
    assert messages_of(desk, t) == messages
    assert [r for r in outbox(desk)[rows:] if r["ticket_id"] == t["id"]] == []
    assert not any(CUSTOMER in r["to_addrs"] for r in outbox(desk)[rows:])
    # The sender's own ticket: own contract matching, own acknowledgement, linked.
    new = ticket(desk, result.ticket or "")
    assert new["requester"] == sender_addr and new["linked_ticket"] == number
    own = "104217" if sender_addr == OTHER_CUSTOMER else None
    assert new["customer_number"] == own
    [reply] = [r for r in outbox(desk)[rows:] if r["kind"] != "team_notice"]
    assert json.loads(reply["to_addrs"]) == [sender_addr] and reply["ticket_id"] == new["id"]
    body = email.message_from_bytes(reply["raw"], policy=email.policy.default).get_content()
    assert new["ticket_number"] in body and "closed" not in body
    # Engineers see the link on both tickets.
    assert [e["new"] for e in events_of(desk, t, "linked")] == [new["ticket_number"]]
    assert [e["to"] for e in events_of(desk, new, "linked")] == [number]

    # Their reply to their own acknowledgement joins their own ticket, not the other one.
    raw, _ = mail(sender_addr, f"Re: {reply['subject']}", "More details.")
    later = feed(desk, raw, T0 + timedelta(hours=2))
    assert (later.outcome, later.ticket) == ("follow_up", new["ticket_number"])
    assert ticket(desk, number) == t


@pytest.mark.parametrize(
    "from_header",
    [
        f"{CUSTOMER} <mallory@evil.example>",  # mail clients show mallory's address
        f"<{CUSTOMER}>mallory@evil.example",
        f"{CUSTOMER} <=?utf-8?q?=C4=B1t?=@evil.example>",  # no valid address in the brackets
        f"{CUSTOMER} <mallory@evil.example>, other@evil.example",
    ],
)
def test_an_address_in_an_unquoted_display_name_is_not_the_sender(
    desk: Desk, from_header: str
) -> None:
    """Python's getaddresses (before 3.11.10) split such a From in two and the first was
    taken: a stranger passing DMARC for their own domain joined the customer's ticket."""
    t, _ = needs_info(desk)
    number, messages = t["ticket_number"], messages_of(desk, t)
    raw, _ = mail(STRANGER, f"Re: [SEP {number}] Restore fails", REQUEST)
    raw = raw.replace(f"From: {STRANGER}".encode(), f"From: {from_header}".encode())
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert result.outcome == "new_ticket" and result.ticket != number, result.reason
    assert ticket(desk, number) == t and messages_of(desk, t) == messages
    assert ticket(desk, result.ticket or "")["requester"] != CUSTOMER


@pytest.mark.parametrize(
    "from_header",
    [
        f"{CUSTOMER} <{CUSTOMER}>",  # what many mailers write when they know no name
        f"{CUSTOMER.upper()} <{CUSTOMER}>",
        f"Dekker, {CUSTOMER} <{CUSTOMER}>",
    ],
)
def test_an_unquoted_display_name_that_is_the_address_itself_is_the_sender(
    desk: Desk, from_header: str
) -> None:
    """Both addresses the old parser reads in such a From are one: no stranger hides in
    it, and the customer's reply threads as theirs instead of opening an unanswered ticket."""
    t, _ = needs_info(desk)
    number = t["ticket_number"]
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}] Restore fails", REQUEST)
    raw = raw.replace(f"From: {CUSTOMER}".encode(), f"From: {from_header}".encode())
    assert parse_mail(raw).from_addr == CUSTOMER
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert (result.outcome, result.ticket) == ("follow_up", number), result.reason


@pytest.mark.parametrize("domain", ["vandijk-logistiek.nl.", ".vandijk-logistiek.nl", "a..nl"])
def test_an_address_with_an_empty_domain_label_gets_a_ticket_but_no_reply(
    desk: Desk, domain: str
) -> None:
    """A reply went to "x@vandijk-logistiek.nl." with a To no mail reader can parse."""
    raw, _ = mail(f"p.dekker@{domain}", "Restore of FS01 fails", REQUEST)
    result = feed(desk, raw, T0)
    assert result.outcome == "new_ticket"
    assert [r["kind"] for r in outbox(desk)] == ["team_notice"]
    assert ticket(desk, result.ticket or "")["customer_number"] is None


def test_a_message_id_a_stranger_reused_still_threads_its_owners_reply(desk: Desk) -> None:
    """Every ticket holding a referenced Message-ID is asked, not only the newest."""
    t, mid = opened(desk)
    raw, _ = mail("mallory@evil.example", "Something else", "Other text entirely.")
    reused = raw.replace(raw.split(b"Message-ID: ")[1].split(b"\n")[0], f"<{mid}>".encode())
    theirs = feed(desk, reused, T0 + timedelta(minutes=1))
    assert theirs.outcome == "new_ticket" and theirs.ticket != t["ticket_number"]
    reply, _ = mail(CUSTOMER, "Re: Restore of FS01 fails", "More details.", in_reply_to=mid)
    result = feed(desk, reply, T0 + timedelta(minutes=2))
    assert (result.outcome, result.ticket) == ("follow_up", t["ticket_number"])


def test_someone_the_requester_put_in_cc_may_answer_in_the_thread(desk: Desk) -> None:
    """Re-audit: a consultant the customer copied got a ticket of their own on replying."""
    consultant = "k.meyer@consulting.example"  # no contact of the customer's contract
    raw, mid = mail(CUSTOMER, "Restore of FS01 fails", REQUEST, headers={"Cc": consultant})
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    reply, _ = mail(
        consultant, "Re: Restore of FS01 fails", "The log is attached.", in_reply_to=mid
    )
    result = feed(desk, reply, T0 + timedelta(minutes=5))
    assert (result.outcome, result.ticket) == ("follow_up", t["ticket_number"])
    stranger, _ = mail("x@elsewhere.example", "Re: Restore", "Me too.", in_reply_to=mid)
    assert feed(desk, stranger, T0 + timedelta(minutes=6)).ticket != t["ticket_number"]


def test_the_tickets_own_people_keep_threading(desk: Desk) -> None:
    t, ack = needs_info(desk, headers={"Reply-To": "backup-admins@vandijk-logistiek.nl"})
    number = t["ticket_number"]
    cases = [
        (CUSTOMER, f"Re: [SEP {number}] Restore fails", None),  # the requester
        ("backup-admins@vandijk-logistiek.nl", "Re: Restore fails", ack),  # its Reply-To
        (COLLEAGUE, f"AW: {number}", None),  # a colleague under the customer's @domain contact
    ]
    for i, (sender_addr, subject, parent) in enumerate(cases):
        raw, _ = mail(sender_addr, subject, "One more detail.", in_reply_to=parent)
        result = feed(desk, raw, T0 + timedelta(hours=i + 1))
        assert (result.outcome, result.ticket) == ("follow_up", number), sender_addr


def test_who_belongs_to_a_ticket(desk: Desk) -> None:
    t, _ = needs_info(desk)
    assert belongs_to(desk, t, CUSTOMER.upper()) == "the requester"
    assert belongs_to(desk, t, COLLEAGUE) == "a registered contact of customer 131462"
    for outsider in (STRANGER, OTHER_CUSTOMER, "p.dekker@vandijk-logistiek.nl.evil.example", ""):
        assert belongs_to(desk, t, outsider) is None, outsider
    # Someone who wrote in the ticket before (a call the hotline logged, say) belongs to it;
    # a bounce or an auto-reply stored on it makes nobody belong.
    for who, kind in (("caller@partner.example", "phone"), ("daemon@x.example", "bounce")):
        values = tickets.message_values(
            t["id"], direction="in", at="2026-11-02T08:00:00+00:00", from_addr=who, kind=kind
        )
        tickets.add_message(desk.db, values)
    assert belongs_to(desk, t, "Caller@Partner.example") == "wrote in this ticket before"
    assert belongs_to(desk, t, "daemon@x.example") is None


def test_a_reply_on_ones_own_ticket_that_names_another_joins_ones_own(desk: Desk) -> None:
    t, _ = needs_info(desk)
    raw, mid = mail(OTHER_CUSTOMER, "Restore of ERP fails", REQUEST)
    own = feed(desk, raw, T0 + timedelta(minutes=5)).ticket
    subject = f"Re: Restore of ERP fails (like {t['ticket_number']}?)"
    raw, _ = mail(OTHER_CUSTOMER, subject, "More details.", in_reply_to=mid)
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert (result.outcome, result.ticket) == ("follow_up", own)
    assert events_of(desk, t, "linked") == []


def test_an_automatic_mail_from_outside_the_ticket_is_not_stored_on_it(desk: Desk) -> None:
    t, _ = needs_info(desk)
    messages, rows = messages_of(desk, t), len(outbox(desk))
    raw, _ = mail(
        STRANGER,
        f"Automatic reply: [SEP {t['ticket_number']}] Restore fails",
        "I am out of the office.",
        headers=AUTO_REPLIED,
    )
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert (result.outcome, result.ticket) == ("ignored", None)
    assert messages_of(desk, t) == messages and ticket(desk, t["ticket_number"]) == t
    assert len(outbox(desk)) == rows
    assert desk.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1


def test_a_mail_from_the_desks_own_address_is_not_stored_on_the_ticket_it_names(
    tmp_path: Path,
) -> None:
    """The desk's address is in the To of every customer mail, so a forged From of it
    counted as "addressed in this ticket by its people": anyone could put text (stored as
    an auto-reply) on any ticket by naming it. (With the desk's domain among the staff,
    it is unverified staff mail, kept on the ticket by design.)"""
    desk = Desk.open(make_settings(tmp_path, desk={**DESK, "staff": [ENGINEER]}))
    import_csv(desk.db, CONTRACTS, T0)
    t, _ = needs_info(desk)
    messages, rows = messages_of(desk, t), len(outbox(desk))
    raw, _ = mail(
        "support@sep.example", f"Re: [SEP {t['ticket_number']}]", "Wire 1000 EUR to continue."
    )
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert (result.outcome, result.ticket) == ("ignored", None)
    assert messages_of(desk, t) == messages and len(outbox(desk)) == rows
    assert belongs_to(desk, t, "Support@sep.example") is None
    desk.close()


# --------------------------------------------------------------------------- engineers


def test_engineer_commands_are_applied_in_order_and_audited(desk: Desk) -> None:
    t, _ = opened(desk)
    body = "#severity 1\n#assign Bob@SEP.example #waiting\n\nWe are on it."
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + timedelta(hours=1))
    t2 = ticket(desk, t["ticket_number"])
    assert (t2["severity"], t2["assigned_to"], t2["status"]) == (1, "bob@sep.example", "waiting")
    kinds = desk.db.execute(
        "SELECT kind, actor FROM events WHERE ticket_id = ? AND actor = ? ORDER BY id",
        [t["id"], ENGINEER],
    ).fetchall()
    assert [k for k, _ in kinds] == ["severity", "assign", "waiting", "responded"]
    assert len(outbox(desk, kind="relay")) == 1


def test_assign_by_mail_outside_the_staff_is_a_command_error(desk: Desk) -> None:
    """#assign took any address, and SLA escalations then went to it (black-box review)."""
    t, _ = opened(desk)
    body = "#severity 1\n#assign somebody@gmail.example\n\nWe are on it."
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + timedelta(hours=1))
    after = ticket(desk, t["ticket_number"])
    assert (after["assigned_to"], after["severity"]) == (None, t["severity"])  # nothing applied
    assert outbox(desk, kind="relay") == []
    [error] = outbox(desk, kind="command_error")
    assert json.loads(error["to_addrs"]) == [ENGINEER]
    text = email.message_from_bytes(error["raw"], policy=email.policy.default).get_content()
    assert (
        f"{t['ticket_number']}: cannot assign to somebody@gmail.example: not in [desk] staff"
        in text
    )


@pytest.mark.parametrize(
    "history",
    [
        "> Restore of FS01 fails\n> INTERNAL-DETAIL",
        "Am 02.11.2026 um 09:00 schrieb Pieter Dekker <p.dekker@vandijk-logistiek.nl>:\n"
        "Restore fails",
        "On Mon, 2 Nov 2026 at 09:00, Pieter Dekker\n<p.dekker@vandijk-logistiek.nl> wrote:\nx",
        "-----Ursprüngliche Nachricht-----\nVon: SEP Support\nGesendet: Montag\nBetreff: x",
        "Von: SEP Support <support@sep.example>\nGesendet: Montag, 2. November 2026 09:05\n"
        "An: Anna Berg\nBetreff: [SEP T-2026-000001] Restore",
        "From: SEP Support <support@sep.example>\nSent: Monday, November 2, 2026 9:05 AM\n"
        "To: Anna Berg\nSubject: Restore",
        # The desk's team notice forwarded (Gmail), or quoted unmarked after an
        # attribution no history rule knows (re-audit: both reached the customer).
        "---------- Forwarded message ---------\nFrom: SEP Support <support@sep.example>\n"
        "Customer: 120994, contract business (current)",
        "Support Team <support@sep.example> schrieb am Mo., 9. Nov. 2026, 07:06:\n"
        "Customer: 120994, contract business (current)",
    ],
)
def test_relay_carries_no_quoted_history(desk: Desk, history: str) -> None:
    t, _ = opened(desk)
    notice = outbox(desk, kind="team_notice")[0]
    # Quoted lines go wherever they are; a history block takes everything below it.
    tail = "" if history.startswith(">") else "\nINTERNAL-DETAIL"
    body = f"Please update to 5.1.0.5.\n\nAnna\n\n{history}{tail}\n"
    # No tag in the subject: the reply threads by In-Reply-To to the team notice.
    raw, _ = engineer_mail("Re: your notice", body, in_reply_to=notice["message_id"])
    assert feed(desk, raw, T0 + timedelta(hours=1)).ticket == t["ticket_number"]
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert "Please update to 5.1.0.5." in text and "Anna" in text
    assert "INTERNAL-DETAIL" not in text and "Gesendet" not in text and "> " not in text
    assert "contract business" not in text


def test_a_reply_below_a_quote_is_relayed_without_attribution_or_separator(desk: Desk) -> None:
    """Black-box review: a plain-text reply written below the quoted team notice, whose
    attribution names the date after the sender, and signed above Outlook's separator
    and header block, reached the customer with both the attribution and the separator."""
    t, _ = opened(desk)
    body = (
        "SEP Support wrote on 02.11.2026 09:00:\n> New ticket: T-2026-000001\n"
        "> Customer: 120994, contract business (current)\n\n"
        "Which ONTAP version do you run?\n\nAnna\n\n________________________________\n"
        "From: SEP Support <support@sep.example>\nSent: Monday, November 2, 2026 9:00 AM\n"
        "To: team@sep.example\n\nWhy: INTERNAL-DETAIL\n"
    )
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + timedelta(hours=1))
    [relay] = outbox(desk, kind="relay")
    raw = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    text = raw.replace("\r\n", "\n")
    assert text.startswith("Which ONTAP version do you run?\n\nAnna\n\n--\n")
    for leaked in ("wrote on", "____", "INTERNAL-DETAIL", "contract business", "Sent:"):
        assert leaked not in text, leaked


HOUR = timedelta(hours=1)
NOTICE_QUOTE = (
    "> New ticket: T-2026-000001\n>\n> Customer: 120994, contract business (current)\n"
    "> INTERNAL-DETAIL\n"
)


@pytest.mark.parametrize(
    "body",
    [
        f"Am 02.11.26 um 10:05 schrieb SEP Support:\n{NOTICE_QUOTE}\nPlease send the log.\n\nAnna",
        "On Mon, Nov 2, 2026 at 10:05 AM SEP Support <support@sep.example> wrote:\n"
        f"{NOTICE_QUOTE}\nPlease send the log.\n\nAnna",
        "Am 02.11.26 um 10:05 schrieb SEP Support:\n> Customer: 120994\n> Restore fails\n\n"
        "Please send the log.\n\n> Please call me\n\nI call you at once.\n\nAnna",
    ],
)
def test_an_answer_below_or_between_the_quotes_is_relayed(desk: Desk, body: str) -> None:
    """Black-box review: a reply written under the quoted team notice (Thunderbird, Gmail)
    or between its lines reached no one, stopped no clock, and the engineer was not told:
    everything from the heading on was taken for history."""
    t, _ = opened(desk)
    result = feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + HOUR)
    assert result.reason.endswith(f"relayed to {CUSTOMER}")
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert text.startswith("Please send the log.") and "Anna" in text
    for leaked in ("schrieb", "wrote", "INTERNAL-DETAIL", "Customer:", "Please call me"):
        assert leaked not in text, leaked
    assert ("log.\r\n\r\nI call you at once." in text) == ("I call you" in body)
    assert from_db(ticket(desk, t["ticket_number"])["first_response_at"]) == T0 + HOUR


def test_an_html_answer_below_a_cited_quote_is_relayed(desk: Desk) -> None:
    t, _ = opened(desk)
    raw, _ = engineer_mail(f"Re: [SEP {t['ticket_number']}]", "x")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    message.set_content(
        '<div class="moz-cite-prefix">Am 02.11.26 um 10:05 schrieb SEP Support:<br></div>'
        '<blockquote type="cite">New ticket<br>INTERNAL-DETAIL</blockquote>'
        "<p>Please update to 5.1.0.5.</p><p>Anna</p>",
        subtype="html",
    )
    feed(desk, message.as_bytes(), T0 + HOUR)
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert text.startswith("Please update to 5.1.0.5.") and "INTERNAL-DETAIL" not in text


def test_a_command_below_the_quote_is_obeyed(desk: Desk) -> None:
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["status"] == "needs-info"
    body = "Am 02.11.26 um 10:05 schrieb SEP Support:\n> New ticket\n\n#accept\nWe are on it."
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + HOUR)
    t = ticket(desk, t["ticket_number"])
    assert t["status"] == "accepted" and t["call_id"]
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert text.startswith("We are on it.") and t["call_id"] in text and "#accept" not in text


def test_a_mail_with_nothing_to_relay_and_no_command_is_told_to_its_engineer(
    desk: Desk,
) -> None:
    """Review finding: an encrypted reply, or one with no words of the engineer's own,
    was recorded as "commands only, not relayed" with no command in it, and nobody knew."""
    t, _ = opened(desk)
    subject = f"Re: [SEP {t['ticket_number']}]"
    quoted = f"Am 02.11.26 um 10:05 schrieb SEP Support:\n{NOTICE_QUOTE}"
    encrypted = EmailMessage()
    encrypted["Authentication-Results"] = AUTH_OK
    encrypted["From"], encrypted["To"] = f"Anna Berg <{ENGINEER}>", "support@sep.example"
    encrypted["Subject"], encrypted["Message-ID"] = subject, make_msgid(domain="sep.example")
    encrypted.set_content(
        b"\x30\x80garbage",
        "application",
        "pkcs7-mime",
        params={"smime-type": "enveloped-data", "name": "smime.p7m"},
        filename="smime.p7m",
    )
    for i, (raw, why) in enumerate(
        [
            (engineer_mail(subject, quoted)[0], "no text of your own was found"),
            (encrypted.as_bytes(), "encrypted or signed as a whole (S/MIME)"),
        ]
    ):
        result = feed(desk, raw, T0 + timedelta(minutes=10 + i))
        assert "commands only" not in result.reason and result.reason.endswith("sender told")
        error = outbox(desk, kind="command_error")[i]
        assert json.loads(error["to_addrs"]) == [ENGINEER]
        body = email.message_from_bytes(error["raw"], policy=email.policy.default).get_content()
        assert why in " ".join(body.split())
    assert outbox(desk, kind="relay") == []
    assert ticket(desk, t["ticket_number"])["first_response_at"] is None


def test_a_line_naming_the_desk_address_is_no_heading(desk: Desk) -> None:
    """Black-box review: the answer was cut at "... an support@sep.example oder laden Sie
    sie hier hoch:", and the customer got only the greeting."""
    t, _ = opened(desk)
    body = (
        "Hallo Herr Dekker,\n\nbitte schicken Sie die Logs an support@sep.example oder laden"
        " Sie sie hier hoch:\nhttps://upload.sep.example/T\n\nDanach rufe ich Sie an.\n\nAnna"
    )
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + HOUR)
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert "https://upload.sep.example/T" in text and "Danach rufe ich Sie an." in text


@pytest.mark.parametrize("below", [NOTICE_QUOTE, "New ticket: T-2026-000001\nINTERNAL-DETAIL\n"])
def test_gmails_german_heading_wrapped_behind_the_verb_is_not_relayed(
    desk: Desk, below: str
) -> None:
    """Black-box review: "Am Di., 3. Nov. 2026 um 10:05 Uhr schrieb SEP Support <", its
    address wrapped onto the next line, ended the relay to the customer."""
    t, _ = opened(desk)
    body = (
        "Bitte spielen Sie Patch 5.1.0.5 ein.\n\nAnna\n\n"
        "Am Di., 3. Nov. 2026 um 10:05 Uhr schrieb SEP Support <\nsupport@sep.example>:\n\n"
    )
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body + below)[0], T0 + HOUR)
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert text.replace("\r\n", "\n").startswith(
        "Bitte spielen Sie Patch 5.1.0.5 ein.\n\nAnna\n\n--"
    )
    assert "schrieb" not in text and "INTERNAL-DETAIL" not in text


@pytest.mark.parametrize(("headers", "relayed"), [({}, True), (AUTO_REPLIED, False)])
def test_an_engineers_answer_under_an_automatic_subject_is_relayed(
    desk: Desk, headers: dict[str, str], relayed: bool
) -> None:
    """Black-box review: an engineer answering the customer's out-of-office kept its
    subject ("AW: Automatische Antwort: [SEP ...]") and the answer was ignored as an
    auto-reply. For authenticated staff mail the headers say what is automatic."""
    t, _ = opened(desk)
    subject = f"AW: Automatische Antwort: [SEP {t['ticket_number']}] Restore"
    raw, _ = engineer_mail(subject, "Please update to 5.1.0.5.", headers=headers)
    result = feed(desk, raw, T0 + HOUR)
    assert (result.outcome == "follow_up") == relayed
    assert len(outbox(desk, kind="relay")) == relayed
    assert (ticket(desk, t["ticket_number"])["first_response_at"] is not None) == relayed


def test_an_engineer_whose_attachments_were_not_relayed_is_told(desk: Desk) -> None:
    """Black-box review: "anbei die Anleitung als PDF" reached the customer without the
    PDF, and nobody knew. The relay is text alone; the engineer is told (not for the
    images of a signature)."""
    t, _ = opened(desk)
    raw, _ = engineer_mail(f"Re: [SEP {t['ticket_number']}]", "The guide is attached.")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    message.add_attachment(b"%PDF-1.4", "application", "pdf", filename="Restore-Guide.pdf")
    message.add_attachment(b"\x89PNG", "image", "png", filename="image001.png")
    message.add_attachment(b"0\x82", "application", "pkcs7-signature", filename="smime.p7s")
    result = feed(desk, message.as_bytes(), T0 + HOUR)
    assert result.reason.endswith("attachments not passed on, sender told")
    assert len(outbox(desk, kind="relay")) == 1
    [error] = outbox(desk, kind="command_error")
    text = " ".join(
        email.message_from_bytes(error["raw"], policy=email.policy.default).get_content().split()
    )
    assert "its attachments (Restore-Guide.pdf) were not passed on" in text
    assert "Its text was sent to the customer, without the attachments." in text


def test_a_reply_received_before_the_ticket_is_no_response(desk: Desk) -> None:
    """Black-box review: a staff reply fed with a --received-at before the request's
    receipt stopped the clock before it started, and the SLA counted as met. It is kept
    and passed on, but the clock runs on (as ``tickets respond --at`` refuses such a time,
    and a hotline call before the request is only on record)."""
    t, _ = opened(desk)
    subject = f"Re: [SEP {t['ticket_number']}]"
    early = feed(desk, engineer_mail(subject, "Please send the log.")[0], T0 - timedelta(days=1))
    assert early.outcome == "follow_up"
    steps = desk.db.execute("SELECT steps FROM intake WHERE id = ?", [early.intake_id])
    assert "before the ticket's clock started: not counted" in steps.fetchone()[0]
    assert len(outbox(desk, kind="relay")) == 1
    assert ticket(desk, t["ticket_number"])["first_response_at"] is None
    assert events_of(desk, t, "responded") == []
    feed(desk, engineer_mail(subject, "Any news?")[0], T0 + timedelta(hours=1))
    answered = ticket(desk, t["ticket_number"])["first_response_at"]
    assert from_db(answered) == T0 + timedelta(hours=1)


@pytest.mark.parametrize("to_customer", [True, False])
@pytest.mark.parametrize("commands", ["", "#accept\n"])
def test_a_reply_all_that_reached_the_customer_is_not_relayed_again(
    desk: Desk, to_customer: bool, commands: str
) -> None:
    """Black-box review: an engineer's Reply-All (the customer in To, the desk in Cc) was
    relayed too, and the customer had the answer twice. It is the answer all the same,
    and a Call ID it gave, which it did not carry, is told."""
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    rows = len(outbox(desk))
    # The customer in To (the desk in Cc), or in Cc under a name and in capitals.
    cc = {} if to_customer else {"Cc": f"Pieter Dekker <{CUSTOMER.upper()}>"}
    raw, _ = engineer_mail(f"RE: [SEP {t['ticket_number']}]", f"{commands}Retry.", headers=cc)
    if to_customer:
        raw = raw.replace(b"To: support@sep.example", f"To: {CUSTOMER}".encode())
        raw = raw.replace(b"Subject:", b"Cc: support@sep.example\nSubject:")
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert f"{CUSTOMER} had the mail directly, not relayed" in result.reason
    new = outbox(desk)[rows:]
    assert [r["kind"] for r in new] == (["call_accepted"] if commands else [])
    answered = ticket(desk, t["ticket_number"])["first_response_at"]
    assert from_db(answered) == T0 + timedelta(hours=1)


@pytest.mark.parametrize("text", ["", "We take it from here."])
def test_accept_by_mail_sends_the_call_id_once(desk: Desk, text: str) -> None:
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["status"] == "needs-info"
    rows = len(outbox(desk))
    raw, _ = engineer_mail(f"Re: [SEP {t['ticket_number']}]", f"#accept\n{text}")
    feed(desk, raw, T0 + timedelta(hours=1))
    t = ticket(desk, t["ticket_number"])
    assert t["status"] == "accepted" and t["call_id"]
    [new] = outbox(desk)[rows:]  # one mail to the customer, never two
    assert new["kind"] == ("relay" if text else "call_accepted")
    assert t["call_id"] in new["subject"]
    body = email.message_from_bytes(new["raw"], policy=email.policy.default).get_content()
    assert f"Call ID is {t['call_id']}" in body
    if not text:  # the notice ties the new Call ID to the ticket number the customer had
        assert f"concerns your request {t['ticket_number']}" in body
    assert (t["first_response_at"] is not None) == bool(text)  # only a human answer counts


@pytest.mark.parametrize("how", ["cli", "mail"])
def test_accepting_a_ticket_without_a_clock_starts_it_then(desk: Desk, how: str) -> None:
    """Review finding: a request without a contract, accepted a week later, was due from its
    receipt: breached at once, the Call ID notice said the time had passed and the timer
    mailed a late breach. Its clock starts at the acceptance (by CLI or ``#accept``)."""
    raw, _ = mail(STRANGER, "Restore fails", REQUEST)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert (t["status"], t["first_response_due"]) == ("unqualified", None)
    accepted_at = T0 + timedelta(days=7, hours=1)  # Monday 10:00 a week later
    if how == "cli":
        actions.apply(desk, t["ticket_number"], "accept", accepted_at, "cli")
    else:
        feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", "#accept")[0], accepted_at)
    t = ticket(desk, t["ticket_number"])
    due = from_db(t["first_response_due"])
    assert t["status"] == "accepted"
    assert due == first_response_due(desk.calendar, accepted_at, t["severity"], None)
    assert due == accepted_at + timedelta(hours=8)  # Major: 8 support hours, Monday 18:00
    assert not ticket_breached(t, accepted_at + timedelta(minutes=1))
    assert timer.run_once(desk, accepted_at + timedelta(minutes=1)) == 0
    [notice] = outbox(desk, kind="call_accepted")
    body = email.message_from_bytes(notice["raw"], policy=email.policy.default).get_content()
    assert "You will receive a first response" in body and "has already passed" not in body


@pytest.mark.parametrize(
    "body",
    [
        "#severity 3\n\n-- \nEng One\nSEP Support, Tel. 123\n",
        "#waiting\n\nViele Grüße\nEva\n",
    ],
)
def test_commands_with_only_a_signature_are_not_relayed(desk: Desk, body: str) -> None:
    """A signature or closing alone is no answer: relayed, it reached the customer as one
    and stopped the response clock (found by the black-box review)."""
    t, _ = opened(desk)
    raw, _ = engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)
    feed(desk, raw, T0 + timedelta(hours=1))
    assert outbox(desk, kind="relay") == []
    assert ticket(desk, t["ticket_number"])["first_response_at"] is None


def test_an_answer_keeps_its_signature(desk: Desk) -> None:
    t, _ = opened(desk)
    body = "Please update to 5.1.0.5.\n\n-- \nEng One\nSEP Support, Tel. 123\n"
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + timedelta(hours=1))
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert "Please update to 5.1.0.5." in text and "Tel. 123" in text
    assert ticket(desk, t["ticket_number"])["first_response_at"] is not None


def test_internal_note_is_stored_not_relayed(desk: Desk) -> None:
    t, _ = opened(desk)
    raw, mid = engineer_mail(f"Re: [SEP {t['ticket_number']}]", "#internal\nCustomer is grumpy.")
    assert feed(desk, raw, T0 + timedelta(hours=1)).outcome == "follow_up"
    assert outbox(desk, kind="relay") == []
    row = desk.db.execute("SELECT direction, kind FROM messages WHERE message_id = ?", [mid])
    assert row.fetchone() == ("internal", "note")
    assert ticket(desk, t["ticket_number"])["first_response_at"] is None


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("\ufeff#internal\nCustomer is grumpy.", "note"),
        ("Klassifizierung: Intern\n\n#internal\nCustomer is grumpy.", "note"),
        ("Hi,\n#internal\nCustomer is grumpy.", "refused"),
    ],
)
def test_an_internal_note_under_something_else_is_not_relayed(
    desk: Desk, body: str, kind: str
) -> None:
    """Review finding: a BOM, or Outlook's sensitivity label, above "#internal" sent the
    note to the customer. Read past them; any other text above it holds the mail back,
    and the engineer is told."""
    t, _ = opened(desk)
    raw, mid = engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)
    feed(desk, raw, T0 + HOUR)
    assert outbox(desk, kind="relay") == []
    row = desk.db.execute("SELECT direction, kind FROM messages WHERE message_id = ?", [mid])
    assert row.fetchone() == ("internal", kind)
    errors = outbox(desk, kind="command_error")
    assert len(errors) == (kind == "refused")
    if errors:
        text = email.message_from_bytes(errors[0]["raw"], policy=email.policy.default)
        assert "'#internal' stands below other text" in text.get_content()


@pytest.mark.parametrize(
    "body",
    [
        "#accept\n#frobnicate\nDear customer, accepted.",  # unknown: nothing applied at all
        "#severity 9\nDear customer",  # malformed
        "#waiting\n#reopen\nDear customer",  # the second is impossible: the first is undone
    ],
)
def test_bad_or_impossible_command_changes_nothing_and_tells_the_engineer(
    desk: Desk, body: str
) -> None:
    t, _ = opened(desk)
    before = ticket(desk, t["ticket_number"])
    feed(desk, engineer_mail(f"Re: [SEP {t['ticket_number']}]", body)[0], T0 + timedelta(hours=1))
    after = ticket(desk, t["ticket_number"])
    for column in ("status", "severity", "call_id", "first_response_at", "assigned_to"):
        assert after[column] == before[column], column
    assert outbox(desk, kind="relay") == []
    [error] = outbox(desk, kind="command_error")
    assert json.loads(error["to_addrs"]) == [ENGINEER] and error["automatic"] == 1
    assert not desk.db.execute(
        "SELECT 1 FROM events WHERE ticket_id = ? AND actor = ?", [t["id"], ENGINEER]
    ).fetchall()


def test_no_automatic_reply_goes_to_a_staff_address_from_unverified_mail(desk: Desk) -> None:
    """Engineer-flow audit: a forged staff From, or a stranger's Reply-To naming staff,
    made the desk mail its own engineers."""
    forged, _ = mail(ENGINEER, "Need help", "Our backup fails.", name="Anna Berg")
    reply_to, _ = mail(
        "eve@evil.example", "Need help", "Our backup fails.", headers={"Reply-To": ENGINEER}
    )
    for i, raw in enumerate((forged, reply_to)):
        feed(desk, raw, T0 + timedelta(minutes=i))
    assert [r for r in outbox(desk) if ENGINEER in r["to_addrs"]] == []


def test_staff_mail_naming_no_ticket_is_ignored_with_an_answer(desk: Desk) -> None:
    result = feed(desk, engineer_mail("Lunch?", "#solve\nAnyone?")[0], T0)
    assert result.outcome == "ignored" and "names no ticket" in result.reason
    [error] = outbox(desk)
    assert error["kind"] == "command_error" and json.loads(error["to_addrs"]) == [ENGINEER]
    assert desk.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


def test_staff_mail_naming_an_unknown_ticket_is_told_so(desk: Desk) -> None:
    """Not 'names no ticket' (the subject does name one), and no empty list of errors."""
    feed(desk, engineer_mail("Re: [SEP T-2099-999999] x", "#close")[0], T0)
    [error] = outbox(desk)
    body = email.message_from_bytes(error["raw"], policy=email.policy.default).get_content()
    assert "not processed: T-2099-999999 is no ticket or Call ID of this desk" in body
    assert "names no ticket" not in body and "\n  -\n" not in body


NO_HEADER = "it carries no Authentication-Results header of mx.sep.example"
NO_PASS = (
    "the Authentication-Results of mx.sep.example show no DKIM or SPF pass"
    " for sep.example, the From's domain"
)


@pytest.mark.parametrize(
    ("auth", "why"),
    [
        (None, NO_HEADER),
        (
            "mx.sep.example; dkim=fail header.d=sep.example; spf=fail smtp.mailfrom=sep.example",
            NO_PASS,
        ),
        (
            "mx.evil.example; dkim=pass header.d=sep.example; spf=pass smtp.mailfrom=sep.example",
            NO_HEADER,
        ),
        ("mx.sep.example; dkim=pass header.d=evil.example", NO_PASS),
    ],
)
def test_spoofed_staff_mail_changes_nothing_and_is_not_relayed(
    desk: Desk, auth: str | None, why: str
) -> None:
    t, _ = opened(desk)
    before = ticket(desk, t["ticket_number"])
    rows_before = len(outbox(desk))
    headers = {"Authentication-Results": auth} if auth else {}
    raw, mid = mail(
        ENGINEER,
        f"Re: [SEP {t['ticket_number']}]",
        "#solve\n#severity 4\nYour data is lost, send money.",
        headers=headers,
    )
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert result.outcome == "ignored" and "failed authentication" in result.reason
    after = ticket(desk, t["ticket_number"])
    for column in ("status", "severity", "first_response_at", "solved_at"):
        assert after[column] == before[column], column
    # No relay, no reply to the customer: only the staff address is told (below).
    assert [r["kind"] for r in outbox(desk)[rows_before:]] == ["command_error"]
    row = desk.db.execute("SELECT direction, kind FROM messages WHERE message_id = ?", [mid])
    assert row.fetchone() == ("in", "unverified")
    assert events_of(desk, t, "unverified_staff_mail") == [{"why": why}]


def test_an_engineers_mail_that_fails_authentication_is_not_dropped_in_silence(
    desk: Desk,
) -> None:
    """Black-box review: an engineer's real answer, from an account the MX does not sign
    for, was dropped with no notice; the customer got nothing and the ticket breached
    while the engineer believed the customer answered. The staff address in From is told
    (staff alone: even a forged From names one of the desk's own people)."""
    t, _ = opened(desk)
    unaligned = {"Authentication-Results": "mx.sep.example; dkim=pass header.d=other.example"}
    raw, mid = mail(
        ENGINEER, f"Re: [SEP {t['ticket_number']}] big log", "Please send the log.",
        headers=unaligned,
    )  # fmt: skip
    result = feed(desk, raw, T0 + timedelta(hours=1))
    assert result.reason.endswith("; sender told")
    [notice] = outbox(desk, kind="command_error")
    assert json.loads(notice["to_addrs"]) == [ENGINEER] and notice["automatic"] == 1
    assert notice["subject"] == f"[SEP {tickets.ref_of(t)}] Not processed: big log"
    assert notice["in_reply_to"] == mid
    message = email.message_from_bytes(notice["raw"], policy=email.policy.default)
    text = " ".join(message.get_content().split())
    assert "was not passed on to the customer: it failed the desk's authentication check" in text
    assert f"({NO_PASS})" in text
    assert f"sepdesk tickets respond {t['ticket_number']}" in text
    assert message["Auto-Submitted"] == "auto-replied"
    assert ticket(desk, t["ticket_number"])["first_response_at"] is None


def test_the_authenticated_resend_of_a_refused_reply_is_relayed(desk: Desk) -> None:
    """Black-box review: sent again authenticated, as the notice asks, the very same
    reply was taken for an autoresponder repeating itself (the refused copy counted as
    said) and dropped; the customer got nothing and the clock ran on."""
    t, _ = opened(desk)
    subject, words = f"Re: [SEP {t['ticket_number']}] Restore", "Please send the sm_main.log."
    refused, _ = mail(ENGINEER, subject, words, name="Anna Berg")
    assert feed(desk, refused, T0 + timedelta(minutes=30)).outcome == "ignored"
    result = feed(desk, engineer_mail(subject, words)[0], T0 + timedelta(minutes=35))
    assert result.reason.endswith(f"relayed to {CUSTOMER}")
    [relay] = outbox(desk, kind="relay")
    text = email.message_from_bytes(relay["raw"], policy=email.policy.default).get_content()
    assert words in text
    answered = ticket(desk, t["ticket_number"])["first_response_at"]
    assert from_db(answered) == T0 + timedelta(minutes=35)


def test_a_reply_refused_for_its_command_is_relayed_when_sent_again(desk: Desk) -> None:
    """As for failed authentication: a mail whose command could not be done went on to
    no one; sent again once the ticket allows it, it was taken for an autoresponder."""
    t, _ = opened(desk)
    subject, words = f"Re: [SEP {t['ticket_number']}]", "#reopen\nThe fix did not help."
    refused = feed(desk, engineer_mail(subject, words)[0], T0 + timedelta(minutes=10))
    assert refused.reason.endswith("nothing done")
    actions.apply(desk, t["ticket_number"], "solve", T0 + timedelta(minutes=12), ENGINEER, None)
    result = feed(desk, engineer_mail(subject, words)[0], T0 + timedelta(minutes=15))
    assert result.reason.endswith(f"relayed to {CUSTOMER}")
    assert ticket(desk, t["ticket_number"])["status"] == "accepted"


def test_notices_of_failed_authentication_keep_to_the_daily_limit_and_the_loop_guards(
    tmp_path: Path,
) -> None:
    """Forged mail costs nothing to send: the notices to a staff address count against
    max_auto_replies_per_day, and automatic mail gets none."""
    settings = make_settings(tmp_path, desk={**DESK, "max_auto_replies_per_day": 2})
    desk = Desk.open(settings)
    import_csv(desk.db, CONTRACTS, T0)
    t, _ = opened(desk)
    subject = f"Re: [SEP {t['ticket_number']}]"
    auto, _ = mail(ENGINEER, subject, "I am out of the office.", headers=AUTO_REPLIED)
    assert feed(desk, auto, T0 + timedelta(minutes=1)).outcome == "ignored"
    assert outbox(desk, kind="command_error") == []
    for i in range(3):
        raw, _ = mail(ENGINEER, subject, f"Answer {i}.")
        feed(desk, raw, T0 + timedelta(minutes=2 + i))
    assert len(outbox(desk, kind="command_error")) == 2
    steps = desk.db.execute("SELECT steps FROM intake ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert f"no reply: {ENGINEER} already had 2 automatic replies in 24 h" in steps
    desk.close()


# --------------------------------------------------------------------------- loops and bounces


def dsn(
    final_recipient: str, returned: str, action: str = "failed", status: str = "5.1.1"
) -> bytes:
    """A Postfix-style multipart/report DSN with the returned headers given."""
    return (
        "From: MAILER-DAEMON@mx.vandijk-logistiek.nl (Mail Delivery System)\r\n"
        "To: support@sep.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-" + final_recipient + ">\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you ...\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {final_recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n--B--\r\n"
    ).encode()


@pytest.mark.parametrize("by", ["message_id", "recipient"])
def test_bounce_marks_outbox_and_ticket_without_reply(desk: Desk, by: str) -> None:
    t, _ = opened(desk)
    ack = outbox(desk)[0]
    assert ack["kind"] in ("ack", "call_accepted", "needs_info")
    returned = f"Message-ID: <{ack['message_id']}>\r\nSubject: x" if by == "message_id" else ""
    rows = len(outbox(desk))
    result = feed(desk, dsn(CUSTOMER, returned), T0 + timedelta(minutes=2))
    assert (result.outcome, result.ticket) == ("bounce_recorded", t["ticket_number"])
    # A DSN that returns none of our mail but only names the customer is easily forged:
    # it is kept on the ticket of the last mail to that address, and marks nothing.
    marked = by == "message_id"
    assert outbox(desk, id=ack["id"])[0]["state"] == ("bounced" if marked else "queued")
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == int(marked)
    assert len(events_of(desk, t, "delivery_failed" if marked else "bounce_unmatched")) == 1
    assert len(outbox(desk)) == rows


def test_a_global_dsn_of_a_utf8_mail_is_a_bounce(desk: Desk) -> None:
    """RFC 6533: for a mail sent with SMTPUTF8, Postfix and Exchange report in
    report-type=global-delivery-status with message/global-delivery-status and
    message/global parts; it was ignored as "automatic report", the bounce unrecorded."""
    t, _ = opened(desk)
    ack = outbox(desk)[0]
    returned = f"Message-ID: <{ack['message_id']}>\r\nSubject: {ack['subject']}\r\n\r\nbody"
    raw = (
        dsn(CUSTOMER, returned)
        .replace(b"report-type=delivery-status", b"report-type=global-delivery-status")
        .replace(b"message/delivery-status", b"message/global-delivery-status")
        .replace(b"Content-Type: text/rfc822-headers", b"Content-Type: message/global")
    )
    rows = len(outbox(desk))
    result = feed(desk, raw, T0 + timedelta(minutes=2))
    assert (result.outcome, result.ticket) == ("bounce_recorded", t["ticket_number"])
    assert outbox(desk, id=ack["id"])[0]["state"] == "bounced"
    assert len(outbox(desk)) == rows


def test_a_reply_to_that_bounced_is_dropped_for_the_sender(desk: Desk) -> None:
    """Re-audit: a misspelt Reply-To kept getting automatic mail after it bounced."""
    typo = "p.dekker@vandijk-logistik.nl"
    raw, mid = mail(
        CUSTOMER, "Restore of FS01 fails", "Hello, it fails.", headers={"Reply-To": typo}
    )
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    [ack] = [r for r in outbox(desk) if r["kind"] != "team_notice"]
    assert typo in ack["to_addrs"]
    returned = f"Message-ID: <{ack['message_id']}>\r\nSubject: {ack['subject']}"
    assert feed(desk, dsn(typo, returned), T0 + timedelta(minutes=1)).outcome == "bounce_recorded"
    assert ticket(desk, t["ticket_number"])["reply_to"] == ""
    follow, _ = mail(
        CUSTOMER, "Re: Restore of FS01 fails", "Version 5.1.0.4 on SLES 15.", in_reply_to=mid
    )
    feed(desk, follow, T0 + timedelta(minutes=2))
    later = [r for r in outbox(desk) if r["kind"] != "team_notice" and r["id"] != ack["id"]]
    assert later and all(CUSTOMER in r["to_addrs"] and typo not in r["to_addrs"] for r in later)


def test_each_customer_mail_is_answered_where_it_asks(desk: Desk) -> None:
    """Review: a follow-up from the From address, with no Reply-To ("bitte an mich
    antworten"), was answered at the first mail's typo Reply-To, and so was the
    engineer's relay. The answer to a mail goes to its Reply-To, else its From; relays
    go where the latest customer mail asked; the old Reply-To may still write in."""
    typo = "p.dekker@vandijk-logistik.nl"
    t, ack = needs_info(desk, headers={"Reply-To": typo})
    number = t["ticket_number"]
    assert json.loads(outbox(desk, message_id=ack)[0]["to_addrs"]) == [typo]

    def answered(raw: bytes, at: datetime) -> list[str]:
        before = len(outbox(desk))
        assert feed(desk, raw, at).ticket in (number, ticket(desk, number)["call_id"])
        new = [r for r in outbox(desk)[before:] if r["kind"] != "team_notice"]
        return [a for r in new for a in json.loads(r["to_addrs"])]

    raw, mid = mail(CUSTOMER, f"AW: [SEP {number}] Restore fails", REQUEST, name="Pieter Dekker")
    assert answered(raw, T0 + timedelta(hours=1)) == [CUSTOMER]
    assert ticket(desk, number)["status"] == "accepted"
    body = "Please send us the sm_main log.\n\nAnna"
    raw, _ = engineer_mail(f"Re: [SEP {number}] Restore fails", body, in_reply_to=mid)
    assert answered(raw, T0 + timedelta(hours=2)) == [CUSTOMER]
    # A later mail asking for another address is answered there, and so is the relay.
    team = "backup-team@vandijk-logistiek.nl"
    raw, _ = mail(CUSTOMER, f"AW: [SEP {number}] x", "Log attached.", headers={"Reply-To": team})
    feed(desk, raw, T0 + timedelta(hours=3))
    raw, _ = engineer_mail(f"Re: [SEP {number}] Restore fails", "Thanks, we read it.\n\nAnna")
    assert answered(raw, T0 + timedelta(hours=4)) == [team]
    # The first Reply-To, answered once, still belongs to the ticket.
    assert belongs_to(desk, ticket(desk, number), typo) == "the desk answered to it in this ticket"


def test_a_colleague_s_follow_up_is_answered_to_the_colleague_by_name(desk: Desk) -> None:
    """The answer to a mail goes to whoever wrote it (a colleague under the customer's
    @domain contact), greeting them, not the requester who opened the ticket."""
    t, _ = needs_info(desk)
    subject = f"AW: [SEP {t['ticket_number']}] Restore fails"
    raw, _ = mail(COLLEAGUE, subject, REQUEST, name="Jan Vos")
    feed(desk, raw, T0 + timedelta(hours=1))
    [answer] = [r for r in outbox(desk) if r["kind"] == "call_accepted"]
    assert json.loads(answer["to_addrs"]) == [COLLEAGUE]
    assert answer["body"].splitlines()[0].endswith("Jan Vos,")


@pytest.mark.parametrize(("action", "status"), [("delivered", "2.0.0"), ("delayed", "4.4.7")])
def test_a_success_or_delay_report_is_no_bounce(desk: Desk, action: str, status: str) -> None:
    t, _ = opened(desk)
    ack = outbox(desk)[0]
    returned = f"Message-ID: <{ack['message_id']}>\r\nSubject: {ack['subject']}"
    result = feed(desk, dsn(CUSTOMER, returned, action, status), T0 + timedelta(minutes=2))
    assert result.outcome == "ignored" and action in result.reason
    assert outbox(desk, id=ack["id"])[0]["state"] == "queued"
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 0


def test_a_recipient_is_compared_as_an_address_not_a_pattern(desk: Desk) -> None:
    """Review: 'Final-Recipient: rfc822; %' matched every mail of the ticket (LIKE)."""
    t, _ = opened(desk)
    ack = outbox(desk)[0]
    result = feed(desk, dsn("%", f"Subject: {ack['subject']}"), T0 + timedelta(minutes=2))
    assert result.outcome == "bounce_recorded"  # kept on the ticket, for engineers
    assert [r["state"] for r in outbox(desk)] == ["queued"] * len(outbox(desk))
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 0


def test_our_own_mail_back_with_a_footer_is_still_ours(desk: Desk) -> None:
    opened(desk)
    ack = outbox(desk)[0]
    assert feed(desk, ack["raw"], T0).outcome == "ignored"  # came back once
    result = feed(desk, ack["raw"] + b"\r\n-- \r\nScanned by a mail filter\r\n", T0)
    assert (result.outcome, result.reason) == ("ignored", "our own outgoing mail came back")


def test_a_dsn_returning_only_our_subject_marks_nothing(desk: Desk) -> None:
    """No Message-ID of ours and no failed recipient: a forger's DSN, kept for engineers."""
    t, _ = opened(desk)
    ack = outbox(desk)[0]
    forged = dsn("", f"Subject: {ack['subject']}").replace(b"Final-Recipient: rfc822; \r\n", b"")
    result = feed(desk, forged, T0 + timedelta(minutes=2))
    assert (result.outcome, result.ticket) == ("bounce_recorded", t["ticket_number"])
    assert [r["state"] for r in outbox(desk)] == ["queued"] * len(outbox(desk))
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 0


def text_notice(ref: str, body: str) -> bytes:
    """A postmaster's plain-text notice: our tag in its subject, no DSN parts, no headers of ours."""
    return (
        "From: postmaster@vandijk-logistiek.nl\r\nTo: support@sep.example\r\n"
        f"Subject: Unzustellbar: [SEP {ref}] Restore of FS01 fails\r\n"
        f"Message-ID: <ndr-{len(body)}@vandijk-logistiek.nl>\r\n\r\n{body}\r\n"
    ).encode()


def test_a_bounce_naming_the_ticket_only_in_its_subject_is_recorded_on_it(desk: Desk) -> None:
    t, _ = opened(desk)
    ref = tickets.ref_of(t)
    [ack] = [r for r in outbox(desk) if r["kind"] != "team_notice"]
    rows = len(outbox(desk))
    body = f"Ihre Nachricht konnte nicht zugestellt werden an {CUSTOMER}."
    result = feed(desk, text_notice(ref, body), T0 + timedelta(minutes=2))
    assert (result.outcome, result.ticket) == ("bounce_recorded", t["ticket_number"])
    # Our tag in the notice's own subject and an address are anyone's to write: kept on
    # the ticket for engineers, nothing marked.
    assert outbox(desk, id=ack["id"])[0]["state"] == "queued"
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 0
    assert len(events_of(desk, t, "bounce_unmatched")) == 1
    assert len(outbox(desk)) == rows


def test_a_subject_only_bounce_naming_no_recipient_is_kept_on_the_ticket(desk: Desk) -> None:
    t, _ = opened(desk)
    rows = outbox(desk)
    body = "Ihre Nachricht konnte nicht zugestellt werden."
    result = feed(desk, text_notice(t["ticket_number"], body), T0 + timedelta(minutes=2))
    assert (result.outcome, result.ticket) == ("bounce_recorded", t["ticket_number"])
    assert "no mail of ours identified" in result.reason
    assert [r["state"] for r in outbox(desk)] == [r["state"] for r in rows]  # none marked
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 0
    assert len(events_of(desk, t, "bounce_unmatched")) == 1
    # Naming no ticket of ours, it is ignored as before.
    result = feed(desk, text_notice("T-2026-999999", "x"), T0 + timedelta(minutes=3))
    assert (result.outcome, result.ticket) == ("ignored", None)


def test_a_plain_text_bounce_names_its_recipient_in_prose(desk: Desk) -> None:
    """A qmail notice: our returned headers without Message-ID, the recipient only in prose."""
    t, _ = opened(desk)
    [ack] = [r for r in outbox(desk) if r["kind"] != "team_notice"]
    [notice] = outbox(desk, kind="team_notice")  # the ticket's latest mail, not the one bounced
    raw = (
        "From: MAILER-DAEMON@mx.vandijk-logistiek.nl\r\nTo: support@sep.example\r\n"
        "Subject: failure notice\r\nMessage-ID: <qmail-1@mx.vandijk-logistiek.nl>\r\n\r\n"
        "Hi. This is the qmail-send program at mx.vandijk-logistiek.nl.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
        f"<{CUSTOMER}>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        "From: SEP Support <support@sep.example>\r\n"
        f"To: {CUSTOMER}\r\nSubject: {ack['subject']}\r\n\r\nHello\r\n"
    ).encode()
    result = feed(desk, raw, T0 + timedelta(minutes=2))
    assert (result.outcome, result.ticket) == ("bounce_recorded", t["ticket_number"])
    assert outbox(desk, id=ack["id"])[0]["state"] == "bounced"
    assert outbox(desk, id=notice["id"])[0]["state"] == "queued"
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 1


def returning_notice(sender: str, subject: str, ours: dict[str, Any], how: str) -> bytes:
    """A mail system's notice in no standard form (no multipart/report) returning ``ours``:
    as an attached message (Domino, Exchange) or quoted in its text (a daemon's prose)."""
    returned = (
        f"From: SEP Support <support@sep.example>\r\nTo: {CUSTOMER}\r\n"
        f"Subject: {ours['subject']}\r\nMessage-ID: <{ours['message_id']}>\r\n"
    )
    head = (
        f"{sender}\r\nTo: support@sep.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <notice-{len(subject)}-{how}@vandijk-logistiek.nl>\r\n"
    )
    prose = f"Your message was not delivered to {CUSTOMER}: user unknown.\r\n"
    if how == "quoted":
        return f"{head}\r\n{prose}\r\n--- original message headers ---\r\n{returned}".encode()
    return (
        f'{head}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="N"\r\n\r\n'
        f"--N\r\nContent-Type: text/plain\r\n\r\n{prose}"
        f"--N\r\nContent-Type: message/rfc822\r\n\r\n{returned}\r\nbody\r\n--N--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("sender", "subject", "how"),
    [
        (
            "From: Postmaster@vandijk-logistiek.nl",
            "DELIVERY FAILURE: User p.dekker not listed in Domino Directory",
            "attached",
        ),
        ("From: MAILER-DAEMON@mx.vandijk-logistiek.nl", "Zustellung fehlgeschlagen", "quoted"),
        ("From: MAILER-DAEMON@mx.vandijk-logistiek.nl", "Mail could not be delivered", "quoted"),
        (
            "Return-Path: <>\r\nFrom: System Administrator <sysadmin@vandijk-logistiek.nl>",
            "Undeliverable: Restore of FS01 fails",
            "attached",
        ),
        ("From: Mail Delivery <mail@vandijk-logistiek.nl>", "Message not delivered", "smtp"),
    ],
)
def test_a_notice_in_no_standard_form_returning_our_message_id_is_a_bounce(
    desk: Desk, sender: str, subject: str, how: str
) -> None:
    """Review: Domino's "DELIVERY FAILURE: User ... not listed", a daemon's "Zustellung
    fehlgeschlagen" or an Exchange notice in prose from an administrator with a null
    Return-Path were ignored as automatic mail, the bounce of our mail unrecorded: only
    a daemon's notice with a subject from a fixed list was one."""
    t, _ = opened(desk)
    [ack] = [r for r in outbox(desk) if r["kind"] != "team_notice"]
    rows = len(outbox(desk))
    raw = returning_notice(sender, subject, ack, "attached" if how == "smtp" else how)
    at = T0 + timedelta(minutes=2)
    if how == "smtp":  # a null envelope sender, seen only by the SMTP receiver
        stored = store_raw(desk.db, source="smtp", raw=raw, received_at=at, mail_from="<>")
        result = runner.process(desk, stored.intake_id, at)
    else:
        result = feed(desk, raw, at)
    assert (result.outcome, result.ticket) == ("bounce_recorded", t["ticket_number"])
    assert outbox(desk, id=ack["id"])[0]["state"] == "bounced"
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 1
    assert len(events_of(desk, t, "delivery_failed")) == 1
    assert len(outbox(desk)) == rows  # never answered


@pytest.mark.parametrize(
    ("sender", "subject"),
    [
        # A person quoting our mail's headers is no mail system.
        ("From: " + CUSTOMER, "Re: Restore of FS01 fails"),
        # An auto-reply with the null reverse path RFC 3834 asks for: our mail arrived.
        ("Return-Path: <>\r\nFrom: " + CUSTOMER, "Automatic reply: Restore of FS01 fails"),
    ],
)
def test_a_mail_quoting_our_message_id_is_no_bounce_unless_a_mail_system_sent_it(
    desk: Desk, sender: str, subject: str
) -> None:
    t, _ = opened(desk)
    [ack] = [r for r in outbox(desk) if r["kind"] != "team_notice"]
    result = feed(desk, returning_notice(sender, subject, ack, "quoted"), T0 + timedelta(hours=1))
    assert result.outcome != "bounce_recorded"
    assert outbox(desk, id=ack["id"])[0]["state"] == "queued"
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 0


def test_corpus_auto_mails_and_bounces_get_no_reply(desk: Desk) -> None:
    silent = {"005", "014", "018"}
    for path in MAILS:
        before = len(outbox(desk))
        record = ingest_file(desk, path, "header")
        if path.name[:3] in silent:
            assert len(outbox(desk)) == before, f"{path.name} was answered"
            assert record.outcome in ("bounce_recorded", "ignored"), path.name
    bounced = desk.db.execute(
        "SELECT t.ticket_number FROM outbox o JOIN tickets t ON t.id = o.ticket_id"
        " WHERE o.state = 'bounced'"
    ).fetchall()
    assert bounced == [("T-2026-000004",)]
    first = desk.db.execute(
        "SELECT ticket_number FROM tickets ORDER BY delivery_failed DESC, received_at DESC"
    ).fetchone()
    assert first == ("T-2026-000004",)


def mdn(sender_addr: str, ours: dict[str, Any], returned_headers: bool) -> bytes:
    """A read receipt (RFC 8098 MDN) for the desk's outgoing mail ``ours``."""
    mid = ours["message_id"]
    returned = (
        f"--M\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: SEP Support <support@sep.example>\r\n"
        f"Subject: {ours['subject']}\r\nMessage-ID: <{mid}>\r\n\r\n"
        if returned_headers
        else ""
    )
    return (
        f"From: {sender_addr}\r\nTo: support@sep.example\r\nSubject: Read: {ours['subject']}\r\n"
        f"Message-ID: <mdn-{returned_headers}@x.example>\r\nIn-Reply-To: <{mid}>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report;"
        ' report-type=disposition-notification; boundary="M"\r\n\r\n'
        "--M\r\nContent-Type: text/plain\r\n\r\nYour message was displayed.\r\n"
        "--M\r\nContent-Type: message/disposition-notification\r\n\r\n"
        f"Reporting-UA: mail.example; Outlook\r\nFinal-Recipient: rfc822; {sender_addr}\r\n"
        f"Original-Message-ID: <{mid}>\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"
        f"{returned}--M--\r\n"
    ).encode()


@pytest.mark.parametrize("returned_headers", [False, True])
def test_a_read_receipt_is_no_bounce(desk: Desk, returned_headers: bool) -> None:
    t, _ = opened(desk)
    ack = outbox(desk)[0]
    rows = len(outbox(desk))
    result = feed(desk, mdn(CUSTOMER, ack, returned_headers), T0 + timedelta(minutes=5))
    assert result.outcome == "ignored" and "read receipt" in result.reason
    assert result.ticket == t["ticket_number"]  # kept on its ticket, as auto-replies are
    assert outbox(desk, id=ack["id"])[0]["state"] == "queued"  # not bounced
    assert ticket(desk, t["ticket_number"])["delivery_failed"] == 0
    assert events_of(desk, t, "delivery_failed") == []
    assert len(outbox(desk)) == rows  # never answered


def test_auto_reply_on_a_ticket_is_stored_not_answered(desk: Desk) -> None:
    t, _ = opened(desk)
    rows = len(outbox(desk))
    raw, mid = mail(
        CUSTOMER,
        f"Abwesenheitsnotiz: [SEP {t['ticket_number']}]",
        "Ich bin bis Montag nicht im Büro.",
        headers=AUTO_REPLIED,
    )
    result = feed(desk, raw, T0 + timedelta(minutes=1))
    assert (result.outcome, result.ticket) == ("ignored", t["ticket_number"])
    assert len(outbox(desk)) == rows
    row = desk.db.execute("SELECT direction, kind FROM messages WHERE message_id = ?", [mid])
    assert row.fetchone() == ("in", "auto")


def test_a_null_envelope_sender_is_never_answered(conversation: Conversation) -> None:
    c, desk = conversation, conversation.desk
    raw, _ = mail("helpdesk@othervendor.example", "Ticket #4711 created: Restore", "Received.")
    c.traveller.move_to(T0)
    with smtplib.SMTP(c.settings.smtp.host, c.settings.smtp.port, timeout=10) as client:
        client.sendmail("", ["support@sep.example"], raw)  # MAIL FROM:<>
    assert runner.run_once(desk, T0) == 1
    mail_from, outcome, reason = desk.db.execute(
        "SELECT mail_from, outcome, reason FROM intake"
    ).fetchone()
    assert (mail_from, outcome) == ("<>", "ignored") and "null envelope sender" in reason
    assert outbox(desk) == []


def test_a_null_return_path_is_never_answered(desk: Desk) -> None:
    raw, _ = mail("helpdesk@othervendor.example", "Ticket #4711 created: Restore", "Received.")
    result = feed(desk, b"Return-Path: <>\r\n" + raw, T0)
    assert result.outcome == "ignored" and "Return-Path: <>" in result.reason
    assert outbox(desk) == []


@pytest.mark.parametrize(
    "reply_to", ["MAILER-DAEMON@vandijk-logistiek.nl", "noreply@vandijk-logistiek.nl"]
)
def test_an_automatic_reply_to_is_never_answered(desk: Desk, reply_to: str) -> None:
    raw, _ = mail(CUSTOMER, "Restore fails", "Our restore fails.", headers={"Reply-To": reply_to})
    result = feed(desk, raw, T0)
    assert result.outcome == "new_ticket"  # needs-info: a follow-up gets an answer too
    t = ticket(desk, result.ticket or "")
    assert (t["requester"], t["reply_to"]) == (CUSTOMER, "")
    [ack] = [r for r in outbox(desk) if r["kind"] != "team_notice"]
    assert json.loads(ack["to_addrs"]) == [CUSTOMER]  # the person who wrote
    steps = desk.db.execute("SELECT steps FROM intake").fetchone()[0]
    assert f"Reply-To {reply_to.lower()} is an automatic address" in steps
    # A ticket that kept such an address (stored before this rule) gets no automatic mail
    # there: an engineer's bare #accept mails its Call ID to nobody.
    tickets.update(desk.db, t["id"], T0, reply_to=reply_to.lower())
    rows = len(outbox(desk))
    raw, _ = engineer_mail(f"Re: [SEP {t['ticket_number']}] x", "#accept")
    feed(desk, raw, T0 + timedelta(hours=1))
    assert [r["kind"] for r in outbox(desk)[rows:]] == []
    steps = desk.db.execute("SELECT steps FROM intake ORDER BY id DESC").fetchone()[0]
    assert "no reply: " + reply_to.lower() in steps
    # The customer's next mail, with that Reply-To again, moves the answers to its From.
    raw, _ = mail(CUSTOMER, f"Re: [SEP {tickets.ref_of(t)}] x", "SEP sesam 5.1.0 on SLES 15.")
    raw = raw.replace(b"From:", f"Reply-To: {reply_to}\nFrom:".encode(), 1)
    feed(desk, raw, T0 + timedelta(hours=2))
    assert tickets.recipient(ticket(desk, t["ticket_number"])) == CUSTOMER


def test_an_autoresponder_without_loop_headers_gets_the_missing_list_once(desk: Desk) -> None:
    """A mailbox that answers every mail with "Re: <subject>", quoting it, and sets no
    Auto-Submitted, Precedence or X-Auto-* header: each of its replies was a follow-up
    that supplied nothing, and each got the same needs_info list again (up to the limit)."""
    t, _ = needs_info(desk)
    for rnd in range(5):
        last = [r for r in outbox(desk) if json.loads(r["to_addrs"]) == [CUSTOMER]][-1]
        ours = email.message_from_bytes(last["raw"], policy=email.policy.default)
        quoted = "\n".join("> " + line for line in ours.get_content().splitlines())
        raw, _ = mail(
            CUSTOMER,
            f"Re: {ours['Subject']}",
            f"I am out of the office until 20 November.\n\n{quoted}\n",
            in_reply_to=last["message_id"],
        )
        result = feed(desk, raw, T0 + timedelta(hours=rnd + 1))
        assert (result.outcome, result.ticket) == ("follow_up", t["ticket_number"])
    to_customer = [r["kind"] for r in outbox(desk) if json.loads(r["to_addrs"]) == [CUSTOMER]]
    assert to_customer == ["needs_info"]
    assert ticket(desk, t["ticket_number"])["missing_info"] == t["missing_info"]


def test_a_follow_up_that_supplies_part_of_the_missing_information_is_answered(
    desk: Desk,
) -> None:
    """The list shrank: the customer hears what is still missing."""
    t, _ = needs_info(desk)
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] x", "SEP sesam 5.1.0 on SLES 15.")
    feed(desk, raw, T0 + timedelta(hours=1))
    kinds = [r["kind"] for r in outbox(desk) if json.loads(r["to_addrs"]) == [CUSTOMER]]
    assert kinds == ["needs_info", "needs_info"]
    assert "os_version" not in ticket(desk, t["ticket_number"])["missing_info"]


def test_max_auto_replies_per_day_per_sender(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, desk={**DESK, "max_auto_replies_per_day": 2})
    d = Desk.open(settings)
    try:
        for i in range(4):
            raw, _ = mail("kim@unknown.example", f"Question {i}", "How do I restore?")
            feed(d, raw, T0 + timedelta(minutes=i))
        to_kim = [r for r in outbox(d) if json.loads(r["to_addrs"]) == ["kim@unknown.example"]]
        assert len(to_kim) == 2
        assert d.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 4  # nothing lost
        raw, _ = mail("kim@unknown.example", "Question 5", "How do I restore?")
        feed(d, raw, T0 + timedelta(hours=25))
        assert len(outbox(d, kind="no_contract")) == 3  # a new day, a new allowance
    finally:
        d.close()


# --------------------------------------------------------------------------- two desks


def two_desks(tmp_path: Path, **extra: Any) -> tuple[Desk, Desk]:
    """Desks A and B, each the other's registered customer contact."""
    desks = []
    for me, other in (("a", "b"), ("b", "a")):
        folder = tmp_path / me
        folder.mkdir()
        csv = folder / "contracts.csv"
        csv.write_text(
            "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
            f"{900001 if other == 'a' else 900002},Desk {other.upper()},business,2026-01-01,2026-12-31,"
            f"support@{other}.example,SL-{other},full,\n",
            encoding="utf-8",
        )
        settings = make_settings(
            folder,
            desk={"support_address": f"support@{me}.example", "name": f"Desk {me}", **extra},
        )
        desk = Desk.open(settings)
        import_csv(desk.db, csv, T0)
        desks.append(desk)
    return desks[0], desks[1]


AUTO_HEADERS = re.compile(
    rb"^(Auto-Submitted|Precedence|X-Loop|X-Auto-Response-Suppress):[^\n]*\n", re.I | re.M
)


def shuttle(
    source: Desk, target: Desk, at: datetime, seen: set[tuple[str, int]], strip: bool = False
) -> int:
    """Feed every mail ``source`` queued for ``target``'s address into ``target``.

    ``strip`` plays a broken gateway that drops the loop headers on the way.
    """
    moved = 0
    address = target.settings.desk.support_address
    for row in outbox(source):
        key = (source.settings.desk.support_address, row["id"])
        if key in seen or address not in json.loads(row["to_addrs"]):
            continue
        seen.add(key)
        feed(target, AUTO_HEADERS.sub(b"", row["raw"]) if strip else row["raw"], at)
        moved += 1
    return moved


def test_two_desks_mailing_each_other_stop_after_one_acknowledgement_each(
    tmp_path: Path,
) -> None:
    a, b = two_desks(tmp_path)
    try:
        # Someone writes to each desk from the other desk's address: each answers once.
        feed(b, mail("support@a.example", "Restore fails", "Our restore fails.")[0], T0)
        feed(a, mail("support@b.example", "Restore fails", "Our restore fails.")[0], T0)
        seen: set[tuple[str, int]] = set()
        for rnd in range(10):
            at = T0 + timedelta(minutes=rnd + 1)
            if shuttle(a, b, at, seen) + shuttle(b, a, at, seen) == 0:
                break
        else:
            pytest.fail("the desks kept mailing each other")
        for desk, other in ((a, "support@b.example"), (b, "support@a.example")):
            answers = [r for r in outbox(desk) if other in json.loads(r["to_addrs"])]
            assert len(answers) == 1, [r["kind"] for r in answers]
            reasons = [r[0] for r in desk.db.execute("SELECT reason FROM intake WHERE id > 1")]
            assert reasons and all("Auto-Submitted" in r or "X-Loop" in r for r in reasons)
    finally:
        a.close()
        b.close()


def test_two_desks_without_loop_headers_stop_before_the_daily_limit(tmp_path: Path) -> None:
    a, b = two_desks(tmp_path, max_auto_replies_per_day=3)
    try:
        feed(b, mail("support@a.example", "Restore fails", "Our restore fails.")[0], T0)
        seen: set[tuple[str, int]] = set()
        for rnd in range(10):
            at = T0 + timedelta(minutes=rnd + 1)
            if shuttle(a, b, at, seen, strip=True) + shuttle(b, a, at, seen, strip=True) == 0:
                break
        else:
            pytest.fail("the desks kept mailing each other")
        for desk in (a, b):
            # A follow-up is answered only when it changed what the request misses (the
            # other desk's text names a classification once); then the two stop, before
            # the limit (3) would have stopped them.
            kinds = [r["kind"] for r in outbox(desk)]
            assert kinds in (["needs_info"], ["needs_info"] * 2)
    finally:
        a.close()
        b.close()


# --------------------------------------------------------------------------- the relay misbehaves


def test_relay_refusing_for_a_while_delays_but_keeps_the_reply(conversation: Conversation) -> None:
    c, desk = conversation, conversation.desk
    c.sink.fail_next(2, 451)  # the acknowledgement and the team notice, once each
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails", REQUEST, name="Pieter Dekker")
    c.traveller.move_to(T0)
    with smtplib.SMTP(c.settings.smtp.host, c.settings.smtp.port, timeout=10) as client:
        client.sendmail("someone@example.org", ["support@sep.example"], raw)
    runner.run_once(desk, T0)
    assert sender.run_once(desk, T0) == 2
    assert c.sink.received() == [] and len(outbox(desk, state="queued")) == 2
    later = T0 + timedelta(minutes=5)
    assert sender.run_once(desk, later) == 2
    assert [r["state"] for r in outbox(desk)] == ["sent", "sent"]
    assert len(c.sink.to(CUSTOMER)) == 1


def test_mail_reaches_the_relay_with_crlf_line_endings(conversation: Conversation) -> None:
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails", REQUEST, name="Pieter Dekker")
    conversation.send(raw, T0)
    received = conversation.sink.received()
    assert received and not any(r.bare_lf for r in received)


# --------------------------------------------------------------------------- order
# Mail of a conversation is processed in the order received, also with several pipeline
# processes: what a reply or a mail command does to a ticket depends on what came before
# (a crash soak with two processes saw a #solve refused because the customer's later
# reply was processed first, and a ticket reopened by a mail written before the solve).


def test_which_mail_names_a_thread() -> None:
    assert names_a_thread(b"Subject: x\r\nIn-Reply-To: <a@b>\r\n\r\nbody")
    assert names_a_thread(b"references:\r\n <a@b>\n\nbody")
    assert names_a_thread(b"Subject: Re: [SEP C-2026-00017] restore\n\nbody")
    # A folded Subject: the ticket number on the continuation line.
    assert names_a_thread(b"Subject: Re: our call\r\n [SEP T-2026-000012]\r\n\r\nbody")
    assert not names_a_thread(b"Subject: restore fails\nFrom: a@b.example\n\nsee T-2026-000012")
    assert not names_a_thread(b"X-References: <a@b>\nSubject: new\n\nIn-Reply-To: <a@b>")
    assert not names_a_thread(b"")
    # The thread step's own rule: encoded and spaced Subjects count, a short number not.
    encoded = b"Subject: =?utf-8?q?AW=3A_=5BSEP_T-2026-000123=5D_Sicherung_schl=C3=A4gt?=\n\nx"
    assert names_a_thread(encoded)
    assert names_a_thread(b"Subject: =?utf-8?b?W1NFUCBULTIwMjYtMDAwMTIzXSBIaWxmZQ==?=\n\nx")
    assert names_a_thread(b"Subject: Re: [SEP T - 2026 - 000123] x\n\nx")
    assert not names_a_thread(b"Subject: Re: T-2026-00012\n\nx")
    # A header ended by LF CR LF: the In-Reply-To line below it is the body's.
    assert not names_a_thread(b"Subject: x\n\r\nIn-Reply-To: <a@b>\n")


def test_one_process_takes_a_conversation_in_order_others_split_new_mail(desk: Desk) -> None:
    ids = [
        store_raw(desk.db, source="smtp", raw=raw, received_at=T0).intake_id
        for raw in (
            b"Subject: new 1\n\nx",
            b"Subject: Re: x\nIn-Reply-To: <a@b>\n\nx",
            b"Subject: new 2\n\nx",
            b"Subject: Re: x\nReferences: <a@b>\n\nx",
            b"Subject: new 3\n\nx",
        )
    ]
    shard0 = runner.pending_ids(desk, shard=(0, 2))
    shard1 = runner.pending_ids(desk, shard=(1, 2))
    assert sorted(shard0 + shard1) == ids
    assert {ids[1], ids[3]} <= set(shard0)  # both replies, in id order
    assert shard0 == sorted(shard0)
    # Helping another shard never takes mail of a conversation.
    assert set(runner.pending_ids(desk, unthreaded=True)) == {ids[0], ids[2], ids[4]}


def test_a_solve_and_the_customers_reply_keep_their_order_across_processes(desk: Desk) -> None:
    t, customer_mid = opened(desk)
    at = T0 + timedelta(hours=1)
    reply, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] restore", "It fails again.")
    solve, _ = engineer_mail(
        f"Re: [SEP {t['ticket_number']}] restore", "#solve\nFixed by the patch.",
        in_reply_to=customer_mid,
    )  # fmt: skip
    first = store_raw(desk.db, source="smtp", raw=reply, received_at=at).intake_id
    second = store_raw(desk.db, source="smtp", raw=solve, received_at=at + timedelta(minutes=1))
    assert first % 2 != second.intake_id % 2  # split by id they would go to both processes
    later = at + timedelta(minutes=2)
    odd, even = PipelineJob(desk, (1, 2), leave=()), PipelineJob(desk, (0, 2), leave=())
    # The process owning the solve's id by parity goes first: it must not take the solve.
    assert (odd if second.intake_id % 2 else even)(later) == 0
    assert (even if second.intake_id % 2 else odd)(later) == 2
    outcomes = desk.db.execute(
        "SELECT id, outcome, reason FROM intake WHERE id IN (?, ?) ORDER BY id",
        [first, second.intake_id],
    ).fetchall()
    assert [o[1] for o in outcomes] == ["follow_up", "follow_up"], outcomes
    assert ticket(desk, t["ticket_number"])["status"] == "solved"
    kinds = [
        r[0] for r in desk.db.execute("SELECT kind FROM events WHERE ticket_id = ?", [t["id"]])
    ]
    assert "solve" in kinds and "reopened" not in kinds


GRAVER = (
    "Update: the backups of last week fail the same way, and there is no other copy. "
    "Nobody in the warehouse can work."
)


def test_a_follow_up_showing_a_standstill_raises_the_severity_and_its_clock(desk: Desk) -> None:
    """A Major whose follow-up shows SPEC's Critical (older backups fail, nobody can work)
    stayed Major: the follow-up's text was never judged again. Now it is raised to 1, its
    due recomputed from receipt, and the raise is on record."""
    t, _ = opened(desk)
    assert (t["severity"], t["status"]) == (2, "accepted")
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore of FS01 fails", GRAVER)
    assert feed(desk, raw, T0 + timedelta(minutes=30)).outcome == "follow_up"
    t2 = ticket(desk, t["ticket_number"])
    assert t2["severity"] == 1
    assert t2["first_response_due"] < t["first_response_due"]
    assert events_of(desk, t2, "severity_raised") == [{"value": 1, "from": 2, "by": "follow-up"}]
    # The customer is told: the new due, and the hotline now it is Critical (review finding).
    [told] = [r for r in outbox(desk, ticket_id=t["id"]) if r["kind"] == "call_accepted"][1:]
    text = told["raw"].decode()
    assert desk.settings.desk.hotline_phone in text
    due = db_to_local(t2["first_response_due"], desk.settings.desk.timezone)
    assert due and due in text.replace("=\r\n", "").replace("=\n", "")
    # The team sees the raise in the notice's headline (review finding: it read as any
    # other follow-up).
    [notice] = [r for r in outbox(desk, ticket_id=t["id"]) if r["kind"] == "team_notice"][1:]
    assert notice["body"].startswith("Customer follow-up (severity raised from 2 to 1)")


def test_a_signature_in_an_earlier_mail_does_not_hide_the_follow_up(desk: Desk) -> None:
    """Each mail's signature is cut before the conversation is read as one text: cut from
    the joined text, the opening mail's separator took the follow-up with it."""
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails", f"{REQUEST}\n\n-- \nPieter Dekker\nIT")
    result = feed(desk, raw, T0)
    assert result.ticket is not None
    t = ticket(desk, result.ticket)
    assert (t["severity"], t["status"]) == (2, "accepted")
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore of FS01 fails", GRAVER)
    assert feed(desk, raw, T0 + timedelta(minutes=30)).outcome == "follow_up"
    assert ticket(desk, t["ticket_number"])["severity"] == 1


@pytest.mark.parametrize("before", ["severity set by hand", "answered"])
def test_a_follow_up_raises_no_severity_set_by_hand_or_answered(desk: Desk, before: str) -> None:
    t, _ = opened(desk)
    at = T0 + timedelta(minutes=10)
    if before == "answered":
        actions.apply(desk, t["ticket_number"], "respond", at, ENGINEER)
    else:
        actions.apply(desk, t["ticket_number"], "severity", at, ENGINEER, 3)
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore of FS01 fails", GRAVER)
    assert feed(desk, raw, T0 + timedelta(minutes=30)).outcome == "follow_up"
    t2 = ticket(desk, t["ticket_number"])
    assert t2["severity"] == (2 if before == "answered" else 3)
    assert events_of(desk, t2, "severity_raised") == []


def test_a_calmer_follow_up_lowers_no_severity(desk: Desk) -> None:
    t, _ = opened(desk)
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore of FS01 fails", "Thanks!")
    assert feed(desk, raw, T0 + timedelta(minutes=30)).outcome == "follow_up"
    assert ticket(desk, t["ticket_number"])["severity"] == 2


def test_a_follow_up_naming_a_demo_customer_raises_no_more_than_minor(desk: Desk) -> None:
    """A sender without a contract whose follow-up names a demo customer and a standstill
    was raised under no contract (to Major) and then recorded as the demo customer's:
    a demo ticket shown as Major, against SPEC's "demo: shown as Minor"."""
    stranger = "kim@gmail.example"
    question = "Hello, how do I configure a second media pool in SEP sesam?\nKim"
    result = feed(desk, mail(stranger, "Media pool", question)[0], T0)
    t = ticket(desk, str(result.ticket))
    assert (t["severity"], t["contract_state"]) == (4, "none")
    body = f"{GRAVER}\nOur customer number is 142071 (Nordlicht Medien GmbH)."
    raw, _ = mail(stranger, f"Re: [SEP {t['ticket_number']}] Media pool", body)
    assert feed(desk, raw, T0 + timedelta(minutes=30)).outcome == "follow_up"
    t2 = ticket(desk, t["ticket_number"])
    assert (t2["contract_level"], t2["contract_state"]) == ("demo", "current")
    assert t2["severity"] == 3
    assert events_of(desk, t2, "severity_raised") == [{"value": 3, "from": 4, "by": "follow-up"}]


def test_a_follow_up_raising_a_needs_info_ticket_is_answered(desk: Desk) -> None:
    """A needs-info ticket whose follow-up shows a standstill but supplies nothing was raised
    to Critical without a word to the customer: the "nothing supplied, no second list" rule
    swallowed the reply with its new due and the hotline number (SPEC §1: a Critical
    request by mail gets a reply giving the hotline number)."""
    body = "Hello,\nthe restore of our file server FS01 fails.\nPieter Dekker\n"
    t = ticket(desk, str(feed(desk, mail(CUSTOMER, "Restore of FS01 fails", body)[0], T0).ticket))
    assert (t["status"], t["severity"]) == ("needs-info", 2)
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] Restore of FS01 fails", GRAVER)
    assert feed(desk, raw, T0 + timedelta(minutes=30)).outcome == "follow_up"
    t2 = ticket(desk, t["ticket_number"])
    assert (t2["status"], t2["severity"]) == ("needs-info", 1)
    replies = outbox(desk, kind="needs_info")
    assert len(replies) == 2
    assert desk.settings.desk.hotline_phone in replies[1]["raw"].decode()


@pytest.mark.parametrize(
    ("body", "severity"),
    [
        ("Hello,\nthe restore of our file server FS01 fails.\nPieter Dekker\n", 2),
        (f"Hello,\nthe restore of our file server FS01 fails. {GRAVER}\nPieter Dekker\n", 1),
    ],
    ids=["major", "critical"],
)
def test_a_reply_reopening_a_request_still_missing_information_is_told(
    desk: Desk, body: str, severity: int
) -> None:
    """Review: solved while still missing information, reopened by the customer's reply:
    the "nothing supplied, no second list" rule recorded a "reply" decision and the
    reopening was told to nobody; a Critical one's new due and the hotline never mailed."""
    t = ticket(desk, str(feed(desk, mail(CUSTOMER, "Restore of FS01 fails", body)[0], T0).ticket))
    assert (t["status"], t["severity"]) == ("needs-info", severity)
    number = t["ticket_number"]
    actions.apply(desk, number, "solve", T0 + timedelta(minutes=30), ENGINEER)
    raw, _ = mail(CUSTOMER, f"Re: [SEP {number}] Restore of FS01 fails", "Not solved, sorry.")
    assert feed(desk, raw, T0 + timedelta(days=2)).outcome == "follow_up"
    after = ticket(desk, number)
    assert (after["status"], after["missing_info"]) == ("needs-info", t["missing_info"])
    [told] = outbox(desk, kind="needs_info")[1:]
    text = email.message_from_bytes(told["raw"], policy=email.policy.default).get_content()
    assert f"Your ticket {number} had been solved; we have reopened it" in text
    assert "operating system" in text.lower()
    due = db_to_local(after["first_response_due"], desk.settings.desk.timezone)
    assert due and due in text
    assert (desk.settings.desk.hotline_phone in text) == (severity == 1)


@pytest.mark.parametrize(
    "news",
    [
        "Hallo Frau Engineer,\n\nvielen Dank für Ihre Nachricht. Ich bin ab morgen im Urlaub,"
        " meine Kollegin Anna Schmidt übernimmt das Thema. Bitte schreiben Sie ihr direkt.\n",
        "Vielen Dank für Ihre Nachricht. Ich bin bis 30.11. nicht im Haus. In dringenden"
        " Fällen wenden Sie sich bitte an die Zentrale.\n",
    ],
    ids=["handover", "out-of-office"],
)
def test_a_follow_up_without_new_facts_raises_no_severity(desk: Desk, news: str) -> None:
    """Review: a Minor ticket's follow-up with no word on the problem raised it to Major
    (due 20 h earlier), quoting the subject: with the extra text the model was no longer
    sure of its Minor, and the rules' Major of the subject won. A raise needs this mail to
    make the judgement graver."""
    first = (
        "Hallo,\n\njetzt schlägt der Restore einer einzelnen Datei fehl: sbc-2002: Error:"
        " restore aborted, Fehler beim Schreiben.\n\nGruß\nThomas Weiss\n"
    )
    t = ticket(
        desk, str(feed(desk, mail(OTHER_CUSTOMER, "Restore bricht ab", first)[0], T0).ticket)
    )
    number = t["ticket_number"]
    setup = (
        "Hallo,\n\nEinstufung: Minor. Windows Server 2022, SEP sesam 5.1.0.4. Gesichert wird"
        " auf ein Synology NAS.\n\nGruß\nThomas Weiss\n"
    )
    raw, _ = mail(OTHER_CUSTOMER, f"AW: [SEP {number}] Restore bricht ab", setup)
    feed(desk, raw, T0 + timedelta(minutes=30))
    accepted = ticket(desk, number)
    assert (accepted["status"], accepted["severity"]) == ("accepted", 3)
    raw, _ = mail(OTHER_CUSTOMER, f"AW: [SEP {accepted['call_id']}] Restore bricht ab", news)
    assert feed(desk, raw, T0 + timedelta(hours=1)).outcome == "follow_up"
    after = ticket(desk, number)
    assert (after["severity"], after["first_response_due"]) == (3, accepted["first_response_due"])
    assert events_of(desk, after, "severity_raised") == []
    assert [r["kind"] for r in outbox(desk)][-1:] == ["team_notice"]


def test_the_answer_follows_the_language_the_customer_switches_to(desk: Desk) -> None:
    """Review: an English request's German follow-up was answered in English, and the
    ticket's language stayed en for good (SPEC §3: the language of the sender's own
    text); the reverse for an English colleague on a German ticket. A mail too short to
    tell changes nothing."""
    hangs = "Hello,\n\nour nightly backup job hangs at 95% since Monday. No error is shown.\n"
    t = ticket(desk, str(feed(desk, mail(CUSTOMER, "Backup job hangs", hangs)[0], T0).ticket))
    assert t["language"] == "en"
    number = t["ticket_number"]
    german = (
        "Hallo,\n\nich schreibe lieber auf Deutsch. Im Protokoll steht: sbc-3011: Error:"
        " Timeout waiting for data mover. Es ist ein Linux Server (Debian 12) mit SEP"
        " sesam 5.1.0.\n\nGruß\nPieter\n"
    )
    steps = [
        (CUSTOMER, german, "de", "Guten Tag"),
        (CUSTOMER, "Danke!", "de", None),
        (
            COLLEAGUE,
            "Hello, I am taking over from Pieter. We back up to a tape library; it is a Major issue.",
            "en",
            "Hello",
        ),
    ]
    for i, (who, body, lang, greeting) in enumerate(steps, 1):
        raw, _ = mail(who, f"Re: [SEP {number}] Backup job hangs", body)
        assert feed(desk, raw, T0 + timedelta(hours=i)).outcome == "follow_up"
        assert ticket(desk, number)["language"] == lang
        answer = [r for r in outbox(desk) if r["kind"] != "team_notice"][-1]
        if greeting:
            assert json.loads(answer["to_addrs"]) == [who] and answer["body"].startswith(greeting)


def test_the_call_id_notice_greets_the_colleague_it_is_sent_to(desk: Desk) -> None:
    """Review: a colleague took over a needs-info ticket, answers went to them, and the
    Call ID notice of an engineer's accept went to them too, but greeted the requester."""
    raw, _ = mail(CUSTOMER, "SQL Server backup slow", "Hi, backups are slow.", name="Pieter Dekker")
    number = str(feed(desk, raw, T0).ticket)
    raw, _ = mail(
        COLLEAGUE, f"RE: [SEP {number}] SQL Server backup slow", "Me now.", name="Jan Vos"
    )
    feed(desk, raw, T0 + timedelta(minutes=10))
    assert ticket(desk, number)["status"] == "needs-info"
    actions.apply(desk, number, "accept", T0 + timedelta(hours=1), ENGINEER)
    [notice] = outbox(desk, kind="call_accepted")
    assert json.loads(notice["to_addrs"]) == [COLLEAGUE]
    assert notice["body"].startswith("Hello Jan Vos,")
    # The requester writing again is greeted again.
    actions.apply(desk, number, "waiting", T0 + timedelta(hours=2), ENGINEER)
    raw, _ = mail(
        CUSTOMER, f"RE: [SEP {number}] SQL Server backup slow", "Back.", name="Pieter Dekker"
    )
    feed(desk, raw, T0 + timedelta(hours=3))
    assert notices.call_id_notice(desk, ticket(desk, number), T0 + timedelta(hours=3))
    assert outbox(desk, kind="call_accepted")[-1]["body"].startswith("Hello Pieter Dekker,")
