"""The systemd unit: the keys operations rely on, and ``systemd-analyze verify`` where it exists."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "systemd" / "sepdesk.service"
SEPDESK = Path(sys.executable).with_name("sepdesk")  # the venv's console script

# systemd-analyze prints these on hosts that are not booted with systemd (containers, CI);
# they are about the host, not the unit.
HARMLESS = (
    "Failed to connect to",
    "System has not been booted with systemd",
    "Failed to open /dev/tty",
    "Cannot determine ",
    "is not running",
)


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value given (repeated keys accumulate, as systemd does)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        key, _, value = line.partition("=")
        sections[current][key.strip()].append(value.strip())
    return sections


def test_unit_has_the_keys_operations_rely_on() -> None:
    service = parse_unit(UNIT)["Service"]
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "WatchdogSec": "60",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "StateDirectory": "sepdesk",
        "User": "sepdesk",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet": "",
        "Restart": "on-failure",
        "RestartPreventExitStatus": "2",  # a bad config must not restart every 5 s for ever
        "TimeoutStopSec": "15",
    }
    for key, value in expected.items():
        assert service[key] == [value], key
    assert "@system-service" in service["SystemCallFilter"]
    assert service["ExecStart"][0].endswith("--config /etc/sepdesk/sepdesk.toml serve")
    assert sorted(service["LoadCredential"]) == [
        "imap_password:/etc/sepdesk/imap_password",
        "relay_password:/etc/sepdesk/relay_password",
    ]


def test_documentation_points_at_something_that_exists() -> None:
    """pip installs no docs: a file:// link must be one the README's install steps create."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for value in parse_unit(UNIT)["Unit"].get("Documentation", []):
        for uri in value.split():
            if uri.startswith("file://"):
                assert uri.removeprefix("file://") in readme, uri
            else:
                assert uri.startswith(("https://", "http://", "man:", "info:")), uri


def test_exit_2_is_a_usage_or_config_error(tmp_path: Path) -> None:
    """What RestartPreventExitStatus=2 relies on: serve with a bad config exits 2 at once."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[calendar]\ncountry = "XX"\n', encoding="utf-8")
    result = subprocess.run(
        [str(SEPDESK), "--config", str(bad), "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "[calendar] country" in result.stderr


def _seconds(value: str) -> float:
    """A systemd time span of the forms this unit uses: "15", "15s", "1min 30s"."""
    total = 0.0
    for part in value.split():
        number = part.rstrip("smin")
        total += float(number) * (60 if part.endswith("min") else 1)
    return total


def test_stop_timeout_covers_the_daemons_worst_case_stop() -> None:
    """systemd kills the daemon at TimeoutStopSec: it must outlast the bounded stop path
    (every part under one STOP_TIMEOUT, then KILL_WAIT for processes killed then)."""
    from sepdesk.daemon.processes import KILL_WAIT
    from sepdesk.daemon.serve import STOP_TIMEOUT

    (timeout,) = parse_unit(UNIT)["Service"]["TimeoutStopSec"]
    margin = 3.0  # controller stop, closing connections, interpreter exit
    assert _seconds(timeout) >= STOP_TIMEOUT + KILL_WAIT + margin


def test_credential_names_are_the_ones_the_code_reads() -> None:
    # read_secret(..., credential) looks for $CREDENTIALS_DIRECTORY/<credential>.
    code = (REPO / "sepdesk" / "config.py").read_text(encoding="utf-8")  # IMAP/RELAY_SECRET
    for cred in parse_unit(UNIT)["Service"]["LoadCredential"]:
        assert f'"{cred.split(":")[0]}"' in code


def test_sysusers_creates_the_service_user() -> None:
    lines = (REPO / "systemd" / "sysusers.d" / "sepdesk.conf").read_text(encoding="utf-8")
    assert any(line.split()[:2] == ["u", "sepdesk"] for line in lines.splitlines() if line)


def test_tmpfiles_creates_the_config_and_state_directories() -> None:
    """docs/operations.md runs `sepdesk init` as sepdesk before the unit's first start,
    when StateDirectory= has not created /var/lib/sepdesk yet."""
    text = (REPO / "systemd" / "tmpfiles.d" / "sepdesk.conf").read_text(encoding="utf-8")
    entries = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert ["d", "/etc/sepdesk", "0750", "root", "sepdesk", "-"] in entries
    assert ["d", "/var/lib/sepdesk", "0750", "sepdesk", "sepdesk", "-"] in entries


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None
    return subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        # Nothing to run here; the key checks above still hold the unit to its contract.
        return
    # verify checks that ExecStart's binary exists: point it at this venv's sepdesk.
    text = UNIT.read_text(encoding="utf-8").replace(
        "ExecStart=/opt/sepdesk/bin/sepdesk", f"ExecStart={SEPDESK}"
    )
    assert str(SEPDESK) in text
    unit = tmp_path / "sepdesk.service"
    unit.write_text(text, encoding="utf-8")
    result = _verify(unit)
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and not any(h in line for h in HARMLESS)
    ]
    assert complaints == [], "\n".join(complaints)
    assert result.returncode == 0 or not complaints


def test_the_guide_says_how_a_phone_export_writes_into_the_spool() -> None:
    """/var/lib/sepdesk is 0750 and serve makes the spool 0750 (UMask=0027): another
    user's export could not write there, and the docs did not say how (review finding).
    The guide's recipe: a folder and group of its own, which the unit may write and read."""
    guide = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    service = parse_unit(UNIT)["Service"]
    assert service["UMask"] == ["0027"] and service["StateDirectoryMode"] == ["0750"]
    assert "install -d -o sepdesk -g sepdesk-hotline -m 2770 /var/spool/sepdesk-hotline" in guide
    assert "ReadWritePaths=/var/spool/sepdesk-hotline" in guide
    assert "SupplementaryGroups=sepdesk-hotline" in guide
    assert '`[hotline] spool_dir = "/var/spool/sepdesk-hotline"`' in guide
