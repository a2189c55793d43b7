"""bench/imap_intake.py runs end to end on a few mails and prints every figure it promises.

The figures themselves are not judged here (no timed tests); this keeps the
script that measures the IMAP target working: both email parsers' floors,
``sepdesk serve`` against a real Dovecot, and one ratio line per floor.
"""

from __future__ import annotations

import re

from tests.conftest import run_bench

FLOOR_LABELS = ("per mail", "per batch", "per mail, compat32", "per batch, compat32")


def test_imap_bench_prints_each_floor_serve_and_their_ratios() -> None:
    out = run_bench("imap_intake.py", "-n", "24", "--batch", "10", timeout=300)
    serve = _rate(out, r"sepdesk serve \(\d+ cpus\)")
    intake = _rate(out, "sepdesk intake only")
    assert intake > 0
    assert "sepdesk serve used" in out, out
    first = re.search(r"^serve stored its first mail (\d+\.\d\d) s after its start", out, re.M)
    ceiling = re.search(r"at most (\d+\.\d) mails/s \(ceiling\)$", out, re.M)
    assert first and ceiling, out
    # The ceiling: 24 mails over the start-up plus the intake-only time (both rounded).
    expect = 24 / (float(first.group(1)) + 24 / intake)
    assert abs(float(ceiling.group(1)) - expect) <= 0.02 * expect, out
    for label in FLOOR_LABELS:
        floor = _rate(out, re.escape(f"floor, commit {label}"))
        ratio = re.search(
            rf"^ratio sepdesk/floor \(floor commit {re.escape(label)}\): serve (\d+\.\d\d)\b",
            out,
            re.M,
        )
        assert ratio, out
        # One round: the ratio printed is serve's rate over this floor's (both rounded).
        assert abs(float(ratio.group(1)) - serve / floor) <= 0.011, out
        rest = out[ratio.end() :].split("\n", 1)[0]
        bound = re.search(r"ceiling (\d+\.\d\d) \(target >= 0.50\)$", rest)
        assert bound, out
        assert abs(float(bound.group(1)) - float(ceiling.group(1)) / floor) <= 0.011, out


def _rate(out: str, label: str) -> float:
    """The mails/s printed on ``label``'s line, which must report all 24 mails."""
    line = re.search(rf"^{label} +24 mails in +[\d.]+ s = +([\d.]+) mails/s$", out, re.M)
    assert line, f"no line for {label!r} in:\n{out}"
    return float(line.group(1))
