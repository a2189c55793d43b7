"""compose writes exactly what the standard library's compat32 generator writes."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.policy import compat32
from pathlib import Path

import pytest

from sepdesk.outbound import compose as composing
from tests.conftest import make_settings

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SUBJECTS = [
    "short",
    "[SEP T-2026-000001] " + "a long subject line that goes on " * 4,
    "Rücksicherung schlägt fehl – Produktion steht",
    "Größere Störung " * 12,
    "x" * 250,
]


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("name", ["SEP Support", "Müller & Söhne Support " * 4])
def test_compose_matches_the_plain_compat32_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subject: str, name: str
) -> None:
    settings = make_settings(tmp_path)
    kwargs = {
        "to": ["kunde@example.com", "zweite@example.com"],
        "subject": subject,
        "body": "Guten Tag,\nÄnderungen folgen.\n",
        "message_id": "sepdesk.T-2026-000001.20261102080000.abcdef@sep.example",
        "at": AT,
        "in_reply_to": "orig@example.com",
        "references": ["a@example.com", "b" * 90 + "@example.com"],
        "from_name": name,
        "cc": ["cc@example.com"],
    }
    fast = composing.compose(settings, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(composing, "_CRLF", compat32.clone(linesep="\r\n"))
    plain = composing.compose(settings, **kwargs)  # type: ignore[arg-type]
    assert fast == plain
    lines = fast.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    assert email.message_from_bytes(fast)["Message-ID"] == f"<{kwargs['message_id']}>"


@pytest.mark.parametrize(
    ("subject", "bare"),
    [
        ("AW: [sep t-2026-000008] frage wegen linux client", "frage wegen linux client"),
        ("Re: [SEP T-2026-000008] Frage", "Frage"),
        ("RE: [Sep C-2026-00003] [sep t-2026-000008] Frage", "Frage"),
        ("Re: T-2026-000008 without our brackets", "T-2026-000008 without our brackets"),
    ],
)
def test_our_tag_is_recognised_in_any_case(tmp_path: Path, subject: str, bare: str) -> None:
    assert composing.bare_subject(subject) == bare
    settings = make_settings(tmp_path)
    tagged = composing.tagged_subject(settings, "T-2026-000008", subject)
    assert tagged == f"[SEP T-2026-000008] {bare}"


def test_only_well_formed_message_ids_reach_in_reply_to_and_references(tmp_path: Path) -> None:
    """A customer's Message-ID is theirs to make up: one with a NUL (a space once made
    header-safe), a quote, a comma, a "(" or no "@" gave a malformed header, and one longer
    than 250 characters was cut to another id. Such ids are left out."""
    good = ["ok@example.com", "a.b+c=d@[10.0.0.1]", "sha256-0f@sepdesk.invalid"]
    bad = ["a\x00b@x.example", 'a"b@x.example', "a,b@x.example", "a(b)@x.example"]
    bad += ["no-at-sign", "m" * 300 + "@x.example", "ä@x.example", "a b@x.example"]
    raw = composing.compose(
        make_settings(tmp_path),
        to=["kunde@example.com"],
        subject="x",
        body="x\n",
        message_id="sepdesk.desk.20261102080000.abcdef@sep.example",
        at=AT,
        in_reply_to=bad[0],
        references=[*bad, *good],
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert "In-Reply-To" not in msg
    assert not msg["References"].defects
    assert str(msg["References"]).split() == [f"<{i}>" for i in good]
