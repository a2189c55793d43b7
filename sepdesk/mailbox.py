"""What counts as a mailbox: one rule for senders read from mail, contract contacts and
hotline callers. A contact or caller address the importers took in that the parser would
never read from a From header could equal no sender, and matched nobody, silently."""

from __future__ import annotations

import re

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
