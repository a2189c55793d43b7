"""The held-out corpus (tests/corpus/heldout) held to the understanding targets.

The corpus was written apart from the sample corpus the rules were tuned on, so these
figures say how the rules generalise. Both runs use bench/understanding.py's own
evaluation functions: the pure rules, and a replay through the real pipeline (which also
checks every mail's ingest outcome).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "corpus" / "heldout"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_understanding", ROOT / "bench/understanding.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _assert_targets(scores: object) -> None:
    misses = scores.misses  # type: ignore[attr-defined]
    assert scores.customer_accuracy >= 0.98, misses  # type: ignore[attr-defined]
    assert scores.severity_accuracy >= 0.85, misses  # type: ignore[attr-defined]
    assert scores.critical_recall == 1.0, misses  # type: ignore[attr-defined]
    assert scores.f1()[2] >= 0.9, misses  # type: ignore[attr-defined]
    assert scores.language_accuracy == 1.0, misses  # type: ignore[attr-defined]


def test_heldout_corpus_is_complete() -> None:
    bench = _bench()
    labels, mails = bench.load_corpus(HELDOUT)
    assert sorted(labels) == sorted(mails) and len(mails) == 30


def test_heldout_corpus_meets_targets_pure() -> None:
    bench = _bench()
    _assert_targets(bench.score(*bench.pure_results(HELDOUT)))


def test_heldout_corpus_meets_targets_through_the_pipeline(tmp_path: Path) -> None:
    bench = _bench()
    labels, results, outcomes = bench.pipeline_results(HELDOUT, tmp_path / "replay")
    ok, wrong = bench.score_outcomes(labels, outcomes)
    assert ok == len(labels), wrong  # outcome 100%
    _assert_targets(bench.score(labels, results))
