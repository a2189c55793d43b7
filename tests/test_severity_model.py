"""The learned severity model: its arithmetic, its weights file, and how the severity
judgement uses it (it overrules the rules where it is sure, never lowers their Critical,
never raises to Critical against what the mail says)."""

from __future__ import annotations

import logging
import math
from importlib import resources
from pathlib import Path

import pytest

from sepdesk.pipeline import severity_model
from sepdesk.pipeline.classify import judge_severity, rules_severity
from sepdesk.pipeline.severity_model import Weights, probabilities, terms_of, weights_from

LEVELS = (1, 2, 3, 4)


def _sure_of(level: int) -> Weights:
    """Weights that give ``level`` P 0.9999 whatever the text."""
    return Weights(LEVELS, tuple(10.0 if lv == level else 0.0 for lv in LEVELS), {}, min_known=0)


def _at(level: int, p: float) -> Weights:
    """Weights that give ``level`` exactly P ``p`` and the rest the same share of 1 - p."""
    rest = math.log((1 - p) / 3)
    return Weights(
        LEVELS, tuple(math.log(p) if lv == level else rest for lv in LEVELS), {}, min_known=0
    )


def test_terms_are_words_of_two_letters_and_their_pairs_lower_cased() -> None:
    assert terms_of("Der Server STEHT, der Server!") == {
        "der": 2,
        "server": 2,
        "steht": 1,
        "der server": 2,
        "server steht": 1,
        "steht der": 1,
    }
    assert terms_of("a b") == {}  # one letter is no word, as scikit-learn's default


def test_probabilities_are_sublinear_tfidf_normalised_through_a_softmax() -> None:
    terms = {"server": [2.0, 1.5, -0.5, 0.0, 0.0], "steht": [1.0, 3.0, 0.0, 0.0, 0.0]}
    weights = Weights(LEVELS, (-1.0, 0.5, 0.0, 0.0), terms, min_known=0)
    server, steht = (1 + math.log(2)) * 2.0, 1.0
    norm = math.hypot(server, steht)
    one = -1.0 + (server * 1.5 + steht * 3.0) / norm
    two = 0.5 + (server * -0.5) / norm
    total = math.exp(one) + math.exp(two) + 2 * math.exp(0.0)
    p = probabilities(weights, "Server server steht x")
    assert p is not None and p[1] == pytest.approx(math.exp(one) / total, abs=1e-12)
    assert p[2] == pytest.approx(math.exp(two) / total, abs=1e-12)
    assert sum(p.values()) == pytest.approx(1.0)


def test_a_text_of_no_known_word_gets_the_intercepts_probabilities() -> None:
    weights = Weights(LEVELS, (0.5, 0.0, 0.0, 0.0), {"server": [2.0, 1.5, 0, 0, 0]}, 0)
    for text in ("nichts davon", ""):
        p = probabilities(weights, text)
        assert p is not None and p[1] == pytest.approx(math.exp(0.5) / (math.exp(0.5) + 3))


def test_the_model_does_not_speak_on_fewer_known_terms_than_its_minimum() -> None:
    terms = {"server": [2.0, 1.5, 0.0, 0.0, 0.0]}
    weights = Weights(LEVELS, (0.5, 0.0, 0.0, 0.0), terms, min_known=2)
    assert probabilities(weights, "server") is None
    assert probabilities(weights, "server server") is None  # one term, twice
    assert probabilities(Weights(LEVELS, (0.5, 0.0, 0.0, 0.0), terms, 1), "server")


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, la sauvegarde ne fonctionne plus depuis hier. Merci",
        "Die nächtliche Sicherung des Fileservers schlägt fehl.",
    ],
)
def test_a_short_or_foreign_text_is_judged_by_the_rules_alone(text: str) -> None:
    assert probabilities(severity_model.shipped(), text) is None
    assert judge_severity("", text) == rules_severity("", text)


GOOD = {"levels": [1, 2, 3, 4], "intercepts": [0.0] * 4, "terms": {"a": [1.0, 2.0, 0, 0, 0]}}


@pytest.mark.parametrize(
    "data",
    [
        {**GOOD, "intercepts": "x"},
        {**GOOD, "terms": []},
        {**GOOD, "intercepts": [0.0]},
        {**GOOD, "levels": [1, 2]},
        {**GOOD, "levels": [4, 3, 2, 1]},
        {**GOOD, "terms": {"a": [1.0, 2.0]}},
        {},
    ],
)
def test_malformed_weights_are_refused_in_one_clear_error(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="severity model"):
        weights_from(data)


def test_well_formed_weights_are_read() -> None:
    weights = weights_from(GOOD)
    assert weights.levels == LEVELS and weights.terms["a"] == [1.0, 2.0, 0, 0, 0]


@pytest.mark.parametrize(
    "content", [None, b'{"levels": [1, 2', b"\xff\xfe", b'{"levels": [1, 2], "intercepts": []}']
)
def test_unreadable_weights_give_one_error_line_and_no_model(
    content: bytes | None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "severity_model.json"
    if content is not None:
        source.write_bytes(content)
    with caplog.at_level(logging.ERROR, logger="sepdesk.pipeline.severity_model"):
        assert severity_model.load(source) is None
    [record] = caplog.records
    message = record.getMessage()
    assert "\n" not in message and str(source) in message
    assert message.endswith("severities by the rules alone; reinstall sepdesk")


def test_without_readable_weights_the_rules_alone_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(severity_model, "shipped", lambda: None)
    text = UNSAVED_WEEK  # a Major by the model, Minor by the rules (see below)
    assert judge_severity("Sicherung schlägt fehl", text) == rules_severity(
        "Sicherung schlägt fehl", text
    )


def test_the_shipped_weights_are_read() -> None:
    source = resources.files("sepdesk.pipeline").joinpath(severity_model.MODEL_FILE)
    weights = severity_model.load(source)
    assert weights is not None and weights.levels == LEVELS and len(weights.terms) > 10_000


UNSAVED_WEEK = (
    "Hallo,\nseit drei Nächten schlägt die Sicherung unserer Warenwirtschaftsdatenbank fehl, "
    "die Buchhaltung und der Versand arbeiten zwar weiter, aber die letzte gute Sicherung "
    "ist vom Montag. Wenn jetzt etwas passiert, verlieren wir die Buchungen der ganzen Woche. "
    "Der Geschäftsführer ist sehr beunruhigt. SEP sesam 5.1.0.4 auf Windows Server 2022, "
    "Sicherung auf eine Synology.\nGruß\nJan Becker"
)


def test_the_shipped_model_changes_a_level_the_rules_read_lower() -> None:
    # The counterpart of the test above: with the weights, this mail is the model's Major.
    assert rules_severity("Sicherung schlägt fehl", UNSAVED_WEEK)[0] == 3
    assert judge_severity("Sicherung schlägt fehl", UNSAVED_WEEK)[0] == 2


def test_the_shipped_weights_tell_a_plain_critical_from_a_question() -> None:
    weights = severity_model.shipped()
    critical = probabilities(
        weights,
        "Restore der Warenwirtschaft scheitert\nGuten Morgen, seit heute Nacht ist die "
        "Datenbank unserer Warenwirtschaft defekt. Die Rücksicherung bricht jedes Mal ab, "
        "die älteren Sicherungen vom Wochenende ebenso. Kein Lager kann arbeiten, kein Paket "
        "geht raus, die Kassen stehen. Bitte rufen Sie uns dringend zurück. Gruß, Max Berger",
    )
    question = probabilities(
        weights,
        "Frage zur Konfiguration\nGuten Tag, wie kann ich in der GUI den Empfänger der "
        "Benachrichtigungen ändern? Die Mails sollen künftig an unsere neue Adresse gehen. "
        "Die Sicherungen laufen alle ohne Probleme. Vielen Dank und freundliche Grüße, "
        "Anna Vogt, IT-Abteilung",
    )
    assert critical is not None and max(critical, key=critical.__getitem__) == 1
    assert question is not None and max(question, key=question.__getitem__) == 4


def test_telling_terms_are_those_that_speak_most_for_the_level() -> None:
    weights = Weights(
        LEVELS,
        (0.0, 0.0, 0.0, 0.0),
        {
            "steht": [1.0, 2.0, 0.0, 0.0, 0.0],  # for Critical
            "kein paket": [2.0, 0.9, 0.0, 0.0, 0.0],  # for Critical, a little less
            "langsam": [1.0, 0.0, 3.0, 0.0, 0.0],  # for Major
            "server": [1.0, 0.1, 0.1, 0.1, 0.1],  # for none
        },
        min_known=0,
    )
    text = "Server steht, kein Paket, langsam"
    assert severity_model.telling_terms(weights, text, 1) == ["steht", "kein paket"]
    assert severity_model.telling_terms(weights, text, 1, count=1) == ["steht"]
    assert severity_model.telling_terms(weights, text, 2) == ["langsam"]


def test_the_reason_names_the_words_that_told_the_model() -> None:
    weights = Weights(LEVELS, (0.0, 0.0, 0.0, 0.0), {"fehl": [1.0, 0.0, 0.0, 0.0, 0.0]}, 0)
    weights.terms["nächtliche"] = [1.0, 0.0, 0.0, 0.0, 20.0]
    severity, reasons = judge_severity("", "Die nächtliche Sicherung schlägt fehl.", weights)
    assert severity == 4
    assert reasons[0].startswith("worded like the Cosmetic requests the model learned from (P ")
    assert reasons[0].endswith('; "nächtliche")')


def test_the_model_raises_what_the_rules_judged_lower_and_says_so() -> None:
    text = "Die nächtliche Sicherung des Fileservers schlägt fehl."
    assert rules_severity("", text)[0] == 3
    severity, reasons = judge_severity("", text, _sure_of(1))
    assert severity == 1
    assert reasons[0] == "worded like the Critical requests the model learned from (P 1.00)"
    assert reasons[1].startswith("the rules alone: Minor (")


def test_the_model_sets_another_level_where_it_is_sure() -> None:
    text = "Die nächtliche Sicherung des Fileservers schlägt fehl."
    assert judge_severity("", text, _sure_of(2))[0] == 2
    assert judge_severity("", text, _sure_of(4))[0] == 4
    # Agreeing with the rules, it leaves their reasons.
    assert judge_severity("", text, _sure_of(3)) == rules_severity("", text)


def test_the_model_below_its_thresholds_changes_nothing() -> None:
    text = "Die nächtliche Sicherung des Fileservers schlägt fehl."
    for weights in (
        _at(1, severity_model.CRITICAL_AT - 0.01),
        _at(2, severity_model.LEVEL_AT - 0.01),
    ):
        assert judge_severity("", text, weights) == rules_severity("", text)
    assert judge_severity("", text, _at(1, severity_model.CRITICAL_AT + 0.01))[0] == 1
    assert judge_severity("", text, _at(2, severity_model.LEVEL_AT + 0.01))[0] == 2


def test_the_model_never_lowers_a_critical_of_the_rules() -> None:
    text = (
        "Der Restore der Datenbank bricht ab, die älteren Sicherungen ebenso. "
        "Die Produktion steht, niemand kann arbeiten."
    )
    assert rules_severity("", text)[0] == 1
    for level in (2, 3, 4):
        assert judge_severity("", text, _sure_of(level)) == rules_severity("", text)


@pytest.mark.parametrize(
    "text",
    [
        # SPEC's Critical is for production systems after the test phase...
        "Auf unserem Testsystem schlägt die Rücksicherung fehl, die älteren Sicherungen auch.",
        # ...with no workaround...
        "The restore fails and so do the older backups; as a workaround we restore from "
        "the replica.",
        # ...and the business halted, not going on.
        "Die Rücksicherung scheitert, die älteren Sicherungen ebenso. Der Betrieb läuft "
        "normal weiter.",
        # A failure put right is the story before the question.
        "Gestern schlug der Restore fehl, seit dem Neustart läuft wieder alles.",
    ],
)
def test_the_model_does_not_raise_to_critical_against_what_the_mail_says(text: str) -> None:
    assert judge_severity("", text, _sure_of(1)) == rules_severity("", text)
    assert judge_severity("", text, _sure_of(1))[0] != 1
