"""Escalations with nobody to mail them to are loud (SPEC §4: no deadline missed silently).

With neither [desk] escalation_to nor team_address (the defaults) only a ticket's
assignee gets its escalations. An escalation that reaches nobody is still
recorded, and then logged as a WARNING, counted by ``sla run-once``, shown by
``status``, and ``serve`` warns when it starts without a recipient.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sepdesk.cli.main import _register, cli
from sepdesk.config import DatabaseSettings, DeskSettings, Settings
from sepdesk.daemon.serve import warn_without_escalation_recipients
from sepdesk.desk import Desk
from sepdesk.reports.status import desk_status
from sepdesk.sla.timer import TimerPass, run_pass
from sepdesk.store import open_db
from tests.conftest import write_toml
from tests.test_sla_timer import berlin, insert_ticket

RECEIVED = berlin("2026-03-16T09:00")  # a Critical, due 13:00 (24x7)
HINT = "set [desk] escalation_to (or [desk] team_address) in the config"


STAFF = {"staff": ["@sep.example"], "authserv_id": "mx.sep.example"}


def _desk(tmp_path: Path, **desk: Any) -> Desk:
    settings = Settings(
        desk=DeskSettings(**{**STAFF, **desk}),
        database=DatabaseSettings(path=str(tmp_path / "sepdesk.db")),
    )
    return Desk(settings, open_db(settings.database.path))


def test_each_escalation_without_a_recipient_is_a_warning_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    desk = _desk(tmp_path)
    insert_ticket(desk.db, RECEIVED, 1, number="T-2026-000001")
    insert_ticket(desk.db, RECEIVED, 1, number="T-2026-000002", assigned_to="eva@sep.example")
    with caplog.at_level(logging.WARNING, logger="sepdesk.sla"):
        done = run_pass(desk, berlin("2026-03-16T13:00"))
    assert done == TimerPass(fired=2, no_recipient=1)  # the assignee got the other one
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"SLA breach for T-2026-000001 not mailed: no recipient; {HINT}"]


def test_an_assignee_outside_the_staff_gets_no_escalation(tmp_path: Path) -> None:
    """Assigned before assigning was limited to staff (or dropped from it since): the
    escalation is internal, it went to the customer's own address (black-box review)."""
    desk = _desk(tmp_path, escalation_to=["lead@sep.example"])
    customer = "t.weiss@mueller-maschinenbau.de"
    insert_ticket(desk.db, RECEIVED, 1, number="T-2026-000001", assigned_to=customer)
    insert_ticket(desk.db, RECEIVED, 1, number="T-2026-000002", assigned_to="eva@sep.example")
    assert run_pass(desk, berlin("2026-03-16T13:00")) == TimerPass(fired=2, no_recipient=0)
    sent = desk.db.execute("SELECT to_addrs FROM outbox ORDER BY id").fetchall()
    assert [json.loads(to) for (to,) in sent] == [
        ["lead@sep.example"],
        ["lead@sep.example", "eva@sep.example"],
    ]
    alone = _desk(tmp_path / "alone")  # nobody else configured: unsent, and said so
    insert_ticket(alone.db, RECEIVED, 1, assigned_to=customer)
    assert run_pass(alone, berlin("2026-03-16T13:00")) == TimerPass(fired=1, no_recipient=1)
    assert alone.db.execute("SELECT count(*) FROM outbox").fetchone() == (0,)


def test_with_escalation_to_nothing_is_unsent(tmp_path: Path) -> None:
    desk = _desk(tmp_path, escalation_to=["lead@sep.example"])
    insert_ticket(desk.db, RECEIVED, 1)
    assert run_pass(desk, berlin("2026-03-16T13:00")) == TimerPass(fired=1, no_recipient=0)


def test_run_once_and_status_say_so(tmp_path: Path) -> None:
    desk = _desk(tmp_path)
    insert_ticket(desk.db, RECEIVED, 1)
    # The timer's rule: an assignee is a recipient only as an address.
    insert_ticket(desk.db, RECEIVED, 1, number="T-2026-000002", assigned_to="eva")
    insert_ticket(desk.db, RECEIVED, 1, number="T-2026-000003", assigned_to="eva@sep.example")
    desk.db.conn.commit()
    status = desk_status(desk, berlin("2026-03-16T10:00"))
    assert status["escalation_recipients"] == []
    assert status["tickets_without_escalation_recipient"] == 2
    desk.db.close()
    cfg = write_toml(
        tmp_path / "sepdesk.toml",
        {"desk": STAFF, "database": {"path": str(tmp_path / "sepdesk.db")}},
    )
    _register()
    runner = CliRunner()
    text = runner.invoke(cli, ["--config", str(cfg), "status"])
    assert f"escalation_recipients: none: only assignees get escalations; {HINT}" in text.stdout
    result = runner.invoke(
        cli, ["--config", str(cfg), "sla", "run-once", "--at", "2026-03-16T13:00", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["no_recipient"] == 2
    assert (
        f"sepdesk: warning: 2 of 3 escalations had no recipient and were not mailed; {HINT}"
        in result.stderr
    )


def test_status_with_a_recipient_shows_it(tmp_path: Path) -> None:
    desk = _desk(tmp_path, team_address="Team@sep.example")
    insert_ticket(desk.db, RECEIVED, 1)
    status = desk_status(desk, berlin("2026-03-16T10:00"))
    assert status["escalation_recipients"] == ["team@sep.example"]
    assert status["tickets_without_escalation_recipient"] == 0


def test_serve_warns_at_start_without_a_recipient(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sepdesk.daemon"):
        warn_without_escalation_recipients(Settings())
        warn_without_escalation_recipients(
            Settings(desk=DeskSettings(escalation_to=["lead@sep.example"]))
        )
    assert [r.getMessage() for r in caplog.records] == [
        "no escalation recipient: SLA warnings and breaches of unassigned tickets are mailed"
        f" to nobody; {HINT}"
    ]


def test_the_timer_wakes_the_sender_when_it_queues_escalations(tmp_path: Path) -> None:
    """Escalation mail goes out at once, not when the sender's idle limit runs out."""
    from sepdesk.daemon.serve import Daemon

    settings = Settings(
        desk=DeskSettings(escalation_to=["lead@sep.example"]),
        database=DatabaseSettings(path=str(tmp_path / "sepdesk.db")),
    )
    daemon = Daemon(settings)
    daemon._build()
    try:
        workers = {w.name: w for w in daemon.workers}
        timer, sender = workers["sla-timer"], workers["sender"]
        assert timer.job(berlin("2026-03-16T13:00")) == 0  # nothing due: no wake-up
        assert not sender.wake.is_set()
        insert_ticket(daemon.desks[0].db, RECEIVED, 1)
        assert timer.job(berlin("2026-03-16T13:00")) == 1
        assert sender.wake.is_set()
    finally:
        for desk in daemon.desks:
            desk.close()
