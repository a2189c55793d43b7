"""``sepdesk ingest``: raw RFC 5322 files through the same intake row and pipeline as SMTP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path

from sepdesk.desk import Desk
from sepdesk.errors import InputError
from sepdesk.instants import now, within_range
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.pipeline.parse import leading_junk_skipped, message_date


@dataclass(frozen=True)
class IngestRecord:
    file: str
    outcome: str
    ticket: str | None
    reason: str


def header_date(raw: bytes) -> datetime | None:
    """The Date header of raw bytes, for replays that use it as the received time."""
    head = leading_junk_skipped(raw)[0]  # read as the pipeline reads it
    return message_date(BytesHeaderParser(policy=compat32).parsebytes(head))


# How much of an oversize file is searched for the end of its header: a header larger
# than this is cut at a line end (the quarantine entry needs its Message-ID and From).
HEADER_CAP = 1 << 20
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def read_mail(path: Path, limit: int) -> tuple[bytes, bool]:
    """The file's bytes, or only its header when it holds more than ``limit`` bytes
    (then True). Never more than ``limit`` + 1 bytes are read: an mbox export of a
    gigabyte was read whole, then stopped the whole ingest run with SQLite's "string
    or blob too big" (review finding)."""
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) <= limit:
        return data, False
    head = data[:HEADER_CAP]
    end = _HEADER_END.search(head)
    if end:
        return head[: end.end()], True
    return head[: head.rfind(b"\n") + 1] or head, True


def _size(path: Path) -> str:
    """The file's size for the reason text ("more than" where it cannot be told)."""
    try:
        return f"{path.stat().st_size} bytes"
    except OSError:
        return "more bytes"


def ingest_file(desk: Desk, path: Path, received_at: datetime | str | None = None) -> IngestRecord:
    """Store and process one file. ``received_at``: an instant, "header" (its Date), or None (now)."""
    limit = desk.settings.smtp.max_message_bytes
    raw, oversize = read_mail(path, limit)
    if received_at == "header":
        when = header_date(raw)
        if when is None:
            raise InputError(f"{path}: no usable Date header for --received-at header")
        # The range a typed --received-at is held to.
        within_range(when, f"{path}: Date header {when.isoformat()}")
    else:
        when = received_at if isinstance(received_at, datetime) else now()
    stored = store_raw(desk.db, source="file", raw=raw, received_at=when, mail_from="", rcpt_to=[])
    if oversize:
        reason = (
            f"{runner.HEADERS_ONLY}: {_size(path)} over the limit of {limit} ([smtp]"
            f" max_message_bytes); only the header was stored, the message is the file {path}"
        )
        runner.quarantine_oversize(desk, stored.intake_id, reason)
    result = runner.process(desk, stored.intake_id)
    return IngestRecord(str(path), result.outcome or result.state, result.ticket, result.reason)
