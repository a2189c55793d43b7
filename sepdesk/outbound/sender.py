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
from sepdesk.outbound.outbox import backoff
from sepdesk.store import write_tx

log = logging.getLogger("sepdesk.sender")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _write_file(settings: Settings, row: dict[str, Any]) -> None:
    folder = Path(settings.outbox.dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{row['id']:08d}-{_UNSAFE.sub('_', row['message_id'])[:80]}.eml"
    tmp = folder / f".{name}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(row["raw"])
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(folder / name)


def _relay(settings: Settings, row: dict[str, Any]) -> None:
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
            refused = client.sendmail(
                settings.desk.support_address, json.loads(row["to_addrs"]), row["raw"]
            )
            if refused:
                raise DeliveryError(f"recipients refused: {refused}", permanent=True)
    except smtplib.SMTPResponseException as exc:
        msg = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        raise DeliveryError(
            f"relay said {exc.smtp_code} {msg}", permanent=500 <= exc.smtp_code < 600
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"recipients refused: {exc.recipients}", permanent=True) from None
    except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"relay {r.host}:{r.port}: {type(exc).__name__}: {exc}") from None


def deliver(settings: Settings, row: dict[str, Any]) -> None:
    if settings.relay_enabled:
        _relay(settings, row)
    else:
        _write_file(settings, row)


def _record(desk: Desk, row: dict[str, Any], at: datetime, error: DeliveryError | None) -> None:
    attempts = row["attempts"] + 1
    with write_tx(desk.db):
        if error is None:
            desk.db.execute(
                "UPDATE outbox SET state = 'sent', attempts = ?, sent_at = ?, last_error = NULL"
                " WHERE id = ? AND state = 'queued'",
                [attempts, to_db(at), row["id"]],
            )
            return
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
    log.warning(
        "outbox #%s attempt %s: %s%s", row["id"], attempts, error, " (failed)" if final else ""
    )


def run_once(desk: Desk, at: datetime, limit: int = 500) -> int:
    rows = list(
        desk.db.query(
            "SELECT * FROM outbox WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            [to_db(at), limit],
        )
    )
    for row in rows:
        try:
            deliver(desk.settings, row)
        except DeliveryError as exc:
            _record(desk, row, at, exc)
            continue
        _record(desk, row, at, None)
        log.info("outbox #%s %s sent to %s", row["id"], row["kind"], row["to_addrs"])
    return len(rows)


def next_attempt(desk: Desk) -> datetime | None:
    row = desk.db.execute(
        "SELECT min(next_attempt_at) FROM outbox WHERE state = 'queued'"
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None
