"""Hotline log CSV import (SPEC §3) and the hotline spool: phone calls become tickets."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.hotline.csvrows import FIELDS, sniff_delimiter
from sepdesk.hotline.importer import ImportSummary, RowResult, import_file
from sepdesk.hotline.spool import SpoolJob, spool_status
from sepdesk.intake.files import ingest_file
from sepdesk.outbound.outbox import raw_of
from sepdesk.tickets import store as tickets
from tests.conftest import CONTRACTS, T0, write_toml

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
MUELLER = "t.weiss@mueller-maschinenbau.de"  # a registered contact of 104217 (business)


def row(uid: str, **values: str) -> dict[str, str]:
    base = {
        "call_uid": uid,
        "started_at": "2026-11-23T10:00:00",
        "caller_name": "Tom Weiss",
        "caller_phone": "+49 30 555",
        "caller_email": MUELLER,
        "customer_number": "104217",
        "severity": "2",
        "summary": "Backup job fails with error 42",
        "engineer": "",
        "ticket": "",
    }
    base.update(values)
    return base


def write_csv(
    path: Path,
    rows: list[dict[str, str]],
    *,
    delimiter: str = ",",
    bom: bool = False,
    header: list[str] | None = None,
) -> Path:
    header = header or list(FIELDS)
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header])
    return path


def run(
    desk: Desk, path: Path, at: datetime = AT, **kw: Any
) -> tuple[ImportSummary, list[RowResult]]:
    results: list[RowResult] = []
    summary = import_file(desk, path, at, on_result=results.append, **kw)
    return summary, results


def outbox(desk: Desk) -> list[dict[str, Any]]:
    rows = desk.db.query("SELECT * FROM outbox ORDER BY id")
    return [{**r, "raw": raw_of(desk.settings, r)} for r in rows]


def body_of(raw: bytes) -> str:
    from email import message_from_bytes, policy

    msg = message_from_bytes(raw, policy=policy.default)
    return str(msg.get_content())


def count(desk: Desk, table: str) -> int:
    return int(desk.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


@pytest.fixture
def hdesk(sample_desk: Desk) -> Desk:
    return sample_desk


# --------------------------------------------------------------------------- good rows


def test_good_rows_become_accepted_phone_tickets_with_mail(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "calls.csv", [row("H1"), row("H2", severity="Critical")])
    summary, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["new_ticket", "new_ticket"]
    assert summary.rejected == 0 and summary.rejects_file is None
    assert not (tmp_path / "calls.csv.rejects.csv").exists()
    t = tickets.record(hdesk.db, tickets.find(hdesk.db, results[0].ticket or ""), hdesk.tz)
    assert t["channel"] == "phone" and t["status"] == "accepted"
    assert t["call_id"] == results[0].ticket and t["call_id"].startswith("C-2026-")
    assert t["customer_number"] == "104217" and t["contract_level"] == "business"
    assert t["verified_sender"] is True and t["missing_info"] == []
    assert t["received_at"] == "2026-11-23T10:00:00+01:00"
    assert t["first_response_due"] == "2026-11-23T18:00:00+01:00"  # Major, 8 h Mon-Fri 08-18
    assert t["first_response_at"] is None
    assert t["messages"][0]["direction"] == "in"
    mails = outbox(hdesk)
    assert [m["kind"] for m in mails] == ["confirmation", "confirmation"]
    assert json.loads(mails[0]["to_addrs"]) == [MUELLER]
    assert mails[0]["subject"] == f"[SEP {t['call_id']}] Backup job fails with error 42"
    text = body_of(mails[0]["raw"])
    assert t["ticket_number"] in text and t["call_id"] in text
    assert "104217" in text and "2026-12-31" in text  # contract details: a registered contact
    assert "Anruf" in text  # .de domain: German


def test_severity_names_english_and_german(hdesk: Desk, tmp_path: Path) -> None:
    names = ["critical", "MAJOR", "Minor", "cosmetic", "kritisch", "schwer", "leicht", "4"]
    src = write_csv(tmp_path / "s.csv", [row(f"S{i}", severity=n) for i, n in enumerate(names)])
    _, results = run(hdesk, src)
    got = [tickets.find(hdesk.db, r.ticket or "")["severity"] for r in results]
    assert got == [1, 2, 3, 4, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("started", "received", "due"),
    [
        # naive = Europe/Berlin, winter (CET) and summer (CEST)
        ("2026-02-10T09:00:00", "2026-02-10T09:00:00+01:00", "2026-02-10T13:00:00+01:00"),
        ("2026-07-01T10:00:00", "2026-07-01T10:00:00+02:00", "2026-07-01T14:00:00+02:00"),
        # Critical across the switches: exactly 4 real hours (SPEC §1)
        ("2026-03-29T00:30:00", "2026-03-29T00:30:00+01:00", "2026-03-29T05:30:00+02:00"),
        ("2026-10-25T01:30:00+02:00", "2026-10-25T01:30:00+02:00", "2026-10-25T04:30:00+01:00"),
        # naive in the hour the clocks go back (twice) or spring skips (never): the earlier
        # instant, so the deadline cannot come late
        ("2026-10-25T02:30:00", "2026-10-25T02:30:00+02:00", "2026-10-25T05:30:00+01:00"),
        ("2026-03-29T02:30:00", "2026-03-29T01:30:00+01:00", "2026-03-29T06:30:00+02:00"),
        # an explicit offset other than the desk's is the same instant, shown in desk time
        ("2026-07-01T08:00:00Z", "2026-07-01T10:00:00+02:00", "2026-07-01T14:00:00+02:00"),
    ],
)
def test_timestamps_naive_and_offset_cet_cest(
    hdesk: Desk, tmp_path: Path, started: str, received: str, due: str
) -> None:
    src = write_csv(tmp_path / "t.csv", [row("T1", started_at=started, severity="1")])
    _, results = run(hdesk, src)
    t = tickets.record(hdesk.db, tickets.find(hdesk.db, results[0].ticket or ""), hdesk.tz)
    assert (t["received_at"], t["first_response_due"]) == (received, due)


def test_engineer_on_new_ticket_is_the_first_response(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "e.csv", [row("E1", engineer="m.berger")])
    _, results = run(hdesk, src)
    t = tickets.record(hdesk.db, tickets.find(hdesk.db, results[0].ticket or ""), hdesk.tz)
    assert t["first_response_at"] == "2026-11-23T10:00:00+01:00" and t["breached"] is False


def test_customer_found_by_caller_email_without_number(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "c.csv",
        [row("C1", customer_number="", caller_email="anyone@stadtwerke-havelberg.de")],
    )
    _, results = run(hdesk, src)
    t = tickets.find(hdesk.db, results[0].ticket or "")
    assert t["customer_number"] == "118530" and t["match_basis"] == "contact"
    assert t["call_id"]


def test_unknown_customer_gets_ticket_and_mail_without_contract_details(
    hdesk: Desk, tmp_path: Path
) -> None:
    src = write_csv(
        tmp_path / "u.csv",
        [row("U1", customer_number="999999", caller_email="anna@example.com", caller_name="Anna")],
    )
    _, results = run(hdesk, src)
    t = tickets.record(hdesk.db, tickets.find(hdesk.db, results[0].ticket or ""), hdesk.tz)
    assert t["status"] == "unqualified" and t["call_id"] is None
    assert t["customer_number"] is None and t["contract_level"] is None
    assert t["language"] == "en"
    [mail] = outbox(hdesk)
    assert json.loads(mail["to_addrs"]) == ["anna@example.com"]
    text = body_of(mail["raw"])
    assert t["ticket_number"] in text and "Emergency Call" in text
    assert "business" not in text and "valid until" not in text and "104217" not in text


def test_an_expired_contract_s_caller_is_not_told_no_contract_was_found(
    hdesk: Desk, tmp_path: Path
) -> None:
    """As for mail (review finding): the confirmation named the contract that had ended,
    then said the call matched no contract at all."""
    call = row("E1", customer_number="137805", caller_email="it@brennerhof-hotels.at")
    run(hdesk, write_csv(tmp_path / "e.csv", [call]))
    text = body_of(outbox(hdesk)[0]["raw"])
    assert "2025-09-30" in text and "Emergency Call" in text
    assert "keinem aktuellen Wartungsvertrag" not in text and "could not match" not in text


@pytest.mark.parametrize(
    ("email", "promise", "passed"),
    [
        (MUELLER, "erhalten Sie bis", "bereits verstrichen"),
        ("ops@example.com", "You will receive a first response", "has already passed"),
    ],
)
def test_a_due_already_past_is_not_promised(
    hdesk: Desk, tmp_path: Path, email: str, promise: str, passed: str
) -> None:
    """A call of 10:00 imported at 20:47 was promised a first response "bis 18:00"
    (review finding): a due past when the mail is written is said to have passed."""
    calls = [
        row("P1", caller_email=email),
        row("P2", caller_email=email, started_at="2026-11-23T20:00"),
    ]
    run(hdesk, write_csv(tmp_path / "late.csv", calls), at=AT + timedelta(hours=6))
    late, fresh = (body_of(m["raw"]) for m in outbox(hdesk))
    assert passed in late and promise not in late and "18:00" in late
    assert promise in fresh and passed not in fresh


def test_caller_who_is_not_a_contact_gets_no_contract_details(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "n.csv", [row("N1", caller_email="someone@gmail.com")])
    _, results = run(hdesk, src)
    t = tickets.find(hdesk.db, results[0].ticket or "")
    assert t["call_id"] and not t["verified_sender"]
    text = body_of(outbox(hdesk)[0]["raw"])
    assert t["call_id"] in text and "2026-12-31" not in text and "business" not in text


def test_a_caller_of_several_customers_is_asked_for_the_customer_number(
    hdesk: Desk, tmp_path: Path
) -> None:
    """A contact of two current customers, no customer_number: the confirmation told
    them only to buy an Emergency Call and never asked which customer they are, where
    the answer to a mail asks (review finding)."""
    contracts = tmp_path / "amb.csv"
    contracts.write_text(
        "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
        "700001,Alpha GmbH,business,2026-01-01,2026-12-31,shared@dienstleister.de,L1,full,\n"
        "700002,Beta GmbH,business,2026-01-01,2026-12-31,shared@dienstleister.de,L2,full,\n",
        encoding="utf-8",
    )
    import_csv(hdesk.db, contracts, AT)
    call = row("AM1", customer_number="", caller_email="shared@dienstleister.de")
    _, results = run(hdesk, write_csv(tmp_path / "amb_call.csv", [call]))
    t = tickets.find(hdesk.db, results[0].ticket or "")
    assert t["status"] == "needs-info" and t["customer_number"] is None
    text = body_of(outbox(hdesk)[0]["raw"])
    assert "für welche Kundennummer die Anfrage gilt" in text
    assert "Emergency Call" not in text  # not told it has no contract: it has two
    mail = tmp_path / "m.eml"  # the caller's answer by mail
    mail.write_bytes(
        f"From: Sam <shared@dienstleister.de>\r\nTo: support@sep.example\r\n"
        f"Subject: Re: [SEP {t['ticket_number']}] Backup\r\nMessage-ID: <am1@dl.de>\r\n"
        "\r\nEs geht um Kundennummer 700002.\r\n".encode()
    )
    ingest_file(hdesk, mail, AT + timedelta(hours=1))
    t = tickets.find(hdesk.db, t["ticket_number"])
    assert t["customer_number"] == "700002" and t["first_response_due"] is not None


def test_no_caller_email_mails_registered_full_addresses_only(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "m.csv",
        [row("M1", caller_email=""), row("M2", caller_email="", customer_number="118530")],
    )
    run(hdesk, src)
    mails = outbox(hdesk)
    # 104217 has two addresses; 118530 only "@stadtwerke-havelberg.de": no mail at all
    assert len(mails) == 1
    assert sorted(json.loads(mails[0]["to_addrs"])) == [
        "it@mueller-maschinenbau.de",
        "t.weiss@mueller-maschinenbau.de",
    ]


# --------------------------------------------------------------------------- appending


def test_row_naming_a_ticket_is_appended_and_counts_as_response(
    hdesk: Desk, tmp_path: Path
) -> None:
    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("A1")]))
    call_id = first[0].ticket or ""
    t0 = tickets.find(hdesk.db, call_id)
    follow = row("A2", started_at="2026-11-23T12:15:00", engineer="m.berger", ticket=call_id)
    _, results = run(hdesk, write_csv(tmp_path / "b.csv", [follow]))
    assert results[0].outcome == "appended" and results[0].ticket == call_id
    t = tickets.record(hdesk.db, tickets.find(hdesk.db, t0["ticket_number"]), hdesk.tz)
    assert t["first_response_at"] == "2026-11-23T12:15:00+01:00"
    assert [m["direction"] for m in t["messages"]].count("in") == 2
    kinds = [
        r["kind"]
        for r in hdesk.db.query("SELECT kind FROM messages WHERE ticket_id = ?", [t0["id"]])
    ]
    assert kinds.count("phone") == 2
    assert len(outbox(hdesk)) == 1  # the appended call sends no mail
    assert count(hdesk, "tickets") == 1


def test_a_call_of_another_customer_is_not_appended(hdesk: Desk, tmp_path: Path) -> None:
    """Appending makes the caller one of the ticket's people, whom threading trusts."""
    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("O1")]))  # customer 104217
    other = row("O2", customer_number="196630", caller_email="m.kruse@hvm-ag.de")
    other["ticket"] = first[0].ticket or ""
    summary, results = run(hdesk, write_csv(tmp_path / "b.csv", [other]))
    assert results[0].outcome == "rejected" and summary.rejected == 1
    assert "is customer 104217's, the call names customer 196630" in results[0].reason
    messages = hdesk.db.execute("SELECT count(*) FROM messages WHERE kind = 'phone'")
    assert messages.fetchone()[0] == 1


def test_call_appended_to_a_mail_ticket(hdesk: Desk, tmp_path: Path) -> None:
    mail = tmp_path / "m.eml"
    mail.write_bytes(
        b"From: Tom Weiss <t.weiss@mueller-maschinenbau.de>\r\n"
        b"To: support@sep.example\r\nSubject: Restore is slow\r\n"
        b"Message-ID: <m1@mueller-maschinenbau.de>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0100\r\n"
        b"\r\nOur restore is slow.\r\n"
    )
    rec = ingest_file(hdesk, mail, datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    assert rec.ticket
    number = tickets.find(hdesk.db, rec.ticket)["ticket_number"]
    src = write_csv(
        tmp_path / "x.csv", [row("X1", ticket=number.lower(), summary="", engineer="eng")]
    )
    _, results = run(hdesk, src)
    assert results[0].outcome == "appended"
    t = tickets.find(hdesk.db, number)
    assert t["first_response_at"] is not None


def test_an_engineers_call_before_the_ticket_came_is_no_response(
    hdesk: Desk, tmp_path: Path
) -> None:
    """A mail received at 17:30 was "answered" by a call at 14:00: response time -3 h,
    and the SLA report counted it as met (review finding). The call goes on record;
    the clock runs on until a response after the receipt."""
    mail = tmp_path / "m.eml"
    mail.write_bytes(
        b"From: Tom Weiss <t.weiss@mueller-maschinenbau.de>\r\n"
        b"To: support@sep.example\r\nSubject: Restore is slow\r\n"
        b"Message-ID: <m2@mueller-maschinenbau.de>\r\n\r\nOur restore is slow.\r\n"
    )
    rec = ingest_file(hdesk, mail, datetime(2026, 11, 23, 16, 30, tzinfo=UTC))
    number = tickets.find(hdesk.db, rec.ticket or "")["ticket_number"]
    early = row("E1", started_at="2026-11-23T14:00:00", engineer="anna", ticket=number)
    _, results = run(hdesk, write_csv(tmp_path / "e.csv", [early]), at=AT + timedelta(hours=4))
    assert results[0].outcome == "appended" and "not counted as a response" in results[0].reason
    t = tickets.find(hdesk.db, number)
    assert t["first_response_at"] is None and t["next_escalation_at"] is not None
    responded = "SELECT count(*) FROM events WHERE ticket_id = ? AND kind = 'responded'"
    assert hdesk.db.execute(responded, [t["id"]]).fetchone()[0] == 0
    later = row("E2", started_at="2026-11-23T18:00:00", engineer="anna", ticket=number)
    run(hdesk, write_csv(tmp_path / "f.csv", [later]), at=AT + timedelta(hours=5))
    t = tickets.record(hdesk.db, tickets.find(hdesk.db, number), hdesk.tz)
    assert t["first_response_at"] == "2026-11-23T18:00:00+01:00"


def test_a_graver_call_raises_the_ticket_and_a_milder_one_leaves_it(
    hdesk: Desk, tmp_path: Path
) -> None:
    """SPEC §1: Critical issues are phoned in. A Critical call about a ticket opened as
    Major kept Major's due (review finding): the hotline's word raises it, as an
    engineer's #severity would; a milder call leaves it."""
    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("S1")]))  # Major
    call_id = first[0].ticket or ""
    before = tickets.find(hdesk.db, call_id)
    critical = row("S2", started_at="2026-11-23T10:30:00", severity="1", ticket=call_id)
    run(hdesk, write_csv(tmp_path / "b.csv", [critical]))
    raised = tickets.find(hdesk.db, call_id)
    assert (before["severity"], raised["severity"]) == (2, 1)
    assert raised["first_response_due"] < before["first_response_due"]
    events = list(
        hdesk.db.query(
            "SELECT * FROM events WHERE ticket_id = ? AND kind = 'severity'", [raised["id"]]
        )
    )
    assert [json.loads(e["detail"])["by"] for e in events] == ["hotline call S2"]
    minor = row("S3", started_at="2026-11-23T11:00:00", severity="3", ticket=call_id)
    run(hdesk, write_csv(tmp_path / "c.csv", [minor]))
    assert tickets.find(hdesk.db, call_id)["severity"] == 1


def test_a_call_on_a_solved_ticket_reopens_it_with_a_clock_from_the_call(
    hdesk: Desk, tmp_path: Path
) -> None:
    """A Critical "the problem is back" call on a solved ticket left it solved: no clock,
    no escalation, in no open list (review finding). As a customer's mail within
    reopen_days, it reopens the ticket, and the clock runs from the call."""
    from sepdesk.tickets.actions import apply

    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("RO1")]))  # Major, due 18:00
    ref = first[0].ticket or ""
    apply(hdesk, ref, "solve", datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "eng")  # in time
    back = row("RO2", started_at="2026-11-23T19:00:00", severity="1", ticket=ref, summary="")
    _, results = run(hdesk, write_csv(tmp_path / "b.csv", [back]), at=AT + timedelta(hours=6))
    assert results[0].outcome == "appended"
    stored = tickets.find(hdesk.db, ref)
    assert (stored["status"], stored["severity"], stored["breached"]) == ("accepted", 1, 0)
    assert stored["next_escalation_at"] is not None  # the timer will warn and escalate
    t = tickets.record(hdesk.db, stored, hdesk.tz)
    assert t["first_response_due"] == "2026-11-23T23:00:00+01:00"  # 4 h from the call
    kinds = [e["kind"] for e in hdesk.db.query("SELECT kind FROM events ORDER BY id")]
    assert "reopened" in kinds
    open_ids = [r["id"] for r in hdesk.db.query("SELECT id FROM tickets WHERE status = 'accepted'")]
    assert open_ids == [t0["id"] for t0 in hdesk.db.query("SELECT id FROM tickets")]


def test_a_call_on_a_closed_ticket_opens_a_linked_one(hdesk: Desk, tmp_path: Path) -> None:
    """As a customer's mail on a closed ticket (or one solved longer than reopen_days
    ago): a new ticket, with its own clock, linked to the old one, which stays closed."""
    from sepdesk.tickets.actions import apply

    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("CL1")]))
    old = tickets.find(hdesk.db, first[0].ticket or "")
    apply(hdesk, old["ticket_number"], "close", datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "e")
    again = row("CL2", started_at="2026-11-23T12:00:00", severity="1", customer_number="")
    again["ticket"] = old["ticket_number"]
    _, dry = run(hdesk, write_csv(tmp_path / "b.csv", [again]), dry_run=True)
    assert dry[0].outcome == "new_ticket" and "is closed" in dry[0].reason
    _, results = run(hdesk, write_csv(tmp_path / "b.csv", [again]))
    assert results[0].outcome == "new_ticket" and "is closed" in results[0].reason
    new = tickets.find(hdesk.db, results[0].ticket or "")
    assert new["id"] != old["id"] and new["linked_ticket"] == old["ticket_number"]
    assert (new["status"], new["severity"], new["customer_number"]) == ("accepted", 1, "104217")
    assert new["first_response_due"] is not None
    assert tickets.find(hdesk.db, old["ticket_number"])["status"] == "closed"
    link = "SELECT detail FROM events WHERE ticket_id = ? AND kind = 'linked'"
    assert json.loads(hdesk.db.execute(link, [old["id"]]).fetchone()[0]) == {
        "new": new["ticket_number"]
    }
    assert old["ticket_number"] in body_of(outbox(hdesk)[-1]["raw"])


@pytest.mark.parametrize("action", ["solve", "close"])
def test_a_call_made_before_the_solve_or_close_is_only_recorded(
    hdesk: Desk, tmp_path: Path, action: str
) -> None:
    """Hotline logs come in after the fact. A call at 12:05 ("it works, close it"),
    imported after the close at 12:30, opened a new accepted ticket and mailed the
    customer; one before a solve reopened the ticket (review finding). It is recorded
    on the ticket, which stays as it is, and nobody is mailed."""
    from sepdesk.tickets.actions import apply

    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("B1")]))
    ref = first[0].ticket or ""
    apply(hdesk, ref, action, datetime(2026, 11, 23, 11, 30, tzinfo=UTC), "eng")  # 12:30
    mails = len(outbox(hdesk))
    call = row("B2", started_at="2026-11-23T12:05:00", severity="1", ticket=ref, engineer="anna")
    _, results = run(hdesk, write_csv(tmp_path / "b.csv", [call]), at=AT + timedelta(hours=2))
    assert results[0].outcome == "appended"
    t = tickets.find(hdesk.db, ref)
    assert (t["status"], t["severity"]) == ({"solve": "solved", "close": "closed"}[action], 2)
    assert hdesk.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    assert len(outbox(hdesk)) == mails
    calls = "SELECT count(*) FROM messages WHERE ticket_id = ? AND kind = 'phone'"
    assert hdesk.db.execute(calls, [t["id"]]).fetchone()[0] == 2


def test_a_call_on_a_waiting_ticket_wakes_it(hdesk: Desk, tmp_path: Path) -> None:
    from sepdesk.tickets.actions import apply

    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("W1")]))
    ref = first[0].ticket or ""
    apply(hdesk, ref, "waiting", datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "eng")
    call = row("W2", started_at="2026-11-23T12:00:00", ticket=ref, summary="")
    run(hdesk, write_csv(tmp_path / "b.csv", [call]))
    assert tickets.find(hdesk.db, ref)["status"] == "accepted"


# --------------------------------------------------------------------------- idempotence


def test_same_file_twice_creates_and_sends_nothing_twice(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "d.csv", [row("D1"), row("D2", severity="3")])
    run(hdesk, src)
    before = (count(hdesk, "tickets"), count(hdesk, "outbox"), count(hdesk, "messages"))
    summary, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["duplicate", "duplicate"]
    assert results[0].ticket and results[0].ticket.startswith("C-")
    assert summary.counts["duplicate"] == 2
    assert (count(hdesk, "tickets"), count(hdesk, "outbox"), count(hdesk, "messages")) == before


def test_overlapping_files_and_a_repeat_inside_one_file(hdesk: Desk, tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [row("O1"), row("O2")])
    b = write_csv(tmp_path / "b.csv", [row("O2"), row("O3"), row("O3")])
    run(hdesk, a)
    _, results = run(hdesk, b)
    assert [r.outcome for r in results] == ["duplicate", "new_ticket", "duplicate"]
    assert count(hdesk, "tickets") == 3 and count(hdesk, "outbox") == 3


def test_duplicate_ignores_formatting_only_differences(hdesk: Desk, tmp_path: Path) -> None:
    run(hdesk, write_csv(tmp_path / "a.csv", [row("F1")]))
    same = row("F1", started_at="2026-11-23T09:00:00Z", severity="major", caller_name=" Tom Weiss ")
    _, results = run(hdesk, write_csv(tmp_path / "b.csv", [same]))
    assert results[0].outcome == "duplicate"


def test_changed_row_is_rejected_naming_the_fields(hdesk: Desk, tmp_path: Path) -> None:
    _, first = run(hdesk, write_csv(tmp_path / "a.csv", [row("G1")]))
    changed = row("G1", severity="1", summary="Now it is critical")
    again = [row("G2"), row("G2", caller_phone="+49 30 556")]  # a repeat in one file
    src = write_csv(tmp_path / "b.csv", [changed, *again])
    summary, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["rejected", "new_ticket", "rejected"]
    assert results[0].ticket == first[0].ticket
    why = results[0].reason
    assert why.startswith("call_uid: already imported with different content (a.csv at ")
    assert "differs in severity ('2' -> '1'), summary (" in why and "not applied" in why
    assert "caller_name" not in why and "started_at" not in why
    assert "differs in caller_phone ('+49 30 555' -> '+49 30 556')" in results[2].reason
    assert "b.csv" in results[2].reason
    assert summary.rejected == 2 and summary.counts == {
        "new_ticket": 1,
        "appended": 0,
        "duplicate": 0,
        "rejected": 2,
    }
    lines = src.read_bytes().splitlines(keepends=True)
    assert (tmp_path / "b.csv.rejects.csv").read_bytes() == lines[0] + lines[1] + lines[3]
    t = tickets.find(hdesk.db, first[0].ticket or "")
    assert t["severity"] == 2 and t["subject"] == "Backup job fails with error 42"
    assert count(hdesk, "outbox") == 2  # G1's and G2's confirmations, nothing for a repeat


def test_changed_row_imported_before_its_content_was_kept(hdesk: Desk, tmp_path: Path) -> None:
    run(hdesk, write_csv(tmp_path / "a.csv", [row("G1")]))
    hdesk.db.execute("UPDATE hotline_calls SET row_values = NULL")  # as before m008
    hdesk.db.conn.commit()
    _, results = run(hdesk, write_csv(tmp_path / "b.csv", [row("G1", severity="1")]))
    assert results[0].outcome == "rejected"
    assert "which fields differ is not on record" in results[0].reason


def test_changed_row_fails_the_command_and_the_spool_file(hdesk: Desk, tmp_path: Path) -> None:
    run(hdesk, write_csv(tmp_path / "a.csv", [row("G1")]))
    res = cli_run(
        tmp_path,
        hdesk,
        "hotline",
        "import",
        str(write_csv(tmp_path / "b.csv", [row("G1", severity="1")])),
    )
    assert res.exit_code == 1 and "1 rejected" in res.output
    job, spool = spool_job(hdesk)
    write_csv(spool / "again.csv", [row("G1", severity="1")])
    job(AT)
    assert job(AT + timedelta(seconds=3)) == 1
    assert (spool / "failed" / "again.csv").exists()
    assert "G1" in (spool / "failed" / "again.csv.rejects.csv").read_text("utf-8")


def test_every_severity_name_the_desk_prints_is_taken(hdesk: Desk, tmp_path: Path) -> None:
    """The desk's mails print "Einstufung: Major (schwerwiegend)", and the import refused
    'schwerwiegend', 'geringfügig' and 'Critical (kritisch)' (review finding)."""
    from sepdesk.templates import table

    names = {
        "schwerwiegend": 2,
        "Geringfügig": 4,
        "Critical (kritisch)": 1,
        "MAJOR  (Schwerwiegend)": 2,
        "minor": 3,
        "leicht": 3,
        "Kosmetisch": 4,
    }
    names |= {
        name: int(n) for lang in ("de", "en") for n, name in table(lang, "severities").items()
    }
    rows = [row(f"N{i}", severity=name) for i, name in enumerate(names)]
    rows.append(row("NX", severity="Major (kritisch)"))  # no name of one level
    _, results = run(hdesk, write_csv(tmp_path / "names.csv", rows))
    assert [r.outcome for r in results] == ["new_ticket"] * len(names) + ["rejected"]
    got = [tickets.find(hdesk.db, r.ticket or "")["stated_severity"] for r in results[:-1]]
    assert got == list(names.values())


# --------------------------------------------------------------------------- bad rows


def test_control_characters_reject_the_row_naming_the_field(hdesk: Desk, tmp_path: Path) -> None:
    """Terminal escapes in a caller's name or a summary ended up in `tickets list`/`show`
    and in the customer's mail (review finding); a summary's line breaks and tabs are fine."""
    rows = [
        row("K1", caller_name="Tom\x1b[2J Weiss"),
        row("K2", summary="Restore fails\x07"),
        row("K3", caller_phone="+49\x00 30"),
        row("K4", summary="Restore fails\nsince Monday:\tjob 7"),
    ]
    _, results = run(hdesk, write_csv(tmp_path / "ctrl.csv", rows))
    assert [r.outcome for r in results] == ["rejected", "rejected", "rejected", "new_ticket"]
    assert results[0].reason == "caller_name: control character '\\x1b'"
    assert results[1].reason == "summary: control character '\\x07'"
    assert results[2].reason == "caller_phone: control character '\\x00'"
    t = tickets.find(hdesk.db, results[3].ticket or "")
    assert t["subject"] == "Restore fails\nsince Monday:\tjob 7"
    assert all("\x1b" not in r["raw"].decode() for r in outbox(hdesk))


def test_mixed_file_good_rows_go_in_bad_rows_to_rejects(hdesk: Desk, tmp_path: Path) -> None:
    rows = [
        row("B1"),
        row("B2", started_at="2026-13-40T10:00"),
        row("B3", severity="urgent"),
        row("", summary=""),
        row("B5", ticket="T-2026-999999", summary=""),
        row("B6", caller_email="not-an-address"),
        row("B7", severity="4"),
    ]
    src = write_csv(tmp_path / "mixed.csv", rows)
    summary, results = run(hdesk, src)
    assert [r.outcome for r in results] == [
        "new_ticket",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "new_ticket",
    ]
    assert [r.line for r in results] == [2, 3, 4, 5, 6, 7, 8]
    assert "started_at" in results[1].reason and "severity" in results[2].reason
    assert "call_uid: missing" in results[3].reason and "summary" in results[3].reason
    assert "T-2026-999999" in results[4].reason and "caller_email" in results[5].reason
    assert summary.rejected == 5 and count(hdesk, "tickets") == 2
    rejects = tmp_path / "mixed.csv.rejects.csv"
    assert summary.rejects_file == str(rejects)
    lines = src.read_bytes().splitlines(keepends=True)
    assert rejects.read_bytes() == b"".join(lines[n] for n in (0, 2, 3, 4, 5, 6))
    reasons = (tmp_path / "mixed.csv.rejects.txt").read_text("utf-8").splitlines()
    assert summary.reasons_file == str(tmp_path / "mixed.csv.rejects.txt")
    why = [r for r in reasons if not r.startswith("#")]
    assert why[0].startswith("line 3 (rejects line 2), call_uid B2: started_at: not an ISO")
    assert why[2].startswith("line 5 (rejects line 4), call_uid -: call_uid: missing")
    assert len(why) == 5 and "mixed.csv.rejects.csv" in reasons[1]


def test_an_unwritable_rejects_folder_neither_stops_the_import_nor_hides_rows(
    hdesk: Desk, tmp_path: Path
) -> None:
    """A read-only input folder stopped the import at its first bad row with one error
    line: the rows of that batch after it committed but never reported, the later
    batches never imported (review finding). Every row is imported or reported; the
    summary says why there is no rejects file."""
    rows = [row(f"U{n}", severity="X" if n == 2 else "2") for n in range(1, 13)]
    src = write_csv(tmp_path / "calls.csv", rows)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the rejects folder should be")
    results: list[RowResult] = []
    summary = import_file(
        hdesk, src, AT, on_result=results.append, batch_size=5, rejects_base=blocked / "x.csv"
    )
    assert [r.call_uid for r in results] == [f"U{n}" for n in range(1, 13)]
    assert [r.outcome for r in results].count("new_ticket") == 11
    assert results[1].outcome == "rejected" and count(hdesk, "tickets") == 11
    assert summary.rejects_file is None and summary.rejected == 1
    assert "no rejects file" in summary.text() and "not-a-folder" in summary.text()


def test_fixed_rejects_reimport_leaves_every_rejects_file_in_place(
    hdesk: Desk, tmp_path: Path
) -> None:
    """Phone systems export under one name each day: a clean calls.csv of day 2 deleted
    the rejects of day 1, whose calls were never imported; a day 3 with rejects of its own
    overwrote them (review finding). Rejects files are only ever added."""
    src = write_csv(tmp_path / "r.csv", [row("R1"), row("R2", severity="x")])
    run(hdesk, src)
    rejects, reasons = tmp_path / "r.csv.rejects.csv", tmp_path / "r.csv.rejects.txt"
    day1 = rejects.read_bytes(), reasons.read_bytes()
    write_csv(src, [row("R3")])  # day 2: clean
    summary, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["new_ticket"] and summary.rejects_file is None
    assert (rejects.read_bytes(), reasons.read_bytes()) == day1
    write_csv(src, [row("R4", severity="y")])  # day 3: a reject of its own
    summary, _ = run(hdesk, src)
    assert (rejects.read_bytes(), reasons.read_bytes()) == day1
    again = tmp_path / "r.csv.1.rejects.csv"
    assert summary.rejects_file == str(again)
    assert summary.reasons_file == str(tmp_path / "r.csv.1.rejects.txt")
    assert "R4" in again.read_text("utf-8") and "R2" not in again.read_text("utf-8")
    assert "import r.csv.1.rejects.csv" in (tmp_path / "r.csv.1.rejects.txt").read_text("utf-8")
    assert f"rejected rows in {again}" in summary.text()
    rejects.write_bytes(rejects.read_bytes().replace(b",x,", b",3,"))  # the admin's fix
    summary, results = run(hdesk, rejects)
    assert [r.outcome for r in results] == ["new_ticket"] and summary.rejects_file is None
    assert rejects.exists() and reasons.exists() and again.exists()


def test_rejects_file_holds_the_rejected_rows_byte_for_byte(hdesk: Desk, tmp_path: Path) -> None:
    """Not re-encoded (a Latin-1 byte stays that byte), no field cut off, no column added:
    the rejects file imported as it is gives the same rejections, and once the admin
    fixed the bytes, exactly the rows the admin wrote."""
    header = ";".join(FIELDS).encode() + b"\r\n"
    latin = ";".join(row("X1", caller_name="M\xfcller").values()).encode("latin-1") + b"\r\n"
    extra = ";".join([*row("X2").values(), "extra", "more"]).encode() + b"\r\n"
    good = ";".join(row("X3").values()).encode() + b"\r\n"
    src = tmp_path / "calls.csv"
    src.write_bytes(b"\xef\xbb\xbf" + header + latin + good + extra)
    _, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["rejected", "new_ticket", "rejected"]
    rejects = tmp_path / "calls.csv.rejects.csv"
    assert rejects.read_bytes() == b"\xef\xbb\xbf" + header + latin + extra
    reasons = (tmp_path / "calls.csv.rejects.txt").read_text("utf-8")
    assert "line 2 (rejects line 2), call_uid X1: *: not valid UTF-8" in reasons
    assert "line 4 (rejects line 3), call_uid X2: *: 12 fields, the header has 10" in reasons
    _, results = run(hdesk, rejects)
    assert [r.outcome for r in results] == ["rejected", "rejected"]
    assert Path(str(rejects) + ".rejects.csv").read_bytes() == rejects.read_bytes()
    fixed = (
        rejects.read_bytes().replace(b"M\xfcller", "Müller".encode()).replace(b";extra;more", b"")
    )
    rejects.write_bytes(fixed)
    _, results = run(hdesk, rejects)
    assert [r.outcome for r in results] == ["new_ticket", "new_ticket"]
    t = tickets.find(hdesk.db, results[0].ticket or "")
    assert t["requester_name"] == "Müller"


def test_wrong_field_count_and_bad_utf8_reject_only_their_row(hdesk: Desk, tmp_path: Path) -> None:
    src = tmp_path / "enc.csv"
    good = ",".join(row("W1").values())
    data = ",".join(FIELDS) + "\n" + good + "\nW2,2026-11-23T10:00,a\n"
    bad = ",".join(row("W3", caller_name="M\xfcller").values()).encode("latin-1")
    src.write_bytes(data.encode() + bad + b"\n" + ",".join(row("W4").values()).encode() + b"\n")
    _, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["new_ticket", "rejected", "rejected", "new_ticket"]
    assert "3 fields" in results[1].reason and "UTF-8" in results[2].reason


@pytest.mark.parametrize("email", ["a@", "@mueller-maschinenbau.de", "a@@x.de", "a@b@x.de"])
def test_a_caller_email_that_is_no_mailbox_is_rejected(
    hdesk: Desk, tmp_path: Path, email: str
) -> None:
    """The confirmation goes to caller_email: an address with nothing before or after its
    "@" (or two of them) would be queued, and a relay refuses it."""
    src = write_csv(tmp_path / "e.csv", [row("E1", caller_email=email), row("E2")])
    _, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["rejected", "new_ticket"]
    assert results[0].reason == f"caller_email: not a mail address: {email!r}"
    assert [json.loads(m["to_addrs"]) for m in outbox(hdesk)] == [[MUELLER]]


def test_impossible_call_times_are_rejected(hdesk: Desk, tmp_path: Path) -> None:
    """No ticket, no mail for a call in the future, decades ago, or on a date with no time."""
    rows = [
        row("P-1", started_at="2031-01-01T10:00:00"),
        row("P-2", started_at="1999-01-01T10:00:00"),
        row("P-3", started_at="2026-11-24"),
        row("P-4", started_at="20261124"),
        row("P-5", started_at="2026-11-24T15:30:00+01:00"),  # AT + 1 day and 30 min
        row("P-6", started_at="2026-11-24T13:30:00Z"),  # within a day: clocks differ
        row("P-7", started_at="2025-11-23T10:00:00"),  # a year back: a late backlog
        row("P-8", started_at="2025-11-21T10:00:00"),  # more than 366 days back
    ]
    summary, results = run(hdesk, write_csv(tmp_path / "when.csv", rows))
    outcomes = [r.outcome for r in results]
    assert outcomes == [*["rejected"] * 5, "new_ticket", "new_ticket", "rejected"]
    assert "more than a day after the import" in results[0].reason
    assert "more than 366 days before the import" in results[1].reason
    assert "a date without a time: '2026-11-24'" in results[2].reason
    assert "date without a time" in results[3].reason
    assert all(r.reason.startswith("started_at: ") for r in results if r.outcome == "rejected")
    assert summary.rejected == 6 and count(hdesk, "tickets") == 2 and count(hdesk, "outbox") == 2
    numbers = [r[0] for r in hdesk.db.execute("SELECT ticket_number FROM tickets ORDER BY id")]
    assert numbers == ["T-2026-000001", "T-2025-000001"]


def test_a_naive_time_at_the_ends_of_the_calendar_rejects_only_its_row(
    hdesk: Desk, tmp_path: Path
) -> None:
    """0001-01-01T00:00 in Berlin is before datetime.min in UTC: reading it used to raise
    OverflowError out of the import, so none of the file's rows went in (and the spool
    kept the file, failing it on every pass)."""
    rows = [
        row("Y-1"),
        row("Y-2", started_at="0001-01-01T00:00:00"),
        row("Y-3", started_at="9999-12-31T23:59:59"),
        row("Y-4"),
    ]
    summary, results = run(hdesk, write_csv(tmp_path / "ends.csv", rows))
    assert [r.outcome for r in results] == ["new_ticket", "rejected", "rejected", "new_ticket"]
    assert "more than 366 days before the import" in results[1].reason
    assert "more than a day after the import" in results[2].reason
    assert summary.rejected == 2 and count(hdesk, "tickets") == 2


def test_cli_checks_call_times_against_its_own_clock(hdesk: Desk, tmp_path: Path) -> None:
    from sepdesk.instants import now

    soon = (now() + timedelta(hours=2)).isoformat(timespec="seconds")
    later = (now() + timedelta(days=2)).isoformat(timespec="seconds")
    src = write_csv(
        tmp_path / "clock.csv", [row("K-1", started_at=soon), row("K-2", started_at=later)]
    )
    res = cli_run(tmp_path, hdesk, "hotline", "import", str(src))
    assert res.exit_code == 1 and "1 new_ticket, 1 rejected" in res.output
    assert "more than a day after the import" in res.output


def plain_line(r: dict[str, str]) -> str:
    """A row as a line of a comma-separated file, written by hand (no quoting)."""
    return ",".join(r[k] for k in FIELDS) + "\n"


def test_stray_quote_does_not_swallow_the_next_row(hdesk: Desk, tmp_path: Path) -> None:
    """R-2's summary opens a quote that closes only in R-3's line: R-3 (a Major call) must
    not vanish into R-2's summary; both are rejected, reported and kept byte for byte."""
    stray = row("R-2", summary='"Restore hangs at 5%')
    quoted = row("R-3", summary='"Server down"')  # its quote closes R-2's
    lines = [",".join(FIELDS) + "\n", plain_line(row("R-1"))]
    lines += [plain_line(stray), plain_line(quoted), plain_line(row("R-4"))]
    src = tmp_path / "stray.csv"
    src.write_text("".join(lines), encoding="utf-8")
    summary, results = run(hdesk, src)
    assert [(r.line, r.call_uid, r.outcome) for r in results] == [
        (2, "R-1", "new_ticket"),
        (3, "R-2", "rejected"),
        (4, "R-3", "rejected"),
        (5, "R-4", "new_ticket"),
    ]
    assert "unclosed quote?" in results[1].reason and "line 4" in results[1].reason
    assert "unclosed quote?" in results[2].reason and "line 3" in results[2].reason
    assert summary.rows == 4 and summary.rejected == 2
    assert count(hdesk, "tickets") == 2
    rejects = (tmp_path / "stray.csv.rejects.csv").read_text("utf-8")
    assert rejects == lines[0] + lines[2] + lines[3]


def test_quote_open_at_the_end_of_the_file(hdesk: Desk, tmp_path: Path) -> None:
    """A quote never closed: every row after it is rejected on its own line, counted."""
    lines = [",".join(FIELDS) + "\n", plain_line(row("U-1"))]
    lines += [plain_line(row("U-2", summary='"Restore hangs at 5%'))]
    lines += [plain_line(row(f"U-{n}")) for n in (3, 4, 5)]
    src = tmp_path / "open.csv"
    src.write_text("".join(lines), encoding="utf-8")
    summary, results = run(hdesk, src)
    assert [(r.line, r.outcome) for r in results] == [
        (2, "new_ticket"),
        *[(n, "rejected") for n in (3, 4, 5, 6)],
    ]
    assert "end of the file" in results[1].reason
    assert all("unclosed quote?" in r.reason and "lines 3-6" in r.reason for r in results[2:])
    assert summary.rows == 5 and summary.rejected == 4
    assert (tmp_path / "open.csv.rejects.csv").read_text("utf-8") == "".join([lines[0], *lines[2:]])
    last = tmp_path / "last.csv"  # the last row alone, no line end after it
    last.write_text(lines[0] + lines[1] + lines[2].rstrip("\n"), encoding="utf-8")
    _, results = run(hdesk, last)
    assert [r.outcome for r in results] == ["duplicate", "rejected"]
    assert "unclosed quote?" in results[1].reason


def test_line_breaks_inside_a_quoted_field_are_kept(hdesk: Desk, tmp_path: Path) -> None:
    """A summary spanning lines (even one that holds commas and a date) is one good row."""
    summary_text = "Restore hangs\nlog says: 2026-11-23T10:00, error 7, retry, again"
    src = write_csv(tmp_path / "ml.csv", [row("M-1", summary=summary_text), row("M-2")])
    _, results = run(hdesk, src)
    assert [(r.line, r.outcome) for r in results] == [(2, "new_ticket"), (4, "new_ticket")]
    assert tickets.find(hdesk.db, results[0].ticket or "")["subject"] == summary_text


def test_unreadable_files_raise_one_line(hdesk: Desk, tmp_path: Path) -> None:
    from sepdesk.errors import InputError

    with pytest.raises(InputError, match="cannot read"):
        import_file(hdesk, tmp_path / "missing.csv", AT)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        import_file(hdesk, empty, AT)
    empty.write_bytes(b"\r\n" + write_csv(tmp_path / "c.csv", [row("B1")]).read_bytes())
    with pytest.raises(InputError, match="line 1 is blank; the header row must be the first"):
        import_file(hdesk, empty, AT)
    nohead = tmp_path / "nohead.csv"
    nohead.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as refused:
        import_file(hdesk, nohead, AT)
    assert str(refused.value).endswith(
        "line 1: missing column(s): call_uid, started_at, severity; and one of summary, ticket"
    )
    nohead.write_text("call_uid,started_at,severity\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError) as refused:
        import_file(hdesk, nohead, AT)
    assert str(refused.value).endswith("line 1: missing column(s): one of summary, ticket")
    cr_only = write_csv(tmp_path / "mac.csv", [row("M1"), row("M2")])
    cr_only.write_bytes(cr_only.read_bytes().replace(b"\r\n", b"\r"))
    with pytest.raises(InputError, match=r"^\S+mac.csv: line 1: the lines end in CR alone"):
        import_file(hdesk, cr_only, AT)


def test_dry_run_writes_nothing(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "dry.csv", [row("Y1"), row("Y2", severity="?"), row("Y1")])
    before = {t: count(hdesk, t) for t in ("tickets", "outbox", "hotline_calls", "events")}
    summary, results = run(hdesk, src, dry_run=True)
    assert [r.outcome for r in results] == ["new_ticket", "rejected", "duplicate"]
    assert summary.dry_run and summary.rejected == 1 and summary.rejects_file is None
    assert not (tmp_path / "dry.csv.rejects.csv").exists()
    assert {t: count(hdesk, t) for t in before} == before


# --------------------------------------------------------------------------- file formats


def test_bom_and_semicolon_export(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(
        tmp_path / "excel.csv",
        [row("Z1", summary="Sicherung bricht ab; Fehler 7"), row("Z2", severity="x")],
        delimiter=";",
        bom=True,
    )
    _summary, results = run(hdesk, src)
    assert [r.outcome for r in results] == ["new_ticket", "rejected"]
    t = tickets.find(hdesk.db, results[0].ticket or "")
    assert t["subject"] == "Sicherung bricht ab; Fehler 7"
    head = (tmp_path / "excel.csv.rejects.csv").read_bytes().splitlines()[0]
    assert head == b"\xef\xbb\xbf" + ";".join(FIELDS).encode()  # the input's, BOM and all


def test_sniff_delimiter() -> None:
    assert sniff_delimiter("a,b,c") == ","
    assert sniff_delimiter("a;b;c") == ";"
    assert sniff_delimiter("a\tb\tc") == "\t"
    assert sniff_delimiter("single") == ","


def test_column_mapping_from_config(settings_factory: Any, tmp_path: Path) -> None:
    mapping = {
        "call_uid": "CallID",
        "started_at": "Start",
        "severity": "Prio",
        "summary": "Notiz",
        "customer_number": "Kunde",
        "caller_email": "Mail",
    }
    desk = Desk.open(settings_factory(hotline={"columns": mapping}))
    try:
        import_csv(desk.db, CONTRACTS, T0)
        header = ["Start", "callid", "Prio", "Notiz", "Kunde", "Mail", "Extra"]
        src = write_csv(
            tmp_path / "map.csv",
            [
                {
                    "Start": "2026-11-23T10:00",
                    "callid": "K1",
                    "Prio": "2",
                    "Notiz": "n",
                    "Kunde": "104217",
                    "Mail": MUELLER,
                    "Extra": "ignored",
                }
            ],
            header=header,
        )
        _, results = run(desk, src)
        assert results[0].outcome == "new_ticket"
        assert tickets.find(desk.db, results[0].ticket or "")["customer_number"] == "104217"
    finally:
        desk.close()


# --------------------------------------------------------------------------- CLI


def cli_run(tmp_path: Path, desk: Desk, *args: str, color: bool = False) -> Any:
    from sepdesk.cli import main

    main._register()
    cfg = write_toml(
        tmp_path / "c.toml",
        {
            "database": {"path": desk.settings.database.path},
            "outbox": {"dir": str(tmp_path / "outbox")},
            "hotline": {"spool_dir": str(tmp_path / "spool")},
        },
    )
    # color: as on a terminal, where click leaves ANSI sequences in.
    return CliRunner().invoke(main.cli, [*args, "--config", str(cfg)], color=color)


def test_the_dry_run_table_shows_a_call_uids_control_characters_as_escapes(
    hdesk: Desk, tmp_path: Path
) -> None:
    """Review: a call_uid holding ESC sequences was printed raw in the table (click strips
    ANSI only when the output is no terminal): they drove the admin's terminal."""
    src = write_csv(tmp_path / "esc.csv", [row("E1\x1b[2J\x1b[31mred")])
    dry = cli_run(tmp_path, hdesk, "hotline", "import", str(src), "--dry-run", color=True)
    assert "\x1b" not in dry.output
    assert "E1\\x1b[2J\\x1b[31mred" in dry.output  # escaped: still there to read


def test_cli_import_text_json_and_exit_codes(hdesk: Desk, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "cli.csv", [row("L1"), row("L2", severity="9")])
    dry = cli_run(tmp_path, hdesk, "hotline", "import", str(src), "--dry-run")
    assert dry.exit_code == 1 and "dry run" in dry.output and count(hdesk, "tickets") == 0
    res = cli_run(tmp_path, hdesk, "hotline", "import", str(src))
    assert res.exit_code == 1, res.output
    assert "new_ticket" in res.output and "rejected" in res.output and "line 3" not in res.output
    assert "1 new_ticket, 1 rejected" in res.output
    # Exit 1 had nothing on stderr: its one line there is the summary, naming the rejects.
    (summary,) = res.stderr.splitlines()
    assert "1 new_ticket, 1 rejected" in summary and "cli.csv.rejects.csv" in summary
    assert "L2" in res.stdout and "1 rejected" not in res.stdout
    ok = write_csv(tmp_path / "ok.csv", [row("L1")])
    again = cli_run(tmp_path, hdesk, "hotline", "import", str(ok), "--json")
    assert again.exit_code == 0
    records = json.loads(again.stdout)
    assert records == [
        {
            "line": 2,
            "call_uid": "L1",
            "outcome": "duplicate",
            "ticket": records[0]["ticket"],
            "reason": records[0]["reason"],
        }
    ]


def test_cli_unreadable_file_one_line_exit_1(hdesk: Desk, tmp_path: Path) -> None:
    res = cli_run(tmp_path, hdesk, "hotline", "import", str(tmp_path / "nope.csv"))
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1 and "nope.csv" in res.output


def test_cli_text_lists_first_rows_then_only_notable(
    hdesk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sepdesk.cli import hotline as cli_hotline

    monkeypatch.setattr(cli_hotline, "TEXT_ROW_LIMIT", 2)
    rows = [row(f"P{i}") for i in range(5)] + [row("P9", severity="bad")]
    res = cli_run(tmp_path, hdesk, "hotline", "import", str(write_csv(tmp_path / "p.csv", rows)))
    lines = res.output.splitlines()
    assert sum("new_ticket  " in line for line in lines) == 2
    assert any("P9" in line and "rejected" in line for line in lines)
    assert "3 further rows not listed" in res.output


# --------------------------------------------------------------------------- spool


def spool_job(desk: Desk) -> tuple[SpoolJob, Path]:
    job = SpoolJob(desk, settle_seconds=2)
    spool = Path(desk.settings.hotline.spool_dir)
    spool.mkdir(parents=True, exist_ok=True)
    return job, spool


def test_spool_imports_settled_files_to_done(hdesk: Desk) -> None:
    job, spool = spool_job(hdesk)
    write_csv(spool / "calls.csv", [row("Q1")])
    write_csv(spool / "EXPORT.CSV", [row("Q3")])
    write_csv(spool / ".partial.csv", [row("Q2")])  # rename-into-place: ignored
    (spool / "notes.txt").write_text("not a call log", encoding="utf-8")
    assert job(AT) == 0  # first sight: not yet known to be settled
    assert job(AT + timedelta(seconds=1)) == 0  # stable, but not 2 s yet
    assert job(AT + timedelta(seconds=2)) == 2
    assert (spool / "done" / "calls.csv").exists() and not (spool / "calls.csv").exists()
    assert (spool / "done" / "EXPORT.CSV").exists()
    assert (spool / ".partial.csv").exists() and (spool / "notes.txt").exists()
    assert count(hdesk, "tickets") == 2


def test_spool_does_not_read_a_file_still_being_written(hdesk: Desk) -> None:
    job, spool = spool_job(hdesk)
    target = spool / "growing.csv"
    write_csv(target, [row("G1")])
    assert job(AT) == 0
    with target.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow([row("G2")[k] for k in FIELDS])
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # coarse clocks
    assert job(AT + timedelta(seconds=5)) == 0  # changed since the last pass
    assert count(hdesk, "tickets") == 0
    assert job(AT + timedelta(seconds=10)) == 1
    assert count(hdesk, "tickets") == 2


def test_spool_failed_with_rejects_and_unreadable(hdesk: Desk) -> None:
    job, spool = spool_job(hdesk)
    write_csv(spool / "bad.csv", [row("V1"), row("V2", severity="?")])
    (spool / "junk.csv").write_text("nothing,useful\n", encoding="utf-8")
    job(AT)
    assert job(AT + timedelta(seconds=3)) == 2
    failed = spool / "failed"
    assert (failed / "bad.csv").exists() and not (spool / "bad.csv.rejects.csv").exists()
    rejects = (failed / "bad.csv.rejects.csv").read_text(encoding="utf-8")
    assert "V2" in rejects and "V1" not in rejects
    assert "V2: severity" in (failed / "bad.csv.rejects.txt").read_text(encoding="utf-8")
    assert "missing column" in (failed / "junk.csv.rejects.txt").read_text(encoding="utf-8")
    assert not (failed / "junk.csv.rejects.csv").exists()  # junk.csv itself is the input
    assert count(hdesk, "tickets") == 1  # the good row of bad.csv went in
    assert sorted(p.name for p in spool.iterdir()) == ["failed"]


def test_spool_crash_while_moving_a_failed_file_is_repaired_by_the_next_pass(
    hdesk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the import, before the failed file is moved: the next pass imports
    it again and moves it. Its rejects files are never in the spool, where a pass would
    take them for input; those of the first try stay (never overwritten)."""
    from sepdesk.hotline import spool as spool_module

    job, spool = spool_job(hdesk)
    write_csv(spool / "bad.csv", [row("V1"), row("V2", severity="?")])
    real_move = shutil.move

    def crash_at_the_move(src: str, dst: object) -> object:
        if str(src).endswith("bad.csv"):
            raise SystemExit("killed")  # the process dies here
        return real_move(src, dst)

    monkeypatch.setattr(spool_module.shutil, "move", crash_at_the_move)
    job(AT)
    with pytest.raises(SystemExit):
        job(AT + timedelta(seconds=3))
    assert sorted(p.name for p in spool.iterdir()) == ["bad.csv", "failed"]
    monkeypatch.setattr(spool_module.shutil, "move", real_move)
    restarted, _ = spool_job(hdesk)  # a new process: a fresh job
    restarted(AT + timedelta(seconds=10))
    assert restarted(AT + timedelta(seconds=13)) == 1
    failed = spool / "failed"
    assert sorted(p.name for p in spool.iterdir()) == ["failed"]
    assert sorted(p.name for p in failed.iterdir()) == [
        "bad.csv",
        "bad.csv.1.rejects.csv",
        "bad.csv.1.rejects.txt",
        "bad.csv.rejects.csv",
        "bad.csv.rejects.txt",
    ]
    assert "V2" in (failed / "bad.csv.rejects.csv").read_text(encoding="utf-8")
    assert "V2" in (failed / "bad.csv.1.rejects.csv").read_text(encoding="utf-8")
    assert count(hdesk, "tickets") == 1  # V1 once, not again
    assert spool_status(spool)["hotline_failed"] == 1


def test_spool_keeps_rejects_waiting_and_imports_a_fixed_one(hdesk: Desk) -> None:
    """A fixed B.CSV.rejects.csv waiting in the spool vanished when a clean B.CSV was
    imported, and one dropped in alone was skipped forever, without a word (review
    finding). It is input like any CSV; the spool's own rejects go to failed/."""
    job, spool = spool_job(hdesk)
    fixed = spool / "B.CSV.rejects.csv"
    write_csv(fixed, [row("F1")])
    write_csv(spool / "B.CSV", [row("F2")])
    assert spool_status(spool)["hotline_waiting"] == 2
    job(AT)
    assert job(AT + timedelta(seconds=3)) == 2
    assert sorted(p.name for p in (spool / "done").iterdir()) == ["B.CSV", "B.CSV.rejects.csv"]
    assert count(hdesk, "tickets") == 2
    write_csv(spool / "B.CSV", [row("F3", severity="?")])  # the spool's own rejects
    job(AT + timedelta(minutes=1))
    assert job(AT + timedelta(minutes=1, seconds=3)) == 1
    assert job(AT + timedelta(minutes=2)) == 0 and job(AT + timedelta(minutes=3)) == 0
    assert sorted(p.name for p in spool.iterdir()) == ["done", "failed"]
    assert sorted(p.name for p in (spool / "failed").iterdir()) == [
        "B.CSV",
        "B.CSV.rejects.csv",
        "B.CSV.rejects.txt",
    ]
    assert spool_status(spool) == {"hotline_waiting": 0, "hotline_failed": 1}


def test_spool_logs_failures_as_warnings_with_the_moved_paths(
    hdesk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    job, spool = spool_job(hdesk)
    write_csv(spool / "spool1.csv", [row("V1"), row("V2", severity="?")])
    write_csv(spool / "good.csv", [row("V3")])
    (spool / "junk.csv").write_text("nothing,useful\n", encoding="utf-8")
    job(AT)
    with caplog.at_level("INFO", logger="sepdesk.hotline.spool"):
        assert job(AT + timedelta(seconds=3)) == 3
    by_file = {
        name: [r for r in caplog.records if f"{name}.csv" in r.getMessage()]
        for name in ("spool1", "good", "junk")
    }
    failed, done = spool / "failed", spool / "done"
    [bad] = by_file["spool1"]
    assert bad.levelname == "WARNING"
    text = bad.getMessage()
    assert "1 new_ticket, 1 rejected" in text
    assert f"rejected rows in {failed / 'spool1.csv.rejects.csv'}" in text
    assert f"why in {failed / 'spool1.csv.rejects.txt'}" in text
    assert f"file moved to {failed / 'spool1.csv'}" in text
    assert str(spool / "spool1.csv.rejects.csv") not in text
    [junk] = by_file["junk"]
    assert junk.levelname == "WARNING" and "missing column" in junk.getMessage()
    assert f"file moved to {failed / 'junk.csv'}, why in {failed / 'junk.csv.rejects.txt'}" in (
        junk.getMessage()
    )
    [good] = by_file["good"]
    assert good.levelname == "INFO" and f"file moved to {done / 'good.csv'}" in good.getMessage()


def test_status_shows_spool_files_waiting_and_failed(hdesk: Desk, tmp_path: Path) -> None:
    from sepdesk.reports.status import desk_status

    status = desk_status(hdesk, AT)
    assert (status["hotline_waiting"], status["hotline_failed"]) == (0, 0)  # no spool yet
    job, spool = spool_job(hdesk)
    write_csv(spool / "bad.csv", [row("V1"), row("V2", severity="?")])
    (spool / "junk.csv").write_text("nothing,useful\n", encoding="utf-8")
    write_csv(spool / "ok.csv", [row("V3")])
    job(AT)
    status = desk_status(hdesk, AT)
    assert (status["hotline_waiting"], status["hotline_failed"]) == (3, 0)
    job(AT + timedelta(seconds=3))
    status = desk_status(hdesk, AT)
    assert (status["hotline_waiting"], status["hotline_failed"]) == (0, 2)
    cfg = write_toml(
        tmp_path / "s.toml",
        {
            "database": {"path": hdesk.settings.database.path},
            "hotline": {"spool_dir": str(spool)},
        },
    )
    from sepdesk.cli import main

    main._register()
    res = CliRunner().invoke(main.cli, ["status", "--config", str(cfg)])
    assert res.exit_code == 0 and "hotline_failed: 2" in res.output


def test_spool_same_name_again_is_kept_apart_and_deduplicated(hdesk: Desk) -> None:
    job, spool = spool_job(hdesk)
    for n in range(2):
        write_csv(spool / "calls.csv", [row("J1")])
        job(AT + timedelta(minutes=n))
        assert job(AT + timedelta(minutes=n, seconds=2)) == 1
    assert sorted(p.name for p in (spool / "done").iterdir()) == ["calls.1.csv", "calls.csv"]
    assert count(hdesk, "tickets") == 1 and count(hdesk, "outbox") == 1


def test_emergency_contract_one_incident_and_demo_shown_as_minor(
    hdesk: Desk, tmp_path: Path
) -> None:
    fjord = {"customer_number": "156902", "caller_email": "ops@fjordvik-shipping.no"}
    rows = [
        row("EM1", **fjord),
        row("EM2", started_at="2026-11-23T11:00:00", **fjord),
        row(
            "DM1",
            customer_number="142071",
            caller_email="j.petersen@nordlicht-medien.de",
            severity="1",
        ),
    ]
    _, results = run(hdesk, write_csv(tmp_path / "em.csv", rows))
    first, second, demo = (tickets.find(hdesk.db, r.ticket or "") for r in results)
    assert first["call_id"] and first["status"] == "accepted"
    assert second["call_id"] is None and second["status"] == "unqualified"
    assert first["call_id"] in body_of(outbox(hdesk)[1]["raw"])
    assert (demo["severity"], demo["stated_severity"], demo["status"]) == (3, 1, "accepted")


def test_which_call_used_an_emergency_contract_goes_only_to_its_contacts(
    hdesk: Desk, tmp_path: Path
) -> None:
    """SPEC §4: a caller whose address is no contact of the contract was mailed its level
    and the Call ID of the call that used its one incident."""
    fjord = {"customer_number": "156902", "caller_email": "ops@fjordvik-shipping.no"}
    rows = [
        row("EM1", **fjord),
        row(
            "EM2", started_at="2026-11-23T11:00:00", **{**fjord, "caller_email": "x@gmail.example"}
        ),
    ]
    _, results = run(hdesk, write_csv(tmp_path / "em.csv", rows))
    first = tickets.find(hdesk.db, results[0].ticket or "")
    [mail] = [r for r in outbox(hdesk) if "x@gmail.example" in r["to_addrs"]]
    text = body_of(mail["raw"])
    assert first["call_id"] not in text and "Emergency Call contract" not in text
    assert hdesk.settings.desk.hotline_phone in text


def test_a_reader_that_goes_away_loses_no_rejects(tmp_path: Path) -> None:
    """`sepdesk hotline import calls.csv | head -2`: the import goes on to its end, and
    the rejected row is still written to the rejects files."""
    import subprocess
    import sys

    from tests.conftest import CONTRACTS, write_toml

    cfg = write_toml(tmp_path / "c.toml", {"database": {"path": str(tmp_path / "d.db")}})
    sepdesk = str(Path(sys.executable).with_name("sepdesk"))
    subprocess.run(
        [sepdesk, "--config", str(cfg), "contracts", "import", str(CONTRACTS)], check=True
    )
    rows = [row(f"P{i}") for i in range(2000)] + [row("PBAD", started_at="2026-11-23")]
    calls = write_csv(tmp_path / "calls.csv", rows)
    done = subprocess.run(
        f"{sepdesk} --config {cfg} hotline import {calls} | head -2",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert len(done.stdout.splitlines()) == 2
    assert "Broken pipe" not in done.stderr
    assert "Traceback" not in done.stderr and "2001 rows" in done.stderr  # the summary
    rejects = (tmp_path / "calls.csv.rejects.csv").read_text()
    assert "PBAD" in rejects
    count = subprocess.run(
        [sepdesk, "--config", str(cfg), "tickets", "list", "--json"], capture_output=True, text=True
    )
    assert count.stdout.count('"ticket_number"') == 2000


def test_a_dry_run_creates_no_database(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sepdesk.cli.main import _register, cli
    from tests.conftest import write_toml

    db = tmp_path / "none" / "d.db"
    cfg = write_toml(tmp_path / "c.toml", {"database": {"path": str(db)}})
    calls = write_csv(tmp_path / "calls.csv", [row("D1")])
    _register()
    dry = CliRunner().invoke(
        cli, ["--config", str(cfg), "hotline", "import", str(calls), "--dry-run"]
    )
    assert dry.exit_code == 1 and "no such database" in dry.output
    assert not db.exists() and not db.parent.exists()


def test_a_doubled_or_misspelt_column_is_refused(hdesk: Desk, tmp_path: Path) -> None:
    """Re-audit: 'tickets' for 'ticket' made an append a new ticket; a second 'summary'
    silently won. Other columns of a phone system's export stay allowed."""
    from sepdesk.errors import InputError

    header = list(FIELDS)
    for name, bad, why in [
        ("misspelt", [*header[:-1], "tickets"], "unknown column 'tickets': did you mean 'ticket'?"),
        ("doubled", [*header[:-2], "summary", "ticket"], "column(s) named twice: summary"),
    ]:
        path = write_csv(tmp_path / f"{name}.csv", [row("M1")], header=bad)
        with pytest.raises(InputError, match=re.escape(why)):
            import_file(hdesk, path, AT)
    assert count(hdesk, "tickets") == 0
    extra = write_csv(tmp_path / "extra.csv", [], header=[*header, "duration"])
    summary, _ = run(hdesk, extra)
    assert summary.rejected == 0
    # A near name beside the real column, and empty trailing columns, are an export's own.
    beside = write_csv(tmp_path / "beside.csv", [], header=[*header, "call_id", "", ""])
    summary, _ = run(hdesk, beside)
    assert summary.rejected == 0


def test_a_crlf_file_keeps_no_cr_in_a_multi_line_summary(hdesk: Desk, tmp_path: Path) -> None:
    src = tmp_path / "crlf.csv"
    src.write_bytes(
        (",".join(FIELDS) + "\r\n").encode()
        + b"C1,2026-11-23T10:00:00,Tom,+49,t.weiss@mueller-maschinenbau.de,104217,2,"
        b'"Restore fails\r\nsince Monday",,\r\n'
    )
    _, results = run(hdesk, src)
    subject = tickets.find(hdesk.db, results[0].ticket or "")["subject"]
    assert "\r" not in subject and "Restore fails" in subject


def test_a_file_that_fails_on_its_own_does_not_hold_up_the_files_after_it(
    hdesk: Desk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An error of one file (a bug its content trips) failed the whole pass, every pass:
    the files sorted after it were never imported."""
    from sepdesk.hotline import spool as spool_module

    job, spool = spool_job(hdesk)
    write_csv(spool / "a-broken.csv", [row("B1")])
    write_csv(spool / "b-fine.csv", [row("B2")])
    real = spool_module.import_file

    def trips(desk: Desk, path: Path, at: datetime, **kw: Any) -> ImportSummary:
        if path.name == "a-broken.csv":
            raise RuntimeError("a bug this file trips")
        return real(desk, path, at, **kw)

    monkeypatch.setattr(spool_module, "import_file", trips)
    caplog.set_level(logging.ERROR, logger=spool_module.__name__)
    assert job(AT) == 0
    assert job(AT + timedelta(seconds=2)) == 1
    assert job(AT + timedelta(seconds=4)) == 0
    assert (spool / "done" / "b-fine.csv").exists() and (spool / "a-broken.csv").exists()
    assert len([r for r in caplog.records if "a-broken.csv" in r.getMessage()]) == 1
