"""Raw RFC 5322 bytes -> ParsedMail: headers, addresses, the readable text, attachments, defects.

mail-parser (over the standard ``email`` package) decodes bodies and
attachments; headers are read from the standard library's message. Parsing
never raises for malformed mail: what is wrong is recorded in ``defects``. It raises :class:`ParseError` only when nothing
usable is left (no headers at all).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import email
import email.errors
import email.parser
import email.policy
import email.utils
import hashlib
import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import make_header
from email.message import Message
from html.parser import HTMLParser
from typing import Any

import mailparser

from sepdesk.errors import SepdeskError, one_line
from sepdesk.mailbox import is_mailbox
from sepdesk.pipeline import linear_email
from sepdesk.pipeline.linear_email import decode_header

# Every mail is parsed through this module: from here on, the email package and
# mail-parser read headers in linear time (see linear_email, process-wide).
linear_email.install()

# mail-parser logs every MIME part type it does not decode; that is noise here.
logging.getLogger("mailparser").setLevel(logging.ERROR)


class ParseError(SepdeskError):
    """The bytes are not an e-mail message at all (no header could be read)."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    text: str = ""  # decoded text for text/* attachments (logs), else empty


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # without angle brackets; a digest when the mail had none
    has_message_id: bool
    subject: str
    from_addr: str  # lower-cased
    from_name: str
    reply_to: str  # lower-cased, '' when absent
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None
    in_reply_to: str
    references: tuple[str, ...]
    text: str  # text/plain parts, or the HTML rendered to text when there is no plain part
    html_text: str  # the HTML parts rendered to text (may repeat ``text``)
    attachments: tuple[Attachment, ...]
    content_type: str
    defects: tuple[str, ...]
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-cased names
    # An encrypted part holds the content (see sealed_content), else "". Derived from the
    # parts, and out of the repr that tests/test_parse_equivalence pins every result by.
    sealed: str = field(default="", repr=False)

    def header(self, name: str) -> str:
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    def all_text(self) -> str:
        """Subject, body and text attachments: what matching and classifying read."""
        parts = [self.subject, self.text]
        if self.html_text and self.html_text not in self.text:
            parts.append(self.html_text)
        return "\n".join(parts)


_SMIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_TNEF = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})


def unreadable(mail: ParsedMail) -> str:
    """Why a mail cannot be read here, or "" (it has text, or its attachments are ordinary
    files). An encrypted or Outlook TNEF mail became an empty ticket that asked the
    customer for everything and told the team nothing (review finding). So does a mail
    whose content is encrypted beside a short note ("This message was encrypted by the
    Example Corp gateway."): the note is no request (review finding)."""
    text = mail.text.strip()
    if _PGP_BLOCK.search(text) and _is_note(_PGP_BLOCK.sub("", text)):
        return "encrypted (PGP)"
    if not text and mail.content_type in _SMIME:
        return "encrypted or signed as a whole (S/MIME)"
    if not text and mail.content_type == "multipart/encrypted":
        return "encrypted (PGP/MIME)"
    if mail.sealed and _is_note(text):
        return mail.sealed
    if text:
        return ""
    if any(
        a.content_type in _TNEF or a.filename.lower() == "winmail.dat" for a in mail.attachments
    ):
        return "in Outlook's TNEF format (winmail.dat)"
    return ""


_PGP_BLOCK = re.compile(
    r"-----BEGIN PGP MESSAGE-----.*?(?:-----END PGP MESSAGE-----|\Z)", re.DOTALL
)
# Beside an encrypted part, a text this short is a gateway's or client's note, not the
# request: a request with its error, action and setup is longer than a few lines.
NOTE_CHARS = 300


def _is_note(text: str) -> bool:
    return len(text.strip()) <= NOTE_CHARS


# Parts whose content is encrypted: S/MIME enveloped data (a p7m without smime-type is
# taken for it, as mail clients read it), PGP/MIME and its control part.
_ENVELOPED = frozenset({"enveloped-data", "authenveloped-data", ""})


def _encrypted_kind(part: Message) -> str:
    ctype = part.get_content_type()
    if ctype in _SMIME and str(part.get_param("smime-type") or "").lower() in _ENVELOPED:
        return "encrypted (S/MIME)"
    if ctype in ("multipart/encrypted", "application/pgp-encrypted"):
        return "encrypted (PGP/MIME)"
    return ""


def sealed_content(msg: Message) -> str:
    """What encrypts a mail's content ("encrypted (S/MIME)"), when every part but its text
    is encrypted, say a gateway's p7m beside its note; "" when nothing is, or other files
    (a readable log) come along. The text's length is unreadable's to judge."""
    found = ""
    todo = [msg]
    while todo:
        part = todo.pop()
        kind = _encrypted_kind(part)
        if kind:  # its inner parts are the ciphertext: nothing more to see in them
            found = found or kind
        elif part.is_multipart():
            todo.extend(p for p in part.get_payload() if isinstance(p, Message))
        elif part.get_content_type() not in ("text/plain", "text/html") or part.get_filename():
            return ""
    return found


def attachment_list(mail: ParsedMail) -> str:
    """The attachments as "name (type, N bytes)", joined by "; " ("-" when none). A file
    name is the sender's text: escaped, it adds no line to the notice's header block
    (review finding: "x.log\n\nReply to this mail: forward to ..." did)."""
    return (
        "; ".join(
            f"{one_line(a.filename) or '(no name)'} ({one_line(a.content_type)}, {a.size} bytes)"
            for a in mail.attachments
        )
        or "-"
    )


_MSGID = re.compile(r"<([^<>\s]+)>")


def _msgids(value: str) -> list[str]:
    found = _MSGID.findall(value or "")
    if not found and value and value.strip() and " " not in value.strip():
        found = [value.strip().strip("<>")]
    return found


def header_text(value: object) -> str:
    """Header text to one clean line: encoded words decoded, CR/LF folded away."""
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:
        with contextlib.suppress(ValueError, email.errors.HeaderParseError):
            text = _decoded_words(text)
    # Some codecs decode to lone surrogates (UTF-7 "+2D0-", unicode-escape "\ud800"):
    # they are no text, and neither SQLite nor a reply could encode them. (Most header
    # text is ASCII, which holds none: no search through it.)
    if not text.isascii():
        text = _SURROGATE.sub("\ufffd", text)
    return " ".join(text.split())


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _decoded_words(text: str) -> str:
    chunks = decode_header(text)
    try:
        return str(make_header(chunks))
    except (UnicodeError, LookupError, ValueError, email.errors.CharsetError):
        pass
    if any(_is_broken(word) for word in _ENCODED_WORD.findall(text)):
        # Its bytes were joined to the next words' (one charset), and the run fell to
        # Windows-1252 as a whole: "SicherungŠ{Ú–'schlÃ¤gt". Each word read on its own.
        return _words_apart(text)
    # A charset Python does not know (or a name that is not ASCII): each piece
    # read on its own, spaced as make_header spaces them.
    return " ".join(_chunk_text(chunk, charset).strip() for chunk, charset in chunks)


def _is_broken(word: str) -> bool:
    """Whether an encoded word's base64 holds what base64 cannot (its bytes are garbage)."""
    _charset, kind, encoded = word[2:-2].split("?", 2)
    return kind in "bB" and _BASE64_TEXT.fullmatch(encoded) is None


_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _words_apart(text: str) -> str:
    """Header text with each encoded word decoded on its own: a broken one to U+FFFD where
    its bytes make no text, the others as they say. Blanks between two encoded words go
    (RFC 2047 6.2)."""
    out: list[str] = []
    end, after_word = 0, False
    for match in _ENCODED_WORD.finditer(text):
        between = text[end : match.start()]
        if between and not (after_word and between.isspace()):
            out.append(between)
        out.append(_word_text(match.group()))
        end, after_word = match.end(), True
    out.append(text[end:])
    return "".join(out)


def _word_text(word: str) -> str:
    """One encoded word's text; of a broken one what its base64 says up to the first
    character that base64 cannot hold, then U+FFFD for the rest."""
    if _is_broken(word):
        name, _kind, encoded = word[2:-2].split("?", 2)
        valid = encoded[: len(encoded) - len(encoded.lstrip(_BASE64_ALPHABET))]
        try:
            data = binascii.a2b_base64(valid[: len(valid) - len(valid) % 4])
        except binascii.Error:
            data = b""
        return _chunk_text(data, name.split("*", 1)[0]) + "\ufffd"  # RFC 2231 *language
    try:
        ((chunk, charset),) = decode_header(word)
    except (ValueError, email.errors.HeaderParseError):
        return "\ufffd"
    return _chunk_text(chunk, charset)


def _chunk_text(chunk: bytes | str, charset: str | None) -> str:
    """One piece of ``decode_header``'s result as text. An unknown or wrong charset
    name is read as UTF-8, else Windows-1252, rather than left encoded."""
    if isinstance(chunk, str):
        return chunk
    if charset and charset != "unknown-8bit":
        with contextlib.suppress(LookupError, UnicodeError, ValueError):
            return chunk.decode(charset)
    return eight_bit_text(chunk)


def eight_bit_text(data: bytes) -> str:
    """Bytes of no declared (or an unknown) charset: UTF-8 when they are, else
    Windows-1252, which every byte decodes in and which the 8-bit mail of Windows
    clients is (a superset of Latin-1 for the letters in use)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


class _HtmlText(HTMLParser):
    """Renders HTML to text: block elements become line breaks, scripts and styles vanish,
    and a mail client's quote container (see :func:`_cites`) is quoted with "> " as its
    plain-text alternative would be: without the marks, quoted history read as the
    customer's own words (an old outage made a question Critical)."""

    _BLOCK = frozenset(
        {"p", "div", "br", "tr", "li", "pre", "h1", "h2", "h3", "h4", "table", "td", "th"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0
        self._quotes = 0  # quote containers open around the text
        self._opened: dict[str, list[bool]] = {"blockquote": [], "div": []}  # quote or not

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif self._skip:  # html.parser reads none in a script
            return
        if tag in self._opened:
            cites = _cites(tag, attrs)
            self._opened[tag].append(cites)
            self._quotes += cites
        if tag in self._BLOCK or tag == "blockquote":
            self._break(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        if self._opened.get(tag):
            self._quotes -= self._opened[tag].pop()
        if tag in self._BLOCK or tag == "blockquote":
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data.replace("\n", self._newline()) if self._quotes else data)

    def _break(self, tag: str) -> None:
        self.out.append(" " if tag == "td" else self._newline())

    def _newline(self) -> str:
        return "\n" + "> " * self._quotes


def _cites(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Whether the element is a mail client's quote of an earlier message: a blockquote
    of type "cite" (Thunderbird, Apple Mail) or of a quote class (Gmail), Yahoo's
    "yahoo_quoted". Not a bare blockquote: Gmail indents the writer's own text with one.
    Nor GMX's and web.de's ``<div name="quote">``: they put a forwarded message in it
    too, and its header block ("Gesendet: ... Von: ...") marks the history already."""
    values = {name.lower(): (value or "").lower() for name, value in attrs}
    if tag == "blockquote":
        return values.get("type") == "cite" or "quote" in values.get("class", "")
    return tag == "div" and "yahoo_quoted" in values.get("class", "")


def html_to_text(markup: str) -> str:
    if len(markup) > HTML_PARSER_LIMIT:
        pieces = _rendered_by_tags(markup)
    else:
        parsed = _rendered(markup)
        if parsed is None:
            return html.unescape(_without_tags(markup))
        pieces = parsed
    lines = (" ".join(line.replace("\xa0", " ").split()) for line in "".join(pieces).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _rendered(markup: str) -> list[str] | None:
    """The text pieces html.parser finds; None when it gives up."""
    parser = _HtmlText()
    try:
        parser.feed(markup)
        rest = parser.rawdata  # what feed() left: an unclosed tag, comment, CDATA... on
        if rest.count("<") * len(rest) > _CLOSE_WORK:
            # close() would search the rest to its end from each "<" in it (Python
            # 3.11's html.parser): 24 kB of "<a " took 5 s. It is read as text instead.
            parser.rawdata = ""
            parser.handle_data(html.unescape(_without_tags(rest)))
        parser.close()
    except (AssertionError, ValueError):
        return None
    return parser.out


# Characters of markup html.parser reads (0.3 s a MB); a larger body is split at its tags
# by one regular expression and fed to the same renderer: a 29 MB HTML report took 12 s.
HTML_PARSER_LIMIT = 2_000_000
_TAG_PIECE = re.compile(r"<[^<>]*>")  # no "<" inside: each character is looked at once
_TAG_NAME = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")
_ATTRIBUTE = re.compile(r"""\s([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def _rendered_by_tags(markup: str) -> list[str]:
    """What _rendered gives, as html.parser reads tags: comments skipped (Outlook's
    conditional ones hold XML whose values became text), a name right after "<" (else
    the piece is text), "<!" and "<?" skipped, "<br/>" opened and closed."""
    renderer = _HtmlText()
    for segment in _outside_comments(markup):
        _render_tags(renderer, segment)
    return renderer.out


def _outside_comments(markup: str) -> Iterator[str]:
    """The markup between comments, found by one str.find after another: linear. From an
    unclosed "<!--" on, the rest is read as it is."""
    start = 0
    while (opened := markup.find("<!--", start)) != -1:
        closed = markup.find("-->", opened + 4)
        if closed == -1:
            break
        yield markup[start:opened]
        start = closed + 3
    yield markup[start:]


def _render_tags(renderer: _HtmlText, markup: str) -> None:
    end = 0
    for match in _TAG_PIECE.finditer(markup):  # one at a time: a list of them doubled memory
        if match.start() > end:
            renderer.handle_data(html.unescape(markup[end : match.start()]))
        end, piece = match.end(), match.group()
        tag = _TAG_NAME.match(piece)
        if tag is None:
            if not piece.startswith(("<!", "<?")):
                renderer.handle_data(html.unescape(piece))
        elif tag.group(1):
            renderer.handle_endtag(tag.group(2).lower())
        else:
            name = tag.group(2).lower()
            # Attributes are read only where they matter: a quote container's.
            attrs = _ATTRIBUTE.findall(piece) if name in ("blockquote", "div") else []
            renderer.handle_starttag(name, [(a, b or c or d) for a, b, c, d in attrs])
            if piece.endswith("/>"):
                renderer.handle_endtag(tag.group(2).lower())
    if end < len(markup):
        renderer.handle_data(html.unescape(markup[end:]))


_CLOSE_WORK = 1_000_000
_TAG = re.compile(r"<[^>]+>")


def _without_tags(markup: str) -> str:
    """Every tag a space. Past the last ">" no tag can end: searching there from each
    "<" to the end of the text was quadratic, and finds nothing."""
    end = markup.rfind(">") + 1
    return _TAG.sub(" ", markup[:end]) + markup[end:]


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased address) of every valid address in one header's values.

    The values are split into addresses before encoded words are decoded: a decoded
    display name may hold a colon, comma or "@" that would split it otherwise. The
    standard parser treats a colon inside an encoded word as a group's, so encoded
    words stand aside as placeholders while it splits.
    """
    if not values:
        return []
    words: list[str] = []

    def aside(m: re.Match[str]) -> str:
        words.append(m.group())
        return f"\ue000{len(words) - 1}\ue001"

    # Unfolded first: getaddresses reads a quoted name folded across lines ('"Weiss,
    # CRLF Thomas" <t@x>') as no address at all, or takes one from inside the quotes.
    hidden = [_ENCODED_WORD.sub(aside, _FOLD.sub("", v)) for v in values]
    out = []
    for value in hidden:
        found = _mailboxes(value)
        if found is None:
            continue
        for name, addr in found:
            addr = addr.strip()
            if _valid(addr):
                name = _PLACEHOLDER.sub(lambda m: _put_back(m, words), name)
                out.append((header_text(name), addr.lower()))
    return out


def _valid(addr: str) -> bool:
    return is_mailbox(addr) and "\ue000" not in addr  # not a placeholder's stand-in


def _mailboxes(value: str) -> list[tuple[str, str]] | None:
    """``getaddresses`` of one header value; None when one of its comma-separated pieces
    holds more than one address.

    One mailbox the standard parser (before Python 3.11.10: CVE-2023-27043) reads as
    two: "a@victim.example <eve@evil.example>" gave a@victim.example, not the address
    mail clients show and the MX's DMARC check judged. None is safer.
    """
    pieces = split_outside(value, ",", keep_comments=True)
    parsed = [email.utils.getaddresses([piece]) for piece in pieces]
    if any(_address_count(found) > 1 for found in parsed):
        return None
    # One piece is the value itself (split_outside keeps it whole): parsed once, not twice.
    return parsed[0] if len(pieces) == 1 else email.utils.getaddresses([value])


def _address_count(found: list[tuple[str, str]]) -> int:
    # Valid or not: in "a@victim.example <=?utf-8?q?x?=@evil.example>" the one in the
    # angle brackets is the sender, and it is no valid address. Distinct ones: many
    # mailers write "a@x.example <a@x.example>" when they know no name, and both are one.
    return len({addr.strip().lower() for _, addr in found} - {""})


def split_outside(value: str, separator: str, *, keep_comments: bool) -> list[str]:
    """A structured header's value split at ``separator`` where it stands outside quoted
    strings and (nested) comments, RFC 5322 §3.2. Without ``keep_comments`` each comment
    becomes one space. A quote inside a comment opens a quoted string there too: the
    MX copies what the sender wrote into its comments (Authentication-Results), and an
    unbalanced quote then hides the rest of the value, which fails closed."""
    if '"' not in value and "(" not in value:
        # No quoted string or comment: every separator stands outside (what the loop
        # below gives, a character at a time, for most addresses).
        return value.split(separator)
    parts: list[str] = []
    current: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in value:
        if escaped:  # the character after a backslash in a quoted string or comment
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
            if not keep_comments:
                continue
        elif depth:
            depth -= ch == ")"
            if not keep_comments:
                if not depth:
                    current.append(" ")  # a comment separates what stands around it
                continue
        elif ch == separator:
            parts.append("".join(current))
            current = []
            continue
        if keep_comments or not depth:
            current.append(ch)
    parts.append("".join(current))
    return parts


_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_FOLD = re.compile(r"(?:\r\n|\r|\n)(?=[ \t])")  # unfolding (RFC 5322): the line break goes


def _put_back(m: re.Match[str], words: list[str]) -> str:
    n = int(m.group(1))
    return words[n] if n < len(words) else m.group()  # a sender's own look-alike


# Private-use characters: header text hardly holds them (a
# placeholder made of letters could, and pointed past the list of words).
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")


def message_date(msg: Message) -> datetime | None:
    """The Date header as an aware instant, or None when absent, unreadable or naive."""
    value = msg.get("Date")
    return _date(str(value)) if value else None


def _date(value: str) -> datetime | None:
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if dt.tzinfo is None and value.split("(", 1)[0].split()[-1:] == ["-0000"]:
        # RFC 5322 3.3: "-0000" is UTC, the sender's own zone unknown; Python leaves it naive
        # as it leaves a Date without a zone, which stays unusable.
        return dt.replace(tzinfo=UTC)
    return dt if dt.tzinfo else None


def _attachments(parsed: mailparser.MailParser | _ReadableParts) -> tuple[Attachment, ...]:
    out = []
    for a in parsed.attachments:
        ctype = (a.get("mail_content_type") or "application/octet-stream").lower()
        payload = a.get("payload") or ""
        text = ""
        if ctype.startswith("text/") or ctype in ("message/rfc822", "message/delivery-status"):
            text = _attachment_text(payload, bool(a.get("binary")))
        out.append(Attachment(a.get("filename") or "", ctype, len(payload), text))
    return tuple(out)


def _attachment_text(payload: str, binary: bool) -> str:
    if not binary:
        return payload
    try:
        return base64.b64decode(payload).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def digest_id(raw: bytes) -> str:
    """The stand-in Message-ID of a mail that has none: a digest of its bytes, less what
    the route changes (line ends; blank lines at the end): the same mail by SMTP and by
    IMAP must get the same one."""
    canonical = raw.replace(b"\r\n", b"\n").rstrip()
    return "sha256-" + hashlib.sha256(canonical).hexdigest()[:40] + "@sepdesk.invalid"


def parts_digest(raw: bytes) -> str:
    """A digest of what a mail's body holds: each MIME leaf's type, file name and decoded
    content, line ends aside. A relay that re-encodes the body (8-bit to quoted-printable,
    other line lengths or line ends) leaves it as it was; another attachment, HTML part or
    text changes it."""
    try:
        msg, _defects = _structure(raw)
    except ParseError:
        return "sha256-" + hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()
    digest = hashlib.sha256()
    for part in msg.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        content = data.replace(b"\r\n", b"\n").rstrip(b"\n") if isinstance(data, bytes) else b""
        label = f"{part.get_content_type()}\0{part.get_filename() or ''}\0"
        digest.update(label.encode("utf-8", "surrogatepass"))
        digest.update(hashlib.sha256(content).digest())
    return "sha256-" + digest.hexdigest()


def _structure(raw: bytes) -> tuple[Message, list[str]]:
    """The standard library's parse (as mail-parser makes it) and every defect it noted."""
    raw, skipped = leading_junk_skipped(raw)
    raw, defects = _colons_closed_up(raw)
    defects[:0] = skipped
    try:
        msg = email.message_from_bytes(raw)
        for part in msg.walk():  # recursive: absurd nesting ends here, as a ParseError
            defects.extend(f"{part.get_content_type()}: {type(d).__name__}" for d in part.defects)
    except RecursionError:  # the parser recurses once per multipart level
        raise ParseError("cannot decode MIME structure: nesting too deep to parse") from None
    except Exception as exc:  # the email package raises bare exceptions on broken MIME
        raise ParseError(f"cannot decode MIME structure: {type(exc).__name__}: {exc}") from None
    return msg, defects


def leading_junk_skipped(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` without a UTF-8 byte order mark and blank lines before its first header (an
    editor's or a script's doing), and the defects saying so. The standard parser read
    such a file as all body: no header, quarantined as "not an e-mail message"."""
    if not raw.startswith((b"\xef\xbb\xbf", b"\n", b"\r\n")):
        return raw, []  # the usual case
    defects = []
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
        defects.append("a byte order mark before the header, skipped")
    blanks = _LEADING_BLANKS.match(raw)
    if blanks:
        raw = raw[blanks.end() :]
        lines = blanks.group().count(b"\n")
        defects.append(f"{lines} blank line{'s' if lines > 1 else ''} before the header, skipped")
    return raw, defects


_LEADING_BLANKS = re.compile(rb"(?:\r?\n)+")


def _why_no_header(raw: bytes) -> str:
    """What stands where the first header should: its line quoted (60 characters at most,
    controls and 8-bit bytes escaped), so that the reason says what is wrong."""
    if not raw.strip():
        return "the message is empty"
    line = leading_junk_skipped(raw)[0].split(b"\n", 1)[0].rstrip(b"\r")[:60]
    return f"the first line is not a header: {repr(line)[2:-1]}"


def _colons_closed_up(raw: bytes) -> tuple[bytes, list[str]]:
    """``raw`` with the blanks between a header field's name and its colon removed, in the
    header section only ("Auto-Submitted : auto-replied", RFC 5322 §4.5.1 obs-optional).
    The standard parser takes such a line for the start of the body: the auto-reply was
    answered, and its Subject and Message-ID were read as text (review finding)."""
    # The pattern opens with a line end, which re skips to; the substring tests spare
    # nearly every mail the search of its header (together ~20 us a mail before).
    end = blank_line(raw)
    head = raw[: end.start() + 1] if end else raw
    if (b" :" not in head and b"\t:" not in head) or not _SPACED_COLON.search(head):
        return raw, []
    names = [m.group(1).decode("ascii") for m in _SPACED_COLON.finditer(head)]
    fixed = _SPACED_COLON.sub(rb"\1:", head)
    defects = [
        f"header {n}: blanks before its colon (obsolete syntax), read as {n}:" for n in names
    ]
    return fixed + raw[len(head) :], defects


def blank_line(raw: bytes) -> re.Match[bytes] | None:
    """The blank line that ends a raw mail's header section, with the line end before it
    (CRLF or bare LF); None for a mail that is all header. A search that opens with a
    line end, which ``re`` skips to."""
    return _BLANK_LINE.search(raw)


_BLANK_LINE = re.compile(rb"\n\r?\n")
_SPACED_COLON = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.M)


def _known_charsets(msg: Message) -> list[str]:
    """Give each text part whose charset Python does not know one it does (what its
    bytes decode as), so its text is read instead of turned into U+FFFD; the defects.
    Changes the parts' Content-Type: call it after the header fields are read."""
    return [d for part in msg.walk() for d in _known_charset(part)]


def _known_charset(part: Message) -> list[str]:
    if part.get_content_maintype() != "text":
        return []
    charset = part.get_param("charset")
    if charset is None or (isinstance(charset, str) and charset.lower() in _ASCII_NAMES):
        return _undeclared_charset(part, charset)
    if not isinstance(charset, str):
        return []
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a NUL byte in the name
        codec = ""
    if codec in _SEVEN_BIT_CODECS and _as_it_stands(part):
        _recoded(part, codec)
    if codec:
        return []
    data = part.get_payload(decode=True)
    chosen = "utf-8" if _is_utf8(data) else "windows-1252"
    part.set_param("charset", chosen)
    return [f"{part.get_content_type()}: unknown charset {charset!r}, read as {chosen}"]


_ASCII_NAMES = frozenset({"us-ascii", "ascii", "us_ascii"})

# Charsets whose text is 7-bit but not ASCII ("schl+AOQ-gt" is UTF-7 for "schlägt").
# mail-parser hands out a 7bit or 8bit part's text as it stands, whatever its charset.
_SEVEN_BIT_CODECS = frozenset(
    {"utf-7", "hz", "iso2022_kr"}
    | {f"iso2022_jp{v}" for v in ("", "_1", "_2", "_2004", "_3", "_ext")}
)


def _recoded(part: Message, codec: str) -> None:
    """The part's text decoded from ``codec`` and stored as 8-bit UTF-8, which mail-parser
    decodes. A lone surrogate (UTF-7 "+2D0-") is no text: U+FFFD, as in headers."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return
    text = _SURROGATE.sub("\ufffd", data.decode(codec, errors="replace"))
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "8bit"
    part.set_payload(text.encode("utf-8"))
    part.set_param("charset", "utf-8")


def _undeclared_charset(part: Message, declared: str | None) -> list[str]:
    """A text part without a charset (or declared US-ASCII) that holds 8-bit bytes: its
    HTML's own <meta> charset, else UTF-8 when they are, else Windows-1252, as for 8-bit
    header bytes. The default (US-ASCII; mail-parser reads UTF-8) turned every umlaut
    of a Latin-1 body into U+FFFD, and the rules missed the words that held one."""
    if part.get_content_type() not in ("text/plain", "text/html"):
        return []  # not read as the mail's text
    body = part.get_payload()
    if isinstance(body, str) and body.isascii() and _as_it_stands(part):
        return []  # 7-bit text (the usual case): nothing to decode
    if not isinstance(part.get("content-type", ""), str):
        return []  # 8-bit bytes in the field itself: set_param cannot rewrite it
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or data.isascii():
        return []
    ctype = part.get_content_type()
    meta = _meta_charset(data) if declared is None and ctype == "text/html" else None
    if meta is not None:
        part.set_param("charset", meta)
        return [f"{ctype}: no charset, read as {meta} (its <meta> tag)"]
    chosen = _eight_bit_codec(data)
    part.set_param("charset", chosen)
    if chosen == "utf-8":
        return []  # read as before (mail-parser's default): no news for the ticket
    without = f"declared {declared}" if declared else "without a charset"
    return [f"{ctype}: 8-bit bytes {without}, read as {chosen}"]


def _as_it_stands(part: Message) -> bool:
    """Whether the part's body is its text as it stands (no quoted-printable or base64)."""
    return str(part.get("content-transfer-encoding", "")).strip().lower() in _NOT_ENCODED


_NOT_ENCODED = frozenset({"", "7bit", "8bit", "binary"})


# <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">,
# looked for where browsers look (the start of the document).
_META_CHARSET = re.compile(
    rb"""<meta[^<>]{0,500}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I
)
_META_LOOKED_AT = 8192


def _meta_charset(data: bytes) -> str | None:
    """The charset an HTML body's <meta> tag names, when Python knows it and the bytes
    decode in it; else None."""
    found = _META_CHARSET.search(data, 0, _META_LOOKED_AT)
    if not found:
        return None
    name = found.group(1).decode("ascii")
    try:
        data.decode(name)
    except (LookupError, UnicodeError, ValueError):
        return None
    return name


def _is_utf8(data: object) -> bool:
    try:
        return isinstance(data, bytes) and isinstance(data.decode("utf-8"), str)
    except UnicodeDecodeError:
        return False


def _lost_parts(msg: Message) -> bytes | None:
    """The body of a multipart whose parts the parser did not find (no boundary
    parameter, or one the body does not use), as bytes; None for any other message."""
    if msg.get_content_maintype() != "multipart":
        return None
    # The body as the parser stored it (8-bit bytes surrogate-escaped), not get_payload():
    # that decodes 8-bit bytes by the charset parameter, and the text no longer went back
    # to bytes (UnicodeEncodeError; TypeError for an RFC 2231 "charset*="): quarantined.
    body = msg._payload  # type: ignore[attr-defined]
    return body.encode("ascii", "surrogateescape") if isinstance(body, str) else None


def _reparsed(body: bytes) -> tuple[Message, str] | None:
    """The body parsed again at the boundary its own lines use; None without one."""
    found = _BOUNDARY_LINE.search(body)
    if not found:
        return None
    boundary = found.group(1).decode("ascii", "replace")
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode()
    with contextlib.suppress(Exception):  # the email package raises bare exceptions
        return email.message_from_bytes(head + body), boundary
    return None


def _body_text(body: bytes) -> str:
    """The body as it stands, less the lines of MIME structure: better than no text."""
    text = eight_bit_text(body).replace("\r\n", "\n")
    return _MIME_LINE.sub("", text).strip()


_BOUNDARY_LINE = re.compile(rb'^--([^\s"]{1,70}?)(?:--)?[ \t]*\r?$', re.M)
_MIME_LINE = re.compile(r"^(?:--\S{1,200}|content-[\w-]+:.*|mime-version:.*)\r?$\n?", re.I | re.M)


def _stands_in_for(plain: str, html_text: str) -> bool:
    """Whether the plain text is no alternative of the HTML but a stand-in ("This message
    is in HTML format. Please use an HTML capable mail client."): the HTML holds at least
    twice as many distinct words (10 at the least) and under a quarter of them occur in
    the plain text. Alternatives of one text share nearly all their words (73% at the
    least in the corpora), and a plain text as long as the HTML is never set aside."""
    if len(html_text) < 2 * len(plain):
        return False  # the usual case, decided without reading the words
    in_html = set(_WORD.findall(html_text.lower()))
    in_plain = set(_WORD.findall(plain.lower()))
    if len(in_html) < max(10, 2 * len(in_plain)):
        return False
    return len(in_html & in_plain) < len(in_html) / 4


_WORD = re.compile(r"\w+")


class _PartsParser(mailparser.MailParser):
    """mail-parser without its summary dicts (``mail``, ``mail_partial``).

    They are built at the end of ``parse()`` and resolve every header and
    computed part twice; nothing here reads them, and they were 40% of
    mail-parser's time on the samples. The parts and attachments are unaffected.
    """

    def _make_mail(self, complete: bool = True) -> dict[str, Any]:
        return {}


@dataclass
class _ReadableParts:
    """What :func:`_readable_parts` could read where mail-parser gave up (the attributes
    of mail-parser's that parse_mail reads)."""

    text_plain: list[str]
    text_html: list[str]
    attachments: list[dict[str, Any]]


def _decoded_parts(msg: Message, defects: list[str]) -> mailparser.MailParser | _ReadableParts:
    """mail-parser decodes the bodies and attachments. It is handed the message with only
    its MIME headers: the others (addresses, Received, dates) are read here already, and
    mail-parser parsing them again cost more than decoding the parts."""
    # One pass: ``del msg[name]`` walks every header per name, which made a mail of
    # 50,000 distinct headers take minutes.
    msg._headers = [(k, v) for k, v in msg._headers if _is_mime_header(k)]  # type: ignore[attr-defined]
    try:
        return _PartsParser(msg)
    except Exception as exc:  # mail-parser raises bare exceptions on broken MIME
        # One broken part (a multipart with an empty boundary, say) lost the whole mail
        # to quarantine with Python's exception as its reason (review finding): the text
        # parts the standard library can read are the request.
        parts = _readable_parts(msg)
        if not (parts.text_plain or parts.text_html):
            raise ParseError(f"no readable text part: broken MIME ({type(exc).__name__})") from None
        defects.append(f"broken MIME ({type(exc).__name__}): read the text parts alone")
        return parts


def _readable_parts(msg: Message) -> _ReadableParts:
    """The text/plain and text/html leaves the standard library can decode; the rest left."""
    plain: list[str] = []
    html: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html") or part.get_filename():
            continue
        try:
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                continue
            text = data.decode(part.get_content_charset() or "utf-8", errors="replace")
        except Exception:
            continue
        (plain if ctype == "text/plain" else html).append(text)
    return _ReadableParts(plain, html, [])


def _is_mime_header(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("content-") or lowered == "mime-version"


def _header_values(msg: Message) -> tuple[dict[str, list[str]], list[str]]:
    """Every header's values as text, by lower-cased name: one pass instead of a scan per
    field (``Message.get`` walks all headers each time); and the defects repaired."""
    values: dict[str, list[str]] = {}
    defects: list[str] = []
    for k, v in msg.raw_items():
        if isinstance(v, str) and not v.isascii():
            # Raw 8-bit bytes (no encoded words) arrive surrogate-escaped: their charset
            # is unknown, and ``email`` would render them as U+FFFD.
            data = v.encode("ascii", "surrogateescape")
            v = eight_bit_text(data)
            defects.append(f"header {k}: 8-bit bytes read as {_eight_bit_codec(data)}")
        elif not isinstance(v, str):
            v = str(msg.policy.header_fetch_parse(k, v))
        elif "=?" in v:
            defects.extend(f"header {k}: {d}" for d in _encoded_word_defects(v))
        values.setdefault(k.lower(), []).append(v)
    return values, defects


def _eight_bit_codec(data: bytes) -> str:
    return "utf-8" if _is_utf8(data) else "windows-1252"


def _encoded_word_defects(value: str) -> list[str]:
    """Encoded words whose charset Python does not know (read as UTF-8/Windows-1252)."""
    found = []
    for word in _ENCODED_WORD.findall(value):
        charset = word[2:].split("?", 1)[0].split("*", 1)[0]
        try:
            codecs.lookup(charset)
        except (LookupError, ValueError):  # ValueError: a NUL byte in the name
            found.append(f"unknown charset {charset!r} in an encoded word")
    return found


# Structured headers where RFC 2047 allows no encoded word: read as they stand. Decoded,
# "=?utf-8?q?mx.sep.example=3B_dkim=3Dpass...?=" passed for our MX's verdict, which the
# MX (stripping headers of its own id) never saw as one (review finding).
_UNDECODED = frozenset({"authentication-results"})


def _header_fields(msg: Message, raw: bytes) -> dict[str, Any]:
    """The ParsedMail fields read from the top-level headers."""
    values, defects = _header_values(msg)
    first = {k: v[0] for k, v in values.items()}
    ids = _msgids(first.get("message-id", ""))
    # Without a mailbox in From, the Sender's (RFC 5322 3.6.2: who sent it on the author's
    # behalf) names who wrote in: a mail without From still reaches a person's ticket.
    froms = _addresses(values.get("from", [])) or _addresses(values.get("sender", []))
    reply_to = _addresses(values.get("reply-to", []))
    date = first.get("date")
    headers = {
        k: [header_text(v) if k not in _UNDECODED else " ".join(v.split()) for v in vs]
        for k, vs in values.items()
    }
    return {
        "message_id": ids[0] if ids else digest_id(raw),
        "has_message_id": bool(ids),
        "subject": headers.get("subject", [""])[0],
        "from_addr": froms[0][1] if froms else "",
        "from_name": froms[0][0] if froms else "",
        "reply_to": reply_to[0][1] if reply_to else "",
        "to": tuple(a for _, a in _addresses(values.get("to", []))),
        "cc": tuple(a for _, a in _addresses(values.get("cc", []))),
        "date": _date(date) if date else None,
        "in_reply_to": (_msgids(first.get("in-reply-to", "")) or [""])[0],
        "references": tuple(_msgids(" ".join(values.get("references", [])))),
        "content_type": msg.get_content_type(),
        "headers": headers,
        "defects": defects,  # not a ParsedMail field: parse_mail joins them to the rest
    }


def header_identity(raw: bytes) -> tuple[str | None, str]:
    """(Message-ID, From address) read from the header alone: for a mail whose structure
    cannot be parsed (a thousand nested parts), whose quarantine entry showed neither
    though its header was readable (review finding). (None, "") where it is not."""
    head = leading_junk_skipped(raw)[0]
    try:
        msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        ids = _msgids(str(msg.get("message-id", "")))
        froms = _addresses([str(v) for v in msg.get_all("from", [])])
    except Exception:  # a header even this cannot read: nothing to tell
        return None, ""
    return (ids[0] if ids else None), (froms[0][1] if froms else "")


def header_sender_name(head: bytes) -> str:
    """The display name of the From in a mail's header (``head``: at least its header
    block), as ParsedMail.from_name reads it; "" where there is none or it is unreadable."""
    head = leading_junk_skipped(head)[0]
    try:
        msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
        froms = _addresses([str(v) for v in msg.get_all("from", [])])
    except Exception:  # a header even this cannot read: no name to greet
        return ""
    return froms[0][0] if froms else ""


def parse_mail(raw: bytes) -> ParsedMail:
    msg, defects = _structure(raw)
    if not msg.keys():
        raise ParseError(f"no header could be read: {_why_no_header(raw)}")
    fields = _header_fields(msg, raw)  # before _decoded_parts strips those headers
    defects.extend(fields.pop("defects"))
    lost = _lost_parts(msg)
    again = _reparsed(lost) if lost else None
    if again:
        defects.append(f"{msg.get_content_type()}: parts read at the boundary {again[1]!r}")
        msg = again[0]
    defects.extend(_known_charsets(msg))
    parsed = _decoded_parts(msg, defects)
    plain = "\n".join(t for t in parsed.text_plain if t).strip()
    html_text = "\n".join(html_to_text(h) for h in parsed.text_html if h).strip()
    if lost and not plain and not html_text and (plain := _body_text(lost)):
        defects.append(f"{fields['content_type']}: no parts found, text read from the body")
    if plain and html_text and _stands_in_for(plain, html_text):
        defects.append("text/plain: a stand-in for the HTML part, the HTML's text read")
        plain = ""
    return ParsedMail(
        **fields,
        text=plain or html_text,
        html_text=html_text,
        attachments=_attachments(parsed),
        defects=tuple(dict.fromkeys(defects)),
        sealed=sealed_content(msg),
    )
