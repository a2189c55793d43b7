"""``sepdesk tickets``: list filters and table, and every engineer action with its errors.

Each action runs through click's CliRunner; the exit codes and the one-line
errors are checked again against the real console script as a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner, Result

from sepdesk.cli.main import _register, cli
from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.intake.files import ingest_file
from tests.conftest import CONTRACTS, MAILS, T0, make_settings, write_toml

SEPDESK = str(Path(sys.executable).with_name("sepdesk"))
LATER = T0.replace(day=20)
STAFF = ("@sep.example", "anna.eng@contractor.example")


@pytest.fixture
def cfg(tmp_path: Path) -> Iterator[Path]:
    """A desk holding the first ten sample mails (nine tickets), and its config file."""
    settings = make_settings(tmp_path)
    desk = Desk.open(settings)
    import_csv(desk.db, CONTRACTS, T0)
    for path in MAILS[:10]:
        ingest_file(desk, path, "header")
    desk.close()
    yield write_toml(
        tmp_path / "sepdesk.toml",
        {
            "desk": {"staff": list(STAFF), "authserv_id": "mx.sep.example"},
            "database": {"path": settings.database.path},
            "outbox": {"dir": str(tmp_path / "out")},
        },
    )


def run(cfg: Path, *args: str) -> Result:
    _register()
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def sub(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SEPDESK, "--config", str(cfg), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def numbers(cfg: Path, *filters: str) -> list[str]:
    result = run(cfg, "tickets", "list", "--json", *filters)
    assert result.exit_code == 0, result.output
    return [r["ticket_number"] for r in json.loads(result.stdout)]


# -- list ----------------------------------------------------------------------------------


def test_listings_show_control_characters_from_mail_as_escapes(cfg: Path, tmp_path: Path) -> None:
    """Review: a subject with ESC sequences (raw and in an encoded word) and a Message-ID
    with NUL and SOH reached the terminal raw through tickets list and show (click strips
    ANSI only when the output is no terminal). JSON escapes them already."""
    mail = tmp_path / "esc.eml"
    mail.write_bytes(
        b"From: t.weiss@mueller-maschinenbau.de\r\nTo: support@sep.example\r\n"
        b"Subject: Restore \x1b[2J\x1b[31mfails\x1b[0m =?utf-8?q?=1B[5mblink?=\r\n"
        b"Message-ID: <s06\x00\x01@mueller.example>\r\n\r\nKundennummer 104217.\r\n"
    )
    result = run(cfg, "ingest", "--received-at", "2026-11-30T10:30", str(mail))
    assert result.exit_code == 0, result.output
    number = numbers(cfg)[0]
    _register()
    for args in (("tickets", "list", "--limit", "1"), ("tickets", "show", number)):
        out = CliRunner().invoke(cli, ["--config", str(cfg), *args], color=True).output
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), args
        # The subject is stored bare (header_safe drops its control characters); the
        # Message-ID keeps them, and is shown escaped.
        assert "Restore [2J [31mfails" in out, args
    assert "s06\\x00\\x01@mueller.example" in run(cfg, "tickets", "show", number).output


def test_json_shows_c1_control_characters_as_escapes(cfg: Path, tmp_path: Path) -> None:
    """json.dumps(ensure_ascii=False) escapes C0 controls but wrote C1 ones raw: U+009B
    is a terminal's CSI as ESC [ is (review finding)."""
    mail = tmp_path / "c1.eml"
    mail.write_bytes(
        b"From: t.weiss@mueller-maschinenbau.de\r\nTo: support@sep.example\r\n"
        b"Subject: Restore fails\r\nMessage-ID: <c1\xc2\x9b31m@mueller.example>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nKundennummer 104217.\r\n"
    )
    assert run(cfg, "ingest", "--received-at", "2026-11-30T10:30", str(mail)).exit_code == 0
    out = run(cfg, "tickets", "show", numbers(cfg)[0], "--json").stdout
    assert "\x9b" not in out and "\\u009b31m@mueller.example" in out
    assert json.loads(out)["messages"][0]["message_id"] == "c1\x9b31m@mueller.example"


def test_list_is_newest_first_with_every_ticket(cfg: Path) -> None:
    """SPEC §3: newest first. The bounced acknowledgement (T-4, file 005) had sorted first,
    also with --limit; it keeps its place, and its status column says it bounced."""
    records = json.loads(run(cfg, "tickets", "list", "--json").stdout)
    found = [r["ticket_number"] for r in records]
    assert len(found) == 9
    received = [datetime.fromisoformat(r["received_at"]) for r in records]
    assert received == sorted(received, reverse=True)
    assert found == sorted(found, reverse=True)
    assert (
        numbers(cfg, "--limit", "3")
        == found[:3]
        == ["T-2026-000009", "T-2026-000008", "T-2026-000007"]
    )
    table = run(cfg, "tickets", "list").stdout.splitlines()
    assert [line.split()[0] for line in table[1:]] == found
    assert "(mail bounced)" in next(line for line in table if line.startswith("T-2026-000004"))


def test_the_operations_guide_says_tickets_list_stays_newest_first() -> None:
    """docs/operations.md said a ticket whose mail failed for good is listed first, which
    tickets list stopped doing for SPEC §3's newest first (black-box review)."""
    guide = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text("utf-8")
    watch = " ".join(guide.split("## Watch", 1)[1].split("\n## ", 1)[0].split())
    assert "shows such tickets first" not in watch
    assert "marks such a ticket `(mail bounced)`" in watch


def test_list_filters_status_severity_customer(cfg: Path) -> None:
    accepted = numbers(cfg, "--status", "accepted")
    assert accepted and all(n in numbers(cfg) for n in accepted)
    records = json.loads(run(cfg, "tickets", "list", "--json").stdout)
    assert set(accepted) == {r["ticket_number"] for r in records if r["status"] == "accepted"}
    assert numbers(cfg, "--severity", "1") == ["T-2026-000001"]
    assert numbers(cfg, "--customer", "131462") == ["T-2026-000002"]
    assert numbers(cfg, "--customer", "999999") == []
    assert numbers(cfg, "--status", "accepted", "--severity", "1") == ["T-2026-000001"]


def test_list_filters_due_before_and_breached(cfg: Path) -> None:
    # T-1 is due 2026-11-02 10:42 Berlin; a naive instant is the desk's local time.
    assert numbers(cfg, "--due-before", "2026-11-02T11:00") == ["T-2026-000001"]
    assert numbers(cfg, "--due-before", "2026-11-02T10:00") == []
    assert numbers(cfg, "--due-before", "2026-11-02T10:00:00Z") == ["T-2026-000001"]
    with time_machine.travel(T0, tick=False):
        assert numbers(cfg, "--breached") == []
    # Breached once the due has passed, whether or not the SLA timer has run since.
    with time_machine.travel(LATER, tick=False):
        breached = numbers(cfg, "--breached")
        assert "T-2026-000001" in breached
        assert set(breached).isdisjoint(numbers(cfg, "--not-breached"))
        assert len(breached) + len(numbers(cfg, "--not-breached")) == 9
        assert numbers(cfg, "--breached", "--limit", "1") == breached[:1]


def test_list_table_is_aligned_truncated_and_local(cfg: Path) -> None:
    result = run(cfg, "tickets", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split() == [
        "ticket_number",
        "call_id",
        "status",
        "severity",
        "customer_number",
        "due",
        "subject",
    ]
    start = header.index("subject")
    due_at = header.index("due")
    for line in lines[1:]:
        assert line[start - 2 : start] == "  "  # every subject starts in the same column
        assert len(line) - start <= 48
    row = next(line for line in lines if line.startswith("T-2026-000001"))
    # 09:42 UTC, shown in Berlin time with its offset (SPEC §3: ISO 8601 with the offset).
    assert row[due_at:].startswith("2026-11-02T10:42+01:00 ")
    long_row = next(line for line in lines if line.startswith("T-2026-000009"))
    assert long_row.endswith("…")
    assert "bounced" in next(line for line in lines if line.startswith("T-2026-000004"))


def test_list_bad_flags_are_usage_errors(cfg: Path) -> None:
    for args in (
        ("--status", "open-ish"),
        ("--severity", "5"),
        ("--limit", "0"),
        ("--due-before", "next tuesday-ish"),
        ("--frobnicate",),
    ):
        result = run(cfg, "tickets", "list", *args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output


# -- actions -------------------------------------------------------------------------------


def test_lifecycle_through_every_action(cfg: Path) -> None:
    ref = "T-2026-000002"  # Van Dijk, needs-info
    accepted = run(cfg, "tickets", "accept", ref)
    assert accepted.exit_code == 0, accepted.output
    assert accepted.stdout.startswith(f"{ref}: accepted (C-2026-")
    call_id = accepted.stdout.split("(")[1].rstrip(")\n")
    assert run(cfg, "tickets", "respond", call_id).exit_code == 0
    sev = run(cfg, "tickets", "severity", ref, "1")
    assert sev.exit_code == 0 and f"{ref}: severity 1, due " in sev.stdout
    assign = run(cfg, "tickets", "assign", call_id.lower(), "Eva.Engineer@SEP.example")
    assert assign.stdout == f"{ref}: assigned to eva.engineer@sep.example\n"
    assert run(cfg, "tickets", "solve", ref).stdout.startswith(f"{ref}: solved")
    assert run(cfg, "tickets", "reopen", ref).stdout.startswith(f"{ref}: accepted")
    assert run(cfg, "tickets", "close", ref).stdout.startswith(f"{ref}: closed")
    shown = json.loads(run(cfg, "tickets", "show", call_id, "--json").stdout)
    assert shown["status"] == "closed"
    assert shown["severity"] == 1
    assert shown["first_response_at"] is not None
    assert shown["assigned_to"] == "eva.engineer@sep.example"
    events = run(cfg, "tickets", "show", ref).stdout
    for kind in ("severity", "assign", "solve", "reopen", "close"):
        assert f"kind={kind}" in events


def test_accepting_after_the_due_promises_no_time_gone_by(cfg: Path) -> None:
    """Review finding: an accept weeks after the due told the customer "You will receive a
    first response ... by" that past instant; the notice now says it has passed."""
    ref = "T-2026-000002"
    shown = json.loads(run(cfg, "tickets", "show", ref, "--json").stdout)
    late = (datetime.fromisoformat(shown["first_response_due"]) + timedelta(days=1)).isoformat()
    assert run(cfg, "tickets", "accept", ref, "--at", late).exit_code == 0
    path = tomllib.loads(cfg.read_text())["database"]["path"]
    with contextlib.closing(sqlite3.connect(path)) as db:
        (body,) = db.execute(
            "SELECT body FROM outbox WHERE kind = 'call_accepted' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    due = shown["first_response_due"]
    assert f"(by Monday, 2 November 2026, 17:15, {due}) has already passed" in body
    assert "You will receive a first response" not in body


def test_accepting_by_cli_mails_the_call_id_to_the_customer_once(cfg: Path) -> None:
    """SPEC §2: an engineer can accept by CLI; the Call ID is mailed to the customer."""
    ref = "T-2026-000002"  # Van Dijk, needs-info
    shown = json.loads(run(cfg, "tickets", "show", ref, "--json").stdout)
    before = {r["id"] for r in json.loads(run(cfg, "outbox", "list", "--json").stdout)}
    # Accepted before its due: the due is a promise (accepted after it, see below).
    at = (datetime.fromisoformat(shown["received_at"]) + timedelta(minutes=5)).isoformat()
    assert run(cfg, "tickets", "accept", ref, "--at", at).exit_code == 0
    call_id = json.loads(run(cfg, "tickets", "show", ref, "--json").stdout)["call_id"]
    new = [
        r for r in json.loads(run(cfg, "outbox", "list", "--json").stdout) if r["id"] not in before
    ]
    assert [(r["kind"], r["to"], r["ticket"]) for r in new] == [
        ("call_accepted", [shown["requester"]], ref)
    ]
    assert new[0]["subject"].startswith(f"[SEP {call_id}] ")
    # It names the severity and the first-response due, as an acknowledgement does.
    path = tomllib.loads(cfg.read_text())["database"]["path"]
    with contextlib.closing(sqlite3.connect(path)) as db:
        (body,) = db.execute("SELECT body FROM outbox WHERE id = ?", [new[0]["id"]]).fetchone()
    accepted = json.loads(run(cfg, "tickets", "show", ref, "--json").stdout)
    assert call_id in body and ref in body
    due = accepted["first_response_due"]
    assert accepted["severity"] == 2 and due
    assert (
        "Severity: Major. You will receive a first response from our support team by"
        f" Monday, 2 November 2026, 17:15 ({due})." in body
    )


def test_a_reopened_ticket_still_missing_information_needs_info_again(cfg: Path) -> None:
    """SPEC §1: a ticket stays needs-info until a follow-up supplies what is missing."""
    ref = "T-2026-000002"  # Van Dijk, needs-info
    assert run(cfg, "tickets", "solve", ref).exit_code == 0
    reopened = run(cfg, "tickets", "reopen", ref)
    assert reopened.stdout.startswith(f"{ref}: needs-info"), reopened.output


def test_severity_prints_the_new_due_with_the_desks_offset(cfg: Path) -> None:
    ref = "T-2026-000002"  # Van Dijk, Major, due 2 November 17:15 Berlin
    sev = run(cfg, "tickets", "severity", ref, "3")
    shown = json.loads(run(cfg, "tickets", "show", ref, "--json").stdout)
    assert shown["first_response_due"].endswith("+01:00")
    assert sev.stdout == f"{ref}: severity 3, due {shown['first_response_due']}\n"
    events = run(cfg, "tickets", "show", ref).stdout
    changed = next(line for line in events.splitlines() if "kind=due_changed" in line)
    assert "+00:00" not in changed and '"from": "2026-11-02T17:15:' in changed


@pytest.mark.parametrize(
    "args",
    [
        ("tickets", "show", "T-2026-999999"),
        ("tickets", "solve", "T-2026-999999"),
        ("tickets", "accept", "C-2026-99999"),
        ("tickets", "close", "T-2026-999999"),
        ("tickets", "reopen", "T-2026-999999"),
        ("tickets", "respond", "T-2026-999999"),
        ("tickets", "severity", "T-2026-999999", "2"),
        ("tickets", "assign", "T-2026-999999", "eva@sep.example"),
    ],
)
def test_unknown_id_is_one_line_exit_1(cfg: Path, args: tuple[str, ...]) -> None:
    result = run(cfg, *args)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "T-2026-999999" in result.stderr or "C-2026-99999" in result.stderr


def test_an_unknown_id_is_named_as_typed(cfg: Path) -> None:
    """ "garbage" was named "GARBAGE": something nobody typed (review finding)."""
    result = run(cfg, "tickets", "show", " garbage ")
    assert (result.exit_code, result.stderr) == (1, "sepdesk: garbage: no such ticket or Call ID\n")
    assert run(cfg, "tickets", "show", "t-2026-000001").exit_code == 0  # found whatever the case


def test_impossible_transitions_are_one_line_exit_1(cfg: Path) -> None:
    ref = "T-2026-000003"
    assert run(cfg, "tickets", "close", ref).exit_code == 0
    for args in (
        ("solve", ref),
        ("accept", ref),
        ("severity", ref, "2"),
        ("close", ref),
    ):
        result = run(cfg, "tickets", *args)
        assert result.exit_code == 1, args
        verb = "change the severity of" if args[0] == "severity" else args[0]  # not "severity"
        assert result.stderr == f"sepdesk: {ref}: cannot {verb} a ticket that is closed\n"
    assert run(cfg, "tickets", "reopen", "T-2026-000002").exit_code == 1  # reopen an open one


BEFORE_RECEIPT = "2026-11-01T10:00"  # T-2026-000002 was received on 2 November


@pytest.mark.parametrize("action", ["accept", "solve", "close", "respond", "reopen"])
def test_an_action_dated_before_the_ticket_was_received_is_refused(cfg: Path, action: str) -> None:
    ref = "T-2026-000002"
    if action == "reopen":
        assert run(cfg, "tickets", "solve", ref).exit_code == 0
    before = run(cfg, "tickets", "show", ref, "--json").stdout
    result = run(cfg, "tickets", action, ref, "--at", BEFORE_RECEIPT)
    assert result.exit_code == 1
    assert result.stderr == (
        f"sepdesk: {ref}: cannot {action} at 2026-11-01T10:00:00+01:00, before the ticket"
        " was received (2026-11-02T09:15:40+01:00)\n"
    )
    assert run(cfg, "tickets", "show", ref, "--json").stdout == before  # nothing done


@pytest.mark.parametrize("action", ["respond", "solve", "close"])
def test_the_clock_is_not_stopped_before_a_reopening_started_it_again(
    cfg: Path, action: str
) -> None:
    """Solved in time, reopened after the due: a new clock from the reopening. A response
    dated before it gave a negative response time, within the SLA (review finding)."""
    ref = "T-2026-000002"  # received 2026-11-02T09:15:40+01:00
    assert run(cfg, "tickets", "solve", ref, "--at", "2026-11-02T10:00").exit_code == 0
    assert run(cfg, "tickets", "reopen", ref, "--at", "2026-11-20T09:30").exit_code == 0
    before = run(cfg, "tickets", "show", ref, "--json").stdout
    result = run(cfg, "tickets", action, ref, "--at", "2026-11-02T16:30")
    assert result.exit_code == 1
    assert result.stderr == (
        f"sepdesk: {ref}: cannot {action} at 2026-11-02T16:30:00+01:00, before its response"
        " clock started (2026-11-20T09:30:00+01:00)\n"
    )
    assert run(cfg, "tickets", "show", ref, "--json").stdout == before  # nothing done
    assert run(cfg, "tickets", action, ref, "--at", "2026-11-20T10:00").exit_code == 0


@pytest.mark.parametrize("action", ["accept", "solve", "close", "respond"])
def test_an_action_dated_ahead_of_the_clock_is_refused(cfg: Path, action: str) -> None:
    """--at says when it happened: a typo in the year (an accept dated next May) had held
    the customer's Call ID mail until then. A clock a few minutes fast is still taken."""
    ref = "T-2026-000002"
    before = run(cfg, "tickets", "show", ref, "--json").stdout
    with time_machine.travel(datetime(2026, 11, 3, 9, 0, 0, 250000, tzinfo=UTC), tick=False):
        ahead = run(cfg, "tickets", action, ref, "--at", "2027-11-03T10:00")
        assert ahead.exit_code == 1
        assert ahead.stderr == (
            f"sepdesk: {ref}: cannot {action} at 2027-11-03T10:00:00+01:00: that is ahead of"
            " now (2026-11-03T10:00:00+01:00); --at says when it happened\n"
        )
        assert run(cfg, "tickets", "show", ref, "--json").stdout == before  # nothing done
        assert run(cfg, "tickets", action, ref, "--at", "2026-11-03T10:04").exit_code == 0


@pytest.mark.parametrize(
    "args", [("severity", "T-2026-000002", "1"), ("assign", "T-2026-000002", "eva@sep.example")]
)
def test_severity_and_assign_before_the_ticket_was_received_are_refused(
    cfg: Path, args: tuple[str, ...]
) -> None:
    # These two have no --at: they happen now, so the clock is set before the receipt.
    # The line read "cannot severity at 2026-11-01T10:00:00.250000+01:00" before.
    with time_machine.travel(datetime(2026, 11, 1, 9, 0, 0, 250000, tzinfo=UTC), tick=False):
        result = run(cfg, "tickets", *args)
    assert result.exit_code == 1
    verb = "change the severity" if args[0] == "severity" else args[0]
    assert result.stderr == (
        f"sepdesk: T-2026-000002: cannot {verb} at 2026-11-01T10:00:00+01:00, before the"
        " ticket was received (2026-11-02T09:15:40+01:00)\n"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("tickets", "severity", "T-2026-000001", "5"),
        ("tickets", "severity", "T-2026-000001", "high"),
        ("tickets", "assign", "T-2026-000001"),
        ("tickets", "assign", "T-2026-000001", "  "),
        ("tickets", "assign", "T-2026-000001", "not an address"),
        ("tickets", "assign", "T-2026-000001", "eva"),
        ("tickets", "assign", "T-2026-000001", "eva@"),
        ("tickets", "assign", "T-2026-000001", "Eva <eva@sep.example>"),
        ("tickets", "solve"),
        ("tickets", "solve", "T-2026-000001", "--at", "yesterday-ish"),
        ("tickets", "frobnicate", "T-2026-000001"),
    ],
)
def test_bad_arguments_are_usage_errors(cfg: Path, args: tuple[str, ...]) -> None:
    result = run(cfg, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_assign_names_the_bad_address_and_changes_nothing(cfg: Path) -> None:
    result = run(cfg, "tickets", "assign", "T-2026-000001", "not an address")
    assert result.exit_code == 2
    assert "Invalid value for WHO: 'not an address' is not a mail address" in result.stderr
    shown = json.loads(run(cfg, "tickets", "show", "T-2026-000001", "--json").stdout)
    assert shown["assigned_to"] is None
    ok = run(cfg, "tickets", "assign", "T-2026-000001", "<eva@sep.example>")
    assert ok.stdout == "T-2026-000001: assigned to eva@sep.example\n"


@pytest.mark.parametrize(
    "who",
    [
        "t.weiss@mueller-maschinenbau.de",  # the customer of T-2026-000006 itself
        "somebody@gmail.example",
        "eva@sep.example.evil.example",  # the staff domain only as a label of another
        "anna.eng@contractor.example.org",
    ],
)
def test_assign_outside_the_staff_is_refused_and_changes_nothing(cfg: Path, who: str) -> None:
    """Escalations go to the assignee with the ticket's internal details: assigned to the
    customer's own address, the desk mailed them there (black-box review)."""
    ref = "T-2026-000006"
    before = run(cfg, "tickets", "show", ref, "--json").stdout
    result = run(cfg, "tickets", "assign", ref, who)
    assert (result.exit_code, result.stderr) == (
        1,
        f"sepdesk: {ref}: cannot assign to {who}: not in [desk] staff\n",
    )
    assert run(cfg, "tickets", "show", ref, "--json").stdout == before
    assert "kind=assign" not in run(cfg, "tickets", "show", ref).stdout


def test_assign_takes_staff_by_address_and_by_domain(cfg: Path) -> None:
    for who in ("Anna.Eng@Contractor.example", "bob@SEP.example"):
        result = run(cfg, "tickets", "assign", "T-2026-000006", who)
        assert result.stdout == f"T-2026-000006: assigned to {who.lower()}\n", result.output


def test_assign_without_staff_takes_any_address_but_the_requester(
    tmp_path: Path, cfg: Path
) -> None:
    """Without [desk] staff any engineer's address is taken, as before the review round
    limited it; never the ticket's requester, whom escalations would reach."""
    config = tomllib.loads(cfg.read_text())
    del config["desk"]
    bare = write_toml(tmp_path / "bare.toml", config)
    ref = "T-2026-000006"
    requester = json.loads(run(bare, "tickets", "show", ref, "--json").stdout)["requester"]
    result = run(bare, "tickets", "assign", ref, requester.upper())
    assert (result.exit_code, result.stderr) == (
        1,
        f"sepdesk: {ref}: cannot assign to {requester}: the ticket's requester\n",
    )
    result = run(bare, "tickets", "assign", ref, "eva@sep.example")
    assert result.stdout == f"{ref}: assigned to eva@sep.example\n", result.output


# -- the real console script ---------------------------------------------------------------


def test_subprocess_exit_codes_and_one_line_errors(cfg: Path) -> None:
    unknown = sub(cfg, "tickets", "solve", "T-2026-999999")
    assert (unknown.returncode, unknown.stderr) == (
        1,
        "sepdesk: T-2026-999999: no such ticket or Call ID\n",
    )
    assert sub(cfg, "tickets", "close", "T-2026-000001").returncode == 0
    closed = sub(cfg, "tickets", "solve", "T-2026-000001")
    assert closed.returncode == 1
    assert closed.stderr == "sepdesk: T-2026-000001: cannot solve a ticket that is closed\n"
    bad_flag = sub(cfg, "tickets", "list", "--severity", "9")
    assert bad_flag.returncode == 2 and "Traceback" not in bad_flag.stderr
    # Usage errors too are one line naming the command and the thing at fault.
    assert bad_flag.stderr == (
        "sepdesk tickets list: Invalid value for '--severity': 9 is not in the range"
        " 1<=x<=4. (see sepdesk tickets list --help)\n"
    )
    missing = sub(cfg, "tickets", "assign", "T-2026-000001")
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1), missing.stderr
    assert "Missing argument 'WHO'" in missing.stderr
    bare_group = sub(cfg, "tickets")  # click's help, as before: not an error to squash
    assert bare_group.returncode == 2 and "Commands:" in bare_group.stderr
    assert bare_group.stderr.count("\n") > 5
    unknown_command = sub(cfg, "tickts", "list")
    assert unknown_command.returncode == 2
    assert unknown_command.stderr == (
        "sepdesk: No such command 'tickts'. Did you mean 'tickets'? (see sepdesk --help)\n"
    )
    listed = sub(cfg, "tickets", "list", "--json", "--status", "closed")
    assert [r["ticket_number"] for r in json.loads(listed.stdout)] == ["T-2026-000001"]


def test_subprocess_unknown_config_key_is_one_line_exit_2(cfg: Path) -> None:
    text = cfg.read_text(encoding="utf-8") + "[smtp]\nprot = 25\n"
    bad = cfg.with_name("bad.toml")
    bad.write_text(text, encoding="utf-8")
    for args in (("tickets", "list"), ("tickets", "solve", "T-2026-000001")):
        result = sub(bad, *args)
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert str(bad) in result.stderr and "[smtp]" in result.stderr
        assert "prot" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("tickets", "list"),
        ("tickets", "list", "--json"),
        ("tickets", "show", "T-2026-000001"),
        ("status",),
        ("contracts", "list"),
        ("outbox", "list"),
    ],
)
def test_a_reader_that_went_away_is_no_error(cfg: Path, args: tuple[str, ...]) -> None:
    """`sepdesk tickets list | head -1`: once head has its line, sepdesk ends quietly.

    The read end is closed before sepdesk writes, so every write fails with EPIPE,
    deterministically (a real head may read everything before it exits)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [SEPDESK, "--config", str(cfg), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == 1  # click's exit for a broken pipe: the output did not arrive


def test_piped_into_head(cfg: Path) -> None:
    proc = subprocess.run(
        f"'{SEPDESK}' --config '{cfg}' tickets list | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.startswith("ticket_number") and proc.stdout.count("\n") == 1
    assert proc.stderr == ""
