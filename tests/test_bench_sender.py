"""bench/sender.py runs end to end on a few mails and prints the figures it promises.

The figures are not judged (no timed tests); this keeps the script that measures the
sender working, and checks what it counts: every mail sent, over shared connections.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_sender_bench_sends_every_mail_and_prints_mails_per_second() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sender.py"), "-n", "30"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = re.search(
        r"^sent 30 mails in [\d.]+ s: ([\d.]+) mails/s \((\d+) passes, (\d+) connections\)$",
        done.stdout,
        re.M,
    )
    assert line, done.stdout
    assert float(line.group(1)) > 0
    assert int(line.group(2)) == 1 and int(line.group(3)) == 1  # 30 mails: one pass, one session
