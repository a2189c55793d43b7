"""The hotline importer's batch writes: the same rows as writing each step on its own.

The importer folds ticket creation, Call ID, clock and first response into one INSERT
and writes events, messages, outbox, auto-replies and calls in bulk per batch. These
tests pin the result: against hand-checked values, against the shared step-by-step
primitives the mail pipeline uses, and across batch boundaries.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.hotline import calls
from sepdesk.hotline.batch import Batch
from sepdesk.hotline.csvrows import CallReader
from sepdesk.instants import to_db
from sepdesk.outbound.compose import tagged_subject
from sepdesk.outbound.outbox import enqueue, queued_mail
from sepdesk.pipeline.customer import contract_index
from sepdesk.sla.deadlines import record_response, restart_clock
from sepdesk.store import write_tx
from sepdesk.tickets import store as tickets
from sepdesk.tickets.acceptance import assign_call_id
from tests.conftest import CONTRACTS, T0
from tests.test_hotline import AT, MUELLER, row, run, write_csv

TABLES = ("tickets", "events", "messages", "outbox", "auto_replies", "hotline_calls", "counters")
_RANDOM_PART = re.compile(r"\.[0-9a-f]{12}@")  # new_message_id's random token


def dump(desk: Desk, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables, in rowid order; Message-IDs without their random token."""
    out = {}
    for table in tables:
        rows = desk.db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        out[table] = [
            tuple(_RANDOM_PART.sub(".@", v) if isinstance(v, str) else v for v in r) for r in rows
        ]
    return out


def events_of(desk: Desk, ticket_id: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    rows = desk.db.execute(
        "SELECT at, actor, kind, detail FROM events WHERE ticket_id = ? ORDER BY id", [ticket_id]
    ).fetchall()
    return [(at, actor, kind, json.loads(detail)) for at, actor, kind, detail in rows]


# --------------------------------------------------------------------------- hand-checked


def test_bulk_import_rows_hand_checked(sample_desk: Desk, tmp_path: Path) -> None:
    desk = sample_desk
    rows = [
        row("H1"),  # Major, a registered contact: accepted, clock running
        row("H2", severity="1", engineer="m.berger"),  # Critical, answered on the phone
        row("H3", customer_number="999999", caller_email="anna@example.com"),  # unknown
        row("H4", ticket="C-2026-00001", engineer="eng", started_at="2026-11-23T12:15:00"),
        row("H5", ticket="t-2026-000001", engineer="eng2", started_at="2026-11-23T12:30:00"),
        row("H1"),  # the same call again, in a later batch
        row("H6", customer_number="118530", caller_email=""),  # only an @domain contact
        row(
            "H7",
            ticket="T-2026-000004",  # H6's ticket: the call names its customer
            customer_number="118530",
            engineer="eng",
            started_at="2026-11-24T10:00:00",
        ),
        row("H8", severity="1", caller_email=""),  # Critical, nobody answered yet
    ]
    summary, results = run(desk, write_csv(tmp_path / "h.csv", rows), batch_size=2)
    assert [(r.outcome, r.ticket) for r in results] == [
        ("new_ticket", "C-2026-00001"),
        ("new_ticket", "C-2026-00002"),
        ("new_ticket", "T-2026-000003"),
        ("appended", "C-2026-00001"),
        ("appended", "C-2026-00001"),
        ("duplicate", "C-2026-00001"),
        ("new_ticket", "C-2026-00003"),
        ("appended", "C-2026-00003"),
        ("new_ticket", "C-2026-00004"),
    ]
    assert summary.rejected == 0
    got = desk.db.execute(
        "SELECT id, ticket_number, call_id, status, first_response_due, first_response_at,"
        " breached, next_escalation_at FROM tickets ORDER BY id"
    ).fetchall()
    assert got == [
        # Major 10:00 CET Monday: due 18:00 CET, warning at 75 % of 8 support hours, 16:00
        (
            1,
            "T-2026-000001",
            "C-2026-00001",
            "accepted",
            "2026-11-23T17:00:00+00:00",
            "2026-11-23T11:15:00+00:00",  # H4, the first response
            0,
            None,
        ),
        # Critical: 4 real hours; the engineer's call is the response, so no timer look
        (
            2,
            "T-2026-000002",
            "C-2026-00002",
            "accepted",
            "2026-11-23T13:00:00+00:00",
            "2026-11-23T09:00:00+00:00",
            0,
            None,
        ),
        (3, "T-2026-000003", None, "unqualified", None, None, 0, None),
        # answered the next day by H7: breached
        (
            4,
            "T-2026-000004",
            "C-2026-00003",
            "accepted",
            "2026-11-23T17:00:00+00:00",
            "2026-11-24T09:00:00+00:00",
            1,
            None,
        ),
        # Critical, unanswered: the timer looks at 75 % of 4 real hours
        (
            5,
            "T-2026-000005",
            "C-2026-00004",
            "accepted",
            "2026-11-23T13:00:00+00:00",
            None,
            0,
            "2026-11-23T12:00:00+00:00",
        ),
    ]
    stamp = "2026-11-23T14:00:00+00:00"  # the import's instant
    source = {"source_file": "h.csv"}
    assert events_of(desk, 1) == [
        (stamp, "desk", "created", {"ticket_number": "T-2026-000001", "status": "accepted"}),
        (stamp, "desk", "phone_status", {"why": "current contract and complete request"}),
        (stamp, "hotline", "phone_call", {"call_uid": "H1", **source}),
        (stamp, "desk", "accepted", {"call_id": "C-2026-00001"}),
        (stamp, "eng", "phone_call", {"call_uid": "H4", **source}),
        ("2026-11-23T11:15:00+00:00", "eng", "responded", {"first": True, "late": False}),
        (stamp, "eng2", "phone_call", {"call_uid": "H5", **source}),
        ("2026-11-23T11:30:00+00:00", "eng2", "responded", {"first": False, "late": None}),
    ]
    assert [e[1:3] for e in events_of(desk, 2)] == [
        ("desk", "created"),
        ("desk", "phone_status"),
        ("m.berger", "phone_call"),
        ("m.berger", "accepted"),
        ("m.berger", "responded"),
    ]
    assert events_of(desk, 2)[-1] == (
        "2026-11-23T09:00:00+00:00",
        "m.berger",
        "responded",
        {"first": True, "late": False},
    )
    assert events_of(desk, 4)[-1][2:] == ("responded", {"first": True, "late": True})
    assert desk.db.execute("SELECT * FROM counters ORDER BY name").fetchall() == [
        ("call", 2026, 4),
        ("ticket", 2026, 5),
    ]
    outbox = desk.db.execute("SELECT id, ticket_id, kind, to_addrs FROM outbox").fetchall()
    assert outbox == [
        (1, 1, "confirmation", json.dumps([MUELLER])),
        (2, 2, "confirmation", json.dumps([MUELLER])),
        (3, 3, "confirmation", json.dumps(["anna@example.com"])),
        (4, 5, "confirmation", json.dumps(sorted(["it@mueller-maschinenbau.de", MUELLER]))),
    ]  # ticket 4: 118530 has only an @domain contact, so no mail
    messages = desk.db.execute(
        "SELECT ticket_id, direction, kind, outbox_id FROM messages ORDER BY id"
    ).fetchall()
    assert messages == [
        (1, "in", "phone", None),
        (1, "out", "confirmation", 1),
        (2, "in", "phone", None),
        (2, "out", "confirmation", 2),
        (3, "in", "phone", None),
        (3, "out", "confirmation", 3),
        (1, "in", "phone", None),
        (1, "in", "phone", None),
        (4, "in", "phone", None),
        (4, "in", "phone", None),
        (5, "in", "phone", None),
        (5, "out", "confirmation", 4),
    ]
    message_ids = desk.db.execute(
        "SELECT o.message_id = m.message_id FROM outbox o JOIN messages m ON m.outbox_id = o.id"
    ).fetchall()
    assert message_ids == [(1,), (1,), (1,), (1,)]
    # confirmations answer no mail: they do not count against the auto-reply limit
    assert desk.db.execute("SELECT count(*) FROM auto_replies").fetchone() == (0,)
    stored = desk.db.execute(
        "SELECT call_uid, ticket_id, source_file, imported_at FROM hotline_calls ORDER BY rowid"
    ).fetchall()
    assert stored == [
        (uid, tid, "h.csv", stamp)
        for uid, tid in [
            *[("H1", 1), ("H2", 2), ("H3", 3), ("H4", 1), ("H5", 1)],
            *[("H6", 4), ("H7", 4), ("H8", 5)],
        ]
    ]


# --------------------------------------------------------------------------- step by step


def step_by_step(ctx: calls.CallImport, call: calls.NewCall) -> None:
    """The new ticket written one step after the other with the primitives mail uses."""
    desk, row, at = ctx.desk, call.row, ctx.at
    assert row.started_at is not None
    ticket = tickets.create(desk.db, call.ticket, desk.tz, at)
    tid = ticket["id"]
    tickets.add_event(desk.db, tid, at, "desk", "phone_status", {"why": call.why})
    caller = row.get("caller_email") or row.get("caller_phone") or row.get("caller_name")
    message = tickets.message_values(
        tid,
        direction="in",
        at=to_db(row.started_at),
        from_addr=caller or "hotline",
        subject=row.get("summary"),
        body=calls.call_note(row),
        kind="phone",
    )
    tickets.add_message(desk.db, message)
    phone_call = {"call_uid": row.call_uid, "source_file": ctx.source}
    tickets.add_event(desk.db, tid, at, row.get("engineer") or "hotline", "phone_call", phone_call)
    if call.status == "accepted":
        assign_call_id(desk.db, ticket, desk.tz, at, row.get("engineer") or "desk")
    if call.status in ("accepted", "needs-info") and call.who.state == "current":
        restart_clock(desk, tid)
    if row.get("engineer"):
        record_response(desk.db, tid, row.started_at, row.get("engineer"))
    ticket = tickets.get(desk.db, tid)
    if call.to:
        number = call.who.number or ""
        verified = bool(number) and all(ctx.index.is_contact(number, a) for a in call.to)
        body = calls.confirmation_body(ctx, ticket, row, call.who, verified, call.used)
        ref = tickets.ref_of(ticket)
        enqueue(
            desk.db,
            queued_mail(
                desk.settings,
                kind="confirmation",
                to=call.to,
                subject=tagged_subject(desk.settings, ref, row.get("summary") or "Phone call"),
                body=body,
                at=at,
                ticket_id=tid,
                ticket_ref=ref,
            ),
        )


def test_one_insert_equals_the_step_by_step_writes(
    settings_factory: Any, sample_desk: Desk, tmp_path: Path
) -> None:
    fjord = {"customer_number": "156902", "caller_email": "ops@fjordvik-shipping.no"}
    rows = [
        row("S1"),
        row("S2", severity="1", engineer="m.berger"),
        row("S3", severity="4", started_at="2026-11-23T10:00:00.750000"),  # microseconds
        row("S4", customer_number="999999", caller_email="anna@example.com"),
        row("S5", caller_email="", customer_number="104217"),  # both registered addresses
        row("S6", customer_number="142071", caller_email="j.petersen@nordlicht-medien.de"),
        row("S7", **fjord),
        row("S8", started_at="2026-11-23T11:00:00", engineer="eng", **fjord),  # incident used
        row("S9", customer_number="", caller_email="it@brennerhof-hotels.at"),  # expired
        row("S10", started_at="2026-12-31T23:30:00", severity="2"),  # contract's last day
        row("S11", started_at="2027-01-01T00:30:00+01:00", customer_number="118530"),
    ]
    src = write_csv(tmp_path / "s.csv", rows)
    bulk, steps = sample_desk, Desk.open(settings_factory(database={"path": str(tmp_path / "b")}))
    try:
        import_csv(steps.db, CONTRACTS, T0)
        for desk in (bulk, steps):
            ctx = calls.CallImport(desk, contract_index(desk), AT, src.name)
            with CallReader.open(src, desk.tz, at=AT) as reader:
                for call_row in reader.rows():
                    with write_tx(desk.db):
                        call = calls.plan_ticket(ctx, call_row)
                        if desk is steps:
                            step_by_step(ctx, call)
                            continue
                        batch = Batch(desk.db)
                        calls.open_ticket(ctx, batch, call)
                        batch.flush()
        tables = ("tickets", "events", "messages", "outbox", "auto_replies", "counters")
        expected, got = dump(steps, tables), dump(bulk, tables)
        assert len(got["tickets"]) == len(rows)
        for table in tables:
            assert got[table] == expected[table], table
    finally:
        steps.close()


# --------------------------------------------------------------------------- batch boundaries


def mixed_rows(n: int) -> list[dict[str, str]]:
    """New tickets, appends to tickets of this file (also by Call ID), repeats, bad rows."""
    callers = [
        {"caller_email": MUELLER, "customer_number": "104217"},
        {"caller_email": "anyone@stadtwerke-havelberg.de", "customer_number": ""},
        {"caller_email": "ops@fjordvik-shipping.no", "customer_number": ""},
        {"caller_email": "", "customer_number": "104217"},
        {"caller_email": "who@example.org", "customer_number": ""},
    ]
    out = []
    for i in range(n):
        values = {**callers[i % len(callers)], "severity": str(1 + i % 4)}
        values["started_at"] = f"2026-11-23T{8 + i % 10:02d}:{i % 60:02d}:00"
        values["engineer"] = "eng" if i % 3 == 0 else ""
        if i % 7 == 6:
            values["ticket"] = f"T-2026-{i // 3:06d}" if i % 2 else f"c-2026-{i // 5:05d}"
        if i % 11 == 10:
            values["severity"] = "urgent"  # rejected
        out.append(row(f"M{i}", **values))
        if i % 13 == 12:
            out.append(row(f"M{i - 5}", summary="changed"))  # a repeat with other content
            out.append(dict(out[-3]))  # a repeat of an earlier row, same content
    return out


def test_batch_size_changes_nothing(settings_factory: Any, tmp_path: Path) -> None:
    src = write_csv(tmp_path / "m.csv", mixed_rows(60))
    dumps, outcomes = [], []
    for size in (1, 4, 500):
        desk = Desk.open(settings_factory(database={"path": str(tmp_path / f"{size}.db")}))
        try:
            import_csv(desk.db, CONTRACTS, T0)
            _, results = run(desk, src, batch_size=size)
            outcomes.append([r.record() for r in results])
            dumps.append(dump(desk))
        finally:
            desk.close()
    kinds = {r["outcome"] for r in outcomes[0]}
    assert kinds == {"new_ticket", "appended", "duplicate", "rejected"}
    assert any("already imported with different content" in r["reason"] for r in outcomes[0])
    assert outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0]
    assert dumps[1] == dumps[0] and dumps[2] == dumps[0]


def test_row_digest_is_stable(tmp_path: Path) -> None:
    """The digest is stored: another value for the same row would turn every re-import of
    a file imported before into rejected rows ("already imported with different content"). Pinned from the per-row importer."""
    src = write_csv(
        tmp_path / "d.csv",
        [
            row(
                "D1",
                caller_name="Jörg Müller",
                summary="Sicherung bricht ab; Fehler 7",
                started_at="2026-11-23T10:00:00.5+01:00",
                ticket="c-2026-00001",
            )
        ],
    )
    with CallReader.open(src, "Europe/Berlin", at=AT) as reader:
        [call_row] = list(reader.rows())
    assert call_row.digest() == "f71e9f3740e67c2dfc385b11ae4062f5bf0e19715b3d9e5cca2f2fe63c363af7"
