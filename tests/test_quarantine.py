"""Quarantine (SPEC §3 ``quarantine list`` / ``quarantine retry ID``): one entry per message.

A message that fails again after a retry keeps its entry (the id the admin knows), with
the new reason, attempts and time; the attempts go on counting instead of restarting.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sepdesk.desk import Desk
from sepdesk.intake.files import ingest_file
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.store import write_tx
from tests.conftest import T0, write_toml


def entries(desk: Desk) -> list[dict[str, Any]]:
    return list(desk.db.query("SELECT * FROM quarantine ORDER BY id"))


def cli(desk: Desk, tmp_path: Path, *args: str) -> Any:
    from sepdesk.cli import main

    main._register()
    cfg = write_toml(tmp_path / "q.toml", {"database": {"path": desk.settings.database.path}})
    return CliRunner().invoke(main.cli, [*args, "--config", str(cfg)])


def garbage(desk: Desk, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\x00\x01 this is not mail at all " + name.encode())
    assert ingest_file(desk, path, T0).outcome == "quarantined"


def test_retry_that_fails_again_keeps_the_entry_and_counts_on(desk: Desk, tmp_path: Path) -> None:
    garbage(desk, tmp_path, "one.eml")
    garbage(desk, tmp_path, "two.eml")
    [first, second] = entries(desk)
    assert first["attempts"] == 1
    res = cli(desk, tmp_path, "quarantine", "retry", str(first["id"]))
    assert res.exit_code == 1, res.output  # could not be done (SPEC §3 exit codes)
    assert f"quarantine #{first['id']}: failed again (attempt 2)" in res.output
    assert f"back in quarantine #{first['id']}" in res.output
    [again, other] = entries(desk)
    assert again["id"] == first["id"] and other == second
    assert again["attempts"] == 2 and again["released_at"] is None
    assert again["updated_at"] >= first["created_at"] and again["created_at"] == first["created_at"]
    listed = json.loads(cli(desk, tmp_path, "quarantine", "list", "--json").stdout)
    assert [(e["id"], e["attempts"]) for e in listed] == [(first["id"], 2), (second["id"], 1)]


def test_a_retry_that_fails_again_is_one_line_on_stderr(desk: Desk, tmp_path: Path) -> None:
    """Run as an admin runs it (no logging set up): the pipeline's WARNING line for the
    quarantined mail came first, then the command's error (black-box review)."""
    garbage(desk, tmp_path, "one.eml")
    [entry] = entries(desk)
    cfg = write_toml(tmp_path / "q.toml", {"database": {"path": desk.settings.database.path}})
    command = ["--config", str(cfg), "quarantine", "retry", str(entry["id"])]
    done = subprocess.run(
        [sys.executable, "-m", "sepdesk", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"sepdesk: quarantine #{entry['id']}: failed again (attempt 2), back in quarantine"
        f" #{entry['id']}: {entries(desk)[0]['reason']}"
    ]


def test_retry_after_three_failures_goes_back_at_once_with_attempt_4(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    reasons = iter(["disk on fire", "disk on fire", "disk on fire", "still burning"])

    def boom(_work: object) -> None:
        raise RuntimeError(next(reasons))

    monkeypatch.setattr("sepdesk.pipeline.steps.STEPS", (("boom", boom),))
    stored = store_raw(desk.db, source="test", raw=b"From: a@b.de\n\nhi", received_at=T0)
    for _ in range(3):
        runner.process(desk, stored.intake_id, T0)
    [entry] = entries(desk)
    assert entry["attempts"] == 3
    result = runner.retry(desk, entry["id"], T0 + timedelta(hours=1))
    assert result.state == "quarantined"
    [again] = entries(desk)
    assert again["id"] == entry["id"] and again["attempts"] == 4
    assert "failed 4 times" in again["reason"] and "still burning" in again["reason"]
    assert again["updated_at"] == "2026-11-02T09:00:00+00:00"


def test_show_prints_the_entry_and_writes_the_raw_bytes(desk: Desk, tmp_path: Path) -> None:
    garbage(desk, tmp_path, "one.eml")
    [entry] = entries(desk)
    qid = str(entry["id"])
    shown = cli(desk, tmp_path, "quarantine", "show", qid, "--json")
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["id"] == entry["id"] and record["attempts"] == 1
    assert record["reason"].startswith("unparseable") and record["source"] == "file"
    assert record["released_at"] is None and record["size"] == len(
        b"\x00\x01 this is not mail at all one.eml"
    )
    text = cli(desk, tmp_path, "quarantine", "show", qid)
    assert f"id: {qid}" in text.output and "reason: unparseable" in text.output
    raw = (tmp_path / "one.eml").read_bytes()
    assert cli(desk, tmp_path, "quarantine", "show", qid, "--raw").stdout_bytes == raw
    out = tmp_path / "copy.eml"
    umask = os.umask(0o022)  # the usual one, under which the file had been 0644
    try:
        written = cli(desk, tmp_path, "quarantine", "show", qid, "--raw", "--out", str(out))
    finally:
        os.umask(umask)
    assert written.exit_code == 0 and out.read_bytes() == raw
    assert out.stat().st_mode & 0o777 == 0o600  # a customer's mail, as a backup (0600)
    missing = cli(desk, tmp_path, "quarantine", "show", "99")
    assert missing.exit_code == 1 and "quarantine #99: no such entry" in missing.output
    assert cli(desk, tmp_path, "quarantine", "show", qid, "--out", str(out)).exit_code == 2
    # A folder to write to is a bad file (SPEC §3: exit 1), as for backup and report sce.
    folder = cli(desk, tmp_path, "quarantine", "show", qid, "--raw", "--out", str(tmp_path))
    assert folder.exit_code == 1 and "Is a directory" in folder.output


def test_a_mail_nested_too_deep_keeps_its_message_id_and_sender(desk: Desk, tmp_path: Path) -> None:
    """Its structure cannot be parsed, its header can: the entry showed message_id "-"
    and no sender (review finding)."""
    nested = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (n, n)
        for n in range(1200)
    )
    mail = tmp_path / "deep.eml"
    mail.write_bytes(
        b"From: Anna Berg <anna@example.org>\r\nTo: support@sep.example\r\n"
        b"Subject: deep\r\nMessage-ID: <deep-1@example.org>\r\nMIME-Version: 1.0\r\n" + nested
    )
    assert ingest_file(desk, mail, T0).outcome == "quarantined"
    [entry] = entries(desk)
    assert "nesting too deep" in entry["reason"]
    shown = json.loads(cli(desk, tmp_path, "quarantine", "show", str(entry["id"]), "--json").stdout)
    assert (shown["message_id"], shown["from"]) == ("deep-1@example.org", "anna@example.org")


def test_a_quarantined_mail_is_logged_as_a_warning(
    desk: Desk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """It waits for an admin: `journalctl -p warning` (docs/operations.md) must show it."""
    caplog.set_level(logging.INFO, logger="sepdesk")
    garbage(desk, tmp_path, "one.eml")
    intake_id = store_raw(desk.db, source="imap", raw=b"x" * 10, received_at=T0).intake_id
    runner.quarantine_intake(desk, intake_id, "message too large: test")
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if "outcome=" in r.getMessage()]
    assert [level for level, _ in lines] == [logging.WARNING, logging.WARNING]
    assert all("outcome=quarantined" in text for _, text in lines)


COPY = (
    b"From: Anna Berg <anna@example.org>\r\nTo: support@sep.example\r\n"
    b"Subject: Restore fails\r\nMessage-ID: <copy-1@example.org>\r\n"
    b"Date: Mon, 02 Nov 2026 08:00:00 +0000\r\n\r\n"
    b"Our restore of the file server fails since Monday.\r\n"
)


def test_the_quarantine_line_of_a_mail_too_large_names_its_message_id(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    """Its header was read (quarantine show names the Message-ID); the log said "?"."""
    caplog.set_level(logging.INFO, logger="sepdesk")
    quarantine_header_of_copy(desk)
    unread = store_raw(desk.db, source="imap", raw=b"", received_at=T0, source_ref="1/8")
    runner.quarantine_intake(desk, unread.intake_id, "unreadable: test")  # nothing to name
    lines = [r.getMessage() for r in caplog.records if "outcome=quarantined" in r.getMessage()]
    assert len(lines) == 2
    assert "message-id=copy-1@example.org " in lines[0], lines
    assert "message-id=? " in lines[1], lines


def listed(desk: Desk, tmp_path: Path) -> list[int]:
    out = cli(desk, tmp_path, "quarantine", "list", "--json")
    assert out.exit_code == 0, out.output
    return [e["id"] for e in json.loads(out.stdout)]


def test_a_copy_processed_later_releases_the_entry_of_the_one_that_failed(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The admin moves a quarantined IMAP message back to the inbox once its fault is
    fixed: the new copy gets a ticket, and the entry must not stay listed (review)."""
    from sepdesk.pipeline import steps

    first = store_raw(desk.db, source="imap", raw=COPY, received_at=T0, source_ref="1/7")
    real = steps.STEPS

    def boom(work: Any) -> None:
        if work.intake_id == first.intake_id:
            raise RuntimeError("a bug, fixed since")

    monkeypatch.setattr("sepdesk.pipeline.steps.STEPS", (("boom", boom), *real))
    for _ in range(3):
        runner.process(desk, first.intake_id, T0)
    [entry] = entries(desk)
    assert listed(desk, tmp_path) == [entry["id"]]
    again = store_raw(desk.db, source="imap", raw=COPY, received_at=T0, source_ref="1/9")
    assert runner.process(desk, again.intake_id, T0 + timedelta(hours=1)).outcome == "new_ticket"
    assert listed(desk, tmp_path) == []
    [released] = entries(desk)
    assert released["released_at"] == "2026-11-02T09:00:00+00:00"
    steps_taken = desk.db.execute("SELECT steps FROM intake WHERE id = ?", [again.intake_id])
    assert f"released the entry of intake #{first.intake_id}" in steps_taken.fetchone()[0]


def quarantine_header_of_copy(desk: Desk) -> None:
    """COPY as the IMAP poller keeps a message too large: its header alone, quarantined."""
    header = COPY.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    big = store_raw(desk.db, source="imap", raw=header, received_at=T0, source_ref="1/7")
    runner.quarantine_oversize(desk, big.intake_id, "message too large: 30 MB")


def test_the_whole_mail_of_one_quarantined_as_too_large_releases_its_entry(
    desk: Desk, tmp_path: Path
) -> None:
    """Only its header was stored; read again in full (``max_message_bytes`` raised)."""
    quarantine_header_of_copy(desk)
    assert len(listed(desk, tmp_path)) == 1
    whole = store_raw(desk.db, source="imap", raw=COPY, received_at=T0, source_ref="1/8")
    assert runner.process(desk, whole.intake_id, T0).outcome == "new_ticket"
    assert listed(desk, tmp_path) == []


def test_another_mail_with_the_same_message_id_leaves_the_entry_listed(
    desk: Desk, tmp_path: Path
) -> None:
    """A client that reuses Message-IDs must not hide another mail's entry."""
    quarantine_header_of_copy(desk)
    other = COPY.replace(b"Subject: Restore fails", b"Subject: Licence question").replace(
        b"Our restore of the file server fails since Monday.", b"How do I add a licence?"
    )
    stored = store_raw(desk.db, source="imap", raw=other, received_at=T0, source_ref="1/8")
    assert runner.process(desk, stored.intake_id, T0).outcome == "new_ticket"
    assert len(listed(desk, tmp_path)) == 1


def test_release_takes_an_entry_off_the_list_and_keeps_its_bytes(
    desk: Desk, tmp_path: Path
) -> None:
    """A junk mail fixed by hand and ingested is another mail: its entry stayed listed and
    counted in status for ever, and the documented alarm (quarantine > 0) with it."""
    from sepdesk.reports.status import desk_status

    garbage(desk, tmp_path, "one.eml")
    garbage(desk, tmp_path, "two.eml")
    [first, second] = entries(desk)
    done = cli(desk, tmp_path, "quarantine", "release", str(first["id"]))
    assert done.exit_code == 0, done.output
    assert f"quarantine #{first['id']}: released" in done.stdout
    assert listed(desk, tmp_path) == [second["id"]]
    assert desk_status(desk, T0)["quarantine"] == 1
    everything = cli(desk, tmp_path, "quarantine", "list", "--all", "--json")
    released = {e["id"]: e["released_at"] for e in json.loads(everything.stdout)}
    assert released[second["id"]] is None and released[first["id"]] is not None
    table = cli(desk, tmp_path, "quarantine", "list", "--all").stdout.splitlines()
    assert table[0].split()[-1] == "released_at"
    raw = cli(desk, tmp_path, "quarantine", "show", str(first["id"]), "--raw").stdout_bytes
    assert raw == (tmp_path / "one.eml").read_bytes()
    # Released once, it is no entry waiting: a second release or a retry is refused.
    again = cli(desk, tmp_path, "quarantine", "release", str(first["id"]))
    assert again.exit_code == 1 and "no such entry waiting" in again.stderr
    assert cli(desk, tmp_path, "quarantine", "retry", str(first["id"])).exit_code == 1
    assert cli(desk, tmp_path, "quarantine", "release", "99").exit_code == 1


class Killed(BaseException):
    """What the pipeline process sees of an OOM kill: nothing; no except branch runs."""


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def killed_pass(desk: Desk, ids: list[int]) -> bool:
    """One pass of a pipeline process over ``ids``; True when the process died in it
    (its running attempts then belong to a process that is gone)."""
    try:
        runner.process_batch(desk, ids, T0)
    except Killed:
        with write_tx(desk.db):
            sql = "UPDATE running_attempts SET pid = ? WHERE pid = ?"
            desk.db.execute(sql, [dead_pid(), os.getpid()])
        return True
    return False


def test_a_mail_that_kills_its_process_is_found_and_quarantined_and_its_batch_goes_on(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reviewer's 31 MB log mail, OOM-killed at every try: it was retried for ever,
    never quarantined, and its batch-mates waited with it, their attempts climbing until
    their first ordinary failure would have quarantined them at once."""

    def oom(work: Any) -> None:
        if b"huge log" in work.raw:
            raise Killed

    from sepdesk.pipeline import steps

    monkeypatch.setattr(steps, "STEPS", (("oom", oom), *steps.STEPS))
    raws = [b"From: a@b.de\nSubject: huge log\n\nhuge log"] + [
        f"From: c{i}@b.de\nSubject: q{i}\n\nhello".encode() for i in range(3)
    ]
    ids = [store_raw(desk.db, source="test", raw=r, received_at=T0).intake_id for r in raws]
    deaths = sum(killed_pass(desk, ids) for _ in range(8))
    culprit, *mates = list(desk.db.query("SELECT * FROM intake ORDER BY id"))
    assert [(m["state"], m["attempts"]) for m in mates] == [("done", 1)] * 3
    assert culprit["state"] == "quarantined" and culprit["attempts"] == 3
    assert culprit["reason"] == f"failed 3 times: {runner.ENDED_PROCESS}"
    # The batch's death was nobody's alone: then three deaths alone, then quarantine.
    assert deaths == 4
    [entry] = entries(desk)
    assert entry["intake_id"] == culprit["id"] and entry["attempts"] == 3
    assert desk.db.execute("SELECT count(*) FROM running_attempts").fetchone()[0] == 0


def test_an_attempt_of_a_live_process_is_not_taken_for_a_death(desk: Desk) -> None:
    """Another worker (a second pipeline process, the IMAP poller) may be in the middle
    of the row: its attempt is no crash, and the row is processed as before."""
    stored = store_raw(desk.db, source="test", raw=b"From: a@b.de\n\nhi", received_at=T0)
    with write_tx(desk.db):
        desk.db.execute("UPDATE intake SET attempts = 3 WHERE id = ?", [stored.intake_id])
        desk.db.execute(
            "INSERT INTO running_attempts VALUES (?, ?, 1, ?)",
            [stored.intake_id, os.getppid(), "2026-11-02T08:00:00+00:00"],
        )
    assert runner.process(desk, stored.intake_id, T0).state == "done"
    assert entries(desk) == []
