"""Damaged and unusual mail keeps its text and names what was wrong (SPEC §4).

Headers in raw 8-bit bytes, display names that are encoded words holding specials,
invalid addresses, a multipart whose boundary is missing or wrong, a body charset
Python does not know, and a mail of tens of thousands of header lines.
"""

from __future__ import annotations

import email.errors
import email.header
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sepdesk.desk import Desk
from sepdesk.intake.files import ingest_file
from sepdesk.intake.store import store_raw
from sepdesk.pipeline import runner
from sepdesk.pipeline.conversation import names_a_thread
from sepdesk.pipeline.linear_email import ORIGINALS, decode_header, parse_params
from sepdesk.pipeline.parse import ParseError, parse_mail

HEAD = b"To: support@sep.example\r\nDate: Sun, 06 Dec 2026 10:00:00 +0100\r\n"


def mail(headers: bytes, body: bytes = b"Text\r\n") -> bytes:
    return HEAD + headers + b"\r\n" + body


def test_raw_8bit_headers_are_read_as_utf8_or_windows_1252() -> None:
    utf8 = parse_mail(
        mail("From: Jürgen Größ <j@x.example>\r\nSubject: schlägt fehl – Über\r\n".encode())
    )
    assert (utf8.from_name, utf8.subject) == ("Jürgen Größ", "schlägt fehl – Über")
    latin = parse_mail(
        mail("From: Jürgen <j@x.example>\r\nSubject: schlägt fehl\r\n".encode("latin-1"))
    )
    assert (latin.from_name, latin.subject) == ("Jürgen", "schlägt fehl")
    assert "\ufffd" not in latin.headers["subject"][0]
    assert "header Subject: 8-bit bytes read as utf-8" in utf8.defects
    assert "header Subject: 8-bit bytes read as windows-1252" in latin.defects


def test_an_encoded_word_of_an_unknown_charset_is_read_and_named() -> None:
    parsed = parse_mail(mail(b"From: a@x.example\r\nSubject: =?foo-bar?q?Sicherung_kaputt?=\r\n"))
    assert parsed.subject == "Sicherung kaputt"
    assert parsed.defects == ("header Subject: unknown charset 'foo-bar' in an encoded word",)


def test_an_encoded_display_name_is_decoded_after_the_address_is_found() -> None:
    raw = mail(b"From: =?utf-8?q?Evil=0D=0ABcc:_victim@evil.example?= <inj2@newcorp.example>\r\n")
    parsed = parse_mail(raw)
    assert parsed.from_addr == "inj2@newcorp.example"
    assert "victim@evil.example" in parsed.from_name  # a name, never an address


def test_an_invalid_address_is_no_address() -> None:
    for value in (b"unterminated <bad@@example", b"@only-domain", b"two@at@x.example"):
        assert parse_mail(mail(b"From: " + value + b"\r\n")).from_addr == "", value
    assert parse_mail(mail(b"From: root@localhost\r\n")).from_addr == "root@localhost"


def test_a_wrong_boundary_is_found_in_the_body_and_the_parts_read() -> None:
    raw = mail(
        b'From: a@x.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="XYZ"\r\n',
        b"--ABC\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding:"
        b" quoted-printable\r\n\r\nR=C3=BCcksicherung fails with error E123.\r\n--ABC--\r\n",
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Rücksicherung fails with error E123."
    assert "multipart/mixed: parts read at the boundary 'ABC'" in parsed.defects


@pytest.mark.parametrize("params", [b"", b'; boundary="XYZ"', b"; charset*=utf-8''utf-8"])
def test_a_multipart_of_8_bit_text_with_a_wrong_boundary_is_read(params: bytes) -> None:
    """Its parts were lost, and reading its body for them raised UnicodeEncodeError
    (TypeError for the RFC 2231 charset): the mail was quarantined, not read."""
    raw = mail(
        b"From: a@x.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed"
        + params
        + b"\r\n",
        b"--ABC\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit"
        b"\r\n\r\n" + "Rücksicherung schlägt fehl.\r\n--ABC--\r\n".encode(),
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Rücksicherung schlägt fehl."
    assert "multipart/mixed: parts read at the boundary 'ABC'" in parsed.defects


@pytest.mark.parametrize("charset", [b"charset*=utf-8''utf-8", b'charset="utf\x00-8"'])
def test_8_bit_text_of_an_rfc_2231_or_nul_charset_is_read(charset: bytes) -> None:
    """Looking for lost parts in it (it is no multipart) decoded its body by that charset
    parameter: TypeError (a tuple) or ValueError, and the mail was quarantined."""
    raw = mail(
        b"From: a@x.example\r\nContent-Type: text/plain; " + charset + b"\r\n",
        "Rücksicherung schlägt fehl.\r\n".encode(),
    )
    assert parse_mail(raw).text == "Rücksicherung schlägt fehl."


def test_a_multipart_without_boundary_keeps_its_body_as_text() -> None:
    raw = mail(
        b"From: a@x.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n",
        b"Some text. Backup fails.\r\n",
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Some text. Backup fails."
    assert any("NoBoundaryInMultipart" in d for d in parsed.defects)
    assert any("text read from the body" in d for d in parsed.defects)


def test_an_unknown_body_charset_is_read_from_the_bytes_and_named() -> None:
    raw = mail(
        b"From: a@x.example\r\nContent-Type: text/plain; charset=foo-bar\r\n",
        "Die Sicherung schlägt fehl.\r\n".encode("latin-1"),
    )
    parsed = parse_mail(raw)
    assert parsed.text == "Die Sicherung schlägt fehl."
    assert parsed.defects == ("text/plain: unknown charset 'foo-bar', read as windows-1252",)
    assert parsed.headers["content-type"] == ["text/plain; charset=foo-bar"]  # as received


@pytest.mark.parametrize(
    ("content_type", "named"),
    [
        (b"", "without a charset"),
        (b"Content-Type: text/plain\r\n", "without a charset"),
        (b"Content-Type: text/plain; charset=us-ascii\r\n", "declared us-ascii"),
        (
            b"Content-Type: text/plain; charset=US-ASCII\r\nContent-Transfer-Encoding: 8bit\r\n",
            "declared US-ASCII",
        ),
    ],
)
def test_8_bit_text_of_no_or_an_ascii_charset_is_read_as_the_headers_are(
    content_type: bytes, named: str
) -> None:
    """Latin-1 body bytes no charset declares: Windows-1252, as in a header, and named."""
    latin = "Die Sicherung schlägt fehl. Priorität: hoch.\r\n".encode("latin-1")
    parsed = parse_mail(mail(b"From: a@x.example\r\n" + content_type, latin))
    assert parsed.text == "Die Sicherung schlägt fehl. Priorität: hoch."
    assert parsed.defects == (f"text/plain: 8-bit bytes {named}, read as windows-1252",)
    utf8 = parse_mail(mail(b"From: a@x.example\r\n" + content_type, "Grüße\r\n".encode()))
    assert (utf8.text, utf8.defects) == ("Grüße", ())  # read as before: no defect


def test_quoted_printable_latin_1_without_a_charset_is_read() -> None:
    parsed = parse_mail(
        mail(
            b"From: a@x.example\r\nContent-Transfer-Encoding: quoted-printable\r\n",
            b"Die Sicherung schl=E4gt fehl.\r\n",
        )
    )
    assert parsed.text == "Die Sicherung schlägt fehl."


def test_html_without_a_charset_is_read_in_the_charset_of_its_meta_tag() -> None:
    for meta in (
        b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">',
        b'<meta charset="ISO-8859-15"/>',
    ):
        body = b"<html><head>" + meta + b"</head><body><p>Gr\xfc\xdfe, 5 \xa4</p></body></html>"
        parsed = parse_mail(mail(b"From: a@x.example\r\nContent-Type: text/html\r\n", body))
        assert parsed.text == "Grüße, 5 €"
        assert any("its <meta> tag" in d for d in parsed.defects)


def test_tens_of_thousands_of_header_lines_parse_at_once() -> None:
    """Stripping the headers one name at a time was quadratic: 16,000 distinct headers
    took 14 s, 50,000 minutes. A hang guard, not a speed figure (that is bench/)."""
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(30_000))
    started = time.monotonic()
    parsed = parse_mail(mail(b"From: a@x.example\r\nSubject: many\r\n" + many))
    assert time.monotonic() - started < 10
    assert (parsed.subject, parsed.text) == ("many", "Text")


def test_a_subject_or_file_name_of_many_encoded_words_is_read_at_once() -> None:
    """The standard library's decode_header scans to the line's end from every "=?x?q?"
    that nothing closes: 8,000 of them (56 kB) took about 4 s each time, to thread the
    mail at SMTP intake, to parse it, and (in mail-parser) to read an attachment's file
    name; a MB-sized Subject took hours. A hang guard."""
    words = b"=?utf-8?q?x" * 8_000
    raw = mail(
        b"From: a@x.example\r\nSubject: " + words + b" T-2026-000042\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n',
        b"--b\r\n\r\nText\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="' + words + b'"\r\n\r\ndata\r\n--b--\r\n',
    )
    started = time.monotonic()
    threaded = names_a_thread(raw)
    parsed = parse_mail(raw)
    assert time.monotonic() - started < 2
    assert threaded and parsed.subject.endswith("=?utf-8?q?x T-2026-000042")
    assert parsed.attachments[0].filename.endswith("=?utf-8?q?x")


def test_encoded_words_that_decode_to_lone_surrogates_still_make_a_ticket(
    sample_desk: Desk,
) -> None:
    """UTF-7 and unicode-escape decode to lone surrogates, which SQLite cannot store:
    the mail failed three times and went to quarantine instead of becoming a ticket."""
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    raw = mail(
        b"From: =?unicode-escape?q?J=5Cud800rg?= <t.weiss@mueller-maschinenbau.de>\r\n"
        b"Subject: =?utf-7?q?Restore_+2D0-_fails?=\r\nMessage-ID: <s@x>\r\n"
    )
    stored = store_raw(sample_desk.db, source="file", raw=raw, received_at=at)
    result = runner.process(sample_desk, stored.intake_id, at)
    assert (result.state, result.outcome) == ("done", "new_ticket")
    parsed = parse_mail(raw)
    assert (parsed.subject, parsed.from_name) == ("Restore \ufffd fails", "J\ufffdrg")


@pytest.mark.parametrize(
    "markup",
    [
        "<p>Restore fails</p>" + "<a " * 8_000,  # an unclosed tag with more after it: 5 s
        "<p>Restore fails</p>" + "<![x[" + "<" * 80_000,  # html.parser gives up: 4 s
    ],
)
def test_html_with_unclosed_markup_is_read_at_once(markup: str) -> None:
    """Python 3.11's html.parser, at close(), searched the rest of the text from each "<"
    after an unclosed tag, comment or CDATA section; and the fallback for markup it
    refuses searched for a ">" from each "<". A hang guard."""
    raw = mail(b"From: a@x.example\r\nContent-Type: text/html\r\n", markup.encode())
    started = time.monotonic()
    parsed = parse_mail(raw)
    assert time.monotonic() - started < 1
    assert parsed.text.startswith("Restore fails")


# Pieces of encoded words, and whole ones (ASCII or not), to run together at random.
_WHOLE_WORDS = ["=?a?q?x_=C3=A9=41?=", "=?b?B?QUJD?=", "=?utf-8?b?w6k?="]
_HEADER_BITS = st.sampled_from(
    [*"?=qBx_é \t\n\r\x0b\u2028", "=?", "?=", "utf-8", "QUJD", "?q?", "=?x?Q?", *_WHOLE_WORDS]
)


def _decoded(decode, text: str) -> object:
    try:
        return decode(text)
    except email.errors.HeaderParseError as exc:
        return f"HeaderParseError: {exc}"


@settings(max_examples=500, deadline=None)
@given(st.lists(_HEADER_BITS, max_size=30).map("".join))
@example("=?x?Q?\n?=")  # the whole value is searched too: no encoded text spans a LF
def test_decode_header_is_the_standard_librarys(text: str) -> None:
    assert _decoded(decode_header, text) == _decoded(email.header.decode_header, text)


def test_a_content_type_of_many_parameters_is_read_at_once() -> None:
    """The standard library copies the rest of a header value for each parameter:
    80,000 of them (400 kB) took about 6 s to parse, a MB-sized header hours. A hang
    guard with room for a loaded machine: the linear reading takes about 1.4 s here."""
    many = b"; a=b" * 120_000
    raw = mail(
        b"From: a@x.example\r\nContent-Type: multipart/mixed" + many + b'; boundary="B"\r\n',
        b"--B\r\nContent-Type: text/plain" + many + b"\r\n\r\nText\r\n--B--\r\n",
    )
    started = time.monotonic()
    parsed = parse_mail(raw)
    assert time.monotonic() - started < 8
    assert parsed.text == "Text"


_STDLIB_PARSEPARAM = ORIGINALS["email.message._parseparam"]
_PARAM_BITS = st.sampled_from([*';"\\= aB\t', '\\"', "a=b", 'n="x;y"', "N*0*=utf-8''%41"])


@settings(max_examples=500, deadline=None)
@given(st.lists(_PARAM_BITS, max_size=30).map("".join))
def test_parse_params_is_the_standard_librarys(value: str) -> None:
    assert parse_params(value) == _STDLIB_PARSEPARAM(value)


def test_mime_defects_are_kept_with_the_outcome_and_on_the_ticket(sample_desk: Desk) -> None:
    raw = mail(
        b"From: t.weiss@mueller-maschinenbau.de\r\nSubject: Sicherung\r\nMessage-ID: <d1@x>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n",
        b"Kundennummer 104217. Backup fails with error E123.\r\n",
    )
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    row = store_raw(sample_desk.db, source="file", raw=raw, received_at=at)
    result = runner.process(sample_desk, row.intake_id, at)
    assert result.outcome == "new_ticket"
    steps = json.loads(sample_desk.db["intake"].get(row.intake_id)["steps"])
    assert any(
        "MIME defects: multipart/mixed: NoBoundaryInMultipartDefect" in str(s) for s in steps
    )
    events = list(
        sample_desk.db.query("SELECT kind, detail FROM events WHERE kind = 'mime_defects'")
    )
    assert len(events) == 1 and "NoBoundaryInMultipartDefect" in events[0]["detail"]
    ticket = sample_desk.db.execute(
        "SELECT id FROM tickets WHERE ticket_number = ?", [result.ticket]
    )
    assert ticket.fetchone() is not None


def test_a_display_name_folded_inside_its_quotes_keeps_its_address() -> None:
    """getaddresses read a quoted name folded across lines as no address (no reply, no
    contact match), or took an address from inside the quotes and answered that."""
    folded = parse_mail(mail(b'From: "Weiss, Thomas\r\n (IT)" <t.weiss@x.example>\r\n'))
    assert (folded.from_addr, folded.from_name) == ("t.weiss@x.example", "Weiss, Thomas (IT)")
    inside = parse_mail(mail(b'From: "Bcc:\r\n other@y.example" <t.weiss@x.example>\r\n'))
    assert inside.from_addr == "t.weiss@x.example"


def test_a_nul_in_a_charset_name_is_an_unknown_charset_not_a_crash() -> None:
    body = mail(b'From: a@x.example\r\nContent-Type: text/plain; charset="a\x00b"\r\n', b"Hi\r\n")
    assert parse_mail(body).text == "Hi"
    word = parse_mail(mail(b"From: a@x.example\r\nSubject: =?a\x00b?q?Hallo?=\r\n"))
    assert word.subject == "Hallo" and "unknown charset" in word.defects[0]


def test_names_that_look_like_the_parsers_placeholders_are_just_names() -> None:
    parsed = parse_mail(
        mail(
            b"From: sepdeskword7x <a@b.example>\r\nReply-To: sepdeskword0x@b.example\r\n"
            b"Cc: \xee\x80\x805\xee\x80\x81 <c@d.example>\r\n"
        )
    )
    assert (parsed.from_addr, parsed.from_name) == ("a@b.example", "sepdeskword7x")
    assert parsed.reply_to == "sepdeskword0x@b.example"
    assert parsed.cc == ("c@d.example",)


def test_a_parser_surprise_quarantines_its_row_and_the_batch_goes_on(
    sample_desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    good = mail(b"From: t.weiss@mueller-maschinenbau.de\r\nSubject: ok\r\nMessage-ID: <g@x>\r\n")
    bad = mail(b"From: t.weiss@mueller-maschinenbau.de\r\nSubject: boom\r\nMessage-ID: <b@x>\r\n")
    ids = [
        store_raw(sample_desk.db, source="file", raw=r, received_at=at).intake_id
        for r in (bad, good)
    ]
    real = runner.parse_mail

    def surprising(raw: bytes):
        if b"boom" in raw:
            raise IndexError("a parser bug")
        return real(raw)

    monkeypatch.setattr(runner, "parse_mail", surprising)
    results = runner.process_batch(sample_desk, ids, at)
    assert [r.state for r in results] == ["quarantined", "done"]
    assert "IndexError: a parser bug" in results[0].reason


def test_mail_parser_still_reads_an_8_bit_header_on_its_own() -> None:
    """mail-parser hands decode_header a Header object for a header of raw 8-bit bytes;
    the linear stand-in must pass those on, not raise, for any other user of mail-parser
    in the process."""
    import mailparser

    parsed = mailparser.parse_from_bytes(
        b"From: a@b.example\r\nSubject: Gr\xfc\xdfe aus K\xf6ln\r\n\r\nText\r\n"
    )
    assert parsed.subject and "K" in parsed.subject
    header = email.header.Header("plain")
    assert decode_header(header) == email.header.decode_header(header)


@pytest.mark.parametrize(
    ("before", "named"),
    [
        (b"\xef\xbb\xbf", ("a byte order mark before the header, skipped",)),
        (b"\r\n", ("1 blank line before the header, skipped",)),
        (b"\n\n", ("2 blank lines before the header, skipped",)),
        (
            b"\xef\xbb\xbf\r\n",
            (
                "a byte order mark before the header, skipped",
                "1 blank line before the header, skipped",
            ),
        ),
    ],
)
def test_a_byte_order_mark_or_blank_lines_before_the_header_are_skipped(
    before: bytes, named: tuple[str, ...]
) -> None:
    parsed = parse_mail(before + mail(b"From: a@x.example\r\nSubject: Sicherung\r\n"))
    assert (parsed.from_addr, parsed.subject, parsed.text) == ("a@x.example", "Sicherung", "Text")
    assert parsed.date is not None
    assert parsed.defects == named


@pytest.mark.parametrize(
    ("first", "shown"),
    [
        (b"X-Bad\xe4Header: 1", "X-Bad\\xe4Header: 1"),
        (b"Received from garbage without colon", "Received from garbage without colon"),
    ],
)
def test_a_first_line_that_is_no_header_is_named_in_the_reason(first: bytes, shown: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_mail(first + b"\r\n" + mail(b"From: a@x.example\r\n"))
    assert str(caught.value) == f"no header could be read: the first line is not a header: {shown}"


def test_a_file_with_a_byte_order_mark_is_ingested_by_its_date(desk: Desk, tmp_path: Path) -> None:
    """`ingest --received-at header` reads the Date as the pipeline reads the mail."""
    path = tmp_path / "bom.eml"
    path.write_bytes(b"\xef\xbb\xbf" + mail(b"From: a@x.example\r\nMessage-ID: <bom@x>\r\n"))
    assert ingest_file(desk, path, "header").outcome == "new_ticket"


@pytest.mark.parametrize(
    "date", [b"Tue, 10 Nov 2026 10:00:00 -0000", b"Tue, 10 Nov 2026 10:00:00 -0000 (UTC)"]
)
def test_a_date_of_minus_0000_is_utc(date: bytes, desk: Desk, tmp_path: Path) -> None:
    """RFC 5322 3.3: -0000 is UTC without the sender's zone; a Date without one stays unread."""
    raw = b"From: a@x.example\r\nMessage-ID: <tz@x>\r\nDate: " + date + b"\r\n\r\nText\r\n"
    assert parse_mail(raw).date == datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
    assert parse_mail(raw.replace(b" -0000", b"")).date is None
    path = tmp_path / "tz.eml"
    path.write_bytes(raw)
    assert ingest_file(desk, path, "header").outcome == "new_ticket"
    received = desk.db.execute("SELECT received_at FROM intake").fetchone()[0]
    assert datetime.fromisoformat(received) == datetime(2026, 11, 10, 10, 0, tzinfo=UTC)


def test_a_broken_encoded_word_spoils_only_itself() -> None:
    """Its bytes were joined to the next word's (one charset) and all read as Windows-1252."""
    subject = b"=?utf-8?B?U2ljaGVydW5n!!!invalid?= =?utf-8?Q?schl=C3=A4gt_fehl=ZZ?="
    parsed = parse_mail(mail(b"From: a@x.example\r\nSubject: " + subject + b"\r\n"))
    assert parsed.subject == "Sicherung\ufffdschlägt fehl=ZZ"
    alone = parse_mail(mail(b"From: a@x.example\r\nSubject: =?utf-8?Q?schl=E4gt?=\r\n"))
    assert alone.subject == "schlägt"  # a sound word of a wrong charset: as before


@pytest.mark.parametrize(
    ("charset", "body", "text"),
    [
        (b"utf-7", b"Die Sicherung schl+AOQ-gt fehl.", "Die Sicherung schlägt fehl."),
        (b"UTF-7", b"Restore +2D0- fails", "Restore \ufffd fails"),  # a lone surrogate
        (b"iso-2022-jp", "バックアップ失敗".encode("iso-2022-jp"), "バックアップ失敗"),
    ],
)
def test_a_7_bit_body_of_a_non_ascii_charset_is_decoded(
    charset: bytes, body: bytes, text: str
) -> None:
    """mail-parser handed a 7bit part's text out as it stands, whatever its charset."""
    ctype = b"Content-Type: text/plain; charset=" + charset + b"\r\n"
    parsed = parse_mail(mail(b"From: a@x.example\r\n" + ctype, body + b"\r\n"))
    assert parsed.text == text
