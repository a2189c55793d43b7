"""Reply texts per language as ``$``-templates: ``templates/<lang>/<name>.txt``.

Values are substituted with :class:`string.Template`; a missing value is a
bug and raises. Values from a mail (names, subjects) are plain text in a
plain-text body, so no escaping is needed; headers are built elsewhere.
"""

from __future__ import annotations

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


def exists(lang: str, name: str) -> bool:
    return resources.files(__name__).joinpath(lang, f"{name}.txt").is_file()


@cache
def table(lang: str, name: str) -> dict[str, str]:
    """A ``key = text`` template file as a mapping (field labels, severity names)."""
    lang = lang if lang in LANGUAGES else "en"
    text = resources.files(__name__).joinpath(lang, f"{name}.txt").read_text(encoding="utf-8")
    pairs = (line.partition("=") for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, _, v in pairs}
