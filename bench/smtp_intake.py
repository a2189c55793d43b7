"""SMTP intake throughput of a real ``sepdesk serve``: accepted and fully processed mails per second.

    .venv/bin/python bench/smtp_intake.py [-n 2000] [-k 8]

Builds N unique mails from the sample corpus (bench/corpus.py), sends them over
K concurrent SMTP connections to a ``serve`` subprocess on a temp database,
and prints mails/s accepted (every one committed before its 250), mails/s
fully processed (ticket or outcome and acknowledgement queued) and the
p50/p99 time from DATA to 250.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from corpus import SAMPLES, sample_mails  # bench/ is the script's own folder

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sender(port: int, mails: list[bytes], latencies: list[float]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        for raw in mails:
            client.mail("bench@example.org")
            client.rcpt("support@sep.example")
            t0 = time.perf_counter()
            code, _ = client.data(raw)
            latencies.append(time.perf_counter() - t0)
            if code != 250:
                raise SystemExit(f"DATA answered {code}")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("serve did not start")


def pending(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(
            conn.execute("SELECT count(*) FROM intake WHERE state = 'pending'").fetchone()[0]
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("-k", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sepdesk-bench-"))
    port = free_port()
    cfg = tmp / "sepdesk.toml"
    cfg.write_text(
        f'[database]\npath = "{tmp}/d.db"\n[outbox]\ndir = "{tmp}/outbox"\n'
        f'[smtp]\nport = {port}\n[hotline]\nspool_dir = "{tmp}/spool"\n'
        "[desk]\nmax_auto_replies_per_day = 1000000\n"
    )
    sepdesk = [sys.executable, "-m", "sepdesk", "--config", str(cfg)]
    subprocess.run([*sepdesk, "init"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*sepdesk, "contracts", "import", str(SAMPLES / "contracts.csv")], check=True)
    mails = sample_mails(args.n)
    with open(tmp / "serve.log", "wb") as log:
        proc = subprocess.Popen([*sepdesk, "serve"], stderr=log)
    try:
        wait_port(port)
        latencies: list[float] = []
        shares = [mails[i :: args.k] for i in range(args.k)]
        threads = [threading.Thread(target=sender, args=(port, s, latencies)) for s in shares]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted = time.perf_counter() - t0
        while pending(tmp / "d.db"):
            time.sleep(0.02)
        processed = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(30)
    lat = sorted(latencies)
    print(f"mails: {args.n} over {args.k} connections")
    print(f"accepted:  {args.n / accepted:8.1f} mails/s ({accepted:.2f} s)")
    print(
        f"processed: {args.n / processed:8.1f} mails/s ({processed:.2f} s, ticket + reply queued)"
    )
    print(
        f"DATA->250: p50 {statistics.median(lat) * 1000:.1f} ms, p99 {lat[int(len(lat) * 0.99) - 1] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
