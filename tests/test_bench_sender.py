"""bench/sender.py runs end to end on a few mails and prints the figures it promises.

The figures are not judged (no timed tests); this keeps the script that measures the
sender working, and checks what it counts: every mail sent, over shared connections.
"""

from __future__ import annotations

import re

from tests.conftest import run_bench


def test_sender_bench_sends_every_mail_and_prints_mails_per_second() -> None:
    out = run_bench("sender.py", "-n", "30", timeout=120)
    line = re.search(
        r"^sent 30 mails in [\d.]+ s: ([\d.]+) mails/s \((\d+) passes, (\d+) connections\)$",
        out,
        re.M,
    )
    assert line, out
    assert float(line.group(1)) > 0
    assert int(line.group(2)) == 1 and int(line.group(3)) == 1  # 30 mails: one pass, one session
