"""The benches' mails: the sample corpus cycled to N, each copy made unique.

Every copy gets a fresh Message-ID (else the pipeline records a duplicate) and a
made-up word at the end of its Subject, so no two mails' texts are the same: the
pipeline keeps small caches keyed by text, and a corpus cycled unchanged would
let them answer for the next round's copy of a mail, as real mail does not.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
MID_RE = re.compile(rb"^Message-ID:[^\r\n]*(\r?\n[ \t][^\r\n]*)*\r?\n", re.I | re.M)
SUBJECT_RE = re.compile(rb"^(Subject:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.I | re.M)


def sample_mails(n: int) -> list[bytes]:
    """N raw mails cycling through the sample corpus, each copy unique (see above)."""
    corpus = [p.read_bytes() for p in sorted((SAMPLES / "mails").glob("*.eml"))]
    out = []
    for i in range(n):
        raw = corpus[i % len(corpus)]
        eol = b"\r\n" if b"\r\n" in raw[:200] else b"\n"
        fresh = b"Message-ID: <bench-%d-%d@bench.example>" % (i, time.time_ns()) + eol
        out.append(_mark_subject(fresh + MID_RE.sub(b"", raw, count=1), i))
    return out


def made_up_word(i: int) -> str:
    """A word of q, x and z unique to ``i``: no rule knows it, and it has no digits that
    could pass for a customer or ticket number."""
    letters = "qxz"
    word = ""
    while True:
        i, rest = divmod(i, 3)
        word += letters[rest]
        if not i:
            return "zq" + word


def _mark_subject(raw: bytes, i: int) -> bytes:
    """``raw`` with ``made_up_word(i)`` after its Subject (headers only; appended, so
    "Re:"/"FW:" still open it)."""
    end = re.search(rb"\r?\n\r?\n", raw)
    cut = end.start() if end else len(raw)
    word = b" " + made_up_word(i).encode()
    head = SUBJECT_RE.sub(lambda m: m.group(1) + word, raw[:cut], count=1)
    return head + raw[cut:]
