"""Bench: IMAP catch-up throughput of sepdesk against a plain imapclient floor.

Usage (from the repo root, Dovecot installed: .ci/install-dovecot.sh)::

    .venv/bin/python bench/imap_intake.py [-n 2000] [--batch 50] [--inline] [--repeat 1]

Starts a private Dovecot exactly as the tests do (tests/servers/dovecot.py),
APPENDs N mails built from the sample corpus (each with a fresh Message-ID,
INTERNALDATE = its Date, and a made-up word ending its Subject: see
bench/corpus.py), then times, on the same mails:

* floor: one imapclient connection, ``UID FETCH`` of ``BODY.PEEK[]`` and
  INTERNALDATE in batches, ``email`` parse of each, one SQLite row per mail
  (WAL, synchronous=FULL, as sepdesk), committed once per mail and, in a
  second run, once per FETCH batch. Read-only; nothing is moved. Each runs
  with both of the ``email`` package's parsers, which differ about threefold
  in cost: ``policy.default`` (the modern API, headers parsed into objects)
  and ``compat32`` (``message_from_bytes``' own default, and what sepdesk's
  parse step uses). The compat32 floors are the stricter comparison.
* sepdesk: ``sepdesk serve`` as in production (a subprocess; [imap] on this
  Dovecot, SMTP off, the default pipeline processes, the sample contracts
  imported), timed from its start until every mail has a committed outcome
  and has been moved out of INBOX: store, the whole pipeline (tickets,
  replies in the outbox), MOVE to Processed or Quarantine. sepdesk's bytecode
  is compiled first, as an installed package has it: an editable install under
  PYTHONDONTWRITEBYTECODE (set on some CI machines) would otherwise compile
  every module from source at each start, about 0.05-0.08 s of the run.
  Besides the wall time it prints the CPU seconds of serve's processes and,
  on Linux, how they split at the end of the run (the daemon, each pipeline
  process) and what Dovecot's processes used meanwhile.
* sepdesk intake only: ``ImapPoller.run_once()`` in this process with the
  pipeline replaced by a stub that just marks the row done, to show what
  the IMAP layer itself costs.
* ceiling: how fast ``serve`` could be with a pipeline that cost nothing, as
  an estimate: the seconds until serve stored its first mail (median of the
  rounds: interpreter, imports, pipeline processes, IMAP login) plus the
  intake-only time. Against a floor whose ceiling ratio is near or below 0.5,
  the target cannot be met by a faster pipeline alone.
* with ``--inline``: also ``ImapPoller.run_once()`` with the real pipeline in
  this process (one core, as ``run_once`` works without pipeline processes).

Prints mails/s for each and the ratio sepdesk / floor (target >= 0.5). With
``--repeat R`` the floors and serve run in R alternating rounds (a fresh INBOX
each) and the ratio printed is the median, with its range.
"""

from __future__ import annotations

import argparse
import compileall
import email
import email.policy
import email.utils
import os
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from corpus import SAMPLES, sample_mails  # noqa: E402  (bench/ is the script's own folder)

from sepdesk.config import Settings, from_mapping  # noqa: E402
from sepdesk.desk import Desk  # noqa: E402
from sepdesk.intake.imap import ImapPoller  # noqa: E402
from tests.servers.dovecot import DovecotServer, dovecot_server  # noqa: E402


def build_mails(n: int) -> list[tuple[bytes, datetime]]:
    """N unique mails from the corpus (see bench/corpus.py), each with its Date."""
    return [(raw, _date(raw)) for raw in sample_mails(n)]


def _date(raw: bytes) -> datetime:
    msg = email.message_from_bytes(raw.split(b"\n\n", 1)[0] + b"\n\n")
    value = msg.get("Date")
    return email.utils.parsedate_to_datetime(value) if value else datetime.now(UTC)


def append_all(server: DovecotServer, mails: list[tuple[bytes, datetime]]) -> None:
    with server.client() as c:
        for raw, when in mails:
            c.append("INBOX", raw, msg_time=when)


def floor(
    server: DovecotServer,
    db_path: Path,
    batch: int,
    per_row: bool = True,
    policy: email.policy.Policy = email.policy.default,
) -> int:
    """Fetch, parse and durably insert every mail in INBOX; returns the count.

    ``per_row``: one commit per mail; else one per FETCH batch. ``policy``: the
    ``email`` parser (see the module docstring).
    """
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE mail (uid INTEGER, received TEXT, msgid TEXT, subject TEXT, raw BLOB)")
    done = 0
    with server.client() as c:
        c.normalise_times = False
        c.select_folder("INBOX", readonly=True)
        uids = sorted(c.search("ALL"))
        for i in range(0, len(uids), batch):
            fetched = c.fetch(uids[i : i + batch], ["BODY.PEEK[]", "INTERNALDATE"])
            if not per_row:
                db.execute("BEGIN IMMEDIATE")
            for uid, data in fetched.items():
                raw = data[b"BODY[]"]
                msg = email.message_from_bytes(raw, policy=policy)
                if per_row:
                    db.execute("BEGIN IMMEDIATE")
                db.execute(
                    "INSERT INTO mail VALUES (?, ?, ?, ?, ?)",
                    [uid, data[b"INTERNALDATE"].isoformat(), msg["Message-ID"],
                     str(msg["Subject"]), raw],
                )  # fmt: skip
                if per_row:
                    db.execute("COMMIT")
                done += 1
            if not per_row:
                db.execute("COMMIT")
    db.close()
    return done


def desk_settings(server: DovecotServer, work: Path) -> Settings:
    (work / "pw").write_text(server.password)
    return from_mapping(
        {
            "database": {"path": str(work / "desk.db")},
            "outbox": {"dir": str(work / "outbox")},
            "imap": {
                "enabled": True, "host": server.host, "port": server.port,
                "user": server.user, "password_file": str(work / "pw"), "tls": "none",
            },
        },
        "bench",
    )  # fmt: skip


def prepare_desk(settings: Settings) -> Desk:
    """A migrated database with the sample contracts, so mails become full tickets."""
    from sepdesk.contracts import import_csv

    desk = Desk.open(settings)
    import_csv(desk.db, SAMPLES / "contracts.csv", datetime(2026, 11, 1, tzinfo=UTC))
    return desk


def serve_config(server: DovecotServer, work: Path) -> Path:
    """The config of a production-like ``sepdesk serve``: IMAP in, SMTP off."""
    (work / "pw").write_text(server.password)
    cfg = work / "sepdesk.toml"
    cfg.write_text(
        f"""[database]
path = "{work / "desk.db"}"
[outbox]
dir = "{work / "outbox"}"
[hotline]
spool_dir = "{work / "spool"}"
[smtp]
enabled = false
[imap]
enabled = true
host = "{server.host}"
port = {server.port}
user = "{server.user}"
password_file = "{work / "pw"}"
tls = "none"
"""
    )
    return cfg


def finished(client: Any, db_path: Path, n: int) -> bool:
    """Every mail has a committed outcome and none is left in INBOX.

    The database is asked first: a STATUS makes Dovecot re-read the folder, which the
    daemon's MOVEs keep changing, and asked every 0.05 s that cost Dovecot about as much
    CPU as serving sepdesk's FETCHes, on the cores sepdesk is being timed on.
    """
    db = sqlite3.connect(db_path, timeout=30)
    try:
        row = db.execute("SELECT count(*) FROM intake WHERE state IN ('done', 'quarantined')")
        if int(row.fetchone()[0]) < n:
            return False
    finally:
        db.close()
    return not int(client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"])


def run_serve(
    server: DovecotServer, work: Path, n: int, timeout: float = 600.0
) -> tuple[int, float]:
    """Start ``sepdesk serve``, wait until all N are processed and moved; returns N and the
    seconds from the start (interpreter, pipeline processes included) until then; the
    daemon's stop afterwards (it may sit in IDLE for a few seconds) is not counted."""
    cfg = serve_config(server, work)
    log = (work / "serve.log").open("wb")
    cpu_before, dovecot_before = _children_cpu(), _dovecot_cpu()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sepdesk", "--config", str(cfg), "serve"],
        stdout=log, stderr=subprocess.STDOUT, cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    split = ""
    try:
        deadline = time.monotonic() + timeout
        pipeline: list[int] = []
        STARTUPS.append(_first_stored(work / "desk.db", t0, proc, deadline))
        with server.client() as watcher:
            while not finished(watcher, work / "desk.db", n):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"sepdesk serve failed or timed out; see {work / 'serve.log'}")
                pipeline = _child_pids(proc.pid) or pipeline
                time.sleep(0.05)
        elapsed = time.perf_counter() - t0
        split = _cpu_split(proc.pid, pipeline, _dovecot_cpu() - dovecot_before)
        return n, elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
        # Less at the mercy of other load on the machine than the wall clock.
        cpu = _children_cpu() - cpu_before
        print(
            f"  (sepdesk serve used {cpu:.2f} CPU s in all its processes, start and stop"
            f" included{split})"
        )


# Seconds from each serve's start until it stored its first mail (interpreter, imports,
# pipeline processes, IMAP login, first FETCH): what even a free pipeline would cost.
STARTUPS: list[float] = []


def _first_stored(
    db_path: Path, t0: float, proc: subprocess.Popen[bytes], deadline: float
) -> float:
    """Seconds from ``t0`` until the daemon's first intake row is there (5 ms steps)."""
    db = sqlite3.connect(db_path, timeout=30)
    try:
        while db.execute("SELECT NOT EXISTS (SELECT 1 FROM intake)").fetchone()[0]:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("sepdesk serve failed or timed out before storing a mail")
            time.sleep(0.005)
        return time.perf_counter() - t0
    finally:
        db.close()


def _children_cpu() -> float:
    """User + system seconds of finished child processes (serve and its pipeline processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Where a run's CPU went, read from /proc (Linux; elsewhere these figures are left out).
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_DOVECOT_NAMES = {"imap", "imap-login", "auth", "anvil", "log", "config", "stats", "indexer"}


def _stat(pid: int | str) -> tuple[str, list[str]] | None:
    """A process's name and the fields after it in /proc/<pid>/stat; None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, _, rest = text.partition("(")[2].rpartition(")")
    return name, rest.split()


def _cpu_of(pid: int) -> float:
    """User + system seconds of a live process so far (0 when it is gone)."""
    stat = _stat(pid)
    return (int(stat[1][11]) + int(stat[1][12])) / _TICK if stat else 0.0


def _child_pids(pid: int) -> list[int]:
    """serve's pipeline processes: its children but multiprocessing's resource tracker."""
    try:
        kids = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [k for k in kids if b"resource_tracker" not in _cmdline(k)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _dovecot_cpu() -> float:
    """CPU seconds Dovecot's processes used so far: the master with its reaped children,
    and the live ones (a login's imap process lives as long as its connection)."""
    total = 0
    for entry in Path("/proc").glob("[0-9]*"):
        stat = _stat(entry.name)
        if stat is None:
            continue
        name, fields = stat
        if name == "dovecot":
            total += sum(int(f) for f in fields[11:15])
        elif name in _DOVECOT_NAMES:
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def _cpu_split(daemon: int, pipeline: list[int], dovecot: float) -> str:
    """At the end of the run: the daemon's CPU, each pipeline process's, Dovecot's meanwhile."""
    if not Path("/proc/self/stat").exists():
        return ""
    kids = " + ".join(f"{_cpu_of(p):.2f}" for p in pipeline) or "?"
    return f"; daemon {_cpu_of(daemon):.2f}, pipeline {kids}; Dovecot {dovecot:.2f}"


def run_sepdesk(settings: Settings, batch: int) -> int:
    desk = prepare_desk(settings)
    try:
        poller = ImapPoller(desk, settings, batch_size=batch)
        total = 0
        try:
            while n := poller.run_once():
                total += n
        finally:
            poller.close()
        return total
    finally:
        desk.close()


def stub_pipeline() -> Callable[[], None]:
    """Swap the pipeline for a stub that marks rows done; returns the undo."""
    from sepdesk.pipeline import runner
    from sepdesk.store import write_tx

    saved = runner.process_batch

    def process_batch(desk: Desk, intake_ids: list[int]) -> None:
        with write_tx(desk.db):
            desk.db.conn.executemany(
                "UPDATE intake SET state = 'done', outcome = 'ignored' WHERE id = ?",
                [[i] for i in intake_ids],
            )

    setattr(runner, "process_batch", process_batch)  # noqa: B010 - a deliberate stub

    def undo() -> None:
        setattr(runner, "process_batch", saved)  # noqa: B010

    return undo


def timed(label: str, n_expected: int, fn: Callable[[], int | tuple[int, float]]) -> float:
    """Runs ``fn``; its own duration when it returns (count, seconds), else the call's."""
    t0 = time.perf_counter()
    got = fn()
    dt = time.perf_counter() - t0
    n, dt = got if isinstance(got, tuple) else (got, dt)
    if n != n_expected:
        raise SystemExit(f"{label}: handled {n} of {n_expected} mails")
    rate = n / dt
    print(f"{label:<34} {n:>6} mails in {dt:7.2f} s = {rate:8.1f} mails/s")
    return rate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="number of mails (default 2000)")
    ap.add_argument("--batch", type=int, default=50, help="UIDs per FETCH (default 50)")
    ap.add_argument("--inline", action="store_true", help="also time run_once with the pipeline")
    ap.add_argument(
        "--repeat", type=int, default=1, help="rounds of floor and serve (median ratio; default 1)"
    )
    args = ap.parse_args(argv)
    compileall.compile_dir(ROOT / "sepdesk", quiet=1)  # see the docstring
    mails = build_mails(args.n)
    with tempfile.TemporaryDirectory(prefix="sepdesk-bench-") as tmp:
        work = Path(tmp)
        servers = dovecot_server(work / "dovecot-files")
        server = next(servers)
        try:
            return _bench(server, work, mails, args)
        finally:
            next(servers, None)  # runs the generator's teardown: stops Dovecot


def _refill(server: DovecotServer, mails: Any, work: Path, name: str) -> Path:
    """An INBOX holding the N mails again, and a fresh directory for the next run."""
    server.reset_mail()
    append_all(server, mails)
    (work / name).mkdir()
    return work / name


# label -> (commit per mail, email policy); every round runs each.
FLOORS: dict[str, tuple[bool, email.policy.Policy]] = {
    "per mail": (True, email.policy.default),
    "per batch": (False, email.policy.default),
    "per mail, compat32": (True, email.policy.compat32),
    "per batch, compat32": (False, email.policy.compat32),
}


def _round(server: DovecotServer, work: Path, mails: Any, batch: int, k: int) -> dict[str, float]:
    """The floors and sepdesk serve on the N mails now in INBOX (the floors only read)."""
    n = len(mails)
    rates = {}
    for i, (label, (per_row, policy)) in enumerate(FLOORS.items()):
        run = partial(floor, server, work / f"f{i}-{k}.db", batch, per_row, policy)
        rates[f"floor {label}"] = timed(f"floor, commit {label}", n, run)
    where = work / f"serve-{k}"
    where.mkdir()
    prepare_desk(desk_settings(server, where)).close()
    procs = os.cpu_count()
    rates["serve"] = timed(f"sepdesk serve ({procs} cpus)", n, lambda: run_serve(server, where, n))
    return rates


def _bench(server: DovecotServer, work: Path, mails: Any, args: argparse.Namespace) -> int:
    n, batch = len(mails), args.batch
    t0 = time.perf_counter()
    append_all(server, mails)
    print(f"appended {n} mails in {time.perf_counter() - t0:.1f} s (Dovecot {server.port})")
    # Rounds alternate floor and sepdesk, so a busy spell of the machine hits both alike.
    rounds = [_round(server, work, mails, batch, 0)]
    for k in range(1, args.repeat):
        _refill(server, mails, work, f"round-{k}")
        rounds.append(_round(server, work, mails, batch, k))
    rates = {}
    if args.inline:
        where = _refill(server, mails, work, "inline")
        rates["inline"] = timed(
            "sepdesk run_once, inline", n, lambda: run_sepdesk(desk_settings(server, where), batch)
        )
    where = _refill(server, mails, work, "intake")
    undo = stub_pipeline()
    try:
        rates["intake only"] = timed(
            "sepdesk intake only", n, lambda: run_sepdesk(desk_settings(server, where), batch)
        )
    finally:
        undo()
    startup = statistics.median(STARTUPS)
    ceiling = n / (startup + n / rates["intake only"])
    print(
        f"serve stored its first mail {startup:.2f} s after its start (median); with intake"
        f" only after it, a pipeline costing nothing: at most {ceiling:.1f} mails/s (ceiling)"
    )
    for label in FLOORS:
        ratios = sorted(r["serve"] / r[f"floor {label}"] for r in rounds)
        base = statistics.median(r[f"floor {label}"] for r in rounds)
        others = "".join(f", {name} {rate / base:.2f}" for name, rate in rates.items())
        others += f", ceiling {ceiling / base:.2f}"
        spread = (
            f" (range {ratios[0]:.2f}-{ratios[-1]:.2f}, {len(rounds)} rounds)"
            if len(rounds) > 1
            else ""
        )
        print(
            f"ratio sepdesk/floor (floor commit {label}): serve {statistics.median(ratios):.2f}"
            f"{spread}{others} (target >= 0.50)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
