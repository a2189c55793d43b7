"""Outbound sender throughput: queued mails handed to a real SMTP sink, mails per second.

    .venv/bin/python bench/sender.py [-n 500] [--runs 1]

Queues N acknowledgements (one recipient each) in a fresh desk database, starts
the test suite's aiosmtpd sink (tests/servers/smtp_sink.py) on 127.0.0.1 as the
desk's [relay], and runs sender passes (``sender.run_once``, 200 mails a pass)
until every mail is sent. Prints mails/s end to end (composing, SMTP, the
record of each mail), the passes and the connections the sink was given.
Prints figures only; not a timed test (machines differ).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.servers, and sepdesk without PYTHONPATH

from sepdesk.config import from_mapping  # noqa: E402
from sepdesk.desk import Desk  # noqa: E402
from sepdesk.outbound import sender  # noqa: E402
from sepdesk.outbound.compose import tagged_subject  # noqa: E402
from sepdesk.outbound.outbox import enqueue, queued_mail  # noqa: E402
from sepdesk.store import write_tx  # noqa: E402
from tests.servers.smtp_sink import SmtpSink  # noqa: E402

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def queue(desk: Desk, n: int) -> None:
    with write_tx(desk.db):
        for i in range(n):
            ref = f"T-2026-{i + 1:06d}"
            enqueue(
                desk.db,
                queued_mail(
                    desk.settings,
                    kind="ack",
                    to=[f"customer{i}@example.org"],
                    subject=tagged_subject(desk.settings, ref, "Backup fails"),
                    body="We have your request and will answer within the day.\n" * 8,
                    at=AT,
                    ticket_ref=ref,
                ),
            )


def queued(desk: Desk) -> int:
    return int(desk.db.execute("SELECT count(*) FROM outbox WHERE state = 'queued'").fetchone()[0])


def run(n: int) -> tuple[float, int, int]:
    """Seconds to send n mails, the passes it took and the sink's connections."""
    with tempfile.TemporaryDirectory(prefix="sepdesk-bench-") as tmp, SmtpSink() as sink:
        settings = from_mapping(
            {
                "database": {"path": f"{tmp}/d.db"},
                "outbox": {"dir": f"{tmp}/outbox"},
                "relay": sink.relay_settings(),
            },
            "bench",
        )
        desk = Desk.open(settings)
        try:
            queue(desk, n)
            passes = 0
            began = time.perf_counter()
            while queued(desk):
                sender.run_once(desk, AT)
                passes += 1
                if passes > n:
                    raise SystemExit(f"still {queued(desk)} queued after {passes} passes")
            took = time.perf_counter() - began
        finally:
            desk.close()
        if len(sink.received()) != n:
            raise SystemExit(f"the sink kept {len(sink.received())} of {n} mails")
        return took, passes, sink.connections


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=500, help="queued mails")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    for _ in range(args.runs):
        took, passes, connections = run(args.n)
        print(
            f"sent {args.n} mails in {took:.2f} s: {args.n / took:.1f} mails/s"
            f" ({passes} passes, {connections} connections)"
        )


if __name__ == "__main__":
    main()
