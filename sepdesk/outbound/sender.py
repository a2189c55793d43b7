"""Delivering the outbox: to the ``[relay]`` over SMTP, or as .eml files in ``[outbox] dir``.

``run_once(desk, at)`` sends every queued mail that is due and returns how
many it handled. A temporary failure is retried with exponential backoff; a
permanent one (5xx) or the last attempt marks the mail failed with the
reason. A crash between the relay's 250 and our commit can send a mail a
second time, with the same Message-ID, so receivers can drop the copy.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import ssl
from datetime import datetime
from pathlib import Path
from typing import Any

from sepdesk.config import Settings, read_secret
from sepdesk.desk import Desk
from sepdesk.errors import DeliveryError
from sepdesk.instants import to_db
from sepdesk.outbound.outbox import backoff, raw_of
from sepdesk.store import write_tx

log = logging.getLogger("sepdesk.sender")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _write_files(settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Write a batch of .eml files (same name on a resend), then make them durable together.

    The fsyncs come after all writes: the first journal commit carries every file's
    data, so a batch costs about one disk flush instead of one per mail.
    """
    folder = Path(settings.outbox.dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for row in rows:
            name = f"{row['id']:08d}-{_UNSAFE.sub('_', row['message_id'])[:80]}.eml"
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(row["raw"])  # filled by run_once
            written.append((tmp, folder / name))
        for tmp, final in written:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            tmp.replace(final)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise DeliveryError(f"{folder}: cannot write outgoing mail: {exc.strerror}") from None


def _refusal(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{addr} {code} {msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else msg}"
        for addr, (code, msg) in refused.items()
    )


def _temporary(refused: dict[str, tuple[int, bytes]]) -> dict[str, tuple[int, bytes]]:
    """The recipients refused for now (4xx, e.g. greylisting): worth another attempt."""
    return {a: r for a, r in refused.items() if 400 <= r[0] < 500}


def _relay(settings: Settings, row: dict[str, Any]) -> dict[str, tuple[int, bytes]]:
    """Hand the mail to the relay; the recipients it refused while taking it for the
    others (empty: all accepted). Raises DeliveryError when it took it for nobody."""
    r = settings.relay
    context = ssl.create_default_context()
    try:
        if r.tls == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(r.host, r.port, timeout=30, context=context)
        else:
            client = smtplib.SMTP(r.host, r.port, timeout=30)
        with client:
            if r.tls == "starttls":
                # No plaintext fallback: a relay that does not offer STARTTLS is an error.
                client.starttls(context=context)
            if r.user:
                password = read_secret(r.password_file, "SEPDESK_RELAY_PASSWORD", "relay_password")
                client.login(r.user, password or "")
            return client.sendmail(
                settings.desk.support_address, json.loads(row["to_addrs"]), row["raw"]
            )
    except smtplib.SMTPRecipientsRefused as exc:
        # Every recipient refused: retried unless every refusal was permanent (5xx).
        permanent = not _temporary(exc.recipients)
        raise DeliveryError(
            f"recipients refused: {_refusal(exc.recipients)}", permanent=permanent
        ) from None
    except smtplib.SMTPResponseException as exc:
        msg = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise DeliveryError(
            f"relay said {exc.smtp_code} {msg}", permanent=500 <= exc.smtp_code < 600
        ) from None
    except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"relay {r.host}:{r.port}: {type(exc).__name__}: {exc}") from None


def _record(desk: Desk, row: dict[str, Any], at: datetime, error: DeliveryError | None) -> None:
    """The result of one attempt; inside a batch transaction or its own."""
    attempts = row["attempts"] + 1
    final = False
    with write_tx(desk.db):
        if error is None:
            desk.db.execute(
                "UPDATE outbox SET state = 'sent', attempts = ?, sent_at = ?, last_error = NULL,"
                " raw = ? WHERE id = ? AND state = 'queued'",
                [attempts, to_db(at), row["raw"], row["id"]],
            )
        else:
            final = _record_failure(desk, row, at, error, attempts)
    if error is None:
        log.info("outbox #%s %s sent to %s", row["id"], row["kind"], row["to_addrs"])
    else:
        log.warning(
            "outbox #%s attempt %s: %s%s", row["id"], attempts, error, " (failed)" if final else ""
        )


def _record_partial(
    desk: Desk, row: dict[str, Any], at: datetime, refused: dict[str, tuple[int, bytes]]
) -> None:
    """The relay took the mail for some recipients and refused others.

    It went out, so it is not failed. Recipients refused for now (4xx) stay queued on
    this row, alone, with backoff: another attempt must not send the others a copy.
    Those refused for good (5xx) are named in last_error and the log.
    """
    attempts = row["attempts"] + 1
    delivered = [a for a in json.loads(row["to_addrs"]) if a not in refused]
    again = _temporary(refused)
    note = f"delivered to {', '.join(delivered)}; refused: {_refusal(refused)}"
    retry = bool(again) and attempts < desk.settings.outbox.max_attempts
    with write_tx(desk.db):
        desk.db.execute(
            "UPDATE outbox SET state = ?, attempts = ?, sent_at = ?, last_error = ?,"
            " next_attempt_at = ?, to_addrs = ?, raw = ? WHERE id = ? AND state = 'queued'",
            [
                "queued" if retry else "sent",
                attempts,
                to_db(at),
                note + ("; retrying those refused for now" if retry else ""),
                to_db(at + backoff(attempts)),
                json.dumps(sorted(again)) if retry else row["to_addrs"],
                b"" if retry else row["raw"],  # composed again for those left
                row["id"],
            ],
        )
    log.warning("outbox #%s attempt %s: %s", row["id"], attempts, note)


def _record_failure(
    desk: Desk, row: dict[str, Any], at: datetime, error: DeliveryError, attempts: int
) -> bool:
    """A failed attempt: queued again with backoff, or failed; whether it is final."""
    final = error.permanent or attempts >= desk.settings.outbox.max_attempts
    desk.db.execute(
        "UPDATE outbox SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?"
        " WHERE id = ? AND state = 'queued'",
        [
            "failed" if final else "queued",
            attempts,
            str(error),
            to_db(at + backoff(attempts)),
            row["id"],
        ],
    )
    return final


def _relay_each(desk: Desk, rows: list[dict[str, Any]], at: datetime) -> None:
    # One commit per mail: after a crash at most one mail is handed to the relay twice.
    for row in rows:
        try:
            refused = _relay(desk.settings, row)
        except DeliveryError as exc:
            _record(desk, row, at, exc)
            continue
        if refused:
            _record_partial(desk, row, at, refused)
        else:
            _record(desk, row, at, None)


def _write_batch(desk: Desk, rows: list[dict[str, Any]], at: datetime) -> None:
    # A crash before the commit rewrites the same files: nothing is lost or doubled.
    error: DeliveryError | None = None
    try:
        _write_files(desk.settings, rows)
    except DeliveryError as exc:
        error = exc
    with write_tx(desk.db):
        for row in rows:
            _record(desk, row, at, error)


def run_once(desk: Desk, at: datetime, limit: int = 200) -> int:
    """Send every queued mail that is due; returns how many were tried."""
    rows = list(
        desk.db.query(
            "SELECT * FROM outbox WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            [to_db(at), limit],
        )
    )
    # Composed here, in the sender, so the pipeline's transactions stay short.
    rows = [{**row, "raw": raw_of(desk.settings, row)} for row in rows]
    if rows:
        (_relay_each if desk.settings.relay_enabled else _write_batch)(desk, rows, at)
    return len(rows)


def next_attempt(desk: Desk) -> datetime | None:
    row = desk.db.execute(
        "SELECT min(next_attempt_at) FROM outbox WHERE state = 'queued'"
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None
