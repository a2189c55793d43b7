"""bench/instructions.py: the work it has valgrind count runs, and bad sizes are refused.

valgrind itself is not installed by the test command (the script is a developer's tool);
what it runs under valgrind is run here directly, for each stage, so the script keeps
working as the pipeline changes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_bench

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "instructions.py"


@pytest.mark.parametrize("stage", ["pipeline", "parse", "understand"])
def test_each_stage_runs_over_the_bench_mails(stage: str) -> None:
    assert run_bench("instructions.py", "--run", stage, "3", "5", timeout=120) == ""


def test_sizes_that_give_no_difference_are_refused() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "parse", "--small", "50", "--large", "50"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--small must be at least 0 and below --large" in done.stderr
