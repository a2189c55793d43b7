"""Measures "understanding a request" against a labelled corpus: customer, severity, missing info, language.

Usage: ``python bench/understanding.py DIR [--pure [--rules-alone]]`` where DIR holds ``contracts.csv``,
``mails/*.eml`` and ``labels.json`` (the format of ../shared/samples).

By default DIR is replayed through the real pipeline (``sepdesk init``, ``contracts
import``, ``ingest --received-at header`` file by file, in a temporary directory; the
commands run in this process through click's runner) and each
ticket is read from its database (tickets: customer_number, contract_state, severity,
missing_info, language). ``--pure`` runs the rules directly instead (contracts.csv ->
ContractIndex, each mail -> parse_mail -> match_customer / contract_state / understand).
``--pure --rules-alone`` leaves the learned severity model out: the rules' own figures.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import re
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from sepdesk.contracts import default_end
from sepdesk.pipeline import severity_model
from sepdesk.pipeline.classify import FIELDS, own_text, understand
from sepdesk.pipeline.customers import (
    ContractIndex,
    ContractView,
    contract_state,
    match_customer,
)
from sepdesk.pipeline.parse import ParsedMail, parse_mail

TICKETED = ("new_ticket", "follow_up")
TZ = ZoneInfo("Europe/Berlin")
TAG = re.compile(r"\bT-\d{4}-\d{6}\b")


@dataclass(frozen=True)
class Result:
    """What the desk concluded about one mail (the ticket after it, for follow-ups)."""

    customer_number: str | None
    contract_state: str
    severity: int | None
    missing_info: tuple[str, ...]
    language: str
    why: str = ""


@dataclass
class Scores:
    customer_ok: int = 0
    customer_n: int = 0
    state_ok: int = 0
    severity_ok: int = 0
    severity_n: int = 0
    under: int = 0
    crit_tp: int = 0
    crit_fn: int = 0
    crit_fp: int = 0
    language_ok: int = 0
    field_counts: dict[str, list[int]] = field(default_factory=dict)  # field -> [tp, fp, fn]
    misses: list[str] = field(default_factory=list)

    def f1(self, name: str | None = None) -> tuple[float, float, float]:
        rows = [self.field_counts[name]] if name else list(self.field_counts.values())
        tp, fp, fn = (sum(r[i] for r in rows) for i in range(3))
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    @property
    def customer_accuracy(self) -> float:
        return self.customer_ok / self.customer_n if self.customer_n else 1.0

    @property
    def severity_accuracy(self) -> float:
        return self.severity_ok / self.severity_n if self.severity_n else 1.0

    @property
    def language_accuracy(self) -> float:
        return self.language_ok / self.severity_n if self.severity_n else 1.0

    @property
    def critical_recall(self) -> float:
        n = self.crit_tp + self.crit_fn
        return self.crit_tp / n if n else 1.0

    @property
    def critical_precision(self) -> float:
        n = self.crit_tp + self.crit_fp
        return self.crit_tp / n if n else 1.0


# ----------------------------------------------------------------------------- corpus


def load_contracts(path: Path) -> list[ContractView]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [_contract(row) for row in csv.DictReader(fh)]


def _contract(row: dict[str, str]) -> ContractView:
    start = date.fromisoformat(row["start"].strip())
    end = date.fromisoformat(row["end"].strip()) if row["end"].strip() else default_end(start)
    return ContractView(
        customer_number=row["customer_number"].strip(),
        customer_name=row["customer_name"].strip(),
        level=row["level"].strip(),
        start=start,
        end=end,
        contacts=tuple(c.strip().lower() for c in row["contacts"].split(";") if c.strip()),
        license_ids=tuple(c.strip() for c in row["license_ids"].split(";") if c.strip()),
        license_type=row["license_type"].strip(),
    )


def load_corpus(directory: Path) -> tuple[dict[str, dict], dict[str, ParsedMail]]:
    labels = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
    mails = {p.name: parse_mail(p.read_bytes()) for p in sorted((directory / "mails").glob("*"))}
    return labels, mails


def ticket_origins(labels: dict[str, dict]) -> dict[str, str]:
    """Ticket number -> file of the mail that opened it (the n-th new_ticket is T-YYYY-00000n)."""
    origins: dict[str, str] = {}
    for name in sorted(labels):
        if labels[name]["expected_outcome"] == "new_ticket":
            origins[f"n{len(origins) + 1}"] = name
    return origins


def _origin_of(name: str, mail: ParsedMail, labels: dict[str, dict]) -> str | None:
    tag = TAG.search(mail.subject)
    if not tag:
        return None
    return ticket_origins(labels).get(f"n{int(tag.group()[-6:])}")


# ----------------------------------------------------------------------------- pure run


def pure_results(directory: Path) -> tuple[dict[str, dict], dict[str, Result]]:
    """Run the pure rules on every ticketed mail of DIR."""
    labels, mails = load_corpus(directory)
    index = ContractIndex.build(load_contracts(directory / "contracts.csv"))
    results: dict[str, Result] = {}
    for name, label in labels.items():
        if label["expected_outcome"] not in TICKETED or name not in mails:
            continue
        mail = mails[name]
        origin = (
            _origin_of(name, mail, labels) if label["expected_outcome"] == "follow_up" else None
        )
        results[name] = _pure_one(index, mail, mails.get(origin) if origin else None)
    return labels, results


def _pure_one(index: ContractIndex, mail: ParsedMail, original: ParsedMail | None) -> Result:
    # What the pipeline matches on (Work.customer): the text with the HTML part's own words
    # (a number only in an HTML signature) and text attachments.
    match = match_customer(index, subject=mail.subject, text=mail.all_text(), sender=mail.from_addr)
    if original is not None and match.customer_number is None:
        match = match_customer(
            index, subject=original.subject, text=original.all_text(), sender=original.from_addr
        )
    when = mail.date or (original.date if original else None)
    day = when.astimezone(TZ).date() if when else date.today()
    contract = index.on_day(match.customer_number, day) if match.customer_number else None
    subject, text, attachments = mail.subject, mail.text, mail.attachments
    if original is not None:  # the ticket after a follow-up: both own texts, as the pipeline
        subject, text = original.subject, f"{_own(original)}\n\n{_own(mail)}"
        attachments = (*original.attachments, *mail.attachments)
    u = understand(subject, text, attachments)
    return Result(
        match.customer_number,
        contract_state(contract, day),
        u.severity,
        u.missing_info,
        u.language,
        f"{match.reason} | {'; '.join(u.severity_reasons)}",
    )


def _own(mail: ParsedMail) -> str:
    return own_text(mail.text)


# ----------------------------------------------------------------------------- db run


PIPELINE_CONFIG = """\
[desk]
support_address = "support@sep.example"
[database]
path = "{dir}/desk.db"
[smtp]
enabled = false
[outbox]
dir = "{dir}/outbox"
[hotline]
spool_dir = "{dir}/hotline"
[policy]
current_version = "{current}"
"""


def pipeline_results(
    directory: Path, workdir: Path, current_version: str = "5.1.0"
) -> tuple[dict[str, dict], dict[str, Result], dict[str, str]]:
    """Replay DIR through the real pipeline (``sepdesk init``, ``contracts import``, ``ingest``).

    Files go in one at a time in name order with their Date as received time; each ticket
    is read from the database right after its mail, because the labels describe a ticket
    as it is after that mail (a later follow-up must not change the original's figures).
    Returns the labels, the results and each file's ingest outcome.
    """
    labels, mails = load_corpus(directory)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "sepdesk.toml"
    config.write_text(PIPELINE_CONFIG.format(dir=workdir, current=current_version))
    _cli(config, "init")
    _cli(config, "contracts", "import", str(directory / "contracts.csv"))
    results: dict[str, Result] = {}
    outcomes: dict[str, str] = {}
    for name in sorted(mails):
        out = _cli(
            config, "ingest", "--received-at", "header", "--json", str(directory / "mails" / name)
        )
        record = json.loads(out)[0]
        outcomes[name] = record["outcome"]
        if name in labels and labels[name]["expected_outcome"] in TICKETED:
            results[name] = _ticket_result(workdir / "desk.db", record.get("ticket"))
    return labels, results, outcomes


def _cli(config: Path, *args: str) -> str:
    """``sepdesk --config CONFIG ARGS``: the command's own code, output and exit code, run
    in this process. A process per mail cost about 0.9 s of interpreter start and imports
    (the rule patterns' analysis among them), most of a corpus's replay."""
    from click.testing import CliRunner

    from sepdesk.cli import main

    main._register()  # what the console script's main() does first
    done = CliRunner().invoke(main.cli, ["--config", str(config), *args], prog_name="sepdesk")
    crashed = done.exception is not None and not isinstance(done.exception, SystemExit)
    if crashed or done.exit_code not in (0, 1):
        raise RuntimeError(f"sepdesk {' '.join(args)}: {done.exception or done.stderr.strip()}")
    return done.stdout


def _ticket_result(db: Path, ticket: str | None) -> Result:
    """One ticket row as a Result (columns: customer_number, contract_state, severity, ...)."""
    if not ticket:
        return Result(None, "none", None, (), "?", "no ticket")
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        row = con.execute("SELECT * FROM tickets WHERE ticket_number = ?", [ticket]).fetchone()
    finally:
        con.close()
    if row is None:
        return Result(None, "none", None, (), "?", f"{ticket} not in the database")
    return Result(
        row["customer_number"],
        row["contract_state"],
        row["severity"],
        tuple(json.loads(row["missing_info"] or "[]")),
        row["language"],
        f"{ticket} {row['status']}: {row['match_reason']} | {row['severity_reasons']}",
    )


def score_outcomes(labels: dict[str, dict], outcomes: dict[str, str]) -> tuple[int, list[str]]:
    wrong = [
        f"{name}: outcome {got} != {labels[name]['expected_outcome']}"
        for name, got in sorted(outcomes.items())
        if name in labels and got != labels[name]["expected_outcome"]
    ]
    return len(outcomes) - len(wrong), wrong


# ----------------------------------------------------------------------------- scoring


def score(labels: dict[str, dict], results: dict[str, Result]) -> Scores:
    s = Scores(field_counts={f: [0, 0, 0] for f in FIELDS})
    for name in sorted(results):
        _score_one(s, name, labels[name], results[name])
    return s


def _score_one(s: Scores, name: str, label: dict, got: Result) -> None:
    s.customer_n += 1
    if got.customer_number == label["customer_number"]:
        s.customer_ok += 1
    else:
        s.misses.append(
            f"{name}: customer {got.customer_number} != {label['customer_number']} ({got.why})"
        )
    if got.contract_state in (label["contract_state"], "?"):
        s.state_ok += 1
    else:
        s.misses.append(f"{name}: contract {got.contract_state} != {label['contract_state']}")
    _score_severity(s, name, label["severity"], got)
    _score_fields(s, name, set(label["missing_info"]), set(got.missing_info))
    if got.language == label["language"]:
        s.language_ok += 1
    else:
        s.misses.append(f"{name}: language {got.language} != {label['language']}")


def _score_severity(s: Scores, name: str, want: int, got: Result) -> None:
    s.severity_n += 1
    s.severity_ok += got.severity == want
    s.under += bool(got.severity and got.severity > want)
    s.crit_tp += want == 1 and got.severity == 1
    s.crit_fn += want == 1 and got.severity != 1
    s.crit_fp += want != 1 and got.severity == 1
    if got.severity != want:
        s.misses.append(f"{name}: severity {got.severity} != {want} ({got.why.split(' | ')[-1]})")


def _score_fields(s: Scores, name: str, want: set[str], got: set[str]) -> None:
    for f in FIELDS:
        counts = s.field_counts[f]
        counts[0] += f in want and f in got
        counts[1] += f in got and f not in want
        counts[2] += f in want and f not in got
    if want != got:
        extra, lacking = sorted(got - want), sorted(want - got)
        s.misses.append(f"{name}: missing_info extra {extra} not found {lacking}")


# ----------------------------------------------------------------------------- report


def report(s: Scores) -> Iterable[str]:
    yield f"customer match accuracy   {s.customer_ok}/{s.customer_n} = {s.customer_accuracy:.1%}"
    yield f"contract state accuracy   {s.state_ok}/{s.customer_n}"
    yield f"severity exact accuracy   {s.severity_ok}/{s.severity_n} = {s.severity_accuracy:.1%}"
    yield f"critical recall           {s.critical_recall:.1%}  precision {s.critical_precision:.1%}"
    yield f"under-classified          {s.under}"
    yield f"language accuracy         {s.language_ok}/{s.severity_n} = {s.language_accuracy:.1%}"
    yield "missing info              precision  recall  F1"
    for name in (*FIELDS, None):
        p, r, f = s.f1(name)
        yield f"  {name or 'overall':<22}  {p:9.1%}  {r:6.1%}  {f:.3f}"
    yield f"misses ({len(s.misses)}):"
    yield from (f"  {m}" for m in s.misses)


@contextlib.contextmanager
def _without_model() -> Iterator[None]:
    """No shipped weights meanwhile: judge_severity then keeps the rules' judgement, as
    when the file cannot be read (severity_model.load)."""
    shipped = severity_model.shipped
    severity_model.shipped = lambda: None  # type: ignore[assignment]
    try:
        yield
    finally:
        severity_model.shipped = shipped  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument(
        "--pure", action="store_true", help="run the pure rules only, not the pipeline"
    )
    parser.add_argument(
        "--rules-alone",
        action="store_true",
        help="with --pure: severity by the hand-written rules, without the learned model",
    )
    parser.add_argument("--current-version", default="5.1.0")
    args = parser.parse_args(argv)
    if args.rules_alone and not args.pure:
        parser.error("--rules-alone needs --pure (the pipeline runs in other processes)")
    if args.pure:
        with _without_model() if args.rules_alone else contextlib.nullcontext():
            labels, results = pure_results(args.dir)
        lines = list(report(score(labels, results)))
    else:
        with tempfile.TemporaryDirectory(prefix="sepdesk-bench-") as tmp:
            labels, results, outcomes = pipeline_results(args.dir, Path(tmp), args.current_version)
        ok, wrong = score_outcomes(labels, outcomes)
        lines = [f"ingest outcome accuracy   {ok}/{len(outcomes)}", *wrong]
        lines += list(report(score(labels, results)))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
