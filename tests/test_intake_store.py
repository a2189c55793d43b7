"""store_raw: one committed intake row per message, idempotent on its source ref."""

from __future__ import annotations

from datetime import UTC, datetime

from sepdesk.desk import Desk
from sepdesk.intake.store import store_raw
from sepdesk.store import write_tx

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RAW = b"Subject: Re: T-2026-000123\r\nMessage-ID: <a@example.org>\r\n\r\nhello\r\n"


def rows(desk: Desk) -> list[tuple[str, str | None, int]]:
    sql = "SELECT source, source_ref, threaded FROM intake ORDER BY id"
    return [tuple(r) for r in desk.db.execute(sql).fetchall()]


def test_a_ref_stored_twice_is_one_row_alone_and_in_a_group_commit(desk: Desk) -> None:
    """In a caller's transaction store_raw is one statement without a savepoint of its
    own (a savepoint per message was 10% of the IMAP poller's CPU): still idempotent."""
    first = store_raw(desk.db, source="imap", raw=RAW, received_at=AT, source_ref="m/1/7")
    with write_tx(desk.db) as db:
        again = store_raw(db, source="imap", raw=RAW, received_at=AT, source_ref="m/1/7")
        other = store_raw(db, source="imap", raw=RAW, received_at=AT, source_ref="m/1/8")
        twice = store_raw(db, source="imap", raw=RAW, received_at=AT, source_ref="m/1/8")
    alone = store_raw(desk.db, source="imap", raw=RAW, received_at=AT, source_ref="m/1/8")
    assert first.new and other.new
    assert (again.intake_id, again.new) == (first.intake_id, False)
    assert (twice.intake_id, twice.new) == (alone.intake_id, False) == (other.intake_id, False)
    # Without a ref every store is a row of its own (SMTP, files).
    store_raw(desk.db, source="smtp", raw=RAW, received_at=AT)
    store_raw(desk.db, source="smtp", raw=RAW, received_at=AT)
    assert rows(desk) == [
        ("imap", "m/1/7", 1), ("imap", "m/1/8", 1), ("smtp", None, 1), ("smtp", None, 1)
    ]  # fmt: skip


def test_a_store_that_fails_in_a_group_commit_leaves_the_others(desk: Desk) -> None:
    """SMTP's group commit answers 451 to the one message whose store failed and keeps the
    rest: a failed statement undoes itself, no savepoint needed."""
    with write_tx(desk.db) as db:
        store_raw(db, source="smtp", raw=RAW, received_at=AT)
        try:
            store_raw(db, source="smtp", raw=RAW, received_at=datetime(2026, 11, 23))  # naive
        except ValueError:
            pass
        else:
            raise AssertionError("a naive received_at was stored")
        db.execute("CREATE TEMP TRIGGER no_x BEFORE INSERT ON intake WHEN NEW.mail_from = 'x'"
                   " BEGIN SELECT RAISE(ABORT, 'refused'); END")  # fmt: skip
        try:
            store_raw(db, source="smtp", raw=RAW, received_at=AT, mail_from="x")
        except Exception as exc:
            assert "refused" in str(exc)
        else:
            raise AssertionError("the trigger did not refuse the store")
        store_raw(db, source="smtp", raw=RAW, received_at=AT, mail_from="y")
    assert rows(desk) == [("smtp", None, 1), ("smtp", None, 1)]
