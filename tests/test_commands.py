"""Mail commands (sepdesk.pipeline.commands) and the staff authentication check, on short texts."""

from __future__ import annotations

import pytest

from sepdesk.config import from_mapping
from sepdesk.pipeline.commands import Command, misplaced, parse_commands
from sepdesk.pipeline.parse import parse_mail
from sepdesk.pipeline.staff import authenticated, staff_sender


def test_stacked_commands_then_text() -> None:
    text = "#accept\n#severity 2\n\n#assign Anna@SEP.example\nDear customer,\n#not a command\n"
    commands, rest, errors = parse_commands(text)
    assert commands == [
        Command("accept"),
        Command("severity", "2"),
        Command("assign", "anna@sep.example"),
    ]
    assert rest == "Dear customer,\n#not a command"
    assert errors == []


def test_several_commands_on_one_line_and_any_case() -> None:
    commands, rest, errors = parse_commands("#SOLVE #Severity major\r\nThanks")
    assert commands == [Command("solve"), Command("severity", "2")]
    assert (rest, errors) == ("Thanks", [])


def test_no_commands_leaves_text_alone() -> None:
    assert parse_commands("Hello,\n#solve\n") == ([], "Hello,\n#solve", [])
    assert parse_commands("") == ([], "", [])


@pytest.mark.parametrize("link", ["<mailto:b.klein@sep.example>", " <MAILTO:b.klein@sep.example>"])
def test_assign_takes_the_address_before_outlooks_mailto_link(link: str) -> None:
    commands, _rest, errors = parse_commands(f"#assign b.klein@sep.example{link}\nHello")
    assert (commands, errors) == ([Command("assign", "b.klein@sep.example")], [])


def test_internal_note() -> None:
    commands, rest, errors = parse_commands("#internal\nCustomer is on 4.4.3, ask sales.")
    assert commands == [Command("internal")]
    assert rest == "Customer is on 4.4.3, ask sales."
    assert not errors


@pytest.mark.parametrize(
    "text",
    [
        "\ufeff#internal\nCustomer is difficult.",
        "\u200b#internal\nCustomer is difficult.",
        "Klassifizierung: Intern\n\n#internal\nCustomer is difficult.",
        "Classification: Internal use only\n#internal\nCustomer is difficult.",
    ],
)
def test_invisible_characters_and_a_sensitivity_label_stand_not_above_a_command(
    text: str,
) -> None:
    """Review finding: a BOM or Outlook's label above "#internal" made it text, and the
    note went to the customer."""
    assert parse_commands(text) == ([Command("internal")], "Customer is difficult.", [])


def test_a_label_like_line_of_the_answer_itself_is_kept() -> None:
    text = "Classification: Minor, a workaround exists.\nRegards"
    assert parse_commands(text) == ([], text, [])


def test_commands_alone_on_a_line_below_text_are_found() -> None:
    assert misplaced("Hi,\n\u200b#internal\nnote\n #solve #severity 2\n") == [
        "#internal",
        "#solve #severity 2",
    ]
    assert misplaced("Hi,\nsee #internal docs\n#1 on the list\n#solv\n") == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("#solv\nHi", "unknown command #solv"),
        ("#severity\nHi", "#severity needs exactly one severity"),
        ("#severity 7", "#severity: '7' is not a severity 1-4"),
        ("#severity high", "#severity: 'high' is not a severity 1-4"),
        ("#assign", "#assign needs exactly one address"),
        ("#assign bob", "#assign: 'bob' is not a mail address"),
        ("#solve now", "#solve takes no argument"),
        ("# solve", "not a command: '# solve'"),
    ],
)
def test_malformed_commands_are_errors(text: str, error: str) -> None:
    _commands, _rest, errors = parse_commands(text)
    assert errors == [error]


def test_one_bad_command_among_good_ones_is_reported() -> None:
    commands, _rest, errors = parse_commands("#accept\n#frobnicate\n#solve\nText")
    assert [c.name for c in commands] == ["accept", "solve"]
    assert errors == ["unknown command #frobnicate"]


# --------------------------------------------------------------------------- authentication

SETTINGS = from_mapping(
    {"desk": {"staff": ["@sep.example"], "authserv_id": "mx.sep.example", "require_auth": True}}
)


def mail(*auth: str, sender: str = "anna@sep.example") -> bytes:
    head = "".join(f"Authentication-Results: {a}\r\n" for a in auth)
    return f"{head}From: Anna <{sender}>\r\nSubject: x\r\n\r\nbody\r\n".encode()


@pytest.mark.parametrize(
    "auth",
    [
        ("mx.sep.example; dkim=pass header.d=sep.example",),
        ("mx.sep.example; dkim=pass (2048-bit key) header.i=@sep.example header.s=k1",),
        ("mx.sep.example 1; spf=pass (sender ok) smtp.mailfrom=anna@sep.example",),
        ("mx.sep.example; dkim=fail header.d=sep.example; spf=pass smtp.mailfrom=sep.example",),
        ("MX.SEP.EXAMPLE; dkim=pass header.d=SEP.example",),
    ],
)
def test_aligned_pass_from_our_authserv_is_staff(auth: tuple[str, ...]) -> None:
    assert staff_sender(SETTINGS, parse_mail(mail(*auth))) == "anna@sep.example"


@pytest.mark.parametrize(
    "auth",
    [
        (),  # no header at all
        ("mx.sep.example; dkim=fail header.d=sep.example; spf=softfail smtp.mailfrom=sep.example",),
        ("mx.evil.example; dkim=pass header.d=sep.example",),  # someone else's verdict
        ("mx.sep.example; dkim=pass header.d=evil.example",),  # not aligned
        ("mx.sep.example; dkim=pass header.d=sep.example.evil.example",),
        ("mx.sep.example; spf=pass smtp.mailfrom=x@evil.example header.from=sep.example",),
        ("mx.sep.example; dkim=pass header.d=example",),  # a bare TLD aligns nothing
        ("mx.sep.example; dmarc=pass header.from=sep.example",),
        # our MX's own verdict is on top; a forged one of the same id further down is ignored
        ("mx.sep.example; dkim=none", "mx.sep.example; dkim=pass header.d=sep.example"),
        # an encoded word is no verdict: our MX, stripping headers of its id, never saw one
        ("=?utf-8?q?mx.sep.example=3B_dkim=3Dpass_header.d=3Dsep.example?=",),
    ],
)
def test_missing_failing_or_foreign_results_are_not_staff(auth: tuple[str, ...]) -> None:
    assert staff_sender(SETTINGS, parse_mail(mail(*auth))) is None


@pytest.mark.parametrize(
    "results",
    [
        # The envelope sender is the sender's to choose, and a quoted local part may hold
        # ";" and "(": our MX writes it into smtp.mailfrom (and its comments) as it came.
        'spf=pass smtp.mailfrom="a;dkim=pass header.d=sep.example;"@evil.example',
        'spf=pass smtp.mailfrom="a;spf=pass smtp.mailfrom=sep.example;"@evil.example',
        'spf=pass (domain of "x);dkim=pass header.d=sep.example;(y"@evil.example permitted)'
        ' smtp.mailfrom="x);dkim=pass header.d=sep.example;(y"@evil.example',
        'spf=pass smtp.mailfrom="a header.d=sep.example"@evil.example; dkim=pass'
        ' header.d=evil.example header.b="b header.d=sep.example"',
        # Comments nest (RFC 5322): the inner one must not end the outer one.
        "dkim=fail (outer (inner) ; dkim=pass header.d=sep.example) header.d=sep.example",
    ],
)
def test_a_quoted_envelope_sender_cannot_smuggle_a_pass_into_the_results(results: str) -> None:
    raw = mail(f"mx.sep.example; {results}")
    assert staff_sender(SETTINGS, parse_mail(raw)) is None


def test_a_quoted_local_part_still_passes_for_its_own_domain() -> None:
    raw = mail('mx.sep.example; spf=pass smtp.mailfrom="anna; x"@sep.example')
    assert staff_sender(SETTINGS, parse_mail(raw)) == "anna@sep.example"


def test_non_staff_address_never_counts_even_when_authenticated() -> None:
    raw = mail("mx.sep.example; dkim=pass header.d=other.example", sender="eve@other.example")
    parsed = parse_mail(raw)
    assert authenticated(SETTINGS, parsed)
    assert staff_sender(SETTINGS, parsed) is None


def test_require_auth_false_trusts_the_from_address() -> None:
    lax = from_mapping({"desk": {"staff": ["anna@sep.example"], "require_auth": False}})
    assert staff_sender(lax, parse_mail(mail())) == "anna@sep.example"
    assert staff_sender(lax, parse_mail(mail(sender="bob@sep.example"))) is None
