"""bench/imap_intake.py runs end to end on a few mails and prints every figure it promises.

The figures themselves are not judged here (no timed tests); this keeps the
script that measures the IMAP target working: both email parsers' floors,
``sepdesk serve`` against a real Dovecot, and one ratio line per floor.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR_LABELS = ("per mail", "per batch", "per mail, compat32", "per batch, compat32")


def test_imap_bench_prints_each_floor_serve_and_their_ratios() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "imap_intake.py"), "-n", "24", "--batch", "10"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for label in FLOOR_LABELS:
        assert re.search(rf"^floor, commit {label} +24 mails in ", out, re.M), out
        ratio = re.search(
            rf"^ratio sepdesk/floor \(floor commit {label}\): serve (\d+\.\d\d)\b", out, re.M
        )
        assert ratio and float(ratio.group(1)) > 0, out
    assert re.search(r"^sepdesk serve \(\d+ cpus\) +24 mails in ", out, re.M), out
    assert re.search(r"^sepdesk intake only +24 mails in ", out, re.M), out
    assert "sepdesk serve used" in out, out
