"""Loop guards: is this mail automatic (never to be answered), and why? Pure functions.

The checks run in the order of GUARDS; the first that fires names the reason
recorded on the intake row. RFC 3834 and common practice (Postfix, Mailman,
Exchange, vacation(1)) decide what counts as automatic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from sepdesk.outbound.compose import LOOP_HEADER
from sepdesk.pipeline.bounces import MDN_REPORT, report_type
from sepdesk.pipeline.parse import ParsedMail

_DAEMON_LOCALS = re.compile(
    r"^(mailer-daemon|postmaster|no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?|noreply[-+][\w.+-]+)$",
    re.I,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(automatische antwort|abwesenheitsnotiz|out of office|automatic reply|auto(matic)?[- ]?reply"
    r"|autoreply|abwesend|vacation|r[ée]ponse automatique)\b",
    re.I,
)
_BULK_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")


def _auto_submitted(m: ParsedMail, _desk: Collection[str]) -> str | None:
    value = m.header("auto-submitted").strip().lower()
    # RFC 3834: "no" (optionally with parameters or a comment) is the only human value.
    keyword = re.split(r"[\s;(]", value, maxsplit=1)[0]
    if value and keyword != "no":
        return f"Auto-Submitted: {value}"
    return None


def _first_header(m: ParsedMail, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in m.headers), None)


def _autoreply_headers(m: ParsedMail, _desk: Collection[str]) -> str | None:
    name = _first_header(m, ("x-autoreply", "x-autorespond", "x-autoresponse"))
    return f"{name} header present" if name else None


def _precedence(m: ParsedMail, _desk: Collection[str]) -> str | None:
    value = m.header("precedence").strip().lower()
    return f"Precedence: {value}" if value in _BULK_PRECEDENCE else None


def _list_mail(m: ParsedMail, _desk: Collection[str]) -> str | None:
    name = _first_header(m, ("list-id", "list-unsubscribe", "list-post"))
    return f"mailing list ({name})" if name else None


def _daemon_sender(m: ParsedMail, _desk: Collection[str]) -> str | None:
    local = m.from_addr.partition("@")[0]
    if not m.from_addr:
        return "no sender address"
    return f"automatic sender {m.from_addr}" if _DAEMON_LOCALS.match(local) else None


def _desk_itself(m: ParsedMail, desk: Collection[str]) -> str | None:
    if m.from_addr in desk:
        return f"sent by the desk itself ({m.from_addr})"
    loops = [v.strip().strip("<>").lower() for v in m.headers.get(LOOP_HEADER.lower(), [])]
    if any(v in desk for v in loops):
        return f"carries our {LOOP_HEADER} header"
    return None


def _report(m: ParsedMail, _desk: Collection[str]) -> str | None:
    """A multipart/report that is no bounce (those never reach the guards) is a machine's."""
    kind = report_type(m)
    if kind is None:
        return None
    if kind == MDN_REPORT:
        return "read receipt (disposition notification), not a bounce"
    return f"automatic report (report-type={kind or '?'})"


def _auto_subject(m: ParsedMail, _desk: Collection[str]) -> str | None:
    return f"auto-reply subject {m.subject[:40]!r}" if _AUTO_SUBJECT.match(m.subject) else None


Guard = Callable[[ParsedMail, Collection[str]], str | None]
GUARDS: tuple[tuple[str, Guard], ...] = (
    ("desk_itself", _desk_itself),
    ("report", _report),
    ("auto_submitted", _auto_submitted),
    ("autoreply_headers", _autoreply_headers),
    ("precedence", _precedence),
    ("list_mail", _list_mail),
    ("daemon_sender", _daemon_sender),
    ("auto_subject", _auto_subject),
)


def automatic_reason(mail: ParsedMail, desk_addresses: Collection[str]) -> str | None:
    """Why this mail must get no automatic reply, or None for a mail from a person."""
    for _name, guard in GUARDS:
        reason = guard(mail, desk_addresses)
        if reason:
            return reason
    return None
