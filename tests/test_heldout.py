"""The held-out corpus (tests/corpus/heldout) held to the understanding targets.

The corpus was written apart from the sample corpus the rules were tuned on, so these
figures say how the rules generalise. Both runs use bench/understanding.py's own
evaluation functions: the pure rules, and a replay through the real pipeline (which also
checks every mail's ingest outcome).
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import assert_understanding_targets, bench_understanding

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "corpus" / "heldout"


def test_heldout_corpus_is_complete() -> None:
    bench = bench_understanding()
    labels, mails = bench.load_corpus(HELDOUT)
    assert sorted(labels) == sorted(mails) and len(mails) == 30


def test_heldout_corpus_meets_targets_pure() -> None:
    bench = bench_understanding()
    assert_understanding_targets(bench.score(*bench.pure_results(HELDOUT)))


def test_heldout_corpus_meets_targets_through_the_pipeline(tmp_path: Path) -> None:
    bench = bench_understanding()
    labels, results, outcomes = bench.pipeline_results(HELDOUT, tmp_path / "replay")
    ok, wrong = bench.score_outcomes(labels, outcomes)
    assert ok == len(labels), wrong  # outcome 100%
    assert_understanding_targets(bench.score(labels, results))
