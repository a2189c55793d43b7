"""What a new ticket costs under the write lock, and the pieces that keep it small.

A new mail ticket is written in its final state with one INSERT (number, Call ID and
clock decided first) and never read back; the contracts version is one row kept by
triggers (m007); savepoints share one name. tests/test_db_replay_pinned.py holds the
stored rows against what the step-by-step code wrote; these tests pin the mechanics.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sepdesk.contracts import contracts_version, import_csv, set_sce
from sepdesk.desk import Desk
from sepdesk.intake.files import header_date
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.pipeline import work as work_module
from sepdesk.store import connect, write_tx
from sepdesk.store.migrations import MIGRATIONS
from sepdesk.tickets import store as tickets
from tests.conftest import CONTRACTS, MAILS, T0, insert_contracts_before_m014

ACCEPTED_MAIL = MAILS[0]  # 001: a current contract and a complete request, accepted at once
BOUNCE_MAIL = MAILS[4]  # 005: the DSN of the reply to 004


def _locked_statements(desk: Desk, raw: bytes) -> list[str]:
    """The statements of processing one stored mail inside its write transaction.

    A statement shows once: the trace repeats it for each trigger program it enters.
    """
    at = header_date(raw) or T0
    intake_id = store_raw(desk.db, source="smtp", raw=raw, received_at=at).intake_id
    seen: list[str] = []
    desk.db.conn.set_trace_callback(seen.append)
    try:
        runner.process(desk, intake_id, at)
    finally:
        desk.db.conn.set_trace_callback(None)
    begins = [i for i, s in enumerate(seen) if s == "BEGIN IMMEDIATE"]
    locked = seen[begins[-1] + 1 : seen.index("COMMIT", begins[-1])]
    return [s for i, s in enumerate(locked) if i == 0 or s != locked[i - 1]]


def test_an_accepted_new_ticket_is_one_insert_and_no_read_back(sample_desk: Desk) -> None:
    statements = _locked_statements(sample_desk, ACCEPTED_MAIL.read_bytes())
    ticket_writes = [s for s in statements if re.match(r"(INSERT INTO|UPDATE) tickets\b", s)]
    assert len(ticket_writes) == 1 and ticket_writes[0].startswith("INSERT")
    assert not [s for s in statements if "FROM tickets" in s]
    assert not [s for s in statements if s.startswith("UPDATE intake SET message_id")]
    assert len([s for s in statements if "data_versions" in s]) == 1
    assert not [s for s in statements if "FROM contracts" in s]
    # The pending check, a savepoint, dedupe, contracts version, two counters, the ticket,
    # two events, the mail, the reply limit, the reply's three rows, the done mark, release,
    # the batch's attempts ended (one DELETE per batch: runner._finish_attempts).
    assert len(statements) <= 17, "\n".join(s[:100] for s in statements)
    row = sample_desk.db.execute("SELECT call_id, next_escalation_at FROM tickets").fetchone()
    assert row[0] and row[1]  # accepted with its clock, in that one INSERT


def test_a_new_ticket_as_returned_is_the_row_as_stored(
    sample_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer and the team notice are written from the ticket insert_new returns."""
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    insert_new = tickets.insert_new

    def compared(db: Any, values: dict[str, Any], at: Any) -> dict[str, Any]:
        ticket = insert_new(db, values, at)
        pairs.append((ticket, tickets.get(db, ticket["id"])))
        return ticket

    monkeypatch.setattr(tickets, "insert_new", compared)
    for path in MAILS:
        raw = path.read_bytes()
        at = header_date(raw) or T0
        stored = store_raw(sample_desk.db, source="file", raw=raw, received_at=at)
        runner.process(sample_desk, stored.intake_id, at)
    assert len(pairs) > 30
    assert {t["next_escalation_at"] is None for t, _ in pairs} == {True, False}
    for ticket, row in pairs:
        assert ticket == row


def test_a_due_without_the_timers_next_look_is_refused(sample_desk: Desk) -> None:
    new = tickets.NewTicket(channel="email", received_at=T0, severity=2)
    with write_tx(sample_desk.db):
        row = tickets.new_row(sample_desk.db, new, sample_desk.tz, T0)
        row["first_response_due"] = "2026-11-02T16:00:00+00:00"
        with pytest.raises(ValueError, match="next_escalation_at"):
            tickets.insert_new(sample_desk.db, row, T0)


def test_contracts_version_counts_every_change(desk: Desk) -> None:
    db = desk.db
    start = contracts_version(db)
    import_csv(db, CONTRACTS, T0)
    imported = contracts_version(db)
    assert imported > start
    import_csv(db, CONTRACTS, T0)  # the same rows again: updated, so a new version
    assert contracts_version(db) > imported
    again = contracts_version(db)
    set_sce(db, "104217", "yes", T0)
    assert contracts_version(db) > again
    changed = contracts_version(db)
    with write_tx(db):
        db.execute("DELETE FROM contracts WHERE customer_number = '104217'")
    assert contracts_version(db) > changed
    deleted = contracts_version(db)
    with write_tx(db):
        db.execute("UPDATE tickets SET severity = 1")  # other tables do not count
    assert contracts_version(db) == deleted


def test_contracts_version_is_rolled_back_with_the_change(desk: Desk) -> None:
    before = contracts_version(desk.db)
    with pytest.raises(RuntimeError), write_tx(desk.db):
        import_csv(desk.db, CONTRACTS, T0)  # nested: a savepoint of this transaction
        raise RuntimeError("abandon")
    assert contracts_version(desk.db) == before
    assert desk.db.execute("SELECT count(*) FROM contracts").fetchone()[0] == 0


def test_m007_on_a_database_with_contracts(tmp_path: Path) -> None:
    db = connect(tmp_path / "old.db")
    MIGRATIONS.apply(db, stop_before="m007_data_versions")
    insert_contracts_before_m014(db, CONTRACTS, T0)
    MIGRATIONS.apply(db)
    assert contracts_version(db) == 0
    set_sce(db, "104217", "no", T0)
    assert contracts_version(db) == 1


def test_the_matching_index_is_rebuilt_only_when_contracts_change(sample_desk: Desk) -> None:
    from sepdesk.pipeline.customer import versioned_index

    version, index = versioned_index(sample_desk)
    assert versioned_index(sample_desk) == (version, index)
    set_sce(sample_desk.db, "104217", "yes", T0)
    version2, index2 = versioned_index(sample_desk)
    assert version2 != version and index2 is not index


def test_nested_savepoints_roll_back_only_the_failing_level(desk: Desk) -> None:
    db = desk.db
    with write_tx(db):
        db.execute("INSERT INTO daemon_state (key, value) VALUES ('outer', '1')")
        with db.atomic():
            db.execute("INSERT INTO daemon_state (key, value) VALUES ('kept', '1')")
            with pytest.raises(RuntimeError), db.atomic():
                db.execute("INSERT INTO daemon_state (key, value) VALUES ('inner', '1')")
                raise RuntimeError("roll back the inner level only")
        with pytest.raises(RuntimeError), db.atomic():
            db.execute("INSERT INTO daemon_state (key, value) VALUES ('second', '1')")
            raise RuntimeError("and this one")
    keys = [r[0] for r in db.execute("SELECT key FROM daemon_state ORDER BY key")]
    assert keys == ["kept", "outer"]


def test_a_row_done_by_another_worker_meanwhile_is_left_alone(
    sample_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether each row is still pending is asked once per batch, under the lock."""
    ids = [
        store_raw(sample_desk.db, source="smtp", raw=p.read_bytes(), received_at=T0).intake_id
        for p in MAILS[:3]
    ]
    other = sample_desk.reopen()
    prepare = runner._prepare

    def finished_elsewhere(desk: Desk, row: dict[str, Any], at: Any) -> Any:
        if row["id"] == ids[1]:  # another worker finishes it while this one prepares
            with write_tx(other.db):
                other.db.execute("UPDATE intake SET state = 'done' WHERE id = ?", [ids[1]])
        return prepare(desk, row, at)

    monkeypatch.setattr(runner, "_prepare", finished_elsewhere)
    results = runner.process_batch(sample_desk, ids, T0)
    other.close()
    assert [(r.state, r.outcome) for r in results] == [
        ("done", "new_ticket"),
        ("done", None),  # untouched: no outcome of ours
        ("done", "new_ticket"),
    ]
    assert sample_desk.db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 2


def test_a_bounce_is_read_before_the_write_lock(
    sample_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a notice parses it whole again (its parts, the returned headers): that is
    done with the mail's parse, outside the batch's write transaction, and only once."""
    for path in MAILS[:4]:  # 004 gets the reply that 005 returns
        raw = path.read_bytes()
        at = header_date(raw) or T0
        stored = store_raw(sample_desk.db, source="file", raw=raw, received_at=at)
        runner.process(sample_desk, stored.intake_id, at)
    in_lock: list[bool] = []
    read_report = work_module.read_report

    def watched(mail: Any, raw: bytes) -> Any:
        in_lock.append(sample_desk.db.conn.in_transaction)
        return read_report(mail, raw)

    monkeypatch.setattr(work_module, "read_report", watched)
    raw = BOUNCE_MAIL.read_bytes()
    at = header_date(raw) or T0
    stored = store_raw(sample_desk.db, source="file", raw=raw, received_at=at)
    result = runner.process(sample_desk, stored.intake_id, at)
    assert result.outcome == "bounce_recorded"
    assert in_lock == [False]


def test_the_contracts_version_is_asked_once_per_batch(sample_desk: Desk) -> None:
    """Under the batch's write lock nobody can change the contracts and no row does: one
    look at their version serves every new ticket of the batch."""
    ids = [
        store_raw(sample_desk.db, source="smtp", raw=p.read_bytes(), received_at=T0).intake_id
        for p in MAILS[:3]  # three new tickets
    ]
    seen: list[str] = []
    sample_desk.db.conn.set_trace_callback(seen.append)
    try:
        results = runner.process_batch(sample_desk, ids, T0)
    finally:
        sample_desk.db.conn.set_trace_callback(None)
    assert [r.outcome for r in results] == ["new_ticket"] * 3
    begin = len(seen) - seen[::-1].index("BEGIN IMMEDIATE")
    locked = seen[begin : seen.index("COMMIT", begin)]
    assert len([s for s in locked if "data_versions" in s]) == 1


def test_contracts_changed_before_the_lock_are_matched_again(
    sample_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contracts change between reading a mail and taking the lock is seen under it."""
    raw = ACCEPTED_MAIL.read_bytes()
    stored = store_raw(sample_desk.db, source="smtp", raw=raw, received_at=T0)
    prepare = runner._prepare

    def then_expired(desk: Desk, row: dict[str, Any], at: Any) -> Any:
        work = prepare(desk, row, at)
        with write_tx(desk.db):  # the contract ended before the lock was taken
            desk.db.execute(
                "UPDATE contracts SET end = '2026-01-31' WHERE customer_number = ?", ["104217"]
            )
        return work

    monkeypatch.setattr(runner, "_prepare", then_expired)
    result = runner.process_batch(sample_desk, [stored.intake_id], T0)[0]
    status = sample_desk.db.execute("SELECT status, contract_state FROM tickets").fetchone()
    assert result.outcome == "new_ticket" and status == ("unqualified", "expired")
