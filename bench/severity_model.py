"""The learned severity model: how it carries over to unseen mail, and its training.

    .venv/bin/pip install -e '.[research]'     # scikit-learn, for this script only
    .venv/bin/python bench/severity_model.py           # leave-one-corpus-out figures
    .venv/bin/python bench/severity_model.py --write   # train on all, write the model

The hand-written rules (sepdesk/pipeline/classify.py) are tuned on every corpus in
tests/corpus, so their figures there are no measure of unseen mail; their blind first
runs are (docs/internals.md). This script leaves one corpus out, trains a logistic
regression (the four severities) on word (1-2) n-gram TF-IDF of the subject and the
sender's own text (``own_text``) of the new tickets of all the other corpora and the
samples, and prints per corpus and pooled: severity exact, Critical recall and
precision of the rules alone, of the model alone, and of both as sepdesk judges
(``classify.judge_severity`` with the left-out model's weights). The rules have seen
every corpus here, so the figures of the rules and of both flatter them.

``--write`` trains the same model on every corpus and writes
sepdesk/pipeline/severity_model.json, the weights sepdesk reads with no scikit-learn
(sepdesk/pipeline/severity_model.py). It checks that sepdesk's own arithmetic gives
scikit-learn's probabilities on every training text before it writes.

Caveat: every corpus was written by the same kind of writer from the same SPEC and
samples; leaving one out measures the next corpus of that writer, not customer mail.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import understanding  # noqa: E402  (bench/ is the script's own folder)
from corpus import SAMPLES  # noqa: E402

from sepdesk.pipeline import classify, severity_model  # noqa: E402

SEED = 0
MODEL = ROOT / "sepdesk" / "pipeline" / "severity_model.json"


def corpora() -> list[Path]:
    held = sorted((ROOT / "tests" / "corpus").iterdir(), key=lambda p: (len(p.name), p.name))
    return [SAMPLES, *held]


def new_tickets(corpus: Path) -> list[tuple[str, int, int]]:
    """(subject and own text, label, the rules' severity) of each new ticket of ``corpus``."""
    labels, mails = understanding.load_corpus(corpus)
    rows = []
    for name, label in sorted(labels.items()):
        if label["expected_outcome"] != "new_ticket":
            continue
        mail = mails[name]
        own = classify.own_text(classify.bounded(mail.text))
        rules, _ = classify.rules_severity(mail.subject, own)
        rows.append((f"{mail.subject}\n{own}", int(label["severity"]), rules))
    return rows


def fitted(texts: list[str], labels: list[int]) -> Any:
    """The four severities, from the word and word-pair TF-IDF of ``texts``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(class_weight="balanced", C=10.0, max_iter=5000, random_state=SEED)
    return make_pipeline(words, model).fit(texts, labels)


def weights_of(model: Any) -> dict[str, Any]:
    """The fitted pipeline as severity_model.json: each term's idf and coefficients."""
    words, regression = model.steps[0][1], model.steps[1][1]
    coef = regression.coef_
    terms = {
        term: [_short(words.idf_[i]), *(_short(c) for c in coef[:, i])]
        for term, i in sorted(words.vocabulary_.items())
    }
    return {
        "levels": [int(level) for level in regression.classes_],
        "intercepts": [_short(b) for b in regression.intercept_],
        "terms": terms,
    }


def _short(x: float) -> float:
    """Six significant digits: half the file, and probabilities within 1e-5."""
    return float(f"{x:.6g}")


def write(data: dict[str, list[tuple[str, int, int]]]) -> None:
    rows = [row for more in data.values() for row in more]
    texts = [t for t, _, _ in rows]
    model = fitted(texts, [label for _, label, _ in rows])
    weights = weights_of(model)
    ours = severity_model.weights_from(weights)
    theirs = model.predict_proba(texts)
    ours = dataclasses.replace(ours, min_known=0)  # every text, however short
    worst = max(
        abs(severity_model.probabilities(ours, text)[level] - p)
        for text, row in zip(texts, theirs, strict=True)
        for level, p in zip(weights["levels"], row, strict=True)
    )
    if worst > 1e-5:
        sys.exit(f"severity_model.probabilities differs from scikit-learn's by {worst:.2e}")
    MODEL.write_text(json.dumps(weights, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(
        f"wrote {MODEL.relative_to(ROOT)}: {len(weights['terms'])} terms from {len(rows)} new"
        f" tickets of {len(data)} corpora; largest difference to scikit-learn {worst:.1e}"
    )


def figures(truth: list[int], guess: list[int]) -> str:
    hits = sum(t == g for t, g in zip(truth, guess, strict=True))
    tp = sum(t == 1 and g == 1 for t, g in zip(truth, guess, strict=True))
    critical, called = truth.count(1), guess.count(1)
    recall = f"{100 * tp / critical:5.1f}" if critical else "    -"
    precision = f"{100 * tp / called:5.1f}" if called else "    -"
    return f"{100 * hits / len(truth):5.1f} {recall} {precision}"


def main() -> None:
    if sys.argv[1:] not in ([], ["--write"]):
        print("usage: bench/severity_model.py [--write]", file=sys.stderr)
        sys.exit(2)
    try:
        import sklearn  # noqa: F401  (the one extra this script needs)
    except ImportError:
        sys.exit(
            "bench/severity_model.py needs scikit-learn: .venv/bin/pip install -e '.[research]'"
        )
    data = {corpus.name: new_tickets(corpus) for corpus in corpora()}
    if sys.argv[1:] == ["--write"]:
        write(data)
        return
    print(f"{'left out':10} {'n':>3}  {'rules':>17}  {'model':>17}  {'both':>17}")
    pooled: dict[str, list[int]] = {"truth": [], "rules": [], "model": [], "both": []}
    for name, rows in data.items():
        if name == SAMPLES.name:
            continue  # training only: the rules were written on it, no blind run exists
        train = [row for other, more in data.items() if other != name for row in more]
        model = fitted([t for t, _, _ in train], [label for _, label, _ in train])
        weights = severity_model.weights_from(weights_of(model))
        texts = [t for t, _, _ in rows]
        found = {
            "truth": [label for _, label, _ in rows],
            "rules": [r for _, _, r in rows],
            "model": [int(g) for g in model.predict(texts)],
            "both": [both(text, weights) for text in texts],
        }
        cells = "  ".join(f"{figures(found['truth'], found[k]):>17}" for k in SYSTEMS)
        print(f"{name:10} {len(rows):3}  {cells}")
        for key, values in found.items():
            pooled[key].extend(values)
    cells = "  ".join(f"{figures(pooled['truth'], pooled[k]):>17}" for k in SYSTEMS)
    print(f"{'pooled':10} {len(pooled['truth']):3}  {cells}")


SYSTEMS = ("rules", "model", "both")


def both(text: str, weights: severity_model.Weights) -> int:
    """The severity sepdesk judges (rules and model) with these weights."""
    subject, _, own = text.partition("\n")
    return classify.judge_severity(subject, own, weights)[0]


if __name__ == "__main__":
    main()
