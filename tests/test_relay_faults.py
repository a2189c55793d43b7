"""The sender against a relay that misbehaves (tests/servers/bad_relay.py): refusing us,
too slow, hanging. Such faults are the relay's, not the mail's: one connection and
one log line for the pass, the mails queued, none held up for long."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sepdesk.config import Settings
from sepdesk.desk import Desk
from sepdesk.outbound import sender
from tests.conftest import T0, free_port
from tests.servers.bad_relay import BadRelay, Script
from tests.servers.smtp_sink import SmtpSink
from tests.test_sender import queue_one, state


@pytest.fixture(autouse=True)
def relay_faults_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the sender's relay fault streak (per process) cleared."""
    monkeypatch.setattr(sender._RELAY, "failing", None)
    monkeypatch.setattr(sender._RELAY, "failures", 0)


@pytest.fixture
def open_desk(settings_factory: Callable[..., Settings]) -> Iterator[Callable[..., Desk]]:
    desks: list[Desk] = []

    def open_(relay: dict[str, Any]) -> Desk:
        desks.append(Desk.open(settings_factory(relay=relay)))
        return desks[-1]

    yield open_
    for d in desks:
        d.close()


def sender_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sepdesk.sender" and r.levelno >= logging.WARNING
    ]


AUTH = ("AUTH PLAIN LOGIN",)
# The relay's fault, what the desk's [relay] says, how the relay answers once fixed
# (None: not tried, the sink has no TLS and no port is opened).
REFUSING: dict[str, tuple[Script, dict[str, Any], Script | None]] = {
    "greeting 554": (Script(greeting="554"), {}, Script()),
    "EHLO and HELO 554": (Script(ehlo="554"), {}, Script()),
    # MAIL FROM is the desk's own address: refused, it is the desk that is refused.
    "MAIL FROM 553": (Script(mail="553"), {}, Script()),
    "MAIL FROM 451": (Script(mail="451"), {}, Script()),
    "MAIL FROM dropped": (Script(mail="drop"), {}, Script()),
    "AUTH 535": (Script(extensions=AUTH, auth="535"), {"user": "desk"}, Script(extensions=AUTH)),
    "STARTTLS handshake broken": (Script(extensions=("STARTTLS",)), {"tls": "starttls"}, None),
    "closed port": (Script(), {"port": free_port()}, None),
}


def test_a_mail_too_big_for_the_relay_is_refused_at_mail_from_alone(
    open_desk: Callable[..., Desk],
) -> None:
    """552 to MAIL FROM (RFC 1870 SIZE) is about the mail, the one refusal there that is:
    the mail fails for good, as before, while other refusals of MAIL FROM defer."""
    with BadRelay([Script(extensions=("SIZE 1000",), mail="552")]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(2)]
        assert sender.run_once(desk, T0) == 2
        assert [state(desk, i)[:2] for i in ids] == [("failed", 1)] * 2
        assert all("552" in (state(desk, i)[2] or "") for i in ids)


@pytest.mark.parametrize("case", REFUSING)
def test_a_relay_refusing_us_fails_no_mail_and_is_asked_once_per_pass(
    case: str,
    open_desk: Callable[..., Desk],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrong relay password (or a relay refusing us at its greeting) marked every mail
    of the pass failed for good, one connection and one log line each. Counted as
    attempts, as a first fix had it, an outage of max_attempts passes (about two hours)
    still failed every mail queued meanwhile: the relay's fault is no mail's attempt."""
    monkeypatch.setenv("SEPDESK_RELAY_PASSWORD", "wrong")
    script, relay_over, fixed = REFUSING[case]
    passes = 10  # more than max_attempts (8)
    with BadRelay([script]) as relay:
        desk = open_desk({**relay.relay_settings(), **relay_over})
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        caplog.set_level(logging.INFO, "sepdesk.sender")
        for k in range(passes):
            assert sender.run_once(desk, T0 + timedelta(minutes=k)) == 3
            assert [state(desk, i)[:2] for i in ids] == [("queued", 0)] * 3
            assert relay.connections <= k + 1
        assert all(state(desk, i)[2] for i in ids)  # the reason is kept for `outbox list`
        assert len(sender_lines(caplog)) == 1, sender_lines(caplog)
        # what the admin reads is what happens: each pass a minute apart tried again
        assert sender_lines(caplog)[0].endswith("the mails stay queued, tried again every minute")
        if fixed is None:
            return
        relay.script_next(fixed)
        assert sender.run_once(desk, T0 + timedelta(minutes=passes)) == 3
        assert [state(desk, i)[:2] for i in ids] == [("sent", 1)] * 3
        assert len(relay.kept()) == 3
        assert f"works again after {passes} failed connections" in sender_lines(caplog)[-1]


# Greeting and EHLO come at once: a relay too slow before any mail is no mail's fault
# (RelayDown, as for a hang at the greeting); this one is slow in the mail's transaction.
DRIPPING = Script(
    mail="drip:250",
    rcpt="drip:250",
    data="drip:354",
    dot="drip:250",
)


@pytest.mark.parametrize("script", [DRIPPING, Script(dot="hang")], ids=["drip", "hang-at-dot"])
def test_a_relay_too_slow_for_one_mail_is_hung_up_on_and_holds_up_no_other(
    script: Script,
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A relay answering a byte at a time never hit the socket's 30 s timeout: about
    100 s per mail at one byte a second, for every mail of the pass, while the sender's
    heartbeat aged past what the watchdog allows. One that stops answering cost 30 s
    per mail. Now a mail is given up after RELAY_DEADLINE and the pass ends there."""
    monkeypatch.setattr(sender, "RELAY_DEADLINE", 0.5, raising=False)
    monkeypatch.setattr(sender, "FINAL_REPLY_TIMEOUT", 0.5, raising=False)
    with BadRelay([script]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        assert sender.run_once(desk, T0) == 3
        assert relay.connections == 1
        st, attempts, error = state(desk, ids[0])
        assert (st, attempts) == ("queued", 1)
        # Hanging at the dot, it had the whole mail: the admin is told it may come twice.
        expected = "may deliver it twice" if script.dot == "hang" else "too slow"
        assert error and expected in error
        # The others were not tried behind it, nor charged an attempt for it: counted,
        # one slow mail at the head of the queue failed every mail after it in time.
        assert [state(desk, i) for i in ids[1:]] == [("queued", 0, None)] * 2
        assert sender.run_once(desk, T0) == 2  # the next pass goes on with them
        assert state(desk, ids[1])[:2] == ("queued", 1)
        assert state(desk, ids[2]) == ("queued", 0, None)


@pytest.mark.parametrize(
    ("script", "deadline"),
    [(Script(greeting="554"), 30.0), (Script(quit="hang"), 0.5)],
    ids=["refused", "hang-at-quit"],
)
def test_no_deadline_timer_outlives_its_mail(
    script: Script,
    deadline: float,
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The hang-up timer was cancelled only once the session was open: after a failed
    connection it lingered for RELAY_DEADLINE; and it was cancelled before QUIT, so a
    relay hanging at QUIT held each mail for the socket's whole timeout."""
    monkeypatch.setattr(sender, "RELAY_TIMEOUT", 30)
    monkeypatch.setattr(sender, "RELAY_DEADLINE", deadline)
    with BadRelay([script]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(2)]
        started = time.monotonic()
        sender.run_once(desk, T0)
        took = time.monotonic() - started
        timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
        mine = [
            t for t in timers if isinstance(getattr(t.function, "__self__", None), sender._Deadline)
        ]
        assert all(t.finished.is_set() for t in mine)  # cancelled (or fired)
        if script.quit == "hang":  # the relay took both: a fault at QUIT is no failure
            assert [state(desk, i)[:2] for i in ids] == [("sent", 1)] * 2
            assert len(relay.kept()) == 2
            assert took < 15  # about 1 s; 60 s when each QUIT waited for the timeout


def test_a_pass_past_its_budget_leaves_the_rest_untouched_for_the_next(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A relay slow on every mail (a tarpit's pause) kept one pass busy for as many
    pauses as mails: a pass ends after PASS_BUDGET, the rest not counted as attempts."""
    monkeypatch.setattr(sender, "PASS_BUDGET", 0.0, raising=False)
    with BadRelay([Script()]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        assert sender.run_once(desk, T0) == 3
        assert [state(desk, i)[:2] for i in ids] == [("sent", 1), ("queued", 0), ("queued", 0)]
        assert sender.run_once(desk, T0) == 2
        assert sender.run_once(desk, T0) == 1
        assert [state(desk, i)[0] for i in ids] == ["sent"] * 3
        assert len(relay.kept()) == 3


def make_cert(folder: Path, name: str) -> ssl.SSLContext:
    """A server context with a self-signed certificate for ``name`` (openssl CLI)."""
    key, cert = folder / f"{name}.key", folder / f"{name}.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("tls", ["tls", "starttls"])
@pytest.mark.parametrize("name", ["localhost", "other.example"])
def test_tls_to_the_relay_checks_its_name(
    tls: str,
    name: str,
    tmp_path: Path,
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sender connects after making its client (so the deadline covers the greeting)
    and gives it the relay's name itself: TLS must still check the certificate for it."""
    server = make_cert(tmp_path, name)
    trusted = ssl.create_default_context

    def trusting(*args: Any, **kw: Any) -> ssl.SSLContext:
        context = trusted(*args, **kw)
        context.load_verify_locations(tmp_path / f"{name}.crt")
        return context

    monkeypatch.setattr(sender.ssl, "create_default_context", trusting)
    with SmtpSink(ssl_context=server, starttls=tls == "starttls") as sink:
        desk = open_desk({"host": "localhost", "port": sink.port, "tls": tls})
        oid = queue_one(desk, "Backup")
        sender.run_once(desk, T0)
        st, _, error = state(desk, oid)
        if name == "localhost":
            assert st == "sent" and len(sink.received()) == 1
        else:
            assert st == "queued" and "Hostname mismatch" in (error or "")
            assert sink.received() == []


@pytest.mark.parametrize("tls", ["tls", "starttls"])
def test_a_private_ca_for_the_relay_is_trusted_by_ca_file(
    tls: str, tmp_path: Path, open_desk: Callable[..., Desk]
) -> None:
    """A relay whose certificate an internal CA signed could not be used with TLS: the
    system's store was the only one. [relay] ca_file trusts that file's certificates
    (and only them); the relay's name is still checked against its certificate."""
    server = make_cert(tmp_path, "localhost")
    relay = {"host": "localhost", "tls": tls}
    with SmtpSink(ssl_context=server, starttls=tls == "starttls") as sink:
        relay["port"] = sink.port
        untrusted = open_desk(relay)
        oid = queue_one(untrusted, "Backup")
        sender.run_once(untrusted, T0)
        st, _, error = state(untrusted, oid)
        assert st == "queued" and "CERTIFICATE_VERIFY_FAILED" in (error or "")
        desk = open_desk({**relay, "ca_file": str(tmp_path / "localhost.crt")})
        oid = queue_one(desk, "Backup")
        sender.run_once(desk, T0)
        assert state(desk, oid)[0] == "sent" and len(sink.received()) == 1
    other = make_cert(tmp_path, "other.example")  # signed by a trusted file, for another name
    with SmtpSink(ssl_context=other, starttls=tls == "starttls") as sink:
        desk = open_desk(
            {**relay, "port": sink.port, "ca_file": str(tmp_path / "other.example.crt")}
        )
        oid = queue_one(desk, "Backup")
        sender.run_once(desk, T0)
        st, _, error = state(desk, oid)
        assert st == "queued" and "Hostname mismatch" in (error or "")
        assert sink.received() == []


def stop_a_pass_once(desk: Desk, ready: Callable[[], bool]) -> tuple[threading.Event, float]:
    """Run a sender pass in a thread and, once ``ready``, stop it as the daemon does (stop
    set, then sender.interrupt); the pass must end. Returns the stop and the seconds the
    pass took to end after it."""
    stop = threading.Event()
    pass_ = threading.Thread(target=sender.run_once, args=(desk, T0), kwargs={"stop": stop})
    pass_.start()
    deadline = time.monotonic() + 10
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ready()
    stop.set()
    stopped = time.monotonic()
    sender.interrupt(stop)
    pass_.join(10)
    assert not pass_.is_alive()
    return stop, time.monotonic() - stopped


def test_a_stopping_desk_hangs_up_on_a_slow_relay_and_begins_no_other_mail(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At SIGTERM a sender in the middle of a mail to a relay that does not answer was
    still there at the stop deadline (up to RELAY_DEADLINE), and its database was closed
    under it. Now the daemon hangs up (sender.interrupt): the pass ends at once, the mail
    stays queued as it was and no other mail is begun."""
    monkeypatch.setattr(sender, "STOP_GRACE", 0.5, raising=False)  # the answer to the dot
    with BadRelay([Script(dot="hang")]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(2)]
        stop, _ = stop_a_pass_once(desk, lambda: relay.dots == 1)
        assert [state(desk, i) for i in ids] == [("queued", 0, None)] * 2
        assert relay.connections == 1
        # Set before a mail is begun, the pass begins none.
        assert sender.run_once(desk, T0, stop=stop) == 2
        assert relay.connections == 1


def test_a_stop_between_the_passs_look_and_the_mail_begins_no_mail(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stop set after the pass looked at it but before the mail's deadline was watched
    (interrupt had found nothing to hang up on) sent the mail all the same, with no
    hang-up timer at all: a slow relay kept the stopping sender for the socket's
    timeout on every answer. The mail is not begun: it stays queued as it was."""
    monkeypatch.setattr(sender, "RELAY_TIMEOUT", 2)
    with BadRelay([Script()]) as relay:
        desk = open_desk(relay.relay_settings())
        oid = queue_one(desk, "Backup")
        row = desk.db.execute("SELECT * FROM outbox WHERE id = ?", [oid]).fetchone()
        columns = [d[0] for d in desk.db.execute("SELECT * FROM outbox LIMIT 0").description]
        mail = sender._composed(desk, dict(zip(columns, row, strict=True)), T0)
        assert mail is not None
        stop = threading.Event()
        stop.set()
        sender.interrupt(stop)  # the daemon stopping: no mail of its is under way yet
        with pytest.raises(sender.RelayStopped):
            sender._relay(sender._Session(desk.settings, stop), mail)
        assert relay.connections == 0 and relay.kept() == []
        assert state(desk, oid) == ("queued", 0, None)
        assert not sender._Deadline.active


def test_a_drop_after_a_reused_sessions_final_dot_is_that_mails_attempt_alone(
    open_desk: Callable[..., Desk],
) -> None:
    """The relay hangs up after the second mail's final dot, before its answer: that
    mail may have gone out, so it is retried as before (an attempt, the same
    Message-ID), never marked sent; the mail after it goes over a new connection,
    not charged for the drop."""
    with BadRelay([Script(fail_every=2, fail_code="drop")]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        assert sender.run_once(desk, T0) == 3
        states = [state(desk, i) for i in ids]
        assert states[1][:2] == ("queued", 1) and "SMTPServerDisconnected" in (states[1][2] or "")
        assert [states[0], states[2]] == [("sent", 1, None)] * 2
        assert relay.connections == 2 and relay.dots == 3 and len(relay.kept()) == 2


def test_a_stall_in_a_reused_session_charges_only_its_mail(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deadlines hold for each mail of a shared connection: the second mail's hang
    at the dot is its attempt (FINAL_REPLY_TIMEOUT: the whole mail was handed over); the
    pass ends there, the third mail untouched."""
    monkeypatch.setattr(sender, "RELAY_DEADLINE", 0.5)
    monkeypatch.setattr(sender, "FINAL_REPLY_TIMEOUT", 0.5)
    with BadRelay([Script(fail_every=2, fail_code="hang")]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        started = time.monotonic()
        assert sender.run_once(desk, T0) == 3
        assert time.monotonic() - started < 15  # about 0.5 s; the socket's 30 s without it
        st, attempts, error = state(desk, ids[1])
        assert (st, attempts) == ("queued", 1) and error and "may deliver it twice" in error
        assert state(desk, ids[0]) == ("sent", 1, None)
        assert state(desk, ids[2]) == ("queued", 0, None)
        assert relay.connections == 1


def test_a_stopping_desk_hangs_up_in_the_middle_of_a_reused_session(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sender, "STOP_GRACE", 0.5)  # the second mail hangs at its dot
    with BadRelay([Script(fail_every=2, fail_code="hang")]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        stop_a_pass_once(desk, lambda: relay.dots == 2)
        assert state(desk, ids[0]) == ("sent", 1, None)
        assert [state(desk, i) for i in ids[1:]] == [("queued", 0, None)] * 2
        assert relay.connections == 1
        assert not sender._Deadline.active


@pytest.mark.parametrize(
    "refusing", [Script(greeting="554"), Script(ehlo="554")], ids=["greeting", "EHLO"]
)
def test_a_relay_refusing_the_next_connection_of_a_pass_fails_no_mail(
    refusing: Script,
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A new connection in the middle of a pass (after MAILS_PER_CONNECTION, or the relay
    closing one) that the relay refuses is the relay's fault as at the first: the mails
    left stay queued, their attempts untouched. A refused EHLO (and HELO) failed the
    next mail for good."""
    monkeypatch.setattr(sender, "MAILS_PER_CONNECTION", 1)
    with BadRelay([Script(), refusing]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        assert sender.run_once(desk, T0) == 3
        assert state(desk, ids[0]) == ("sent", 1, None)
        assert [state(desk, i)[:2] for i in ids[1:]] == [("queued", 0)] * 2
        assert "554" in (state(desk, ids[1])[2] or "")
        assert relay.connections == 2


@pytest.fixture
def unanswered() -> Iterator[int]:
    """A loopback port whose SYNs go unanswered, as behind a firewall dropping them: a
    listener with a backlog of 0 never accepts, and one connection fills its queue, so
    the kernel drops every SYN after it (Linux: a full accept queue drops the SYN)."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        filler.settimeout(10)
        filler.connect(listener.getsockname())
        yield int(listener.getsockname()[1])


def syn_sent(port: int) -> bool:
    """Whether a connection to ``port`` on loopback waits for the SYN's answer."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(r.split()[2] == f"0100007F:{port:04X}" and r.split()[3] == "02" for r in rows)


# Where a connection to the relay hangs before there is a session: the TCP connect (the
# SYN dropped), the TLS handshake of implicit TLS (accepted, never a byte back) or the
# one after STARTTLS (220, then no answer to the client's hello).
CONNECT_HANGS = ["syn-dropped", "tls-handshake", "starttls-handshake"]


@contextlib.contextmanager
def hanging_relay(hang: str, port: int) -> Iterator[tuple[dict[str, Any], Callable[[], bool]]]:
    """The [relay] of a relay hanging at ``hang`` (``port``: an unanswered one), and
    whether the sender is in that hang."""
    if hang == "syn-dropped":
        yield {"host": "127.0.0.1", "port": port, "tls": "none"}, lambda: syn_sent(port)
        return
    if hang == "starttls-handshake":
        script = Script(extensions=("STARTTLS",), handshake="hang")
        with BadRelay([script]) as relay:
            hello = lambda: any("(TLS hello)" in t for t in relay.transcripts)  # noqa: E731
            yield {**relay.relay_settings(), "tls": "starttls"}, hello
            assert relay.connections == 1
        return
    with BadRelay([Script(greeting="hang")]) as relay:
        yield {**relay.relay_settings(), "tls": "tls"}, lambda: relay.connections == 1
        assert relay.connections == 1


@pytest.mark.parametrize("hang", CONNECT_HANGS)
def test_a_stopping_desk_hangs_up_on_a_relay_still_connecting(
    hang: str,
    unanswered: int,
    open_desk: Callable[..., Desk],
) -> None:
    """At SIGTERM a sender still connecting to the relay (a SYN nobody answers, a TLS
    handshake that never ends) had no socket to shut down: interrupt found nothing to
    hang up on and the sender stayed for RELAY_TIMEOUT (30 s), past the daemon's stop
    deadline, which closed the database under it. Now the connection ends at once."""
    with hanging_relay(hang, unanswered) as (relay, hanging):
        desk = open_desk(relay)
        ids = [queue_one(desk, "Backup") for _ in range(2)]
        _, took = stop_a_pass_once(desk, hanging)
        assert took < 2  # a few ms; 30 s (RELAY_TIMEOUT) before
        assert [state(desk, i) for i in ids] == [("queued", 0, None)] * 2
        assert not sender._Deadline.active


@pytest.mark.parametrize("hang", CONNECT_HANGS)
def test_a_relay_still_connecting_at_the_deadline_is_down(
    hang: str,
    unanswered: int,
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RELAY_DEADLINE covers the connection too: it passed unnoticed while connecting
    (no socket to shut down), and the sender waited for the socket's timeout. A relay
    that does not let us connect is down: the mails stay queued, no attempt charged."""
    monkeypatch.setattr(sender, "RELAY_DEADLINE", 0.5)
    with hanging_relay(hang, unanswered) as (relay, _):
        desk = open_desk(relay)
        ids = [queue_one(desk, "Backup") for _ in range(2)]
        started = time.monotonic()
        assert sender.run_once(desk, T0) == 2
        took = time.monotonic() - started
        assert took < 5  # about 0.55 s; 30 s (RELAY_TIMEOUT) before
        states = [state(desk, i) for i in ids]
        assert [s[:2] for s in states] == [("queued", 0)] * 2
        assert all("too slow" in (s[2] or "") for s in states), states


def test_a_deadline_firing_as_its_mail_ends_leaves_the_connection_alone() -> None:
    """A mail that took almost RELAY_DEADLINE: its timer could fire just as the mail
    ended, and shut the connection the pass goes on using for the next mail (charged an
    attempt when the shutdown fell inside its transaction). Once cancelled, a deadline's
    late hang-up (the timer's, or an interrupt that had listed it) does nothing."""
    import smtplib

    ours, relays = socket.socketpair()
    with ours, relays:
        client = smtplib.SMTP()
        client.sock = ours
        deadline = sender._Deadline()
        deadline.watch(client)
        deadline.cancel()
        deadline._expire()  # what the timer thread does when it fired a moment before
        assert not deadline.expired
        ours.sendall(b"MAIL FROM:<support@sep.example>\r\n")  # the next mail, same connection
        assert relays.recv(100).startswith(b"MAIL FROM")


def test_a_refusal_stands_when_the_rset_after_it_hangs(
    open_desk: Callable[..., Desk], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay refused the mail's only recipient (550), then hung at the RSET that
    follows a refusal: the mail was recorded as a temporary "too slow" attempt and got
    its 550 again at every retry, instead of failing with it at once."""
    monkeypatch.setattr(sender, "RELAY_DEADLINE", 0.5)
    with BadRelay([Script(rcpt="550", rset="hang")]) as relay:
        desk = open_desk(relay.relay_settings())
        mail = queue_one(desk, "Backup")
        assert sender.run_once(desk, T0) == 1
        assert state(desk, mail)[:2] == ("failed", 1)
        assert "550" in (state(desk, mail)[2] or "")
        assert not sender._Deadline.active


@pytest.mark.parametrize("secret", ["missing", "not UTF-8"])
def test_a_relay_password_file_that_cannot_be_read_fails_no_mail(
    secret: str,
    open_desk: Callable[..., Desk],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The desk's password file missing or not UTF-8 (the admin's fault, not the mail's)
    escaped the sender's fault handling: every mail of every pass was charged an
    attempt, with a traceback each, until max_attempts failed them all."""
    monkeypatch.delenv("SEPDESK_RELAY_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    password = tmp_path / "relay.pw"
    if secret == "not UTF-8":
        password.write_bytes(b"geheim\xff\n")
    with BadRelay([Script(extensions=AUTH)]) as relay:
        desk = open_desk({**relay.relay_settings(), "user": "desk", "password_file": str(password)})
        ids = [queue_one(desk, "Backup") for _ in range(3)]
        caplog.set_level(logging.INFO, "sepdesk.sender")
        for k in range(3):
            assert sender.run_once(desk, T0 + timedelta(minutes=k)) == 3
            assert [state(desk, i)[:2] for i in ids] == [("queued", 0)] * 3
        assert all("relay.pw: cannot read secret" in (state(desk, i)[2] or "") for i in ids)
        assert all("[relay] password_file: " in (state(desk, i)[2] or "") for i in ids)
        lines = sender_lines(caplog)
        assert len(lines) == 1 and "Traceback" not in caplog.text, lines


def test_a_ca_file_gone_since_the_start_fails_no_mail(
    tmp_path: Path, open_desk: Callable[..., Desk]
) -> None:
    """[relay] ca_file is checked when the configuration loads; removed while the daemon
    runs, building the TLS context failed inside each mail: every one was charged."""
    server = make_cert(tmp_path, "localhost")
    ca = tmp_path / "localhost.crt"
    with SmtpSink(ssl_context=server, starttls=True) as sink:
        relay = {"host": "localhost", "port": sink.port, "tls": "starttls", "ca_file": str(ca)}
        desk = open_desk(relay)
        ids = [queue_one(desk, "Backup") for _ in range(2)]
        ca.unlink()
        assert sender.run_once(desk, T0) == 2
        assert [state(desk, i)[:2] for i in ids] == [("queued", 0)] * 2
        assert all("ca_file" in (state(desk, i)[2] or "") for i in ids)
        assert sink.received() == []


def test_a_relay_slow_to_answer_the_whole_mail_is_waited_for_not_sent_it_twice(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review finding: the relay's answer to the final dot was awaited only within the
    mail's RELAY_DEADLINE (and RELAY_TIMEOUT); a relay scanning the mail for longer
    had taken it already, and every retry delivered it again (8 copies). Once the whole
    mail is handed over its answer is awaited for FINAL_REPLY_TIMEOUT."""
    monkeypatch.setattr(sender, "RELAY_DEADLINE", 0.5, raising=False)
    monkeypatch.setattr(sender, "RELAY_TIMEOUT", 0.5, raising=False)
    with BadRelay([Script(dot="late:1.5:250")]) as relay:
        desk = open_desk(relay.relay_settings())
        ids = [queue_one(desk, "Backup") for _ in range(2)]
        assert sender.run_once(desk, T0) == 2
        assert [state(desk, i) for i in ids] == [("sent", 1, None)] * 2
        assert len(relay.kept()) == 2 and relay.connections == 1
        assert sender.run_once(desk, T0 + timedelta(hours=1)) == 0
        assert len(relay.kept()) == 2


def test_a_stopping_desk_waits_a_little_for_the_answer_to_a_whole_mail(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review finding: at SIGTERM the sender hung up on a relay that had the whole mail
    and was about to answer 250; the mail stayed queued and went out again after the
    restart. A stop now waits STOP_GRACE for that answer (within serve's stop timeout)."""
    monkeypatch.setattr(sender, "STOP_GRACE", 3.0, raising=False)
    with BadRelay([Script(dot="late:1:250")]) as relay:
        desk = open_desk(relay.relay_settings())
        oid = queue_one(desk, "Backup")
        _, took = stop_a_pass_once(desk, lambda: relay.dots == 1)
        assert state(desk, oid) == ("sent", 1, None)
        assert len(relay.kept()) == 1 and took < 3


@pytest.mark.parametrize(
    ("tls", "port_speaks", "hint"),
    [
        ("tls", "starttls", 'plain text on this port: use tls = "starttls"'),
        ("starttls", "tls", 'speaks TLS at once on this port: use tls = "tls"'),
    ],
)
def test_a_tls_mode_that_does_not_fit_the_relays_port_is_named(
    tls: str,
    port_speaks: str,
    hint: str,
    tmp_path: Path,
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ "[SSL: WRONG_VERSION_NUMBER]" and "Connection unexpectedly closed: timed out" named
    no setting; the IMAP poller says which tls to use (black-box review)."""
    monkeypatch.setattr(sender, "RELAY_TIMEOUT", 1.0)  # the greeting that never comes
    server = make_cert(tmp_path, "localhost")
    with SmtpSink(ssl_context=server, starttls=port_speaks == "starttls") as sink:
        relay = {"host": "localhost", "port": sink.port, "tls": tls}
        desk = open_desk({**relay, "ca_file": str(tmp_path / "localhost.crt")})
        oid = queue_one(desk, "Backup")
        sender.run_once(desk, T0)
        st, attempts, error = state(desk, oid)
    assert (st, attempts) == ("queued", 0)  # the desk's fault, not the mail's
    assert error and error.startswith(f"relay localhost:{relay['port']}") and hint in error


def test_a_relay_password_given_nowhere_is_named_and_no_login_is_tried(
    open_desk: Callable[..., Desk],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """[relay] user set, no password anywhere: the sender logged in with an empty one and
    the relay's "535 credentials invalid" looked like a wrong password (black-box review).
    serve names the missing secret once, at start, as an ERROR, and goes on."""
    from sepdesk.daemon.serve import report_missing_secrets

    monkeypatch.delenv("SEPDESK_RELAY_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    named = (
        "[relay] user desk: no password configured: set SEPDESK_RELAY_PASSWORD,"
        " the credential relay_password or [relay] password_file"
    )
    with BadRelay([Script(extensions=AUTH)]) as relay:
        desk = open_desk({**relay.relay_settings(), "user": "desk"})
        oid = queue_one(desk, "Backup")
        sender.run_once(desk, T0)
        assert not any(cmd.upper().startswith("AUTH") for t in relay.transcripts for cmd in t)
    st, attempts, error = state(desk, oid)
    assert (st, attempts) == ("queued", 0) and error and error.endswith(named)
    caplog.set_level(logging.INFO, "sepdesk")
    caplog.clear()  # the sender's own line of the pass
    report_missing_secrets(desk.settings)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [f"{named}; until then that login is not tried"]
    monkeypatch.setenv("SEPDESK_RELAY_PASSWORD", "geheim")
    caplog.clear()
    report_missing_secrets(desk.settings)
    assert not caplog.records


def test_a_stop_while_the_write_lock_is_held_closes_no_database_under_the_sender(
    settings_factory: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The relay took an acknowledgement just as the write lock was taken (another process
    held SQLite's, the IMAP poller waited for it holding ours); a stop then closed the
    databases under the sender still waiting ("ProgrammingError: Cannot operate on a
    closed database", a traceback) and the restart sent the acknowledgement again."""
    from sepdesk.daemon import serve as serve_module
    from sepdesk.store import connect, write_tx

    monkeypatch.setattr(serve_module, "STOP_TIMEOUT", 0.5)
    with SmtpSink() as sink:
        settings = settings_factory(relay=sink.relay_settings(), smtp={"enabled": False})
        desk = Desk.open(settings)
        oid = queue_one(desk)
        held, release = threading.Event(), threading.Event()

        def writer() -> None:  # the poller: in its transaction until released
            db = connect(settings.database.path)
            with write_tx(db):
                held.set()
                release.wait(30)
            db.close()

        relay = sender._relay

        def relay_then_locked(*args: Any) -> Any:
            refused = relay(*args)
            threading.Thread(target=writer, daemon=True).start()
            held.wait(10)
            return refused

        monkeypatch.setattr(sender, "_relay", relay_then_locked)
        daemon = serve_module.Daemon(settings)
        try:
            daemon.start()
            assert held.wait(10), "the relay took the mail"
            daemon.shutdown()
        finally:
            release.set()
        outgoing = next(w for w in daemon.workers if w.name == "sender")
        outgoing.join(10)
        assert not outgoing.is_alive()
        closed = [r for r in caplog.records if r.exc_info and "closed database" in str(r.exc_info)]
        assert not closed
        restarted = Desk.open(settings)  # serve started again
        try:
            assert sender.run_once(restarted, T0 + timedelta(days=1)) == 0
            assert state(restarted, oid)[0] == "sent"
        finally:
            restarted.close()
            desk.close()
        assert len(sink.received()) == 1
