"""The benches' mails (bench/corpus.py): unique copies that the pipeline treats as the originals.

The corpus is cycled to N mails; each copy gets a made-up word after its Subject
so that no cache keyed by text answers for a later copy. That word must change
nothing the desk decides, or the benches would measure other work than the
samples ask for.
"""

from __future__ import annotations

import email
import email.utils
import re
from datetime import datetime
from pathlib import Path

from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.intake.store import store_raw
from sepdesk.pipeline.runner import process_batch
from sepdesk.store import write_tx
from tests.conftest import CONTRACTS, T0, bench_module, make_settings

corpus = bench_module("corpus")
N_SAMPLES = len(list((corpus.SAMPLES / "mails").glob("*.eml")))


def test_every_copy_has_its_own_subject_and_message_id() -> None:
    mails = corpus.sample_mails(2 * N_SAMPLES + 3)
    parsed = [email.message_from_bytes(raw) for raw in mails]
    assert len({m["Subject"] for m in parsed}) == len(mails)
    assert len({m["Message-ID"] for m in parsed}) == len(mails)


def test_the_word_is_appended_and_has_no_digits() -> None:
    for i, (raw, copy) in enumerate(zip(_originals(), corpus.sample_mails(N_SAMPLES), strict=True)):
        before = str(email.message_from_bytes(raw)["Subject"])
        after = str(email.message_from_bytes(copy)["Subject"])
        assert after == f"{before} {corpus.made_up_word(i)}", (before, after)
    words = [corpus.made_up_word(i) for i in range(5000)]
    assert len(set(words)) == len(words)
    assert all(re.fullmatch("zq[qxz]+", w) for w in words)


def _originals() -> list[bytes]:
    return [p.read_bytes() for p in sorted((corpus.SAMPLES / "mails").glob("*.eml"))]


def _decisions(desk: Desk, mails: list[bytes]) -> list[dict]:
    with write_tx(desk.db):
        ids = [
            store_raw(desk.db, source="file", raw=raw, received_at=_date(raw)).intake_id
            for raw in mails
        ]
    for start in range(0, len(ids), 20):
        process_batch(desk, ids[start : start + 20])
    rows = desk.db.query(
        "SELECT i.outcome, t.customer_number, t.contract_state, t.severity, t.stated_severity,"
        " t.missing_info, t.language, t.versions, t.operating_systems, t.first_response_due"
        " FROM intake i LEFT JOIN tickets t ON t.id = i.ticket_id ORDER BY i.id"
    )
    return list(rows)


def _date(raw: bytes) -> datetime:
    return email.utils.parsedate_to_datetime(str(email.message_from_bytes(raw)["Date"]))


def test_the_pipeline_decides_the_same_for_the_copies_as_for_the_samples(tmp_path: Path) -> None:
    decided = []
    for marked in (True, False):
        desk = Desk.open(make_settings(tmp_path / str(marked)))
        import_csv(desk.db, CONTRACTS, T0)
        mails = corpus.sample_mails(N_SAMPLES) if marked else _originals()
        decided.append(_decisions(desk, mails))
        desk.close()
    assert decided[0] == decided[1]
    assert sum(r["outcome"] == "new_ticket" for r in decided[0]) > N_SAMPLES // 2
