"""bench/pipeline.py runs end to end on a few mails and prints the figures it promises.

The figures are not judged (no timed tests); this keeps the script working.
"""

from __future__ import annotations

import re

from tests.conftest import run_bench


def test_pipeline_bench_prints_cpu_per_mail_for_each_round_and_the_median() -> None:
    out = run_bench("pipeline.py", "-n", "45", "--repeat", "2", timeout=120)
    rounds = re.findall(r"^round \d: 45 mails in [\d.]+ CPU s = ([\d.]+) ms/mail$", out, re.M)
    assert len(rounds) == 2, out
    assert all(float(ms) > 0 for ms in rounds)
    assert re.search(r"^median: [\d.]+ CPU s = [\d.]+ ms/mail \(2 rounds\)$", out, re.M), out
