"""Linear-time stand-ins for two functions of the ``email`` package, installed process-wide.

The standard library's ``email.header.decode_header`` and ``email.message._parseparam``
take time quadratic in what a hostile header holds (encoded words, parameters): a
Subject of 140 kB took 40 s, a Content-Type of 500 kB 9 s, and the parser, mail-parser
and the SMTP intake's threading check all call them. The functions here give the same
results (tests compare them with the originals on random input) in linear time.

:func:`install` puts them in place of the originals, once, for the whole process:
every parse of a mail goes through them (email.message's ``get_param`` and
``get_boundary``, mail-parser's file names), including the bounce reader's and anything
else in the daemon that parses mail. The originals are kept in ``ORIGINALS``.
"""

from __future__ import annotations

import binascii
import email.base64mime
import email.errors
import email.header
import email.message
import email.quoprimime
import re
from bisect import bisect_left
from typing import Any

import mailparser.utils

_STDLIB_DECODE_HEADER = email.header.decode_header
ORIGINALS = {
    "email.message._parseparam": email.message._parseparam,  # type: ignore[attr-defined]
    "mailparser.utils.decode_header": mailparser.utils.decode_header,
}


def install() -> None:
    """Put the linear functions in place of the originals (idempotent)."""
    email.message._parseparam = parse_params  # type: ignore[attr-defined]
    # mail-parser decodes attachment file names with the standard library's function.
    mailparser.utils.decode_header = decode_header


def decode_header(header: Any) -> list[tuple[bytes | str, str | None]]:
    """``email.header.decode_header`` of a str, with the same result in linear time.

    The standard library's takes time quadratic in the number of encoded words: its
    pattern scans to the end of the line from every ``=?x?q?`` that no ``?=`` closes
    (140 kB of them took 39 s), and it pops the head of a list per word, and deletes
    and concatenates in place (200,000 closed ones: 21 s). SMTP intake reads the
    Subject (conversation.names_a_thread) before it answers, so one such mail held
    every other sender's 250 that long.
    """
    if not isinstance(header, str):  # a Header object (mail-parser passes those for 8-bit
        return _STDLIB_DECODE_HEADER(header)  # headers): no encoded words to scan for
    if len(_encoded_split(header)) == 1:
        return [(header, None)]
    words: list[tuple[str, str | None, str | None]] = []
    for line in header.splitlines():
        parts = _encoded_split(line)
        if parts[0].lstrip():
            words.append((parts[0].lstrip(), None, None))
        for i in range(1, len(parts), 4):
            charset, kind, encoded, unencoded = parts[i : i + 4]
            words.append((encoded, kind.lower(), charset.lower()))
            if unencoded:
                words.append((unencoded, None, None))
    # Whitespace between two encoded words is dropped.
    words = [
        w
        for n, w in enumerate(words)
        if not (0 < n < len(words) - 1 and words[n + 1][1] and words[n - 1][1] and w[0].isspace())
    ]
    collapsed: list[tuple[bytes | str, str | None]] = []
    run: list[bytes] = []
    run_charset: str | None = None
    for text, encoding, of in words:
        if run and of != run_charset:
            collapsed.append(_joined(run, run_charset))
            run = []
        run_charset = of
        run.append(_decoded_word(text, encoding))
    collapsed.append(_joined(run, run_charset))
    return collapsed


def _decoded_word(encoded: str, encoding: str | None) -> bytes:
    if encoding is None:
        return bytes(encoded, "raw-unicode-escape")
    if encoding == "q":
        return bytes(email.quoprimime.header_decode(encoded), "raw-unicode-escape")
    padding = len(encoded) % 4  # Postel's law: add missing padding
    if padding:
        encoded += "==="[: 4 - padding]
    try:
        return email.base64mime.decode(encoded)
    except binascii.Error:
        raise email.errors.HeaderParseError("Base64 decoding error") from None


def _joined(run: list[bytes], charset: str | None) -> tuple[bytes, str | None]:
    # Plain words are joined by a space, encoded words of one charset directly.
    return (b" " if charset is None else b"").join(run), charset


def _encoded_split(line: str) -> list[str]:
    """``email.header.ecre.split(line)``: the text between encoded words, and per word
    its charset, encoding and encoded text; found by the same rules (the charset runs to
    the first "?", the encoded text to the first "?=" on its line), in linear time."""
    closes = [m.start() for m in _CLOSE.finditer(line)]
    breaks = [m.start() for m in _NEWLINE.finditer(line)]
    out: list[str] = []
    done = 0  # where the text not yet split off starts
    start = line.find("=?")
    while start != -1:
        mark = line.find("?", start + 2)
        if (
            mark != -1
            and line[mark + 1 : mark + 2] in _ENCODINGS
            and line[mark + 2 : mark + 3] == "?"
        ):
            i = bisect_left(closes, mark + 3)
            if i == len(closes):
                break  # nothing closes this word, nor any later one
            end = closes[i]
            j = bisect_left(breaks, mark + 3)
            if j == len(breaks) or breaks[j] >= end:  # the encoded text stays on its line
                out += [
                    line[done:start],
                    line[start + 2 : mark],
                    line[mark + 1],
                    line[mark + 3 : end],
                ]
                done = end + 2
                start = line.find("=?", done)
                continue
        start = line.find("=?", start + 1)
    out.append(line[done:])
    return out


_CLOSE = re.compile(r"\?=")
_NEWLINE = re.compile(r"\n")
_ENCODINGS = ("q", "Q", "b", "B")


def parse_params(value: object) -> list[str]:
    """``email.message._parseparam``: a header's ``;``-separated parameters (the name
    lower-cased, spaces around "=" removed), with the same result in linear time.

    The standard library's copies the rest of the value for each parameter, and counts
    the quotes from the start of one again for each ";" inside quotes: 100,000
    parameters in a Content-Type took 9 s, and the parser, mail-parser and the charset
    repair each ask for them (``get_boundary``, ``get_param``).
    """
    text = ";" + str(value)
    params = []
    start = 0  # what is left to read: text[start:]
    while text[start : start + 1] == ";":
        start += 1
        end = text.find(";", start)
        counted, quotes = start, 0  # the quotes (less escaped ones) in text[start:counted]
        while end > start:
            quotes += text.count('"', counted, end) - text.count('\\"', counted, end)
            counted = end
            if quotes % 2 == 0:
                break
            end = text.find(";", end + 1)
        if end < 0:
            end = len(text)
        param = text[start:end]
        if "=" in param:
            i = param.index("=")
            param = param[:i].strip().lower() + "=" + param[i + 1 :].strip()
        params.append(param.strip())
        start = end
    return params
