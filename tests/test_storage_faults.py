"""The database's storage failing under the desk: a full disk is nobody's message's fault.

A full disk is stood in for by ``PRAGMA max_page_count`` with every free page used:
SQLite then answers SQLITE_FULL ("database or disk is full") and, as on a real full
disk, may cancel the whole transaction, not just the statement. The soak that found
these (a tmpfs filled under ``sepdesk serve``) is described in the commit messages.
"""

from __future__ import annotations

import errno
import logging
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sepdesk.cli.main import _register, cli
from sepdesk.daemon.processes import IDLE_POLL, one_pass
from sepdesk.desk import Desk
from sepdesk.intake.imap import ImapPoller
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.store import db as store_db
from sepdesk.store import write_tx
from sepdesk.store.db import TransactionLost, storage_fault
from sepdesk.store.faults import FAILED_PASS_WAIT, PassFaults
from tests.conftest import MAILS, T0, free_port, write_toml

HANG_LIMIT_S = 10.0  # a bound for a deadlock, not a wait: the good case returns at once


def fill_up(desk: Desk) -> None:
    """Make the database 'full': no free page left and no room to grow."""
    db = desk.db
    db.execute("CREATE TABLE IF NOT EXISTS scratch (b BLOB)")
    db.conn.commit()
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    while True:
        try:
            db.execute("INSERT INTO scratch VALUES (zeroblob(1000))")
            db.conn.commit()
        except sqlite3.OperationalError:
            db.conn.rollback()
            return


def free_up(desk: Desk) -> None:
    desk.db.execute("PRAGMA max_page_count = 1073741823")
    desk.db.execute("DROP TABLE scratch")
    desk.db.conn.commit()


def in_thread(job: Callable[[], Any]) -> BaseException | None:
    """Run ``job``; the exception it raised, None if none; fails the test if it hangs."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            job()
        except BaseException as exc:
            raised.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(HANG_LIMIT_S)
    assert not t.is_alive(), "deadlocked: the thread still waits for the write lock it holds"
    return raised[0] if raised else None


def count(desk: Desk, sql: str) -> int:
    return int(desk.db.execute(sql).fetchone()[0])


def test_write_after_sqlite_cancelled_the_transaction_raises_instead_of_hanging(
    desk: Desk,
) -> None:
    fill_up(desk)
    db = desk.db
    rows = count(desk, "SELECT count(*) FROM scratch")

    def nested() -> None:
        with write_tx(db):
            with pytest.raises(sqlite3.OperationalError):
                db.execute("INSERT INTO scratch VALUES (zeroblob(100000))")
            assert not db.conn.in_transaction  # SQLite rolled it all back
            with write_tx(db):  # took the write lock this thread holds: hung for good
                db.execute("DELETE FROM scratch WHERE rowid = 1")

    assert isinstance(in_thread(nested), TransactionLost)

    def savepoint() -> None:
        with write_tx(db):
            with pytest.raises(sqlite3.OperationalError):
                db.execute("INSERT INTO scratch VALUES (zeroblob(100000))")
            with db.atomic():  # began and committed a transaction of its own
                db.execute("DELETE FROM scratch WHERE rowid = 1")

    assert isinstance(in_thread(savepoint), TransactionLost)
    assert count(desk, "SELECT count(*) FROM scratch") == rows  # nothing committed apart


def stored_at_its_last_attempt(desk: Desk) -> int:
    """A sample mail stored with all but one of its attempts used: the next failure
    counted against it would quarantine it."""
    intake_id = store_raw(
        desk.db, source="smtp", raw=MAILS[0].read_bytes(), received_at=T0
    ).intake_id
    desk.db.execute(
        "UPDATE intake SET attempts = ? WHERE id = ?", [runner.MAX_ATTEMPTS - 1, intake_id]
    )
    desk.db.conn.commit()
    return intake_id


def test_a_full_disk_at_the_third_attempt_neither_hangs_nor_quarantines(desk: Desk) -> None:
    """The pipeline's row fence quarantined at attempt 3, inside the cancelled transaction:
    its write_tx waited for the lock its own thread held, and the pipeline process hung
    (every later mail of its shard unprocessed, the daemon still 'healthy')."""
    intake_id = stored_at_its_last_attempt(desk)
    fill_up(desk)

    raised = in_thread(lambda: runner.process_batch(desk, [intake_id], T0))

    assert raised is not None and storage_fault(raised)
    assert count(desk, "SELECT count(*) FROM quarantine") == 0
    assert count(desk, "SELECT count(*) FROM intake WHERE state = 'pending'") == 1
    free_up(desk)
    result = runner.process_batch(desk, [intake_id], T0)[0]
    assert (result.state, result.outcome) == ("done", "new_ticket")
    assert count(desk, "SELECT count(*) FROM tickets") == 1
    assert count(desk, "SELECT count(*) FROM outbox WHERE kind != 'team_notice'") == 1


def test_a_storage_fault_inside_a_row_is_not_held_against_the_message(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite may undo just the statement: the row fence then counted the disk's fault
    against the message and quarantined it at attempt 3, for good."""
    intake_id = stored_at_its_last_attempt(desk)
    real_steps = runner.run_steps

    def disk_full(work: Any) -> None:
        raise disk_full_error()

    monkeypatch.setattr(runner, "run_steps", disk_full)
    for _ in range(3):
        with pytest.raises(sqlite3.OperationalError):
            runner.process_batch(desk, [intake_id], T0)
    assert count(desk, "SELECT count(*) FROM quarantine") == 0
    # Nor counted: the attempts the disk failed are given back (they reached 9-10 in a
    # soak, and the mail's first real failure afterwards quarantined it at once).
    attempts = f"SELECT attempts FROM intake WHERE id = {intake_id}"
    assert count(desk, attempts) == runner.MAX_ATTEMPTS - 1
    monkeypatch.setattr(runner, "run_steps", real_steps)
    assert runner.process_batch(desk, [intake_id], T0)[0].outcome == "new_ticket"


def disk_full_error() -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    return exc


def test_a_pipeline_process_on_a_full_disk_backs_off_and_logs_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It retried every 0.25 s with a traceback each time: 474 tracebacks (10,000 log
    lines) in a minute of a full disk, from two pipeline processes."""
    caplog.set_level(logging.INFO)
    faults = PassFaults("pipeline shard 0")

    def full(_at: Any) -> int:
        raise disk_full_error()

    assert [one_pass(full, faults) for _ in range(4)] == [FAILED_PASS_WAIT] * 4
    assert one_pass(lambda _at: 3, faults) == 0  # works again, found work: go on at once
    assert one_pass(lambda _at: 0, faults) == IDLE_POLL
    lines = [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records]
    assert lines == [
        (
            "ERROR",
            "pipeline shard 0: pass failed: OperationalError: database or disk is full;"
            f" retrying every {FAILED_PASS_WAIT:g} s",
            None,
        ),
        ("WARNING", "pipeline shard 0: works again after 4 failed passes", None),
    ]


def test_a_new_fault_is_logged_anew_and_a_bug_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = PassFaults("hotline-spool")
    readonly = OSError(errno.EROFS, "Read-only file system", "/var/lib/sepdesk/hotline/a.csv")
    for exc in (readonly, readonly, ValueError("a bug"), ValueError("a bug")):
        faults.failed(exc)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2
    assert "Read-only file system" in errors[0].getMessage() and errors[0].exc_info is None
    assert errors[1].exc_info is not None  # not the storage: show where


def test_the_imap_poller_on_a_full_disk_says_so_in_one_line(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    """It logged "unexpected connection to ... failed: OperationalError: database or disk
    is full" with a traceback on every retry, and a second ERROR line each time for the
    error it could not record in imap_state (on the same full disk)."""
    caplog.set_level(logging.INFO)
    poller = ImapPoller(desk)
    poller._fault(disk_full_error(), 1.0)
    poller._fault(disk_full_error(), 2.0)
    lines = [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records]
    where = f"{desk.settings.imap.user}@{desk.settings.imap.host}:{desk.settings.imap.port}"
    text = f"imap: cannot store mail of {where}: database: database or disk is full"
    assert lines == [
        ("ERROR", f"{text}; the mail stays in the folder; retrying in 1 s", None),
        ("INFO", f"{text}; the mail stays in the folder; retrying in 2 s", None),
    ]


def test_storage_faults_are_told_from_other_database_errors() -> None:
    full = disk_full_error()
    ioerr = sqlite3.OperationalError("disk I/O error")
    ioerr.sqlite_errorcode = sqlite3.SQLITE_IOERR_WRITE  # type: ignore[attr-defined]
    unique = sqlite3.IntegrityError("UNIQUE constraint failed")
    unique.sqlite_errorcode = sqlite3.SQLITE_CONSTRAINT_UNIQUE  # type: ignore[attr-defined]
    assert storage_fault(full) and storage_fault(ioerr) and storage_fault(TransactionLost("x"))
    assert not storage_fault(unique)
    assert not storage_fault(sqlite3.OperationalError("no such column: x"))
    assert not storage_fault(ValueError("bad mail"))


def test_a_database_unreadable_at_start_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Soak: `sepdesk serve` on a filesystem with 16 kB left printed a 60-line traceback:
    the first read of the migrations table failed ("disk I/O error") outside the fence."""

    def io_error(db: Any) -> list[str]:
        exc = sqlite3.OperationalError("disk I/O error")
        exc.sqlite_errorcode = sqlite3.SQLITE_IOERR_SHMSIZE  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(store_db, "pending_migrations", io_error)
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": str(tmp_path / "d.db")}})
    _register()
    result = CliRunner().invoke(cli, ["--config", str(cfg), "init"])
    assert result.exit_code == 1
    assert result.output == f"sepdesk: {tmp_path / 'd.db'}: migration failed: disk I/O error\n"


def _files_of_16_kb_at_most() -> None:
    """In the child: no file may grow past 16 kB (what a nearly full disk allows a new
    database), and a write beyond fails instead of killing the process (SIGXFSZ)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))


@pytest.mark.parametrize("command", ["init", "serve"])
def test_a_nearly_full_filesystem_at_start_is_one_line_and_exit_1(
    tmp_path: Path, command: str
) -> None:
    """On a real write failure, as the soak found it (the cause above) on a 2 MB tmpfs
    with 16 kB left: the file-size limit gives the same failing writes without a mount,
    so the test runs wherever CI does."""
    cfg = write_toml(
        tmp_path / "sepdesk.toml",
        {"database": {"path": str(tmp_path / "db" / "sepdesk.db")}, "smtp": {"port": free_port()}},
    )
    done = subprocess.run(
        [sys.executable, "-m", "sepdesk", "--config", str(cfg), command],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_files_of_16_kb_at_most,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("sepdesk: "), done.stderr
