"""Instructions per mail of the pipeline, or of its parse or understanding step alone.

    .venv/bin/python bench/instructions.py [pipeline|parse|understand] [--small 100] [--large 400]

Wall and CPU time on a shared VM drift by 10-25% between runs, more than most single
changes save. Executed instructions do not: valgrind's cachegrind (without its cache
simulation) counts them for one process over ``--small`` and over ``--large`` bench mails
(bench/corpus.py), and the difference divided by the difference in mails is the
instructions per mail, start-up and imports left out. Needs valgrind (``apt-get install
valgrind``); a run takes a minute or two. Memory-bound work counts less than it costs
(dictionary lookups into the severity model), so time it too (bench/pipeline.py).
"""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("pipeline", "parse", "understand")


def run_stage(stage: str, n: int, total: int) -> None:
    """The measured work: ``stage`` over the first ``n`` of ``total`` bench mails (the
    mails are built, and for ``understand`` parsed, for all ``total`` whatever ``n``)."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from corpus import sample_mails

    from sepdesk.pipeline import classify
    from sepdesk.pipeline.parse import parse_mail

    mails = sample_mails(total)
    if stage == "parse":
        for raw in mails[:n]:
            parse_mail(raw)
    elif stage == "understand":
        parsed = [parse_mail(raw) for raw in mails]
        for m in parsed[:n]:
            classify.understand(m.subject, m.text, m.attachments)
    else:
        import pipeline

        logging.disable(logging.WARNING)
        with tempfile.TemporaryDirectory(prefix="sepdesk-bench-") as tmp:
            pipeline.one_round(mails[:n], Path(tmp))


def instructions(stage: str, n: int, total: int) -> int:
    """Instructions valgrind counted for one run of ``stage`` over ``n`` mails."""
    out = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--run",
            stage,
            str(n),
            str(total),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    found = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{out[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--run"]:
        run_stage(argv[1], int(argv[2]), int(argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", nargs="?", default="pipeline", choices=STAGES)
    ap.add_argument("--small", type=int, default=100, help="mails of the first run")
    ap.add_argument("--large", type=int, default=400, help="mails of the second run")
    args = ap.parse_args(argv)
    if not 0 <= args.small < args.large:
        ap.error("--small must be at least 0 and below --large")
    small = instructions(args.stage, args.small, args.large)
    large = instructions(args.stage, args.large, args.large)
    per_mail = (large - small) / (args.large - args.small)
    print(
        f"{args.stage}: {per_mail / 1e6:.2f} M instructions/mail"
        f" ({args.small} mails: {small:,}; {args.large} mails: {large:,})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
