"""The SEP Customer Experience report (SPEC §5): anonymised usage per participating customer.

Participation: licence types CE, NFR, MSP and DEMO always; every other licence
type only with ``sce = yes``. The report carries no customer-specific value:
each customer gets an id drawn from :mod:`secrets` for this report only (the
mapping lives in a local dict and is never stored or logged), entries are
ordered by that random id so their order says nothing about customer numbers,
and the free-text columns ``versions`` and ``operating_systems`` pass through
an allow-list: the releases of version-shaped strings (5.1.0.4 is reported as
5.1.0) and OS names rebuilt from a known list. Anything else from a mail is
dropped, because a mail can put a host name, an IP address, a customer number or
a person's name where a version was expected.
"""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlite_utils

from sepdesk.instants import local_iso
from sepdesk.sla.breach import sla_state

ALWAYS = ("CE", "NFR", "MSP", "DEMO")
SEVERITIES = ("1", "2", "3", "4")
ID_LENGTH = 16  # 26**16 ≈ 2**75: two reports never share an id in practice

# Letters only: an id can then never contain a customer number, licence id or phone number.
_ID_ALPHABET = string.ascii_lowercase
# A SEP sesam version as the intake stores it (3.x to 9.x, two to four parts). The report
# keeps its release only: a build's fourth part says nothing for usage statistics, and
# with it a server's IPv4 address ("Server (5.9.12.34, ...)") passed for a version.
_VERSION = re.compile(r"([3-9])\.(\d)(?:\.(\d{1,2})(?:\.\d{1,4})?)?")

# The Windows Server releases; "2012 R2" is one of its own.
_WIN_SERVER = r"(2003|2008(?: r2)?|2012(?: r2)?|2016|2019|2022|2025)"
# One number of a release ("15", "7.2", "24.04"), bounded so that no customer number fits.
_NUM = r"(\d{1,2}(?:\.\d{1,2})?)"

# (pattern over the whole reported string, canonical name built from its groups). One for
# every name rules.OPERATING_SYSTEMS can store (short forms too: "WS2019", "Win 2016",
# "Server 2022"), and its family name alone when no release is named. Only the name and
# the bounded numbers are kept: editions, suffixes ("Datacenter", "LTS", "for SAP") and
# whatever a mail wrote after them are not, since that is customer text.
_OS_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.I), name)
    for p, name in (
        (rf"windows[- ]server(?: {_WIN_SERVER})?\b.*", "Windows Server {0}"),
        # Without the word "Windows": "Server 2022", "Win Server 2019", "WS2019", "Win 2016".
        (rf"(?:win |ms )?server {_WIN_SERVER}\b.*", "Windows Server {0}"),
        (rf"(?:windows |win ?|ws ?){_WIN_SERVER}\b.*", "Windows Server {0}"),
        (r"(?:w2k|win2k)(03|08|12|16|19|22|25)\b.*", "Windows Server 20{0}"),
        (r"(?:windows |win ?)2000\b.*", "Windows 2000"),
        (r"(?:windows |win ?)(7|8\.1|8|10|11)\b.*", "Windows {0}"),
        (
            # The SAP editions are SLES and RHEL of their release: "SLES for SAP 15 SP5".
            r"(?:sles|suse linux enterprise(?: server)?)(?: for sap(?: applications)?)?"
            r"(?: ?(\d{2}))?(?: (sp\d))?\b.*",
            "SLES {0} {1}",
        ),
        # "SUSE 15 SP5": service packs and two-digit releases are SLES's.
        (r"suse(?: linux)? (\d{2})(?: (sp\d))?\b.*", "SLES {0} {1}"),
        (r"suse(?: linux)?\b.*", "SUSE Linux"),
        (r"opensuse leap(?: (\d{2}\.\d))?\b.*", "openSUSE Leap {0}"),
        (rf"opensuse(?: {_NUM})?\b.*", "openSUSE {0}"),
        (
            rf"(?:rhel|red hat(?: enterprise)?(?: linux)?)"
            rf"(?: for sap(?: solutions| applications)?)?(?: ?{_NUM})?\b.*",
            "RHEL {0}",
        ),
        (rf"rocky linux(?: {_NUM})?\b.*", "Rocky Linux {0}"),
        (rf"alma ?linux(?: {_NUM})?\b.*", "AlmaLinux {0}"),
        (rf"oracle linux(?: {_NUM})?\b.*", "Oracle Linux {0}"),
        (rf"centos(?: {_NUM})?\b.*", "CentOS {0}"),
        (r"debian(?: (\d{1,2}))?\b.*", "Debian {0}"),
        (r"ubuntu(?: (\d{2}\.\d{2}))?\b.*", "Ubuntu {0}"),
        (rf"macos(?: {_NUM})?\b.*", "macOS {0}"),
        (rf"solaris(?: {_NUM})?\b.*", "Solaris {0}"),
        (rf"aix(?: {_NUM})?\b.*", "AIX {0}"),
        (rf"hp-ux(?: {_NUM})?\b.*", "HP-UX {0}"),
        (rf"freebsd(?: {_NUM})?\b.*", "FreeBSD {0}"),
        (rf"proxmox ve {_NUM}\b.*", "Proxmox VE {0}"),
        (r"(?:vmware )?esxi (\d(?:\.\d{1,2})?)\b.*", "VMware ESXi {0}"),
        (r"univention corporate server (\d(?:\.\d)?)\b.*", "UCS {0}"),
        (r"ucs (\d(?:\.\d)?)\b.*", "UCS {0}"),
        # The bare family, which the extractor stores when nothing more precise is named.
        (r"windows", "Windows"),
        (r"linux", "Linux"),
    )
)
# Written in capitals whatever the mail did: "r2" -> "R2", "sp5" -> "SP5".
_CAPITALS = re.compile(r"\b(?:r2|sp\d)\b", re.I)


def participates(license_type: str, sce: str) -> bool:
    """CE, NFR, MSP and DEMO always take part; the others only after saying yes."""
    return license_type in ALWAYS or sce == "yes"


def release(value: str) -> str | None:
    """The release of a SEP sesam version ("5.1.0.4" -> "5.1.0", "5.1" stays), or None."""
    match = _VERSION.fullmatch(value.strip())
    if not match:
        return None
    return ".".join(str(int(p)) for p in match.groups() if p is not None)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def clean_versions(values: Iterable[str], newest: str = "") -> list[str]:
    """The releases of the SEP sesam versions among ``values``, sorted numerically, each
    once. With ``newest`` ([policy] current_version) a release of a later major.minor is
    dropped: none exists, and an address beside "sesam Server" ("5.9.12.34") read as a
    version would leave its network ("5.9.12") in the report."""
    kept = {r for r in (release(v) for v in values if isinstance(v, str)) if r}
    limit = release(newest) if newest else None
    if limit:
        kept = {v for v in kept if _key(v)[:2] <= _key(limit)[:2]}
    return sorted(kept, key=_key)


def clean_os_name(value: str) -> str | None:
    """The canonical name of a known operating system, or None (the string is dropped)."""
    text = " ".join(value.split())
    for pattern, name in _OS_RULES:
        match = pattern.fullmatch(text)
        if match:
            parts = [_CAPITALS.sub(lambda m: m.group().upper(), g or "") for g in match.groups()]
            return " ".join(name.format(*parts).split())
    return None


def clean_operating_systems(values: Iterable[str]) -> list[str]:
    names = {clean_os_name(v) for v in values if isinstance(v, str)}
    return sorted(n for n in names if n)


_MET = {"met": True, "breached": False}


def _sla_met(ticket: dict[str, Any], at: datetime) -> bool | None:
    """True met, False missed, None not decided yet (still waiting, not yet due)."""
    return _MET.get(sla_state(ticket, at) or "")


def _customer_entry(
    contract: dict[str, Any],
    tickets: list[dict[str, Any]],
    at: datetime,
    anon_id: str,
    newest: str = "",
) -> dict[str, Any]:
    counts = dict.fromkeys(SEVERITIES, 0)
    versions: list[str] = []
    systems: list[str] = []
    decided: list[bool] = []
    for t in tickets:
        if str(t["severity"]) in counts:
            counts[str(t["severity"])] += 1
        versions += json.loads(t["versions"] or "[]")
        systems += json.loads(t["operating_systems"] or "[]")
        met = _sla_met(t, at)
        if met is not None:
            decided.append(met)
    return {
        "id": anon_id,
        "license_type": contract["license_type"],
        "tickets": counts,
        "sla_met": round(sum(decided) / len(decided), 4) if decided else None,
        "versions": clean_versions(versions, newest),
        "operating_systems": clean_operating_systems(systems),
    }


def _new_id(taken: set[str]) -> str:
    """A fresh random id; a repeat within one report is astronomically unlikely, but checked."""
    for _ in range(8):
        anon = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
        if anon not in taken:
            taken.add(anon)
            return anon
    raise RuntimeError("secrets keeps repeating itself: no usable randomness")


def build_report(
    db: sqlite_utils.Database, tz: str, at: datetime, newest: str = ""
) -> dict[str, Any]:
    """The report as a dict; the customer → id mapping exists only inside this call.
    ``newest``: [policy] current_version, the latest release a version may name."""
    contracts = [
        c
        # One entry per customer, not per contract period (the fields are the customer's).
        for c in db.query(
            "SELECT customer_number, license_type, sce, max(start) FROM contracts"
            " GROUP BY customer_number"
        )
        if participates(c["license_type"], c["sce"])
    ]
    by_customer: dict[str, list[dict[str, Any]]] = {c["customer_number"]: [] for c in contracts}
    for t in db.query(
        "SELECT customer_number, severity, versions, operating_systems, first_response_due,"
        " first_response_at, solved_at, closed_at FROM tickets WHERE customer_number IS NOT NULL"
    ):
        if t["customer_number"] in by_customer:
            by_customer[t["customer_number"]].append(t)
    taken: set[str] = set()
    entries = [
        _customer_entry(c, by_customer[c["customer_number"]], at, _new_id(taken), newest)
        for c in contracts
    ]
    entries.sort(key=lambda e: e["id"])  # random order: nothing to learn from the position
    return {"generated_at": local_iso(at.replace(microsecond=0), tz), "customers": entries}


def render(report: dict[str, Any]) -> str:
    """The report as JSON text (ASCII only, so its bytes are the same in every locale)."""
    return json.dumps(report, indent=2) + "\n"
