"""A sender saying the very same again on a ticket: an autoresponder without loop headers.

A customer's out-of-office and an engineer's, neither marking its replies (no
Auto-Submitted, no automatic subject), answered each other through the desk without end:
each customer follow-up was a team notice, each authenticated staff reply was relayed
to the customer (review finding). People rarely send the same words twice within a day;
an autoresponder always does. The second time they are stored on the ticket and passed
on to no one.

Only copies that went on count: a staff address's mail that failed authentication, or
an engineer's whose commands were wrong or impossible, was kept but passed on to no one,
and its sender was told so; the same mail sent again (authenticated, or once the ticket
allows the command) is no repeat (review finding: it was dropped as an autoresponder).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sepdesk.instants import to_db
from sepdesk.pipeline.classify import own_text
from sepdesk.pipeline.work import Work

REPEAT_WINDOW = timedelta(hours=24)
# The kinds of kept copies that went on to no one (followup.py, engineer.py).
UNVERIFIED, REFUSED = "unverified", "refused"
_LOOKBACK = 3  # the sender's latest messages on the ticket compared (its last reply is one)


def said_before(work: Work, ticket: dict[str, Any]) -> bool:
    """Whether this mail's sender wrote the same own words (quoted history aside,
    whitespace aside) on ``ticket`` within REPEAT_WINDOW before it, in a copy that was
    not refused (see the module's docstring)."""
    words = _words(work.parsed.text)
    if not words:
        return False
    rows = work.desk.db.execute(
        "SELECT body FROM messages WHERE ticket_id = ? AND from_addr = ? AND at >= ?"
        " AND at <= ? AND coalesce(intake_id, -1) != ? AND kind NOT IN (?, ?)"
        " ORDER BY id DESC LIMIT ?",
        [
            ticket["id"],
            work.parsed.from_addr,
            to_db(work.received_at - REPEAT_WINDOW),
            to_db(work.received_at),
            work.intake_id,
            UNVERIFIED,
            REFUSED,
            _LOOKBACK,
        ],
    ).fetchall()
    return any(_words(body or "") == words for (body,) in rows)


def _words(text: str) -> str:
    return " ".join(own_text(text).split()).lower()
