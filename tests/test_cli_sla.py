"""``sepdesk sla ...`` through click: output formats, exit codes, and the database behind them."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sepdesk.cli.sla import sla
from sepdesk.errors import InputError
from sepdesk.instants import parse_instant, to_db
from sepdesk.store import open_db
from tests.test_sla_timer import berlin, insert_ticket


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sepdesk.toml"
    path.write_text(
        f'[database]\npath = "{tmp_path / "sepdesk.db"}"\n'
        '[desk]\nescalation_to = ["lead@sep.example"]\n'
        '[calendar]\nextra_closed = ["12-24"]\n',
        encoding="utf-8",
    )
    open_db(tmp_path / "sepdesk.db").close()  # as `sepdesk init` would: commands need it
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(sla, list(args), obj={"config_path": str(config)})


def test_deadline_prints_the_due_instant_with_offset(config: Path) -> None:
    result = run(config, "deadline", "--severity", "2", "--from", "2026-03-13T17:30")
    assert result.exit_code == 0, result.output
    assert result.output == "2026-03-16T15:30:00+01:00\n"
    utc = run(config, "deadline", "--severity", "1", "--from", "2026-10-24T23:30:00Z")
    assert utc.output == "2026-10-25T04:30:00+01:00\n"


def test_deadline_contracts_and_json(config: Path) -> None:
    result = run(
        config,
        *("deadline", "--severity", "3", "--contract", "emergency"),
        *("--from", "2026-03-15T03:00", "--json"),
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["first_response_due"] == "2026-03-15T04:30:00+01:00"
    assert record["schedule"] == "24x7"
    assert record["budget_hours"] == 1.5
    demo = run(
        config, "deadline", "--severity", "1", "--contract", "demo", "--from", "2026-03-13T15:00"
    )
    assert demo.output == "2026-03-17T11:00:00+01:00\n"


def test_deadline_honours_configured_closed_days(config: Path) -> None:
    result = run(config, "deadline", "--severity", "2", "--from", "2026-12-23T14:00")
    assert result.output == "2026-12-28T12:00:00+01:00\n"


@pytest.mark.parametrize(
    "args",
    [
        ("deadline", "--severity", "5", "--from", "2026-03-13T17:30"),
        ("deadline", "--severity", "2", "--from", "last friday-ish"),
        ("deadline", "--severity", "2", "--contract", "gold", "--from", "2026-03-13T17:30"),
    ],
)
def test_deadline_usage_errors_exit_2(config: Path, args: tuple[str, ...]) -> None:
    result = run(config, *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def _db_with_easter_ticket(config: Path) -> None:
    db = open_db(config.parent / "sepdesk.db")
    insert_ticket(db, berlin("2026-04-02T16:00"), 3, call_id="C-2026-00007")
    db.close()


def test_explain_shows_windows_and_skipped_days(config: Path) -> None:
    _db_with_easter_ticket(config)
    result = run(config, "explain", "c-2026-00007", "--at", "2026-04-07T10:00", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["received_at"] == "2026-04-02T16:00:00+02:00"
    assert record["first_response_due"] == "2026-04-08T12:00:00+02:00"
    assert [(w["from"], w["hours"]) for w in record["windows"]] == [
        ("2026-04-02T16:00:00+02:00", 1.0),
        ("2026-04-07T09:00:00+02:00", 8.0),
        ("2026-04-08T09:00:00+02:00", 3.0),
    ]
    reasons = [s["reason"] for s in record["skipped"]]
    assert "Good Friday" in reasons[0] and "Easter Monday" in reasons[0]
    assert reasons[1] == "night"
    assert record["holidays"] == ["2026-04-03 Good Friday", "2026-04-06 Easter Monday"]
    assert record["breached"] is False and record["first_response_at"] is None
    text = run(config, "explain", "T-2026-000001", "--at", "2026-04-07T10:00")
    assert "first_response_due: 2026-04-08T12:00:00+02:00" in text.output


def test_explain_unknown_ticket_is_one_line_exit_1(config: Path) -> None:
    result = run(config, "explain", "T-2026-999999")
    assert result.exit_code == 1
    assert "T-2026-999999" in result.output and len(result.output.strip().splitlines()) == 1


def test_run_once_prints_the_count_and_fires_once(config: Path) -> None:
    _db_with_easter_ticket(config)
    # Minor, due 8 April 12:00; 9 of 12 support hours are used at closing time on 7 April.
    assert run(config, "run-once", "--at", "2026-04-07T16:59").output == "0\n"
    assert run(config, "run-once", "--at", "2026-04-07T17:00").output == "1\n"
    assert run(config, "run-once", "--at", "2026-04-08T09:00").output == "0\n"
    result = run(config, "run-once", "--at", "2026-04-08T12:00", "--json")
    assert json.loads(result.output) == {
        "fired": 1,
        "no_recipient": 0,
        "next_due": "2026-04-08T14:00:00+02:00",
    }


def test_report_counts_compliance_in_support_hours(config: Path) -> None:
    db = open_db(config.parent / "sepdesk.db")
    in_time = insert_ticket(db, berlin("2026-03-13T17:30"), 2, number="T-2026-000001")
    late = insert_ticket(db, berlin("2026-03-16T08:00"), 2, number="T-2026-000002")
    insert_ticket(db, berlin("2026-04-01T10:00"), 1, number="T-2026-000003")
    for tid, answered in ((in_time, "2026-03-16T09:00"), (late, "2026-03-17T09:00")):
        db.execute(
            "UPDATE tickets SET first_response_at = ? WHERE id = ?",
            [to_db(berlin(answered)), tid],
        )
    db.conn.commit()
    db.close()
    result = run(config, "report", "--at", "2026-04-01T12:00", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["month"], r["severity"]) for r in rows] == [("2026-03", 2), ("2026-04", 1)]
    march, april = rows
    assert (march["tickets"], march["within_sla"], march["breached"]) == (2, 1, 1)
    assert march["compliance"] == 0.5
    assert march["median_response_h"] == 6.25  # 1.5 h and 11 h of Mon-Fri 08-18 time
    assert march["p90_response_h"] == 11.0
    assert (april["pending"], april["compliance"]) == (1, None)
    table = list(csv.DictReader(io.StringIO(run(config, "report", "--csv").output)))
    assert table[0]["month"] == "2026-03" and table[0]["breached"] == "1"


def test_explain_a_critical_ticket_is_not_paused_and_shows_the_response(config: Path) -> None:
    db = open_db(config.parent / "sepdesk.db")
    tid = insert_ticket(db, berlin("2026-12-24T22:00"), 1)
    db.execute(
        "UPDATE tickets SET first_response_at = ? WHERE id = ?",
        [to_db(berlin("2026-12-25T01:00")), tid],
    )
    db.conn.commit()
    db.close()
    # After the response: explain --at leaves out a response given later (as of now, the
    # response of this fixture lies ahead).
    at = "2026-12-25T03:00"
    record = json.loads(run(config, "explain", "T-2026-000001", "--at", at, "--json").output)
    assert record["schedule"] == "24x7"
    assert record["first_response_due"] == "2026-12-25T02:00:00+01:00"
    assert record["windows"] == [
        {"from": "2026-12-24T22:00:00+01:00", "to": "2026-12-25T02:00:00+01:00", "hours": 4.0}
    ]
    assert record["skipped"] == [] and record["holidays"] == []
    assert record["response_support_hours"] == 3.0
    assert record["breached"] is False


def test_a_response_before_a_restarted_clock_is_no_negative_time(config: Path) -> None:
    """A reply received before a reopening that restarted the clock, recorded after it
    (the CLI refuses such a --at): explain said -3.0 h and the report's median was
    negative, counted within the SLA (review finding). It waited no time on that clock."""
    db = open_db(config.parent / "sepdesk.db")
    tid = insert_ticket(db, berlin("2026-11-02T09:00"), 2)  # Major
    db.execute(
        "UPDATE tickets SET solved_at = ?, clock_from = ?, first_response_due = ?,"
        " first_response_at = ? WHERE id = ?",
        [to_db(berlin(t)) for t in ("2026-11-02T16:00", "2026-11-03T09:30", "2026-11-03T17:30",
                                    "2026-11-02T16:30")] + [tid],
    )  # fmt: skip
    db.conn.commit()
    db.close()
    record = json.loads(run(config, "explain", "T-2026-000001", "--json").output)
    assert record["response_support_hours"] == 0.0
    [row] = json.loads(run(config, "report", "--at", "2026-11-04T00:00", "--json").output)
    assert (row["answered"], row["median_response_h"], row["p90_response_h"]) == (1, 0.0, 0.0)


def test_report_at_an_instant_leaves_out_later_tickets_and_responses(config: Path) -> None:
    db = open_db(config.parent / "sepdesk.db")
    early = insert_ticket(db, berlin("2026-03-02T09:00"), 2, number="T-2026-000001")
    insert_ticket(db, berlin("2026-03-02T11:00"), 2, number="T-2026-000002")  # after --at
    insert_ticket(db, berlin("2026-04-01T10:00"), 2, number="T-2026-000003")  # after --at
    db.execute(  # answered in time, but after the report's instant
        "UPDATE tickets SET first_response_at = ? WHERE id = ?",
        [to_db(berlin("2026-03-02T12:00")), early],
    )
    db.conn.commit()
    db.close()
    rows = json.loads(run(config, "report", "--at", "2026-03-02T10:00", "--json").output)
    assert [(r["month"], r["tickets"], r["answered"], r["pending"]) for r in rows] == [
        ("2026-03", 1, 0, 1)
    ]
    later = json.loads(run(config, "report", "--at", "2026-03-02T12:00", "--json").output)
    assert [(r["tickets"], r["answered"], r["within_sla"], r["pending"]) for r in later] == [
        (2, 1, 1, 1)
    ]


@pytest.mark.parametrize(
    ("given", "says"),
    [
        # Spring: the clocks go from 02:00 CET straight to 03:00 CEST; 02:30 names no instant.
        ("2026-03-29T02:30", "does not exist in Europe/Berlin"),
        # Autumn: 02:00-03:00 comes twice, first in CEST, then in CET; 02:30 names two instants.
        ("2026-10-25T02:30", "2026-10-25T02:30:00+02:00 or 2026-10-25T02:30:00+01:00"),
        ("25.10.2026 02:30", "occurs twice in Europe/Berlin"),
    ],
)
def test_deadline_refuses_a_naive_time_the_dst_switch_skips_or_repeats(
    config: Path, given: str, says: str
) -> None:
    result = run(config, "deadline", "--severity", "1", "--from", given)
    assert result.exit_code == 2, result.output
    assert "--from" in result.output and says in result.output
    assert "Traceback" not in result.output


def test_deadline_across_the_switch_with_an_offset_is_exact(config: Path) -> None:
    def due(given: str) -> str:
        return run(config, "deadline", "--severity", "1", "--from", given).output

    assert due("2026-10-25T02:30+02:00") == "2026-10-25T05:30:00+01:00\n"
    assert due("2026-10-25T02:30+01:00") == "2026-10-25T06:30:00+01:00\n"
    assert due("2026-03-29T01:59:59") == "2026-03-29T06:59:59+02:00\n"
    assert due("2026-03-29T03:00") == "2026-03-29T07:00:00+02:00\n"


def test_deadline_reads_rfc5322_zone_names_and_refuses_unknown_ones(config: Path) -> None:
    est = run(config, "deadline", "--severity", "1", "--from", "Mon, 16 Mar 2026 10:00:00 EST")
    assert est.output == "2026-03-16T20:00:00+01:00\n"  # 15:00 UTC received, 4 h
    # A zone name the parser does not know must not be dropped (10:00 read as Berlin time).
    jst = run(config, "deadline", "--severity", "1", "--from", "2026-03-16T10:00 JST")
    assert jst.exit_code == 2, jst.output
    assert "--from" in jst.output and "JST" in jst.output and "Traceback" not in jst.output


@pytest.mark.parametrize(
    "given",
    [
        "5",  # the parser took it for the 5th of this month
        "17:30",  # ...and this for today
        "03.04.2026 10:00",  # 3 April in Germany, March 4 to the parser
        "04/03/2026",
    ],
)
def test_deadline_refuses_a_time_that_names_no_single_day(config: Path, given: str) -> None:
    result = run(config, "deadline", "--severity", "1", "--from", given)
    assert result.exit_code == 2, result.output
    assert "--from" in result.output and "names no single day" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_deadline_reads_a_day_first_date_that_is_unambiguous(config: Path) -> None:
    result = run(config, "deadline", "--severity", "1", "--from", "16.03.2026 10:00")
    assert result.output == "2026-03-16T14:00:00+01:00\n"


@pytest.mark.parametrize("given", ["16 Mar 2026 10:00 CEST", "16 Jul 2026 10:00 CET"])
def test_a_zone_name_of_the_hosts_own_zone_is_refused_too(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """dateutil reads a name in time.tzname as the host's local time, whichever half of
    the year it names: on a server in Berlin 'CEST' in March was read as +01:00."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        assert "CET" in time.tzname
        with pytest.raises(InputError, match="unknown zone name"):
            parse_instant(given, "Europe/Berlin", "--at")
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("run-once", "--at", "9999-12-31T23:00:00+00:00"), "--at"),
        (("deadline", "--severity", "2", "--from", "9999-12-31T23:59:59+14:00"), "--from"),
        (("report", "--at", "0001-01-01T00:00:00"), "--at"),
    ],
)
def test_an_instant_the_clock_cannot_count_from_is_a_usage_error(
    config: Path, args: tuple[str, ...], option: str
) -> None:
    """Year 9999 or 1 gave a traceback (the calendar counts past the year 9999); worse,
    run-once at 9999-12-31 stored tickets due again in year 10000, which `sepdesk status`
    and the timer could never read back."""
    _db_with_easter_ticket(config)
    result = run(config, *args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert option in result.output and "out of range" in result.output
    assert len(result.output.strip().splitlines()) == 1
    db = open_db(config.parent / "sepdesk.db")
    try:
        (due,) = db.execute("SELECT next_escalation_at FROM tickets").fetchone()
    finally:
        db.close()
    assert due is None or due.startswith("2026-")
