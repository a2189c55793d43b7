"""bench/understanding.py's --rules-alone: the rules' own figures beside those with the model."""

from __future__ import annotations

import re

import pytest

from sepdesk.pipeline import severity_model
from tests.conftest import bench_understanding
from tests.test_heldout import CORPUS


def _severity_right(out: str) -> int:
    found = re.search(r"^severity exact accuracy +(\d+)/27 = ", out, re.M)
    assert found, out
    return int(found.group(1))


def test_rules_alone_leave_the_model_out_and_put_it_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = bench_understanding()
    corpus = str(CORPUS / "heldout22")  # the rules alone read it worse than with the model
    shipped = severity_model.shipped
    assert bench.main(["--pure", corpus]) == 0
    with_model = _severity_right(capsys.readouterr().out)
    assert bench.main(["--pure", "--rules-alone", corpus]) == 0
    rules_alone = _severity_right(capsys.readouterr().out)
    assert rules_alone < with_model  # 15 and 25 of 27 when written
    assert severity_model.shipped is shipped  # the model is back for whatever runs next


def test_rules_alone_without_pure_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        bench_understanding().main(["--rules-alone", str(CORPUS / "heldout22")])
    assert exit_.value.code == 2
    assert "--rules-alone needs --pure" in capsys.readouterr().err


def test_a_follow_up_is_read_with_the_tickets_own_texts_as_the_pipeline_does() -> None:
    """The original's quoted history ends its own text; the follow-up after it still counts."""
    from sepdesk.pipeline.parse import parse_mail
    from tests.conftest import SAMPLES

    bench = bench_understanding()
    index = bench.ContractIndex.build(bench.load_contracts(SAMPLES / "contracts.csv"))
    head = b"From: a@x.example\nTo: support@sep.example\nSubject: %s\n\n"
    original = parse_mail(
        head % b"Sicherung schlaegt fehl"
        + b"Die Sicherung schlaegt fehl.\n\n-----Original Message-----\n"
        + b"From: b@x.example\n\nold text\n"
    )
    follow_up = parse_mail(head % b"AW: [T-2026-000001]" + b"Einstufung: Minor\n")
    result = bench._pure_one(index, follow_up, original)
    assert "classification" not in result.missing_info


def test_the_pure_run_matches_the_customer_on_the_html_part_too() -> None:
    """As the pipeline does (Work.customer reads all_text): a number only in an HTML
    signature names the customer."""
    from sepdesk.pipeline.parse import parse_mail
    from tests.conftest import SAMPLES

    bench = bench_understanding()
    index = bench.ContractIndex.build(bench.load_contracts(SAMPLES / "contracts.csv"))
    number = next(iter(index.by_number))
    raw = (
        "From: someone@unregistered.example\nTo: support@sep.example\nSubject: Frage\n"
        'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nWie richte ich das ein?\n"
        "--b\nContent-Type: text/html\n\n<p>Wie richte ich das ein?</p>"
        f"<table><tr><td>SEP customer no. {number}</td></tr></table>\n--b--\n"
    )
    result = bench._pure_one(index, parse_mail(raw.encode()), None)
    assert result.customer_number == number
