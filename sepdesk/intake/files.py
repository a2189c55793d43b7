"""``sepdesk ingest``: raw RFC 5322 files through the same intake row and pipeline as SMTP."""

from __future__ import annotations

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


def ingest_file(desk: Desk, path: Path, received_at: datetime | str | None = None) -> IngestRecord:
    """Store and process one file. ``received_at``: an instant, "header" (its Date), or None (now)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if received_at == "header":
        when = header_date(raw)
        if when is None:
            raise InputError(f"{path}: no usable Date header for --received-at header")
        # The range a typed --received-at is held to.
        within_range(when, f"{path}: Date header {when.isoformat()}")
    else:
        when = received_at if isinstance(received_at, datetime) else now()
    limit = desk.settings.smtp.max_message_bytes
    stored = store_raw(desk.db, source="file", raw=raw, received_at=when, mail_from="", rcpt_to=[])
    if len(raw) > limit:
        runner.quarantine_intake(
            desk, stored.intake_id, f"message of {len(raw)} bytes exceeds {limit}"
        )
    result = runner.process(desk, stored.intake_id)
    return IngestRecord(str(path), result.outcome or result.state, result.ticket, result.reason)
