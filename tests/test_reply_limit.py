"""The per-sender limit on automatic replies (SPEC §4, ``max_auto_replies_per_day``).

It stops mail loops: it counts the desk's automatic answers to incoming mail. A phone
call's confirmation answers no mail, so it does not count; and an acknowledgement the
limit holds back is put where an engineer sees it (an event on the ticket, a log line).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sepdesk.contracts import import_csv
from sepdesk.desk import Desk
from sepdesk.hotline.importer import import_file
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import answer, runner
from tests.conftest import CONTRACTS, T0, make_settings, write_toml
from tests.test_hotline import AT, MUELLER, row, write_csv


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Desk]:
    answer._WARNED.clear()  # which addresses were warned of is per process
    d = Desk.open(make_settings(tmp_path, desk={"max_auto_replies_per_day": 2}))
    import_csv(d.db, CONTRACTS, T0)
    yield d
    d.close()


def send(desk: Desk, sender: str, n: int, minutes: int) -> str:
    """A customer's new request by mail, processed ``minutes`` after AT; its ticket number."""
    raw = (
        f"From: {sender}\r\nTo: support@sep.example\r\nSubject: Restore fails {n}\r\n"
        f"Message-ID: <m{n}@example.org>\r\nDate: Mon, 23 Nov 2026 15:00:00 +0100\r\n"
        f"\r\nOur restore fails with error {n}.\r\n"
    ).encode()
    at = AT + timedelta(minutes=minutes)
    stored = store_raw(desk.db, source="test", raw=raw, received_at=at)
    result = runner.process(desk, stored.intake_id, at)
    assert result.outcome == "new_ticket" and result.ticket
    return str(result.ticket)


def replies_to(desk: Desk, address: str, kind: str | None = None) -> list[str]:
    rows = desk.db.execute("SELECT kind, to_addrs FROM outbox ORDER BY id").fetchall()
    return [k for k, to in rows if address in json.loads(to) and kind in (None, k)]


def test_phone_confirmations_do_not_count_against_the_limit(limited: Desk, tmp_path: Path) -> None:
    calls = [row(f"L{i}", started_at=f"2026-11-23T1{i}:00:00") for i in range(3)]
    import_file(limited, write_csv(tmp_path / "calls.csv", calls), AT)
    assert replies_to(limited, MUELLER) == ["confirmation"] * 3
    send(limited, MUELLER, 1, 10)
    assert len(replies_to(limited, MUELLER, "confirmation")) == 3
    acks = [k for k in replies_to(limited, MUELLER) if k != "confirmation"]
    assert len(acks) == 1  # the customer's own mail is acknowledged, with its number


def test_an_ack_held_back_by_the_limit_is_on_the_ticket_and_in_the_log(
    limited: Desk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sender = "kim@unknown.example"
    with caplog.at_level("INFO"):
        numbers = [send(limited, sender, n, n) for n in range(3)]
    assert len(replies_to(limited, sender)) == 2
    held = [
        (t, json.loads(detail))
        for t, detail in limited.db.execute(
            "SELECT t.ticket_number, e.detail FROM events e JOIN tickets t ON t.id = e.ticket_id"
            " WHERE e.kind = 'reply_held' ORDER BY e.id"
        )
    ]
    assert [t for t, _ in held] == [numbers[2]]
    detail = held[0][1]
    assert detail["to"] == sender and detail["kind"] == "no_contract"
    assert "already had 2 automatic replies in 24 h" in detail["why"]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert any(numbers[2] in r.getMessage() and sender in r.getMessage() for r in warnings)
    with caplog.at_level("INFO"):
        more = [send(limited, sender, n, n) for n in range(3, 6)]
    held_count = limited.db.execute("SELECT count(*) FROM events WHERE kind = 'reply_held'")
    assert held_count.fetchone()[0] == 4  # every held ack is on its ticket
    about = [
        r for r in caplog.records if sender in r.getMessage() and "held back" in r.getMessage()
    ]
    # ...but a sender flooding the desk is one WARNING an hour, not one per mail
    assert [r.levelname for r in about] == ["WARNING", "INFO", "INFO", "INFO"]
    assert more[-1] in about[-1].getMessage()
    cfg = write_toml(tmp_path / "c.toml", {"database": {"path": limited.settings.database.path}})
    from sepdesk.cli import main

    main._register()
    res = CliRunner().invoke(main.cli, ["tickets", "show", numbers[2], "--config", str(cfg)])
    assert res.exit_code == 0 and "reply_held" in res.output
