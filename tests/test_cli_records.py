"""The ``--json`` records of SPEC §3, field by field, with the value sets SPEC lists.

A desk in a timezone of its own (+05:30 all year) holds mail tickets, a phone ticket,
mail queued and sent, and a quarantined message; every instant a record prints must
carry that offset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sepdesk.cli.main import _register, cli
from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.hotline.importer import import_file
from sepdesk.intake.files import ingest_file
from sepdesk.outbound import sender
from tests.conftest import CONTRACTS, MAILS, T0, make_settings, write_toml
from tests.test_hotline import row, write_csv

ZONE = "Asia/Kolkata"
LOCAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30")

TICKET_FIELDS = [
    *("ticket_number", "call_id", "status", "channel", "customer_number", "contract_level"),
    *("verified_sender", "severity", "severity_name", "subject", "requester", "received_at"),
    *("first_response_due", "first_response_at", "breached", "missing_info", "language"),
    "messages",
]
STATUSES = {"new", "needs-info", "accepted", "waiting", "solved", "closed", "unqualified"}
MISSING = {"classification", "error_message", "action", "os_version", "hardware"}
SEVERITY_NAMES = {1: "Critical", 2: "Major", 3: "Minor", 4: "Cosmetic"}
OUTBOX_FIELDS = [
    *("id", "to", "subject", "kind", "ticket", "state", "attempts", "message_id"),
    *("in_reply_to", "created_at", "sent_at"),
]
# SPEC §3's kinds, written out on purpose: outbox.KINDS is held to them below.
KINDS = {
    "ack",
    "call_accepted",
    "needs_info",
    "no_contract",
    "relay",
    "team_notice",
    "escalation",
    "command_error",
    "confirmation",
}
OUTCOMES = {"new_ticket", "follow_up", "ignored", "bounce_recorded", "quarantined", "duplicate"}


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    tmp = tmp_path_factory.mktemp("records")
    settings = make_settings(tmp, desk={"timezone": ZONE, "team_address": "team@sep.example"})
    desk = Desk.open(settings)
    import_csv(desk.db, CONTRACTS, T0)
    for path in MAILS[:12]:  # new tickets, a bounce, a follow-up
        ingest_file(desk, path, "header")
    garbage = tmp / "garbage.eml"
    garbage.write_bytes(b"\x00\x01 not a mail")
    ingest_file(desk, garbage, T0)
    calls = write_csv(tmp / "calls.csv", [row("R1")])
    import_file(desk, calls, datetime(2026, 11, 23, 12, tzinfo=UTC))
    sender.run_once(desk, datetime(2026, 11, 23, 12, tzinfo=UTC))  # some mail sent
    desk.close()
    yield write_toml(
        tmp / "sepdesk.toml",
        {
            "desk": {"timezone": ZONE},
            "database": {"path": settings.database.path},
            "outbox": {"dir": settings.outbox.dir},
        },
    )


def records(cfg: Path, *args: str) -> Any:
    _register()
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def local(value: Any, may_be_none: bool = False) -> bool:
    return (may_be_none and value is None) or bool(LOCAL.fullmatch(str(value)))


def test_ticket_records_have_spec_fields_and_values(cfg: Path) -> None:
    listed = records(cfg, "tickets", "list")
    assert {t["channel"] for t in listed} == {"email", "phone"}
    assert {t["status"] for t in listed} >= {"accepted", "needs-info"}
    for summary in listed:
        t = records(cfg, "tickets", "show", summary["ticket_number"])
        assert t == summary
        assert [f for f in TICKET_FIELDS if f not in t] == []
        assert re.fullmatch(r"T-2026-\d{6}", t["ticket_number"])
        assert t["call_id"] is None or re.fullmatch(r"C-2026-\d{5}", t["call_id"])
        assert t["status"] in STATUSES and t["channel"] in ("email", "phone")
        assert isinstance(t["verified_sender"], bool) and isinstance(t["breached"], bool)
        assert SEVERITY_NAMES[t["severity"]] == t["severity_name"]
        assert isinstance(t["missing_info"], list) and set(t["missing_info"]) <= MISSING
        assert t["language"] in ("de", "en")
        assert local(t["received_at"]) and local(t["first_response_due"], may_be_none=True)
        assert local(t["first_response_at"], may_be_none=True)
        assert t["messages"], t["ticket_number"]
        for m in t["messages"]:
            assert {"direction", "from", "at", "message_id"} <= set(m)
            assert m["direction"] in ("in", "out", "internal") and local(m["at"])


def test_outbox_records_have_spec_fields_and_values(cfg: Path) -> None:
    listed = records(cfg, "outbox", "list")
    assert {r["state"] for r in listed} >= {"sent", "bounced"}
    numbers = {t["ticket_number"] for t in records(cfg, "tickets", "list")}
    calls = {t["call_id"] for t in records(cfg, "tickets", "list")}
    for r in listed:
        assert [f for f in OUTBOX_FIELDS if f not in r] == []
        assert isinstance(r["to"], list) and r["to"] and all("@" in a for a in r["to"])
        assert r["kind"] in KINDS and r["state"] in ("queued", "sent", "failed", "bounced")
        assert r["ticket"] is None or r["ticket"] in numbers | calls
        assert isinstance(r["attempts"], int) and r["message_id"]
        assert local(r["created_at"]) and local(r["sent_at"], may_be_none=(r["state"] != "sent"))


def test_quarantine_and_ingest_records_have_spec_fields(cfg: Path, tmp_path: Path) -> None:
    [entry] = records(cfg, "quarantine", "list")
    assert set(entry) >= {"id", "source", "received_at", "reason", "attempts"}
    assert entry["source"] == "file" and entry["reason"] and local(entry["received_at"])
    copy = tmp_path / "again.eml"
    copy.write_bytes(MAILS[0].read_bytes())
    [rec] = records(cfg, "ingest", str(copy))
    assert list(rec) == ["file", "outcome", "ticket", "reason"]
    assert rec["outcome"] in OUTCOMES and rec["outcome"] == "duplicate"


def test_the_kinds_the_outbox_can_hold_are_specs() -> None:
    from sepdesk.outbound.outbox import KINDS as CODE_KINDS

    assert set(CODE_KINDS) == KINDS
