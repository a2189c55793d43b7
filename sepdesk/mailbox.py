"""What counts as a mailbox: one rule for senders read from mail, contract contacts and
hotline callers. A contact or caller address the importers took in that the parser would
never read from a From header could equal no sender, and matched nobody, silently."""

from __future__ import annotations

import re
import unicodedata

# local@domain: no spaces, control characters, brackets or a second "@" (what
# getaddresses lets through from an unterminated "<" is not an address to answer; a NUL
# in one became a space in the reply's To). The domain's labels are not empty: a reply
# to "x@example.com." or "x@example..com" had a To no mail reader can read; the local
# part may hold odd dots ("a..b@", which some providers hand out).
_ADDR_CHAR = r"[^@\s\x00-\x1f\x7f<>()\[\],;:\\\"]"
_LABEL = r"[^@.\s\x00-\x1f\x7f<>()\[\],;:\\\"]+"
_ADDR_SPEC = re.compile(rf"{_ADDR_CHAR}+@{_LABEL}(?:\.{_LABEL})*")
# RFC 5321's longest path (256 with the brackets): a longer one is no mailbox. Cut to
# fit a header, it was answered at another address than the mail named.
ADDR_MAX = 254


def is_mailbox(address: str) -> bool:
    """A bare ``local@domain`` the desk can read from a header and write into one."""
    return len(address) <= ADDR_MAX and bool(_ADDR_SPEC.fullmatch(address))


def is_domain_entry(entry: str) -> bool:
    """An ``@domain`` entry (every address of a domain: contract contacts, staff), with a
    dot in the domain: ``@x.de``. One rule for both, so a domain the contracts import
    takes is one the config takes too."""
    return entry.startswith("@") and is_mailbox("x" + entry) and "." in entry


# RFC 1035: a label of at most 63 octets; "xn--" and the punycode must fit too.
_LABEL_MAX = 63


def ascii_mailbox(address: str) -> str | None:
    """The address as a header and RCPT TO can carry it without SMTPUTF8: a domain that
    is not ASCII in its IDNA form (``müller-bau.de`` -> ``xn--mller-bau-q9a.de``); None
    when the local part is not ASCII (or a label will not fit), which only SMTPUTF8 can
    send. Before, the whole address went out as one RFC 2047 encoded word, which RFC
    2047 forbids in an address: no mail reader or relay could read that To.

    Each label is punycode of its NFC lower case (IDNA 2008's A-label), not the standard
    library's "idna" codec: that is IDNA 2003, which turns "straße.de" into "strasse.de",
    another domain.
    """
    local, _, domain = address.rpartition("@")
    if not local.isascii():
        return None
    labels = []
    for label in domain.split("."):
        if not label.isascii():
            label = "xn--" + unicodedata.normalize("NFC", label.lower()).encode("punycode").decode()
            if len(label) > _LABEL_MAX:
                return None
        labels.append(label)
    return f"{local}@{'.'.join(labels)}"
