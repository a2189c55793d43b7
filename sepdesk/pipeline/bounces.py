"""Delivery status notifications: recognise one, and read what it reports on. Pure functions.

A bounce is a multipart/report; report-type=delivery-status (RFC 3464; or
global-delivery-status, RFC 6533), or a recognisable mailer-daemon message. What
it reports on is found in the returned headers (Message-ID, our subject tag) and
the failed recipients.
Other reports are no bounces: a read receipt (report-type=disposition-notification,
RFC 8098) says a mail arrived; the loop guards keep those from being answered.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from typing import Any

from sepdesk.pipeline.parse import ParsedMail

_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|delivery status notification|returned mail|mail delivery failed|failure notice"
    r"|unzustellbar|nicht zugestellt|non remis|delivery has failed|delivery failure"
    r"|not delivered|could not be delivered|nicht zustellbar|zustellung fehlgeschlagen"
    r"|onbestelbaar|non recapitabile|no se puede entregar)",
    re.I,
)
# The returned headers, also as a notice's text quotes them ("> Message-ID: <...>").
_MSGID = re.compile(r"^[ \t>]*message-id:\s*<([^>\s]+)>", re.I | re.M)
_RECIPIENT = re.compile(r"^(?:final|original)-recipient:\s*rfc822;\s*<?([^\s>]+)>?", re.I | re.M)
_SUBJECT = re.compile(r"^subject:\s*(.+)$", re.I | re.M)
_STATUS = re.compile(r"^status:\s*([245]\.\d+\.\d+)", re.I | re.M)
_ACTION = re.compile(r"^action:\s*([a-z]+)", re.I | re.M)
_REPORT_TYPE = re.compile(r"""(?:^|;)\s*report-type\s*=\s*"?([\w.+-]+)""", re.I)
# "postmaster" exactly; a mailer daemon or bounce address also before a separator:
# "bounces+t-weiss=x" (VERP), "mailer-daemon.mx", "bounce-123".
_DAEMON_LOCALS = re.compile(r"^(?:postmaster$|(?:mailer-daemon|bounces?)(?:$|[-_.+=\d]))", re.I)


def is_daemon_local(local: str) -> bool:
    """A mail system's own local part (mailer daemon, postmaster, bounce address):
    the loop guards never answer it, and its failure notices are bounces."""
    return bool(_DAEMON_LOCALS.match(local))


DSN_REPORT = "delivery-status"
MDN_REPORT = "disposition-notification"
# RFC 6533: the DSN of a mail sent with SMTPUTF8 (Postfix, Exchange), whose parts are
# message/global-delivery-status and message/global (or message/global-headers).
DSN_REPORTS = (DSN_REPORT, "global-delivery-status")
_STATUS_PARTS = (
    "message/delivery-status",
    "message/global-delivery-status",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
)
_RETURNED_PARTS = ("message/rfc822", "message/global")


# An address as a notice's prose names it ("could not be delivered to kim@example.com").
# At most 64 characters before the "@" (RFC 5321's limit): with no bound, every position
# of a long run of word characters was tried up to its end (100 kB: 20 s, 1 MB: hours).
# Nothing of an address may stand before it: a longer local part is none, not its tail.
_ADDRESS = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+", re.ASCII)


@dataclass(frozen=True)
class BounceReport:
    message_ids: tuple[str, ...]
    recipients: tuple[str, ...]
    subjects: tuple[str, ...]
    status: str
    # Addresses the notice's text names: the failed recipient of a plain-text notice
    # that has no Final-Recipient field (lower-cased, in order).
    mentioned: tuple[str, ...] = ()
    # The DSN's per-recipient Action fields (RFC 3464: failed, delayed, delivered,
    # relayed, expanded), lower-cased; empty for a notice in prose.
    actions: tuple[str, ...] = ()

    @property
    def failure(self) -> bool:
        """Whether it reports a failed delivery: a notice in prose is taken for one; a DSN
        only when a recipient failed (a success or delay notice is no bounce)."""
        return not self.actions or "failed" in self.actions


def report_type(mail: ParsedMail) -> str | None:
    """The report-type of a multipart/report (lower-cased; '' when it names none), else None."""
    if mail.content_type != "multipart/report":
        return None
    found = _REPORT_TYPE.search(mail.header("content-type"))
    return found.group(1).lower() if found else ""


def is_bounce(mail: ParsedMail) -> bool:
    """A delivery status notification: a DSN report, or a mailer daemon's failure notice.

    A multipart/report that names no report-type is taken for a DSN, as before; one
    that names another type (a read receipt, a feedback report) is no bounce.
    """
    kind = report_type(mail)
    if kind is not None:
        return kind in (*DSN_REPORTS, "")
    local = mail.from_addr.rpartition("@")[0]
    return is_daemon_local(local) and bool(_BOUNCE_SUBJECT.search(mail.subject))


def _decoded(part: Message) -> str:
    data = part.get_payload(decode=True)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else ""


def _report_text(raw: bytes) -> str:
    """The machine-readable parts and returned headers, as text."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    chunks: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        payload: Any = part.get_payload()
        if ctype in _STATUS_PARTS:
            if isinstance(payload, list):
                chunks.extend(p.as_string() for p in payload if isinstance(p, Message))
            else:
                chunks.append(_decoded(part) or str(payload))
        elif ctype in _RETURNED_PARTS:
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                chunks.append("".join(f"{k}: {v}\n" for k, v in payload[0].items()))
        elif ctype == "text/plain" and not part.get_filename():
            chunks.append(_decoded(part))
    return "\n".join(chunks)


def read_report(mail: ParsedMail, raw: bytes) -> BounceReport:
    text = _report_text(raw)
    unfolded = re.sub(r"\r?\n[ \t]+", " ", text)
    return BounceReport(
        message_ids=tuple(dict.fromkeys(_MSGID.findall(unfolded))),
        recipients=tuple(dict.fromkeys(r.lower() for r in _RECIPIENT.findall(unfolded))),
        subjects=tuple(dict.fromkeys(s.strip() for s in _SUBJECT.findall(unfolded))),
        status=(_STATUS.findall(unfolded) or [""])[0],
        mentioned=tuple(dict.fromkeys(a.lower().strip(".") for a in _ADDRESS.findall(unfolded))),
        actions=tuple(dict.fromkeys(a.lower() for a in _ACTION.findall(unfolded))),
    )
