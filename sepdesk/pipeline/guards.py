"""Loop guards: is this mail automatic (never to be answered), and why? Pure functions.

The checks run in the order of GUARDS; the first that fires names the reason
recorded on the intake row. RFC 3834 and common practice (Postfix, Mailman,
Exchange, vacation(1)) decide what counts as automatic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from sepdesk.outbound.compose import LOOP_HEADER
from sepdesk.pipeline.bounces import MDN_REPORT, is_daemon_local, report_type
from sepdesk.pipeline.parse import ParsedMail

# A no-reply word standing on its own in the local part, between separators:
# "noreply", "no-reply-billing", "notifications-noreply", "donotreply", "do_not_reply+x"
# (but not "noreplyfan").
_NO_REPLY = re.compile(
    r"(?:^|[-_.+])(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|ne[-_.]?pas[-_.]?repondre"
    r"|nicht[-_.]?antworten)(?:$|[-_.+\d])",
    re.I,
)
# Reply and forward prefixes an automatic subject may stand behind ("Re: Out of Office",
# "AW: ...", "WG: Automatische Antwort: ...").
_REPLY_PREFIXES = r"(?:(?:re|aw|antw|sv|vs|wg|fw|fwd)\s*(?:\[\d+\])?\s*:\s*)*"
# The phrase must be the whole subject or end at a colon, a dash or a bracket ("Out of
# Office: ...", "Automatic reply: ...", "Abwesenheitsnotiz (bis 3.11.)"), optionally
# with a word like "AutoReply" between, or go on with the day of return ("Out of the
# office until 20 November", "Abwesend bis 3.11."): a person's "Out of office hours:
# backups start late" or "Abwesenheit des Admins: Restore schlägt fehl" is a request,
# not a robot. Outlook's "Automatic reply" in the languages customers write in
# (sv "Automatiskt svar", pt, pl both word orders, fi, hu, tr, ro, hr, ru, el...).
_AUTO_SUBJECT = re.compile(
    r"^\s*" + _REPLY_PREFIXES + r"(?:automatische antwort|abwesenheitsnotiz|abwesenheit"
    r"|out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?reply|autoreply|abwesend"
    r"|vacation|r[ée]ponse automatique|automatiskt? svar|autosvar|risposta automatica"
    r"|respuesta autom[aá]tica|resposta autom[aá]tica|automatisch antwoord"
    r"|odpowied[źz] automatyczna|automatyczna odpowied[źz]|automaattinen vastaus"
    r"|automatikus v[áa]lasz|otomatik yan[ıi]t|r[ăa]spuns automat|automatski odgovor"
    r"|automatick[áa] odpov[ěe][ďd]|автоматический ответ|αυτόματη απάντηση)"
    r"(?:\s+(?:auto[- ]?reply|reply|notice|notification|message|nachricht|notiz|mitteilung))?"
    r"\s*(?:$|[:\-–(\[]|(?:until|till|bis|returning)\b)"
    # "AUTO: Kim Meyer is out of the office (returning ...)" (Lotus/HCL Notes, often with
    # no Auto-Submitted; in capitals) and Sieve vacation's "Auto: <subject>" of a desk's
    # mail (its tag follows): only so. "Auto: Sicherung der Werkstatt-PCs" (the German
    # for car) is a request.
    r"|^\s*" + _REPLY_PREFIXES + r"(?:(?-i:AUTO)\s*:|auto\s*:\s*\[)",
    re.I,
)
# A null reverse path: RFC 3834 §2 forbids answering it (bounces and other notices).
_NULL_PATH = re.compile(r"^\s*<\s*>\s*$")


def is_automatic_address(address: str) -> bool:
    """True for a mailer daemon, postmaster, bounce or no-reply address: never to be answered."""
    local = address.strip().lower().rpartition("@")[0]
    return is_daemon_local(local) or bool(_NO_REPLY.search(local))


def null_reverse_path(value: str) -> bool:
    """True when an envelope sender or Return-Path value is the null path ``<>``."""
    return bool(_NULL_PATH.match(value))


def from_mail_system(mail: ParsedMail, envelope_from: str | None = None) -> bool:
    """Whether a mail system rather than a person sent it: a mailer daemon or postmaster
    sender, or the null reverse path that RFC 5321 §4.5.5 has notices sent with (as an
    Exchange notice from "System Administrator" is). ``envelope_from`` as in
    automatic_reason."""
    if is_daemon_local(mail.from_addr.rpartition("@")[0]):
        return True
    if envelope_from is not None and null_reverse_path(envelope_from):
        return True
    return null_reverse_path(mail.header("return-path"))


def auto_reply_subject(subject: str) -> bool:
    """Whether a subject is an auto-reply's (out of office, vacation, "Automatic reply:")."""
    return bool(_AUTO_SUBJECT.match(subject))


_BULK_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")


def _keyword(value: str) -> str:
    """A header's leading keyword, lower-cased, without parameters or a comment."""
    return re.split(r"[\s;(]", value.strip().lower(), maxsplit=1)[0]


def _auto_submitted(m: ParsedMail, _desk: Collection[str]) -> str | None:
    # Every occurrence: "Auto-Submitted: no" above "Auto-Submitted: auto-replied" got an
    # answer when only the first was read (review finding). RFC 3834: "no" (optionally
    # with parameters or a comment) is the only human value.
    for value in m.headers.get("auto-submitted", []):
        if value.strip() and _keyword(value) != "no":
            return f"Auto-Submitted: {value.strip().lower()}"
    return None


def _first_header(m: ParsedMail, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in m.headers), None)


def _autoreply_headers(m: ParsedMail, _desk: Collection[str]) -> str | None:
    name = _first_header(m, ("x-autoreply", "x-autorespond", "x-autoresponse"))
    return f"{name} header present" if name else None


def _precedence(m: ParsedMail, _desk: Collection[str]) -> str | None:
    # Every occurrence, and the keyword before a comment ("bulk (weekly)").
    for value in m.headers.get("precedence", []):
        if _keyword(value) in _BULK_PRECEDENCE:
            return f"Precedence: {value.strip().lower()}"
    return None


def _list_mail(m: ParsedMail, _desk: Collection[str]) -> str | None:
    name = _first_header(m, ("list-id", "list-unsubscribe", "list-post"))
    return f"mailing list ({name})" if name else None


def _daemon_sender(m: ParsedMail, _desk: Collection[str]) -> str | None:
    if not m.from_addr:
        # A From that holds no valid mailbox, or none at all, is a person's mistake or a
        # broken script as often as not: the mail gets its ticket, only no reply
        # (answer.may_answer; a Reply-To still gets one). Nothing a customer sends is dropped.
        return None
    return f"automatic sender {m.from_addr}" if is_automatic_address(m.from_addr) else None


def _null_return_path(m: ParsedMail, _desk: Collection[str]) -> str | None:
    """Return-Path is the envelope sender as the delivering server wrote it (IMAP, files)."""
    value = m.header("return-path")
    return "null return path (Return-Path: <>)" if value and null_reverse_path(value) else None


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
    return f"auto-reply subject {m.subject[:40]!r}" if auto_reply_subject(m.subject) else None


Guard = Callable[[ParsedMail, Collection[str]], str | None]
GUARDS: tuple[tuple[str, Guard], ...] = (
    ("desk_itself", _desk_itself),
    ("report", _report),
    ("auto_submitted", _auto_submitted),
    ("autoreply_headers", _autoreply_headers),
    ("precedence", _precedence),
    ("list_mail", _list_mail),
    ("null_return_path", _null_return_path),
    ("daemon_sender", _daemon_sender),
    ("auto_subject", _auto_subject),
)


def automatic_reason(
    mail: ParsedMail,
    desk_addresses: Collection[str],
    envelope_from: str | None = None,
    *,
    by_subject: bool = True,
) -> str | None:
    """Why this mail must get no automatic reply, or None for a mail from a person.

    ``envelope_from``: the SMTP MAIL FROM as received (None when the mail came another
    way: the Return-Path header then says the same). Without ``by_subject`` an
    automatic-looking subject alone does not count (see steps.step_staff).
    """
    if envelope_from is not None and null_reverse_path(envelope_from):
        return "null envelope sender (MAIL FROM:<>)"
    for name, guard in GUARDS:
        if name == "auto_subject" and not by_subject:
            continue
        reason = guard(mail, desk_addresses)
        if reason:
            return reason
    return None
