"""SLA clock figures: deadline computations per second, and the next-due lookup with many tickets.

Run: .venv/bin/python bench/sla.py [--n 100000]
Prints figures only; not a timed test (machines differ).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sepdesk.config import DatabaseSettings, DeskSettings, Settings
from sepdesk.desk import Desk
from sepdesk.instants import to_db
from sepdesk.sla.calendar import SupportCalendar
from sepdesk.sla.deadlines import first_response_due
from sepdesk.sla.timer import next_due, run_once
from sepdesk.store import open_db, write_tx

CONTRACTS = ("business", "emergency", "demo", None)
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_S = 5 * 365 * 86400


def random_instants(rng: random.Random, n: int) -> list[datetime]:
    return [START + timedelta(seconds=rng.randrange(SPAN_S)) for _ in range(n)]


def bench_deadlines(n: int, rng: random.Random) -> None:
    cal = SupportCalendar(subdivisions=["BY"], extra_closed=["12-24", "12-31"])
    cases = [(t, rng.randint(1, 4), rng.choice(CONTRACTS)) for t in random_instants(rng, n)]
    began = time.perf_counter()
    for received, severity, contract in cases:
        first_response_due(cal, received, severity, contract)
    cold = time.perf_counter() - began
    began = time.perf_counter()
    for received, severity, contract in cases:
        first_response_due(cal, received, severity, contract)
    warm = time.perf_counter() - began
    print(f"deadlines: {n} random instants 2024-2028, severities 1-4, contracts {CONTRACTS}")
    print(f"  first pass (cold caches): {n / cold:,.0f} deadlines/s")
    print(f"  second pass (warm):       {n / warm:,.0f} deadlines/s")


def fill(desk: Desk, n: int, rng: random.Random, now: datetime) -> None:
    """n open tickets received in the 30 days before ``now``, due computed by the calendar."""
    cal = desk.calendar
    rows = []
    for i in range(n):
        received = now - timedelta(seconds=rng.randrange(30 * 86400))
        severity = rng.randint(1, 4)
        due = first_response_due(cal, received, severity, "business")
        at = to_db(received)
        rows.append((f"T-2026-{i + 1:06d}", severity, at, to_db(due), at, at))
    with write_tx(desk.db):
        desk.db.conn.executemany(
            "INSERT INTO tickets (ticket_number, status, channel, severity, contract_level,"
            " received_at, first_response_due, created_at, updated_at)"
            " VALUES (?, 'accepted', 'email', ?, 'business', ?, ?, ?, ?)",
            rows,
        )


def bench_next_due(n: int, rng: random.Random, catch_up: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            desk=DeskSettings(escalation_to=["lead@sep.example"]),
            database=DatabaseSettings(path=str(Path(tmp) / "bench.db")),
        )
        desk = Desk(settings, open_db(settings.database.path))
        now = datetime(2026, 3, 16, 12, tzinfo=UTC)
        fill(desk, n, rng, now)
        # Steady state: every ticket scheduled within the next day,
        # and `catch_up` of them due now, as after an outage.
        later = [
            (to_db(now + timedelta(seconds=rng.randrange(1, 86400))), i) for i in range(1, n + 1)
        ]
        with write_tx(desk.db):
            desk.db.conn.executemany(
                "UPDATE tickets SET next_escalation_at = ? WHERE id = ?", later
            )
            desk.db.execute(
                "UPDATE tickets SET next_escalation_at = received_at WHERE id <= ?", [catch_up]
            )
        samples = []
        for _ in range(1000):
            t0 = time.perf_counter()
            next_due(desk.db, settings)
            samples.append(time.perf_counter() - t0)
        print(f"next_due with {n:,} open tickets:")
        print(
            f"  median {statistics.median(samples) * 1000:.3f} ms,"
            f" max {max(samples) * 1000:.3f} ms (1000 calls)"
        )
        began = time.perf_counter()
        fired = run_once(desk, now)
        took = time.perf_counter() - began
        print(
            f"run_once catching up {catch_up:,} due tickets: {took:.2f} s"
            f" ({catch_up / took:,.0f} tickets/s, {fired:,} mails queued)"
        )
        desk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="instants and tickets")
    parser.add_argument("--catch-up", type=int, default=2000, help="tickets due in run_once")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    bench_deadlines(args.n, rng)
    bench_next_due(args.n, rng, args.catch_up)


if __name__ == "__main__":
    main()
