"""Loop guards (sepdesk.pipeline.guards) on short mails of our own."""

from __future__ import annotations

import time

import pytest

from sepdesk.pipeline.bounces import is_bounce, read_report
from sepdesk.pipeline.guards import automatic_reason, is_automatic_address
from sepdesk.pipeline.parse import parse_mail

DESK = {"support@sep.example", "hilfe@sep.example"}


def mail(
    headers: str = "", sender: str = "kim@kunde.example", subject: str = "Restore fails"
) -> bytes:
    return (
        f"From: Kim <{sender}>\r\nTo: support@sep.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <1@kunde.example>\r\n{headers}\r\nThe restore of job X fails.\r\n"
    ).encode()


def reason(raw: bytes) -> str | None:
    return automatic_reason(parse_mail(raw), DESK)


def test_a_person_passes() -> None:
    assert reason(mail()) is None
    assert reason(mail("Auto-Submitted: no\r\n")) is None
    assert reason(mail("Auto-Submitted: No (sent by a person)\r\n")) is None
    assert reason(mail("Precedence: first-class\r\n")) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("Auto-Submitted: auto-replied\r\n", "Auto-Submitted: auto-replied"),
        ("Auto-Submitted: auto-generated\r\n", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-notified; owner-email=x@y\r\n", "Auto-Submitted"),
        ("Auto-Submitted: notice\r\n", "Auto-Submitted: notice"),  # not "no": automatic
        ("X-Autoreply: yes\r\n", "x-autoreply"),
        ("X-Autorespond: Ja\r\n", "x-autorespond"),
        ("Precedence: bulk\r\n", "Precedence: bulk"),
        ("Precedence: JUNK\r\n", "Precedence: junk"),
        ("Precedence: list\r\n", "Precedence: list"),
        ("List-Id: <lto.lists.example>\r\n", "mailing list (list-id)"),
        ("List-Unsubscribe: <mailto:leave@lists.example>\r\n", "mailing list (list-unsubscribe)"),
        ("X-Loop: support@sep.example\r\n", "X-Loop"),
        ("X-Loop: <HILFE@sep.example>\r\n", "X-Loop"),
        # Every occurrence counts, and a comment after the keyword (review finding).
        ("Auto-Submitted: no\r\nAuto-Submitted: auto-replied\r\n", "auto-replied"),
        ("Precedence: normal\r\nPrecedence: bulk\r\n", "Precedence: bulk"),
        ("Precedence: bulk (weekly)\r\n", "Precedence: bulk"),
    ],
)
def test_automatic_headers(headers: str, expected: str) -> None:
    found = reason(mail(headers))
    assert found is not None and expected in found


def test_someone_elses_loop_header_is_not_ours() -> None:
    assert reason(mail("X-Loop: helpdesk@other.example\r\n")) is None


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.kunde.example",
        "postmaster@kunde.example",
        "noreply@kunde.example",
        "no-reply@kunde.example",
        "no_reply@kunde.example",
        "do-not-reply@kunde.example",
        "donotreply@kunde.example",
        "noreply-alerts@kunde.example",
        "notifications-noreply@cloud.example",
        "no-reply-billing@kunde.example",
        "DoNotReply@kunde.example",
        "do_not_reply+42@kunde.example",
        "alerts.no.reply@kunde.example",
        "bounces+t-weiss=mueller@lists.kunde.example",
        "mailer-daemon.mx@kunde.example",
        "bounce-123@kunde.example",
        "nepasrepondre@client.example",
        "bitte-nicht-antworten@kunde.example",
    ],
)
def test_daemon_and_no_reply_senders(sender: str) -> None:
    found = reason(mail(sender=sender))
    assert found is not None and sender.lower() in found


@pytest.mark.parametrize("sender", ["support@sep.example", "Hilfe@SEP.example"])
def test_the_desk_itself(sender: str) -> None:
    assert reason(mail(sender=sender)) == f"sent by the desk itself ({sender.lower()})"


def test_senders_that_merely_look_similar_are_people() -> None:
    assert reason(mail(sender="noreplyfan@kunde.example")) is None
    assert reason(mail(sender="snoreply@kunde.example")) is None
    assert reason(mail(sender="donotreplyhere@kunde.example")) is None
    assert reason(mail(sender="postmaster.kim@kunde.example")) is None
    assert reason(mail(sender="support@sep.example.evil.example")) is None


@pytest.mark.parametrize(
    "subject",
    [
        "Abwesenheitsnotiz: Restore fails",
        "Automatic reply: Restore",
        "Out of Office",
        "Re: Out of Office",
        "AW: Automatische Antwort: [SEP T-2026-000001] Restore",
        "RE: AW: Abwesenheitsnotiz: Restore",
        "Re[2]: Automatic reply: Restore",
        "SV: Automatisk svar: Restore",
        "Abwesenheit: [SEP T-2026-000011] Alle VM-Sicherungen",
        "WG: Automatische Antwort: Restore",
        "Out of Office AutoReply: Restore",
        "Abwesenheitsnotiz (bis 3.11.)",
        # Lotus/HCL Notes, sent without Auto-Submitted: each one opened a ticket and got
        # an acknowledgement, which it answered again (up to the daily limit).
        "AUTO: Thomas Weiss ist außer Haus (Rückkehr am 20.11.2026)",
        "AUTO: Jan Novak is out of the office (returning 20.11.2026)",
        "Auto: [SEP T-2026-000003] Frage zu Aufbewahrungszeiten",  # Sieve vacation
        # Outlook's prefixes in the languages of the desk's customers (nl, pl, cs).
        "Automatisch antwoord: [SEP T-2026-000001] Restore",
        "Odpowiedź automatyczna: Restore",
        "Automatická odpověď: Restore",
        # Review: Outlook's prefixes in sv, pt, pl (its other word order), fi, and a
        # subject giving the day of return, all without Auto-Submitted.
        "Automatiskt svar: [SEP C-2026-00001] Backup bricht ab",
        "Resposta automática: Restore",
        "Automatyczna odpowiedź: Restore",
        "Automaattinen vastaus: Restore",
        "Out of the office until 20 November",
        "Abwesend bis 3.11.",
    ],
)
def test_out_of_office_subjects(subject: str) -> None:
    assert reason(mail(subject=subject)) is not None


@pytest.mark.parametrize(
    "subject",
    [
        "Re: Restore fails",
        "AW: Frage zur Abwesenheitsplanung",
        # A person's request that opens with the same words (re-audit, 2026-12-06).
        "Out of office hours: backup jobs start too late",
        "Vacation rule: backup of the file server",
        "Abwesenheit des Admins: Restore schlägt fehl",
        "Autoloader: drive 2 offline",
        "Auto-Loader meldet Fehler nach Firmware-Update",
        # "Auto" is German for car: a car dealer's subject, ignored as a Notes auto-reply.
        "Auto: Sicherung der Werkstatt-PCs schlägt fehl",
        "Re: Auto: Sicherung der Werkstatt-PCs schlägt fehl",
        "Out of office hours until 6 am: backups start too late",
    ],
)
def test_replies_of_people_are_no_out_of_office(subject: str) -> None:
    assert reason(mail(subject=subject)) is None


def test_a_null_reverse_path_is_never_answered() -> None:
    # Return-Path, as the delivering server writes the envelope sender (IMAP, files).
    assert "Return-Path: <>" in (reason(mail("Return-Path: <>\r\n")) or "")
    assert reason(mail("Return-Path: < >\r\n")) is not None
    assert reason(mail("Return-Path: <kim@kunde.example>\r\n")) is None
    # The SMTP envelope itself (MAIL FROM:<>), as the receiver stores it.
    raw = parse_mail(mail())
    assert "MAIL FROM:<>" in (automatic_reason(raw, DESK, "<>") or "")
    assert automatic_reason(raw, DESK, "kim@kunde.example") is None
    assert automatic_reason(raw, DESK, None) is None


@pytest.mark.parametrize(
    ("address", "automatic"),
    [
        ("MAILER-DAEMON@kunde.example", True),
        ("postmaster@kunde.example", True),
        ("noreply@kunde.example", True),
        ("billing-noreply@kunde.example", True),
        ("kim@kunde.example", False),
        ("noreplyfan@kunde.example", False),
        ("postmaster.kim@kunde.example", False),
    ],
)
def test_is_automatic_address(address: str, automatic: bool) -> None:
    assert is_automatic_address(address) is automatic


def report(report_type: str) -> bytes:
    param = f" report-type={report_type};" if report_type else ""
    return mail(
        f'MIME-Version: 1.0\r\nContent-Type: multipart/report;{param} boundary="R"\r\n',
        sender="kim@kunde.example",
    ).replace(b"The restore of job X fails.\r\n", b"--R\r\n\r\nx\r\n--R--\r\n")


def test_reports_that_are_no_bounces_are_automatic() -> None:
    assert is_bounce(parse_mail(report("delivery-status")))
    assert is_bounce(parse_mail(report("")))  # no report-type: taken for a DSN, as before
    for kind in ("disposition-notification", '"Disposition-Notification"', "feedback-report"):
        assert not is_bounce(parse_mail(report(kind))), kind
    assert "read receipt" in (reason(report("disposition-notification")) or "")
    assert "report-type=feedback-report" in (reason(report("feedback-report")) or "")


def test_a_notice_of_long_word_runs_names_its_recipient_at_once() -> None:
    """The address pattern tried every position of a run of word characters up to its
    end: a 60,000-character run took about 8 s, a MB-sized one hours. A hang guard."""
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nTo: support@sep.example\r\n"
        b"Subject: failure notice\r\n\r\n" + b"a" * 60_000 + b"\r\n"
        b"<kim.o+desk@kunde.example>: no mailbox here by that name\r\n"
    )
    mail = parse_mail(raw)
    started = time.monotonic()
    report = read_report(mail, raw)
    assert time.monotonic() - started < 2
    assert is_bounce(mail) and report.mentioned == ("kim.o+desk@kunde.example",)


def test_an_address_in_bounce_prose_is_whole_or_none() -> None:
    """The local part is bounded (64, for linear time): a longer one is no address, and
    its last 64 characters must not pass for one."""
    from sepdesk.pipeline.bounces import _ADDRESS

    assert _ADDRESS.findall("to " + "a" * 70 + ".kim@kunde.example failed") == []
    assert _ADDRESS.findall("to kim@kunde.example failed") == ["kim@kunde.example"]


def test_blanks_before_a_header_s_colon_do_not_hide_it_or_end_the_header() -> None:
    """RFC 5322's obsolete syntax ("Auto-Submitted : auto-replied"): the standard parser
    took the line for the body's start, so the auto-reply was answered and its Subject
    and Message-ID were lost (review finding)."""
    raw = (
        b"From: it@kunde.example\r\nAuto-Submitted : auto-replied\r\nTo: support@sep.example\r\n"
        b"Subject \t: Abwesenheitsnotiz\r\nMessage-ID: <r5@kunde.example>\r\n\r\n"
        b"Ich bin nicht im Buero.\r\nNote : a colon in the body stays as it is.\r\n"
    )
    parsed = parse_mail(raw)
    assert automatic_reason(parsed, DESK) == "Auto-Submitted: auto-replied"
    assert (parsed.subject, parsed.message_id) == ("Abwesenheitsnotiz", "r5@kunde.example")
    assert "Note : a colon in the body stays as it is." in parsed.text
    assert any("Auto-Submitted: blanks before its colon" in d for d in parsed.defects)


@pytest.mark.parametrize(
    "subject",
    [
        "DELIVERY FAILURE: User t.weiss not listed in Domino Directory",
        "Delivery Failure",
        "Nicht zustellbar: [SEP T-2026-000003] Restore",
        "Permanent Delivery Failure: [SEP T-2026-000006] Restore",
        "Message not delivered",
        "Zustellung fehlgeschlagen",
        "Onbestelbaar: [SEP T-2026-000010] Restore",
        "Mail could not be delivered",
    ],
)
def test_a_daemons_failure_notice_in_other_words_is_a_bounce(subject: str) -> None:
    """Review: these were "ignored - automatic sender" even when they named our ticket;
    as bounces they are kept on the ticket they point to (or mark the mail they return)."""
    assert is_bounce(parse_mail(mail(sender="MAILER-DAEMON@mx.kunde.example", subject=subject)))
    assert not is_bounce(parse_mail(mail(subject=subject)))  # a person's subject, no notice
