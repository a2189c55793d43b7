"""Building the desk's outgoing mail: tag, Message-ID, loop headers, safe header values.

Nothing from an incoming mail reaches a header unsanitised: every value goes
through :func:`header_safe`, which drops CR/LF and control characters, and
the standard library's ``EmailMessage`` encodes non-ASCII text.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr

from sepdesk.config import TAG_MAX, Settings
from sepdesk.mailbox import ascii_mailbox

LOOP_HEADER = "X-Loop"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_TAG = re.compile(r"\[[^\]\[]*\b[TC]-\d{4}-\d{5,6}\]\s*", re.I)  # our tag in any case
_PREFIX = re.compile(r"^\s*((re|aw|fw|fwd|wg|sv|antw|tr)\s*(\[\d+\])?\s*:\s*)+", re.I)


def header_safe(value: str, limit: int = 200) -> str:
    """One line of header text: no CR/LF or control characters, bounded length."""
    return " ".join(_CONTROL.sub(" ", value or "").split())[:limit]


def bare_subject(subject: str) -> str:
    """The customer's subject without reply prefixes and without our tags."""
    s = _TAG.sub("", header_safe(subject))
    return _PREFIX.sub("", s).strip()


def tagged_subject(settings: Settings, ticket_ref: str | None, subject: str) -> str:
    base = bare_subject(subject) or "(no subject)"
    if not ticket_ref:
        return base
    return f"[{header_safe(settings.desk.tag, TAG_MAX)} {ticket_ref}] {base}"


def new_message_id(settings: Settings, ticket_ref: str | None, at: datetime) -> str:
    stamp = at.strftime("%Y%m%d%H%M%S")
    ref = ticket_ref or "desk"
    return f"sepdesk.{ref}.{stamp}.{secrets.token_hex(6)}@{settings.desk_domain()}"


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP  # readable in any mail client's source view, 7bit-safe


class _Prefolded(Compat32):
    """compat32 that writes a header line that already fits as it is.

    Every value compose sets is one line of ASCII (non-ASCII text is an encoded word
    already); folding each through ``email.header`` took most of compose's time and
    returns such a line unchanged. Anything longer or unusual still goes through it.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + 2 + len(value) <= (self.max_line_length or 0)
            and not _CONTROL.search(value)
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_CRLF = _Prefolded(linesep="\r\n")  # SMTP wants CRLF; bare LF is refused by strict MTAs


# What RFC 5322 allows between "<" and ">" (dots anywhere, as old mailers write them):
# a mail's own Message-ID is its sender's to make up, and one with a space, a quote, a
# comma or a "(" would make our In-Reply-To/References malformed.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]"
_MSG_ID = re.compile(rf"{_ATEXT}+@(?:{_ATEXT}+|\[[!-Z^-~]*\])")
_MSG_ID_MAX = 250


def _ascii_ids(ids: Sequence[str]) -> list[str]:
    """The well-formed ids of ``ids``; a longer one is left out, not cut to another id."""
    found = (r.strip() for r in ids if r)
    return [i for i in found if len(i) <= _MSG_ID_MAX and _MSG_ID.fullmatch(i)]


def _addresses(addresses: Sequence[str]) -> str:
    """Addresses for To, Cc or Reply-To, each domain in IDNA form where it is not ASCII.

    One whose local part is not ASCII is left out: only SMTPUTF8 (an 8-bit header) can
    carry it, which sepdesk does not use; as the one RFC 2047 encoded word it was, it made
    the whole header unreadable, and the sender refuses it anyway, saying why. With none
    left the header names the empty group RFC 5322 gives for that.
    """
    ascii = (ascii_mailbox(header_safe(a, 254)) for a in addresses)
    return ", ".join(a for a in ascii if a) or "undisclosed-recipients:;"


def _text_header(name: str, value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8", header_name=name).encode()


def compose(
    settings: Settings,
    *,
    to: Sequence[str],
    subject: str,
    body: str,
    message_id: str,
    at: datetime,
    automatic: bool = True,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    reply_to: str | None = None,
    from_name: str | None = None,
    cc: Sequence[str] = (),
) -> bytes:
    """The complete message as bytes with CRLF line ends.

    Built with the compat32 classes: several times faster than EmailMessage, and every
    value is header-safe text or an RFC 2047 encoded word, so nothing needs refolding.
    """
    msg = MIMEText(body, "plain", _UTF8_QP)  # type: ignore[arg-type]  # a Charset works too
    name = header_safe(from_name or settings.desk.name, 100)
    msg["From"] = formataddr((name, settings.desk.support_address), charset="utf-8")
    msg["To"] = _addresses(to)
    if cc:
        msg["Cc"] = _addresses(cc)
    msg["Subject"] = _text_header("Subject", header_safe(subject, 250))
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = f"<{message_id}>"
    parent = _ascii_ids([in_reply_to] if in_reply_to else [])
    refs = _ascii_ids(references)[-10:]
    if parent:
        msg["In-Reply-To"] = f"<{parent[0]}>"
        if parent[0] not in refs:
            refs.append(parent[0])
    if refs:
        msg["References"] = " ".join(f"<{r}>" for r in refs)
    if reply_to:
        msg["Reply-To"] = _addresses([reply_to])
    msg["Auto-Submitted"] = "auto-replied" if automatic else "no"
    if automatic:
        msg["X-Auto-Response-Suppress"] = "All"
        msg["Precedence"] = "auto_reply"
    msg[LOOP_HEADER] = settings.desk.support_address
    return msg.as_bytes(policy=_CRLF)
