"""How a learned model reads a request's severity (SPEC §1), from its words alone.

The hand-written rules (classify.py) judge from wordings they know. On corpora they had
never seen they found a third to a half of the Criticals and four of five severities in
all; a logistic regression on the word and word-pair frequencies of the same corpora,
never trained on the corpus it judged, found nearly all the Criticals and more than nine
of ten severities (docs/internals.md). classify.judge_severity lets it speak where it is
sure: it may raise to Critical where the mail says nothing against it, and set the other
levels; it never lowers a Critical of the rules.

The weights are trained by ``bench/severity_model.py --write`` with scikit-learn and read
here with plain arithmetic, which that script checks against scikit-learn's own
probabilities before it writes them: sepdesk needs no scikit-learn.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from itertools import pairwise

CRITICAL_AT = 0.65  # P(Critical) that raises to Critical; chosen leave-one-corpus-out
LEVEL_AT = 0.6  # P of Major, Minor or Cosmetic that sets that level (same)
# Fewer known words and pairs than this and the model does not speak: a sentence or two
# (a test's, a one-line mail) or a language it was not trained on. Its shortest training
# mails had about 25, one in twenty fewer than 60; with none it would answer with its
# intercepts (Cosmetic 0.49). Leave-one-corpus-out figures are the same with 20 or 30.
MIN_KNOWN = 30

MODEL_FILE = "severity_model.json"

log = logging.getLogger(__name__)

# scikit-learn's default token: two or more word characters, after lower-casing.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class Weights:
    levels: tuple[int, ...]  # SPEC's four severities, in the order of each row below
    intercepts: tuple[float, ...]
    terms: dict[str, list[float]]  # term -> [idf, a coefficient per level], as in the file
    min_known: int = MIN_KNOWN


def terms_of(text: str) -> Counter[str]:
    """The words and adjacent word pairs of ``text`` with their counts."""
    words = _TOKEN.findall(text.lower())
    counts = Counter(words)
    counts.update(f"{a} {b}" for a, b in pairwise(words))
    return counts


def _weighted(weights: Weights, text: str) -> list[tuple[str, float, list[float]]]:
    """Each term of ``text`` the model knows: the term, its sublinear TF-IDF, its row."""
    known = weights.terms
    # Most terms occur once, where sublinear tf is 1: no logarithm for them.
    return [
        (t, row[0] if n == 1 else (1.0 + math.log(n)) * row[0], row)
        for t, n in terms_of(text).items()
        if (row := known.get(t)) is not None
    ]


def probabilities(weights: Weights, text: str) -> dict[int, float] | None:
    """P of each severity for ``text``: sublinear TF-IDF, L2-normalised, through a softmax;
    None where ``text`` has fewer than ``weights.min_known`` terms the model knows."""
    rows = _weighted(weights, text)
    if len(rows) < weights.min_known:
        return None
    s1 = s2 = s3 = s4 = squares = 0.0
    # One loop with the four levels unpacked: a pass per level over the terms, or an
    # inner loop per term, cost half as much again (this runs for every new request).
    for _, x, (_, c1, c2, c3, c4) in rows:
        s1, s2, s3, s4 = s1 + x * c1, s2 + x * c2, s3 + x * c3, s4 + x * c4
        squares += x * x
    norm = math.sqrt(squares) or 1.0
    b1, b2, b3, b4 = weights.intercepts
    scores = (b1 + s1 / norm, b2 + s2 / norm, b3 + s3 / norm, b4 + s4 / norm)
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return {level: e / total for level, e in zip(weights.levels, exps, strict=True)}


def telling_terms(weights: Weights, text: str, level: int, count: int = 3) -> list[str]:
    """The ``count`` terms of ``text`` that speak most for ``level`` against the others:
    what an engineer reads to see why the model judged as it did."""
    i = weights.levels.index(level) + 1
    others = len(weights.levels) - 1

    def pull(row: list[float]) -> float:
        return row[i] - (sum(row[1:]) - row[i]) / others

    ranked = sorted(_weighted(weights, text), key=lambda r: r[1] * pull(r[2]), reverse=True)
    return [t for t, x, row in ranked[:count] if x * pull(row) > 0]


def weights_from(data: dict[str, object]) -> Weights:
    """Weights from the parsed JSON that ``bench/severity_model.py --write`` writes."""
    levels, intercepts, terms = data.get("levels"), data.get("intercepts"), data.get("terms")
    if not (isinstance(levels, list) and isinstance(intercepts, list) and isinstance(terms, dict)):
        raise ValueError(
            "severity model: 'levels' and 'intercepts' must be lists, 'terms' an object"
        )
    if levels != [1, 2, 3, 4] or len(intercepts) != 4:
        raise ValueError("severity model: 'levels' must be SPEC's [1, 2, 3, 4], with 4 intercepts")
    # Each row is checked for its length, not each number: the file is 74,000 of them,
    # read at every process start, and written by the one script that checks them.
    if any(len(row) != 5 for row in terms.values()):
        raise ValueError("severity model: every row must have an idf and 4 coefficients")
    return Weights(tuple(int(v) for v in levels), tuple(float(b) for b in intercepts), terms)


@cache
def shipped() -> Weights | None:
    """The weights that come with sepdesk, read once per process (None: unreadable)."""
    return load(resources.files(__package__).joinpath(MODEL_FILE))


def load(source: Traversable) -> Weights | None:
    """The weights in ``source``; None, with one ERROR line, where they cannot be read: a
    damaged installation then judges by the rules alone rather than leave every new
    request unprocessed."""
    try:
        return weights_from(json.loads(source.read_text("utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is one
        log.error(
            "severity model %s unreadable (%s): severities by the rules alone; reinstall sepdesk",
            source,
            " ".join(str(exc).split()),
        )
        return None
