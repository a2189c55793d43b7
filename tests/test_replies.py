"""What the one mail a customer gets per message says (SPEC §1, §2, §4).

Each test opens tickets through the pipeline and reads the mail that goes out: the
identifiers it carries, what it asks for, and what it tells only registered contacts.
"""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sepdesk.desk import Desk
from sepdesk.sla import timer
from sepdesk.templates import readable_instant, severity_line, table
from tests.conftest import T0, make_settings
from tests.test_conversation import (
    CONTRACTS,
    CUSTOMER,
    DESK,
    REQUEST,
    engineer_mail,
    feed,
    import_csv,
    mail,
    outbox,
    ticket,
)

CUSTOMER_KINDS = ("ack", "call_accepted", "needs_info", "no_contract")
CONTRACT_131462 = "customer number 131462"  # CUSTOMER's contract, as the reply names it


def open_desk(tmp_path: Path, **desk_keys: Any) -> Desk:
    """A desk as test_conversation's (staff, team address), with the sample contracts."""
    d = Desk.open(make_settings(tmp_path, desk={**DESK, **desk_keys}))
    import_csv(d.db, CONTRACTS, T0)
    return d


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = open_desk(tmp_path)
    yield d
    d.close()


def replies(desk: Desk, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's mails to the customer, oldest first."""
    return [r for r in outbox(desk, ticket_id=ticket_id) if r["kind"] in CUSTOMER_KINDS]


def body(row: dict[str, Any]) -> str:
    msg = email.message_from_bytes(row["raw"], policy=email.policy.default)
    return str(msg.get_content())


def test_contract_details_go_to_a_registered_contact(desk: Desk) -> None:
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails", REQUEST)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    [reply] = replies(desk, t["id"])
    assert json.loads(reply["to_addrs"]) == [CUSTOMER]
    assert CONTRACT_131462 in body(reply) and "2027-01-31" in body(reply)


def test_contract_details_do_not_go_to_a_reply_to_outside_the_contacts(desk: Desk) -> None:
    """SPEC §4: "Contract details go only to registered contacts". The sender is one, but
    the desk answers the Reply-To (sample 004: a typo domain), which is not."""
    outsider = "edv@vandijk-logistik.nl"  # typo of the @vandijk-logistiek.nl contact domain
    vague = "Hello, our restore fails. Please help."
    raw, _ = mail(CUSTOMER, "Restore fails", vague, headers={"Reply-To": outsider})
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["verified_sender"] and t["customer_number"] == "131462"
    # The follow-up completes the request: its answer (the Call ID) goes to its Reply-To,
    # the same outsider again.
    subject = f"Re: [SEP {t['ticket_number']}] Restore fails"
    raw, _ = mail(CUSTOMER, subject, REQUEST, headers={"Reply-To": outsider})
    assert feed(desk, raw, T0 + timedelta(hours=1)).outcome == "follow_up"
    sent = replies(desk, t["id"])
    assert [r["kind"] for r in sent] == ["needs_info", "call_accepted"]
    for reply in sent:
        assert json.loads(reply["to_addrs"]) == [outsider]
        text = body(reply)
        assert t["ticket_number"] in text
        assert "131462" not in text and "2027-01-31" not in text and "business" not in text


def test_a_request_accepted_at_intake_gets_one_mail_with_both_identifiers(desk: Desk) -> None:
    """SPEC §2: the one acknowledgement carries the ticket number and the Call ID."""
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails", REQUEST)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert (t["status"], t["call_id"]) == ("accepted", "C-2026-00001")
    [reply] = replies(desk, t["id"])
    assert reply["kind"] == "call_accepted"
    assert reply["subject"] == "[SEP C-2026-00001] Restore of FS01 fails"
    text = body(reply)
    assert "T-2026-000001" in text and "C-2026-00001" in text


def test_the_acknowledgement_lists_what_is_missing_and_the_ticket_waits_for_it(
    desk: Desk,
) -> None:
    raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    missing = json.loads(t["missing_info"])
    assert t["status"] == "needs-info" and "error_message" in missing and "hardware" in missing
    [reply] = replies(desk, t["id"])
    labels = table("en", "fields")
    listed = [line[2:] for line in body(reply).splitlines() if line.startswith("- ")]
    assert listed == [labels[m] for m in missing]
    # A follow-up that supplies only some of it leaves the ticket waiting for the rest.
    raw, _ = mail(CUSTOMER, f"Re: [SEP {t['ticket_number']}] x", "Severity: Major")
    feed(desk, raw, T0 + timedelta(hours=1))
    after = ticket(desk, t["ticket_number"])
    assert after["status"] == "needs-info" and after["call_id"] is None
    still = json.loads(after["missing_info"])
    assert "classification" not in still and still == [m for m in missing if m != "classification"]
    [_, again] = replies(desk, t["id"])
    assert [line[2:] for line in body(again).splitlines() if line.startswith("- ")] == [
        labels[m] for m in still
    ]


CRITICAL = """Hello,

Severity: Critical. Our production is halted: the ERP database server crashed and the
restore from SEP sesam fails with ERROR: STS-42 data store not readable. There is no
workaround and older backups do not help either. The error occurs when we start the
restore from the GUI. Server: SLES 15 SP5, SEP sesam 5.1.0.4, backup to a Si3
deduplication store on a Dell PowerVault ME5012.
"""


def test_a_critical_request_by_mail_is_critical_and_the_reply_gives_the_hotline(
    desk: Desk,
) -> None:
    raw, _ = mail(CUSTOMER, "Production down: ERP restore fails", CRITICAL)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["severity"] == 1
    [reply] = replies(desk, t["id"])
    assert desk.settings.desk.hotline_phone in body(reply)
    # A Major request is not told to phone.
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails", REQUEST)
    major = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert major["severity"] == 2
    assert desk.settings.desk.hotline_phone not in body(replies(desk, major["id"])[0])


def test_an_older_version_is_named_in_the_reply(desk: Desk) -> None:
    """SPEC §1: a request naming an older SEP sesam version than current_version is told so."""
    current = desk.settings.policy.current_version
    assert current == "5.1.0"
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails", REQUEST.replace("5.1.0.4", "5.0.0.12"))
    old = ticket(desk, feed(desk, raw, T0).ticket or "")
    text = body(replies(desk, old["id"])[0])
    assert "5.0.0.12" in text and f"newest release, {current}" in text
    raw, _ = mail(CUSTOMER, "Restore of FS01 fails again", REQUEST)  # 5.1.0.4: current
    new = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert "newest release" not in body(replies(desk, new["id"])[0])


def test_a_demo_contract_is_shown_as_minor_whatever_the_mail_claims(desk: Desk) -> None:
    """SPEC §1 contracts: demo is best effort, shown as Minor, Mon-Fri 09:00-17:00."""
    demo = "j.petersen@nordlicht-medien.de"  # contact of 142071, a current demo contract
    raw, _ = mail(demo, "Production down: ERP restore fails", CRITICAL)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")  # Monday 2 November, 09:00 Berlin
    assert (t["contract_level"], t["stated_severity"], t["severity"]) == ("demo", 1, 3)
    assert "demo contract: shown as Minor (judged 1)" in t["severity_reasons"]
    # 12 h in Minor's hours from Monday 09:00: Tuesday 13:00 (not 4 h, not 24x7).
    assert t["first_response_due"] == "2026-11-03T12:00:00+00:00"
    assert "Severity: Minor." in body(replies(desk, t["id"])[0])


def test_every_mail_the_desk_sends_carries_the_configured_tag(tmp_path: Path) -> None:
    """SPEC §2: [<tag> T-...] on every mail, [<tag> C-...] once a Call ID exists; and
    SPEC §4: the loop headers on every one."""
    d = open_desk(tmp_path, tag="ACME", escalation_to=["lead@sep.example"])
    try:
        raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
        number = feed(d, raw, T0).ticket or ""
        before = {r["id"] for r in outbox(d)}
        accept, _ = engineer_mail(f"Re: [ACME {number}] x", "#accept\n")
        feed(d, accept, T0 + timedelta(minutes=5))
        call_id = ticket(d, number)["call_id"]
        assert call_id
        assert timer.run_once(d, T0 + timedelta(days=3)) >= 1  # the breach escalation
        reply, _ = engineer_mail(f"Re: [ACME {call_id}] x", "We are on it.")
        feed(d, reply, T0 + timedelta(days=3, minutes=5))
        rows = outbox(d)
        assert {r["kind"] for r in rows} >= {
            "needs_info",
            "team_notice",
            "call_accepted",
            "escalation",
            "relay",
        }
        for r in rows:
            ref = number if r["id"] in before else call_id
            assert r["subject"].startswith(f"[ACME {ref}] "), (r["kind"], r["subject"])
            sent = email.message_from_bytes(r["raw"])
            assert sent["Subject"].startswith(f"[ACME {ref}] ")
            # SPEC §4 No loops: RFC 3834 where automatic (not the engineer's own words),
            # and the loop header on every mail.
            automatic = "no" if r["kind"] == "relay" else "auto-replied"
            assert (sent["Auto-Submitted"], sent["X-Loop"]) == (automatic, "support@sep.example")
    finally:
        d.close()


@pytest.mark.parametrize("internal", [False, True])
def test_a_reply_to_an_escalation_does_what_the_escalation_says(
    tmp_path: Path, internal: bool
) -> None:
    """A lead's reply to the escalation mail is relayed to the customer, as a reply to a
    team notice is, unless it begins with #internal. The escalation said only "answer
    the customer in the ticket's mail thread", and a lead writing "Anna, can you take
    this one?" back to it had that sent to the customer as the ticket's answer."""
    d = open_desk(tmp_path, escalation_to=["lead@sep.example"])
    try:
        raw, _ = mail(CUSTOMER, "Restore fails", "Hello, our restore fails. Please help.")
        number = feed(d, raw, T0).ticket or ""
        assert timer.run_once(d, T0 + timedelta(days=3)) >= 1
        escalation = [r for r in outbox(d) if r["kind"] == "escalation"][-1]
        said = body(escalation)
        assert "A reply to this mail goes to the customer" in said
        assert "begin it with #internal" in said
        text = "Anna, can you take this one?"
        reply, _ = engineer_mail(
            f"Re: {escalation['subject']}",
            f"#internal\n{text}" if internal else text,
            in_reply_to=escalation["message_id"],
        )
        result = feed(d, reply, T0 + timedelta(days=3, minutes=5))
        assert result.outcome == "follow_up"
        relayed = [r for r in outbox(d, ticket_id=ticket(d, number)["id"]) if r["kind"] == "relay"]
        if internal:
            assert relayed == []
            assert ticket(d, number)["first_response_at"] is None
        else:
            assert [text in body(r) for r in relayed] == [True]
    finally:
        d.close()


def test_a_sender_without_a_contract_gets_a_ticket_and_the_ways_to_help(tmp_path: Path) -> None:
    """SPEC §1: a ticket all the same, and a reply with the Emergency Call form link from
    config and the hotline number."""
    form, phone = "https://forms.example/emergency?x=1", "+49 1234 5678"
    d = open_desk(tmp_path, emergency_form_url=form, hotline_phone=phone)
    try:
        for sender in ("anna@nocontract.example", "it@brennerhof-hotels.at"):  # none, expired
            raw, _ = mail(sender, "Restore of FS01 fails", REQUEST)
            t = ticket(d, feed(d, raw, T0).ticket or "")
            assert (t["status"], t["call_id"], t["first_response_due"]) == (
                "unqualified",
                None,
                None,
            )
            [reply] = replies(d, t["id"])
            assert reply["kind"] == "no_contract" and json.loads(reply["to_addrs"]) == [sender]
            text = body(reply)
            assert t["ticket_number"] in text and form in text and phone in text
    finally:
        d.close()


@pytest.mark.parametrize(
    ("text", "no_match", "asked_now", "asked_later"),
    [
        (
            "Hallo, unsere Sicherung schlägt fehl. Bitte helfen Sie uns.",
            "keinen gültigen Wartungsvertrag zuordnen",
            "fehlen uns noch folgende Angaben",
            "Sobald ein gültiger Vertrag besteht",
        ),
        (
            "Hello, our backup fails. Please help us.",
            "could not match your message",
            "we still need the following information",
            "Once a current contract is in place",
        ),
    ],
)
def test_an_expired_contract_s_reply_names_it_and_asks_for_details_for_later(
    tmp_path: Path, text: str, no_match: str, asked_now: str, asked_later: str
) -> None:
    """Review: the reply said the contract of 137805 had ended, then that no contract
    could be matched at all, and asked for the missing details as if a reply with them
    would get the request worked on; it stays unqualified whatever it says."""
    form, phone = "https://forms.example/emergency", "+49 1234 5678"
    d = open_desk(tmp_path, emergency_form_url=form, hotline_phone=phone)
    try:
        for sender, expired in (("it@brennerhof-hotels.at", True), ("x@nocontract.example", False)):
            raw, _ = mail(sender, "Backup", text)
            t = ticket(d, feed(d, raw, T0).ticket or "")
            assert t["status"] == "unqualified" and t["missing_info"] != "[]"
            [reply] = replies(d, t["id"])
            said = body(reply)
            assert form in said and phone in said and asked_later in said
            assert asked_now not in said
            assert ("2025-09-30" in said) is expired and (no_match in said) is not expired
    finally:
        d.close()


GAP_AND_FUTURE = (
    "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
    "999001,Zukunft GmbH,business,2027-03-01,,@zukunft.example,SL-Z-1,full,\n"
    "999002,Luecke AG,business,2025-01-01,2025-12-31,@luecke.example,SL-Z-2,full,\n"
    "999002,Luecke AG,business,2026-12-01,2027-11-30,@luecke.example,SL-Z-2,full,\n"
)
GERMAN_REQUEST = (
    "Guten Tag,\n\nseit gestern schlagen unsere nächtlichen Sicherungen fehl, bitte helfen"
    " Sie uns.\n\nMit freundlichen Grüßen\n"
)


@pytest.mark.parametrize(
    ("sender", "text", "said"),
    [
        (
            "a@luecke.example",
            REQUEST,
            "(customer number 999002) ended on 2025-12-31; the next one starts on 2026-12-01.",
        ),
        (
            "a@luecke.example",
            GERMAN_REQUEST,
            "(Kundennummer 999002) ist am 2025-12-31 abgelaufen; der nächste beginnt am 2026-12-01.",
        ),
        ("a@zukunft.example", REQUEST, "(customer number 999001) starts on 2027-03-01."),
        ("a@zukunft.example", GERMAN_REQUEST, "(Kundennummer 999001) beginnt am 2027-03-01."),
    ],
)
def test_a_customer_between_or_before_periods_is_told_when_the_next_starts(
    desk: Desk, tmp_path: Path, sender: str, text: str, said: str
) -> None:
    """A customer in a gap was told to renew a contract whose renewal was on file, and one
    whose only contract starts later that no contract matched (review finding)."""
    path = tmp_path / "periods.csv"
    path.write_text(GAP_AND_FUTURE, encoding="utf-8")
    import_csv(desk.db, path, T0)
    number = "999002" if "luecke" in sender else "999001"
    raw, _ = mail(sender, "Backup", f"{text}\nKundennummer: {number}\n")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["status"] == "unqualified" and t["verified_sender"]
    [reply] = replies(desk, t["id"])
    assert said in body(reply)
    assert "renew it" not in body(reply) and "could not match" not in body(reply)


def test_when_the_next_period_starts_goes_to_registered_contacts_only(
    desk: Desk, tmp_path: Path
) -> None:
    """SPEC §4: a stranger quoting the customer number learns nothing of its contracts."""
    path = tmp_path / "periods.csv"
    path.write_text(GAP_AND_FUTURE, encoding="utf-8")
    import_csv(desk.db, path, T0)
    raw, _ = mail("x@elsewhere.example", "Backup", f"{REQUEST}\nKundennummer: 999002\n")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["customer_number"] == "999002" and not t["verified_sender"]
    [reply] = replies(desk, t["id"])
    assert "2026-12-01" not in body(reply) and "could not match" in body(reply)


def test_an_emergency_contract_answers_any_severity_in_one_and_a_half_hours(
    desk: Desk,
) -> None:
    """SPEC §1 contracts: emergency, 1.5 h, 24 x 7, any severity (here a Sunday night)."""
    sunday_night = T0.replace(day=15, hour=22)  # 23:00 Berlin on Sunday 15 November
    raw, _ = mail("ops@fjordvik-shipping.no", "Restore of FS01 fails", REQUEST)
    t = ticket(desk, feed(desk, raw, sunday_night).ticket or "")
    assert (t["contract_level"], t["status"], t["severity"]) == ("emergency", "accepted", 2)
    # Not Major's Monday 16:00, and not Critical's 4 h: the contract's own terms.
    assert t["first_response_due"] == "2026-11-15T23:30:00+00:00"


def test_which_call_used_an_emergency_contract_goes_only_to_its_contacts(desk: Desk) -> None:
    """SPEC §4: a stranger naming the customer number of an emergency contract whose one
    incident is used was told it is an Emergency Call contract and the Call ID that used
    it (another person's ticket)."""
    at = T0.replace(day=16)  # the Fjordvik emergency contract (156902) runs from 14 November
    raw, _ = mail("ops@fjordvik-shipping.no", "Restore of FS01 fails", REQUEST)
    first = ticket(desk, feed(desk, raw, at).ticket or "")
    assert first["call_id"]
    again, _ = mail("ops@fjordvik-shipping.no", "Second problem", REQUEST)
    own = ticket(desk, feed(desk, again, at + timedelta(hours=1)).ticket or "")
    assert first["call_id"] in body(replies(desk, own["id"])[0])  # the contact is told which
    stranger, _ = mail("eve@evil.example", "Restore", "Kundennummer: 156902\n" + REQUEST)
    t = ticket(desk, feed(desk, stranger, at + timedelta(hours=2)).ticket or "")
    assert t["customer_number"] == "156902" and not t["verified_sender"]
    [reply] = replies(desk, t["id"])
    text = body(reply)
    assert first["call_id"] not in text and "Emergency Call contract" not in text
    assert desk.settings.desk.hotline_phone in text  # the ways to help, as to anyone


def test_a_stranger_naming_an_emergency_customer_does_not_use_its_one_incident(
    desk: Desk,
) -> None:
    """Review: a stranger quoting Fjordvik's customer number got the Emergency Call's one
    paid incident (a Call ID at once), and Fjordvik's own contact an hour later was told it
    was used. Now the stranger's request waits for an engineer's accept (the team notice
    says so), and counts as no incident until then."""
    at = T0.replace(day=16)  # the Fjordvik emergency contract (156902) runs from 14 November
    raw, mid = mail("spy@evil.example", "Restore", "Kundennummer: 156902\n" + REQUEST)
    spy = ticket(desk, feed(desk, raw, at).ticket or "")
    assert (spy["customer_number"], spy["verified_sender"]) == ("156902", 0)
    assert (spy["status"], spy["call_id"]) == ("new", None)
    assert spy["first_response_due"]  # an engineer is to look within the contract's time
    [reply] = replies(desk, spy["id"])
    assert reply["kind"] == "ack" and "Emergency Call" not in body(reply)
    [notice] = outbox(desk, ticket_id=spy["id"], kind="team_notice")
    assert "Accept:     not automatic: the requester is no registered contact" in body(notice)
    # The stranger's follow-up changes nothing and gets no second mail.
    again, _ = mail("spy@evil.example", "Re: Restore", "Any news?", in_reply_to=mid)
    assert feed(desk, again, at + timedelta(minutes=30)).outcome == "follow_up"
    assert ticket(desk, spy["ticket_number"])["status"] == "new"
    assert len(replies(desk, spy["id"])) == 1
    own, _ = mail("ole@fjordvik-shipping.no", "Restore urgent", REQUEST)
    t = ticket(desk, feed(desk, own, at + timedelta(hours=1)).ticket or "")
    assert t["status"] == "accepted" and t["call_id"]
    [notice] = outbox(desk, ticket_id=t["id"], kind="team_notice")
    assert "Accept:" not in body(notice)


@pytest.mark.parametrize(
    ("lang", "iso", "text"),
    [
        ("de", "2026-11-02T10:42:17+01:00", "Montag, 02.11.2026, 10:42 Uhr"),
        ("en", "2026-11-02T10:42:17+01:00", "Monday, 2 November 2026, 10:42"),
        ("de", "2026-03-29T05:30:00+02:00", "Sonntag, 29.03.2026, 05:30 Uhr"),
        ("en", "2026-12-31T09:05:00+01:00", "Thursday, 31 December 2026, 09:05"),
    ],
)
def test_a_due_reads_as_a_date_a_customer_knows_and_as_iso(lang: str, iso: str, text: str) -> None:
    """Review finding: customers read only "2026-11-02T10:42:17+01:00". The readable date
    comes first; the ISO instant (with its offset) stays beside it."""
    assert readable_instant(lang, iso) == text
    assert f"{text} ({iso})" in severity_line(lang, 2, iso)


SMIME = (
    b"From: Pieter Dekker <p.dekker@vandijk-logistiek.nl>\r\nTo: support@sep.example\r\n"
    b"Subject: Restore fails\r\nMessage-ID: <smime-1@vandijk-logistiek.nl>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggFM\r\n"
)
PDF_ONLY = (
    b"From: Pieter Dekker <p.dekker@vandijk-logistiek.nl>\r\nTo: support@sep.example\r\n"
    b"Subject: see log\r\nMessage-ID: <pdf-1@vandijk-logistiek.nl>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    b'Content-Type: application/pdf; name="log.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
    b'Content-Disposition: attachment; filename="log.pdf"\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n'
)


def test_an_encrypted_mail_is_said_to_be_unreadable_to_team_and_customer(desk: Desk) -> None:
    """An S/MIME (or PGP, or winmail.dat) mail became an empty ticket: the team notice
    ended with nothing, the customer was asked for everything (review finding)."""
    t = ticket(desk, feed(desk, SMIME, T0).ticket or "")
    [reply] = replies(desk, t["id"])
    assert "We could not read your message: it is encrypted" in body(reply)
    [notice] = outbox(desk, ticket_id=t["id"], kind="team_notice")
    text = body(notice)
    assert "Attachments: smime.p7m (application/pkcs7-mime, " in text
    assert "no readable text: the message is encrypted or signed as a whole (S/MIME)" in text
    assert f"tickets show {t['ticket_number']} --raw --message smime-1@" in text
    steps = desk.db.execute("SELECT steps FROM intake").fetchone()[0]
    assert "no readable text: the message is encrypted" in steps


@pytest.mark.parametrize(
    "raw",
    [
        SMIME.replace(b"Subject: Restore fails", b"Subject: SMIME enc"),
        mail(CUSTOMER, "inline PGP", "-----BEGIN PGP MESSAGE-----\n\nhQEM\n=ab\n")[0],
        PDF_ONLY.replace(b"application/pdf", b"application/ms-tnef").replace(
            b"log.pdf", b"winmail.dat"
        ),
    ],
)
def test_an_unreadable_request_is_minor_and_says_it_was_not_judged(desk: Desk, raw: bytes) -> None:
    """An encrypted or TNEF mail was Cosmetic, "question on use or configuration (no failure
    described)": judged from nothing (review finding). Unjudged, it is Minor, its clock
    running, and the reason says nothing could be read."""
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    assert t["severity"] == 3
    [reason] = json.loads(t["severity_reasons"])
    assert reason.startswith("no readable text, the message is ")
    assert reason.endswith(": severity not judged")
    assert t["first_response_due"] is not None
    [notice] = outbox(desk, ticket_id=t["id"], kind="team_notice")
    assert "severity not judged" in body(notice)


def test_a_failure_the_subject_of_an_unreadable_mail_names_counts(desk: Desk) -> None:
    """Only the subject was read, and a restore failing in it is Major as in any mail."""
    t = ticket(desk, feed(desk, SMIME, T0).ticket or "")
    assert t["severity"] == 2


def _wrapped(note: str, part: bytes, name: str = "wrapped") -> bytes:
    """A multipart/mixed mail of ``note`` beside ``part`` (a MIME part, headers and body)."""
    return (
        b"From: Pieter Dekker <p.dekker@vandijk-logistiek.nl>\r\nTo: support@sep.example\r\n"
        b"Subject: Restore fails\r\nMessage-ID: <" + name.encode() + b"@vandijk-logistiek.nl>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="w"\r\n\r\n--w\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + note.encode()
        + b"\r\n--w\r\n"
        + part
        + b"\r\n--w--\r\n"
    )


P7M_PART = (
    b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
    b'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7m"'
    b"\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAxggFM\r\n"
)
PGP_MIME_PART = (
    b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="e"'
    b"\r\n\r\n--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--e\r\n"
    b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n'
    b"-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA1234567890ABCDEF\r\n-----END PGP MESSAGE-----\r\n"
    b"--e--\r\n"
)
GATEWAY_NOTE = "This message was encrypted by the Example Corp gateway."


@pytest.mark.parametrize(
    ("part", "why"),
    [(P7M_PART, "encrypted (S/MIME)"), (PGP_MIME_PART, "encrypted (PGP/MIME)")],
)
def test_an_encrypted_part_beside_a_gateway_note_is_unreadable(
    desk: Desk, part: bytes, why: str
) -> None:
    """A gateway's one-line note beside its smime.p7m was read as the request: no "send it
    again unencrypted", and the team notice showed the note (review finding)."""
    t = ticket(desk, feed(desk, _wrapped(GATEWAY_NOTE, part), T0).ticket or "")
    [reply] = replies(desk, t["id"])
    assert "We could not read your message: it is encrypted" in body(reply)
    [notice] = outbox(desk, ticket_id=t["id"], kind="team_notice")
    assert f"no readable text: the message is {why}" in body(notice)


def test_a_request_written_out_beside_an_encrypted_file_is_readable(desk: Desk) -> None:
    """Only a short note beside the encrypted part makes a mail unreadable: a request
    written out in the clear, with an encrypted log attached, is read as written."""
    t = ticket(desk, feed(desk, _wrapped(REQUEST, P7M_PART), T0).ticket or "")
    [reply] = replies(desk, t["id"])
    assert "could not read" not in body(reply)
    assert t["severity"] == 2


def test_an_inline_pgp_block_below_a_short_note_is_unreadable(desk: Desk) -> None:
    raw, _ = mail(CUSTOMER, "Restore fails", f"{GATEWAY_NOTE}\n\n{PGP_BLOCK}")
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    [reply] = replies(desk, t["id"])
    assert "We could not read your message: it is encrypted" in body(reply)


PGP_BLOCK = "-----BEGIN PGP MESSAGE-----\n\nhQEMA1234567890ABCDEF\n-----END PGP MESSAGE-----"


def _encrypted_follow_up(ref: str) -> bytes:
    """A PGP/MIME reply of CUSTOMER's on ticket ``ref``."""
    return (
        b"From: Pieter Dekker <p.dekker@vandijk-logistiek.nl>\r\nTo: support@sep.example\r\n"
        b"Subject: Re: [SEP " + ref.encode() + b"] Restore fails\r\n"
        b"Message-ID: <enc-fu@vandijk-logistiek.nl>\r\nMIME-Version: 1.0\r\n" + PGP_MIME_PART
    )


@pytest.mark.parametrize(
    ("request_text", "kind"),
    [("Hello, our restore fails. Please help.", "needs_info"), (REQUEST, "call_accepted")],
)
def test_an_encrypted_follow_up_is_asked_for_again(
    desk: Desk, request_text: str, kind: str
) -> None:
    """A PGP/MIME reply on a needs-info ticket went to the team alone: the customer, told
    nothing, believed the missing information sent (review finding). Every unreadable
    follow-up is answered once, asking for it again unencrypted."""
    raw, _ = mail(CUSTOMER, "Restore fails", request_text)
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    follow_up = _encrypted_follow_up(t["ticket_number"])
    assert feed(desk, follow_up, T0 + timedelta(minutes=5)).outcome == "follow_up"
    _ack, answer = replies(desk, t["id"])
    assert answer["kind"] == kind
    assert "We could not read your message: it is encrypted" in body(answer)
    assert feed(desk, follow_up, T0 + timedelta(minutes=6)).outcome == "duplicate"
    assert len(replies(desk, t["id"])) == 2


def test_an_attachment_only_mail_lists_its_attachments_and_reads_as_readable(
    desk: Desk,
) -> None:
    t = ticket(desk, feed(desk, PDF_ONLY, T0).ticket or "")
    [reply] = replies(desk, t["id"])
    assert "could not read" not in body(reply)
    [notice] = outbox(desk, ticket_id=t["id"], kind="team_notice")
    assert "Attachments: log.pdf (application/pdf, " in body(notice)
    assert "(no text)" in body(notice)


def test_tickets_show_raw_writes_an_incoming_mail(desk: Desk, tmp_path: Path) -> None:
    """No command reached the mail a team notice said nothing of (review finding)."""
    from click.testing import CliRunner

    from sepdesk.cli import main
    from tests.conftest import write_toml

    first = feed(desk, SMIME, T0).ticket or ""
    raw2, _ = mail(CUSTOMER, f"Re: [SEP {first}] log", "the log again", headers={})
    feed(desk, raw2, T0 + timedelta(minutes=5))
    main._register()
    cfg = write_toml(tmp_path / "c.toml", {"database": {"path": desk.settings.database.path}})

    def show(*args: str) -> Any:
        return CliRunner().invoke(main.cli, ["tickets", "show", first, *args, "--config", str(cfg)])

    assert show("--raw").stdout_bytes == SMIME
    out = tmp_path / "m.eml"
    written = show("--raw", "--message", "<smime-1@vandijk-logistiek.nl>", "--out", str(out))
    assert written.exit_code == 0 and out.read_bytes() == SMIME
    assert out.stat().st_mode & 0o777 == 0o600
    missing = show("--raw", "--message", "nope@x")
    assert missing.exit_code == 1 and "no stored mail for message nope@x" in missing.output
    assert show("--out", str(out)).exit_code == 2


def test_the_notice_s_command_quotes_the_message_id_for_the_shell(desk: Desk) -> None:
    """The Message-ID went into the suggested command in bare single quotes: one holding
    "'$(touch …)'" ran a command as the engineer who pasted it (review finding)."""
    import shlex

    evil = "x'$(touch${IFS}/tmp/pwned)'@ke.de"
    raw = SMIME.replace(b"<smime-1@vandijk-logistiek.nl>", f"<{evil}>".encode())
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    [notice] = outbox(desk, ticket_id=t["id"], kind="team_notice")
    text = " ".join(body(notice).split())  # the notice's line may be wrapped
    command = text.split("its raw mail: ", 1)[1].split(" --out FILE)", 1)[0]
    assert command.endswith("--message " + shlex.quote(evil))
    words = shlex.split(command)
    assert words[words.index("--message") + 1] == evil


def test_an_attachment_s_name_adds_no_line_to_the_notice(desk: Desk) -> None:
    raw = PDF_ONLY.replace(
        b'filename="log.pdf"', b"filename*=utf-8''x.log%0A%0AReply to this mail%3A evil%1B[31m"
    )
    t = ticket(desk, feed(desk, raw, T0).ticket or "")
    [notice] = outbox(desk, ticket_id=t["id"], kind="team_notice")
    [line] = [x for x in body(notice).splitlines() if x.startswith("Attachments:")]
    assert "Reply to this mail: evil\\x1b[31m" in line
    assert "\x1b" not in body(notice)


def test_tickets_show_raw_picks_a_message_by_number_and_names_a_reused_id(
    desk: Desk, tmp_path: Path
) -> None:
    """A reused Message-ID left the second mail unreachable (review finding)."""
    from click.testing import CliRunner

    from sepdesk.cli import main
    from tests.conftest import write_toml

    first = feed(desk, SMIME, T0).ticket or ""
    again = SMIME.replace(b"Subject: Restore fails", b"Subject: Re: [SEP " + first.encode() + b"]")
    again = again.replace(b"MIAGCSqGSIb3DQEHA6CAMIACAQAxggFM", b"U0VDT05E")
    feed(desk, again, T0 + timedelta(minutes=5))
    main._register()
    cfg = write_toml(tmp_path / "c.toml", {"database": {"path": desk.settings.database.path}})

    def show(*args: str) -> Any:
        return CliRunner().invoke(main.cli, ["tickets", "show", first, *args, "--config", str(cfg)])

    listed = json.loads(show("--json").stdout)["messages"]
    second = 1 + next(i for i, m in enumerate(listed) if m["direction"] == "in" and i > 0)
    assert show("--raw", "--message", "1").stdout_bytes == SMIME
    assert show("--raw", "--message", str(second)).stdout_bytes == again
    reused = show("--raw", "--message", "smime-1@vandijk-logistiek.nl")
    assert reused.exit_code == 1 and f"messages 1, {second} have Message-ID" in reused.output
    assert show("--raw", "--message", "2").exit_code == 1  # the acknowledgement: no mail
