"""The emergency contract's single incident (SPEC §1 contracts), by mail and by phone.

Contract dates are local days of the desk (Europe/Berlin) while tickets store UTC
instants: a call at 00:01 on the contract's first day is 23:01 UTC the day before,
and must still count as the contract's incident.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

from sepdesk.contracts import COLUMNS, import_csv
from sepdesk.desk import Desk
from sepdesk.hotline.importer import import_file
from sepdesk.instants import day_start, to_db
from sepdesk.intake.files import ingest_file
from sepdesk.tickets import store as tickets
from sepdesk.tickets.acceptance import emergency_used_by
from tests.test_conversation import REQUEST  # a complete request
from tests.test_hotline import row, write_csv

FJORDVIK = "156902"  # emergency contract from 2026-11-14 (sample contracts)
FIRST_MINUTE = "2026-11-14T00:01:00"  # local: 2026-11-13T23:01Z
LATER_SAME_DAY = "2026-11-14T10:00:00"


def test_day_start_is_local_midnight_as_a_stored_instant() -> None:
    start = day_start(date(2026, 11, 14), "Europe/Berlin")
    assert to_db(start) == "2026-11-13T23:00:00+00:00"
    assert to_db(day_start(date(2026, 7, 1), "Europe/Berlin")) == "2026-06-30T22:00:00+00:00"


def _calls(desk: Desk, tmp_path: Path, *started: str) -> list[dict]:
    fjord = {"customer_number": FJORDVIK, "caller_email": "ops@fjordvik-shipping.no"}
    made = []
    for n, at in enumerate(started):
        src = write_csv(tmp_path / f"c{n}.csv", [row(f"EM{n}", started_at=at, **fjord)])
        results = []
        import_file(desk, src, datetime(2026, 11, 14, 12, tzinfo=UTC), on_result=results.append)
        made.append(tickets.find(desk.db, results[0].ticket or ""))
    return made


def test_phone_call_in_the_first_minute_uses_the_incident(
    sample_desk: Desk, tmp_path: Path
) -> None:
    first, second = _calls(sample_desk, tmp_path, FIRST_MINUTE, LATER_SAME_DAY)
    assert first["received_at"] == "2026-11-13T23:01:00+00:00"
    assert first["status"] == "accepted" and first["call_id"]
    assert second["status"] == "unqualified" and second["call_id"] is None
    used = emergency_used_by(sample_desk.db, FJORDVIK, date(2026, 11, 14), sample_desk.tz)
    assert used == first["call_id"]


def _mail(path: Path, subject: str, body: str = REQUEST) -> Path:
    msg = EmailMessage()
    msg["From"] = "Ola Nordmann <ops@fjordvik-shipping.no>"
    msg["To"] = "support@sep.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{path.stem}@fjordvik-shipping.no>"
    msg.set_content(body)
    path.write_bytes(msg.as_bytes())
    return path


def test_mail_in_the_first_minute_uses_the_incident(sample_desk: Desk, tmp_path: Path) -> None:
    first_at = datetime(2026, 11, 13, 23, 1, tzinfo=UTC)  # 00:01 Berlin on the start day
    one = ingest_file(sample_desk, _mail(tmp_path / "one.eml", "Restore fails"), first_at)
    two = ingest_file(
        sample_desk,
        _mail(tmp_path / "two.eml", "Another restore problem"),
        datetime(2026, 11, 14, 9, tzinfo=UTC),
    )
    first = tickets.find(sample_desk.db, one.ticket or "")
    second = tickets.find(sample_desk.db, two.ticket or "")
    assert first["status"] == "accepted" and first["call_id"]
    assert second["status"] == "unqualified" and second["call_id"] is None
    # The reply says why and how to get help: another Emergency Call, and the hotline
    # (black-box review: the hotline was missing from this reply alone).
    [body] = [
        r["body"]
        for r in sample_desk.db.query(
            "SELECT body FROM outbox WHERE ticket_id = ? AND kind = 'no_contract'", [second["id"]]
        )
    ]
    assert first["call_id"] in body
    assert sample_desk.settings.desk.hotline_phone in body


def test_a_completed_request_does_not_take_an_incident_another_call_used(
    sample_desk: Desk, tmp_path: Path
) -> None:
    """A needs-info ticket completed by a follow-up is accepted only if the emergency
    contract's one incident is still free."""
    vague = _mail(tmp_path / "vague.eml", "Problem", "Hello, it does not work.\n")
    day = datetime(2026, 11, 14, 8, tzinfo=UTC)
    first = tickets.find(sample_desk.db, ingest_file(sample_desk, vague, day).ticket or "")
    assert first["status"] == "needs-info"
    full = ingest_file(sample_desk, _mail(tmp_path / "full.eml", "Restore fails"), day)
    assert tickets.find(sample_desk.db, full.ticket or "")["status"] == "accepted"
    follow = _mail(tmp_path / "follow.eml", f"Re: [SEP {first['ticket_number']}] Problem")
    assert ingest_file(sample_desk, follow, day.replace(hour=9)).outcome == "follow_up"
    after = tickets.find(sample_desk.db, first["ticket_number"])
    assert after["status"] == "unqualified" and after["call_id"] is None
    assert after["first_response_due"] is None
    kinds = [
        r["kind"]
        for r in sample_desk.db.query(
            "SELECT kind FROM outbox WHERE ticket_id = ? ORDER BY id", [first["id"]]
        )
    ]
    assert kinds[-1] == "no_contract"


def test_a_renewed_emergency_contract_has_its_own_incident(
    sample_desk: Desk, tmp_path: Path
) -> None:
    """Fjordvik's Emergency Call runs 2026-11-14..12-13; one renewed from 12-14 is a period
    of its own with its one incident (review finding: a renewal imported in advance
    replaced the running contract). A request of the first period completed by a
    follow-up under the second is judged by its own day's period: its incident is free,
    whatever the renewal's call used."""
    renewal = tmp_path / "renewal.csv"
    renewal.write_text(
        f"{','.join(COLUMNS)}\n"
        f"{FJORDVIK},Fjordvik Shipping AS,emergency,2026-12-14,2027-01-13,"
        "@fjordvik-shipping.no,SL-6J5V-7719,full,no\n",
        encoding="utf-8",
    )
    import_csv(sample_desk.db, renewal, datetime(2026, 11, 14, tzinfo=UTC))
    vague = _mail(tmp_path / "vague.eml", "Problem", "Hello, it does not work.\n")
    nov = datetime(2026, 11, 20, 8, tzinfo=UTC)
    first = tickets.find(sample_desk.db, ingest_file(sample_desk, vague, nov).ticket or "")
    assert first["status"] == "needs-info"
    dec = datetime(2026, 12, 20, 8, tzinfo=UTC)
    renewed = ingest_file(sample_desk, _mail(tmp_path / "dec.eml", "Restore fails"), dec)
    assert tickets.find(sample_desk.db, renewed.ticket or "")["status"] == "accepted"
    follow = _mail(tmp_path / "follow.eml", f"Re: [SEP {first['ticket_number']}] Problem")
    assert ingest_file(sample_desk, follow, dec.replace(hour=9)).outcome == "follow_up"
    after = tickets.find(sample_desk.db, first["ticket_number"])
    assert after["status"] == "accepted" and after["call_id"]
    # The renewal's incident is used now: a third call in its period is not accepted.
    third = ingest_file(sample_desk, _mail(tmp_path / "third.eml", "Tape error"), dec)
    assert tickets.find(sample_desk.db, third.ticket or "")["status"] == "unqualified"
