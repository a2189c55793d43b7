"""Experiment: does a learned severity model carry over to a corpus it has not seen?

    .venv/bin/pip install -e '.[research]'     # scikit-learn, for this script only
    .venv/bin/python bench/severity_model.py

The hand-written rules (sepdesk/pipeline/classify.py) are tuned on every corpus in
tests/corpus, so their figures there are no measure of unseen mail; their blind first
runs are (docs/internals.md). This script asks the same question of a plain model:
leave one corpus out, train a logistic regression on word (1-2) and character (3-5)
n-gram TF-IDF of the subject and the sender's own text (``own_text``) of the new tickets
of all the other corpora and the samples, predict the one left out, and print per
corpus and pooled: severity exact, Critical recall and precision, next to the current
rules' on the same mails. A figure, not a test; nothing in sepdesk uses the model.

Caveat: every corpus was written by the same kind of writer from the same SPEC and
samples; leaving one out measures the next corpus of that writer, not customer mail.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import understanding  # noqa: E402  (bench/ is the script's own folder)
from corpus import SAMPLES  # noqa: E402

from sepdesk.pipeline import classify  # noqa: E402

SEED = 0


def corpora() -> list[Path]:
    held = sorted((ROOT / "tests" / "corpus").iterdir(), key=lambda p: (len(p.name), p.name))
    return [SAMPLES, *held]


def new_tickets(corpus: Path) -> list[tuple[str, int, int]]:
    """(text, label, the rules' severity) of each new ticket of ``corpus``."""
    labels, mails = understanding.load_corpus(corpus)
    rows = []
    for name, label in sorted(labels.items()):
        if label["expected_outcome"] != "new_ticket":
            continue
        mail = mails[name]
        own = classify.own_text(classify.bounded(mail.text))
        rules, _ = classify.judge_severity(mail.subject, own)
        rows.append((f"{mail.subject}\n{own}".lower(), int(label["severity"]), rules))
    return rows


def fitted(texts: list[str], labels: list[int]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True, max_features=30000
        ),
    )
    model = LogisticRegression(class_weight="balanced", C=10.0, max_iter=5000, random_state=SEED)
    return make_pipeline(features, model).fit(texts, labels)


def figures(truth: list[int], guess: list[int]) -> str:
    hits = sum(t == g for t, g in zip(truth, guess, strict=True))
    tp = sum(t == 1 and g == 1 for t, g in zip(truth, guess, strict=True))
    critical, called = truth.count(1), guess.count(1)
    recall = f"{100 * tp / critical:5.1f}" if critical else "    -"
    precision = f"{100 * tp / called:5.1f}" if called else "    -"
    return f"{100 * hits / len(truth):5.1f} {recall} {precision}"


def main() -> None:
    try:
        import sklearn  # noqa: F401  (the one extra this script needs)
    except ImportError:
        sys.exit(
            "bench/severity_model.py needs scikit-learn: .venv/bin/pip install -e '.[research]'"
        )
    data = {corpus.name: new_tickets(corpus) for corpus in corpora()}
    print(f"{'left out':10} {'n':>3}  model: exact rec  prec   rules now: exact rec  prec")
    pooled: dict[str, list[int]] = {"truth": [], "model": [], "rules": []}
    for name, rows in data.items():
        if name == SAMPLES.name:
            continue  # training only: the rules were written on it, no blind run exists
        train = [row for other, more in data.items() if other != name for row in more]
        model = fitted([t for t, _, _ in train], [label for _, label, _ in train])
        truth = [label for _, label, _ in rows]
        guess = [int(g) for g in model.predict([t for t, _, _ in rows])]
        rules = [r for _, _, r in rows]
        print(f"{name:10} {len(rows):3}  {figures(truth, guess):>22}   {figures(truth, rules):>22}")
        for key, values in (("truth", truth), ("model", guess), ("rules", rules)):
            pooled[key].extend(values)
    truth = pooled["truth"]
    print(
        f"{'pooled':10} {len(truth):3}  {figures(truth, pooled['model']):>22}"
        f"   {figures(truth, pooled['rules']):>22}"
    )


if __name__ == "__main__":
    main()
