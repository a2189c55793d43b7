"""Threading: which ticket an incoming mail belongs to (SPEC §2).

First an identifier in the subject (ticket number or Call ID, behind any
Re:/AW:/WG:/Fwd: and in any case), then In-Reply-To/References against
every Message-ID the desk has seen or sent.
"""

from __future__ import annotations

import re
from typing import Any

import sqlite_utils

from sepdesk.pipeline.parse import ParsedMail
from sepdesk.tickets import store as tickets

_IDENT = re.compile(r"\b([TC])\s*-\s*(\d{4})\s*-\s*(\d{5,6})\b", re.I)


def subject_refs(subject: str) -> list[str]:
    """Ticket numbers and Call IDs named in a subject, normalised (``T-2026-000123``)."""
    refs = []
    for kind, year, num in _IDENT.findall(subject):
        kind = kind.upper()
        if (kind == "T" and len(num) == 6) or (kind == "C" and len(num) == 5):
            refs.append(f"{kind}-{year}-{num}")
    return refs


def by_subject(db: sqlite_utils.Database, subject: str) -> tuple[dict[str, Any], str] | None:
    for ref in subject_refs(subject):
        ticket = tickets.find_opt(db, ref)
        if ticket:
            return ticket, f"subject names {ref}"
    return None


def by_message_ids(db: sqlite_utils.Database, ids: list[str]) -> tuple[dict[str, Any], str] | None:
    # Newest reference first: the message replied to is the best evidence.
    for mid in reversed(ids):
        row = db.execute(
            "SELECT ticket_id FROM messages WHERE message_id = ? ORDER BY id DESC LIMIT 1", [mid]
        ).fetchone()
        if row:
            return tickets.get(db, int(row[0])), f"In-Reply-To/References <{mid}>"
    return None


def find_thread(db: sqlite_utils.Database, mail: ParsedMail) -> tuple[dict[str, Any], str] | None:
    """The ticket a mail belongs to and how that was decided, or None for a new conversation."""
    ids = [*mail.references, mail.in_reply_to] if mail.in_reply_to else list(mail.references)
    return by_subject(db, mail.subject) or by_message_ids(db, [i for i in ids if i])
