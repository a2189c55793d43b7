"""What a request says: severity judged from content, missing information, language, versions, OS.

Pure functions (no I/O, no clock); the word lists and patterns live in ``rules``. Only the
sender's own text is read (quoted reply history removed, forwarded reports kept), so a
quoted acknowledgement cannot fill in missing fields and quoted words cannot change
the severity.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from itertools import accumulate

from sepdesk.pipeline import rules, severity_model
from sepdesk.pipeline.parse import Attachment
from sepdesk.pipeline.prefilter import Rule

FIELDS = ("classification", "error_message", "action", "os_version", "hardware")  # SPEC order
SEVERITY_NAMES = {1: "Critical", 2: "Major", 3: "Minor", 4: "Cosmetic"}


@dataclass(frozen=True)
class Understanding:
    severity: int  # 1..4, the desk's judgement from content
    stated_severity: int | None  # what the sender claimed, None if nothing
    severity_reasons: tuple[str, ...]  # which words/facts decided
    missing_info: tuple[str, ...]  # subset of FIELDS, in FIELDS order
    language: str  # "de" | "en", of the sender's own text
    versions: tuple[str, ...]  # SEP sesam versions named
    operating_systems: tuple[str, ...]


def understand(subject: str, text: str, attachments: Sequence[Attachment] = ()) -> Understanding:
    """Everything the desk reads from one request (for a follow-up, pass all of the
    customer's own texts of the ticket joined, and the attachments of all of them).

    What is asked and how grave it is come from the writer's words without signature and
    disclaimers (:func:`without_signature`); the facts of the setup may stand in the
    signature too ("System: SEP sesam 5.1.0.4 auf Windows 11 Pro"), and the language is
    read from all of it, its own rules setting a signature aside."""
    signed = _signed_of(subject, text)
    written = without_disclaimers(signed)
    own = without_signature(written)
    whole, facts = f"{subject}\n{own}", f"{subject}\n{written}"
    severity, reasons = judge_severity(subject, own)
    return Understanding(
        severity=severity,
        stated_severity=stated_severity(whole),
        severity_reasons=reasons,
        missing_info=missing_info(facts, attachments, asked=whole),
        language=language(signed or subject),
        versions=sesam_versions(facts),
        operating_systems=operating_systems(facts),
    )


def _own_of(subject: str, text: str) -> str:
    """The words severity is judged from: the own text without signature and disclaimers."""
    return without_signature(without_disclaimers(_signed_of(subject, text)))


def _signed_of(subject: str, text: str) -> str:
    forwarded = bool(rules.FORWARD_SUBJECT.match(subject or ""))
    return own_text(bounded(text), keep_outlook_blocks=forwarded)


READ_LIMIT = 256 * 1024  # characters of a text the desk reads: its beginning and end
READ_TAIL = 64 * 1024  # ...of which from its end


def bounded(text: str) -> str:
    """At most READ_LIMIT characters of ``text``, whole lines from its beginning and its
    end: where a request and the signature (a customer number) stand. A 33 MB mail of
    pasted log lines took 24 s and 900 MB to classify and match, and a batch of such
    mails kept its pipeline process from its loop past the watchdog's limit."""
    if len(text) <= READ_LIMIT:
        return text
    head = text[: READ_LIMIT - READ_TAIL].rpartition("\n")[0]
    tail = text[-READ_TAIL:].partition("\n")[2]
    return f"{head}\n{tail}"


# ----------------------------------------------------------------------------- own text


def own_text(text: str, *, keep_outlook_blocks: bool = False, keep_forwards: bool = True) -> str:
    """The sender's own text: quoted reply history removed, forwarded messages kept.

    History is every "> " line (and an attribution line above them: "X wrote on DATE:"),
    and everything from an "-----Original Message-----" or "On ... wrote:" line or a
    header block (Outlook's From/Von then Sent/Gesendet, GMX's the other way round) on;
    an HTML quote is "> " lines already (parse.html_to_text). Such a
    block is kept when the writer announces a forward above it, or ``keep_outlook_blocks``
    is set (the subject says FW/WG): a forwarded report is the customer's request.
    Without ``keep_forwards`` (what an engineer's reply relays to a customer) a forwarded
    message is cut like history: it may be the desk's own notice, with contract details.
    """
    text = (text or "").replace("\r\n", "\n")
    lines = text.split("\n")
    # Most mails hold neither: then one search of the whole text spares every line's.
    forward, history = _line_rule(rules.FORWARD_START, text), _line_rule(rules.HISTORY_START, text)
    kept: list[str] = []
    pasted = False  # in a "> " block of program output the writer introduced
    above = ""  # the last line of the writer's own that is not blank
    for i, line in enumerate(lines):
        if forward and forward.search(line):
            if keep_forwards:
                kept.extend(lines[i:])
            break
        starts = _history_starts(lines, i, history)
        # Whether a forward was announced is asked only where history could start (cheap).
        if (starts or _outlook_block(lines, i)) and not (
            keep_forwards and (keep_outlook_blocks or _announces_forward(kept))
        ):
            kept = _before_history(kept, lines, i, starts)
            break
        quoted = rules.QUOTED_LINE.match(line)
        # endswith first: an attribution ends in a colon, and this runs for every line.
        if not quoted and line.rstrip().endswith(":") and _attribution(lines, i):
            above = line  # what it introduces is history, never a pasted log
            continue
        if quoted and not (i and rules.QUOTED_LINE.match(lines[i - 1])):
            pasted = _introduces_output(above, lines, i)
        if pasted or not quoted:
            kept.append(line)
            above = line if line.strip() else above
    return "\n".join(kept).strip()


def _before_history(kept: list[str], lines: list[str], i: int, starts: bool) -> list[str]:
    """The writer's lines above the history that starts at ``lines[i]``: without the
    "On ..." half of a wrapped "... wrote:" line, nor a separator line above the history
    (review finding: Outlook's "____" line reached the customer in a relay)."""
    wrapped = i and rules.WROTE_LINE.search(lines[i]) and rules.WROTE_OPENER.match(lines[i - 1])
    if starts and wrapped:
        kept = kept[:-1]
    while kept and (not kept[-1].strip() or rules.SEPARATOR_LINE.match(kept[-1])):
        kept = kept[:-1]
    return kept


def _attribution(lines: list[str], i: int) -> bool:
    """Whether ``lines[i]`` attributes the "> " quote just below it ("SEP Support wrote on
    30.11.2026 09:00:"): quoted history's, not the writer's (review finding: it opened a
    relay to the customer)."""
    line = lines[i]
    if not line.rstrip().endswith(":") or not rules.ATTRIBUTION.search(line):
        return False
    below = next((b for b in lines[i + 1 : i + 3] if b.strip()), "")
    return bool(rules.QUOTED_LINE.match(below))


def without_signature(own: str) -> str:
    """``own`` (an :func:`own_text`) without its signature: from the RFC 3676 separator
    ("-- ", its space often lost) to a forwarded message or the end. Words after the
    writer's name without a separator stay: people go on writing there. A company's
    disclaimer under it ("... Ausfälle kritischer Systeme ... Der Betrieb steht unter
    ständiger Überwachung") made a question Major with a claim of Critical. (Not for
    matching the customer or relaying an answer: a signature holds the customer number,
    an engineer's name. Nor for a conversation's texts joined: the first separator would
    take every later mail with it; cut each first.)"""
    if not _SIGNATURE_START.search(own):
        return own
    lines = own.split("\n")
    start = next(i for i, line in enumerate(lines) if _SIGNATURE_START.match(line))
    ends = (i for i in range(start, len(lines)) if rules.FORWARD_START.search(lines[i]))
    end = next(ends, len(lines))
    return "\n".join(lines[:start] + lines[end:]).strip()


_SIGNATURE_START = re.compile(r"^--[^\S\n]*$", re.MULTILINE)


def without_disclaimers(own: str) -> str:
    """``own`` without the paragraphs of a company's disclaimer, wherever they stand: those
    that speak of confidential content and the recipient it is meant for (rules.DISCLAIMER).
    Their words ("Fehler, Datenverlust", "kritischer Systeme") are nobody's request."""
    if not rules.DISCLAIMER.search(own):
        return own
    kept = (p for p in _BLANK_LINES.split(own) if p.strip() and not _disclaims(p))
    return "\n\n".join(kept).strip()


def _disclaims(paragraph: str) -> bool:
    return bool(rules.DISCLAIMER.search(paragraph) and rules.DISCLAIMER_RECIPIENT.search(paragraph))


def _introduces_output(above: str, lines: list[str], i: int) -> bool:
    """Whether the "> " block at ``lines[i]`` is a log the writer pasted, not history:
    their own line just above ends in a colon ("From last night's log:", "Jeder Job
    endet mit:") and the block has an error in it. A reply's history starts under an
    "... wrote:" line, which ends the own text before this is asked, or under an
    attribution (rules.ATTRIBUTION)."""
    if not above.rstrip().endswith(":"):
        return False
    if rules.WROTE_LINE.search(above) or rules.ATTRIBUTION.search(above):
        return False
    # Walked by index: a slice (or islice) would copy or skip the rest for every block.
    while i < len(lines) and rules.QUOTED_LINE.match(lines[i]):
        if rules.LOG_LINE.search(lines[i]):
            return True
        i += 1
    return False


def _line_rule(rule: Rule, text: str) -> re.Pattern[str] | None:
    """``rule`` narrowed for searching the lines of ``text`` one by one; None when no line
    can match. A match in a line alone is one in the whole text with ``^`` and ``$`` at
    every line, so when that finds nothing, no line needs a look."""
    return rule.narrowed(text) if _any_line(rule).search(text) else None


@cache
def _any_line(rule: Rule) -> re.Pattern[str]:
    return re.compile(rule.pattern, rule.flags | re.MULTILINE)


def _history_starts(lines: list[str], i: int, history: re.Pattern[str] | None) -> bool:
    if history and history.search(lines[i]):
        return True
    wrapped = i > 0 and rules.WROTE_OPENER.match(lines[i - 1])
    return bool(wrapped and rules.WROTE_LINE.search(lines[i]))


def _outlook_block(lines: list[str], i: int) -> bool:
    """Whether a quoted header block starts at ``lines[i]``: From/Von, then Sent/Gesendet
    (or Date) within a few lines, as Outlook writes it; or Gesendet/Sent first and From/Von
    after it, as GMX and web.de do. (Not a form's "Datum:" above a "Von:": only the
    mailers' own word opens such a block.)"""
    if rules.HEADER_FROM.match(lines[i]):
        second = rules.HEADER_SENT
    elif rules.HEADER_SENT_FIRST.match(lines[i]):
        second = rules.HEADER_FROM
    else:
        return False
    return any(second.match(line) for line in lines[i + 1 : i + 5])


def _announces_forward(kept: list[str]) -> bool:
    # Near the block: within its last 12 lines that are not blank (an environment list and
    # a signature may stand between), not anywhere in a long mail.
    near = [line for line in kept if line.strip()][-12:]
    return bool(rules.FORWARD_HINT.search("\n".join(near)))


# ----------------------------------------------------------------------------- language


_WORD = re.compile(r"[a-zäöüß]+")
_UMLAUT = re.compile(r"[äöüß]")


# A line that opens with a program's message, with the lines it wrapped onto up to a
# blank line ("sbc-1104: Error: Cannot open file [...]:\nThe process cannot access the
# file because ..."). Not an error quoted inside a sentence of the writer's.
_LOG_BLOCK = re.compile(
    r"^(?:[\w.\-\[\]]+:\s+(?:error|warning|fatal|[EWF])\b:?|STATUS=ERROR).*(?:\n[^\S\n]*\S.*)*",
    re.MULTILINE | re.IGNORECASE,
)


# Where the writer's words end though no closing formula does: a separator line (Outlook's
# "________________________________" before a company's disclaimer) or a thanks alone on
# its line. An English mail under a German disclaimer was answered in German (review).
_WORDS_END = re.compile(
    r"^[^\S\n]*(?:_{8,}|-{8,}|thanks|thank you|many thanks|danke(?: schön)?|vielen dank)"
    r"[^\S\n]*[,!.]?[^\S\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
# A line that opens with a date and a time is a log's ("2026-11-09 22:00:01 The backup
# operation ... was terminated"): five of them made a German mail English (review).
# An error message cited after a colon or a sentence's end, up to its own end.
_INLINE_LOG = re.compile(r"(?<=[:.!?] )\S*\b(?:Error|Warning|E|W): [^\n]*?(?:\.(?=\s)|$)", re.M)
_STAMPED_LINE = re.compile(
    r"^[^\S\n]*(?:\d{4}-\d\d-\d\d|\d\d?\.\d\d?\.\d{4}|\d\d?/\d\d?/\d{4})[ T]\d\d?:\d\d.*$",
    re.MULTILINE,
)


def language(text: str) -> str:
    """'de' or 'en' by counting common function words (umlauts break a tie towards German).

    Only the words before the first closing line ("Best regards", "Viele Grüße") count, so
    a German signature under an English mail does not decide.
    """
    de, en, body = _language_words(text)
    if de == en:
        return "de" if _UMLAUT.search(body.lower()) else "en"
    return "de" if de > en else "en"


TELLING_WORDS = 3  # function words one language must lead by for a text to tell it


def telling_language(text: str) -> str | None:
    """'de' or 'en' where ``text`` is long enough to tell (one language's function words
    lead by TELLING_WORDS), else None: a "Thanks!" or a log line says no language, and a
    ticket's language follows only a mail that does (followup)."""
    de, en, _ = _language_words(text)
    if abs(de - en) < TELLING_WORDS:
        return None
    return "de" if de > en else "en"


def _language_words(text: str) -> tuple[int, int, str]:
    """German and English function words of the text language() reads, and that text."""
    # Quoted messages first: a paragraph sent as one line that quotes an error ('im Log
    # steht "sbc-5001: Error: ..."') was taken for a log line and dropped whole, and a
    # German mail was answered in English (review finding).
    # An error message cited within a sentence goes alone, not its whole line: a
    # paragraph sent as one line ("Im Protokoll steht: sbc-3011: Error: Timeout waiting
    # for data mover. Es ist ein Linux Server ...") lost all its German (review finding).
    # After the blocks of log lines, whose first line it would cut.
    text = _INLINE_LOG.sub(" ", _LOG_BLOCK.sub("", _QUOTED.sub(" ", text)))
    text = rules.LOG_TEXT_LINE.sub("", text)
    text = _STAMPED_LINE.sub("", text)
    ends = (m.start() for m in (rules.CLOSING.search(text), _WORDS_END.search(text)) if m)
    body = text[: min((e for e in ends if text[:e].strip()), default=len(text))]
    words = _WORD.findall(body.lower())
    de = sum(map(rules.GERMAN_WORDS.__contains__, words))
    en = sum(map(rules.ENGLISH_WORDS.__contains__, words))
    return de, en, body


# ----------------------------------------------------------------------------- versions, OS


@lru_cache(maxsize=64)  # pure, and asked twice per mail (fields and ticket)
def sesam_versions(text: str) -> tuple[str, ...]:
    """SEP sesam versions named: dotted 3/4-part numbers next to a word that ties them to
    sesam; one the writer updated from is left out when a newer one is named."""
    found: list[str] = []
    left: list[str] = []
    for m in _versions_in(text):
        # The words around it on its own line (a version never spans a line break).
        before = _words_before(text, m.start())
        after = _LINE_BREAK.split(text[m.end() : m.end() + 20], maxsplit=1)[0]
        if ties_to_sesam(before, after):
            found.append(m.group(1))
            if rules.VERSION_LEFT_BEHIND.search(before):
                left.append(m.group(1))
    found.extend(m.group(1) for m in rules.SHORT_VERSION.finditer(text))
    if left:
        newest = max(map(_version_key, found))
        found = [v for v in found if v not in left or _version_key(v) == newest]
    return tuple(dict.fromkeys(found))


def _words_before(text: str, end: int) -> str:
    """The (up to 60) characters before ``end`` on its line; for a version that opens its
    line or follows one short word there, those that end the line above too: a mail client
    wrapped "... SEP sesam" and its "5.1.0.4" (or "... sesam Server und Client" and
    "sind 5.1.0.4") onto two lines."""
    own = _LINE_BREAK.split(text[max(0, end - 60) : end])[-1]
    start = end - len(own)
    if len(own.split()) > 1 or len(own) == 60 or start == 0:
        return own
    sep = 2 if text[start - 2 : start] == "\r\n" else 1
    above = _LINE_BREAK.split(text[max(0, start - sep - 60) : start - sep])[-1]
    return f"{above} {own}" if own.strip() else above


def ties_to_sesam(before: str, after: str) -> bool:
    """Whether the words before and after a version number (on its line) make it sesam's."""
    if rules.VERSION_NOT_SESAM.search(before):
        return False
    return bool(rules.VERSION_CONTEXT.search(before) or rules.VERSION_CONTEXT.search(after))


# What str.splitlines() splits at.
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
# Every VERSION match holds one. ``re`` skips to it fast; VERSION itself opens with a
# lookbehind and is tried at every position.
_VERSION_DIGITS = re.compile(r"\d\.\d\.\d")


def _versions_in(text: str) -> Iterator[re.Match[str]]:
    """``rules.VERSION.finditer(text)``, started where the first match can begin at the
    earliest (the optional "v" before the digits); ``pos`` keeps the lookbehind intact."""
    first = _VERSION_DIGITS.search(text)
    return rules.VERSION.finditer(text, max(0, first.start() - 1)) if first else iter(())


def _version_key(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", version)]
    return tuple(parts + [0] * (4 - len(parts)))


def older_versions(versions: Iterable[str], current: str) -> tuple[str, ...]:
    """The versions older than ``current`` (numeric comparison, missing parts count as 0)."""
    if not current or not re.search(r"\d", current):
        return ()
    newest = _version_key(current)
    return tuple(v for v in dict.fromkeys(versions) if _version_key(v) < newest)


@lru_cache(maxsize=64)  # pure, and asked twice per mail (fields and ticket)
def operating_systems(text: str) -> tuple[str, ...]:
    found: list[str] = []
    for pattern in rules.OPERATING_SYSTEMS:
        found.extend(" ".join(m.group().split()) for m in pattern.finditer(text))
    if not found:  # a bare "Windows"/"Linux" only when nothing more precise is named
        for pattern in rules.OPERATING_SYSTEM_FAMILIES:
            found.extend(m.group() for m in pattern.finditer(text))
    # "Windows Server" is dropped when "Windows Server 2022" is also named.
    return tuple(
        name
        for name in dict.fromkeys(found)
        if not any(o != name and o.startswith(name + " ") for o in found)
    )


# ----------------------------------------------------------------------------- missing info


def missing_info(
    text: str, attachments: Sequence[Attachment] = (), asked: str | None = None
) -> tuple[str, ...]:
    """The SPEC fields not found in ``text``; the request's type or class is looked for in
    ``asked`` when given (the text without its signature: a signature states the setup,
    not what kind of request this is)."""
    present = {
        "classification": bool(
            rules.CLASSIFICATION.search(_without_false_claims(text if asked is None else asked))
        ),
        "error_message": has_error_text(text) or any(_is_error_log(a) for a in attachments),
        "action": has_action(text) and not _by_itself(text),
        "os_version": bool(operating_systems(text))
        and bool(sesam_versions(text) or rules.SESAM_RELEASE.search(text)),
        "hardware": has_hardware(text),
    }
    return tuple(f for f in FIELDS if not present[f])


def has_error_text(text: str) -> bool:
    return bool(
        rules.ERROR_TEXT.search(text)
        or rules.INDENTED_ERROR.search(text)
        or rules.INDENTED_LOG.search(text)
        or rules.INTRODUCED_OUTPUT.search(text)
    )


def has_hardware(text: str) -> bool:
    """Backup hardware is named: not only storage that failed in production."""
    if rules.HARDWARE.search(text) is None:
        return False
    # Rarely any: then the first match decides, and the text is searched once.
    lost = [m.span() for m in rules.PRODUCTION_STORAGE_LOST.finditer(text)]
    if not lost:
        return True
    spans = _Spans(lost)
    found = list(rules.HARDWARE.finditer(text))
    # The device that failed is production's wherever it is named again: "the controller
    # of our SAN failed ... The SAN has been repaired by the vendor".
    failed = {m.group().lower() for m in found if spans.hold(m.start())}
    return any(not spans.hold(m.start()) and m.group().lower() not in failed for m in found)


def _is_error_log(attachment: Attachment) -> bool:
    """A .log file, or a text attachment with error lines in it."""
    if rules.LOG_FILE.search(attachment.filename or "") and (
        attachment.filename.lower().endswith(".log") or rules.LOG_LINE.search(attachment.text)
    ):
        return True
    return attachment.content_type.startswith("text/") and bool(
        rules.ERROR_TEXT.search(attachment.text)
    )


def _by_itself(text: str) -> bool:
    """The failure happens by itself, in no operation (SPEC's action is the one it occurs
    in), and the backups go on: where none runs any more, the nightly backup is the one."""
    return bool(rules.SPONTANEOUS.search(text)) and not rules.ALL_FAIL.search(text)


def has_action(text: str) -> bool:
    """An operation is named: labelled as the action, a work verb, or a work noun with a
    failure or an intent beside it."""
    if rules.ACTION_LABEL.search(text) or _work_verb(text):
        return True
    text = rules.NOT_AN_ACTION.sub(" ", text)
    parts = sentences(text)
    whole = "\n".join(parts)  # a part's match is a match here (sentences join wrapped lines)
    if not (
        rules.ACTION_NOUN.search(whole)
        or rules.HOW_TO.search(whole)
        or rules.HOW_DO_I.search(whole)
    ):
        return False
    return any(_names_operation(s) for s in parts)


def _work_verb(text: str) -> bool:
    """A work verb of the writer's: not in words that name no operation (NOT_AN_ACTION),
    not in a quoted or pasted error, not in a sentence telling of one that went well.
    Its matches are judged where they stand in ``text``, whose literal scan the other
    rules share (a stripped copy would cost a scan of its own, for every mail), against
    spans found once per text: asked per match or per line, a long log (or a long line)
    of work verbs took minutes."""
    pattern = rules.ACTION_VERB.narrowed(text)
    if pattern is None:
        return False
    elsewhere: _Spans | None = None  # found at the first match
    for m in pattern.finditer(text):
        elsewhere = elsewhere or _Spans(_not_the_writers(text))
        if not elsewhere.hold(m.start()):
            return True
    return False


def _not_the_writers(text: str) -> Iterator[tuple[int, int]]:
    """Where in ``text`` no operation of the writer's is told: NOT_AN_ACTION's words, a
    quoted error, a pasted log line (not a list item's wrapped line), a sentence of an
    operation that went well."""
    yield from (m.span() for m in rules.NOT_AN_ACTION.finditer(text))
    yield from (m.span() for m in _QUOTED.finditer(text) if _is_error(m.group()))
    items = _Spans(m.span() for m in _LIST_ITEM_WRAPPED.finditer(text))
    yield from (m.span() for m in rules.LOG_TEXT_LINE.finditer(text) if not items.hold(m.start()))
    if rules.WENT_WELL.search(text):
        ends = sorted({0, len(text), *_sentence_ends(text)})
        for m in rules.WENT_WELL.finditer(text):
            i = bisect_right(ends, m.start())
            yield ends[i - 1], ends[i]  # len(text) is an end: i is in range


def _sentence_ends(text: str) -> Iterator[int]:
    """Where :func:`sentences` would cut ``text``: sentence ends, blank lines, list items."""
    for boundary in (_SENTENCE_END, _BLANK_LINES, _LIST_ITEM_LINE):
        yield from (m.end() for m in boundary.finditer(text))


class _Spans:
    """Character spans of a text, merged, asked whether they hold a position (by
    bisection: a long mail of log lines has thousands of matches to ask about)."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for a, b in sorted(spans):
            if self.ends and a <= self.ends[-1]:
                self.ends[-1] = max(self.ends[-1], b)
            else:
                self.starts.append(a)
                self.ends.append(b)

    def hold(self, at: int) -> bool:
        i = bisect_right(self.starts, at) - 1
        return i >= 0 and at < self.ends[i]


def _is_error(quoted: str) -> bool:
    # The plain LOG_LINE first: most quoted errors say "error" or "failed", and a rule's
    # search of a new text costs a literal scan of its own.
    return bool(rules.LOG_LINE.search(quoted) or rules.ERROR_TEXT.search(quoted))


# A quoted message: "Cannot open file ...", 'Warning: No e-mail notification configured'.
# An apostrophe inside a word ("we're", "can't") neither opens nor closes one.
# (The apostrophe before its lookbehind: ``re`` then skips to the quote marks.)
_QUOTED = re.compile(r"[\"“„»][^\"“”„«»\n]{1,200}[\"”“«]|'(?<!\w')[^'\n]{1,200}'(?!\w)")


def _names_operation(sentence: str) -> bool:
    asked = rules.HOW_TO.search(sentence) or rules.HOW_DO_I.search(sentence)
    if asked and not rules.CAPABILITY.search(sentence):
        return True  # "how do I ..." names what the sender is trying to do
    wanted = rules.FAILURE.search(sentence) or rules.ACTION_INTENT.search(sentence)
    return bool(rules.ACTION_NOUN.search(sentence) and wanted)


# ----------------------------------------------------------------------------- severity


def sentences(text: str) -> list[str]:
    """Lines split at sentence ends (a full stop before a capital), dates like 30.10. survive."""
    out: list[str] = []
    if "\n" in text:
        text = _LOG_IN_SENTENCE.sub(_one_line, text)
    for line in _paragraphs(text):
        out.extend(s for s in _SENTENCE_END.split(line) if s.strip())
    return out


# Compiled once: sentences() runs over every line of a mail twice (severity, action).
# Not after a day before its month: "die Sicherungen vom 4. und 3. November ...".
# The space first, its lookbehinds after it (the same places): ``re`` then skips to each
# space, instead of trying the lookbehinds at every position (a third of the time).
_SENTENCE_END = re.compile(
    r"\s(?<=[.!?]\s)(?<!\d\.\s)\s*(?=[A-ZÄÖÜ])|\s(?<=\d\.\s)\s*(?=[A-ZÄÖÜ])"
    r"(?!(?:Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember)\b)"
)
# A pasted log the writer's sentence goes on after: "die Sicherung, die seit Montag mit"
# then the indented log lines, then "abbricht." (lower case: the same sentence). The
# sentence is read as one, the log inside it (the failure and what fails were two parts).
_LOG_IN_SENTENCE = re.compile(
    r"(?<=[^\s.!?:])[ \t]*\n(?:[ \t]*\n)+(?:(?:[ \t]{2,}|\t)\S[^\n]*\n)+(?:[ \t]*\n)+"
    r"(?=[a-zäöüß])"
)
_BLANK_LINES = re.compile(r"\n\s*\n")
_LIST_MARKER = r"(?:[-*•]|\d+\.)"
_LIST_ITEM = re.compile(rf"\s*{_LIST_MARKER}\s")
_LIST_ITEM_LINE = re.compile(rf"(?m)^[ \t]*{_LIST_MARKER}\s")
# A list item with its wrapped lines indented under its text ("- Die Rücksicherung wurde
# am Montag\n  gestartet."): the writer's words, not a pasted log.
_LIST_ITEM_WRAPPED = re.compile(rf"(?m)^[ \t]*{_LIST_MARKER}[ \t]\S.*(?:\n[ \t]{{2,}}\S.*)+")


def _one_line(m: re.Match[str]) -> str:
    return f" {' '.join(m.group().split())} "


def _paragraphs(text: str) -> list[str]:
    """Hard-wrapped lines joined back into paragraphs (blank lines and list items break them)."""
    paras: list[str] = []
    for block in _BLANK_LINES.split(text):
        current: list[str] = []
        for line in block.split("\n"):
            if current and _LIST_ITEM.match(line):
                paras.append(" ".join(current))
                current = []
            current.append(line.strip())
        paras.append(" ".join(current))
    return [p for p in paras if p]


def _without_false_claims(text: str) -> str:
    return rules.NOT_A_CLAIM.sub(" ", text)


def stated_severity(text: str) -> int | None:
    """The severity the sender claims; the most severe claim wins. One the sender denies
    ("not critical", "kein Notfall") is none."""
    text = rules.NEGATED_CLAIM.sub(" ", _without_false_claims(text))
    for level, pattern in rules.STATED:
        if pattern.search(text):
            return level
    return None


class _Parts:
    """Sentences and their join: a rule is narrowed once on the join, and the parts before
    its earliest possible match there are not searched (a match in a part is one in the
    join, at the part's offset, so it cannot start earlier either); nor are the parts in
    which none of its literals ends (every match holds one)."""

    def __init__(self, parts: list[str]) -> None:
        self.parts = parts
        self.whole = "\n".join(parts)
        self.offsets = list(accumulate((len(p) + 1 for p in parts[:-1]), initial=0))

    def holding(self, ends: list[int] | None) -> set[int] | None:
        """The parts in which one of ``ends`` (join positions) falls; None for None (all)."""
        return None if ends is None else {bisect_right(self.offsets, end) - 1 for end in ends}

    def from_(self, start: int, among: set[int] | None = None) -> Iterator[tuple[str, int]]:
        """(part, position in it) from which to search, for a join position ``start``; only
        the parts ``among`` when given."""
        first = max(0, bisect_right(self.offsets, start) - 1)
        chosen = range(first, len(self.parts)) if among is None else sorted(among)
        for i in chosen:
            if i >= first:
                yield self.parts[i], max(0, start - self.offsets[i])


def _any(rule: Rule, parts: _Parts) -> str | None:
    """The first match in any part."""
    pattern, start, ends = rule.narrowed_within(parts.whole)
    if pattern is None:
        return None
    for part, pos in parts.from_(start, parts.holding(ends)):
        m = pattern.search(part, pos)
        if m:
            return m.group()
    return None


def _affirmed(
    rule: Rule,
    parts: _Parts,
    before: Rule = rules.NEGATION_BEFORE,
    after: Rule | None = rules.NEGATION_AFTER,
) -> str | None:
    """A match that is not negated ("kein Workaround", "no workaround ... exists"): no
    ``before`` in the words ahead of it, no ``after`` in those behind it."""
    pattern, start, ends = rule.narrowed_within(parts.whole)
    if pattern is None:
        return None
    for part, pos in parts.from_(start, parts.holding(ends)):
        for m in pattern.finditer(part, pos):
            # Behind, a few words more: "Einen Workaround (Handbetrieb) gibt es bei unseren
            # Linien nicht."
            ahead, behind = part[max(0, m.start() - 40) : m.start()], part[m.end() : m.end() + 60]
            if not (before.search(ahead) or (after and after.search(behind))):
                return m.group()
    return None


def _both(first: Rule, second: Rule, parts: _Parts) -> str | None:
    """The start of the first part in which both rules match."""
    a, a_start, a_ends = first.narrowed_within(parts.whole)
    b, b_start, b_ends = second.narrowed_within(parts.whole)
    if a is None or b is None:
        return None
    among = _both_hold(parts.holding(a_ends), parts.holding(b_ends))
    later = parts.from_(max(a_start, b_start), among)
    return next((s[:80] for s, _ in later if a.search(s) and b.search(s)), None)


def _told_on(first: Rule, second: Rule, parts: _Parts) -> str | None:
    """``first`` in a sentence and ``second`` in the next, where that one goes on telling the
    same: it opens with "Das", "It", "Same ..." ("Er versucht, die Datenbank
    zurückzuholen. Das bricht jedes Mal ab.", "I tried Monday's backup. Same words.") or the
    first ends introducing it ("Restoring it gives" and the error on its own line)."""
    texts = parts.parts
    for i in range(1, len(texts)):
        nxt, prev = texts[i], texts[i - 1]
        if not (_GOES_ON.match(nxt) or _INTRODUCES.search(prev)):
            continue
        if first.search(prev) and second.search(nxt):
            return f"{prev[-60:]} {nxt[:40]}"
    return None


# A sentence that goes on with the one before; a sentence that ends introducing output.
_GOES_ON = re.compile(r"(?:das|dies|es|er|sie|it|this|that|same|dasselbe|gleiche\w*)\b", re.I)
_INTRODUCES = re.compile(
    r"(?::|\b(?:gives|says|shows|with|mit|zeigt|meldet|kommt|erscheint))\s*$", re.I
)


def _both_hold(a: set[int] | None, b: set[int] | None) -> set[int] | None:
    if a is None or b is None:
        return a if b is None else b
    return a & b


def _plain(rule: Rule) -> cached_property[str | None]:
    """A fact that is simply the first match of ``rule`` in any part."""

    def fact(self: _Facts) -> str | None:
        return _any(rule, self.parts)

    return cached_property(fact)


class _Facts:
    """What the sender wrote, each fact the phrase that shows it (None: not said).

    A fact is looked up when the judgement first asks for it: most mails are decided
    before every fact is needed (no restore failure, so whether older backups help does
    not matter), and each lookup is a search of the text. The answers are the same.
    """

    def __init__(self, subject: str, own: str) -> None:
        self.parts = _Parts([subject, *sentences(own)])
        self.own = own

    @cached_property
    def tried_rows(self) -> str | None:
        """Backups tried one per line, two or more, each failing (see rules.TRIED_WHEN)."""
        return _tried_rows(self.own)

    @cached_property
    def failure(self) -> str | None:
        found = _affirmed(rules.FAILURE, self.parts) or _affirmed(rules.MALFUNCTION, self.parts)
        return None if found and rules.FAILURE_ACCEPTED.search(self.parts.whole) else found

    @cached_property
    def restore_fails(self) -> str | None:
        found = _both(rules.RESTORE, rules.RESTORE_FAILS, self.parts)
        # "... versucht, die Datenbank wiederherzustellen. Ihre Notizen:" and the rows.
        if not found and rules.RESTORE.search(self.parts.whole):
            return _told_on(rules.RESTORE, rules.RESTORE_FAILS, self.parts) or self.tried_rows
        return found

    @cached_property
    def slow_restore(self) -> str | None:
        """A restore that has not failed but crawls: "the restore runs at 150 KB/s"."""
        return _both(rules.RESTORE, rules.PERFORMANCE, self.parts)

    @cached_property
    def older_fail(self) -> str | None:
        return (
            _any(rules.OLDER_FAIL, self.parts)
            or _both(rules.BACKUP_WORD, rules.SAME_RESULT, self.parts)
            or _told_on(rules.BACKUP_WORD, rules.SAME_RESULT, self.parts)
            or self.tried_rows
            or self.no_other_copy
        )

    @cached_property
    def no_other_copy(self) -> str | None:
        return _affirmed(rules.NO_OTHER_COPY, self.parts)

    nowhere_else = _plain(rules.NOWHERE_ELSE)

    @cached_property
    def workaround(self) -> str | None:
        return _affirmed(rules.WORKAROUND, self.parts)

    halt = _plain(rules.HALT)
    no_business = _plain(rules.NO_BUSINESS)
    older_restored = _plain(rules.OLDER_RESTORED)

    @cached_property
    def data_gone(self) -> str | None:
        return _affirmed(rules.DATA_GONE, self.parts)  # not "nothing is lost"

    @cached_property
    def recovered(self) -> str | None:
        return _any(rules.RECOVERED, self.parts) or self.older_restored

    @cached_property
    def continues(self) -> str | None:
        return _affirmed(rules.CONTINUES, self.parts, before=rules.NOT_GOING_ON_BEFORE)

    @cached_property
    def archive(self) -> str | None:
        # The writer's words, not a pasted log's ("invalid checksum in archive member").
        if not _any(rules.ARCHIVE, self.parts):
            return None
        m = rules.ARCHIVE.search(rules.LOG_TEXT_LINE.sub("", self.own))
        return m.group() if m else None

    not_needed = _plain(rules.NOT_NEEDED)

    @cached_property
    def test(self) -> str | None:
        found = _any(rules.TEST_SYSTEM, self.parts)
        if found is None and rules.LAB_CONTEXT.search(self.parts.whole):
            found = _any(rules.OWN_LAB, self.parts)
        return found

    question = _plain(rules.CLASSIFICATION_QUESTION)
    how_to = _plain(rules.HOW_TO)
    harmless = _plain(rules.HARMLESS)
    single_user = _plain(rules.SINGLE_USER)
    no_impact = _plain(rules.NO_IMPACT)
    business_normal = _plain(rules.BUSINESS_NORMAL)
    not_urgent = _plain(rules.NOT_URGENT)
    partial = _plain(rules.PARTIAL)

    @cached_property
    def all_fail(self) -> str | None:
        # What a wrong report says is not what happened to the backups.
        if rules.ONLY_THE_REPORT.search(self.parts.whole):
            return None
        return _any(rules.ALL_FAIL, self.parts)

    no_alternative = _plain(rules.NO_ALTERNATIVE)
    performance = _plain(rules.PERFORMANCE)

    @cached_property
    def impact(self) -> str | None:
        # Feared, not told: "ich will nicht, dass uns am Ende die Daten fehlen". (Not the
        # plain negation: "kommt mit den Terminen nicht nach, Patienten warten" is one.)
        return _affirmed(rules.IMPACT, self.parts, before=rules.FEARED, after=None)


_LEAD_IN = 300  # characters before the first row that say what the rows are
_ROW_GAP = 2  # a list's next row follows its row, or one line of its own below it
# A row names a backup and its result; a longer line is a paragraph telling a story
# ("1) Last Wednesday an electrician moved our server ... Since then every backup fails.").
_ROW_MAX = 100


def _tried_rows(own: str) -> str | None:
    if not rules.TRIED_RESULT.search(own):
        return None
    lines = [line for line in own.splitlines() if line.strip()]
    rows: dict[str, str] = {}  # the backup's date or day -> its row
    first = last = -1
    for i, line in enumerate(lines):
        when = len(line) <= _ROW_MAX and rules.TRIED_WHEN.search(line)
        if not when or rules.LOG_TIME.search(line):
            continue
        # A table's cells each on a line of their own: the result follows its date.
        on_line = rules.TRIED_RESULT.search(line)
        below = None if on_line else _result_below(lines, i)
        if not (on_line or below):
            continue
        if last >= 0 and i - last > _ROW_GAP:
            break  # not the next row of a list: a sentence further on that names a day
        first = i if first < 0 else first
        last = i + 1 if below else i
        row = f"{line.strip()} {below.strip()}" if below else line.strip()
        rows.setdefault(when.group().lower(), row[:80])
    if len(rows) < 2:
        return None
    # Restores tried, not the backup jobs' nightly runs ("Our nightly backups fail:\n
    # Monday: failed\n..."): a restore is named in the rows or in the lines that lead to them.
    lead = "\n".join(lines[:first])[-_LEAD_IN:]
    if not rules.RESTORE.search(lead + "\n" + "\n".join(lines[first : last + 1])):
        return None
    return f"{len(rows)} backups tried, each failing: {next(iter(rows.values()))[:60]}"


def _result_below(lines: list[str], i: int) -> str | None:
    """The next line when it is a result of its own (no date of its own, no log time)."""
    below = lines[i + 1] if i + 1 < len(lines) else ""
    if rules.TRIED_WHEN.search(below) or rules.LOG_TIME.search(below):
        return None
    return below if rules.TRIED_RESULT.search(below) else None


def _major_reason(f: _Facts) -> str | None:
    if f.all_fail:
        return f'all backups fail ("{f.all_fail}")'
    # Not data nobody needs today while the business goes on: SPEC's Minor.
    # Nor data got back from an older backup, unless what is newer is said to be lost.
    restored = f.older_restored and not f.data_gone
    needed = not f.test and not (f.not_needed and f.continues) and not restored
    if f.restore_fails and needed:
        return f'a production restore fails ("{f.restore_fails}")'
    # Slow, but the business runs normally: SPEC's Minor (not where backups fail or data is
    # lost: the labels hold those Major while the rest of the business goes on).
    if f.slow_restore and needed and not f.business_normal:
        return f'a restore too slow to get the data back ("{f.slow_restore}")'
    if f.performance and (f.impact or f.no_alternative):
        return f'performance problem with business impact ("{f.performance}")'
    if f.failure and f.no_alternative:
        return f'failure with no alternative ("{f.no_alternative}")'
    # Not "we had a total outage last week; all runs again", and a standstill of nothing
    # failing is another's ("die IT-Abteilung ist diese Woche geschlossen").
    if f.halt and not f.recovered and (f.failure or f.restore_fails):
        return f'business halted ("{f.halt}")'
    if f.failure and f.impact and not f.test:
        return f'failure that reduces the business ("{f.impact}")'
    return None


def _halted(f: _Facts) -> str | None:
    return f'production halted ("{f.halt}")' if f.halt else None


def _cannot_work_without(f: _Facts) -> str | None:
    """SPEC's halt in other words: the business cannot work without what is lost, and
    there is nothing else to work with: no alternative, no other copy, no workaround.
    (Older backups that fail too leave a department without its data, not yet the
    business without any way on.)"""
    other_way = f.no_alternative or f.no_other_copy
    # Not where the writer says the business itself is not affected ("Forecasting is not
    # affected, but the climate team cannot produce the monthly reports").
    if f.no_business and other_way and not (f.workaround or f.no_impact):
        return f'no business without it ("{f.no_business}"; "{other_way}")'
    return None


def _nothing_left(f: _Facts) -> str | None:
    """Asked where a restore fails and the older backups do not help: with no other copy
    (or no other way) either, what is lost is gone, and unless the writer says the business
    goes on or that it is old or archived data, SPEC's Critical is what is left. People
    describe a standstill in more words than any list holds; the way out they say plainly."""
    gone = f.no_other_copy or f.no_alternative
    if gone and not (f.continues or f.archive or f.partial or f.no_impact or f.single_user):
        return f'nothing else to restore from ("{gone}"), and nothing said to go on'
    return None


def judge_severity(
    subject: str, own: str, weights: severity_model.Weights | None = None
) -> tuple[int, tuple[str, ...]]:
    """SPEC §1 severity from content; the sender's claim plays no part. The rules judge,
    and the learned model (``weights``: the shipped ones unless given) overrules them where
    it is sure (:func:`_learned_level`), never lowering a Critical of the rules."""
    return _judged(subject, own, weights)[:2]


def _judged(
    subject: str, own: str, weights: severity_model.Weights | None = None
) -> tuple[int, tuple[str, ...], int, int | None]:
    """judge_severity's severity and reasons, then the two judges' own word: the rules'
    level, and the model's where it is sure (None: unsure, or not asked)."""
    f = _Facts(subject, own)
    severity, reasons = _by_rules(f)
    if severity == 1:
        return severity, reasons, severity, None
    weights = weights or severity_model.shipped()
    if weights is None:  # unreadable, said once in the log
        return severity, reasons, severity, None
    text = f"{subject}\n{own}"
    p = severity_model.probabilities(weights, text)
    learned = _learned_level(p, f) if p else None
    if p is None or learned is None or learned == severity:
        return severity, reasons, severity, learned
    words = ", ".join(f'"{t}"' for t in severity_model.telling_terms(weights, text, learned))
    return (
        learned,
        (
            f"worded like the {SEVERITY_NAMES[learned]} requests the model learned from"
            f" (P {p[learned]:.2f}{'; ' + words if words else ''})",
            f"the rules alone: {SEVERITY_NAMES[severity]} ({reasons[0]})",
        ),
        severity,
        learned,
    )


def severity_raised_by(subject: str, before: str, after: str) -> tuple[int, tuple[str, ...]] | None:
    """The severity of a conversation (``after``: the customer's texts with their newest
    mail) when that mail makes it graver than it is judged without it (``before``), else
    None. Graver by a judge that says so only with the mail: the rules reading a graver
    fact, or the model sure of a graver level. A mail that only made the model unsure
    ("I am on holiday from tomorrow") let the rules' Major of the subject overrule the
    model's sure Minor again, and the ticket was raised on no new fact (review finding)."""
    was, _, rules_was, learned_was = _judged(subject, _own_of(subject, before))
    now, reasons, rules_now, learned_now = _judged(subject, _own_of(subject, after))
    if now >= was:
        return None
    by_rules = rules_now == now and rules_now < rules_was
    by_model = learned_now == now and (learned_was is None or learned_now < learned_was)
    return (now, reasons) if by_rules or by_model else None


def _learned_level(p: dict[int, float], f: _Facts) -> int | None:
    """The model's level where it is sure; Critical not against what the mail says, nor
    Major against a plain statement that the business runs normally (SPEC's Minor in its
    own words: "slow" and "very slow" made a restore of archive data Major)."""
    if p[1] >= severity_model.CRITICAL_AT:
        return None if _not_critical(f) else 1
    level = max((2, 3, 4), key=p.__getitem__)
    if level == 2 and f.business_normal:
        return None
    return level if p[level] >= severity_model.LEVEL_AT else None


def _not_critical(f: _Facts) -> str | None:
    """What keeps the model from raising to Critical: what keeps the rules from it, and,
    since a model's wording is weaker evidence than the rules' facts, also no impact, one
    user or old data said (the rules, with a standstill said, do not yield to those)."""
    return _excluded(f) or f.no_impact or f.single_user or f.archive


def _excluded(f: _Facts) -> str | None:
    """What SPEC's Critical excludes, which no wording outweighs: a test system, a problem
    put right, a workaround, or the business going on."""
    return f.test or f.recovered or f.workaround or f.continues


def rules_severity(subject: str, own: str) -> tuple[int, tuple[str, ...]]:
    """What the hand-written rules alone judge (bench/severity_model.py compares)."""
    return _by_rules(_Facts(subject, own))


def _by_rules(f: _Facts) -> tuple[int, tuple[str, ...]]:
    critical = f.restore_fails and f.older_fail and not _excluded(f)
    # Each way of saying it names itself in the reasons: the engineer reads which one.
    why = critical and (_halted(f) or _cannot_work_without(f) or _nothing_left(f))
    if why:
        return 1, (
            why,
            f'restore fails ("{f.restore_fails}")',
            f'older backups do not help ("{f.older_fail}")',
        )
    major = _major_reason(f)
    # A failure put right already is the story before the question, not the request.
    if f.question and not major and (not f.failure or f.how_to or f.harmless or f.recovered):
        return 4, (f'a question ("{f.question}") on use, no important function lost',)
    # Slowness that halves the work names no failure; a failing restore is one.
    if not (f.failure or f.restore_fails) and not major:
        asked = f.how_to or "no failure described"
        return 4, (f"question on use or configuration ({asked})",)
    if f.workaround or f.single_user:
        return 4, (
            f'few users affected or a workaround exists ("{f.workaround or f.single_user}")',
        )
    # Only a plain statement that business runs normally outweighs "all backups fail".
    # "Not urgent" is the sender's claim: it tips a plain failure to Minor, never a Major fact.
    # Nor does it outweigh data that is gone for good (no other copy, or a restore failing
    # with its older backups): SPEC's Major names "important data no longer available"
    # though the rest of the business goes on; so is data that exists nowhere else.
    gone = f.no_other_copy or f.nowhere_else or (f.restore_fails and f.older_fail)
    minor = (
        (f.no_impact if not gone else None)
        or f.test
        or (f.partial if not f.all_fail else None)
        or (f.not_urgent if not major else None)
    )
    if minor:
        return 3, (f'partial loss, business runs normally ("{minor}")',)
    if major:
        return 2, (major,)
    return 3, (f'a failure without wider impact ("{f.failure}")',)
