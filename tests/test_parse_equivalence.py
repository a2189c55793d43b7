"""parse_mail against a frozen copy of the implementation it replaced: every field equal.

parse_mail was made cheaper (one header pass, mail-parser without its summary dicts, ...)
with the promise that no result changes. The copy below is the parser as of commit
115fb07, kept verbatim apart from names; a difference on any mail is a regression of
the rewrite. The inputs are the sample and held-out corpora, odd mails written here,
and seeded mutations of the corpus (truncated, mangled, re-encoded).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import email.errors
import email.utils
import hashlib
import html
import random
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import mailparser
import mailparser.core
import pytest

from sepdesk.pipeline import parse
from sepdesk.pipeline.parse import Attachment, ParsedMail, ParseError
from tests.conftest import SAMPLES

# --- the frozen reference (parse.py at 115fb07) -------------------------------------------

_REF_MSGID = re.compile(r"<([^<>\s]+)>")


def _ref_msgids(value: str) -> list[str]:
    found = _REF_MSGID.findall(value or "")
    if not found and value and value.strip() and " " not in value.strip():
        found = [value.strip().strip("<>")]
    return found


def _ref_decode(value: object) -> str:
    # As parse_mail's since the CharsetError fix (an encoded word with a non-ASCII
    # charset name made parse_mail raise it instead of keeping the text as it is).
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:
        with contextlib.suppress(
            UnicodeError,
            LookupError,
            ValueError,
            email.errors.HeaderParseError,
            email.errors.CharsetError,  # a charset name that is not ASCII
        ):
            text = str(make_header(decode_header(text)))
    return " ".join(text.split())


class _RefHtmlText(HTMLParser):
    _BLOCK = frozenset(
        {"p", "div", "br", "tr", "li", "pre", "h1", "h2", "h3", "h4", "table", "td", "th"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.out.append("\n" if tag != "td" else " ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.out.append("\n" if tag != "td" else " ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def _ref_html_to_text(markup: str) -> str:
    parser = _RefHtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    lines = (
        " ".join(line.replace("\xa0", " ").split()) for line in "".join(parser.out).splitlines()
    )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _ref_addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    values = [str(v) for v in msg.get_all(name, [])]
    return [
        (_ref_decode(n), a.strip().lower())
        for n, a in email.utils.getaddresses(values)
        if a and "@" in a
    ]


def _ref_message_date(msg: Message) -> datetime | None:
    value = msg.get("Date")
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return dt if dt.tzinfo else None


def _ref_attachments(parsed: Any) -> tuple[Attachment, ...]:
    out = []
    for a in parsed.attachments:
        ctype = (a.get("mail_content_type") or "application/octet-stream").lower()
        payload = a.get("payload") or ""
        text = ""
        if ctype.startswith("text/") or ctype in ("message/rfc822", "message/delivery-status"):
            text = _ref_attachment_text(payload, bool(a.get("binary")))
        out.append(Attachment(a.get("filename") or "", ctype, len(payload), text))
    return tuple(out)


def _ref_attachment_text(payload: str, binary: bool) -> str:
    if not binary:
        return payload
    try:
        return base64.b64decode(payload).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def _ref_digest_id(raw: bytes) -> str:
    return "sha256-" + hashlib.sha256(raw).hexdigest()[:40] + "@sepdesk.invalid"


def _ref_structure(raw: bytes) -> tuple[Message, list[str]]:
    try:
        msg = email.message_from_bytes(raw)
        defects = [str(d) for d in getattr(msg, "defects", [])]
        for part in msg.walk():
            defects.extend(f"{part.get_content_type()}: {type(d).__name__}" for d in part.defects)
    except RecursionError:
        raise ParseError("cannot decode MIME structure: nesting too deep to parse") from None
    except Exception as exc:
        raise ParseError(f"cannot decode MIME structure: {type(exc).__name__}: {exc}") from None
    return msg, defects


def _ref_decoded_parts(msg: Message) -> Any:
    for name in {k for k in msg if not _ref_is_mime_header(k)}:
        del msg[name]
    try:
        return mailparser.MailParser(msg)
    except Exception as exc:
        raise ParseError(f"cannot decode MIME structure: {type(exc).__name__}: {exc}") from None


def _ref_is_mime_header(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("content-") or lowered == "mime-version"


def _ref_header_fields(msg: Message, raw: bytes) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for k, v in msg.items():
        headers.setdefault(k.lower(), []).append(_ref_decode(v))
    ids = _ref_msgids(str(msg.get("Message-ID", "")))
    froms = _ref_addresses(msg, "From")
    reply_to = _ref_addresses(msg, "Reply-To")
    return {
        "message_id": ids[0] if ids else _ref_digest_id(raw),
        "has_message_id": bool(ids),
        "subject": _ref_decode(msg.get("Subject", "")),
        "from_addr": froms[0][1] if froms else "",
        "from_name": froms[0][0] if froms else "",
        "reply_to": reply_to[0][1] if reply_to else "",
        "to": tuple(a for _, a in _ref_addresses(msg, "To")),
        "cc": tuple(a for _, a in _ref_addresses(msg, "Cc")),
        "date": _ref_message_date(msg),
        "in_reply_to": (_ref_msgids(str(msg.get("In-Reply-To", ""))) or [""])[0],
        "references": tuple(_ref_msgids(" ".join(str(v) for v in msg.get_all("References", [])))),
        "content_type": msg.get_content_type(),
        "headers": headers,
    }


def reference_parse_mail(raw: bytes) -> ParsedMail:
    msg, defects = _ref_structure(raw)
    if not msg.keys():
        raise ParseError("no header could be read: not an e-mail message")
    fields = _ref_header_fields(msg, raw)
    parsed = _ref_decoded_parts(msg)
    plain = "\n".join(t for t in parsed.text_plain if t).strip()
    html_text = "\n".join(_ref_html_to_text(h) for h in parsed.text_html if h).strip()
    return ParsedMail(
        **fields,
        text=plain or html_text,
        html_text=html_text,
        attachments=_ref_attachments(parsed),
        defects=tuple(dict.fromkeys(defects)),
    )


# --- inputs ---------------------------------------------------------------------------------

CORPUS = sorted(
    {
        *SAMPLES.joinpath("mails").rglob("*.eml"),
        *Path(__file__).parent.joinpath("corpus").rglob("*.eml"),
    }
)

_HEAD = (
    b"From: Alice Example <alice@example.com>\r\nTo: support@sep.example\r\n"
    b"Subject: Test\r\nDate: Mon, 02 Nov 2026 09:00:00 +0100\r\nMessage-ID: <t1@example.com>\r\n"
)


def _mime(content_type: bytes, body: bytes, head: bytes = _HEAD) -> bytes:
    return head + b"MIME-Version: 1.0\r\nContent-Type: " + content_type + b"\r\n\r\n" + body


def _multipart(subtype: bytes, *parts: bytes, head: bytes = _HEAD) -> bytes:
    body = b"".join(b"--B0\r\n" + p + b"\r\n" for p in parts) + b"--B0--\r\n"
    return _mime(b"multipart/" + subtype + b'; boundary="B0"', b"preamble\r\n" + body, head)


_PDF = base64.b64encode(b"%PDF-1.4 \x00\x01\x02 binary" * 20)
_LOG = base64.b64encode(b"2026-11-02 ERROR Sicherung fehlgeschlagen: Zugriff verweigert\n")
_PLAIN = b"Content-Type: text/plain; charset=utf-8\r\n\r\nHallo Support,\r\nes geht nicht.\r\n"
_HTML = (
    b"Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p{}</style></head>"
    b"<body><p>Hallo&nbsp;<b>Support</b></p><table><tr><td>a</td><td>b</td></tr></table>"
    b"<script>x()</script></body></html>\r\n"
)

ODD_MAILS: dict[str, bytes] = {
    "empty": b"",
    "body-only": b"\r\njust a body, no header\r\n",
    "garbage-bytes": bytes(range(256)),
    "header-only": b"Subject: nur ein Betreff\r\n",
    "no-from-no-id-no-date": b"To: support@sep.example\r\nSubject: x\r\n\r\nText\r\n",
    "lf-only": _HEAD.replace(b"\r\n", b"\n") + b"\nText mit LF\n",
    "subject-q-utf8": _HEAD.replace(
        b"Subject: Test", b"Subject: =?UTF-8?Q?R=C3=BCcksicherung_schl=C3=A4gt_fehl?="
    )
    + b"\r\nText\r\n",
    "subject-b-and-plain-mixed": _HEAD.replace(
        b"Subject: Test",
        b"Subject: AW: =?utf-8?B?w5xiZXJzaWNodA==?= und\r\n =?iso-8859-1?q?M=FCll?=",
    )
    + b"\r\nText\r\n",
    "subject-broken-encoded-word": _HEAD.replace(
        b"Subject: Test", b"Subject: =?utf-8?q?kaputt =?x-unknown?q?abc?= =?utf-8?b?@@@?="
    )
    + b"\r\nText\r\n",
    "subject-8bit-latin1": _HEAD.replace(b"Subject: Test", "Subject: Grüße".encode("latin-1"))
    + b"\r\nText\r\n",
    "subject-8bit-utf8": _HEAD.replace(b"Subject: Test", "Subject: Grüße €".encode())
    + b"\r\nText\r\n",
    "subject-folded-tabs": _HEAD.replace(
        b"Subject: Test", b"Subject:   Lange\r\n\tZeile  mit\r\n   Falz  "
    )
    + b"\r\nText\r\n",
    "from-8bit-name": _HEAD.replace(b"Alice Example", "Jörg Müller".encode("latin-1"))
    + b"\r\nText\r\n",
    "addresses-odd": (
        b'From: "M\xc3\xbcller, J\xc3\xb6rg" <JOERG@Example.COM>\r\n'
        b"Reply-To: (comment) Reply <reply@Example.com> (trailing)\r\n"
        b"To: undisclosed-recipients:;\r\n"
        b'To: Group: a@x.example, "b\\"q" <b@y.example>;, c@z.example\r\n'
        b"Cc: =?utf-8?q?J=C3=BCrg?= Meier <j.meier@x.example>,\r\n <bare@x.example>, not-an-address,"
        b' "" <empty@x.example>, Dr. No <no@x.example>, <@route:r@x.example>\r\n'
        b"Cc: second@cc.example\r\n"
        b"Subject: addresses\r\nMessage-ID: no-brackets@id\r\n\r\nText\r\n"
    ),
    "addresses-broken": (
        b'From: <>\r\nTo: a@b@c, <unterminated@x, "open quote <q@x>\r\nCc: ,,,\r\n'
        b"Reply-To: @\r\nSubject: x\r\n\r\nText\r\n"
    ),
    "from-comment-form": _HEAD.replace(
        b"Alice Example <alice@example.com>", b"alice@example.com (Alice Example)"
    )
    + b"\r\nText\r\n",
    "ids-and-refs": (
        _HEAD.replace(b"Message-ID: <t1@example.com>", b"Message-ID: <a@b> <c@d>")
        + b"In-Reply-To: <p1@example.com>\r\nReferences: <r1@x>\r\n <r2@x>\r\n"
        b"References: <r3@x>\r\n\r\nText\r\n"
    ),
    "ids-bare": (
        _HEAD.replace(b"Message-ID: <t1@example.com>", b"Message-ID:   bare@id  ")
        + b"In-Reply-To: two words\r\n\r\nText\r\n"
    ),
    "date-naive": _HEAD.replace(b"+0100", b"-0000") + b"\r\nText\r\n",
    "date-garbage": _HEAD.replace(b"Mon, 02 Nov 2026 09:00:00 +0100", b"gestern") + b"\r\nText\r\n",
    "date-empty": _HEAD.replace(b"Mon, 02 Nov 2026 09:00:00 +0100", b"") + b"\r\nText\r\n",
    "date-8bit": _HEAD.replace(b"Mon, 02", "Mön, 02".encode()) + b"\r\nText\r\n",
    "date-two": _HEAD + b"Date: Tue, 03 Nov 2026 10:00:00 +0000\r\n\r\nText\r\n",
    "duplicate-and-odd-names": (
        _HEAD + b"X-Custom: 1\r\nx-custom: 2\r\nDefects: wire\r\nParse: x\r\nHeaders_json: y\r\n"
        b"Received: from a by b\r\nReceived: from c by d; Mon, 02 Nov 2026 09:00:00 +0100\r\n"
        b"Authentication-Results: mx; spf=pass\r\n\r\nText\r\n"
    ),
    "plain-latin1": _mime(
        b"text/plain; charset=iso-8859-1", "Grüße aus Köln\r\n".encode("latin-1")
    ),
    "plain-cp1252-qp": _mime(
        b"text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: quoted-printable",
        b"Preis: 10 =80, Stra=DFe\r\n",
    ),
    "plain-koi8r-b64": _mime(
        b"text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64",
        base64.b64encode("Привет мир".encode("koi8-r")) + b"\r\n",
    ),
    "plain-unknown-charset": _mime(b"text/plain; charset=x-nonsense", b"caf\xe9 \xff\r\n"),
    "plain-utf8-declared-latin1-bytes": _mime(b"text/plain; charset=utf-8", b"caf\xe9\r\n"),
    "plain-bad-base64": _mime(
        b"text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64", b"@@@not base64!!\r\n"
    ),
    "html-only": _mime(
        b"text/html; charset=utf-8",
        b"<p>Sehr geehrte&nbsp;Damen,</p><div>Fehler <b>E42</b></div><br><ul><li>a</li></ul>\r\n",
    ),
    "html-broken": _mime(b"text/html", b"<p>offen <b <<>> </scr<!-- x &#xZZ; &amp \r\n"),
    "html-only-empty": _mime(b"text/html", b"<html><head><title>t</title></head></html>\r\n"),
    "alternative": _multipart(b"alternative", _PLAIN, _HTML),
    "alternative-html-first": _multipart(b"alternative", _HTML, _PLAIN),
    "mixed-attachments": _multipart(
        b"mixed",
        _PLAIN,
        b'Content-Type: application/pdf; name="Bericht.pdf"\r\n'
        b'Content-Disposition: attachment; filename="Bericht.pdf"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + _PDF,
        b'Content-Type: text/plain; name="job.log"\r\nContent-Disposition: attachment;'
        b' filename="job.log"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + _LOG,
        b"Content-Type: text/plain\r\nContent-Disposition: attachment; filename*=UTF-8''"
        b"Pr%C3%BCfung.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nA=3DB\r\n",
        b"Content-Type: image/png\r\nContent-ID: <img1@x>\r\nContent-Disposition: inline\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n",
        b"Content-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\nraw",
        b"Content-Type: application/rtf\r\n\r\n{\\rtf1 x}",
        b'Content-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline; filename="n.txt"'
        b"\r\n\r\nnamed inline text\r\n",
    ),
    "encoded-filename": _multipart(
        b"mixed",
        _PLAIN,
        b'Content-Type: application/octet-stream; name="=?utf-8?q?B=C3=A4r.bin?="\r\n'
        b'Content-Disposition: attachment; filename="=?utf-8?q?B=C3=A4r.bin?="\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nAAEC\r\n",
        b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="f\xe4.txt"\r\n'
        b"\r\n8bit name\r\n",
    ),
    "forwarded-rfc822": _multipart(
        b"mixed",
        _PLAIN,
        b"Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
        + _mime(b"text/plain", b"inner body\r\n"),
    ),
    "dsn-bounce": _multipart(
        b"report; report-type=delivery-status",
        b"Content-Type: text/plain\r\n\r\nDelivery failed.\r\n",
        b"Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1\r\n",
        b"Content-Type: text/rfc822-headers\r\n\r\nSubject: original\r\n",
    ),
    "nested": _multipart(
        b"mixed",
        b'Content-Type: multipart/alternative; boundary="B1"\r\n\r\n--B1\r\n'
        + _PLAIN
        + b"\r\n--B1\r\n"
        + _HTML
        + b"\r\n--B1--\r\n",
        b'Content-Type: multipart/mixed; boundary="B2"\r\nContent-Disposition: attachment;'
        b' filename="bundle"\r\n\r\n--B2\r\n' + _PLAIN + b"\r\n--B2--\r\n",
    ),
    "multipart-no-boundary": _mime(b"multipart/mixed", b"--x\r\n\r\nbody\r\n--x--\r\n"),
    "multipart-unterminated": _mime(
        b'multipart/mixed; boundary="B0"', b"--B0\r\n" + _PLAIN + b"\r\n--B0\r\n" + _HTML
    ),
    "multipart-start-boundary-missing": _mime(
        b'multipart/mixed; boundary="B0"', b"no boundary here\r\n" + _PLAIN
    ),
    "multipart-epilogue-part": _mime(
        b'multipart/mixed; boundary="B0"',
        b"text before\r\n--B0\r\n" + _PLAIN + b"\r\n--B0--\r\n",
    ),
    "bad-cte": _mime(b"text/plain\r\nContent-Transfer-Encoding: x-weird ", b"payload\r\n"),
    "uuencode": _mime(
        b"text/plain\r\nContent-Disposition: attachment; filename=u.txt\r\n"
        b"Content-Transfer-Encoding: x-uuencode",
        b"begin 644 u.txt\r\n#86)C\r\n`\r\nend\r\n",
    ),
    "content-type-garbage": _mime(b'garbage;;; charset="', b"Text\r\n"),
    "header-without-colon": b"From alice@example.com Mon Nov  2 09:00:00 2026\r\n"
    + _HEAD
    + b"\r\nx",
    "continuation-first": b" folded first line\r\n" + _HEAD + b"\r\nText\r\n",
    "deep-nesting": (
        b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
        + b"".join(
            b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
            for i in range(1200)
        )
    ),
}


def _mutations(raw: bytes, rng: random.Random) -> Iterator[bytes]:
    """Damaged variants of one real mail: what a broken client or relay might deliver."""
    lines = raw.splitlines(keepends=True)
    yield raw[: rng.randrange(1, len(raw))]
    dropped = rng.randrange(len(lines))
    yield b"".join(lines[:dropped] + lines[dropped + 1 :])
    yield raw.replace(b"\r\n", b"\n") if b"\r\n" in raw else raw.replace(b"\n", b"\r\n")
    spot = rng.randrange(len(raw))
    yield raw[:spot] + bytes([rng.randrange(128, 256)]) + raw[spot:]
    head, _, body = raw.partition(b"\n\n" if b"\r\n\r\n" not in raw else b"\r\n\r\n")
    yield head.replace(b"Content-Type:", b"X-Old-Content-Type:") + b"\r\n\r\n" + body
    yield raw.replace(b"boundary=", b"boundary=X", 1)


_RNG = random.Random(20261102)
MUTATED = [
    (f"{path.name}#{i}", variant)
    for path in CORPUS
    for i, variant in enumerate(_mutations(path.read_bytes(), _RNG))
]


# --- comparison -----------------------------------------------------------------------------


_unnamed = [0]


@pytest.fixture(autouse=True)
def _deterministic_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """mail-parser names unnamed attachments randomly; both runs must see the same names."""

    def numbered(n: int = 10) -> str:
        _unnamed[0] += 1
        return f"{_unnamed[0]:0{n}}"

    monkeypatch.setattr(mailparser.core, "random_string", numbered)


def _outcome(parse_fn: Callable[[bytes], ParsedMail], raw: bytes) -> tuple[str, str, object]:
    """The result and its repr (which keeps what == forgets: tz of equal instants, dict
    order), or the exception. Not only ParseError: the reference lets a few others out
    (none known since the reference, like parse_mail, lets no CharsetError out of a
    mangled encoded word), and those must stay the same too."""
    _unnamed[0] = 0
    try:
        mail = parse_fn(raw)
    except Exception as exc:
        return type(exc).__name__, str(exc), None
    return "ParsedMail", repr(mail), mail


def _assert_same(raw: bytes) -> None:
    new, ref = _outcome(parse.parse_mail, raw), _outcome(reference_parse_mail, raw)
    assert new[:2] == ref[:2]
    assert new[2] == ref[2]


def test_inputs_were_found() -> None:
    assert len(CORPUS) >= 75


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_corpus_mail_parses_as_before(path: Path) -> None:
    _assert_same(path.read_bytes())


@pytest.mark.parametrize("raw", list(ODD_MAILS.values()), ids=list(ODD_MAILS))
def test_odd_mail_parses_as_before(raw: bytes) -> None:
    _assert_same(raw)


def test_mutated_corpus_parses_as_before() -> None:
    for name, raw in MUTATED:
        try:
            _assert_same(raw)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


def test_the_comparison_sees_a_difference() -> None:
    """Guards the guard: a parser differing in one header value must not compare equal."""
    raw = ODD_MAILS["addresses-odd"]

    def off_by_one_header(data: bytes) -> ParsedMail:
        mail = parse.parse_mail(data)
        return ParsedMail(**{**mail.__dict__, "headers": {**mail.headers, "cc": ["x"]}})

    assert _outcome(off_by_one_header, raw) != _outcome(reference_parse_mail, raw)


_ADDRESS_PIECES = (
    "a", "Bob", "x.y", "Dr.", ".", "..", "=?utf-8?q?J=C3=B6rg?=", "ü", "_", "o'neil", "{x}",
    '"q"', '"a, b"', '""', '"x\\"y"', '"(c)"', '"ü\t"', '"open',
    "<", ">", "@", "<>", "<a@b.c>", "<A.B@Ex-1.example>", "<@r:a@b>", "<a@[1.2.3.4]>",
    "a@b", "a@b.c", "a.b@c.d", "a..b@c", ".a@b", "a.@b", "a@b..c", "a@b.", "a@-b", "a@@b",
    "a@b@c", "(c)", "(a (b) c)", ",", ";", ":", "g:", " ", "  ", "\t", "\r\n ", "\n", "\\",
    "[", "]", "x@y.example", "%", "!", "#", "`",
)  # fmt: skip


_NAME_PIECES = (
    "Bob",
    "Dr.",
    ".",
    "x.y",
    "o'neil",
    "=?utf-8?q?J=C3=B6rg?=",
    '"a, b"',
    '""',
    '"ü\t"',
)


def _address_values(rng: random.Random) -> Iterator[str]:
    """Address header values of every shape: plain, named, quoted, encoded, broken."""
    for _ in range(3000):
        yield "".join(rng.choice(_ADDRESS_PIECES) for _ in range(rng.randrange(1, 7)))
        pool = _NAME_PIECES if rng.random() < 0.8 else _ADDRESS_PIECES
        words = [rng.choice(pool) for _ in range(rng.randrange(0, 4))]
        gaps = [rng.choice((" ", " ", " ", "  ", "", "\t")) for _ in words]
        name = "".join(w + s for w, s in zip(words, gaps, strict=True))
        local = rng.choice(("a", "a.b", "A_b", "a+b", "a.", "a b", '"a"'))
        domain = rng.choice(("d", "D-e", "d.e", "e.", "é"))
        yield f"{name}<{local}@x.{domain}>" if rng.random() < 0.8 else f"{local}@x.{domain}"


def test_addresses_of_several_values_as_before() -> None:
    values = list(_address_values(random.Random(11)))
    rng = random.Random(13)
    for _ in range(2000):
        chosen = rng.sample(values, rng.randrange(0, 4))
        expected = [
            (_ref_decode(n), a.strip().lower())
            for n, a in email.utils.getaddresses(chosen)
            if a and "@" in a
        ]
        assert parse._addresses(chosen) == expected, chosen
