"""The held-out corpora (tests/corpus/heldout*) held to the understanding targets.

Each corpus was written apart from the rules, by a writer who read SPEC and the samples
only, and labelled before any rule ran on it; its first-run figures are in its commit
and in CHANGELOG.md. Once a corpus's misses were worked on (by general rules, never a
case for one file), it stays here as a regression corpus: what it says about mail not
yet seen is its first run, not these checks. The learned severity model
(sepdesk/pipeline/severity_model.py) is trained on every corpus here, so these checks
hold the rules and the model together to what they were built on. Both runs use
bench/understanding.py's own evaluation functions: the pure rules, and a replay through the real pipeline (which also
checks every mail's ingest outcome).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_understanding_targets, bench_understanding

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "corpus" / "heldout"
CORPUS = ROOT / "tests" / "corpus"
SIZES = {
    "heldout": 30,
    "heldout2": 40,
    "heldout3": 36,
    "heldout5": 32,
    "heldout6": 30,
    "heldout7": 30,
    "heldout8": 30,
    "heldout9": 30,
    "heldout10": 30,
    "heldout11": 30,
    "heldout12": 30,
    "heldout13": 30,
    "heldout14": 30,
    "heldout15": 30,
    "heldout16": 30,
    "heldout17": 30,
    "heldout18": 30,
    "heldout19": 30,
    "heldout20": 30,
    "heldout21": 30,
    "heldout23": 30,
    "heldout24": 30,
    "heldout25": 30,
    "heldout26": 30,
    "heldout27": 30,
    "heldout28": 30,
    "heldout29": 30,
    "heldout30": 30,
    "heldout31": 30,
    "heldout32": 30,
    "heldout33": 30,
    "heldout34": 30,
    "heldout35": 30,
    "heldout36": 30,
    "heldout37": 30,
    "heldout38": 30,
    "heldout39": 30,
    "heldout40": 30,
    "heldout41": 30,
    "heldout42": 30,
    "heldout43": 30,
    "heldout44": 30,
    "heldout45": 30,
    "heldout46": 30,
    "heldout47": 30,
    "heldout48": 30,
    "heldout49": 30,
    "heldout50": 30,
    "heldout51": 30,
    "heldout52": 30,
    "heldout53": 30,
    "heldout54": 30,
    "heldout55": 30,
    "heldout56": 30,
    "heldout57": 30,
    "heldout58": 30,
    "heldout59": 30,
    "heldout60": 30,
    "heldout61": 30,
    "heldout62": 30,
    "heldout64": 30,
    "heldout65": 30,
    "heldout66": 30,
    "heldout67": 30,
    "heldout68": 30,
    "heldout69": 30,
    "heldout70": 30,
    "heldout71": 30,
    "heldout72": 30,
    "heldout73": 30,
    "heldout74": 30,
    "heldout75": 30,
    "heldout76": 30,
    "heldout77": 30,
}
CORPORA = pytest.mark.parametrize(
    ("corpus", "size"), [(CORPUS / name, n) for name, n in SIZES.items()], ids=list(SIZES)
)
# heldout4 misses the customer target for a reason left as it is: 013's customer number
# stands after "laut der letzten Rechnung" (an invoice number is never taken for a
# customer's), so through the pipeline its follow-up 014 gets a ticket of its own.
HELDOUT4 = CORPUS / "heldout4"
# heldout15's 008 names T-2026-000001 in its subject but comes from the customer's service
# provider, no person of that ticket (README: threading checks the sender): it opens a
# ticket of its own beside it, as designed, where the label expects a follow-up. Through
# the pipeline heldout15 keeps figures of its own; read alone it meets the targets.
HELDOUT15 = "heldout15"
PIPELINE = pytest.mark.parametrize(
    ("corpus", "size"),
    [(CORPUS / name, n) for name, n in SIZES.items() if name != HELDOUT15],
    ids=[name for name in SIZES if name != HELDOUT15],
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


@PIPELINE
def test_heldout_corpus_meets_targets_through_the_pipeline(
    corpus: Path, size: int, tmp_path: Path
) -> None:
    bench = bench_understanding()
    labels, results, outcomes = bench.pipeline_results(corpus, tmp_path / "replay")
    ok, wrong = bench.score_outcomes(labels, outcomes)
    assert ok == len(labels) == size, wrong  # outcome 100%
    assert_understanding_targets(bench.score(labels, results))


# heldout63 misses the customer target for a reason left as it is: 024, a partner, names
# the end customer's number after "Wir betreuen als Partner die Parkhaus Rheinufer
# Betriebsgesellschaft mbH (Kundennummer 312045)" and then its own; the word that ties the
# first to the end customer stands too far before its label, so the match stays ambiguous.
HELDOUT63 = CORPUS / "heldout63"


@pytest.mark.parametrize("pipeline", [False, True], ids=["pure", "pipeline"])
def test_heldout63_keeps_its_figures(pipeline: bool, tmp_path: Path) -> None:
    """heldout63 as a regression corpus: its figures, not the targets (see HELDOUT63)."""
    bench = bench_understanding()
    labels, mails = bench.load_corpus(HELDOUT63)
    assert sorted(labels) == sorted(mails) and len(mails) == 30
    if pipeline:
        labels, results, outcomes = bench.pipeline_results(HELDOUT63, tmp_path / "replay")
        ok, wrong = bench.score_outcomes(labels, outcomes)
        assert ok == len(labels), wrong
        scores = bench.score(labels, results)
    else:
        scores = bench.score(*bench.pure_results(HELDOUT63))
    assert scores.customer_accuracy >= 26 / 27, scores.misses
    assert scores.severity_accuracy >= 26 / 27, scores.misses
    assert scores.critical_recall == 1.0 and scores.critical_precision == 1.0, scores.misses
    assert scores.f1()[2] >= 0.95 and scores.language_accuracy == 1.0, scores.misses


def test_heldout4_keeps_its_figures() -> None:
    """heldout4 as a regression corpus: its figures, not the targets (see HELDOUT4)."""
    bench = bench_understanding()
    labels, mails = bench.load_corpus(HELDOUT4)
    assert sorted(labels) == sorted(mails) and len(mails) == 36
    scores = bench.score(*bench.pure_results(HELDOUT4))
    assert scores.severity_accuracy >= 0.96, scores.misses
    assert scores.critical_recall == 1.0 and scores.critical_precision == 1.0, scores.misses
    assert scores.customer_accuracy >= 31 / 32, scores.misses
    assert scores.f1()[2] >= 0.94 and scores.language_accuracy == 1.0, scores.misses


def test_heldout15_through_the_pipeline_keeps_its_figures(tmp_path: Path) -> None:
    """Every outcome but 008's (see HELDOUT15); 008, a ticket of its own, is scored as one."""
    bench = bench_understanding()
    labels, results, outcomes = bench.pipeline_results(CORPUS / HELDOUT15, tmp_path / "replay")
    ok, wrong = bench.score_outcomes(labels, outcomes)
    assert ok == 29 and len(wrong) == 1 and wrong[0].startswith("008-"), wrong
    scores = bench.score(labels, results)
    assert scores.severity_accuracy >= 26 / 27, scores.misses
    assert scores.critical_recall >= 10 / 11 and scores.critical_precision == 1.0, scores.misses
    assert scores.customer_accuracy == 1.0 and scores.f1()[2] >= 0.9, scores.misses


@pytest.mark.parametrize("pipeline", [False, True], ids=["pure", "pipeline"])
def test_heldout22_keeps_its_figures(pipeline: bool, tmp_path: Path) -> None:
    """heldout22 was written against word statistics (disaster words on small matters,
    Criticals in plain words). Measured blind: rules alone 51.9% / Critical recall 25%,
    with the model 63.0% / 37.5%. Trained on, the model still leaves 001 (a notary's
    archive, no deed can be prepared) Major and 002 (October's standstill told before a
    configuration question) stays the rules' Critical: its figures are its floor."""
    bench = bench_understanding()
    corpus = CORPUS / "heldout22"
    labels, mails = bench.load_corpus(corpus)
    assert sorted(labels) == sorted(mails) and len(mails) == 30
    if pipeline:
        labels, results, outcomes = bench.pipeline_results(corpus, tmp_path / "replay")
        ok, wrong = bench.score_outcomes(labels, outcomes)
        assert ok == 30, wrong
        scores = bench.score(labels, results)
    else:
        scores = bench.score(*bench.pure_results(corpus))
    assert scores.severity_accuracy >= 25 / 27, scores.misses
    assert scores.critical_recall >= 7 / 8 and scores.critical_precision >= 7 / 8, scores.misses
    assert scores.customer_accuracy == 1.0 and scores.f1()[2] >= 0.89, scores.misses
