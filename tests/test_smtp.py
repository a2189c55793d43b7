"""The SMTP receiver over a real socket: desk recipients only, size limit, 250 after the commit."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from sepdesk.config import Settings
from sepdesk.contracts import import_csv
from sepdesk.daemon.serve import Daemon
from sepdesk.desk import Desk
from sepdesk.intake.smtp import IntakeHandler, start_receiver
from tests.conftest import CONTRACTS, LABELS, MAILS, T0, free_port, write_toml

SESSION_DAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def send(settings: Settings, raw: bytes, rcpt: str = "support@sep.example") -> None:
    with smtplib.SMTP(settings.smtp.host, settings.smtp.port, timeout=10) as client:
        client.sendmail("sender@example.org", [rcpt], raw)


def count(desk: Desk, sql: str) -> int:
    return int(desk.db.execute(sql).fetchone()[0])


@pytest.fixture
def daemon(settings_factory: Callable[..., Settings]) -> Iterator[Daemon]:
    d = Daemon(settings_factory())
    with time_machine.travel(SESSION_DAY, tick=True):
        d.start()
        yield d
        d.shutdown()


def test_samples_through_serve_get_their_labelled_outcomes(daemon: Daemon) -> None:
    desk = Desk.open(daemon.settings)
    import_csv(desk.db, CONTRACTS, T0)
    for path in MAILS:
        send(daemon.settings, path.read_bytes())
        # File order matters (the corpus threads on earlier tickets): wait for each.
        wait_for(lambda: count(desk, "SELECT count(*) FROM intake WHERE state = 'pending'") == 0)
    outcomes = [r[0] for r in desk.db.execute("SELECT outcome FROM intake ORDER BY id")]
    assert outcomes == [LABELS[p.name]["expected_outcome"] for p in MAILS]
    envelope = desk.db.execute("SELECT mail_from, rcpt_to FROM intake LIMIT 1").fetchone()
    assert envelope == ("sender@example.org", '["support@sep.example"]')
    desk.close()


def test_foreign_recipient_gets_550_and_is_never_relayed(daemon: Daemon) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        send(daemon.settings, b"Subject: x\n\nhello", rcpt="someone@elsewhere.example")
    code, text = err.value.recipients["someone@elsewhere.example"]
    assert code == 550 and b"5.1.1" in text


def test_oversize_mail_gets_552(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(smtp={"max_message_bytes": 2000})
    handler = IntakeHandler(settings)
    controller = start_receiver(settings, handler)
    try:
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as err:
            send(settings, b"Subject: big\n\n" + b"x" * 5000)
        assert err.value.smtp_code == 552
    finally:
        controller.stop()
        handler.close()


@pytest.fixture
def receiver(settings_factory: Callable[..., Settings]) -> Iterator[Settings]:
    """The aiosmtpd receiver alone, on a migrated database."""
    settings = settings_factory()
    Desk.open(settings).close()
    handler = IntakeHandler(settings)
    controller = start_receiver(settings, handler)
    try:
        yield settings
    finally:
        controller.stop()
        handler.close()


@pytest.mark.parametrize("path", ["<bad", "<t.weiss@mueller-maschinenbau.de", '<"x>"@example.org'])
def test_unterminated_sender_is_a_syntax_error(receiver: Settings, path: str) -> None:
    """RFC 5321: the reverse-path is "<" ... ">"; without the ">" it is a 501, not a 250."""
    with smtplib.SMTP(receiver.smtp.host, receiver.smtp.port, timeout=10) as client:
        client.ehlo()
        code, text = client.docmd(f"MAIL FROM:{path}")
        assert (code, text) == (501, b"5.1.7 bad sender address syntax: no closing '>'")
        assert client.docmd("RCPT TO:<support@sep.example>")[0] == 503  # no sender taken
        # The session goes on: a well-formed sender is accepted and its mail stored.
        assert client.docmd("MAIL FROM:<sender@example.org>")[0] == 250
        assert client.docmd("RCPT TO:<support@sep.example")[0] == 501  # the same for RCPT
        assert client.docmd("RCPT TO:<support@sep.example>")[0] == 250
        assert client.data(b"Subject: hi\r\n\r\nhello\r\n")[0] == 250
    desk = Desk.open(receiver)
    assert desk.db.execute("SELECT mail_from FROM intake").fetchall() == [("sender@example.org",)]
    desk.close()


@pytest.mark.parametrize(
    "path",
    ["<>", "<a@example.org>", "<a@example.org> SIZE=10", "a@example.org", '<"x>"@example.org>'],
)
def test_well_formed_senders_are_still_accepted(receiver: Settings, path: str) -> None:
    with smtplib.SMTP(receiver.smtp.host, receiver.smtp.port, timeout=10) as client:
        client.ehlo()
        assert client.docmd(f"MAIL FROM:{path}")[0] == 250


def test_bare_lf_lines_are_stored_as_crlf_lines_without_the_stuffing_dot(
    receiver: Settings,
) -> None:
    """smtplib sends bytes with bare LF as they are and dot-stuffs after each LF; the
    stored mail must be the one the client meant, as an IMAP copy of it would be."""
    meant = b"Subject: hi\n\nfirst line\n. a line that starts with a dot\n..\nend\n"
    send(receiver, meant)
    desk = Desk.open(receiver)
    (raw,) = desk.db.execute("SELECT raw FROM intake").fetchone()
    desk.close()
    # smtplib adds the CR LF that ends its last line itself.
    assert raw == meant.replace(b"\n", b"\r\n") + b"\r\n"


def test_crlf_lines_leave_standard_content_alone() -> None:
    from sepdesk.intake.smtp import crlf_lines

    standard = b"Subject: x\r\n\r\n.dot kept: aiosmtpd already unstuffed it\r\n"
    assert crlf_lines(standard) is standard
    assert crlf_lines(b"a\r\nb\nc\r\n") == b"a\r\nb\r\nc\r\n"


def test_unterminated_sender_before_helo_is_still_bad_sequence(receiver: Settings) -> None:
    with smtplib.SMTP(receiver.smtp.host, receiver.smtp.port, timeout=10) as client:
        assert client.docmd("MAIL FROM:<bad")[0] == 503


def test_a_client_hanging_up_while_its_mail_is_stored_leaves_the_receiver_working(
    receiver: Settings,
) -> None:
    """A client that gives up waiting for its 250 (the database was busy) cancels its
    session; the store must not die on that, or every later session waits for ever."""
    import socket
    import sqlite3

    blocker = sqlite3.connect(receiver.database.path, timeout=1)
    blocker.execute("BEGIN IMMEDIATE")  # the store's commit waits
    try:
        with socket.create_connection((receiver.smtp.host, receiver.smtp.port), 10) as sock:
            stream = sock.makefile("rwb")
            stream.readline()
            for line in (
                b"HELO client.example",
                b"MAIL FROM:<impatient@example.org>",
                b"RCPT TO:<support@sep.example>",
                b"DATA",
            ):
                stream.write(line + b"\r\n")
                stream.flush()
                assert stream.readline()[:1] in (b"2", b"3")
            stream.write(b"Subject: first\r\n\r\nhello\r\n.\r\n")
            stream.flush()
            time.sleep(0.5)  # the message reaches the store, which waits for the lock
            stream.close()  # the socket closes only with its file
        time.sleep(0.5)  # the hang-up cancels the session
    finally:
        blocker.rollback()
        blocker.close()
    with smtplib.SMTP(receiver.smtp.host, receiver.smtp.port, timeout=10) as client:
        client.sendmail(
            "patient@example.org", ["support@sep.example"], b"Subject: second\r\n\r\nhi"
        )
    desk = Desk.open(receiver)
    senders = [r[0] for r in desk.db.execute("SELECT mail_from FROM intake ORDER BY id")]
    assert senders[-1] == "patient@example.org"
    desk.close()


def test_storage_failure_answers_451(
    settings_factory: Callable[..., Settings], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every sender gets 451 while the store fails, and the log one line for the fault
    (a full disk had one ERROR per refused message), then one when it works again."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the database folder should be")
    settings = settings_factory(database={"path": str(blocker / "sepdesk.db")})
    handler = IntakeHandler(settings)
    controller = start_receiver(settings, handler)
    try:
        with caplog.at_level(logging.DEBUG, logger="sepdesk.smtp"):
            for _ in range(3):
                with pytest.raises(smtplib.SMTPDataError) as err:
                    send(settings, b"Subject: hi\n\nhello")
                assert err.value.smtp_code == 451
            blocker.unlink()
            Desk.open(settings).close()  # the folder, and a migrated database in it
            send(settings, b"Subject: hi\n\nhello")
        lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
        lines = [line for line in lines if "SMTP receiver" in line[1]]
        assert [level for level, _ in lines] == ["ERROR", "WARNING"], lines
        assert "answered 451" in lines[0][1] and "after 3 failed stores" in lines[1][1]
    finally:
        controller.stop()
        handler.close()


def test_stop_between_250_and_processing_then_restart(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    Desk.open(settings).close()  # serve migrates before it listens
    stored: list[int] = []
    handler = IntakeHandler(settings, stored.append)
    controller = start_receiver(settings, handler)
    send(settings, MAILS[0].read_bytes())
    controller.stop()  # the daemon is gone after the 250, before any processing
    handler.close()
    desk = Desk.open(settings)
    assert len(stored) == 1
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'pending'") == 1
    d = Daemon(settings)
    d.start()
    try:
        wait_for(lambda: count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 1)
    finally:
        d.shutdown()
    assert count(desk, "SELECT count(*) FROM tickets") == 1
    assert count(desk, "SELECT count(*) FROM outbox WHERE kind != 'team_notice'") == 1
    desk.close()


def _serve(cfg: Path) -> subprocess.Popen[bytes]:
    with open(cfg.with_suffix(".log"), "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "sepdesk", "--config", str(cfg), "serve"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def test_sigkill_right_after_250_gives_exactly_one_outcome(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_toml(
        tmp_path / "sepdesk.toml",
        {
            "database": {"path": str(tmp_path / "d.db")},
            "outbox": {"dir": str(tmp_path / "outbox")},
            "smtp": {"port": port},
            "hotline": {"spool_dir": str(tmp_path / "spool")},
        },
    )
    settings = settings_factory_from(cfg)
    proc = _serve(cfg)
    try:
        wait_for(lambda: _port_open(port), 20)
        for path in MAILS[:3]:
            send(settings, path.read_bytes())
        children = _children(proc.pid)
        assert children, "serve runs its pipeline in child processes"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # Orphaned pipeline processes notice their parent is gone and stop.
        wait_for(lambda: not any(_running(c) for c in children), 10)
        proc = _serve(cfg)
        wait_for(lambda: _port_open(port), 20)
        desk = Desk.open(settings)
        wait_for(lambda: count(desk, "SELECT count(*) FROM intake WHERE state != 'done'") == 0)
        assert count(desk, "SELECT count(*) FROM intake") == 3
        assert count(desk, "SELECT count(*) FROM tickets") == 3
        assert count(desk, "SELECT count(*) FROM outbox WHERE kind != 'team_notice'") == 3
        desk.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    wait_for(lambda: bool(path.read_text().split()), 20)
    return [int(c) for c in path.read_text().split()]


def _running(pid: int) -> bool:
    """Alive and not a zombie (an unreaped orphan counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def settings_factory_from(cfg: Path) -> Settings:
    from sepdesk.config import load

    return load(cfg)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _session(settings: Settings, *lines: bytes) -> list[bytes]:
    """A raw SMTP session: the reply line to each of ``lines`` (EHLO first, by the caller)."""
    import socket

    with socket.create_connection((settings.smtp.host, settings.smtp.port), 10) as sock:
        stream = sock.makefile("rwb")
        stream.readline()  # 220
        replies = []
        for line in lines:
            stream.write(line + b"\r\n")
            stream.flush()
            reply = stream.readline()
            while reply[3:4] == b"-":  # a multi-line reply: keep its last line
                reply = stream.readline()
            replies.append(reply.rstrip(b"\r\n"))
        stream.close()
    return replies


@pytest.mark.parametrize(
    "rcpt", [b"<\xff@example.org>", b"j\xfcrgen@elsewhere.example", b"<a\x00b@example.org>"]
)
def test_foreign_recipient_not_utf8_gets_550_not_a_traceback(
    receiver: Settings, rcpt: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """The 550 repeats the address: bytes that are not UTF-8 (surrogates to aiosmtpd) and
    control characters become '?', or the reply cannot be encoded (a 500 and a traceback)."""
    replies = _session(
        receiver, b"EHLO client.example", b"MAIL FROM:<a@example.org>", b"RCPT TO:" + rcpt, b"NOOP"
    )
    assert replies[2].startswith(b"550 5.1.1 <") and b"?" in replies[2], replies[2]
    assert replies[3] == b"250 OK"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("command", [b"MAIL FROM:<a@[>", b"RCPT TO:<a@[>", b"RCPT TO:\xc3\xbc@["])
def test_path_the_parser_trips_over_gets_553_not_a_traceback(
    receiver: Settings, command: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    mail = [] if command.startswith(b"MAIL") else [b"MAIL FROM:<a@example.org>"]
    replies = _session(receiver, b"EHLO client.example", *mail, command, b"NOOP")
    assert replies[-2] == b"553 5.1.3 Error: malformed address"
    assert replies[-1] == b"250 OK"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_repeated_recipient_is_accepted_and_kept_once(receiver: Settings) -> None:
    """RFC 5321 lets a client repeat RCPT; it is one delivery. Each repeat was stored, so
    10,000 of them made an envelope of 10,000 addresses."""
    repeats = [b"RCPT TO:<support@sep.example>", b"RCPT TO:<SUPPORT@sep.example>"] * 50
    replies = _session(
        receiver,
        b"EHLO client.example",
        b"MAIL FROM:<a@example.org>",
        *repeats,
        b"DATA",
        b"Subject: hi\r\n\r\nhello\r\n.",
    )
    assert all(r.startswith(b"250 2.1.5") for r in replies[2:102]), replies[2:102]
    assert replies[-1].startswith(b"250 2.0.0 OK: stored as intake #"), replies[-1]
    desk = Desk.open(receiver)
    assert desk.db.execute("SELECT rcpt_to FROM intake").fetchall() == [
        ('["support@sep.example"]',)
    ]
    desk.close()


def test_sender_not_utf8_is_stored_not_refused_with_451(receiver: Settings) -> None:
    """A Latin-1 envelope sender reaches the store as surrogates, which SQLite cannot
    bind: the commit failed, and with it the message (451 for ever) and its batch."""
    replies = _session(
        receiver,
        b"EHLO client.example",
        b"MAIL FROM:<j\xfcrgen@example.org>",
        b"RCPT TO:<support@sep.example>",
        b"DATA",
        b"Subject: hi\r\n\r\nhello\r\n.",
    )
    assert replies[-1].startswith(b"250 2.0.0 OK: stored as intake #"), replies[-1]
    desk = Desk.open(receiver)
    assert desk.db.execute("SELECT mail_from FROM intake").fetchall() == [
        ("j\ufffdrgen@example.org",)
    ]
    desk.close()


def test_a_message_the_store_refuses_fails_alone_not_its_whole_batch(receiver: Settings) -> None:
    """The group commit stores many sessions' messages in one transaction; one that
    cannot be stored must not take the others' 250 with it."""
    from sepdesk.intake.smtp import GroupCommitter

    committer = GroupCommitter(receiver)
    # Queued before the thread starts: one batch. A lone surrogate cannot be bound.
    futures = [
        committer.submit(b"Subject: a\r\n\r\na\r\n", "a@example.org", ["support@sep.example"]),
        committer.submit(
            b"Subject: b\r\n\r\nb\r\n", "b\udcff@example.org", ["support@sep.example"]
        ),
        committer.submit(b"Subject: c\r\n\r\nc\r\n", "c@example.org", ["support@sep.example"]),
    ]
    committer.start()
    try:
        assert futures[0].result(10).new and futures[2].result(10).new
        with pytest.raises(UnicodeEncodeError):
            futures[1].result(10)
    finally:
        committer.close()
    desk = Desk.open(receiver)
    senders = [r[0] for r in desk.db.execute("SELECT mail_from FROM intake ORDER BY id")]
    assert senders == ["a@example.org", "c@example.org"]
    desk.close()


def _banner(settings: Settings) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection((settings.smtp.host, settings.smtp.port), timeout=10)
    return sock, sock.makefile("rb").readline()


def test_sessions_over_max_connections_are_told_421_and_the_slot_comes_back(
    settings_factory: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    """Idle connections must not use up the process's file handles (they stopped the
    receiver for everyone): one over the limit gets 421 and is closed, once a session
    ends its slot serves the next, and the refusals are one log line, not one each."""
    settings = settings_factory(smtp={"max_connections": 2})
    Desk.open(settings).close()
    handler = IntakeHandler(settings)
    controller = start_receiver(settings, handler)
    held: list[socket.socket] = []
    try:
        for _ in range(2):
            sock, banner = _banner(settings)
            held.append(sock)
            assert banner.startswith(b"220 "), banner
        with caplog.at_level(logging.WARNING, logger="sepdesk.smtp"):
            for _ in range(3):
                sock, refusal = _banner(settings)
                assert refusal.startswith(b"421 4.3.2 "), refusal
                assert sock.recv(100) == b""  # closed by the receiver
                sock.close()
            refusals = [
                r.getMessage() for r in caplog.records if "max_connections" in r.getMessage()
            ]
            assert len(refusals) == 1 and refusals[0].startswith("SMTP: 1 connection(s)"), refusals
            held.pop().close()
            wait_for(lambda: controller.sessions.open == 1)
            send(settings, b"Subject: after the limit\r\n\r\nhello\r\n")
            # The end of the burst says how many more were refused since that line.
            refusals = [
                r.getMessage() for r in caplog.records if "max_connections" in r.getMessage()
            ]
            assert len(refusals) == 2 and refusals[1].startswith("SMTP: 2 connection(s)"), refusals
    finally:
        for sock in held:
            sock.close()
        controller.stop()
        handler.close()


def test_a_message_of_more_lines_than_its_size_allows_gets_552_and_is_not_stored(
    settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiosmtpd kept each DATA line as an object of its own: 32 MiB of empty lines held
    1.2 GB and a core for 28 s. Lines go into one buffer now, and a message with more
    lines than 8 bytes each would fill is refused (here: 50 lines at most)."""
    from sepdesk.intake import smtp

    monkeypatch.setattr(smtp, "MIN_LINES", 50)
    settings = settings_factory(smtp={"max_message_bytes": 400})
    Desk.open(settings).close()
    handler = IntakeHandler(settings)
    controller = start_receiver(settings, handler)
    try:
        with pytest.raises(smtplib.SMTPDataError) as err:
            send(settings, b"Subject: blank\r\n" + b"\r\n" * 60)
        assert err.value.smtp_code == 552 and b"too many lines" in err.value.smtp_error
        # Read to its end and answered: a mail server gets its permanent refusal (a
        # dropped connection would have it send the message again and again).
        with smtplib.SMTP(settings.smtp.host, settings.smtp.port, timeout=10) as client:
            client.ehlo()
            client.mail("sender@example.org")
            client.rcpt("support@sep.example")
            assert client.data(b"Subject: blank\r\n" + b"\r\n" * 60)[0] == 552
            assert client.noop()[0] == 250  # the session goes on
            # A stream past what any message within the limit can be is hung up on.
            client.mail("sender@example.org")
            client.rcpt("support@sep.example")
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.data(b"Subject: endless\r\n" + b"\r\n" * 5_000)
        send(settings, b"Subject: fine\r\n\r\n" + b".dot\r\n" * 40)
        desk = Desk.open(settings)
        (raw,) = desk.db.execute("SELECT raw FROM intake").fetchone()
        desk.close()
        assert raw == b"Subject: fine\r\n\r\n" + b".dot\r\n" * 40  # unstuffed, stored once
    finally:
        controller.stop()
        handler.close()


def test_a_message_of_the_limit_with_dot_lines_is_taken_and_a_long_line_stream_cut(
    settings_factory: Callable[..., Settings],
) -> None:
    """Review findings: the size was counted as sent, dot-stuffing included, so a message
    of exactly max_message_bytes with a line starting with "." got 552 after its SIZE was
    accepted; and the hang-up past twice the limit was looked for every 1,024 lines, so a
    stream of over-long lines (1 MiB pieces) ran on to a GiB."""
    settings = settings_factory(smtp={"max_message_bytes": 2000})
    Desk.open(settings).close()
    handler = IntakeHandler(settings)
    controller = start_receiver(settings, handler)
    try:
        head = b"Subject: dots\r\n\r\n"
        body = b".dot line\r\n" * 100
        message = head + body + b"x" * (2000 - len(head) - len(body) - 2) + b"\r\n"
        assert len(message) == 2000
        send(settings, message)
        desk = Desk.open(settings)
        (raw,) = desk.db.execute("SELECT raw FROM intake").fetchone()
        desk.close()
        assert raw == message
        with socket.create_connection((settings.smtp.host, settings.smtp.port), 10) as sock:
            reader = sock.makefile("rb")
            reader.readline()  # the greeting
            for command in (b"EHLO c.example", b"MAIL FROM:<a@example.org>",
                            b"RCPT TO:<support@sep.example>", b"DATA"):  # fmt: skip
                sock.sendall(command + b"\r\n")
                while reader.readline()[3:4] == b"-":  # to the reply's last line
                    pass
            sent = 0
            with contextlib.suppress(OSError):
                while sent < 64_000_000:  # bounded: hung up long before
                    sock.sendall(b"y" * 65_536)
                    sent += 65_536
        # Hung up at the first 1 MiB piece (past 2 x the limit); the rest is what the
        # kernel's socket buffers took meanwhile. Unchecked, it took all 64 MB.
        assert sent < 24_000_000, sent
    finally:
        controller.stop()
        handler.close()


def test_help_still_names_the_commands_sepdesk_overrides(receiver: Settings) -> None:
    helo, overview, data, mail = _session(
        receiver, b"EHLO client.example", b"HELP", b"HELP DATA", b"HELP MAIL"
    )
    assert helo.startswith(b"250")
    assert all(name in overview for name in (b"DATA", b"MAIL", b"RCPT"))
    assert data == b"250 Syntax: DATA"
    assert mail.startswith(b"250 Syntax: MAIL FROM: <address>")


def test_max_connections_is_kept_within_the_open_file_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """5,000 sessions under systemd's 1,024 open files brought the old failure back:
    no handle left, a traceback per accept. The soft limit is raised as far as the
    hard one allows; beyond that, fewer sessions and a warning."""
    import resource

    from sepdesk.intake import smtp

    limits = {"soft": 1024, "hard": 4096}

    def getrlimit(_which: int) -> tuple[int, int]:
        return limits["soft"], limits["hard"]

    def setrlimit(_which: int, value: tuple[int, int]) -> None:
        if value[0] > limits["hard"]:
            raise ValueError("not allowed")
        limits["soft"] = value[0]

    monkeypatch.setattr(resource, "getrlimit", getrlimit)
    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    assert smtp.session_limit(100) == 100 and limits["soft"] == 1024  # room enough
    assert smtp.session_limit(2000) == 2000 and limits["soft"] == 2100  # raised
    with caplog.at_level(logging.WARNING, logger="sepdesk.smtp"):
        assert smtp.session_limit(5000) == 3996  # the hard limit less the daemon's files
    assert "max_connections = 5000" in caplog.text and limits["soft"] == 4096
