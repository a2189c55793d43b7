"""``sepdesk init``, ``status`` and ``backup``: figures, formats, and a backup of a live desk."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from sepdesk.cli.main import _register, cli
from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.errors import StoreError
from sepdesk.instants import to_db
from sepdesk.intake.files import ingest_file
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.reports.status import desk_status
from sepdesk.sla import timer
from tests.conftest import CONTRACTS, MAILS, T0, make_settings, write_toml
from tests.test_serve_signals import NEW_TICKET_MAILS, SEPDESK, Served, send_all, wait_for

# Tuesday 3 November 2026, 17:00 Berlin: T-1 (due Mon 10:42) and T-2 (due Mon 17:15)
# breached yesterday; T-3 (due Tue 15:03) and T-4 (due Tue 16:00) breached today.
AT = T0.replace(day=3, hour=16)


def run(cfg: Path, *args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = Desk.open(make_settings(tmp_path))
    import_csv(d.db, CONTRACTS, T0)
    for path in MAILS[:4]:  # T-1 .. T-4
        ingest_file(d, path, "header")
    yield d
    d.close()


IMAP = {"enabled": True, "host": "mail.example", "user": "desk", "password_file": "/dev/null"}
A, B = "desk@mail.example/INBOX", "desk@mail.example/Partner"


def with_imap(desk: Desk, **imap: Any) -> Desk:
    """The desk as seen through a config that reads IMAP mailboxes."""
    settings = dataclasses.replace(
        desk.settings, imap=dataclasses.replace(desk.settings.imap, **{**IMAP, **imap})
    )
    return Desk(settings, desk.db)


def config_for(desk: Desk, tmp_path: Path) -> Path:
    return write_toml(
        tmp_path / "sepdesk.toml",
        {
            "database": {"path": desk.settings.database.path},
            "outbox": {"dir": str(tmp_path / "out")},
        },
    )


def test_status_on_a_quiet_desk(desk: Desk) -> None:
    status = desk_status(desk, T0)
    assert status["at"] == "2026-11-02T09:00:00+01:00"
    assert (status["intake_pending"], status["quarantine"]) == (0, 0)
    assert status["outbox_queued"] == 4 and status["outbox_failed"] == 0
    assert status["open_tickets_by_severity"] == {"1": 1, "2": 2, "3": 1, "4": 0}
    assert status["imap_enabled"] is False and status["imap_last_contact"] is None
    assert status["next_response_due"] == "2026-11-02T10:42:17+01:00"
    assert status["breaches_today"] == 0


def test_status_says_whether_serve_runs(desk: Desk, tmp_path: Path) -> None:
    """Review finding: with the daemon stopped, status printed the same healthy figures
    and exit 0. It shows the pid of the serve holding the database's lock, or that none
    does; and looking (a shared lock for an instant) does not stop a serve starting."""
    import fcntl
    import threading

    from sepdesk.daemon.lock import hold_serve_lock

    db_path = desk.settings.database.path
    assert desk_status(desk, T0)["serve_pid"] is None
    cfg = config_for(desk, tmp_path)
    assert "serve: not running" in run(cfg, "status").stdout
    lock = hold_serve_lock(db_path)
    try:
        assert desk_status(desk, T0)["serve_pid"] == os.getpid()
        assert f"serve: running (pid {os.getpid()})" in run(cfg, "status").stdout
    finally:
        lock.close()
    assert desk_status(desk, T0)["serve_pid"] is None
    # A look that holds the lock shared while serve starts: serve waits it out.
    with open(f"{db_path}.serve.lock") as looking:
        fcntl.flock(looking.fileno(), fcntl.LOCK_SH)
        threading.Timer(0.3, fcntl.flock, (looking.fileno(), fcntl.LOCK_UN)).start()
        hold_serve_lock(db_path).close()


def test_status_counts_what_needs_attention(desk: Desk) -> None:
    db = desk.db
    store_raw(db, source="file", raw=b"Subject: waiting\r\n\r\nx\r\n", received_at=AT)
    stuck = store_raw(db, source="file", raw=b"Subject: bad\r\n\r\nx\r\n", received_at=AT)
    runner.quarantine_intake(desk, stuck.intake_id, "test: unreadable", AT)
    db.execute("UPDATE outbox SET state = 'failed' WHERE id = 1")
    db.execute(
        "INSERT INTO imap_state (mailbox, last_contact_at, last_error) VALUES (?, ?, NULL),"
        " (?, ?, '2026-11-03T15:58:00+00:00 cannot reach desk@mail.example:993')",
        [A, to_db(AT - timedelta(minutes=5)), B, to_db(AT - timedelta(hours=2))],
    )
    db.conn.commit()
    for _ in range(10):  # bounded: fire every escalation due by AT
        if timer.run_once(desk, AT) == 0:
            break
    status = desk_status(with_imap(desk, extra_folders=["Partner"]), AT)
    assert status["intake_pending"] == 1
    assert status["intake_oldest_pending"] is not None
    assert status["quarantine"] == 1
    assert status["outbox_failed"] == 1
    assert status["outbox_oldest_unsent"] is not None
    assert status["imap_last_contact"] == "2026-11-03T16:55:00+01:00"
    assert [m["mailbox"] for m in status["imap"]] == [A, B]
    # The poller stores its error with a UTC instant; shown in the desk's zone (SPEC §3).
    assert status["imap"][1]["last_error"] == (
        "2026-11-03T16:58:00+01:00 cannot reach desk@mail.example:993"
    )
    assert status["breaches_today"] == 2  # T-3 and T-4; T-1 and T-2 were yesterday's
    assert status["next_escalation_at"] is not None
    assert status["next_escalation_at"] > status["at"]  # the timer has caught up


def test_status_shows_only_the_mailboxes_of_its_config(desk: Desk, tmp_path: Path) -> None:
    """A folder dropped from the config (a name the server refused, since fixed) kept its
    error in status for ever; its row stays, for the UIDs of a folder that comes back."""
    gone = "desk@mail.example/Kundenpost/Österreich"
    fixed = "desk@mail.example/Kundenpost.Österreich"
    partner = "partner@mail.example/INBOX"
    desk.db.execute(
        "INSERT INTO imap_state (mailbox, uidvalidity, last_uid, last_contact_at, last_error)"
        " VALUES (?, NULL, 0, NULL, '2026-11-03T15:58:00+00:00 cannot create folder'),"
        " (?, 7, 3, ?, NULL), (?, 8, 4, ?, NULL), (?, 9, 5, ?, NULL)",
        [gone, A, to_db(AT), fixed, to_db(AT), partner, to_db(AT)],
    )
    desk.db.conn.commit()
    imap = {"folder": "INBOX", "extra_folders": ["Kundenpost.Österreich"]}
    status = desk_status(with_imap(desk, **imap), AT)
    assert [m["mailbox"] for m in status["imap"]] == [A, fixed]
    assert all(m["last_error"] is None for m in status["imap"])
    assert desk.db.execute("SELECT count(*) FROM imap_state").fetchone()[0] == 4
    # Another account's folders count once the config names that account ...
    accounts = [{"user": "partner", "host": "mail.example"}]
    status = desk_status(with_imap(desk, accounts=accounts, **imap), AT)
    assert [m["mailbox"] for m in status["imap"]] == [A, fixed, partner]
    # ... and none at all with IMAP off.
    status = desk_status(desk, AT)
    assert status["imap"] == [] and status["imap_last_contact"] is None
    # The command reads the config it is given.
    cfg = write_toml(
        tmp_path / "sepdesk.toml",
        {"database": {"path": desk.settings.database.path}, "imap": {**IMAP, **imap}},
    )
    record = json.loads(run(cfg, "status", "--json").stdout)
    assert [m["mailbox"] for m in record["imap"]] == [A, fixed]
    assert "Kundenpost/Österreich" not in run(cfg, "status").stdout


def test_status_command_text_and_json(desk: Desk, tmp_path: Path) -> None:
    cfg = config_for(desk, tmp_path)
    text = run(cfg, "status")
    assert text.exit_code == 0, text.output
    assert "open_tickets_by_severity: 1=1 2=2 3=1 4=0" in text.stdout
    assert "intake_pending: 0" in text.stdout
    record = json.loads(run(cfg, "status", "--json").stdout)
    assert record["open_tickets_by_severity"] == {"1": 1, "2": 2, "3": 1, "4": 0}
    assert set(record) >= {
        "intake_pending",
        "quarantine",
        "outbox_queued",
        "outbox_failed",
        "outbox_oldest_unsent",
        "imap_last_contact",
        "next_escalation_at",
        "next_response_due",
        "breaches_today",
    }


def test_status_text_shows_an_imap_error_whole(desk: Desk, tmp_path: Path) -> None:
    """The readable view cut every nested cell to 60 characters: a refused login's
    last_error ended after the timestamp and the account, before the reason."""
    error = (
        "login refused for support@sep.example@127.0.0.1:41411:"
        " [AUTHENTICATIONFAILED] Authentication failed."
    )
    desk.db.execute(
        "INSERT INTO imap_state (mailbox, last_contact_at, last_error) VALUES (?, NULL, ?)",
        [A, f"2026-11-03T15:58:00+00:00 {error}"],
    )
    desk.db.conn.commit()
    cfg = write_toml(
        tmp_path / "sepdesk.toml",
        {"database": {"path": desk.settings.database.path}, "imap": IMAP},
    )
    text = run(cfg, "status")
    assert text.exit_code == 0, text.output
    assert f"last_error=2026-11-03T16:58:00+01:00 {error}" in text.stdout


def test_init_reports_the_schema(tmp_path: Path) -> None:
    cfg = write_toml(tmp_path / "s.toml", {"database": {"path": str(tmp_path / "new.db")}})
    result = run(cfg, "init")
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "new.db") in result.stdout and "schema" in result.stdout


def _tickets_in(path: Path) -> int:
    copy = sqlite3.connect(path)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # self-contained
        return int(copy.execute("SELECT count(*) FROM tickets").fetchone()[0])
    finally:
        copy.close()


def test_backup_copies_the_database(desk: Desk, tmp_path: Path) -> None:
    cfg = config_for(desk, tmp_path)
    target = tmp_path / "backups" / "sepdesk-copy.db"
    missing = run(cfg, "backup", str(target))  # a folder is not created: a typo shows
    assert (missing.exit_code, missing.stderr) == (
        1,
        f"sepdesk: {target}: backup failed: no folder {target.parent}\n",
    )
    assert not target.parent.exists()
    target.parent.mkdir()
    result = run(cfg, "backup", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"backup written to {target}")
    assert _tickets_in(target) == 4
    assert not target.with_name(target.name + ".partial").exists()


def test_backup_is_readable_by_its_owner_only(desk: Desk, tmp_path: Path) -> None:
    """The copy holds every mail: a umask of 022 (root's, cron's) must not make it 0644."""
    cfg = config_for(desk, tmp_path)
    target = tmp_path / "backups" / "sepdesk-copy.db"
    target.parent.mkdir()
    old = os.umask(0o022)
    try:
        result = run(cfg, "backup", str(target))
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _tickets_in(target) == 4


@pytest.mark.parametrize("how", ["absolute", "relative", "wal"])
def test_backup_onto_the_live_database_is_refused(
    how: str, desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd /var/lib/sepdesk && sepdesk backup sepdesk.db` renamed the copy over the live
    database: under a running serve, "database disk image is malformed" from then on."""
    cfg = config_for(desk, tmp_path)
    live = Path(desk.settings.database.path)
    monkeypatch.chdir(live.parent)
    target = {"absolute": str(live), "relative": live.name, "wal": f"{live.name}-wal"}[how]
    inode = live.stat().st_ino
    result = run(cfg, "backup", target)
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1 and "live database" in result.stderr
    assert live.stat().st_ino == inode  # not replaced
    assert not Path(target + ".partial").exists()


def test_a_malformed_database_is_one_line_exit_1(desk: Desk, tmp_path: Path) -> None:
    """A database damaged past its schema opens, then a query fails: "database disk image
    is malformed" came as a 40-line traceback, where the admin needs the one line (and
    docs/operations.md's Restore)."""
    damaged = tmp_path / "damaged.db"
    assert run(config_for(desk, tmp_path), "backup", str(damaged)).exit_code == 0
    with sqlite3.connect(damaged) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'tickets'").fetchone()
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.close()
    with damaged.open("r+b") as f:  # the tickets table's root page overwritten
        f.seek(page * (root[0] - 1))
        f.write(b"\xff" * page)
    cfg = write_toml(tmp_path / "damaged.toml", {"database": {"path": str(damaged)}})
    for command in (["status"], ["tickets", "list"]):
        result = run(cfg, *command)
        assert result.exit_code == 1, command
        assert result.stderr == f"sepdesk: {damaged}: database disk image is malformed\n"


def _run_on_a_read_only_file(db: Path, cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI on a database file (mode 0444) it may not write. Root ignores modes by its
    capabilities: it runs without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (setpriv), so
    the file's mode counts for it as for any user; no mount is needed, so no CI machine
    has to skip this."""
    db.chmod(0o444)
    command = [sys.executable, "-m", "sepdesk", "--config", str(cfg), *args]
    if os.geteuid() == 0:
        caps = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_database_this_user_may_not_write_is_named_as_the_cause(
    desk: Desk, tmp_path: Path
) -> None:
    """ "attempt to write a readonly database" said nothing of why: the CLI run as another
    user than the desk's (review finding)."""
    path = Path(desk.settings.database.path)
    desk.close()
    cfg = config_for(desk, tmp_path)
    done = _run_on_a_read_only_file(path, cfg, "contracts", "import", str(CONTRACTS))
    assert done.returncode == 1, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(f"sepdesk: {path}: attempt to write a readonly database; ")
    assert f"has no write permission on {path} (owner " in line
    assert "run the command as the desk's user (runuser -u " in line


def test_the_cause_of_a_read_only_database_names_user_owner_and_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pwd

    from sepdesk.store.db import unwritable

    path = tmp_path / "d.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    path.chmod(0o640)
    read_only = closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    with read_only as conn, pytest.raises(sqlite3.OperationalError) as caught:
        conn.execute("INSERT INTO t VALUES (1)")
    me = pwd.getpwuid(os.geteuid()).pw_name
    owner = pwd.getpwuid(path.stat().st_uid).pw_name
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != path and real_access(p, mode))
    assert unwritable(path, caught.value) == (
        f"; user {me} has no write permission on {path} (owner {owner}, mode 0640):"
        f" run the command as the desk's user (runuser -u {owner} -- sepdesk ...)"
    )
    # Its folder, where SQLite makes the -wal and -shm files.
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != tmp_path and real_access(p, mode))
    assert f"has no write permission on its folder {tmp_path} (owner " in unwritable(
        path, caught.value
    )
    # On a read-only file system no mode helps: that is said instead.
    real_statvfs = os.statvfs

    def read_only_fs(p: Any) -> Any:
        found = real_statvfs(p)
        return type("Vfs", (), {"f_flag": found.f_flag | os.ST_RDONLY})()

    monkeypatch.setattr(os, "statvfs", read_only_fs)
    assert unwritable(path, caught.value) == f"; {tmp_path} is on a read-only file system"
    # Another error is no question of permissions.
    assert unwritable(path, sqlite3.OperationalError("no such table: x")) == ""


def test_backup_to_an_impossible_place_is_one_line_exit_1(desk: Desk, tmp_path: Path) -> None:
    cfg = config_for(desk, tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    result = run(cfg, "backup", str(blocker / "copy.db"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "copy.db" in result.stderr


def test_backup_refuses_a_fifo_or_device_and_writes_through_a_symlink(
    desk: Desk, tmp_path: Path
) -> None:
    """The copy was renamed over its target: as root, `backup /dev/null` made /dev/null a
    plain file holding the database. A target that is not a regular file (after following
    symlinks) is refused, unchanged; a symlink's file is replaced and the link kept."""
    cfg = config_for(desk, tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    to_fifo = tmp_path / "to-fifo"
    to_fifo.symlink_to(fifo)
    for target in (fifo, to_fifo):
        result = run(cfg, "backup", str(target))
        assert result.exit_code == 1
        assert result.stderr == (
            f"sepdesk: {target}: backup refused: not a regular file (a device, a FIFO)\n"
        )
        assert stat.S_ISFIFO(fifo.lstat().st_mode) and to_fifo.is_symlink()
    real = tmp_path / "real.db"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.db"
    link.symlink_to(real)
    assert run(cfg, "backup", str(link)).exit_code == 0
    assert link.is_symlink() and link.readlink() == real
    with closing(sqlite3.connect(real)) as conn:
        assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 4
    assert not list(tmp_path.glob("*.partial"))


def test_backup_while_serve_runs(tmp_path: Path) -> None:
    served = Served(tmp_path)
    try:
        served.start()
        send_all(served.port, NEW_TICKET_MAILS)
        wait_for(
            lambda: served.query("SELECT count(*) FROM tickets")[0][0] == len(NEW_TICKET_MAILS),
            30,
            "tickets opened",
        )
        target = tmp_path / "live-copy.db"
        result = subprocess.run(
            [SEPDESK, "--config", str(served.config), "backup", str(target)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert _tickets_in(target) == len(NEW_TICKET_MAILS)
        assert served.proc is not None and served.proc.poll() is None  # still serving
        assert served.stop(10) == 0
    finally:
        served.kill()


class _CommitsBetweenSteps(sqlite3.Connection):
    """The live database's connection, with serve committing a mail (on a second, real
    connection) after every step of a backup: what a busy desk does to a long copy."""

    other: sqlite3.Connection
    steps = 0

    def backup(self, target: sqlite3.Connection, **kw: Any) -> None:
        def commit_between(status: int, remaining: int, total: int) -> None:
            self.steps += 1
            if self.steps > 20:  # 3 steps of 1024 pages copy it; more is a restart
                raise sqlite3.OperationalError(f"still copying after {self.steps} steps")
            self.other.execute("INSERT INTO mails (raw) VALUES (randomblob(100))")

        super().backup(target, **kw, progress=commit_between)


def test_backup_finishes_while_another_connection_commits(tmp_path: Path) -> None:
    """The copy went in steps of 1024 pages, and a commit of another connection between
    two steps restarted it from page 1: a large desk under steady mail never finished a
    backup (160 MB, a mail every 100 ms: still copying after 20 s)."""
    from sepdesk.store.backup import backup_to
    from sepdesk.store.db import Database

    live = tmp_path / "live.db"
    conn = sqlite3.connect(live, factory=_CommitsBetweenSteps, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE mails (id INTEGER PRIMARY KEY, raw BLOB)")
    conn.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
        " INSERT INTO mails (raw) SELECT randomblob(4000) FROM n"
    )  # about 3,000 pages: more than one step of the old copy
    conn.other = sqlite3.connect(live, isolation_level=None)
    try:
        pages = backup_to(Database(conn), tmp_path / "copy.db")
        assert pages > 3000
        copy = sqlite3.connect(tmp_path / "copy.db")
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT count(*) FROM mails").fetchone()[0] >= 3000
        copy.close()
    finally:
        conn.other.close()
        conn.close()


@pytest.mark.parametrize(
    "args",
    [
        ("backup", "copy.db"),
        ("status",),
        ("tickets", "list"),
        ("tickets", "show", "T-2026-000001"),
        ("contracts", "list"),
        ("outbox", "list"),
        ("quarantine", "list"),
        ("sla", "report"),
        ("report", "sce"),
    ],
)
def test_commands_refuse_a_missing_database_and_create_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    """A wrong or relative [database] path must not give an empty desk that looks fine:
    only init, serve and the commands that bring data in create the database."""
    monkeypatch.chdir(tmp_path)
    cfg = write_toml(tmp_path / "s.toml", {"database": {"path": "var/sepdesk.db"}})
    result = run(cfg, *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert f"var/sepdesk.db: no such database ({tmp_path}/var/sepdesk.db)" in result.stderr
    assert "sepdesk init" in result.stderr and "[database] path in" in result.stderr
    assert "s.toml" in result.stderr
    assert not (tmp_path / "var").exists() and not (tmp_path / "copy.db").exists()


def test_the_samples_replay_needs_no_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample corpus's README: import the contracts, then ingest the mails."""
    monkeypatch.chdir(tmp_path)
    cfg = write_toml(tmp_path / "s.toml", {"database": {"path": "var/sepdesk.db"}})
    imported = run(cfg, "contracts", "import", str(CONTRACTS))
    assert imported.exit_code == 0
    # Run from another directory, a relative path made a second desk without a word
    # (review finding): the command that makes one says so, with the whole path.
    assert imported.stderr == (
        "sepdesk: var/sepdesk.db: no database there, created a new one"
        f" ({tmp_path}/var/sepdesk.db, from the working directory)\n"
    )
    ingested = run(cfg, "ingest", "--received-at", "header", str(MAILS[0]))
    assert ingested.exit_code == 0 and "new_ticket" in ingested.stdout
    assert ingested.stderr == ""  # it exists now
    assert (tmp_path / "var" / "sepdesk.db").exists()


def test_ingest_refuses_a_date_header_out_of_range_and_goes_on(tmp_path: Path) -> None:
    """A Date in year 9999 (-12:00) is year 10000 in UTC: storing it raised a traceback
    and stopped the ingest at that file; now it is that file's error, the rest go in."""
    cfg = write_toml(tmp_path / "s.toml", {"database": {"path": str(tmp_path / "d.db")}})
    odd = tmp_path / "y9999.eml"
    odd.write_bytes(
        b"From: a@customer.example\r\nTo: support@sep.example\r\nSubject: restore\r\n"
        b"Message-ID: <y9999@customer.example>\r\nDate: Fri, 31 Dec 9999 23:30:00 -1200\r\n"
        b"\r\nRestore fails\r\n"
    )
    result = run(cfg, "ingest", "--received-at", "header", str(odd), str(MAILS[0]), "--json")
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Date header 9999-12-31T23:30:00-12:00 is out of range" in result.stderr
    records = json.loads(result.stdout)
    assert [r["outcome"] for r in records] == ["error", "new_ticket"]


def test_ingest_takes_only_the_header_of_a_huge_file_and_goes_on(tmp_path: Path) -> None:
    """A gigabyte file (an mbox export) was read whole, then SQLite's "string or blob too
    big" stopped the run: no record printed for the file already in, the next never
    ingested (review finding). Now its header is quarantined and the run goes on."""
    cfg = write_toml(
        tmp_path / "s.toml",
        {"database": {"path": str(tmp_path / "d.db")}, "smtp": {"max_message_bytes": 50000}},
    )
    huge = tmp_path / "huge.eml"
    with huge.open("wb") as f:
        f.write(b"From: a@customer.example\r\nMessage-ID: <huge@customer.example>\r\n\r\n")
        f.truncate(3 * 10**9)  # sparse: nothing reads more than the limit of it
    args = ["ingest", "--received-at", "2026-11-03T10:30", "--json"]
    result = run(cfg, *args, str(MAILS[0]), str(huge), str(MAILS[1]))
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["outcome"] for r in records] == ["new_ticket", "quarantined", "new_ticket"]
    assert "3000000000 bytes over the limit of 50000" in records[1]["reason"]


def test_ingest_reports_a_database_error_per_file_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sepdesk.intake import files

    cfg = write_toml(tmp_path / "s.toml", {"database": {"path": str(tmp_path / "d.db")}})
    real = files.store_raw

    def failing(db: Any, **kw: Any) -> Any:
        if b"ERP" in kw["raw"]:
            raise sqlite3.DataError("string or blob too big")
        return real(db, **kw)

    monkeypatch.setattr(files, "store_raw", failing)
    result = run(cfg, "ingest", "--received-at", "2026-11-03T10:30", "--json", *map(str, MAILS[:2]))
    assert result.exit_code == 1
    records = json.loads(result.stdout)
    assert [r["outcome"] for r in records] == ["error", "new_ticket"]
    assert records[0]["reason"] == f"{MAILS[0]}: cannot store: string or blob too big"
    assert result.stderr.count("\n") == 1


def test_init_then_the_same_commands_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = write_toml(tmp_path / "s.toml", {"database": {"path": "var/sepdesk.db"}})
    assert run(cfg, "init").exit_code == 0
    assert run(cfg, "status").exit_code == 0
    backup = run(cfg, "backup", "copy.db")
    assert backup.exit_code == 0 and backup.stdout.startswith("backup written")


def test_commands_refuse_an_older_schema_backup_takes_it_init_migrates(tmp_path: Path) -> None:
    """After an upgrade the old serve may still run: no command but init (or serve, and
    the commands that bring data in) changes the schema under it."""
    from sepdesk.store import connect
    from sepdesk.store.migrations import MIGRATIONS

    path = tmp_path / "old.db"
    db = connect(path)
    MIGRATIONS.apply(db, stop_before="m009_quarantine_updated_at")
    db.close()
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": str(path)}})
    refused = run(cfg, "status")
    assert refused.exit_code == 1
    db = connect(path)
    pending = len(MIGRATIONS.pending(db))  # m009 and any after it
    db.close()
    assert f"schema is older than this sepdesk ({pending} migration(s) pending)" in refused.stderr
    assert "restart `sepdesk serve`" in refused.stderr
    assert run(cfg, "tickets", "list").exit_code == 1
    # The commands that bring data in may make a database, not migrate an old one.
    imported = run(cfg, "contracts", "import", str(CONTRACTS))
    assert imported.exit_code == 1 and "schema is older" in imported.stderr
    backed = run(cfg, "backup", str(tmp_path / "copy.db"))
    assert backed.exit_code == 0, backed.output
    with sqlite3.connect(path) as conn:  # still the old schema
        columns = {r[1] for r in conn.execute("PRAGMA table_info(quarantine)")}
    assert "updated_at" not in columns
    assert run(cfg, "init").exit_code == 0
    assert run(cfg, "status").exit_code == 0


def test_mail_waiting_across_the_upgrade_that_names_a_ticket_keeps_its_order(
    tmp_path: Path,
) -> None:
    """m010 left every row stored before it 'not threaded': a reply and a #solve waiting
    in intake were then processed by whichever process came first (review finding)."""
    from sepdesk.store import connect
    from sepdesk.store.migrations import MIGRATIONS

    db = connect(tmp_path / "old.db")
    MIGRATIONS.apply(db, stop_before="m010_intake_threaded")
    raws = [
        b"From: a@x.example\nSubject: Re: [SEP T-2026-000001] Restore\n\nStill fails.\n",
        b"From: b@x.example\nIn-Reply-To: <ack@sep.example>\nSubject: Thanks\n\nOk.\n",
        b"From: c@x.example\nSubject: New problem\n\nOur backup fails.\n",
    ]
    for i, raw in enumerate(raws):
        db.execute(
            "INSERT INTO intake (source, raw, size, digest, received_at, stored_at)"
            " VALUES ('smtp', ?, ?, ?, '2026-11-02T09:00:00+00:00', '2026-11-02T09:00:00+00:00')",
            [raw, len(raw), f"d{i}"],
        )
    db.conn.commit()
    MIGRATIONS.apply(db)
    assert db.execute("SELECT threaded FROM intake ORDER BY id").fetchall() == [(1,), (1,), (0,)]
    db.close()


def test_a_second_process_migrating_at_the_same_time_waits_for_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``serve`` starting while ``init`` (or an import making the database) migrates it: each
    read the same pending list, and the second failed on what the first had just created
    ("duplicate column name", "table ... already exists"): serve did not start."""
    import fcntl
    import os

    from sepdesk.store import connect, migrate, open_db
    from sepdesk.store.migrations import MIGRATIONS

    path = tmp_path / "new.db"
    empty = connect(tmp_path / "empty.db")
    first = MIGRATIONS.pending(empty)[0]
    empty.close()
    real = first.fn
    other: list[str] = []

    def other_process_now(db: Any) -> None:
        """The other process comes in while this one is inside its first migration."""
        if not other:
            fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other.append("waits for the lock")  # and migrates after this one
            else:
                other.append("migrates")
                second = connect(path)
                migrate(second)
                second.close()
            finally:
                os.close(fd)  # drops its lock, if it took it
        real(db)

    monkeypatch.setattr(first, "fn", other_process_now)
    open_db(path).close()  # raised StoreError: migration failed: table contracts already exists
    assert other == ["waits for the lock"]
    db = open_db(path)  # the other process, after the first
    assert [m.name for m in MIGRATIONS.pending(db)] == []
    db.close()


def test_a_crash_while_the_migrations_table_is_made_leaves_no_table_without_its_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqlite-utils creates ``_sqlite_migrations`` and its unique index in two statements,
    each committed on its own: a process killed between them left the index missing
    for good (SIGKILL after each of the 153 statements of a fresh migration: only there)."""
    from sqlite_utils.db import Table

    from sepdesk.errors import StoreError
    from sepdesk.store import open_db

    create_index = Table.create_index

    def crash(self: Table, *args: Any, **kwargs: Any) -> Any:
        if self.name == "_sqlite_migrations":
            raise sqlite3.OperationalError("the process is killed here")
        return create_index(self, *args, **kwargs)

    path = tmp_path / "new.db"
    monkeypatch.setattr(Table, "create_index", crash)
    with pytest.raises(StoreError):
        open_db(path)
    monkeypatch.undo()
    db = open_db(path)  # the next start
    indexes = {tuple(i.columns) for i in db["_sqlite_migrations"].indexes if i.unique}
    db.close()
    assert ("migration_set", "name") in indexes


def test_a_database_file_without_a_schema_is_made_by_imports_and_named_by_the_rest(
    tmp_path: Path,
) -> None:
    """An empty database file (an init killed before its first migration, or a file made
    by hand) was called 'older than this sepdesk' with the advice to restart serve, and an
    import into it was refused. It is no older desk: an import makes the schema there, and
    every other command says the database has none yet."""
    path = tmp_path / "empty.db"
    path.touch()
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": str(path)}})
    status = run(cfg, "status")
    assert status.exit_code == 1
    assert "the database has no schema yet" in status.stderr
    assert "older" not in status.stderr
    imported = run(cfg, "contracts", "import", str(CONTRACTS))
    assert imported.exit_code == 0, imported.output
    assert run(cfg, "status").exit_code == 0


def test_another_programs_database_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """A [database] path naming another program's SQLite file was called a desk without a
    schema: status switched it to WAL, init created _sqlite_migrations in it and then failed
    on "table contracts already exists". Now every command refuses it, writing nothing."""
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE contracts (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        conn.commit()
    before = path.read_bytes()
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": str(path)}})
    line = (
        f"sepdesk: {path}: not a sepdesk database (it has tables of its own: contracts, invoices)"
    )
    for args in (
        ("status",),
        ("init",),
        ("tickets", "list"),
        ("backup", str(tmp_path / "copy.db")),
        ("contracts", "import", str(CONTRACTS)),
        ("ingest", str(MAILS[0])),
    ):
        result = run(cfg, *args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith(line) and result.stderr.count("\n") == 1, args
    with pytest.raises(StoreError, match="not a sepdesk database"):  # as serve opens it
        Desk.open(make_settings(tmp_path, database={"path": str(path)}))
    assert path.read_bytes() == before
    assert not (tmp_path / "copy.db").exists()
    assert not (tmp_path / "other.db-wal").exists()


def test_a_database_a_newer_sepdesk_wrote_is_refused_but_backed_up(tmp_path: Path) -> None:
    """A migration this release does not have: status and init had gone on silently,
    though docs/operations.md says an older release does not understand a newer schema.
    backup takes any schema (README): the copy is what a downgrade restores from."""
    settings = make_settings(tmp_path)
    Desk.open(settings).close()
    with closing(sqlite3.connect(settings.database.path)) as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('sepdesk', 'm099_future', '2027-01-01')"
        )
        conn.commit()
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": settings.database.path}})
    for args in (
        ("status",),
        ("init",),
        ("tickets", "list"),
        ("contracts", "import", str(CONTRACTS)),
    ):
        result = run(cfg, *args)
        assert result.exit_code == 1, args
        assert result.stderr.count("\n") == 1, args
        assert "a newer sepdesk wrote this database" in result.stderr, args
        assert "does not know: m099_future)" in result.stderr, args
    with pytest.raises(StoreError, match="newer sepdesk"):  # serve, which migrates at start
        Desk.open(settings)
    assert run(cfg, "backup", str(tmp_path / "copy.db")).exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("outbox", "retry", "99999999999999999999"),
        ("quarantine", "show", "99999999999999999999"),
        ("quarantine", "retry", "99999999999999999999"),
        ("tickets", "list", "--limit", "99999999999999999999"),
        ("outbox", "list", "--limit", "99999999999999999999"),
        ("backup", ""),
        ("report", "sce", "--out", ""),
    ],
)
def test_a_number_beyond_sqlite_or_an_empty_file_name_is_a_usage_error(
    desk: Desk, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Each ended in a traceback: the number could not be bound to the query
    (OverflowError, "datatype mismatch"), the empty name was pathlib's "." ."""
    before = list(desk.db.conn.iterdump())
    result = run(config_for(desk, tmp_path), *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1 and "Invalid value for" in result.stderr
    assert list(desk.db.conn.iterdump()) == before


def test_an_error_line_escapes_control_characters_and_cuts_a_huge_value_short(
    tmp_path: Path,
) -> None:
    """The one error line echoes what it was given: a 10,000-character ID made a
    10,000-character line, and terminal escape sequences in it reached the terminal."""
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": str(tmp_path / "d.db")}})
    assert run(cfg, "init").exit_code == 0
    result = run(cfg, "tickets", "show", "\x1b[2J" + "T-" + "9" * 10_000)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert "\x1b" not in lines[0] and "\\x1b[2J" in lines[0]
    assert len(lines[0]) < 600
    assert lines[0].endswith(" more characters)")
