"""The pipeline's CPU per mail, in one process: parse, understand, match, write.

    .venv/bin/python bench/pipeline.py [-n 2000] [--repeat 3]

Per round: a fresh database in a temporary folder with the sample contracts, N mails
of bench/corpus.py stored as IMAP rows with one received time, then
``runner.process_batch`` over them in batches of 50 (as an IMAP FETCH hands them
over), timed in CPU seconds of this process (``time.process_time``: less at the
mercy of other load than the wall clock). The first round also compiles the
narrowed rule patterns, as each new pipeline process does. Prints each round and
the median; figures only, not a timed test.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus import SAMPLES, sample_mails

from sepdesk.config import from_mapping
from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.store import write_tx

RECEIVED = datetime(2026, 11, 20, 10, tzinfo=UTC)
BATCH = 50


def one_round(mails: list[bytes], work: Path) -> float:
    """CPU seconds of process_batch over ``mails`` on a fresh desk in ``work``."""
    settings = from_mapping(
        {"database": {"path": str(work / "desk.db")}, "outbox": {"dir": str(work / "outbox")}},
        "bench",
    )
    desk = Desk.open(settings)
    try:
        import_csv(desk.db, SAMPLES / "contracts.csv", datetime(2026, 11, 1, tzinfo=UTC))
        with write_tx(desk.db):
            ids = [
                store_raw(
                    desk.db, source="imap", raw=raw, received_at=RECEIVED, source_ref=f"1/{i}"
                ).intake_id
                for i, raw in enumerate(mails)
            ]
        start = time.process_time()
        for k in range(0, len(ids), BATCH):
            runner.process_batch(desk, ids[k : k + BATCH])
        return time.process_time() - start
    finally:
        desk.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="number of mails (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    args = ap.parse_args(argv)
    # A line per mail, and a WARNING per reply the per-sender limit holds back.
    logging.disable(logging.WARNING)
    rounds = []
    for r in range(args.repeat):
        mails = sample_mails(args.n)  # fresh Message-IDs each round
        with tempfile.TemporaryDirectory(prefix="sepdesk-bench-") as tmp:
            cpu = one_round(mails, Path(tmp))
        rounds.append(cpu)
        print(
            f"round {r + 1}: {args.n} mails in {cpu:.2f} CPU s = {cpu / args.n * 1000:.3f} ms/mail"
        )
    median = statistics.median(rounds)
    print(
        f"median: {median:.2f} CPU s = {median / args.n * 1000:.3f} ms/mail ({len(rounds)} rounds)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
