"""The held-out corpora (tests/corpus/heldout, heldout2) held to the understanding targets.

Each corpus was written apart from the sample corpus the rules were tuned on (heldout2
by another writer, from SPEC alone), so these figures say how the rules generalise. Both runs use bench/understanding.py's own
evaluation functions: the pure rules, and a replay through the real pipeline (which also
checks every mail's ingest outcome).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_understanding_targets, bench_understanding

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "corpus" / "heldout"
HELDOUT2 = ROOT / "tests" / "corpus" / "heldout2"
CORPORA = pytest.mark.parametrize(
    ("corpus", "size"), [(HELDOUT, 30), (HELDOUT2, 40)], ids=["heldout", "heldout2"]
)


@CORPORA
def test_heldout_corpus_is_complete(corpus: Path, size: int) -> None:
    bench = bench_understanding()
    labels, mails = bench.load_corpus(corpus)
    assert sorted(labels) == sorted(mails) and len(mails) == size


@CORPORA
def test_heldout_corpus_meets_targets_pure(corpus: Path, size: int) -> None:
    bench = bench_understanding()
    assert_understanding_targets(bench.score(*bench.pure_results(corpus)))


@CORPORA
def test_heldout_corpus_meets_targets_through_the_pipeline(
    corpus: Path, size: int, tmp_path: Path
) -> None:
    bench = bench_understanding()
    labels, results, outcomes = bench.pipeline_results(corpus, tmp_path / "replay")
    ok, wrong = bench.score_outcomes(labels, outcomes)
    assert ok == len(labels) == size, wrong  # outcome 100%
    assert_understanding_targets(bench.score(labels, results))
