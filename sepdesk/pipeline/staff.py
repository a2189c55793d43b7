"""Mail from the desk's own engineers: who counts as staff (SPEC §4), and what their mail does.

A sender counts as staff only when its From is in ``[desk] staff`` and, with
``require_auth``, an Authentication-Results header from ``authserv_id``
shows dkim=pass or spf=pass for the From domain. Anything else is customer
mail: never obeyed, never relayed.
"""

from __future__ import annotations

import re

from sepdesk.config import Settings
from sepdesk.pipeline.parse import ParsedMail, split_outside
from sepdesk.pipeline.work import Work

# One resinfo of an Authentication-Results value: method=result, then its properties.
_RESINFO = re.compile(r"^\s*(dkim|spf)\s*=\s*(\w+)(.*)$", re.I | re.S)
# A property's value may be a quoted string, or hold one ('"a b"@x.example'): it is one
# value, whatever it holds.
_PROPERTY = re.compile(r'(?:^|\s)([\w-]+\.[\w-]+)\s*=\s*((?:"(?:[^"\\]|\\.)*"|[^\s"])+)')
# Only these properties prove the From domain (RFC 8601, DMARC identifier alignment):
# header.from is merely the From header itself, asserted by the sender.
_ALIGNED_BY = {"dkim": ("header.d", "header.i"), "spf": ("smtp.mailfrom",)}


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or From is a subdomain of the authenticated one."""
    domain = domain.lower().strip('"').rpartition("@")[2].strip(".")
    # A bare top-level label ("example") would align every domain under it.
    return "." in domain and (from_domain == domain or from_domain.endswith("." + domain))


def _parts(value: str) -> list[str]:
    """An Authentication-Results value split at its semicolons, comments left out.

    Not at a ";" inside a quoted string or a comment, and comments nest (RFC 8601
    §2.2, RFC 5322 §3.2): the MX writes the sender's envelope address into
    smtp.mailfrom and its comments as it came, and a quoted local part
    ('"a;dkim=pass header.d=our.domain;"@evil.example') may hold both.
    """
    return split_outside(value, ";", keep_comments=False)


def passes(results: str, from_domain: str) -> bool:
    """True when one dkim or spf result in ``results`` is pass and aligned with ``from_domain``."""
    for resinfo in _parts(results):
        match = _RESINFO.match(resinfo)
        if not match or match.group(2).lower() != "pass":
            continue
        method = match.group(1).lower()
        props = dict((k.lower(), v) for k, v in _PROPERTY.findall(match.group(3)))
        if any(_aligned(props.get(p, ""), from_domain) for p in _ALIGNED_BY[method]):
            return True
    return False


def trusted_results(authserv_id: str, mail: ParsedMail) -> str | None:
    """The results part of the topmost Authentication-Results header of ``authserv_id``.

    Only the topmost one counts: our MX prepends its header, so a header of
    the same id further down was written by someone else (RFC 8601 §5).
    """
    for value in mail.headers.get("authentication-results", []):
        server, *results = _parts(value)
        words = server.split()
        if words and words[0].lower() == authserv_id.lower():
            return ";".join(results)
    return None


def authenticated(settings: Settings, mail: ParsedMail) -> bool:
    """True when a trusted Authentication-Results header shows an aligned DKIM or SPF pass."""
    if not settings.desk.require_auth:
        return True
    if not settings.desk.authserv_id or not mail.from_addr:
        return False
    results = trusted_results(settings.desk.authserv_id, mail)
    return results is not None and passes(results, mail.from_addr.rpartition("@")[2].lower())


def auth_failure(settings: Settings, mail: ParsedMail) -> str:
    """Why ``mail`` failed :func:`authenticated`, in words for the engineer it names."""
    server = settings.desk.authserv_id
    domain = mail.from_addr.rpartition("@")[2].lower()
    if not server:
        return "no [desk] authserv_id is configured: no Authentication-Results are trusted"
    if trusted_results(server, mail) is None:
        return f"it carries no Authentication-Results header of {server}"
    return (
        f"the Authentication-Results of {server} show no DKIM or SPF pass"
        f" for {domain}, the From's domain"
    )


def staff_sender(settings: Settings, mail: ParsedMail) -> str | None:
    if settings.is_staff(mail.from_addr) and authenticated(settings, mail):
        return mail.from_addr
    return None


def handle_staff(work: Work) -> None:
    """Engineer mail: commands and relays (see sepdesk.pipeline.engineer)."""
    from sepdesk.pipeline.engineer import handle_engineer_mail

    handle_engineer_mail(work)
