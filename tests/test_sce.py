"""The SEP Customer Experience report: participation, anonymity, and the sanitised lists."""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sepdesk.cli.main import _register, cli
from sepdesk.contracts import import_csv, list_contracts, set_sce
from sepdesk.desk import Desk
from sepdesk.intake.files import ingest_file
from sepdesk.pipeline import rules
from sepdesk.pipeline.classify import operating_systems, sesam_versions
from sepdesk.reports.sce import (
    build_report,
    clean_operating_systems,
    clean_os_name,
    clean_versions,
    participates,
    render,
)
from tests.conftest import CONTRACTS, MAILS, T0, make_settings, write_toml

AT = T0.replace(month=12)
_PHONE = re.compile(r"(?:\+|00)\d[\d ()/-]{6,}\d")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Desk, Path]]:
    """The sample contracts and all 45 sample mails, ingested once for the module."""
    tmp = tmp_path_factory.mktemp("sce")
    settings = make_settings(tmp)
    desk = Desk.open(settings)
    import_csv(desk.db, CONTRACTS, T0)
    for path in MAILS:
        ingest_file(desk, path, "header")
    cfg = write_toml(
        tmp / "sepdesk.toml",
        {"database": {"path": settings.database.path}, "outbox": {"dir": str(tmp / "out")}},
    )
    yield desk, cfg
    desk.close()


def _identifiers(desk: Desk) -> set[str]:
    """Every customer-specific string the report must not contain."""
    found: set[str] = set()
    for c in list_contracts(desk.db):
        found |= {c["customer_number"], c["customer_name"], *c["license_ids"]}
        for contact in c["contacts"]:
            found |= {contact, contact.lstrip("@"), contact.partition("@")[2]}
    for row in desk.db.query("SELECT phones FROM contracts"):
        found |= set(json.loads(row["phones"]))
    for path in MAILS:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for header in ("From", "Reply-To"):
            for addr in getattr(msg.get(header), "addresses", ()):
                found |= {addr.addr_spec, addr.domain, addr.display_name}
        found |= set(_PHONE.findall(path.read_text("utf-8", errors="replace")))
    found |= {row["requester"] for row in desk.db.query("SELECT requester FROM tickets")}
    return {s for s in found if s and len(s) >= 3}


def _cli_report(cfg: Path, *args: str) -> str:
    _register()
    result = CliRunner().invoke(cli, ["--config", str(cfg), "report", "sce", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _read_fifo(fifo: Path) -> tuple[threading.Thread, list[bytes]]:
    """A reader of ``fifo`` in a thread (opening a FIFO blocks until a writer comes)."""
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as f:
            got.append(f.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader, got


def test_out_to_a_fifo_or_a_symlink_writes_through_it(
    corpus: tuple[Desk, Path], tmp_path: Path
) -> None:
    """The report went to "<out>.partial" and was renamed over ``out``: /dev/stdout (a
    symlink) became a plain file and the terminal got nothing, a FIFO's reader waited for
    ever. A FIFO (a device, /dev/stdout) is written as it is; a symlink's file is replaced
    and the link kept."""
    _, cfg = corpus
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader, got = _read_fifo(fifo)
    _cli_report(cfg, "--out", str(fifo))
    reader.join(timeout=10)
    assert got and json.loads(got[0])["customers"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert not (tmp_path / "fifo.partial").exists()

    real = tmp_path / "real.json"
    real.write_text("old", encoding="utf-8")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    _cli_report(cfg, "--out", str(link))
    assert link.is_symlink() and link.readlink() == real
    assert json.loads(real.read_text(encoding="utf-8"))["customers"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link.json", "real.json"]


@pytest.mark.skipif(not Path("/proc/version").is_file(), reason="needs Linux's /proc")
def test_out_to_a_file_in_a_folder_that_takes_no_new_file_says_so(
    corpus: tuple[Desk, Path],
) -> None:
    """It said "/proc/version: No such file or directory", of a file that exists: the
    report is written beside its target first, which /proc does not allow."""
    _, cfg = corpus
    _register()
    result = CliRunner().invoke(
        cli, ["--config", str(cfg), "report", "sce", "--out", "/proc/version"]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "sepdesk: /proc/version: cannot create a file in /proc: No such file or directory\n"
    )


def test_two_reports_leak_no_identifier_and_share_no_id(
    corpus: tuple[Desk, Path], tmp_path: Path
) -> None:
    desk, cfg = corpus
    first = _cli_report(cfg).encode("utf-8")
    out = tmp_path / "sce.json"
    _cli_report(cfg, "--out", str(out))
    second = out.read_bytes()
    identifiers = _identifiers(desk)
    assert len(identifiers) > 80  # the check below is only as good as this list
    for data in (first, second):
        text = data.decode("utf-8").casefold()
        leaked = sorted(i for i in identifiers if i.casefold() in text)
        assert leaked == []
    ids = [{c["id"] for c in json.loads(d)["customers"]} for d in (first, second)]
    assert ids[0].isdisjoint(ids[1])
    assert len(ids[0]) == len(json.loads(first)["customers"])  # consistent: one id each


def test_participation_rules(corpus: tuple[Desk, Path]) -> None:
    desk, _ = corpus
    contracts = list_contracts(desk.db)
    expected = sorted(
        c["license_type"]
        for c in contracts
        if c["license_type"] in ("CE", "NFR", "MSP", "DEMO") or c["sce"] == "yes"
    )
    report = build_report(desk.db, desk.tz, AT)
    assert sorted(c["license_type"] for c in report["customers"]) == expected
    # CE 185409 said no, and takes part all the same; full 118530 said no and does not.
    assert participates("CE", "no") and participates("DEMO", "")
    assert not participates("full", "no") and not participates("full", "")
    assert participates("full", "yes")


def test_a_customer_saying_yes_joins_the_next_report(tmp_path: Path) -> None:
    desk = Desk.open(make_settings(tmp_path))
    try:
        import_csv(desk.db, CONTRACTS, T0)
        before = len(build_report(desk.db, desk.tz, AT)["customers"])
        set_sce(desk.db, "118530", "yes", AT)
        assert len(build_report(desk.db, desk.tz, AT)["customers"]) == before + 1
        set_sce(desk.db, "104217", "no", AT)
        assert len(build_report(desk.db, desk.tz, AT)["customers"]) == before
    finally:
        desk.close()


def _entry_for(desk: Desk, customer: str, report: dict[str, Any]) -> dict[str, Any]:
    """The one entry whose ticket counts match ``customer``'s (the test knows the data)."""
    counts = {"1": 0, "2": 0, "3": 0, "4": 0}
    for row in desk.db.query("SELECT severity FROM tickets WHERE customer_number = ?", [customer]):
        counts[str(row["severity"])] += 1
    matches = [c for c in report["customers"] if c["tickets"] == counts]
    assert matches
    return matches[0]


def test_entry_shape_counts_and_sla(corpus: tuple[Desk, Path]) -> None:
    desk, _ = corpus
    report = build_report(desk.db, desk.tz, AT)
    assert report["generated_at"].startswith("2026-12-02T09:00:00+01:00")
    for entry in report["customers"]:
        assert set(entry) == {
            "id",
            "license_type",
            "tickets",
            "sla_met",
            "versions",
            "operating_systems",
        }
        assert entry["sla_met"] is None or 0.0 <= entry["sla_met"] <= 1.0
    total = sum(sum(c["tickets"].values()) for c in report["customers"])
    assert total > 0
    # Kowalski (MSP): 3 tickets, none answered by the desk's engineers in the replay.
    kowalski = _entry_for(desk, "150338", report)
    assert kowalski["license_type"] == "MSP"
    assert kowalski["versions"] == ["4.4.3", "5.1.0"]
    assert "SLES 15 SP6" in kowalski["operating_systems"]


def test_sla_met_counts_answered_in_time_and_ignores_pending(tmp_path: Path) -> None:
    desk = Desk.open(make_settings(tmp_path))
    try:
        import_csv(desk.db, CONTRACTS, T0)
        ingest_file(desk, MAILS[0], "header")  # Müller (full, sce=yes), Critical, due +4 h
        tid = desk.db.execute("SELECT id FROM tickets").fetchone()[0]
        due = desk.db.execute("SELECT first_response_due FROM tickets").fetchone()[0]
        pending = build_report(desk.db, desk.tz, T0)  # before the due instant, unanswered
        assert [c["sla_met"] for c in pending["customers"] if c["tickets"]["1"]] == [None]
        desk.db.execute("UPDATE tickets SET first_response_at = ? WHERE id = ?", [due, tid])
        desk.db.conn.commit()
        met = build_report(desk.db, desk.tz, AT)
        assert [c["sla_met"] for c in met["customers"] if c["tickets"]["1"]] == [1.0]
    finally:
        desk.close()


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Windows Server 2022 Datacenter", "Windows Server 2022"),
        ("SLES 15 SP5 for SAP", "SLES 15 SP5"),
        ("sles 15 sp6", "SLES 15 SP6"),
        ("Ubuntu 24.04 LTS", "Ubuntu 24.04"),
        ("RHEL 9.3", "RHEL 9.3"),
        ("Debian 12", "Debian 12"),
        ("Windows 11 Pro", "Windows 11"),
        ("fileserver-mueller01", None),
        ("Debian", "Debian"),  # the family alone: the extractor stores it so
        ("Windows Server 2022 at Müller Maschinenbau, Kd-Nr 104217", "Windows Server 2022"),
    ],
)
def test_os_names_come_from_the_known_list_only(given: str, kept: str | None) -> None:
    assert clean_os_name(given) == kept


# Examples of every name the intake's extractor stores, in the order of
# rules.OPERATING_SYSTEMS, then its bare families; each with the report's name for it.
_OS_EXAMPLES: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("Win 2016", "Windows Server 2016"),
        ("Win2019", "Windows Server 2019"),
        ("W2K19", "Windows Server 2019"),
        ("Win2k12", "Windows Server 2012"),
        ("Win 2000", "Windows 2000"),
    ),
    (
        ("Windows Server 2019 Standard", "Windows Server 2019"),
        ("windows server 2022", "Windows Server 2022"),
        ("Windows-Server 2012 R2 Datacenter", "Windows Server 2012 R2"),
        ("Windows Server", "Windows Server"),
    ),
    (
        ("Windows 10 Pro", "Windows 10"),
        ("Windows 8.1", "Windows 8.1"),
        ("Windows 8", "Windows 8"),
        ("windows 11", "Windows 11"),
    ),
    (("Win10", "Windows 10"), ("Win 11 23H2", "Windows 11"), ("win7", "Windows 7")),
    (
        ("WS2019", "Windows Server 2019"),
        ("WS 2012 R2", "Windows Server 2012 R2"),
        ("WS2025", "Windows Server 2025"),
    ),
    (
        ("Server 2022", "Windows Server 2022"),
        ("Win Server 2019", "Windows Server 2019"),
        ("MS Server 2016", "Windows Server 2016"),
        ("server 2012 r2", "Windows Server 2012 R2"),
    ),
    (
        ("SLES 15 SP5 for SAP", "SLES 15 SP5"),
        ("SLES12", "SLES 12"),
        ("sles 15 sp6", "SLES 15 SP6"),
    ),
    (("SLES for SAP 15 SP4", "SLES 15 SP4"), ("SLES for SAP Applications 15", "SLES 15")),
    (
        ("SUSE Linux Enterprise Server 15 SP5", "SLES 15 SP5"),
        ("SUSE Linux Enterprise 12 SP3", "SLES 12 SP3"),
        ("SUSE Linux Enterprise Server for SAP Applications 15 SP5", "SLES 15 SP5"),
    ),
    (
        ("RHEL for SAP 8.6", "RHEL 8.6"),
        ("Red Hat Enterprise Linux for SAP Solutions 9.2", "RHEL 9.2"),
    ),
    (
        ("openSUSE Leap 15.5", "openSUSE Leap 15.5"),
        ("opensuse 13.2", "openSUSE 13.2"),
        ("openSUSE", "openSUSE"),
    ),
    (("RHEL 8.6", "RHEL 8.6"), ("RHEL9", "RHEL 9")),
    (
        ("Windows 2012 R2", "Windows Server 2012 R2"),
        ("Windows 2016", "Windows Server 2016"),
        ("Windows 2000", "Windows 2000"),
    ),
    (("Red Hat 8", "RHEL 8"), ("Red Hat Linux 9.2", "RHEL 9.2")),
    (("SUSE 15 SP4", "SLES 15 SP4"), ("SUSE Linux", "SUSE Linux")),
    (("Red Hat Enterprise Linux 9.3", "RHEL 9.3"),),
    (("Debian 12", "Debian 12"), ("debian", "Debian")),
    (("Ubuntu 22.04 LTS", "Ubuntu 22.04"), ("Ubuntu", "Ubuntu")),
    (("Rocky Linux 9.2", "Rocky Linux 9.2"),),
    (("AlmaLinux 9", "AlmaLinux 9"), ("Alma Linux 8.8", "AlmaLinux 8.8")),
    (("CentOS 7", "CentOS 7"),),
    (("Oracle Linux 8.9", "Oracle Linux 8.9"),),
    (
        ("macOS 14", "macOS 14"),
        ("Solaris 11", "Solaris 11"),
        ("AIX 7.2", "AIX 7.2"),
        ("HP-UX 11.31", "HP-UX 11.31"),
        ("FreeBSD 14.1", "FreeBSD 14.1"),
    ),
    (("Windows", "Windows"),),
    (("Linux", "Linux"),),
)


def test_every_os_name_the_extractor_stores_has_a_report_name() -> None:
    patterns = (*rules.OPERATING_SYSTEMS, *rules.OPERATING_SYSTEM_FAMILIES)
    assert len(_OS_EXAMPLES) == len(patterns)  # a new pattern needs examples here
    for pattern, examples in zip(patterns, _OS_EXAMPLES, strict=True):
        for text, name in examples:
            assert pattern.search(f"Wir nutzen {text}."), (pattern.pattern, text)
            stored = operating_systems(f"Wir nutzen {text}.")
            assert clean_operating_systems(stored) == [name], (text, stored)


def test_os_names_stored_by_the_desk_all_reach_the_report() -> None:
    stored = [
        "WS2019",
        "Win 2016",
        "Server 2022",
        "Windows 2012 R2",
        "Win10",
        "openSUSE Leap 15.5",
        "Solaris 11",
        "AIX 7.2",
        "SUSE Linux Enterprise Server 15 SP5",
        "Windows Server 2019 Standard",
    ]
    assert clean_operating_systems(stored) == [
        "AIX 7.2",
        "SLES 15 SP5",
        "Solaris 11",
        "Windows 10",
        "Windows Server 2012 R2",
        "Windows Server 2016",
        "Windows Server 2019",
        "Windows Server 2022",
        "openSUSE Leap 15.5",
    ]
    # Only the bounded release number is kept, never what follows the name.
    assert clean_os_name("Solaris 104217") == "Solaris"
    assert clean_os_name("AIX 7.2 auf aix-mueller01") == "AIX 7.2"
    assert clean_os_name("Windows Server 2010") == "Windows Server"


def test_versions_keep_only_version_shapes() -> None:
    given = [
        "5.1.0.4",
        "104217",
        "SL-4Q7M-2291",
        "5.0.0.12",
        "v5.1",
        "4.4.3",
        "5.1.0.4",
        "1.2.3.4.5",
    ]
    assert clean_versions(given) == ["4.4.3", "5.0.0", "5.1.0"]
    assert clean_operating_systems(["Debian 12", "x", "Debian 12 bookworm"]) == ["Debian 12"]


# A server's IPv4 address beside "SEP sesam Server" is version-shaped to the intake.
_LEAK = (
    "Kundennummer 131462. Classification: Minor. Unser SEP sesam Server (5.9.12.34, gehostet"
    ' bei Hetzner) meldet beim Backup "ERROR: connection refused". SEP sesam 5.1.0.4 auf'
    " Windows Server 2022, Ziel LTO-8 Library. Ansonsten laeuft alles normal."
)


def test_versions_are_reported_as_releases_so_no_address_gets_through() -> None:
    stored = sesam_versions(_LEAK)
    assert "5.9.12.34" in stored  # the ticket keeps what the mail said
    reported = clean_versions(stored)
    assert "5.9.12.34" not in reported and "5.1.0" in reported
    assert all(len(v.split(".")) <= 3 for v in reported)
    # Two builds of one release count once; what no sesam release looks like is dropped.
    assert clean_versions(["5.1.0.4", "5.1.0.12", "5.1.0"]) == ["5.1.0"]
    assert clean_versions(["192.168.10.5", "10.0.0.1", "1.2.3.4", "5.1", "4.4.3.86"]) == [
        "4.4.3",
        "5.1",
    ]
    # No release is later than [policy] current_version: the address's network goes too.
    assert clean_versions(stored, "5.1.0") == ["5.1.0"]
    assert clean_versions(["5.1.0.4", "5.2.0", "6.0.0", "4.4.3"], "5.1.0") == ["4.4.3", "5.1.0"]


def test_report_is_ascii_json(corpus: tuple[Desk, Path]) -> None:
    desk, _ = corpus
    text = render(build_report(desk.db, desk.tz, AT))
    assert text.isascii()
    assert json.loads(text)["customers"]


def test_out_to_an_unwritable_place_is_one_line_exit_1(
    corpus: tuple[Desk, Path], tmp_path: Path
) -> None:
    _, cfg = corpus
    _register()
    result = CliRunner().invoke(
        cli, ["--config", str(cfg), "report", "sce", "--out", str(tmp_path / "no" / "r.json")]
    )
    assert result.exit_code == 1
    # The path as given, not the temporary file written beside it.
    assert result.stderr == f"sepdesk: {tmp_path / 'no' / 'r.json'}: No such file or directory\n"


def test_saying_no_for_a_licence_type_that_always_takes_part_is_told(tmp_path: Path) -> None:
    """SPEC §5: CE, NFR, MSP and DEMO always take part; the choice is stored, and said void."""
    settings = make_settings(tmp_path)
    desk = Desk.open(settings)
    import_csv(desk.db, CONTRACTS, T0)
    cfg = write_toml(tmp_path / "sepdesk.toml", {"database": {"path": settings.database.path}})
    _register()

    def sce(customer: str, choice: str) -> str:
        args = ["--config", str(cfg), "contracts", "sce", customer, choice]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        return result.stdout

    try:
        assert sce("185409", "no") == (
            "customer 185409: sce = no\n"
            "customer 185409: licence type CE always takes part in the SCE report;"
            " the choice has no effect while it is CE\n"
        )
        stored = {c["customer_number"]: c["sce"] for c in list_contracts(desk.db)}
        assert stored["185409"] == "no"
        assert sce("118530", "no") == "customer 118530: sce = no\n"  # full: the choice counts
        assert sce("185409", "yes") == "customer 185409: sce = yes\n"
    finally:
        desk.close()
