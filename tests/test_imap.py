"""IMAP intake against a real Dovecot: exactly once, crash-safe, reconnecting, IDLE.

Each test gets an empty mailbox on one module-wide Dovecot (see
tests/servers/dovecot.py) and its own database. Background runs of
``ImapPoller.run`` use short backoffs, a stop event and bounded waits.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from sepdesk.config import Settings, from_mapping
from sepdesk.desk import Desk
from sepdesk.errors import InputError
from sepdesk.intake.imap import FAULT_ENV, ImapPoller
from sepdesk.pipeline import runner
from tests.conftest import SAMPLES
from tests.servers.dovecot import DovecotServer

MAILS = sorted((SAMPLES / "mails").glob("*.eml"))
WAIT_S = 20.0

pytestmark = pytest.mark.dovecot


@pytest.fixture
def server(dovecot: DovecotServer) -> DovecotServer:
    """The module's Dovecot, running, with an empty mailbox (no session is open between tests)."""
    dovecot.reset_mail()
    dovecot.start()
    return dovecot


def make_settings(tmp_path: Path, server: DovecotServer, **imap: Any) -> Settings:
    secret = tmp_path / "imap.pw"
    secret.write_text(server.password + "\n")
    section = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "password_file": str(secret),
        "tls": "none",
        "enabled": True,
        **imap,
    }
    smtp = {"max_message_bytes": section.pop("max_message_bytes", 33554432)}
    data = {"database": {"path": str(tmp_path / "desk.db")}, "imap": section, "smtp": smtp}
    return from_mapping(data, "test")


@pytest.fixture
def desk(tmp_path: Path, server: DovecotServer) -> Iterator[Desk]:
    d = Desk.open(make_settings(tmp_path, server))
    yield d
    d.close()


@pytest.fixture(autouse=True)
def imap_info_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The poller's INFO lines are captured too: tests count WARNINGs against INFOs."""
    caplog.set_level(logging.INFO, logger="sepdesk.imap")


@pytest.fixture(autouse=True)
def held_retried_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message whose move was refused is tried again on the next pass (no backoff):
    the tests of refusals look at each retry; the backoff's own test sets it."""
    from sepdesk.intake import imap

    monkeypatch.setattr(imap, "HELD_RETRY_S", 0.0)


def hide_capability(monkeypatch: pytest.MonkeyPatch, capability: str) -> None:
    """Every client sees the server without ``capability`` (IDLE, MOVE)."""
    from imapclient import IMAPClient

    real = IMAPClient.has_capability
    monkeypatch.setattr(
        IMAPClient, "has_capability", lambda c, cap: cap != capability and real(c, cap)
    )


@pytest.fixture
def pollers(desk: Desk) -> Iterator[Callable[..., ImapPoller]]:
    """Factory for pollers on this test's desk (own connection each); all closed at teardown."""
    made: list[tuple[ImapPoller, Desk]] = []

    def make(settings: Settings | None = None, **kw: Any) -> ImapPoller:
        d = desk.reopen()
        kw.setdefault("backoff_initial", 0.05)
        kw.setdefault("backoff_cap", 0.2)
        kw.setdefault("idle_wake", 0.5)
        p = ImapPoller(d, settings or desk.settings, **kw)
        made.append((p, d))
        return p

    yield make
    for p, d in made:
        p.close()
        d.close()


def mail_date(raw: bytes) -> datetime:
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    for line in head.decode("latin-1").splitlines():
        if line.lower().startswith("date:"):
            return email.utils.parsedate_to_datetime(line[5:].strip())
    raise AssertionError("sample without Date")


def append_samples(server: DovecotServer, files: list[Path], folder: str = "INBOX") -> None:
    with server.client() as c:
        for f in files:
            raw = f.read_bytes()
            c.append(folder, raw, msg_time=mail_date(raw))


def make_mail(n: int, body: str = "Backup job failed with error 42.") -> bytes:
    return (
        f"From: Admin {n} <admin{n}@example.org>\r\n"
        f"To: support@sep.example\r\n"
        f"Subject: test mail {n}\r\n"
        f"Message-ID: <imap-test-{n}-{time.time_ns()}@example.org>\r\n"
        f"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
        f"\r\n{body}\r\n"
    ).encode()


def drain(poller: ImapPoller, limit: int = 20) -> int:
    """run_once until it returns 0 (bounded); the total handled."""
    total = 0
    for _ in range(limit):
        n = poller.run_once()
        if n == 0:
            return total
        total += n
    raise AssertionError("run_once never reached 0")


def wait_until(cond: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def count(desk: Desk, sql: str, params: list[Any] | None = None) -> int:
    return int(desk.db.execute(sql, params or []).fetchone()[0])


def import_contracts(desk: Desk) -> None:
    from sepdesk.contracts import import_csv

    import_csv(desk.db, SAMPLES / "contracts.csv", datetime(2026, 11, 1, tzinfo=UTC))


class Background:
    """``poller.run(stop)`` in a thread, always stopped and joined within a bound."""

    def __init__(self, poller: ImapPoller) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=poller.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Background:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "poller thread did not stop"


# -- the corpus, exactly once ------------------------------------------------


def test_sample_corpus_each_mail_gets_its_labelled_outcome(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    labels = json.loads((SAMPLES / "labels.json").read_text())
    import_contracts(desk)
    t0 = datetime.now(UTC).replace(microsecond=0)
    append_samples(server, MAILS)
    t1 = datetime.now(UTC)
    handled = drain(pollers(batch_size=7))  # several batches, one partial
    assert handled == len(MAILS)
    assert server.uids("INBOX") == []
    assert len(server.uids("Processed")) + len(server.uids("Quarantine")) == len(MAILS)
    rows = list(desk.db.query("SELECT source_ref, outcome, received_at FROM intake ORDER BY id"))
    assert len(rows) == len(MAILS)
    got = {f.name: r["outcome"] for f, r in zip(MAILS, rows, strict=True)}
    want = {f.name: labels[f.name]["expected_outcome"] for f in MAILS}
    assert got == want
    for f, r in zip(MAILS, rows, strict=True):  # INTERNALDATE is the received time
        received, dated = datetime.fromisoformat(r["received_at"]), mail_date(f.read_bytes())
        if dated <= t0:
            assert received == dated, f.name
        else:  # Dovecot clamps an INTERNALDATE far in the future to the time of APPEND
            assert t0 <= received <= max(dated, t1), f.name


def test_stored_and_processed_but_not_moved_gives_no_second_ticket(
    server: DovecotServer,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_contracts(desk)
    append_samples(server, MAILS[:3])
    first = pollers()
    # The crash window: outcome committed, MOVE never sent.
    monkeypatch.setattr(first, "move", lambda client, uids, dest: 0)
    first.run_once()
    first.close()
    assert len(server.uids("INBOX")) == 3
    tickets = count(desk, "SELECT count(*) FROM tickets")
    outbox = count(desk, "SELECT count(*) FROM outbox")
    assert tickets >= 1

    assert drain(pollers()) == 3  # a restarted poller finds them known and only moves them
    assert server.uids("INBOX") == []
    assert len(server.uids("Processed")) == 3
    assert count(desk, "SELECT count(*) FROM intake") == 3
    assert count(desk, "SELECT count(*) FROM tickets") == tickets
    assert count(desk, "SELECT count(*) FROM outbox") == outbox


# -- hand-off to the pipeline processes --------------------------------------


def rows_by_state(desk: Desk) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, state in desk.db.execute("SELECT id, state FROM intake ORDER BY id"):
        out.setdefault(state, []).append(int(i))
    return out


def test_handed_over_messages_move_only_once_their_rows_have_an_outcome(
    server: DovecotServer, tmp_path: Path, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    from sepdesk.pipeline import runner

    settings = make_settings(tmp_path, server, max_message_bytes=4000)
    for n in range(4):
        server.append("INBOX", make_mail(n))
    server.append("INBOX", make_mail(9, body="BODYMARKER " * 2000))
    handed: list[int] = []
    # move_batch=1: each finished message moves at the next look (batching: the next test)
    poller = pollers(settings, batch_size=2, move_batch=1, handoff=lambda: handed.append(1) or True)
    assert poller.run_once() == 1  # only the oversize one: quarantined in its store commit
    assert len(handed) >= 3  # a wake-up per stored batch (and per look at waiting rows)
    assert poller.waiting == 4
    assert len(server.uids("INBOX")) == 4 and len(server.uids("Quarantine")) == 1
    pending = rows_by_state(desk)["pending"]
    assert len(pending) == 4

    runner.process_batch(desk, pending[:1])  # a pipeline process commits one outcome
    stop = threading.Event()
    poller.outcomes.set()
    poller.await_outcomes(stop)
    assert poller.waiting == 3
    assert len(server.uids("INBOX")) == 3 and len(server.uids("Processed")) == 1

    poller.await_outcomes(stop)  # nothing new committed: nothing moves
    assert len(server.uids("INBOX")) == 3

    runner.process_batch(desk, pending[1:])
    poller.await_outcomes(stop)
    assert poller.waiting == 0
    assert server.uids("INBOX") == [] and len(server.uids("Processed")) == 4
    assert count(desk, "SELECT count(*) FROM intake") == 5  # nothing stored twice


def test_finished_messages_move_together_while_others_are_pending(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller], monkeypatch: Any
) -> None:
    from sepdesk.intake import imap
    from sepdesk.pipeline import runner

    for n in range(5):
        server.append("INBOX", make_mail(n))
    poller = pollers(handoff=lambda: True, move_batch=3, settle_wait=0.0)
    poller.run_once()
    pending = rows_by_state(desk)["pending"]
    assert len(pending) == 5
    stop = threading.Event()

    def committed(ids: list[int]) -> None:
        runner.process_batch(desk, ids)
        poller.outcomes.set()
        poller.await_outcomes(stop)

    committed(pending[:2])  # two finished, three pending: fewer than a batch
    assert len(server.uids("INBOX")) == 5 and poller.waiting == 5
    committed(pending[2:3])  # three finished: a batch, one MOVE
    assert len(server.uids("Processed")) == 3 and poller.waiting == 2
    committed(pending[3:4])  # one finished beside one pending, not waited long
    assert len(server.uids("Processed")) == 3
    monkeypatch.setattr(imap, "MOVE_DELAY_S", 0.0)  # ...until it has waited MOVE_DELAY_S
    poller.await_outcomes(stop)
    assert len(server.uids("Processed")) == 4 and poller.waiting == 1
    monkeypatch.setattr(imap, "MOVE_DELAY_S", 3600.0)
    committed(pending[4:])  # the last one: nothing left pending, so it moves at once
    assert server.uids("INBOX") == [] and len(server.uids("Processed")) == 5
    assert poller.waiting == 0


def test_the_last_outcomes_of_a_backlog_move_without_waiting_for_the_pace(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller], monkeypatch: Any
) -> None:
    from sepdesk.intake import imap
    from sepdesk.pipeline import runner

    for n in range(3):
        server.append("INBOX", make_mail(n))
    poller = pollers(handoff=lambda: True, settle_wait=0.0)
    poller.run_once()
    poller.await_outcomes(threading.Event())  # a look just now, with nothing finished
    monkeypatch.setattr(imap, "SETTLE_PACE_S", 60.0)  # the next look would wait a minute

    def look(bound: float) -> float:
        """await_outcomes, stopped after ``bound`` s at most; returns how long it took."""
        stop = threading.Event()
        timer = threading.Timer(bound, stop.set)
        started = time.monotonic()  # before the timer starts: else the look measures short
        timer.start()
        try:
            poller.outcomes.set()
            poller.await_outcomes(stop)
        finally:
            timer.cancel()
        return time.monotonic() - started

    runner.process_batch(desk, rows_by_state(desk)["pending"][:1])
    assert look(0.5) >= 0.5  # one of three finished: it waits for the pace
    assert len(server.uids("INBOX")) == 3
    runner.process_batch(desk, rows_by_state(desk)["pending"])
    assert look(20.0) < 15.0  # all finished: no wait (a loaded machine may take seconds)
    assert server.uids("INBOX") == [] and len(server.uids("Processed")) == 3


def test_a_graceful_stop_moves_the_finished_messages_left_waiting_for_a_batch(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller], monkeypatch: Any
) -> None:
    from sepdesk.intake import imap
    from sepdesk.pipeline import runner

    monkeypatch.setattr(imap, "MOVE_DELAY_S", 3600.0)
    for n in range(5):
        server.append("INBOX", make_mail(n))
    poller = pollers(handoff=lambda: True, move_batch=10, settle_wait=0.05)
    with Background(poller):
        wait_until(lambda: len(rows_by_state(desk).get("pending", [])) == 5, "stored rows")
        runner.process_batch(desk, rows_by_state(desk)["pending"][:2])
        poller.outcomes.set()
        wait_until(lambda: not poller.outcomes.is_set(), "a look at the rows")
        assert len(server.uids("INBOX")) == 5  # two finished, three pending: they wait
    assert len(server.uids("Processed")) == 2 and len(server.uids("INBOX")) == 3


def test_handed_over_rows_are_found_again_after_a_reconnect_without_refetching(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    from sepdesk.pipeline import runner

    for n in range(3):
        server.append("INBOX", make_mail(n))
    poller = pollers(handoff=lambda: True)
    poller.run_once()
    assert poller.waiting == 3
    poller.close()  # a dropped connection forgets what was handed over...
    assert poller.waiting == 0
    runner.process_batch(desk, rows_by_state(desk)["pending"])
    assert poller.run_once() == 3  # ...and the next pass finds the rows by their refs
    assert server.uids("INBOX") == [] and len(server.uids("Processed")) == 3
    assert count(desk, "SELECT count(*) FROM intake") == 3


def test_the_hand_over_line_names_the_account(
    server: DovecotServer,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With several accounts each has an INBOX: "1 messages of INBOX" did not say whose."""
    server.append("INBOX", make_mail(1))
    poller = pollers(handoff=lambda: True)
    poller.run_once()
    lines = [r.getMessage() for r in caplog.records if "handed to the pipeline" in r.getMessage()]
    assert lines == [
        f"imap: 1 messages of {server.user}@{server.host}/INBOX stored, handed to the pipeline"
    ]


def test_without_a_live_pipeline_process_the_poller_processes_its_batch(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    server.append("INBOX", make_mail(1))
    assert pollers(handoff=lambda: False).run_once() == 1
    assert len(server.uids("Processed")) == 1
    assert rows_by_state(desk).keys() == {"done"}


def test_handed_over_rows_are_processed_here_when_the_pipeline_processes_are_gone(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    alive = [True]
    for n in range(3):
        server.append("INBOX", make_mail(n))
    poller = pollers(handoff=lambda: alive[0])
    assert poller.run_once() == 0 and poller.waiting == 3
    alive[0] = False  # the processes died after taking the batch
    poller.await_outcomes(threading.Event())
    assert poller.waiting == 0
    assert len(server.uids("Processed")) == 3
    assert rows_by_state(desk).keys() == {"done"}


def test_pipeline_processes_survive_an_early_wake_and_take_imap_rows_at_once(
    tmp_path: Path, desk: Desk
) -> None:
    """Woken before they have even started (SIGUSR1 would kill them by default), then used."""
    from sepdesk.daemon.processes import PipelineProcesses
    from sepdesk.intake.store import store_raw

    nudged: list[int] = []  # the children's SIGUSR1 to their parent, handled as serve does
    previous = signal.signal(signal.SIGUSR1, lambda signum, _frame: nudged.append(signum))
    procs = PipelineProcesses(desk.settings, 2)
    procs.start()
    try:
        for _ in range(20):
            assert procs.wake() == 2
        stored = [
            store_raw(
                desk.db, source="imap", raw=make_mail(n), received_at=datetime.now(UTC),
                source_ref=f"m/1/{n}",
            ).intake_id
            for n in range(4)
        ]  # fmt: skip
        procs.wake()
        wait_until(
            lambda: set(rows_by_state(desk).get("done", [])) == set(stored),
            "fresh imap rows processed by the pipeline processes",
        )
        assert procs.alive()
        assert nudged
    finally:
        procs.shutdown(WAIT_S)
        signal.signal(signal.SIGUSR1, previous)


# -- faults: restart, refused login ------------------------------------------


def test_dovecot_restart_mid_run_reconnects_and_loses_nothing(
    server: DovecotServer,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with Background(pollers()):
        for n in range(3):
            server.append("INBOX", make_mail(n))
        wait_until(lambda: len(server.uids("Processed")) == 3, "first 3 processed via IDLE")
        server.stop()
        wait_until(
            lambda: count(desk, "SELECT count(*) FROM imap_state WHERE last_error IS NOT NULL") > 0,
            "the fault recorded",
        )
        server.start()
        for n in range(3, 6):
            server.append("INBOX", make_mail(n))
        wait_until(lambda: len(server.uids("Processed")) == 6, "all 6 processed after restart")
    assert server.uids("INBOX") == []
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 6
    row = desk.db.execute("SELECT last_error, last_contact_at FROM imap_state").fetchone()
    assert row[0] is None and row[1] is not None  # cleared by the next good contact
    # The outage (connection dropped, then refused until the server is back) is one
    # WARNING line, and its end another.
    imap = [r for r in caplog.records if r.name == "sepdesk.imap"]
    warnings = [r.getMessage() for r in imap if r.levelno >= logging.WARNING]
    assert len(warnings) == 2, warnings
    assert "works again" in warnings[1]


def test_new_mail_is_seen_when_idle_check_misses_the_servers_report(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller], monkeypatch: Any
) -> None:
    """A report the server sends along with its "+ idling" lands in imaplib's buffer, where
    idle_check (polling the socket) does not see it: DONE's reply must hand it over."""
    from imapclient import IMAPClient

    idling = threading.Event()
    real_idle = IMAPClient.idle

    def idle(self: IMAPClient) -> None:
        real_idle(self)
        idling.set()

    def blind_check(self: IMAPClient, timeout: float | None = None) -> list[Any]:
        time.sleep(timeout or 0)  # reads nothing: what the server sent stays unread
        return []

    monkeypatch.setattr(IMAPClient, "idle", idle)
    monkeypatch.setattr(IMAPClient, "idle_check", blind_check)
    with Background(pollers(idle_wake=0.2)):  # poll_interval stays 60 s
        assert idling.wait(WAIT_S), "the poller never entered IDLE"
        server.append("INBOX", make_mail(1))
        wait_until(lambda: len(server.uids("Processed")) == 1, "the mail seen", timeout=10)


def test_refused_login_logs_one_line_and_does_not_raise(
    server: DovecotServer,
    desk: Desk,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "wrong.pw").write_text("not-the-password")
    settings = make_settings(tmp_path, server, password_file=str(tmp_path / "wrong.pw"))
    with Background(pollers(settings, backoff_initial=30.0)):
        wait_until(
            lambda: count(desk, "SELECT count(*) FROM imap_state WHERE last_error IS NOT NULL") > 0,
            "the refused login recorded",
        )
    lines = [r for r in caplog.records if r.name == "sepdesk.imap"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].levelno == logging.WARNING
    assert "login refused" in lines[0].getMessage()
    assert "b'" not in lines[0].getMessage()  # the server's words, not a bytes repr
    assert lines[0].exc_info is None  # one line, no traceback
    error = desk.db.execute("SELECT last_error FROM imap_state").fetchone()[0]
    assert "login refused" in error
    # Dovecot now delays every login from 127.0.0.1 for a while (auth penalty, kept
    # in memory): a restart clears it for the tests that follow.
    server.stop()
    server.start()


def test_a_missing_password_file_is_named_by_its_key(
    server: DovecotServer,
    desk: Desk,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review finding: the line said only "<path>: cannot read secret", naming no section
    or key, where a bad value at load names both."""
    monkeypatch.delenv("SEPDESK_IMAP_PASSWORD", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    settings = make_settings(tmp_path, server, password_file=str(tmp_path / "missing.pw"))
    with Background(pollers(settings, backoff_initial=30.0)):
        wait_until(
            lambda: count(desk, "SELECT count(*) FROM imap_state WHERE last_error IS NOT NULL") > 0,
            "the unreadable password file recorded",
        )
    error = desk.db.execute("SELECT last_error FROM imap_state").fetchone()[0]
    assert f"[imap] password_file of {settings.imap.user}: " in error
    assert "missing.pw: cannot read secret" in error
    lines = [r.getMessage() for r in caplog.records if r.name == "sepdesk.imap"]
    assert len(lines) == 1 and "[imap] password_file" in lines[0], lines


def test_a_connection_lost_during_login_is_not_called_a_refused_login(
    server: DovecotServer, tmp_path: Path, pollers: Callable[..., ImapPoller]
) -> None:
    """imapclient turns an EOF during LOGIN (the server restarting) into LoginError; the
    log said "login refused", sending the operator to check a password that was right."""
    from imapclient.exceptions import LoginError

    poller = pollers(make_settings(tmp_path, server))
    lost = poller._describe(LoginError("command: LOGIN => socket error: EOF"))
    assert "login refused" not in lost
    assert "socket error: EOF" in lost
    refused = poller._describe(LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"))
    assert refused.startswith("login refused for ")


def test_a_fault_that_repeats_is_one_warning_and_its_end_another(
    server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server down for an hour must not be 60 WARNINGs; that it is back is news."""
    from imapclient.exceptions import IMAPClientAbortError, LoginError

    poller = pollers(make_settings(tmp_path, server))
    # One outage: the connection drops, the server refuses connections, then times out
    # (its host still booting). Then it answers, but refuses the login: news.
    poller._fault(IMAPClientAbortError("socket error: EOF"), 1)
    down = ConnectionRefusedError(111, "Connection refused")
    for delay in (2, 4):
        poller._fault(down, delay)
    poller._fault(TimeoutError("timed out"), 8)
    poller._fault(LoginError("command: LOGIN => socket error: EOF"), 16)  # dropped in LOGIN
    poller._fault(LoginError("b'[AUTHENTICATIONFAILED] Authentication failed.'"), 32)
    stop = threading.Event()
    stop.set()
    poller._serve(stop)  # catches up once, then sees the stop
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "sepdesk.imap"]
    levels = [level for level, text in lines if "retrying" in text or "works again" in text]
    assert levels == ["WARNING", "INFO", "INFO", "INFO", "INFO", "WARNING", "WARNING"], lines
    warned = [text for level, text in lines if level == "WARNING" and "retrying" in text]
    assert "login refused" in warned[1]
    assert "works again after 6 failed attempts" in lines[-1][1]


def test_a_refusal_that_repeats_with_the_servers_time_stamp_is_one_warning(
    server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Dovecot stamps each answer with a time and timings; each retry was a new WARNING."""
    from imapclient.exceptions import IMAPClientError

    poller = pollers(make_settings(tmp_path, server))
    for stamp, took in (("20:18:02", "0.002 + 0.000"), ("20:18:03", "0.001 + 0.000 + 0.001")):
        poller._fault(
            IMAPClientError(
                "SEARCH failed: [SERVERBUG] Internal error occurred. Refer to server log"
                f" for more information. [2026-12-06 {stamp}] ({took} secs)."
            ),
            1,
        )
    levels = [r.levelname for r in caplog.records if "retrying" in r.getMessage()]
    assert levels == ["WARNING", "INFO"]


def test_without_idle_the_poller_polls_every_poll_interval(
    server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hide_capability(monkeypatch, "IDLE")
    settings = make_settings(tmp_path, server, poll_interval=1)
    with Background(pollers(settings)):
        server.append("INBOX", make_mail(1))
        wait_until(lambda: len(server.uids("Processed")) == 1, "first mail polled")
        server.append("INBOX", make_mail(2))
        wait_until(lambda: len(server.uids("Processed")) == 2, "second mail polled")


def read_under_two_uidvalidities(
    server: DovecotServer, settings: Settings, pollers: Callable[..., ImapPoller], mail: bytes
) -> None:
    """``mail`` in folder Desk is read, the folder made anew (a new UIDVALIDITY, UIDs from
    1 again) and the same mail read there again, by a new poller; the folder ends empty."""
    poller = pollers(settings)
    poller.run_once()  # creates the folder
    server.append("Desk", mail)
    assert drain(poller) == 1
    poller.close()
    with server.client() as c:
        c.delete_folder("Desk")
        c.create_folder("Desk")
    server.append("Desk", mail)
    assert drain(pollers(settings)) == 1
    assert server.uids("Desk") == []


def test_new_uidvalidity_rereads_but_gives_no_second_ticket(
    server: DovecotServer, tmp_path: Path, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    settings = make_settings(tmp_path, server, folder="Desk")
    read_under_two_uidvalidities(server, settings, pollers, make_mail(1))
    assert count(desk, "SELECT count(*) FROM intake") == 2  # a new ref: stored again...
    assert count(desk, "SELECT count(*) FROM tickets") == 1  # ...but recognised by Message-ID
    assert {r[0] for r in desk.db.execute("SELECT outcome FROM intake")} == {
        "new_ticket",
        "duplicate",
    }


# -- size limit, folders, MOVE fallback, TLS ---------------------------------


def test_oversize_message_is_quarantined_without_fetching_the_body(
    server: DovecotServer, tmp_path: Path, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    settings = make_settings(tmp_path, server, max_message_bytes=4000)
    server.append("INBOX", make_mail(1, body="BODYMARKER " * 2000))
    server.append("INBOX", make_mail(2))
    assert drain(pollers(settings)) == 2
    assert len(server.uids("Quarantine")) == 1
    assert len(server.uids("Processed")) == 1
    rows = desk.db.execute("SELECT raw, state, reason FROM intake ORDER BY id").fetchall()
    raw, state, reason = next(r for r in rows if b"Subject: test mail 1\r\n" in r[0])
    assert b"BODYMARKER" not in raw
    assert b"Subject: test mail 1" in raw
    assert state == "quarantined"
    assert "too large" in reason
    size = int(reason.split("message too large: ", 1)[1].split(" bytes", 1)[0])
    assert size > 4000 * 4  # the server's RFC822.SIZE, not the header's length
    # Its header alone must not become a ticket that asks the customer for everything.
    (entry,) = desk.db.execute("SELECT id FROM quarantine").fetchall()
    with pytest.raises(InputError, match="only the header of this message is stored"):
        runner.retry(desk, int(entry[0]))
    assert (
        desk.db.execute("SELECT count(*) FROM tickets WHERE subject = 'test mail 1'").fetchone()[0]
        == 0
    )
    assert desk.db.execute("SELECT released_at FROM quarantine").fetchone()[0] is None


def test_an_oversize_message_read_again_under_a_new_uidvalidity_is_a_duplicate(
    server: DovecotServer, tmp_path: Path, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    """The header-only row of an oversize message had no Message-ID and skipped the
    pipeline's dedupe: read again under a new UIDVALIDITY, the same message was
    quarantined a second time (a second entry, a second copy in the quarantine folder)."""
    settings = make_settings(tmp_path, server, folder="Desk", max_message_bytes=4000)
    read_under_two_uidvalidities(server, settings, pollers, make_mail(1, body="BODYMARKER " * 2000))
    rows = desk.db.execute("SELECT state, outcome, message_id FROM intake ORDER BY id").fetchall()
    assert [(r[0], r[1]) for r in rows] == [("quarantined", "quarantined"), ("done", "duplicate")]
    assert rows[0][2] == rows[1][2] and rows[0][2].startswith("imap-test-1-")
    assert count(desk, "SELECT count(*) FROM quarantine") == 1
    assert len(server.uids("Quarantine")) == 1
    assert len(server.uids("Processed")) == 1


def deliver_file(server: DovecotServer, name: str, data: bytes) -> None:
    """Put a message into INBOX as a maildir file, as a local delivery agent would:
    for what APPEND refuses (an empty message) or a file whose name lies about its size."""
    from tests.servers.dovecot import _mail_owner

    with server.client() as c:
        c.select_folder("INBOX")  # the maildir exists from now on
    path = server.root / "home" / server.user / "Maildir" / "new" / name
    path.write_bytes(data)
    os.chown(path, *_mail_owner())


def test_an_empty_message_gets_an_outcome_and_moves(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    """A 0-byte message (APPEND refuses one; a delivery agent may still leave it) was taken
    for one expunged meanwhile: no row, fetched again on every pass, never moved."""
    deliver_file(server, "1.M1P1.empty", b"")
    server.append("INBOX", make_mail(1))
    assert drain(pollers()) == 2
    assert server.uids("INBOX") == []
    assert len(server.uids("Quarantine")) == 1
    row = desk.db.execute("SELECT raw, state FROM intake WHERE size = 0").fetchone()
    assert row is not None and row[0] == b"" and row[1] == "quarantined"


def test_a_message_the_server_cannot_send_is_quarantined_and_the_rest_read(
    server: DovecotServer,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A maildir file whose name understates its size: Dovecot drops the connection on
    every FETCH of it ("Cached message size smaller than expected"). Its batch broke on
    every pass, so no message of the folder was read, for ever."""
    for n in range(3):
        server.append("INBOX", make_mail(n))
    deliver_file(server, "1.M2P1.liar,S=10,W=10", make_mail(99))
    server.append("INBOX", make_mail(4))
    with Background(pollers()):
        wait_until(lambda: len(server.uids("Processed")) == 4, "the readable mail processed")
        wait_until(lambda: len(server.uids("Quarantine")) == 1, "the unreadable one moved")
    assert server.uids("INBOX") == []
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 4
    (reason,) = desk.db.execute(
        "SELECT reason FROM intake WHERE state = 'quarantined' AND size = 0"
    ).fetchone()
    assert reason.startswith("unreadable: ")
    said = [r.getMessage() for r in caplog.records if "quarantined unread" in r.getMessage()]
    assert len(said) == 1, said


def test_the_memory_of_broken_fetches_forgets_messages_gone_from_the_folder(
    server: DovecotServer, pollers: Callable[..., ImapPoller]
) -> None:
    """The UIDs of a FETCH the server broke off (and the count of each that broke alone)
    were kept for as long as the daemon ran, long after their messages had moved on: a
    memory that grew with every break, for months."""
    for n in range(3):
        server.append("INBOX", make_mail(n))
    deliver_file(server, "1.M2P1.liar,S=10,W=10", make_mail(99))
    poller = pollers()
    with Background(poller):
        wait_until(lambda: len(server.uids("Quarantine")) == 1, "the unreadable one moved")
        wait_until(lambda: len(server.uids("Processed")) == 3, "the readable mail processed")
    assert poller._suspect and poller._breaks  # the breaks were remembered meanwhile
    assert server.uids("INBOX") == []
    assert poller.run_once() == 0  # a pass over the now empty folder
    assert poller._suspect == {} and poller._breaks == {}


def test_a_refused_move_holds_up_no_other_mail_and_is_tried_again(
    server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The quarantine folder refuses every MOVE (a broken or full destination: NO). The
    fault used to end the pass before the other mail was handled and back off up to a
    minute each time: every new mail waited about two minutes. Now the refused message
    stays, the rest moves, and the refusal is one WARNING."""
    settings = make_settings(tmp_path, server, max_message_bytes=4000)
    poller = pollers(settings)
    poller.connect()  # creates the folders
    quarantine = server.root / "home" / server.user / "Maildir" / ".Quarantine"
    dirs = [quarantine / d for d in ("tmp", "new", "cur")]
    server.append("INBOX", make_mail(1, body="BIG " * 2000))
    server.append("INBOX", make_mail(2))
    try:
        for d in dirs:
            d.chmod(0o555)
        assert poller.run_once() == 1  # did raise: the mail after the oversize one waited
        assert len(server.uids("Processed")) == 1
        server.append("INBOX", make_mail(3))
        assert poller.run_once() == 1
        assert len(server.uids("Processed")) == 2
        assert len(server.uids("INBOX")) == 1
    finally:
        for d in dirs:
            d.chmod(0o700)
    refusals = [r for r in caplog.records if "refused to move" in r.getMessage()]
    assert [r.levelname for r in refusals] == ["WARNING", "INFO"], refusals
    assert poller.run_once() == 1  # the destination mended: moved on the next pass
    assert server.uids("INBOX") == []
    assert len(server.uids("Quarantine")) == 1
    assert count(desk, "SELECT count(*) FROM intake") == 3
    assert count(desk, "SELECT count(*) FROM tickets") == 2
    # The same refusal after moves worked again is news: a WARNING, not an INFO.
    server.append("INBOX", make_mail(4, body="BIG " * 2000))
    try:
        for d in dirs:
            d.chmod(0o555)
        assert poller.run_once() == 0  # stored and quarantined, its MOVE refused
    finally:
        for d in dirs:
            d.chmod(0o700)
    refusals = [r for r in caplog.records if "refused to move" in r.getMessage()]
    assert [r.levelname for r in refusals] == ["WARNING", "INFO", "WARNING"], refusals


# A second Dovecot whose "Archive." namespace has a quota of 15 kB of its own: a message
# over it cannot be moved or copied there, smaller ones can (Dovecot checks no quota for
# a MOVE within one quota root, so the destination needs its own). With ACLs: a
# dovecot-acl file in a maildir takes rights away.
QUOTA_CONFIG = """
namespace inbox {
  inbox = yes
  separator = .
}
namespace archive {
  prefix = Archive.
  separator = .
  location = maildir:~/Archive
}
mail_plugins = $mail_plugins quota acl
plugin {
  acl = vfile:cache_secs=0
  quota = count:Archive:ns=Archive.
  quota_vsizes = yes
  quota_rule = *:storage=15k
}
"""
ARCHIVE = "Archive.Processed"


@pytest.fixture(scope="module")
def quota_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    from tests.servers.dovecot import dovecot_server

    yield from dovecot_server(tmp_path_factory, QUOTA_CONFIG)


@pytest.fixture
def quota_server(quota_dovecot: DovecotServer) -> DovecotServer:
    quota_dovecot.reset_mail()
    quota_dovecot.start()
    return quota_dovecot


def last_errors(desk: Desk) -> list[str | None]:
    return [r[0] for r in desk.db.execute("SELECT last_error FROM imap_state")]


@pytest.mark.parametrize("command", ["MOVE", "COPY"])
def test_a_message_over_the_destinations_quota_holds_up_no_other_of_its_batch(
    quota_server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    command: str,
) -> None:
    """One message over the processed folder's quota made the server refuse the MOVE of its
    whole batch: every message of it stayed in the folder, pass after pass. Without MOVE
    (COPY, STORE, EXPUNGE) the refused COPY was a connection fault: the pass broke off
    and the poller backed off. Now the others move, the large one stays, one WARNING,
    and ``sepdesk status`` shows the refusal (imap_state.last_error) until moves work."""
    settings = make_settings(tmp_path, quota_server, processed_folder=ARCHIVE)
    poller = pollers(settings)
    if command == "COPY":
        hide_capability(monkeypatch, "MOVE")
    quota_server.append("INBOX", make_mail(1))
    quota_server.append("INBOX", make_mail(2, body="LARGE " * 4000))  # 24 kB
    quota_server.append("INBOX", make_mail(3))
    garbled = 0  # Dovecot 2.3.19 at times ends the refusal of a COPY without CRLF, and
    for _ in range(5):  # imaplib gives the connection up: a pass ends, the next goes on
        try:
            moved = poller.run_once()  # (test_a_garbled_refusal_holds_up_no_other_either)
            break
        except IMAPClient.AbortError as exc:
            assert command == "COPY" and "OVERQUOTA" in str(exc), exc
            garbled += 1
            poller.close()
    assert garbled or moved == 2
    assert len(quota_server.uids("INBOX")) == 1
    assert len(quota_server.uids(ARCHIVE)) == 2
    with contextlib.suppress(IMAPClient.AbortError):  # the garbled refusal again, if so
        assert poller.run_once() == 0  # tried again: refused again, nothing else held up
    refusals = [r for r in caplog.records if "refused to move" in r.getMessage()]
    levels = [r.levelname for r in refusals]
    # Dovecot 2.3.19 sometimes answers a refused COPY with stray bytes after [OVERQUOTA]
    # instead of its text: then the second refusal reads as a new one (a WARNING again).
    assert levels == ["WARNING", "INFO"] or (command == "COPY" and len(levels) >= 2), refusals
    assert "refused to move 1 messages" in refusals[0].getMessage()
    # ...and at times sends them in place of the response code too: "[@]?V (0.001 secs)".
    assert "OVERQUOTA" in refusals[0].getMessage() or command == "COPY"
    (error,) = last_errors(desk)
    assert error is not None and f"refused to move 1 messages to {ARCHIVE}" in error
    assert error.isprintable() and all(r.getMessage().isprintable() for r in refusals)
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 3
    # The admin takes the large one away; the next moves work and the error goes.
    with quota_server.client() as other:
        other.select_folder("INBOX")
        other.add_flags(other.search("ALL"), [b"\\Deleted"])
        other.expunge()
    quota_server.append("INBOX", make_mail(4))
    assert poller.run_once() == 1
    assert last_errors(desk) == [None]
    assert len(quota_server.uids(ARCHIVE)) == 3


def test_a_garbled_refusal_holds_up_no_other_either(
    server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dovecot 2.3.19 at times answers a COPY over quota with "NO [OVERQUOTA]" not ended
    by CRLF; imaplib then gives the connection up. The pass ended there with the message
    not held, and the next tried it first again: the others of its batch stayed behind.
    Now it is held as refused, the pass ends, and the next moves the others first."""
    settings = make_settings(tmp_path, server, processed_folder=ARCHIVE)
    poller = pollers(settings)
    hide_capability(monkeypatch, "MOVE")
    for n in (1, 2, 3):
        server.append("INBOX", make_mail(n))
    large = sorted(server.uids("INBOX"))[1]
    copy_delete = ImapPoller.copy_delete

    def refusing(self: ImapPoller, client: Any, uids: list[int], dest: str) -> None:
        if large in uids:
            if len(uids) > 1:
                raise IMAPClient.Error("COPY command error: NO [b'[OVERQUOTA] Quota exceeded']")
            raise IMAPClient.AbortError(
                "command: UID => socket error: unterminated line: b'BIEA18 NO [OVERQUOTA] \\n'"
            )
        copy_delete(self, client, uids, dest)

    monkeypatch.setattr(ImapPoller, "copy_delete", refusing)
    with pytest.raises(IMAPClient.AbortError):
        poller.run_once()
    poller.close()
    # Held ones are tried again at once here (held_retried_at_once): it ends this pass too,
    # after the others.
    with pytest.raises(IMAPClient.AbortError):
        poller.run_once()
    assert server.uids("INBOX") == [large]
    assert len(server.uids(ARCHIVE)) == 2
    (error,) = last_errors(desk)
    assert error is not None and f"refused to move 1 messages to {ARCHIVE}" in error


def test_a_refusal_is_forgotten_once_its_message_is_gone_from_the_folder(
    quota_server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The quarantine folder refuses a large message; the admin then deletes it from the
    mailbox. The refusal stayed in imap_state.last_error, stamped anew by every pass
    (``sepdesk status`` showed a refusal of nothing), and the next refusal there was
    only an INFO. A pass that meets no refusal to a destination forgets it."""
    settings = make_settings(
        tmp_path, quota_server, quarantine_folder="Archive.Quarantine", max_message_bytes=20000
    )
    poller = pollers(settings)
    quota_server.append("INBOX", make_mail(1, body="LARGE " * 4000))  # 24 kB: over 15 kB
    assert poller.run_once() == 0
    (error,) = last_errors(desk)
    assert error is not None and "refused to move 1 messages to Archive.Quarantine" in error
    with quota_server.client() as other:  # the admin takes it away
        other.select_folder("INBOX")
        other.add_flags(other.search("ALL"), [b"\\Deleted"])
        other.expunge()
    quota_server.append("INBOX", make_mail(2))
    assert poller.run_once() == 1
    assert last_errors(desk) == [None]
    quota_server.append("INBOX", make_mail(3, body="LARGE " * 4000))
    assert poller.run_once() == 0
    refusals = [r for r in caplog.records if "refused to move" in r.getMessage()]
    assert [r.levelname for r in refusals] == ["WARNING", "WARNING"], refusals
    assert len(poller._refusals) == 1


def test_a_refusal_shows_on_the_row_of_the_folder_that_holds_the_message(
    quota_server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
) -> None:
    """With extra_folders, every folder's row carried every folder's refusals: ``sepdesk
    status`` showed a refused move on a folder that held no refused message."""
    settings = make_settings(
        tmp_path, quota_server, processed_folder=ARCHIVE, extra_folders=["Other"]
    )
    poller = pollers(settings)
    poller.run_once()  # creates Other
    quota_server.append("INBOX", make_mail(1, body="LARGE " * 4000))  # 24 kB: over 15 kB
    quota_server.append("Other", make_mail(2))
    assert poller.run_once() == 1
    rows = dict(desk.db.execute("SELECT mailbox, last_error FROM imap_state").fetchall())
    inbox, other = poller.mailbox_key("INBOX"), poller.mailbox_key("Other")
    assert f"refused to move 1 messages to {ARCHIVE}" in (rows[inbox] or "")
    assert rows[other] is None
    # The other way round: a refusal met in the folder read last stayed on the row of
    # the one read first (written when it was met) until that one's next catch-up.
    with quota_server.client() as c:
        c.select_folder("INBOX")
        c.add_flags(c.search("ALL"), [b"\\Deleted"])
        c.expunge()
    quota_server.append("Other", make_mail(3, body="LARGE " * 4000))
    assert poller.run_once() == 0
    rows = dict(desk.db.execute("SELECT mailbox, last_error FROM imap_state").fetchall())
    assert rows[inbox] is None
    assert f"refused to move 1 messages to {ARCHIVE}" in (rows[other] or "")


def test_a_refusal_counts_the_messages_held_in_every_batch_of_the_pass(
    quota_server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
) -> None:
    """A pass moves in batches (batch_size): imap_state.last_error said how many of the
    last batch were refused, "1 messages" with 3 held (103 held showed as 3)."""
    settings = make_settings(tmp_path, quota_server, processed_folder=ARCHIVE)
    poller = pollers(settings, batch_size=2)
    for n in range(3):
        quota_server.append("INBOX", make_mail(n, body="LARGE " * 4000))  # 24 kB each
    assert poller.run_once() == 0
    (error,) = last_errors(desk)
    assert error is not None and f"refused to move 3 messages to {ARCHIVE}" in error
    assert poller.run_once() == 0  # the next pass counts afresh
    (error,) = last_errors(desk)
    assert error is not None and f"refused to move 3 messages to {ARCHIVE}" in error


def test_other_mail_moving_to_a_destination_does_not_end_its_refusal(
    quota_server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A message over the quota stays; the mail after it moves there in another MOVE (a
    later batch, or with ``serve`` the handed-over mail, moved apart). That MOVE ended
    the refusal: the held message's refusal was a WARNING on every pass."""
    settings = make_settings(tmp_path, quota_server, processed_folder=ARCHIVE)
    poller = pollers(settings, batch_size=1)
    quota_server.append("INBOX", make_mail(1, body="LARGE " * 4000))  # 24 kB: over 15 kB
    for n in range(2, 5):
        quota_server.append("INBOX", make_mail(n))
        assert poller.run_once() == 1
    assert len(quota_server.uids(ARCHIVE)) == 3
    refusals = [r for r in caplog.records if "refused to move" in r.getMessage()]
    assert [r.levelname for r in refusals] == ["WARNING", "INFO", "INFO"], refusals


def test_a_full_destination_is_retried_with_backoff_while_intake_goes_on(
    quota_server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The processed folder's quota is full: every move there is refused. Each held message
    was tried again, one MOVE each, on every pass (20 held: 28 commands a pass, a pass per
    new mail with IDLE). Now new mail is read, processed and tried once; the held ones are
    tried again when due, and the end of the refusals is logged too."""
    from sepdesk.intake import imap

    monkeypatch.setattr(imap, "HELD_RETRY_S", 3600.0)
    poller = pollers(make_settings(tmp_path, quota_server, processed_folder=ARCHIVE))
    quota_server.append("INBOX", make_mail(0, body="LARGE " * 2300))  # 14 kB of 15 kB
    assert poller.run_once() == 1
    for n in range(1, 6):
        quota_server.append("INBOX", make_mail(n, body="X" * 1500))
    assert poller.run_once() == 0
    client = poller.connect()
    moves: list[str] = []
    real = client.move
    monkeypatch.setattr(client, "move", lambda uids, dest: moves.append(uids) or real(uids, dest))
    quota_server.append("INBOX", make_mail(6, body="X" * 1500))
    assert poller.run_once() == 0
    assert len(moves) == 2, moves  # the new one, twice (after a NOOP): not 2 + 6
    assert poller.run_once() == 0
    assert len(moves) == 2, moves  # nothing due: no command
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 7
    (error,) = last_errors(desk)
    assert error is not None and f"refused to move 6 messages to {ARCHIVE}" in error
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1 and "refused to move 5 messages" in warned[0], warned
    with quota_server.client() as c:  # room again
        c.select_folder(ARCHIVE)
        c.add_flags(c.search("ALL"), [b"\\Deleted"])
        c.expunge()
    for held in poller._held.values():
        held.due = 0.0  # due now
    assert poller.run_once() == 6
    assert quota_server.uids("INBOX") == [] and len(quota_server.uids(ARCHIVE)) == 6
    assert last_errors(desk) == [None] and poller._held == {}
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 2 and "waits for its move" in warned[1], warned
    assert count(desk, "SELECT count(*) FROM intake") == 7


def test_a_server_answer_is_logged_and_recorded_as_one_printable_line() -> None:
    """Dovecot answered a refused COPY with stray bytes after [OVERQUOTA]; they went into
    the log and imap_state.last_error (shown by ``sepdesk status``) as they came."""
    from imapclient.exceptions import IMAPClientError

    from sepdesk.intake.imap import _one_line

    answer = IMAPClientError("b'[OVERQUOTA] YF\x05\x1b[2J\r\nquota'")
    assert _one_line(answer) == "[OVERQUOTA] YF\\x05\\x1b[2J quota"


def test_an_expunge_the_server_ignores_after_the_fallbacks_copy_copies_nothing_twice(
    quota_server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without MOVE and without the right to expunge in INBOX (an ACL), Dovecot copies,
    then answers the EXPUNGE "OK Expunge ignored: Permission denied": the message stayed,
    and each pass copied it once more into the processed folder."""
    from tests.servers.dovecot import _mail_owner

    quota_server.append("INBOX", make_mail(1))
    acl = quota_server.root / "home" / quota_server.user / "Maildir" / "dovecot-acl"
    acl.write_text("owner lrwsti\n")  # no "e": no expunge (read when INBOX is opened)
    os.chown(acl, *_mail_owner())
    hide_capability(monkeypatch, "MOVE")
    poller = pollers(make_settings(tmp_path, quota_server))
    assert poller.run_once() == 1
    assert poller.run_once() == 1  # the message is still there: deleted again, not copied
    assert len(quota_server.uids("INBOX")) == 1
    assert len(quota_server.uids("Processed")) == 1
    # ...and said so: it had stayed for ever, silently "moved" at every pass.
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "not removed from the folder" in warned[0].getMessage()
    assert "not removed" in (last_errors(desk)[0] or "")
    acl.unlink()
    poller.close()  # Dovecot keeps the rights it read while the session lasts
    assert poller.run_once() == 1
    assert quota_server.uids("INBOX") == []
    assert len(quota_server.uids("Processed")) == 1
    assert count(desk, "SELECT count(*) FROM intake") == 1
    assert poller.run_once() == 0
    assert poller._copied == {}  # forgotten by the pass that found it gone from the folder
    assert last_errors(desk) == [None]


def test_a_restart_after_the_fallbacks_copy_finds_copies_also_without_message_id(
    server: DovecotServer,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A poller that died between the fallback's COPY and its EXPUNGE: the next one found
    the messages final and copied them a second time. It now looks for them in the
    destination first, by header, size and INTERNALDATE when they have no Message-ID; two
    equal messages are two copies. A message that was not copied is copied."""
    from sepdesk.intake import imap

    class Died(BaseException):
        pass

    def die(name: str) -> None:
        if name == "imap-after-copy":
            raise Died(name)

    no_id = b"From: a@example.org\r\nSubject: no id\r\n\r\nBackup failed.\r\n"
    when = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    server.append("INBOX", no_id, msg_time=when)
    server.append("INBOX", no_id, msg_time=when)  # the same mail twice
    server.append("INBOX", make_mail(3))
    hide_capability(monkeypatch, "MOVE")
    first = pollers(batch_size=2)
    monkeypatch.setattr(imap, "_fault_point", die)
    with pytest.raises(Died):
        first.run_once()  # the first batch of two copied, then the poller died
    first.close()
    assert len(server.uids("Processed")) == 2 and len(server.uids("INBOX")) == 3
    server.append("Processed", no_id, msg_time=datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(imap, "_fault_point", lambda name: None)
    assert drain(pollers()) == 3
    assert server.uids("INBOX") == []
    assert len(server.uids("Processed")) == 4  # 3 + the one of another INTERNALDATE
    assert count(desk, "SELECT count(*) FROM intake") == 3


def test_a_refused_look_in_the_destination_selects_the_source_again(
    server: DovecotServer,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The restart's look for earlier copies selects the destination read-only. A SEARCH
    it refused left the destination selected while the poller believed the source was:
    the pass's next commands named the destination's messages. Now the source is
    selected again before the error goes on."""
    from imapclient.exceptions import IMAPClientError

    from sepdesk.intake import imap

    class Died(BaseException):
        pass

    def die(name: str) -> None:
        if name == "imap-after-copy":
            raise Died(name)

    with server.client() as c:
        c.create_folder("Processed")
    for n in range(3):  # the destination's UIDs differ from the source's
        server.append("Processed", make_mail(10 + n))
    server.append("INBOX", make_mail(1))
    server.append("INBOX", make_mail(2))
    hide_capability(monkeypatch, "MOVE")
    first = pollers()
    monkeypatch.setattr(imap, "_fault_point", die)
    with pytest.raises(Died):
        first.run_once()
    first.close()
    monkeypatch.setattr(imap, "_fault_point", lambda name: None)
    second = pollers()
    client = second.connect()
    real_search = client.search

    def refusing(criteria: Any = "ALL", charset: Any = None) -> Any:
        if "SMALLER" in criteria:  # the look for a copy
            raise IMAPClientError("SEARCH command error: BAD [SERVERBUG] refused")
        return real_search(criteria, charset)

    monkeypatch.setattr(client, "search", refusing)
    with contextlib.suppress(IMAPClientError):  # how the pass ends is not the point
        second.run_once()
    assert sorted(real_search("ALL")) == server.uids("INBOX") != server.uids("Processed")


def test_the_memory_of_a_folder_made_anew_forgets_its_old_uidvalidity(
    server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the MOVE fallback copied and the FETCHes that broke are kept per UIDVALIDITY
    and forgotten when it changes; an operator precedence slip in _forget_gone
    ("pop(key) & present if ... else set()") popped nothing of an old UIDVALIDITY: one
    entry more, with its UIDs, for every time a folder was made anew."""
    hide_capability(monkeypatch, "MOVE")
    settings = make_settings(tmp_path, server, folder="Desk")
    poller = pollers(settings)
    poller.run_once()  # creates the folder
    server.append("Desk", make_mail(1))
    assert poller.run_once() == 1  # copied, flagged, expunged: remembered until found gone
    (old,) = {k[1] for k in poller._copied}
    poller._suspect[("Desk", old)] = {1}  # a FETCH that broke under that UIDVALIDITY
    with server.client() as c:  # the folder is made anew: a new UIDVALIDITY
        c.delete_folder("Desk")
        c.create_folder("Desk")
    server.append("Desk", make_mail(2))
    assert poller.run_once() == 1
    assert poller.run_once() == 0
    assert poller._copied == {}
    assert poller._suspect == {}


def test_a_move_after_another_client_expunged_or_deleted_the_folder_is_no_fault(
    server: DovecotServer, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    """Between the store and the MOVE another client expunges one of the messages (the
    server answers NO [EXPUNGEISSUED]) or deletes the processed folder ([TRYCREATE]):
    both were faults that dropped the connection; the pass now ends its work."""
    poller = pollers()
    client = poller.connect()
    real_move = client.move

    def expunge_one() -> None:
        with server.client() as other:
            other.select_folder("INBOX")
            first = min(other.search("ALL"))
            other.add_flags([first], [b"\\Deleted"])
            other.uid_expunge([first])

    def delete_processed() -> None:
        with server.client() as other:
            other.delete_folder("Processed")

    meddle: list[Callable[[], None]] = []  # done just before the pass's first MOVE

    def meddling_move(uid_set: str, dest: str) -> Any:
        if meddle:
            meddle.pop()()
        return real_move(uid_set, dest)

    client.move = meddling_move  # type: ignore[method-assign]
    for n in range(4):
        server.append("INBOX", make_mail(n))
    meddle.append(expunge_one)
    assert poller.run_once() == 4  # did raise: move failed: [EXPUNGEISSUED]
    assert len(server.uids("Processed")) == 3  # the fourth was expunged by the other client
    for n in range(4, 6):
        server.append("INBOX", make_mail(n))
    meddle.append(delete_processed)
    assert poller.run_once() == 2  # did raise: move failed: [TRYCREATE]
    assert server.uids("INBOX") == []
    assert len(server.uids("Processed")) == 2  # the folder made anew
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 6


def test_missing_folders_are_created(
    server: DovecotServer, tmp_path: Path, pollers: Callable[..., ImapPoller]
) -> None:
    settings = make_settings(
        tmp_path,
        server,
        processed_folder="Done",
        quarantine_folder="Bad",
        extra_folders=["Partners"],
    )
    poller = pollers(settings)
    assert poller.run_once() == 0
    with server.client() as c:
        names = {f[2] for f in c.list_folders()}
    assert {"INBOX", "Done", "Bad", "Partners"} <= names


def test_a_destination_the_server_will_not_create_holds_up_no_intake(
    server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A processed folder whose name the server refuses ("~Done": [CANNOT]): every connect
    failed on its CREATE, retried with backoff for ever, and no mail was read at all. Now
    the mail is read and processed and stays in INBOX, and the refused move says why."""
    poller = pollers(make_settings(tmp_path, server, processed_folder="~Done"))
    server.append("INBOX", make_mail(1))
    server.append("INBOX", make_mail(2))
    assert poller.run_once() == 0  # did raise: create failed: [CANNOT] ...
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 2
    assert len(server.uids("INBOX")) == 2
    server.append("INBOX", make_mail(3))
    poller.close()  # a reconnect tries to create it again
    assert poller.run_once() == 0
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == 3
    assert count(desk, "SELECT count(*) FROM tickets") == 3
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warned) == 1, warned
    assert "refused to move 2 messages to ~Done" in warned[0] and "CANNOT" in warned[0]
    (error,) = last_errors(desk)
    assert error is not None and "refused to move 3 messages to ~Done" in error


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_extra_folder_the_server_will_not_create_holds_up_no_other_folder(
    server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An extra folder whose name the server refuses ("~Partners": [CANNOT]): every connect
    failed on its CREATE, retried with backoff for ever, and no folder of the account was
    read, INBOX neither. Now it is skipped with one WARNING (INFO while it repeats) and
    its imap_state row says why; INBOX and the other extra folder are read and moved."""
    with server.client() as c:
        c.create_folder("Partners")
    poller = pollers(make_settings(tmp_path, server, extra_folders=["~Partners", "Partners"]))
    server.append("INBOX", make_mail(1))
    assert poller.run_once() == 1  # did raise: create failed: [CANNOT] ...
    server.append("INBOX", make_mail(2))
    server.append("Partners", make_mail(3))
    poller.close()  # a reconnect tries to create it again
    assert poller.run_once() == 2
    assert server.uids("INBOX") == [] and server.uids("Partners") == []
    assert len(server.uids("Processed")) == 3
    assert count(desk, "SELECT count(*) FROM tickets") == 3
    (warned,) = warnings_of(caplog)
    assert "~Partners" in warned and server.user in warned and "CANNOT" in warned, warned
    skipped = [r for r in caplog.records if "cannot create folder ~Partners" in r.getMessage()]
    assert [r.levelname for r in skipped] == ["WARNING", "INFO"]
    error = desk.db.execute(
        "SELECT last_error FROM imap_state WHERE mailbox = ?",
        [f"{server.user}@{server.host}/~Partners"],
    ).fetchone()[0]
    assert "cannot create folder ~Partners" in error and "CANNOT" in error


def test_an_extra_folder_the_server_would_not_create_is_read_once_it_exists(
    server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stray file where the maildir of extra folder Partners goes: Dovecot refuses its
    CREATE ([SERVERBUG]). Once the admin has cleared the way and made the folder, the next
    connect reads it (and so does a live connection once poll_interval has passed)."""
    settings = make_settings(tmp_path, server, extra_folders=["Partners", "Sales"])
    with server.client() as c:
        c.select_folder("INBOX")  # the maildir exists from now on
    maildir = server.root / "home" / server.user / "Maildir"
    for name in ("Partners", "Sales"):
        (maildir / f".{name}").write_text("")
    poller = pollers(settings)
    server.append("INBOX", make_mail(1))
    assert poller.run_once() == 1  # did raise: create failed: [SERVERBUG] ...
    for name in ("Partners", "Sales"):  # the admin clears the way and makes the folders
        (maildir / f".{name}").unlink()
        with server.client() as c:
            c.create_folder(name)
        server.append(name, make_mail(2 if name == "Partners" else 3))
    assert poller.run_once() == 0  # the same connection, poll_interval has not passed
    poller.close()
    assert poller.run_once() == 2
    assert server.uids("Partners") == [] and server.uids("Sales") == []
    assert len(server.uids("Processed")) == 3
    warned = warnings_of(caplog)
    assert len(warned) == 4, warned  # each folder: cannot create it; exists now
    assert "cannot create folder Partners" in warned[0] and "SERVERBUG" in warned[0]
    assert "folder Sales exists now" in warned[3]
    # A live connection looks again once poll_interval has passed.
    (maildir / ".Support").write_text("")
    poller = pollers(make_settings(tmp_path, server, extra_folders=["Support"]))
    assert poller.run_once() == 0
    (maildir / ".Support").unlink()
    with server.client() as c:
        c.create_folder("Support")
    server.append("Support", make_mail(4))
    poller._skipped_retry = 0.0  # poll_interval has passed
    assert poller.run_once() == 1
    assert server.uids("Support") == []


def test_extra_folders_are_read_with_their_own_state(
    server: DovecotServer, tmp_path: Path, desk: Desk, pollers: Callable[..., ImapPoller]
) -> None:
    settings = make_settings(tmp_path, server, extra_folders=["Partners"])
    poller = pollers(settings)
    poller.run_once()
    server.append("INBOX", make_mail(1))
    server.append("Partners", make_mail(2))
    assert drain(poller) == 2
    assert server.uids("Partners") == [] and len(server.uids("Processed")) == 2
    keys = {r[0] for r in desk.db.execute("SELECT mailbox FROM imap_state")}
    assert keys == {f"{server.user}@{server.host}/INBOX", f"{server.user}@{server.host}/Partners"}


def test_move_fallback_copies_flags_and_expunges_only_those_uids(
    server: DovecotServer,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(3):
        server.append("INBOX", make_mail(n))
    poller = pollers()
    client = poller.connect()
    client.select_folder("INBOX")
    uids = sorted(client.search("ALL"))
    poller._select(client, "INBOX")
    poller.copy_delete(client, uids[:2], "Quarantine")
    assert server.uids("INBOX") == [uids[2]]
    assert len(server.uids("Quarantine")) == 2
    # The whole pass without MOVE in the server's capabilities.
    hide_capability(monkeypatch, "MOVE")
    assert drain(poller) == 1
    assert server.uids("INBOX") == []
    assert len(server.uids("Processed")) == 1


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_tls_modes_verify_the_server_certificate(
    server: DovecotServer, tmp_path: Path, pollers: Callable[..., ImapPoller], mode: str
) -> None:
    port = server.tls_port if mode == "tls" else server.port
    settings = make_settings(tmp_path, server, tls=mode, port=port)
    server.append("INBOX", make_mail(1))
    assert drain(pollers(settings, ssl_context=server.ssl_context())) == 1


@pytest.mark.parametrize("mode", ["tls", "starttls"])
def test_a_private_ca_is_trusted_by_ca_file(
    server: DovecotServer, tmp_path: Path, pollers: Callable[..., ImapPoller], mode: str
) -> None:
    """Dovecot's self-signed certificate stands for an internal CA: with [imap] ca_file
    naming it the poller reads the mail, with no SSL context given (as serve makes it).
    Before, only the system's store was trusted: tls/starttls could not be used."""
    port = server.tls_port if mode == "tls" else server.port
    settings = make_settings(tmp_path, server, tls=mode, port=port, ca_file=str(server.cert_file))
    server.append("INBOX", make_mail(1))
    assert drain(pollers(settings)) == 1
    assert server.uids("INBOX") == []


@pytest.mark.parametrize("mode", ["starttls", "none"])
def test_a_plain_mode_on_the_imaps_port_says_to_use_tls(
    server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    """The server waits for a TLS handshake, the poller for its greeting: after a minute
    the log said "cannot reach ... timed out" of a server that was there."""
    from sepdesk.intake import imap

    monkeypatch.setattr(imap, "SOCKET_TIMEOUT_S", 1.0)
    poller = pollers(make_settings(tmp_path, server, tls=mode, port=server.tls_port))
    with pytest.raises(imap.TRANSIENT_ERRORS) as fault:
        poller.run_once()
    text = poller._describe(fault.value)
    assert text == (
        f"no IMAP greeting from {server.user}@{server.host}:{server.tls_port}:"
        ' the server speaks TLS at once: use tls = "tls" for this port'
    )


def test_a_server_that_never_greets_is_still_unreachable(
    server: DovecotServer,
    tmp_path: Path,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe for a TLS port does not turn every silent server into a TLS one."""
    import socket

    from sepdesk.intake import imap

    monkeypatch.setattr(imap, "SOCKET_TIMEOUT_S", 1.0)
    monkeypatch.setattr(imap, "TLS_PROBE_S", 1.0)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        poller = pollers(make_settings(tmp_path, server, tls="starttls", port=port))
        with pytest.raises(TimeoutError) as fault:
            poller.run_once()
    assert poller._describe(fault.value).startswith(f"cannot reach {server.user}@")


def test_a_plain_loopback_connection_builds_no_tls_context(
    server: DovecotServer, pollers: Callable[..., ImapPoller], monkeypatch: Any
) -> None:
    from sepdesk.intake import imap

    def no_tls(*_args: Any, **_kw: Any) -> None:
        raise AssertionError("a TLS context for tls = none")

    monkeypatch.setattr(imap.ssl, "create_default_context", no_tls)
    assert pollers().connect() is not None


def test_imaplibs_protocol_trace_is_formatted_only_while_its_logger_shows_debug(
    server: DovecotServer, pollers: Callable[..., ImapPoller], caplog: pytest.LogCaptureFixture
) -> None:
    """imapclient turns imaplib's trace on for every connection; formatting it (the repr
    of every fetched message, twice) cost the poller 12% of its CPU for lines nobody saw."""
    append_samples(server, MAILS[:2])
    poller = pollers()
    caplog.set_level(logging.INFO, logger="imapclient.imaplib")
    assert drain(poller) == 2
    assert poller.client is not None and poller.client._imap.debug == 0
    assert not [r for r in caplog.records if r.name == "imapclient.imaplib"]
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")  # a reload to DEBUG
    append_samples(server, MAILS[2:3])
    assert drain(poller) == 1
    assert [r for r in caplog.records if r.name == "imapclient.imaplib"]


def test_untrusted_certificate_is_a_fault_not_a_plaintext_fallback(
    server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(tmp_path, server, tls="starttls")
    caplog.set_level(logging.WARNING, logger="sepdesk.imap")
    server.append("INBOX", make_mail(1))
    with Background(pollers(settings, backoff_initial=30.0)):  # default CAs: self-signed fails
        wait_until(
            lambda: count(desk, "SELECT count(*) FROM imap_state WHERE last_error IS NOT NULL") > 0,
            "the TLS fault recorded",
        )
    assert any("TLS failed" in r.getMessage() for r in caplog.records)
    assert server.uids("INBOX") != []  # nothing was read over an unverified connection


# -- the whole daemon, killed and restarted ----------------------------------

SERVE_CMD = [sys.executable, "-c", "from sepdesk.cli.main import main; main()"]


def serve_config(tmp_path: Path, server: DovecotServer) -> Path:
    (tmp_path / "imap.pw").write_text(server.password)
    cfg = tmp_path / "sepdesk.toml"
    cfg.write_text(
        f"""
[database]
path = "{tmp_path / "desk.db"}"
[smtp]
enabled = false
[outbox]
dir = "{tmp_path / "outbox"}"
[hotline]
spool_dir = "{tmp_path / "spool"}"
[imap]
enabled = true
host = "{server.host}"
port = {server.port}
user = "{server.user}"
password_file = "{tmp_path / "imap.pw"}"
tls = "none"
[pipeline]
processes = 2
"""
    )  # two pipeline processes, as on a 2-core host: the poller hands its rows to them
    return cfg


def start_serve(cfg: Path, tmp_path: Path, **env: str) -> subprocess.Popen[bytes]:
    log = (tmp_path / "serve.log").open("ab")
    try:
        return subprocess.Popen(
            [*SERVE_CMD, "serve", "--config", str(cfg)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=tmp_path,
        )
    finally:
        log.close()


def end_serve(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(WAIT_S)
        raise AssertionError("sepdesk serve did not stop") from None


def one_reply_per_mail(desk: Desk, n: int) -> None:
    assert count(desk, "SELECT count(*) FROM intake") == n
    assert count(desk, "SELECT count(DISTINCT message_id) FROM intake") == n
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'done'") == n
    assert count(desk, "SELECT count(*) FROM tickets") == n
    # At most one automatic mail to the customer per incoming message.
    assert count(desk, "SELECT count(*) FROM outbox WHERE ticket_id IS NOT NULL") <= n
    assert (
        count(desk, "SELECT count(*) FROM (SELECT ticket_id FROM outbox GROUP BY ticket_id"
              " HAVING count(*) > 1)")
        == 0
    )  # fmt: skip


def acks_of(desk: Desk, intake_ids: list[int]) -> int:
    """Outbox rows of the tickets these intake rows opened."""
    marks = ",".join("?" * len(intake_ids))
    return count(
        desk,
        f"SELECT count(*) FROM outbox WHERE ticket_id IN"
        f" (SELECT ticket_id FROM intake WHERE id IN ({marks}))",
        list(intake_ids),
    )


def test_daemon_exits_between_commit_and_move_then_restarts_without_duplicates(
    server: DovecotServer, tmp_path: Path, desk: Desk
) -> None:
    cfg = serve_config(tmp_path, server)
    for n in range(5):
        server.append("INBOX", make_mail(n))
    proc = start_serve(cfg, tmp_path, **{FAULT_ENV: "imap-before-move"})
    assert proc.wait(WAIT_S) == 137, (tmp_path / "serve.log").read_text()
    assert len(server.uids("INBOX")) == 5  # committed, never moved
    # The outcomes committed before the crash (the pipeline processes, orphaned, may
    # still finish the batch in hand: those rows are new outcomes, not duplicates).
    done = [int(r[0]) for r in desk.db.execute("SELECT id FROM intake WHERE state = 'done'")]
    assert done
    acks = acks_of(desk, done)
    assert acks >= 1

    proc = start_serve(cfg, tmp_path)
    try:
        wait_until(lambda: len(server.uids("Processed")) == 5, "the restarted daemon moves them")
    finally:
        assert end_serve(proc) == 0, (tmp_path / "serve.log").read_text()
    assert server.uids("INBOX") == []
    one_reply_per_mail(desk, 5)
    assert acks_of(desk, done) == acks


def test_serve_hands_mail_to_the_pipeline_processes_and_moves_each_once(
    server: DovecotServer, tmp_path: Path, desk: Desk
) -> None:
    cfg = serve_config(tmp_path, server)
    with server.client() as c:
        for n in range(60):
            c.append("INBOX", make_mail(n))
    proc = start_serve(cfg, tmp_path)
    try:
        wait_until(lambda: len(server.uids("Processed")) == 60, "the waiting mail processed")
        for n in range(60, 70):  # arriving later: IDLE, then the same hand-off
            server.append("INBOX", make_mail(n))
        wait_until(lambda: len(server.uids("Processed")) == 70, "new mail processed")
    finally:
        assert end_serve(proc) == 0, (tmp_path / "serve.log").read_text()
    assert server.uids("INBOX") == []
    one_reply_per_mail(desk, 70)
    log = (tmp_path / "serve.log").read_text()
    assert "handed to the pipeline" in log, log


# A Dovecot that offers no MOVE (its capability list without it): the daemon, a separate
# process, uses the fallback (COPY, STORE \\Deleted, EXPUNGE) as with such a server.
NO_MOVE_CONFIG = "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE UIDPLUS\n"


@pytest.fixture(scope="module")
def no_move_dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    from tests.servers.dovecot import dovecot_server

    yield from dovecot_server(tmp_path_factory, NO_MOVE_CONFIG)


@pytest.mark.parametrize("fault", ["imap-after-copy", "imap-after-flag"])
def test_daemon_killed_inside_the_move_fallback_copies_nothing_twice(
    no_move_dovecot: DovecotServer, tmp_path: Path, fault: str
) -> None:
    """Without MOVE: killed after the COPY (or the STORE \\Deleted) and before the
    EXPUNGE, the originals were still in INBOX at the restart and were copied again:
    the processed folder held two copies of each (10 for 5 mails)."""
    server = no_move_dovecot
    server.reset_mail()
    server.start()
    with server.client() as c:
        assert not c.has_capability("MOVE")
    desk = Desk.open(make_settings(tmp_path, server))
    try:
        cfg = serve_config(tmp_path, server)
        for n in range(5):
            server.append("INBOX", make_mail(n))
        proc = start_serve(cfg, tmp_path, **{FAULT_ENV: fault})
        try:
            assert proc.wait(WAIT_S) == 137, (tmp_path / "serve.log").read_text()
        finally:
            end_serve(proc, signal.SIGKILL)
        copied = len(server.uids("Processed"))
        assert copied >= 1 and len(server.uids("INBOX")) == 5  # copied, not expunged
        proc = start_serve(cfg, tmp_path)
        try:
            wait_until(lambda: server.uids("INBOX") == [], "the restarted daemon moves them")
        finally:
            assert end_serve(proc) == 0, (tmp_path / "serve.log").read_text()
        assert len(server.uids("Processed")) == 5
        one_reply_per_mail(desk, 5)
    finally:
        desk.close()


@pytest.mark.parametrize("moment", ["stored", "some done"])
def test_daemon_sigkilled_mid_intake_gives_every_mail_exactly_one_outcome(
    server: DovecotServer, tmp_path: Path, desk: Desk, moment: str
) -> None:
    """SIGKILL once rows are stored (before outcomes), or with outcomes being committed
    and moves under way: after a restart every mail has exactly one outcome and reply."""
    cfg = serve_config(tmp_path, server)
    total = 200
    with server.client() as c:
        for n in range(total):
            c.append("INBOX", make_mail(n))
    state = "" if moment == "stored" else " WHERE state = 'done'"
    proc = start_serve(cfg, tmp_path)
    try:
        wait_until(lambda: count(desk, f"SELECT count(*) FROM intake{state}") > 0, moment)
    finally:
        end_serve(proc, signal.SIGKILL)
    assert len(server.uids("INBOX")) > 0, "too fast to be killed mid-run; raise total"

    proc = start_serve(cfg, tmp_path)
    try:
        wait_until(lambda: len(server.uids("Processed")) == total, "all processed after restart")
    finally:
        assert end_serve(proc) == 0, (tmp_path / "serve.log").read_text()
    assert server.uids("INBOX") == []
    one_reply_per_mail(desk, total)


def test_several_accounts_are_read_each_with_their_own_state(
    server: DovecotServer, tmp_path: Path
) -> None:
    """[imap] accounts: a second mailbox (a partner address) beside support@."""
    from imapclient import IMAPClient

    from sepdesk.daemon.serve import Daemon

    users = server.root / "users"
    if "partner@" not in users.read_text():
        users.write_text(users.read_text() + "partner@sep.example:{PLAIN}partner-pw::::::\n")
    server.stop()  # a restart makes Dovecot's auth read the new user at once
    server.start()
    partner_pw = tmp_path / "partner.pw"
    partner_pw.write_text("partner-pw\n")
    base = make_settings(tmp_path, server)
    settings = from_mapping(
        {
            "database": {"path": base.database.path},
            "outbox": {"dir": str(tmp_path / "outbox")},
            "smtp": {"enabled": False},
            "hotline": {"spool_dir": str(tmp_path / "spool")},
            "imap": {
                "enabled": True,
                "host": server.host,
                "port": server.port,
                "user": server.user,
                "password_file": base.imap.password_file,
                "tls": "none",
                "accounts": [{"user": "partner@sep.example", "password_file": str(partner_pw)}],
            },
        },
        "test",
    )
    server.append("INBOX", make_mail(1))
    partner = IMAPClient(server.host, port=server.port, ssl=False)
    partner.login("partner@sep.example", "partner-pw")
    partner.append("INBOX", make_mail(2))
    daemon = Daemon(settings)
    daemon.start()
    desk = Desk.open(settings)
    try:
        wait_until(
            lambda: (
                desk.db.execute("SELECT count(*) FROM intake WHERE state = 'done'").fetchone()[0]
                == 2
            ),
            "both mailboxes processed",
        )
        wait_until(lambda: not server.uids("INBOX"), "support@ INBOX moved")
        partner.select_folder("INBOX")

        def partner_empty() -> bool:
            partner.noop()  # let the server report the expunge
            return not partner.search("ALL")

        wait_until(partner_empty, "partner INBOX moved")
    finally:
        daemon.shutdown()
        partner.logout()
    states = [r[0] for r in desk.db.execute("SELECT mailbox FROM imap_state ORDER BY mailbox")]
    assert states == sorted(
        [f"partner@sep.example@{server.host}/INBOX", f"{server.user}@{server.host}/INBOX"]
    )
    assert desk.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 2
    desk.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
# Python 3.12+ warns on fork when the test process has threads (servers of other tests);
# the child here touches none of their locks.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_pipeline_processes_started_early_wait_for_the_first_wake(
    tmp_path: Path, desk: Desk, method: str
) -> None:
    """`serve` starts them before it has migrated the database; they must not touch it
    (nor nudge a parent without a handler yet) until the daemon wakes them. Forked (as
    `serve` starts them) or spawned (as after SIGHUP), they behave the same."""
    from sepdesk.daemon.processes import PipelineProcesses
    from sepdesk.intake.store import store_raw

    nudged: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, _frame: nudged.append(signum))
    procs = PipelineProcesses(desk.settings, 1, method=method)
    procs.start()
    try:
        stored = store_raw(
            desk.db, source="smtp", raw=make_mail(1), received_at=datetime.now(UTC)
        ).intake_id
        time.sleep(1.5)  # long enough for a child that did not wait to have processed it
        assert rows_by_state(desk).get("pending") == [stored]
        assert nudged == []
        procs.wake()
        wait_until(lambda: rows_by_state(desk).get("done") == [stored], "processed after wake")
    finally:
        procs.shutdown(WAIT_S)
        signal.signal(signal.SIGUSR1, previous)


def test_pipeline_processes_fork_only_while_single_threaded() -> None:
    """Forking copies one thread: a lock another thread held at that moment would stay
    held in the child for ever. With a second thread alive, children are spawned. (In a
    fresh interpreter: this test process may have threads of other tests' servers.)"""
    script = """
import threading
from sepdesk.daemon.processes import PipelineProcesses, start_method
from tests.conftest import make_settings
import tempfile, pathlib
print(start_method())
release = threading.Event()
other = threading.Thread(target=release.wait)
other.start()
print(start_method(), PipelineProcesses(make_settings(pathlib.Path(tempfile.mkdtemp())), 1).method)
release.set()
other.join()
print(start_method())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split("\n")
    assert out[:3] == ["fork", "spawn spawn", "fork"]


def test_a_destination_refusing_everything_is_not_tried_message_by_message(
    quota_server: DovecotServer,
    tmp_path: Path,
    desk: Desk,
    pollers: Callable[..., ImapPoller],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused set is moved one message at a time for a quota that one large message
    exceeds. A destination that refuses everything ([NOPERM]: no right to insert) was
    tried message by message too, on every pass: one MOVE per held message."""
    from tests.servers.dovecot import _mail_owner

    poller = pollers(make_settings(tmp_path, quota_server, processed_folder=ARCHIVE))
    poller.run_once()  # creates the folders
    maildir = quota_server.root / "home" / quota_server.user / "Archive" / ".Processed"
    acl = maildir / "dovecot-acl"
    acl.write_text("owner lr\n")  # no "i": nothing may be put in
    os.chown(acl, *_mail_owner())
    for n in range(3):
        quota_server.append("INBOX", make_mail(n))
    client = poller.connect()
    moves: list[str] = []
    real = client.move
    monkeypatch.setattr(client, "move", lambda uids, dest: moves.append(uids) or real(uids, dest))
    assert poller.run_once() == 0
    assert len(quota_server.uids("INBOX")) == 3
    assert len(moves) == 2, moves  # the set, and once more after mending: not 2 + 3
    (error,) = last_errors(desk)
    assert error is not None and "NOPERM" in error
    acl.unlink()
    poller.close()  # Dovecot keeps the rights it read while the session lasts
    assert poller.run_once() == 3
