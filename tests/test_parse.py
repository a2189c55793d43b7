"""parse_mail hands mail-parser only the MIME headers: what it decodes must not change."""

from __future__ import annotations

import email
from pathlib import Path

import mailparser
import pytest

from sepdesk.pipeline import parse
from tests.conftest import MAILS

HELDOUT = sorted(Path(__file__).parent.joinpath("corpus", "heldout").glob("**/*.eml"))
CORPUS = [*MAILS, *HELDOUT]


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_mail_parser_decodes_the_same_parts_without_the_other_headers(path: Path) -> None:
    raw = path.read_bytes()
    whole = mailparser.parse_from_bytes(raw)
    stripped = parse._decoded_parts(email.message_from_bytes(raw), [])
    assert stripped.text_plain == whole.text_plain
    assert stripped.text_html == whole.text_html
    assert stripped.attachments == whole.attachments


def test_headers_are_read_before_they_are_stripped() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=B6rg?= <JOERG@Example.com>\r\nTo: support@sep.example\r\n"
        b"Subject: Hallo\r\nMessage-ID: <a@b>\r\nReceived: from x by y\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nText\r\n"
    )
    mail = parse.parse_mail(raw)
    assert (mail.from_addr, mail.from_name, mail.subject) == ("joerg@example.com", "Jörg", "Hallo")
    assert mail.header("Received") == "from x by y"
    assert mail.text == "Text"


def test_an_encoded_word_with_a_non_ascii_charset_name_is_read_as_utf8() -> None:
    """email raises CharsetError (not a decoding error) for it; the mail still parses,
    and the words are read as UTF-8 rather than left encoded."""
    raw = (
        b"From: =?utf-\xff8?q?J=C3=B6rg?= <joerg@example.com>\r\nTo: support@sep.example\r\n"
        b"Subject: =?utf-\xff8?q?Hallo?= Welt\r\nMessage-ID: <a@b>\r\n\r\nText\r\n"
    )
    mail = parse.parse_mail(raw)
    assert (mail.from_addr, mail.from_name) == ("joerg@example.com", "Jörg")
    assert mail.subject == "Hallo Welt"
    assert mail.text == "Text"


def _html_parts() -> list[str]:
    from tests.test_parse_equivalence import CORPUS

    parts = []
    for path in CORPUS:
        for part in email.message_from_bytes(path.read_bytes()).walk():
            payload = (
                part.get_payload(decode=True) if part.get_content_type() == "text/html" else None
            )
            if isinstance(payload, bytes) and payload:
                parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return parts


def test_large_html_is_rendered_by_its_tags_as_html_parser_renders_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """html.parser costs 0.3 s a MB: a 29 MB HTML report took 12 s of its pipeline
    process. Past HTML_PARSER_LIMIT the markup is split at its tags by one regular
    expression and fed to the same renderer; it must read as html.parser reads it."""
    edge = [
        "<p>a &amp; b</p><script>x<y</script><td>1</td><td>2</td>",
        "a < b > c <<<< d",
        "<!-- c --><BR>Hi<br/>there",
        "<head><title>t</title></head><body>x&nbsp;y</body>",
        "<div>x<style>p{}</style>y</div><?xml x?>z",
        "1 <2 and 3> 0",
        # Outlook's conditional comment: its XML's values had become text ("96").
        "<!--[if gte mso 9]><xml><o:PixelsPerInch>96</o:PixelsPerInch></xml><![endif]-->Hallo",
        "<p>a<!-- x --></p>b<!--<p>c</p>-->d",
        'a<script>var s = "<p>";</script>b',  # html.parser sees no tag in a script
        # Quote containers, their attributes read either way.
        "<div>a</div><blockquote type='cite'><div>b</div>c\nd<blockquote class=gmail_quote>e"
        "</blockquote></blockquote>f",
        '<DIV CLASS="yahoo_quoted">x<div>y</div></DIV>z<blockquote>own</blockquote>',
    ]
    docs = [*_html_parts(), *edge]
    assert len(docs) > 10  # the corpus has HTML mails
    by_parser = [parse.html_to_text(d) for d in docs]
    monkeypatch.setattr(parse, "HTML_PARSER_LIMIT", 0)
    assert [parse.html_to_text(d) for d in docs] == by_parser


BROKEN_LAST_PART = (
    b"From: Lars Brandt <l.brandt@stadtwerke-havelberg.de>\nTo: support@sep.example\n"
    b"Subject: restore fails, log attached\nMessage-ID: <bad11@r4.test>\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="XYZ"\n\n--XYZ\n'
    b"Content-Type: text/plain; charset=utf-8\n\n"
    b"Restore of the file server fails. Nobody can work.\n--XYZ\n"
    b"Content-Type: multipart/alternative; boundary=\n"
)


def test_a_broken_part_leaves_the_readable_text_parts_read() -> None:
    """mail-parser gave up on the empty boundary of the last part, and the whole request
    went to quarantine as 'AttributeError: ...' (review finding)."""
    mail = parse.parse_mail(BROKEN_LAST_PART)
    assert mail.message_id == "bad11@r4.test"
    assert mail.text.startswith("Restore of the file server fails.")
    assert "broken MIME (AttributeError): read the text parts alone" in mail.defects


def test_a_broken_mail_without_a_readable_text_part_says_so() -> None:
    raw = BROKEN_LAST_PART.replace(b"Content-Type: text/plain", b"Content-Type: image/png")
    with pytest.raises(parse.ParseError, match=r"^no readable text part: broken MIME"):
        parse.parse_mail(raw)


HTML_REQUEST = (
    "<html><body><p>Hallo,</p><p>seit gestern schlägt die Sicherung unseres Fileservers"
    " fehl. Fehlermeldung: <b>Verbindung zum Datenmover verloren (rc 17)</b>. Das passiert"
    " beim nächtlichen Backup auf die Bandbibliothek HPE MSL3040. Server: Windows Server"
    " 2022 mit SEP sesam 5.1.0.</p><p>Grüße Peter</p></body></html>"
)


def alternative(plain: str, markup: str = HTML_REQUEST) -> bytes:
    return (
        "From: p@x.example\r\nTo: support@sep.example\r\nSubject: Sicherung\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n'
        f"--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{plain}\r\n"
        f"--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{markup}\r\n--a--\r\n"
    ).encode()


@pytest.mark.parametrize(
    "placeholder",
    [
        "This message is in HTML format. Please use an HTML capable mail client.",
        "Diese Nachricht ist im HTML-Format. Bitte verwenden Sie ein HTML-fähiges Programm.",
    ],
)
def test_a_plain_stand_in_for_the_html_part_is_not_the_mails_text(placeholder: str) -> None:
    mail = parse.parse_mail(alternative(placeholder))
    assert mail.text.startswith("Hallo,\n\nseit gestern schlägt die Sicherung")
    assert "Windows Server 2022" in mail.text and placeholder not in mail.text
    assert "text/plain: a stand-in for the HTML part, the HTML's text read" in mail.defects


@pytest.mark.parametrize(
    "plain",
    [
        # The same text as the HTML, as mail clients write the plain alternative.
        "Hallo,\r\n\r\nseit gestern schlägt die Sicherung unseres Fileservers fehl."
        " Fehlermeldung: *Verbindung zum Datenmover verloren (rc 17)*. Das passiert beim"
        " nächtlichen Backup auf die Bandbibliothek HPE MSL3040. Server: Windows Server"
        " 2022 mit SEP sesam 5.1.0.\r\n\r\nGrüße Peter",
        # Shorter than the HTML (no signature there), but the same request.
        "Hallo, seit gestern schlägt die Sicherung fehl: Verbindung zum Datenmover"
        " verloren (rc 17). Windows Server 2022, SEP sesam 5.1.0.",
    ],
)
def test_a_plain_alternative_of_the_same_text_stays_the_mails_text(plain: str) -> None:
    mail = parse.parse_mail(alternative(plain))
    assert mail.text == plain
    assert not any("stand-in" in d for d in mail.defects)
