"""Bench: IMAP catch-up throughput of sepdesk against a plain imapclient floor.

Usage (from the repo root, Dovecot installed: .ci/install-dovecot.sh)::

    .venv/bin/python bench/imap_intake.py [-n 2000] [--batch 50]

Starts a private Dovecot exactly as the tests do (tests/servers/dovecot.py),
APPENDs N mails built from the sample corpus (each with a fresh Message-ID,
INTERNALDATE = its Date), then times, on the same mails:

* floor: one imapclient connection, ``UID FETCH`` of ``BODY.PEEK[]`` and
  INTERNALDATE in batches, ``email`` parse of each, one SQLite row per mail
  (WAL, synchronous=FULL, as sepdesk), committed once per mail and, in a
  second run, once per FETCH batch. Read-only; nothing is moved.
* sepdesk: ``ImapPoller.run_once()`` until it returns 0: store, the whole
  pipeline (tickets, replies in the outbox), MOVE to Processed.
* sepdesk intake only: the same with the pipeline replaced by a stub that
  just marks the row done, to show what the IMAP layer itself costs.

Prints mails/s for each and the ratio sepdesk / floor (target >= 0.5).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import email.utils
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from sepdesk.config import Settings, from_mapping  # noqa: E402
from sepdesk.desk import Desk  # noqa: E402
from sepdesk.intake.imap import ImapPoller  # noqa: E402
from tests.servers.dovecot import DovecotServer, dovecot_server  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
MID_RE = re.compile(rb"^Message-ID:[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n", re.I | re.M)


def build_mails(n: int) -> list[tuple[bytes, datetime]]:
    """N mails cycling through the corpus, each with a fresh Message-ID."""
    corpus = [p.read_bytes() for p in sorted((SAMPLES / "mails").glob("*.eml"))]
    out = []
    for i in range(n):
        raw = corpus[i % len(corpus)]
        eol = b"\r\n" if b"\r\n" in raw[:200] else b"\n"
        fresh = b"Message-ID: <bench-%d-%d@bench.example>" % (i, time.time_ns()) + eol
        raw = fresh + MID_RE.sub(b"", raw, count=1)
        out.append((raw, _date(raw)))
    return out


def _date(raw: bytes) -> datetime:
    msg = email.message_from_bytes(raw.split(b"\n\n", 1)[0] + b"\n\n")
    value = msg.get("Date")
    return email.utils.parsedate_to_datetime(value) if value else datetime.now(UTC)


def append_all(server: DovecotServer, mails: list[tuple[bytes, datetime]]) -> None:
    with server.client() as c:
        for raw, when in mails:
            c.append("INBOX", raw, msg_time=when)


def floor(server: DovecotServer, db_path: Path, batch: int, per_row: bool = True) -> int:
    """Fetch, parse and durably insert every mail in INBOX; returns the count.

    ``per_row``: one commit per mail (the strict reading); else one per FETCH batch.
    """
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE mail (uid INTEGER, received TEXT, msgid TEXT, subject TEXT, raw BLOB)")
    done = 0
    with server.client() as c:
        c.normalise_times = False
        c.select_folder("INBOX", readonly=True)
        uids = sorted(c.search("ALL"))
        for i in range(0, len(uids), batch):
            fetched = c.fetch(uids[i : i + batch], ["BODY.PEEK[]", "INTERNALDATE"])
            if not per_row:
                db.execute("BEGIN IMMEDIATE")
            for uid, data in fetched.items():
                raw = data[b"BODY[]"]
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                if per_row:
                    db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO mail VALUES (?, ?, ?, ?, ?)",
                    [uid, data[b"INTERNALDATE"].isoformat(), msg["Message-ID"],
                     str(msg["Subject"]), raw],
                )  # fmt: skip
                if per_row:
                    db.execute("COMMIT")
                done += 1
            if not per_row:
                db.execute("COMMIT")
    db.close()
    return done


def desk_settings(server: DovecotServer, work: Path) -> Settings:
    (work / "pw").write_text(server.password)
    return from_mapping(
        {
            "database": {"path": str(work / "desk.db")},
            "outbox": {"dir": str(work / "outbox")},
            "imap": {
                "enabled": True, "host": server.host, "port": server.port,
                "user": server.user, "password_file": str(work / "pw"), "tls": "none",
            },
        },
        "bench",
    )  # fmt: skip


def run_sepdesk(settings: Settings, batch: int) -> int:
    desk = Desk.open(settings)
    try:
        from sepdesk.contracts import import_csv

        import_csv(desk.db, SAMPLES / "contracts.csv", datetime(2026, 11, 1, tzinfo=UTC))
        poller = ImapPoller(desk, settings, batch_size=batch)
        total = 0
        try:
            while n := poller.run_once():
                total += n
        finally:
            poller.close()
        return total
    finally:
        desk.close()


def stub_pipeline() -> Callable[[], None]:
    """Swap the pipeline for a stub that marks rows done; returns the undo."""
    from sepdesk.pipeline import runner
    from sepdesk.store import write_tx

    saved = {name: getattr(runner, name) for name in ("process_intake", "process_batch")}

    def process_batch(desk: Desk, intake_ids: list[int]) -> None:
        with write_tx(desk.db):
            desk.db.conn.executemany(
                "UPDATE intake SET state = 'done', outcome = 'ignored' WHERE id = ?",
                [[i] for i in intake_ids],
            )

    def process_intake(desk: Desk, intake_id: int) -> str:
        process_batch(desk, [intake_id])
        return "done"

    setattr(runner, "process_intake", process_intake)  # noqa: B010 - a deliberate stub
    setattr(runner, "process_batch", process_batch)  # noqa: B010

    def undo() -> None:
        for name, fn in saved.items():
            setattr(runner, name, fn)

    return undo


def timed(label: str, n_expected: int, fn: Callable[[], int]) -> float:
    t0 = time.perf_counter()
    n = fn()
    dt = time.perf_counter() - t0
    if n != n_expected:
        raise SystemExit(f"{label}: handled {n} of {n_expected} mails")
    rate = n / dt
    print(f"{label:<26} {n:>6} mails in {dt:7.2f} s = {rate:8.1f} mails/s")
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="number of mails (default 2000)")
    ap.add_argument("--batch", type=int, default=50, help="UIDs per FETCH (default 50)")
    args = ap.parse_args(argv)
    mails = build_mails(args.n)
    with tempfile.TemporaryDirectory(prefix="sepdesk-bench-") as tmp:
        work = Path(tmp)
        servers = dovecot_server(work / "dovecot-files")
        server = next(servers)
        try:
            return _bench(server, work, mails, args.batch)
        finally:
            next(servers, None)  # runs the generator's teardown: stops Dovecot


def _bench(server: DovecotServer, work: Path, mails: Any, batch: int) -> int:
    n = len(mails)
    t0 = time.perf_counter()
    append_all(server, mails)
    print(f"appended {n} mails in {time.perf_counter() - t0:.1f} s (Dovecot {server.port})")
    floor_rate = timed("floor, commit per mail", n, lambda: floor(server, work / "f1.db", batch))
    floor_batch = timed(
        "floor, commit per batch", n, lambda: floor(server, work / "f2.db", batch, per_row=False)
    )
    (work / "full").mkdir()
    full = timed(
        "sepdesk (full pipeline)",
        n,
        lambda: run_sepdesk(desk_settings(server, work / "full"), batch),
    )
    # Put the mails back for the intake-only run.
    server.reset_mail()
    append_all(server, mails)
    (work / "intake").mkdir()
    undo = stub_pipeline()
    try:
        intake = timed(
            "sepdesk (intake only)",
            n,
            lambda: run_sepdesk(desk_settings(server, work / "intake"), batch),
        )
    finally:
        undo()
    for label, base in (("per mail", floor_rate), ("per batch", floor_batch)):
        print(f"ratio sepdesk/floor (floor commit {label}): full pipeline {full / base:.2f},"
              f" intake only {intake / base:.2f} (target >= 0.50)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
