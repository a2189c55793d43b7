"""Mail commands from engineers: ``#solve``, ``#severity 2`` ... at the top of a reply. Pure.

Commands are the lines at the top of the body, before any other text; blank
lines between them are allowed, and several may stand on one line
(``#accept #severity 2``), and so may a mail client's sensitivity label
("Klassifizierung: Intern"). The first line that does not start with ``#`` ends
the command block; everything from there on is the reply text. Every
command is checked here, before any is applied, so that one typo never
leaves a ticket half-changed or a reply half-sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# name -> what its argument must be: None (no argument), "severity" or "address".
SYNTAX: dict[str, str | None] = {
    "internal": None,
    "severity": "severity",
    "accept": None,
    "solve": None,
    "close": None,
    "reopen": None,
    "assign": "address",
    "waiting": None,
}
SEVERITY_NAMES = {
    "critical": 1,
    "kritisch": 1,
    "major": 2,
    "minor": 3,
    "cosmetic": 4,
    "kosmetisch": 4,
}
_ADDRESS = re.compile(r"^[^@\s<>\"',;]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# A command token: '#' then a word; '#' followed by space or a digit is not a command name.
_TOKEN = re.compile(r"#([A-Za-z][\w-]*)")
# Outlook's plain text of a link: "b.klein@sep.example<mailto:b.klein@sep.example>"; the
# address before it is the argument (review finding: the #assign was refused).
_MAILTO = re.compile(r"\s*<mailto:[^>]*>", re.IGNORECASE)
# Characters that show nothing: a byte order mark, zero-width spaces and joiners, a soft
# hyphen. Before "#internal" they made it text, and the note went to the customer.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
# A sensitivity label a mail client writes above the text ("Klassifizierung: Intern",
# "Classification: Internal"): it stood above "#internal", and the note was relayed.
_LABEL = re.compile(
    r"^(?:klassifizierung|klassifikation|classification|sensitivity|vertraulichkeit)\s*:\s*"
    r"(?:nur\s+)?(?:intern|internal|öffentlich|public|vertraulich|confidential|restricted|"
    r"general|allgemein|streng\s+vertraulich|highly\s+confidential)(?:\s+use\s+only)?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Command:
    """One checked command: its name (a key of SYNTAX) and its normalised argument."""

    name: str
    arg: str | None = None


def check_arg(name: str, args: list[str]) -> tuple[str | None, str | None]:
    """The normalised argument of a command, or an error message (the CLI's
    ``tickets assign`` asks it too, so both accept the same addresses)."""
    kind = SYNTAX[name]
    if kind is None:
        return (None, None) if not args else (None, f"#{name} takes no argument")
    if len(args) != 1:
        return None, f"#{name} needs exactly one {kind}"
    value = args[0].strip().lower()
    if kind == "severity":
        level = SEVERITY_NAMES.get(value, int(value) if value.isdigit() else 0)
        if level not in (1, 2, 3, 4):
            return None, f"#severity: {args[0]!r} is not a severity 1-4"
        return str(level), None
    value = value.strip("<>")
    if not _ADDRESS.match(value):
        return None, f"#assign: {args[0]!r} is not a mail address"
    return value, None


def _parse_line(line: str) -> tuple[list[Command], list[str]]:
    """The commands of one ``#...`` line; several may be stacked on it."""
    commands: list[Command] = []
    errors: list[str] = []
    chunks = re.split(r"(?=#)", line.strip())
    for chunk in (c.strip() for c in chunks if c.strip()):
        match = _TOKEN.match(chunk)
        if not match:
            errors.append(f"not a command: {chunk[:60]!r}")
            continue
        name = match.group(1).lower()
        if name not in SYNTAX:
            errors.append(f"unknown command #{name}")
            continue
        args = _MAILTO.sub("", chunk[match.end() :]).split()
        arg, error = check_arg(name, args)
        if error:
            errors.append(error)
        else:
            commands.append(Command(name, arg))
    return commands, errors


def parse_commands(text: str) -> tuple[list[Command], str, list[str]]:
    """Split a body into (commands, the rest of the text, errors); errors empty when all is well."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    errors: list[str] = []
    i = 0
    while i < len(lines):
        line = visible(lines[i]).strip()
        if _LABEL.match(line):
            i += 1
            continue
        if line and not line.startswith("#"):
            break
        if line:
            found, bad = _parse_line(line)
            commands.extend(found)
            errors.extend(bad)
        i += 1
    return commands, "\n".join(lines[i:]).strip(), errors


def visible(text: str) -> str:
    """``text`` without the characters that show nothing (a BOM, zero-width spaces)."""
    return _INVISIBLE.sub("", text)


def misplaced(text: str) -> list[str]:
    """The lines of ``text`` (what would reach the customer) that are commands alone: a
    command below other text ("Hi,", then "#internal") is no command, and relayed it
    sent an internal note to the customer (review finding)."""
    found = []
    for line in visible(text).split("\n"):
        commands, errors = _parse_line(line) if line.strip().startswith("#") else ([], [])
        if commands and not errors:
            found.append(line.strip())
    return found
