"""bench/large_mail.py runs end to end on small mails and prints the figures it promises.

The figures are not judged (no timed tests); this keeps the script that measures
large mails working, and checks that each of its mails becomes a ticket.
"""

from __future__ import annotations

import re

from tests.conftest import run_bench


def test_large_mail_bench_ingests_each_kind_and_prints_seconds_and_memory() -> None:
    out = run_bench("large_mail.py", "--mb", "0.2", timeout=120)
    lines = re.findall(r"^(\w+) +[\d.]+ MB +(\w+) +[\d.]+ s +peak RSS +\d+ MB$", out, re.M)
    assert lines == [("text", "new_ticket"), ("html", "new_ticket"), ("attachment", "new_ticket")]
