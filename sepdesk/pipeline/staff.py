"""Mail from the desk's own engineers: who counts as staff (SPEC §4), and what their mail does.

A sender counts as staff only when its From is in ``[desk] staff`` and, with
``require_auth``, an Authentication-Results header from ``authserv_id``
shows dkim=pass or spf=pass for the From domain. Anything else is customer
mail: never obeyed, never relayed.
"""

from __future__ import annotations

import re

from sepdesk.config import Settings
from sepdesk.pipeline.parse import ParsedMail
from sepdesk.pipeline.work import Work

_RESULT = re.compile(r"\b(dkim|spf)\s*=\s*pass\b([^;]*)", re.I)
_DOMAIN = re.compile(
    r"(?:header\.d|header\.i|smtp\.mailfrom|header\.from)\s*=\s*@?[^\s;@]*@?([\w.-]+)", re.I
)


def is_staff_address(settings: Settings, address: str) -> bool:
    address = address.lower()
    domain = "@" + address.rpartition("@")[2]
    staff = {s.lower() for s in settings.desk.staff}
    return address in staff or domain in staff


def authenticated(settings: Settings, mail: ParsedMail) -> bool:
    """True when a trusted Authentication-Results header shows an aligned DKIM or SPF pass."""
    if not settings.desk.require_auth:
        return True
    authserv = settings.desk.authserv_id.lower()
    if not authserv:
        return False
    from_domain = mail.from_addr.rpartition("@")[2]
    for value in mail.headers.get("authentication-results", []):
        server, _, results = value.partition(";")
        words = server.split()
        if not words or words[0].lower() != authserv:
            continue
        for _method, props in _RESULT.findall(results):
            domains = [d.lower() for d in _DOMAIN.findall(props)]
            if from_domain in domains or any(from_domain.endswith("." + d) for d in domains):
                return True
    return False


def staff_sender(settings: Settings, mail: ParsedMail) -> str | None:
    if is_staff_address(settings, mail.from_addr) and authenticated(settings, mail):
        return mail.from_addr
    return None


def handle_staff(work: Work) -> None:
    """Engineer mail: commands and relays (see sepdesk.pipeline.engineer)."""
    from sepdesk.pipeline.engineer import handle_engineer_mail

    handle_engineer_mail(work)
