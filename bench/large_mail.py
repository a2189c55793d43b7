"""Large mails: seconds and peak memory of ``sepdesk ingest`` for one mail of each kind.

    .venv/bin/python bench/large_mail.py [--mb 30]

Builds three mails of about MB megabytes each (under the default max_message_bytes
of 32 MiB) in a temporary folder: pasted log lines as plain text, an HTML-only
table of job results, and a short text with a base64 attachment. Each is fed to
``sepdesk ingest`` in a fresh process against a fresh database with the sample
contracts; prints its outcome, the wall seconds and the process's peak RSS
(ru_maxrss of that process). Prints figures only; not a timed test.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus import SAMPLES  # bench/ is the script's own folder

SEPDESK = str(Path(sys.executable).with_name("sepdesk"))
HEAD = (
    "From: Anna Berg <anna@example.org>\nTo: support@sep.example\nSubject: {subject}\n"
    "Date: Mon, 02 Nov 2026 10:00:00 +0100\nMessage-ID: <{name}@example.org>\n"
)
REQUEST = "Kundennummer 104217\nOur backup fails since Monday, SEP sesam 5.1 on Linux.\n"


def log_lines(size: int) -> str:
    line = "2026-11-02 10:{m:02d}:00 sesam-srv ERROR job J{i} failed: connection reset (D{d})\n"
    out, total, i = [], 0, 0
    while total < size:
        out.append(line.format(m=i % 60, i=i, d=i % 7))
        total += len(out[-1])
        i += 1
    return "".join(out)


def mails(size: int) -> dict[str, str]:
    rows = log_lines(size * 4 // 5).replace("\n", "</td></tr>\n<tr><td>")  # tags: +22%
    attachment = base64.encodebytes(os.urandom(size * 3 // 4)).decode()
    return {
        "text": HEAD.format(subject="backup fails, log below", name="text")
        + f"\n{REQUEST}\n{log_lines(size)}",
        "html": HEAD.format(subject="backup report", name="html")
        + "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n"
        + f"<html><body><p>{REQUEST}</p><table><tr><td>{rows}</td></tr></table></body></html>\n",
        "attachment": HEAD.format(subject="backup fails, log attached", name="attachment")
        + 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n'
        + f"--B\nContent-Type: text/plain\n\n{REQUEST}--B\n"
        + "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
        + f'Content-Disposition: attachment; filename="log.bin"\n\n{attachment}--B--\n',
    }


def ingest(folder: Path, name: str, text: str) -> tuple[str, float, float]:
    """(outcome line, seconds, peak RSS in MB) of one ``sepdesk ingest`` process."""
    config = folder / f"{name}.toml"
    config.write_text(
        f'[database]\npath = "{folder / name}.db"\n[outbox]\ndir = "{folder / "outbox"}"\n'
    )
    mail = folder / f"{name}.eml"
    mail.write_text(text)
    base = [SEPDESK, "--config", str(config)]
    subprocess.run([*base, "contracts", "import", str(SAMPLES / "contracts.csv")], check=True,
                   capture_output=True)  # fmt: skip
    out = folder / f"{name}.out"
    started = time.perf_counter()
    with out.open("w") as stdout:
        child = subprocess.Popen([*base, "ingest", str(mail)], stdout=stdout)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest yet
    took = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"sepdesk ingest {name}: exit {child.returncode}")
    outcome = out.read_text().strip().splitlines()[-1].split(None, 2)[1]
    return outcome, took, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=30.0, help="size of each mail in MB")
    args = parser.parse_args()
    size = int(args.mb * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="sepdesk-bench-") as tmp:
        for name, text in mails(size).items():
            outcome, took, peak = ingest(Path(tmp), name, text)
            mb = len(text.encode()) / 1e6
            print(f"{name:<11} {mb:5.1f} MB  {outcome:<11} {took:6.2f} s  peak RSS {peak:5.0f} MB")


if __name__ == "__main__":
    main()
