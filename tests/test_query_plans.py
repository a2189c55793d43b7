"""Per-mail queries find their rows through an index, so a mail costs the same on day 1000.

Every statement the pipeline, the SLA timer and the sender issue while handling the sample
corpus is traced and asked for its query plan. Tables that grow with every mail must never
be walked: no full SCAN, and no index used on a column that is the same for most rows
(``state`` of intake, which is 'done' for nearly all of them) when the statement also names
a selective column.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import sqlite_utils

from sepdesk.contracts import contracts_version, import_csv
from sepdesk.desk import Desk
from sepdesk.intake.imap import FINAL_STATES_QUERY
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.pipeline.steps import DEDUPE_QUERY
from sepdesk.sla import timer
from tests.conftest import CONTRACTS, MAILS, T0, make_settings

GROWING = ("intake", "tickets", "messages", "outbox", "events", "auto_replies", "quarantine")
# Contracts grow with the customer base. Only the matching index reads them all, and only
# when they changed (once in this trace); the per-mail question "did they change?" must not.
CONTRACTS_REBUILD = "SELECT * FROM contracts"


def _traced_statements(tmp_path: Path) -> set[str]:
    desk = Desk.open(make_settings(tmp_path))
    import_csv(desk.db, CONTRACTS, T0)
    seen: set[str] = set()
    desk.db.conn.set_trace_callback(seen.add)
    for i, path in enumerate(MAILS * 2):
        raw = re.sub(
            rb"^Message-I[Dd]:.*$",
            f"Message-ID: <plan-{i}-{uuid.uuid4().hex}@x>".encode(),
            path.read_bytes(),
            count=1,
            flags=re.M,
        )
        store_raw(desk.db, source="smtp", raw=raw, received_at=T0)
    runner.run_once(desk, T0)
    timer.run_once(desk, T0)
    desk.db.conn.set_trace_callback(None)
    return {s for s in seen if re.match(r"\s*(SELECT|UPDATE|DELETE)\b", s, re.I)}


def _plan(
    db: sqlite_utils.Database, statement: str, params: list[object] | None = None
) -> list[str]:
    return [
        row[3] for row in db.execute("EXPLAIN QUERY PLAN " + statement, params or []).fetchall()
    ]


def test_no_per_mail_statement_walks_a_growing_table(tmp_path: Path) -> None:
    statements = _traced_statements(tmp_path)
    assert len(statements) > 15  # the trace saw the pipeline's work
    desk = Desk.open(make_settings(tmp_path), migrate=False)
    walks = []
    for statement in statements:
        for step in _plan(desk.db, statement):
            table = re.match(r"SCAN (\w+)", step)
            if table and table.group(1) in GROWING and "USING" not in step:
                walks.append((step, statement[:160]))
            if table and table.group(1) == "contracts" and statement != CONTRACTS_REBUILD:
                walks.append((step, statement[:160]))
            # A state-only index search on intake, although the statement names message_id.
            if "intake_pending (state=?)" in step and "message_id" in statement:
                walks.append((step, statement[:160]))
    assert walks == []


def test_dedupe_finds_a_message_id_through_its_index(tmp_path: Path) -> None:
    desk = Desk.open(make_settings(tmp_path))
    plan = [
        row[3]
        for row in desk.db.execute("EXPLAIN QUERY PLAN " + DEDUPE_QUERY, {"mid": "x", "id": 1})
    ]
    assert any("intake_message_id" in step for step in plan), plan
    assert any("outbox" in step and "message_id=?" in step for step in plan), plan
    assert any("messages_in_reply_to" in step for step in plan), plan  # replies that came first
    assert not [step for step in plan if step.startswith("SCAN messages")], plan


def test_contracts_version_is_one_lookup(tmp_path: Path) -> None:
    """Every mail asks it, before the write lock and under it, however many contracts."""
    desk = Desk.open(make_settings(tmp_path))
    import_csv(desk.db, CONTRACTS, T0)
    seen: list[str] = []
    desk.db.conn.set_trace_callback(seen.append)
    contracts_version(desk.db)
    desk.db.conn.set_trace_callback(None)
    assert len(seen) == 1
    assert [step for step in _plan(desk.db, seen[0]) if step.startswith("SCAN")] == []


def test_the_imap_poller_reads_row_states_from_the_covering_index(tmp_path: Path) -> None:
    """Asked several times a second for every handed-over row: no row with its raw bytes."""
    desk = Desk.open(make_settings(tmp_path))
    plan = _plan(desk.db, FINAL_STATES_QUERY, [1, 2000])
    assert plan and all("USING COVERING INDEX intake_pending" in step for step in plan), plan
