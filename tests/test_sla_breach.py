"""One rule for "breached" (sepdesk.sla.breach), and every command that shows it agreeing.

A ticket whose due has passed without a first response is breached at once, in
``tickets show/list``, ``status``, ``sla explain`` and ``sla report``, whether or
not the SLA timer has run since: no test here runs the timer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from click.testing import CliRunner, Result

from sepdesk.cli.main import _register, cli
from sepdesk.desk import Desk
from sepdesk.instants import to_db
from sepdesk.sla.asof import Change, known_at
from sepdesk.sla.breach import clock_stop, is_breached, sla_state
from tests.conftest import make_settings, write_toml
from tests.test_sla_timer import berlin, insert_ticket

RECEIVED = berlin("2026-11-02T09:00")  # Monday; a Major is due 17:00 the same day
DUE = berlin("2026-11-02T17:00")
AFTER = DUE + timedelta(hours=1)


@pytest.fixture
def made(tmp_path: Path) -> Iterator[tuple[Desk, Path]]:
    """An empty desk and its config file; tickets are inserted as intake leaves them."""
    settings = make_settings(tmp_path)
    desk = Desk.open(settings)
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": settings.database.path}})
    yield desk, cfg
    desk.close()


def run(cfg: Path, *args: str, at: datetime | None = None) -> Result:
    _register()
    with time_machine.travel(at or AFTER, tick=False):
        result = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    assert result.exit_code == 0, result.output
    return result


def views(cfg: Path, ref: str, at: datetime) -> dict[str, Any]:
    """What each command says about ``ref`` at ``at`` (commands with --at get it too)."""
    stamp = at.isoformat()
    show = json.loads(run(cfg, "tickets", "show", ref, "--json", at=at).output)
    listed = json.loads(run(cfg, "tickets", "list", "--breached", "--json", at=at).output)
    explain = json.loads(run(cfg, "sla", "explain", ref, "--at", stamp, "--json", at=at).output)
    report = json.loads(run(cfg, "sla", "report", "--at", stamp, "--json", at=at).output)
    status = json.loads(run(cfg, "status", "--json", at=at).output)
    return {
        "show": show["breached"],
        "list": ref in [t["ticket_number"] for t in listed],
        "explain": explain["breached"],
        "report": sum(r["breached"] for r in report) == 1,
        "status": status["breached_open"] == 1,
    }


def test_the_rule_at_its_edges() -> None:
    assert not is_breached(DUE, None, DUE - timedelta(seconds=1))
    assert is_breached(DUE, None, DUE)
    assert not is_breached(DUE, DUE, AFTER)  # stopped on the dot: in time
    assert is_breached(DUE, DUE + timedelta(seconds=1), AFTER)
    assert not is_breached(None, None, AFTER)
    ticket = {
        "first_response_due": to_db(DUE),
        "first_response_at": to_db(AFTER),
        "solved_at": None,
        "closed_at": None,
    }
    # As of an instant before the late response, it was not given yet.
    assert clock_stop(ticket, DUE) is None and clock_stop(ticket, AFTER) == AFTER
    assert sla_state(ticket, DUE - timedelta(hours=1)) == "pending"
    assert sla_state(ticket, AFTER) == "breached"
    assert sla_state({**ticket, "first_response_at": to_db(RECEIVED)}, AFTER) == "met"
    assert sla_state({**ticket, "first_response_due": None}, AFTER) is None


def test_every_view_says_breached_once_the_due_passed_without_the_timer(
    made: tuple[Desk, Path],
) -> None:
    desk, cfg = made
    insert_ticket(desk.db, RECEIVED, 2)
    desk.db.conn.commit()
    before = views(cfg, "T-2026-000001", DUE - timedelta(minutes=1))
    assert not any(before.values()), before
    after = views(cfg, "T-2026-000001", AFTER)
    assert all(after.values()), after
    status = json.loads(run(cfg, "status", "--json").output)
    assert status["breaches_today"] == 1


def test_explain_of_a_ticket_without_a_clock_agrees_with_its_record(
    made: tuple[Desk, Path],
) -> None:
    desk, cfg = made
    tid = insert_ticket(desk.db, RECEIVED, 2, status="unqualified", first_response_due=None)
    desk.db.execute("UPDATE tickets SET contract_state = 'expired' WHERE id = ?", [tid])
    desk.db.conn.commit()
    show = json.loads(run(cfg, "tickets", "show", "T-2026-000001", "--json").output)
    explain = json.loads(run(cfg, "sla", "explain", "T-2026-000001", "--json").output)
    for key in ("first_response_due", "breached", "contract_level", "status"):
        assert explain[key] == show[key], key
    assert (explain["first_response_due"], explain["breached"]) == (None, False)
    assert explain["contract_level"] == "business"
    assert explain["windows"] == [] and explain["warning_at"] is None
    assert explain["clock"] == "not started: no current contract (expired)"


# -- solving or closing stops the clock ---------------------------------------------------


def _solved(desk: Desk, cfg: Path, action: str, when: datetime) -> dict[str, Any]:
    """A Major ticket of a participating customer (CE), solved or closed at ``when``, unanswered."""
    csv = cfg.parent / "contracts.csv"
    csv.write_text(
        "customer_number,customer_name,level,start,end,contacts,license_ids,license_type,sce\n"
        "100101,Kunde GmbH,business,2026-01-01,2026-12-31,it@kunde.de,SL-1,CE,\n",
        encoding="utf-8",
    )
    run(cfg, "contracts", "import", str(csv))
    insert_ticket(desk.db, RECEIVED, 2, customer_number="100101")
    desk.db.conn.commit()
    run(cfg, "tickets", action, "T-2026-000001", "--at", when.isoformat())
    report = json.loads(run(cfg, "sla", "report", "--at", AFTER.isoformat(), "--json").output)
    sce = json.loads(run(cfg, "report", "sce").output)
    explain = run(cfg, "sla", "explain", "T-2026-000001", "--at", AFTER.isoformat(), "--json")
    return {
        "show": json.loads(run(cfg, "tickets", "show", "T-2026-000001", "--json").output),
        "explain": json.loads(explain.output),
        "report": (report[0]["within_sla"], report[0]["breached"], report[0]["pending"]),
        "sla_met": sce["customers"][0]["sla_met"],
        "fired": run(cfg, "sla", "run-once", "--at", AFTER.isoformat()).output.strip(),
    }


@pytest.mark.parametrize("action", ["solve", "close"])
def test_solved_or_closed_before_the_due_without_a_response_is_not_breached(
    made: tuple[Desk, Path], action: str
) -> None:
    desk, cfg = made
    seen = _solved(desk, cfg, action, DUE - timedelta(hours=2))
    assert seen["show"]["breached"] is False and seen["explain"]["breached"] is False
    assert seen["report"] == (1, 0, 0)
    assert seen["sla_met"] == 1.0
    assert seen["fired"] == "0"  # the timer agrees: nothing to escalate
    assert seen["explain"]["clock"].startswith("stopped at 2026-11-02T15:00:00+01:00")


@pytest.mark.parametrize("action", ["solve", "close"])
def test_solved_or_closed_after_the_due_without_a_response_is_breached(
    made: tuple[Desk, Path], action: str
) -> None:
    desk, cfg = made
    seen = _solved(desk, cfg, action, DUE + timedelta(minutes=30))
    assert seen["show"]["breached"] is True and seen["explain"]["breached"] is True
    assert seen["report"] == (0, 1, 0)
    assert seen["sla_met"] == 0.0


def test_reopened_after_its_due_a_ticket_solved_in_time_gets_a_new_clock(
    made: tuple[Desk, Path],
) -> None:
    """Black-box review: reopening cleared the stop and ran the clock against the old due:
    every view called the ticket breached back to its due (at an --at when it was solved),
    and the timer mailed a breach at once. Now the clock starts again at the reopening."""
    desk, cfg = made
    _solved(desk, cfg, "solve", DUE - timedelta(hours=2))
    reopened = berlin("2026-11-03T10:00")
    run(cfg, "tickets", "reopen", "T-2026-000001", "--at", reopened.isoformat(), at=reopened)
    assert views(cfg, "T-2026-000001", AFTER) == dict.fromkeys(
        ("show", "list", "explain", "report", "status"), False
    )
    fired = run(cfg, "sla", "run-once", "--at", (reopened + timedelta(minutes=5)).isoformat())
    assert fired.output.strip() == "0"
    show = json.loads(run(cfg, "tickets", "show", "T-2026-000001", "--json", at=reopened).output)
    # Major: 8 support hours from the reopening, Tuesday 10:00 (the first clock: Monday
    # 09:00 to 17:00).
    assert show["first_response_due"] == "2026-11-03T18:00:00+01:00"
    assert show["breached"] is False


def test_reopened_before_its_due_the_clock_keeps_its_due(made: tuple[Desk, Path]) -> None:
    desk, cfg = made
    _solved(desk, cfg, "solve", DUE - timedelta(hours=2))
    reopened = DUE - timedelta(hours=1)
    run(cfg, "tickets", "reopen", "T-2026-000001", "--at", reopened.isoformat(), at=reopened)
    show = json.loads(run(cfg, "tickets", "show", "T-2026-000001", "--json", at=reopened).output)
    assert show["first_response_due"] == "2026-11-02T17:00:00+01:00"


def test_a_response_after_solving_in_time_is_not_late(made: tuple[Desk, Path]) -> None:
    desk, cfg = made
    _solved(desk, cfg, "solve", DUE - timedelta(hours=2))
    run(cfg, "tickets", "respond", "T-2026-000001", "--at", AFTER.isoformat())
    show = json.loads(run(cfg, "tickets", "show", "T-2026-000001", "--json").output)
    assert show["breached"] is False
    row = desk.db.execute("SELECT detail FROM events WHERE kind = 'responded'").fetchone()
    assert json.loads(row[0]) == {"first": True, "late": False}


# -- what was known at --at ---------------------------------------------------------------


def _report(cfg: Path, at: datetime) -> list[tuple[int, int, int, int]]:
    """(severity, within, breached, pending) per row of ``sla report --at``."""
    rows = json.loads(run(cfg, "sla", "report", "--at", at.isoformat(), "--json").output)
    return [(r["severity"], r["within_sla"], r["breached"], r["pending"]) for r in rows]


def _explain(cfg: Path, at: datetime) -> dict[str, Any]:
    stamp = at.isoformat()
    return json.loads(run(cfg, "sla", "explain", "T-2026-000001", "--at", stamp, "--json").output)


def test_a_later_severity_change_leaves_an_earlier_report_as_it_was(
    made: tuple[Desk, Path],
) -> None:
    """Review finding: raised to Critical a week later, a Minor answered in time became a
    Critical breached at receipt in a report --at before the change; so did its explain."""
    desk, cfg = made
    insert_ticket(desk.db, RECEIVED, 3)  # Minor, due Tuesday 13:00
    desk.db.conn.commit()
    run(cfg, "tickets", "respond", "T-2026-000001", "--at", AFTER.isoformat())  # 9 h, in time
    looked = berlin("2026-11-04T00:00")
    assert _report(cfg, looked) == [(3, 1, 0, 0)]
    run(cfg, "tickets", "severity", "T-2026-000001", "1", at=berlin("2026-11-10T12:00"))
    assert _report(cfg, looked) == [(3, 1, 0, 0)]
    explain = _explain(cfg, looked)
    assert (explain["severity"], explain["breached"]) == (3, False)
    assert explain["first_response_due"] == "2026-11-03T13:00:00+01:00"
    assert explain["budget_hours"] == 12.0
    # From the change on, the ticket is what it became: Critical, due at 13:00 on receipt.
    assert _report(cfg, berlin("2026-11-10T13:00")) == [(1, 0, 1, 0)]


def test_a_severity_lowered_after_a_breach_leaves_it_breached_before(
    made: tuple[Desk, Path],
) -> None:
    """Review finding: lowered after its breach, a Major was "breached: no" in an explain
    --at before the change, which also listed escalations fired after its --at."""
    desk, cfg = made
    insert_ticket(desk.db, RECEIVED, 2)
    desk.db.conn.commit()
    run(cfg, "sla", "run-once", "--at", AFTER.isoformat())  # warning and breach
    lowered = AFTER + timedelta(hours=1)
    run(cfg, "tickets", "severity", "T-2026-000001", "4", at=lowered)
    explain = _explain(cfg, AFTER)
    assert (explain["severity"], explain["breached"]) == (2, True)
    assert explain["first_response_due"] == "2026-11-02T17:00:00+01:00"
    assert [e["kind"] for e in explain["escalations"]] == ["warning", "breach"]
    assert _report(cfg, AFTER) == [(2, 0, 1, 0)]
    assert _explain(cfg, DUE - timedelta(hours=3))["escalations"] == []
    # Cosmetic from the change on: 12 support hours from receipt, due Tuesday 13:00.
    assert _report(cfg, lowered) == [(4, 0, 0, 1)]


def test_a_ticket_that_got_its_clock_later_had_none_before(made: tuple[Desk, Path]) -> None:
    """Review finding: a request without a contract, accepted later, counted as breached in
    reports --at before its acceptance, when it had no clock."""
    desk, cfg = made
    tid = insert_ticket(desk.db, RECEIVED, 2, status="unqualified", first_response_due=None)
    desk.db.execute("UPDATE tickets SET contract_state = 'none' WHERE id = ?", [tid])
    desk.db.conn.commit()
    accepted = berlin("2026-11-10T10:00")
    run(cfg, "tickets", "accept", "T-2026-000001", "--at", accepted.isoformat(), at=accepted)
    before = accepted - timedelta(hours=1)
    assert _report(cfg, before) == []
    explain = _explain(cfg, before)
    assert (explain["first_response_due"], explain["breached"], explain["windows"]) == (
        None,
        False,
        [],
    )
    assert _report(cfg, accepted + timedelta(hours=1)) == [(2, 0, 0, 1)]


def test_known_at_undoes_only_what_came_later() -> None:
    """sla.asof, pure: a reopening after ``at`` gives back the solve it cleared; a severity
    event of before 2026-12-07 (no ``from``) falls back to the severity set before."""
    ticket = {
        "severity": 1,
        "first_response_due": to_db(AFTER),
        "clock_from": to_db(DUE),
        "solved_at": None,
        "closed_at": None,
    }
    found = [
        Change(RECEIVED, "severity", {"value": 3}),
        Change(RECEIVED + timedelta(hours=1), "solve", {}),
        Change(DUE, "reopen", {}),
        Change(DUE, "severity", {"value": 1}),
        Change(DUE, "due_changed", {"from": to_db(DUE), "to": to_db(AFTER), "clock_from": "x"}),
    ]
    then = known_at(ticket, found, DUE - timedelta(minutes=1))
    assert then["severity"] == 3 and then["first_response_due"] == to_db(DUE)
    assert (then["clock_from"], then["closed_at"]) == (None, None)
    assert then["solved_at"] == to_db(RECEIVED + timedelta(hours=1))
    assert known_at(ticket, found, DUE) is ticket
