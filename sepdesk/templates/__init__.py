"""Reply texts per language as ``$``-templates: ``templates/<lang>/<name>.txt``.

Values are substituted with :class:`string.Template`; a missing value is a
bug and raises. Values from a mail (names, subjects) are plain text in a
plain-text body, so no escaping is needed; headers are built elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import resources
from string import Template

LANGUAGES = ("de", "en")


@cache
def _load(lang: str, name: str) -> Template:
    lang = lang if lang in LANGUAGES else "en"
    text = resources.files(__name__).joinpath(lang, f"{name}.txt").read_text(encoding="utf-8")
    return Template(text)


def render(lang: str, template: str, /, **values: object) -> str:
    return _load(lang, template).substitute(
        {k: "" if v is None else str(v) for k, v in values.items()}
    )


# A display name is greeted only up to this length: the reply goes to the address the
# mail names, so a name of any length made the desk mail any text to anyone (a 1 MB
# name gave a 1 MB acknowledgement).
GREETED_NAME_MAX = 100


def greeting(lang: str, name: str | None) -> str:
    """The greeting line, with the name when there is a name of a name's length."""
    if not name or len(name) > GREETED_NAME_MAX:
        name = ""
    return render(lang, "greeting", name=name).replace(" ,", ",")


def exists(lang: str, name: str) -> bool:
    return resources.files(__name__).joinpath(lang, f"{name}.txt").is_file()


@cache
def table(lang: str, name: str) -> dict[str, str]:
    """A ``key = text`` template file as a mapping (field labels, severity names)."""
    lang = lang if lang in LANGUAGES else "en"
    text = resources.files(__name__).joinpath(lang, f"{name}.txt").read_text(encoding="utf-8")
    pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, _, v in pairs}


def readable_instant(lang: str, iso: str) -> str:
    """A local ISO 8601 instant as a customer reads a date: "Montag, 02.11.2026, 10:42 Uhr",
    "Monday, 2 November 2026, 10:42" (review finding: only the machine's form was given)."""
    at = datetime.fromisoformat(iso)
    words = table(lang, "dates")
    return words["format"].format(
        weekday=words["weekdays"].split()[at.weekday()],
        month_name=words["months"].split()[at.month - 1],
        day=at.day,
        month=at.month,
        year=at.year,
        hour=at.hour,
        minute=at.minute,
    )


def severity_line(lang: str, severity: int, due: str, passed: bool = False) -> str:
    """The line that tells a customer the severity and the first-response due (local ISO
    text, given readable and as it is): the acknowledgement, the phone call's confirmation
    and the Call ID notice. ``passed``: the due is over when the mail is written; it is
    then no promise."""
    name = table(lang, "severities").get(str(severity), str(severity))
    return render(
        lang,
        "severity_passed" if passed else "severity",
        severity_name=name,
        due=due,
        when=readable_instant(lang, due),
    )
