"""The outbound sender against a real SMTP sink: headers, retries with backoff, no plaintext fallback."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sepdesk.config import Settings
from sepdesk.desk import Desk
from sepdesk.errors import InputError
from sepdesk.outbound import sender
from sepdesk.outbound.compose import tagged_subject
from sepdesk.outbound.outbox import enqueue, queued_mail
from sepdesk.store import write_tx
from tests.conftest import T0
from tests.servers.smtp_sink import SmtpSink, smtp_sink  # noqa: F401  (fixture)


def queue_one(
    desk: Desk,
    subject: str = "Backup fails\r\nBcc: evil@example.org",
    to: tuple[str, ...] = ("customer@example.org",),
) -> int:
    with write_tx(desk.db):
        return enqueue(
            desk.db,
            queued_mail(
                desk.settings,
                kind="ack",
                to=list(to),
                subject=tagged_subject(desk.settings, "T-2026-000001", subject),
                body="Hello\n",
                at=T0,
                ticket_ref="T-2026-000001",
            ),
        )


def state(desk: Desk, outbox_id: int) -> tuple[str, int, str | None]:
    row = desk.db.execute(
        "SELECT state, attempts, last_error FROM outbox WHERE id = ?", [outbox_id]
    ).fetchone()
    return row[0], row[1], row[2]


def send_refusing(
    desk: Desk, sink: SmtpSink, refused: str, code: int, to: tuple[str, ...] = ()
) -> tuple[int, str, int, str | None]:
    """Queue one mail, have the relay refuse ``refused`` with ``code``, send once; the
    outbox id and the row's state, attempts and last error."""
    oid = queue_one(desk, "Breach", to) if to else queue_one(desk)
    sink.refuse_rcpt(refused, code)
    sender.run_once(desk, T0)
    return (oid, *state(desk, oid))


@pytest.fixture
def relay_desk(
    settings_factory: Callable[..., Settings],
    smtp_sink: SmtpSink,  # noqa: F811
) -> Iterator[Desk]:
    """A desk whose [relay] is the sink."""
    desk = Desk.open(settings_factory(relay=smtp_sink.relay_settings()))
    yield desk
    desk.close()


def test_without_relay_mail_is_written_to_the_outbox_folder(desk: Desk) -> None:
    oid = queue_one(desk)
    assert sender.run_once(desk, T0) == 1
    assert state(desk, oid)[0] == "sent"
    files = list(Path(desk.settings.outbox.dir).glob("*.eml"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    head = raw.split(b"\r\n\r\n", 1)[0].decode().replace("\r\n", "\n")
    assert "Auto-Submitted: auto-replied" in head
    assert "X-Loop: support@sep.example" in head
    assert "@sep.example>" in head.split("Message-ID:")[1].splitlines()[0]
    assert "Subject: [SEP T-2026-000001] Backup fails Bcc: evil@example.org" in head
    assert "\nBcc:" not in head


def test_relay_delivers_with_tag_and_loop_headers(relay_desk: Desk, smtp_sink: SmtpSink) -> None:  # noqa: F811
    desk = relay_desk
    oid = queue_one(desk, "Backup fails")
    sender.run_once(desk, T0)
    assert state(desk, oid)[0] == "sent"
    (msg,) = smtp_sink.to("customer@example.org")
    assert msg["Subject"] == "[SEP T-2026-000001] Backup fails"
    assert msg["From"] == "SEP Support <support@sep.example>"
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Loop"] == "support@sep.example"


def test_a_non_ascii_recipient_fails_alone_and_the_outbox_goes_on(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """smtplib cannot write a non-ASCII address in RCPT TO: every pass of the sender
    raised at that mail, and no mail after it was ever sent."""
    wide = queue_one(relay_desk, "Backup", ("kündé@exämple.org",))
    plain = queue_one(relay_desk, "Backup", ("customer@example.org",))
    assert sender.run_once(relay_desk, T0) == 2
    assert state(relay_desk, wide)[0] == "failed"
    assert "kündé@exämple.org" in (state(relay_desk, wide)[2] or "")
    assert state(relay_desk, plain)[0] == "sent"
    assert [m.rcpt_tos for m in smtp_sink.messages] == [("customer@example.org",)]


def test_an_acknowledgement_that_fails_for_good_flags_its_ticket(
    relay_desk: Desk,
    tmp_path: Path,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """As a bounce does: the customer never got it (black-box review: a non-ASCII sender's
    acknowledgement failed while the ticket showed nothing)."""
    from sepdesk.intake.files import ingest_file

    mail = tmp_path / "wide.eml"
    mail.write_bytes(
        "From: Jürgen <jürgen@müller-firma.de>\nTo: support@sep.example\nSubject: utf8\n"
        "Message-ID: <utf8addr1@x.example>\n\nOur backup fails.\n".encode()
    )
    number = ingest_file(relay_desk, mail, T0).ticket
    sender.run_once(relay_desk, datetime.now(UTC) + timedelta(minutes=1))  # queued at now
    ticket = relay_desk.db.execute(
        "SELECT id, delivery_failed FROM tickets WHERE ticket_number = ?", [number]
    ).fetchone()
    assert ticket[1] == 1
    [detail] = relay_desk.db.execute(
        "SELECT detail FROM events WHERE ticket_id = ? AND kind = 'delivery_failed'", [ticket[0]]
    ).fetchone()
    assert "SMTPUTF8" in json.loads(detail)["error"]


def test_an_address_with_a_non_ascii_domain_goes_out_in_idna_form(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """Review: a reply to k.mueller@müller-bau.de had ``To: =?utf-8?b?...?=``, the whole
    address one encoded word (RFC 2047 forbids that): no reader or relay can read it. The
    domain goes as its A-label (IDNA 2008: "straße" is not "strasse"), in the To header
    and in RCPT TO; a local part that is not ASCII is refused for good, saying why, and
    the other recipients still get the mail."""
    to = ("k.mueller@müller-bau.de", "x@straße.de", "jürgen@müller-bau.de")
    oid = queue_one(relay_desk, "Backup", to)
    sender.run_once(relay_desk, T0)
    [got] = smtp_sink.received()
    assert got.rcpt_tos == ("k.mueller@xn--mller-bau-q9a.de", "x@xn--strae-oqa.de")
    head = got.raw.split(b"\r\n\r\n")[0].decode("ascii")
    assert "To: k.mueller@xn--mller-bau-q9a.de, x@xn--strae-oqa.de\r\n" in head
    assert "=?utf-8?b?ay5tdWVsbGVy" not in head
    st, _, error = state(relay_desk, oid)
    assert st == "sent" and error is not None
    assert "jürgen@müller-bau.de" in error and "local part is not ASCII" in error


def test_a_failed_acknowledgement_sent_on_retry_unflags_its_ticket(
    relay_desk: Desk,
    tmp_path: Path,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """Review finding: the ticket stayed 'mail bounced' (listed first) after the retry
    delivered the mail."""
    from sepdesk.intake.files import ingest_file
    from sepdesk.outbound.outbox import requeue

    mail = tmp_path / "m.eml"
    mail.write_bytes(
        b"From: Kunde <kunde@x.example>\nTo: support@sep.example\nSubject: Backup\n"
        b"Message-ID: <retry1@x.example>\n\nOur backup fails.\n"
    )
    number = ingest_file(relay_desk, mail, T0).ticket
    [oid] = [
        r["id"]
        for r in relay_desk.db.query("SELECT id, kind FROM outbox")
        if r["kind"] != "team_notice"
    ]
    smtp_sink.fail_next(1, 550)
    sender.run_once(relay_desk, datetime.now(UTC) + timedelta(minutes=1))
    flag = "SELECT delivery_failed FROM tickets WHERE ticket_number = ?"
    assert state(relay_desk, oid)[0] == "failed"
    assert relay_desk.db.execute(flag, [number]).fetchone() == (1,)
    requeue(relay_desk.db, oid, datetime.now(UTC))
    sender.run_once(relay_desk, datetime.now(UTC) + timedelta(minutes=2))
    assert state(relay_desk, oid)[0] == "sent"
    assert relay_desk.db.execute(flag, [number]).fetchone() == (0,)


def outbox_cli(desk: Desk, tmp_path: Path) -> Callable[..., Any]:
    """``sepdesk outbox ARGS`` on the desk's database."""
    from click.testing import CliRunner

    from sepdesk.cli.main import _register, cli
    from tests.conftest import write_toml

    _register()
    cfg = write_toml(tmp_path / "o.toml", {"database": {"path": desk.settings.database.path}})
    return lambda *args: CliRunner().invoke(cli, ["--config", str(cfg), "outbox", *args])


def test_a_failed_mail_dismissed_no_longer_counts_in_status(
    relay_desk: Desk,
    tmp_path: Path,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """A mail that fails for good (a non-ASCII address) kept outbox_failed at 1 for ever,
    and the documented alarm on it: dismissed, it stays failed but is not counted; retried
    and failing again, it counts again."""
    from sepdesk.outbound.outbox import dismiss, requeue
    from sepdesk.reports.status import desk_status

    oid = queue_one(relay_desk, "Backup", ("jürgen@müller-firma.de",))
    sent = queue_one(relay_desk, "Backup", ("customer@example.org",))
    sender.run_once(relay_desk, T0)
    assert state(relay_desk, oid)[0] == "failed"
    assert desk_status(relay_desk, T0)["outbox_failed"] == 1
    with pytest.raises(InputError, match="sent, not failed"):
        dismiss(relay_desk.db, sent, T0)
    cli = outbox_cli(relay_desk, tmp_path)
    done = cli("dismiss", str(oid))
    assert done.exit_code == 0, done.output
    assert done.stdout == f"outbox #{oid}: dismissed; status no longer counts it as failed\n"
    assert state(relay_desk, oid)[0] == "failed"  # SPEC's states stay as they are
    assert desk_status(relay_desk, T0)["outbox_failed"] == 0
    [row] = [r for r in json.loads(cli("list", "--json").stdout) if r["id"] == oid]
    assert row["state"] == "failed" and row["dismissed_at"]
    table = cli("list").stdout.splitlines()
    assert "failed (dismissed)" in next(line for line in table if line.split()[0] == str(oid))
    refused = cli("dismiss", str(sent))
    assert refused.exit_code == 1 and "only a failed mail is dismissed" in refused.stderr
    requeue(relay_desk.db, oid, T0)
    sender.run_once(relay_desk, T0 + timedelta(minutes=1))
    assert desk_status(relay_desk, T0)["outbox_failed"] == 1


def test_temporary_failure_is_retried_after_backoff(relay_desk: Desk, smtp_sink: SmtpSink) -> None:  # noqa: F811
    desk = relay_desk
    oid = queue_one(desk)
    smtp_sink.fail_next(1, 451)
    sender.run_once(desk, T0)
    st, attempts, error = state(desk, oid)
    assert (st, attempts) == ("queued", 1) and error and "451" in error
    assert sender.run_once(desk, T0 + timedelta(seconds=30)) == 0  # backoff not over yet
    assert sender.run_once(desk, T0 + timedelta(minutes=1)) == 1
    assert state(desk, oid)[:2] == ("sent", 2)
    assert len(smtp_sink.received()) == 1


def test_a_temporary_refusal_at_rcpt_is_retried(relay_desk: Desk, smtp_sink: SmtpSink) -> None:  # noqa: F811
    """Greylisting answers 450 at RCPT TO: that is no reason to give the mail up."""
    oid, st, attempts, error = send_refusing(relay_desk, smtp_sink, "customer@example.org", 450)
    assert (st, attempts) == ("queued", 1) and error and "450" in error
    assert sender.run_once(relay_desk, T0 + timedelta(minutes=1)) == 1
    assert state(relay_desk, oid)[:2] == ("sent", 2)
    assert len(smtp_sink.to("customer@example.org")) == 1


def test_some_recipients_refused_for_now_get_it_later_and_the_rest_once(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    two = ("lead@example.org", "lead2@example.org")
    oid, st, attempts, error = send_refusing(relay_desk, smtp_sink, "lead2@example.org", 450, two)
    assert (st, attempts) == ("sent", 1), error  # it went out: not failed
    assert error and "delivered to lead@example.org" in error and "lead2@example.org 450" in error
    # The row says whom it went to; the one refused for now has a queued copy of its own.
    row = relay_desk.db.execute("SELECT to_addrs FROM outbox WHERE id = ?", [oid]).fetchone()
    assert row[0] == '["lead@example.org", "lead2@example.org"]'
    (copy,) = relay_desk.db.execute("SELECT id, to_addrs FROM outbox WHERE id != ?", [oid])
    assert copy[1] == '["lead2@example.org"]' and f"outbox #{copy[0]} retries" in error
    assert sender.run_once(relay_desk, T0 + timedelta(minutes=1)) == 1
    assert state(relay_desk, copy[0])[0] == "sent"
    assert len(smtp_sink.to("lead@example.org")) == 1  # no second copy for the first one
    assert len(smtp_sink.to("lead2@example.org")) == 1


def test_a_fault_at_quit_after_the_relay_took_the_mail_is_no_failure(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review: smtplib's context manager raised on a QUIT fault after the 250 for DATA,
    so a mail the relay had was retried (sent to everyone again) or failed."""
    import smtplib

    docmd = smtplib.SMTP.docmd

    def bad_quit(self: smtplib.SMTP, cmd: str, args: str = "") -> tuple[int, bytes]:
        if cmd.lower() == "quit":
            return 421, b"4.3.2 shutting down"  # not 221
        return docmd(self, cmd, args)

    monkeypatch.setattr(smtplib.SMTP, "docmd", bad_quit)
    oid = queue_one(relay_desk)
    sender.run_once(relay_desk, T0)
    assert state(relay_desk, oid)[:2] == ("sent", 1)
    assert len(smtp_sink.received()) == 1


def test_a_recipient_refused_for_good_beside_others_is_named(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    two = ("lead@example.org", "gone@example.org")
    _, st, _, error = send_refusing(relay_desk, smtp_sink, "gone@example.org", 550, two)
    assert st == "sent" and error and "gone@example.org 550" in error
    assert len(smtp_sink.to("lead@example.org")) == 1


def test_permanent_failure_marks_failed_with_reason(relay_desk: Desk, smtp_sink: SmtpSink) -> None:  # noqa: F811
    desk = relay_desk
    oid = queue_one(desk)
    smtp_sink.fail_next(1, 550)
    sender.run_once(desk, T0)
    st, attempts, error = state(desk, oid)
    assert st == "failed" and attempts == 1 and "550" in (error or "")
    assert sender.run_once(desk, T0 + timedelta(hours=2)) == 0


def test_attempts_are_bounded(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    desk = Desk.open(settings_factory(relay=smtp_sink.relay_settings(), outbox={"max_attempts": 2}))
    oid = queue_one(desk)
    smtp_sink.fail_next(5, 421)
    sender.run_once(desk, T0)
    sender.run_once(desk, T0 + timedelta(hours=1))
    assert state(desk, oid)[:2] == ("failed", 2)
    desk.close()


def test_starttls_missing_is_an_error_never_plaintext(
    tmp_path: Path,
    settings_factory: Callable[..., Settings],
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    relay = {**smtp_sink.relay_settings(), "tls": "starttls"}
    desk = Desk.open(settings_factory(relay=relay))
    oid = queue_one(desk)
    sender.run_once(desk, T0)
    st, _attempts, error = state(desk, oid)
    assert st == "queued" and "STARTTLS" in (error or "").upper()
    assert smtp_sink.received() == []
    desk.close()


def test_a_failed_mail_can_be_queued_again_and_is_listed_with_its_error(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    tmp_path: Path,
) -> None:
    from click.testing import CliRunner

    from sepdesk.cli.main import _register, cli
    from sepdesk.instants import now
    from tests.conftest import write_toml

    oid = queue_one(relay_desk)
    smtp_sink.fail_next(1, 550)
    sender.run_once(relay_desk, T0)
    assert state(relay_desk, oid)[0] == "failed"
    cfg = write_toml(
        tmp_path / "c.toml",
        {
            "database": {"path": relay_desk.settings.database.path},
            "relay": smtp_sink.relay_settings(),
        },
    )
    _register()
    listed = CliRunner().invoke(cli, ["--config", str(cfg), "outbox", "list", "--json"])
    assert listed.exit_code == 0 and '"last_error": "relay said 550' in listed.output
    again = CliRunner().invoke(cli, ["--config", str(cfg), "outbox", "retry", str(oid)])
    assert again.exit_code == 0, again.output
    assert state(relay_desk, oid)[:2] == ("queued", 0)  # a fresh count of attempts
    assert sender.run_once(relay_desk, now() + timedelta(seconds=1)) == 1  # due at once
    assert state(relay_desk, oid)[0] == "sent"
    assert len(smtp_sink.received()) == 1
    twice = CliRunner().invoke(cli, ["--config", str(cfg), "outbox", "retry", str(oid)])
    assert twice.exit_code == 1 and "not failed" in twice.output


def test_an_outbox_folder_that_fails_keeps_the_mail_queued_past_its_attempts(
    tmp_path: Path, settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """A full or read-only outbox folder is our fault, not the mail's: counted against
    the mail, every reply queued meanwhile ended failed (8 attempts, about 2 h) and had
    to be retried by hand once space was freed."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    desk = Desk.open(settings_factory(outbox={"dir": str(blocker / "outbox"), "max_attempts": 2}))
    oid = queue_one(desk)
    queue_one(desk)
    at = T0
    caplog.set_level(logging.INFO, logger="sepdesk.sender")
    for _ in range(4):
        assert sender.run_once(desk, at) == 2
        st, attempts, error = state(desk, oid)
        assert st == "queued" and error and "cannot write outgoing mail" in error
        assert attempts == 0  # the folder's fault, not the mail's: no attempt used up
        at += sender.DEFER_RETRY  # retried this often, however long the fault lasts
    blocker.unlink()
    assert sender.run_once(desk, at) == 2
    assert state(desk, oid)[:2] == ("sent", 1)
    assert len(list((blocker / "outbox").glob("*.eml"))) == 2
    # One line for the fault and one for its end, not one per mail and attempt.
    faults = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert [level for level, _ in faults] == ["ERROR", "WARNING"], faults
    assert "stay queued" in faults[0][1] and "after 4 failed writes" in faults[1][1]
    desk.close()


def test_a_mail_that_cannot_be_composed_fails_alone(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    broken = queue_one(relay_desk, "Backup")
    fine = queue_one(relay_desk, "Backup")
    with write_tx(relay_desk.db):
        relay_desk.db.execute("UPDATE outbox SET to_addrs = 'not json' WHERE id = ?", [broken])
    assert sender.run_once(relay_desk, T0) == 2
    st, _, error = state(relay_desk, broken)
    assert st == "failed" and error and error.startswith("cannot compose: JSONDecodeError")
    assert state(relay_desk, fine)[0] == "sent"
    assert len(smtp_sink.received()) == 1


def test_an_unexpected_error_sending_one_mail_does_not_stop_the_rest(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = queue_one(relay_desk, "Backup")
    second = queue_one(relay_desk, "Backup")
    relay = sender._relay

    def flaky(session: Any, row: dict[str, Any]) -> dict[str, tuple[int, bytes]]:
        if row["id"] == first:
            raise RuntimeError("surprise")
        return relay(session, row)

    monkeypatch.setattr(sender, "_relay", flaky)
    assert sender.run_once(relay_desk, T0) == 2
    assert state(relay_desk, first) == ("queued", 1, "RuntimeError: surprise")
    assert state(relay_desk, second)[0] == "sent"


def test_a_mail_the_relay_took_is_not_sent_again_while_its_record_fails(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The relay took the mail, then the database could not record it (full): the pass
    failed with the mail still queued, and every pass after it, five seconds apart in
    serve, handed it to the relay again."""
    oid = queue_one(relay_desk, "Backup")
    record = sender._record
    failures = iter([True, True])

    def full_disk(desk: Desk, row: dict[str, Any], *args: Any, **kw: Any) -> None:
        if next(failures, False):
            raise sqlite3.OperationalError("database or disk is full")
        record(desk, row, *args, **kw)

    monkeypatch.setattr(sender, "_record", full_disk)
    for _ in range(2):
        with pytest.raises(sqlite3.OperationalError):
            sender.run_once(relay_desk, T0)
        assert state(relay_desk, oid)[0] == "queued"
    # Recorded from the journal before the pass looks for mail: none is left to try.
    assert sender.run_once(relay_desk, T0) == 0
    assert state(relay_desk, oid)[:2] == ("sent", 1)
    assert len(smtp_sink.received()) == 1


def test_a_non_ascii_recipient_beside_others_is_refused_alone(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """An escalation or a phone confirmation may go to several addresses: one that
    smtplib cannot write must not keep the mail from the others."""
    oid = queue_one(relay_desk, "Breach", ("kündé@exämple.org", "lead@example.org"))
    assert sender.run_once(relay_desk, T0) == 1
    st, _, error = state(relay_desk, oid)
    assert st == "sent" and error and "kündé@exämple.org 553" in error
    assert [m.rcpt_tos for m in smtp_sink.messages] == [("lead@example.org",)]
    queued = "SELECT count(*) FROM outbox WHERE state = 'queued'"
    assert relay_desk.db.execute(queued).fetchone()[0] == 0  # refused for good: no retry


def queue_many(desk: Desk, n: int) -> list[int]:
    """n mails, each to a recipient of its own (customer0@ ... )."""
    return [queue_one(desk, "Backup", (f"customer{i}@example.org",)) for i in range(n)]


def test_the_mails_of_a_pass_go_over_one_connection(relay_desk: Desk, smtp_sink: SmtpSink) -> None:  # noqa: F811
    """One connection (TLS handshake, login) per mail held a burst of 500 acknowledgements
    to about 30 mails/s (bench/sender.py); the mails of a pass now share one."""
    ids = queue_many(relay_desk, 5)
    assert sender.run_once(relay_desk, T0) == 5
    assert [state(relay_desk, i) for i in ids] == [("sent", 1, None)] * 5
    assert [m.rcpt_tos for m in smtp_sink.received()] == [
        (f"customer{i}@example.org",) for i in range(5)
    ]
    assert smtp_sink.connections == 1


def test_a_connection_carries_at_most_mails_per_connection(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender, "MAILS_PER_CONNECTION", 2)
    ids = queue_many(relay_desk, 5)
    assert sender.run_once(relay_desk, T0) == 5
    assert [state(relay_desk, i) for i in ids] == [("sent", 1, None)] * 5
    assert smtp_sink.connections == 3


@pytest.mark.parametrize("how", ["drop", "421", "452"])
def test_a_relay_closing_between_mails_charges_nobody(
    how: str,
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """A relay that ends the session after some mails (a drop after the 250, or 421 to
    the next MAIL FROM): the rest go over a new connection, no mail charged for it. So
    for one that refuses any further MAIL FROM with 452 ("too many messages"): each
    mail after the second was charged an attempt, RSET, and went out in no pass."""
    smtp_sink.close_after(2, how)
    ids = queue_many(relay_desk, 5)
    assert sender.run_once(relay_desk, T0) == 5
    assert [state(relay_desk, i) for i in ids] == [("sent", 1, None)] * 5
    assert len(smtp_sink.received()) == 5
    assert smtp_sink.connections == 3


def test_a_mail_refused_in_the_middle_fails_alone_and_the_session_goes_on(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    """After a refused transaction the sender says RSET: the mails after it go over the
    same connection (aiosmtpd answers a MAIL FROM in a transaction left open with 503)."""
    ids = queue_many(relay_desk, 5)
    smtp_sink.refuse_rcpt("customer2@example.org", 550)
    assert sender.run_once(relay_desk, T0) == 5
    states = [state(relay_desk, i) for i in ids]
    assert states[2][:2] == ("failed", 1) and "550" in (states[2][2] or "")
    assert states[:2] + states[3:] == [("sent", 1, None)] * 4
    assert len(smtp_sink.received()) == 4
    assert smtp_sink.connections == 1


def test_a_mail_refused_at_data_fails_alone_and_the_session_goes_on(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
) -> None:
    ids = queue_many(relay_desk, 3)
    smtp_sink.fail_next(1, 550)  # the first mail's DATA
    assert sender.run_once(relay_desk, T0) == 3
    assert state(relay_desk, ids[0])[:2] == ("failed", 1)
    assert [state(relay_desk, i) for i in ids[1:]] == [("sent", 1, None)] * 2
    assert smtp_sink.connections == 1


class Killed(BaseException):
    """The sender's process dying (SIGKILL, an OOM kill): no except branch runs."""


def killed_before(monkeypatch: pytest.MonkeyPatch, desk: Desk, step: str) -> None:
    """One pass whose process dies after the relay's 250, at ``step`` (the record), then
    the restart: the step back, nothing of the old process's memory."""

    def killed(*_args: Any, **_kw: Any) -> None:
        raise Killed

    with monkeypatch.context() as dying:
        dying.setattr(sender, step, killed)
        with pytest.raises(Killed):
            sender.run_once(desk, T0)
    monkeypatch.setattr(sender, "_DELIVERED", {})


def test_a_mail_the_relay_took_just_before_a_crash_is_not_sent_again(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SPEC §4, at most one acknowledgement per message: killed between the relay's 250
    and the commit (a window that holds the wait for the write lock), the desk handed the
    acknowledgement to the relay again after its restart (3 resends in ~55 kills)."""
    oid = queue_one(relay_desk, "Backup")
    killed_before(monkeypatch, relay_desk, "_record")
    restarted = Desk.open(relay_desk.settings)
    try:
        assert sender.run_once(restarted, T0 + timedelta(minutes=1)) == 0
        assert state(restarted, oid)[:2] == ("sent", 1)
    finally:
        restarted.close()
    assert len(smtp_sink.received()) == 1
    assert sender.journal.entries(relay_desk.settings) == []  # folded, then emptied


def test_a_journal_entry_of_a_restored_database_s_id_marks_no_other_mail_sent(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Restored from a backup, the database hands out the journalled outbox ids again:
    the next start marked three other customers' acknowledgements sent unsent (review
    finding). The journal names the mail by its Message-ID too."""
    from sepdesk.store.backup import backup_to

    backup = tmp_path / "backup.db"
    backup_to(relay_desk.db, str(backup))
    oid = queue_one(relay_desk, "Backup")
    killed_before(monkeypatch, relay_desk, "_record")
    relay_desk.close()
    path = Path(relay_desk.settings.database.path)
    for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    path.write_bytes(backup.read_bytes())  # the Restore: the journal stays where it is
    restored = Desk.open(relay_desk.settings)
    try:
        other = queue_one(restored, "Another customer's acknowledgement")
        assert other == oid  # the id is handed out again
        assert sender.run_once(restored, T0 + timedelta(minutes=1)) == 1
        assert state(restored, other)[0] == "sent"
    finally:
        restored.close()
    assert len(smtp_sink.received()) == 2  # the new mail went out


def test_a_partial_delivery_before_a_crash_retries_only_those_refused_for_now(
    relay_desk: Desk,
    smtp_sink: SmtpSink,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    oid = queue_one(relay_desk, "Breach", ("a@example.org", "b@example.org"))
    smtp_sink.refuse_rcpt("b@example.org", 450)
    killed_before(monkeypatch, relay_desk, "_record_partial")
    assert sender.fold_journal(relay_desk) == 1
    rows = relay_desk.db.execute("SELECT id, state, to_addrs FROM outbox ORDER BY id").fetchall()
    assert rows == [
        (oid, "sent", '["a@example.org", "b@example.org"]'),
        (oid + 1, "queued", '["b@example.org"]'),
    ]
    assert "refused: b@example.org 450" in str(state(relay_desk, oid)[2])
    assert [m.rcpt_tos for m in smtp_sink.received()] == [("a@example.org",)]


def test_a_journal_line_cut_short_by_a_crash_is_left_out(relay_desk: Desk) -> None:
    path = sender.journal.journal_path(relay_desk.settings)
    path.write_bytes(b'{"id": 7, "at": "2026-11-02T09:00:00+00:00", "refused": {}}\n{"id": 8, "a')
    assert [t.outbox_id for t in sender.journal.entries(relay_desk.settings)] == [7]
