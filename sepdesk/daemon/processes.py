"""Pipeline workers in their own processes, so parsing and classifying use every core.

The SMTP receiver, sender and timer share one interpreter; the pipeline is
the CPU-heavy part, so ``serve`` runs it in child processes, each owning the
intake rows whose id falls in its shard. A child finishes the batch in hand
on SIGTERM or when its parent is gone (it checks its parent id every pass),
so a killed daemon leaves no orphan behind.

New intake rows wake the children at once: the daemon sends SIGUSR1 (the SMTP
receiver after each stored message, the IMAP poller after each stored batch
it hands over). A child keeps SIGUSR1 blocked and waits for it with
``sigtimedwait``, so a wake-up sent while it is busy stays pending instead of
being lost, and one sent before it has even started is not fatal: children
are started with SIGUSR1 already blocked (the mask survives fork and exec).
The short idle poll is only the fallback for rows stored by other processes.

``sepdesk serve`` starts the children first thing, before the daemon has a
thread: they are then forked from a parent that has already imported the
pipeline and loaded the rule automaton and holiday tables, so a child is ready
at once instead of booting an interpreter and importing everything again
(about 0.4 s of a busy start, and that much CPU per child). Forking is only
safe while the parent has a single thread (a lock another thread holds at
fork time stays held in the child for ever), so children started later, as
on SIGHUP or in place of one that ended (killed, crashed), are spawned. A
child waits for the daemon's first wake-up (sent once migrations are done and
the daemon's own SIGUSR1 handler is in place) before it touches the database.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from sepdesk.config import Settings
from sepdesk.daemon.logs import setup_logging
from sepdesk.instants import now
from sepdesk.store.faults import FAILED_PASS_WAIT, PassFaults

log = logging.getLogger("sepdesk.daemon")
IDLE_POLL = 0.25  # seconds between looks at the intake table when nobody wakes us
KILL_WAIT = 2.0  # seconds for killed processes to be gone, after the stop deadline
REPLACE_WAIT = 5.0  # least seconds between replacements of ended pipeline processes
REPLACE_WAIT_MAX = 300.0  # ...doubled while each successor ends again at once, up to this
WAKE = signal.SIGUSR1


class _Stop:
    """Set by SIGTERM. A plain flag, not a multiprocessing.Event: an Event's shared lock
    can be left held by a parent that died, and then a child would wait forever."""

    requested = False


def _request_stop(_signum: int, _frame: object) -> None:
    _Stop.requested = True


def _nudge(parent: int) -> None:
    """Tell the daemon there are new outbox rows and tickets (it wakes sender and timer)."""
    with contextlib.suppress(OSError):
        os.kill(parent, signal.SIGUSR1)


def _beat(beat: Any) -> None:
    beat.value = time.monotonic()


def _first_wake(parent: int, beat: Any) -> bool:
    """Wait until the daemon says the database is ready; False when told to stop first."""
    while not _Stop.requested and os.getppid() == parent:
        _beat(beat)
        if signal.sigtimedwait({WAKE}, IDLE_POLL) is not None:
            return True
    return False


def pipeline_main(
    settings: Settings, shard: tuple[int, int], level: int, parent: int, beat: Any
) -> None:
    """The loop of one pipeline process; ``parent`` is the daemon's pid, passed in because a
    parent killed while this process was still starting would otherwise go unnoticed.
    ``beat``: a shared double this process sets to time.monotonic() at every turn of its
    loop and after each mail it reads or writes (CLOCK_MONOTONIC is one clock for all
    processes), for the daemon's watchdog: a batch of 20 large mails takes minutes."""
    setup_logging(level)
    # WAKE is blocked already (see the docstring); the daemon's other signals may be too,
    # when it started us from its main loop: exactly WAKE stays blocked here.
    signal.pthread_sigmask(signal.SIG_SETMASK, {WAKE})
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    # Spawned, the child imports here, before the wait; forked, it has all this already.
    from sepdesk.daemon.workers import PipelineJob
    from sepdesk.desk import Desk
    from sepdesk.pipeline import runner
    from sepdesk.sla.calendar import SupportCalendar

    SupportCalendar.from_settings(settings)  # loads the holiday tables now, not in batch one
    if not _first_wake(parent, beat):
        return
    desk = Desk.open(settings, migrate=False)
    # The IMAP poller of serve hands its rows to us, so only `ingest` rows are left alone.
    job = PipelineJob(desk, shard, leave=runner.HANDED_OFF_LEAVE, progress=partial(_beat, beat))
    faults = PassFaults(f"pipeline shard {shard[0]}")
    try:
        while not _Stop.requested and os.getppid() == parent:
            _beat(beat)
            wait = one_pass(job, faults)
            if wait == 0:
                _nudge(parent)
            else:
                signal.sigtimedwait({WAKE}, wait)
    finally:
        desk.close()


def one_pass(job: Callable[[datetime], int], faults: PassFaults) -> float:
    """Run one pass of a pipeline process; how long to wait for a wake-up before the next
    (0: it found work, go on). A failed pass is logged once per fault (``faults``) and
    backs off FAILED_PASS_WAIT: the same rows would fail again at once (a full disk)."""
    try:
        busy = job(now())
    except Exception as exc:  # the fence: log, back off, keep going
        faults.failed(exc)
        return FAILED_PASS_WAIT
    faults.worked()
    return 0.0 if busy else IDLE_POLL


def preload(settings: Settings) -> None:
    """What every pipeline process needs before its first mail, done once in the parent."""
    from sepdesk.daemon.workers import PipelineJob  # noqa: F401 - the import is the point
    from sepdesk.pipeline import prefilter, severity_model
    from sepdesk.sla.calendar import SupportCalendar

    prefilter.prepare()
    severity_model.shipped()
    SupportCalendar.from_settings(settings)


def start_method() -> str:
    """``fork`` while this process has one thread (see the module docstring), else ``spawn``."""
    return "fork" if threading.active_count() == 1 else "spawn"


class PipelineProcesses:
    """Starts ``count`` pipeline processes; stops them with SIGTERM (each ends its batch)."""

    def __init__(self, settings: Settings, count: int, method: str | None = None) -> None:
        self.count = count
        self.settings = settings
        self.method = method or start_method()
        self.beats: list[Any] = [None] * count
        self.procs: list[Any] = [self._process(i, self.method) for i in range(count)]
        self.replaced_at = 0.0
        self.replace_wait = REPLACE_WAIT

    def _process(self, index: int, method: str) -> Any:
        ctx: Any = multiprocessing.get_context(method)
        level = logging.getLogger().getEffectiveLevel()
        # Raw: no lock that a process killed while holding it would leave held for ever.
        self.beats[index] = ctx.RawValue("d", time.monotonic())
        return ctx.Process(
            target=pipeline_main,
            args=(self.settings, (index, self.count), level, os.getpid(), self.beats[index]),
            name=f"sepdesk-pipeline-{index}",
            daemon=True,
        )

    def start(self) -> None:
        """Start the processes not yet started; they wait for the first :meth:`wake`."""
        # Children inherit this thread's signal mask: they start with WAKE blocked, so a
        # wake-up sent before they are ready stays pending instead of killing them.
        forking = self.method == "fork"
        if forking:
            preload(self.settings)
            # What the children inherit (modules, rules, their parse trees) lives as long
            # as they do: frozen, their collections never walk it again, and no collection
            # writes into those objects' pages, which the children then keep sharing.
            gc.freeze()
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {WAKE})
        try:
            for p in self.procs:
                if p.pid is None:
                    p.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)
            if forking:
                gc.unfreeze()  # the daemon's own objects are collected as before

    def wake(self) -> int:
        """New intake rows: wake every child now, not at its next idle poll; how many live."""
        woken = 0
        for p in self.procs:
            if p.pid is not None and p.exitcode is None:
                with contextlib.suppress(OSError):
                    os.kill(p.pid, WAKE)
                    woken += 1
        return woken

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def hung_since(self, instant: float) -> list[str]:
        """The live processes that showed no progress since ``instant`` (time.monotonic()):
        no turn of their loop, no mail read or written; hung or stopped. Checking is_alive() alone missed one hung on a lock: the
        mail of its shard waited for ever while the watchdog was kept happy. Ended ones are
        left to replace_ended(): a restart by the watchdog mends no successor that fails at
        start, and withholding the ping during that backoff (up to 300 s) had systemd
        restart the daemon, SMTP receiver included, over and over."""
        pairs = zip(self.procs, self.beats, strict=True)
        return [p.name for p, b in pairs if p.is_alive() and b.value <= instant]

    def replace_ended(self) -> list[str]:
        """Start a new process for each that ended while the daemon runs (killed, crashed):
        the mail of its shard, answered 250 already, waited for a restart of the daemon,
        for ever without a watchdog. Spawned (the daemon has threads now); at most once
        per REPLACE_WAIT, doubled (up to REPLACE_WAIT_MAX) while each successor ends again
        at once, so one that fails at start neither takes a core nor floods the log. The
        ended ones."""
        clock = time.monotonic()
        if clock - self.replaced_at < self.replace_wait:
            return []
        ended = [i for i, p in enumerate(self.procs) if p.pid is not None and not p.is_alive()]
        names = [f"{self.procs[i].name} (exit code {self.procs[i].exitcode})" for i in ended]
        for i in ended:
            self.procs[i] = self._process(i, "spawn")
        if ended:
            # A successor that ends again before the next wait is over (it fails at start:
            # a broken install, a database it cannot open) was an ERROR every 5 s for ever.
            soon = clock - self.replaced_at < 2 * self.replace_wait
            self.replace_wait = (
                min(2 * self.replace_wait, REPLACE_WAIT_MAX) if soon else REPLACE_WAIT
            )
            self.replaced_at = clock
            self.method = "spawn"  # no preload in start(): the new ones import for themselves
            self.start()
            self.wake()
        return names

    def terminate(self) -> None:
        """Ask every process to stop (SIGTERM: each finishes its batch); returns at once."""
        for p in self.procs:
            if p.is_alive():
                p.terminate()

    def shutdown(self, timeout: float) -> None:
        """Stop every process within ``timeout`` seconds in all, then at most KILL_WAIT more.

        The processes stop side by side under one deadline (not ``timeout`` each in
        turn); one still running then is killed, its batch rolled back and done again
        at the next start.
        """
        self.terminate()
        deadline = time.monotonic() + timeout
        started = [p for p in self.procs if p.pid is not None]
        for p in started:
            p.join(max(0.0, deadline - time.monotonic()))
        stuck = [p for p in started if p.is_alive()]
        for p in stuck:
            log.warning("%s did not stop in time; killing it", p.name)
            p.kill()
        deadline = time.monotonic() + KILL_WAIT
        for p in stuck:
            p.join(max(0.0, deadline - time.monotonic()))


def pipeline_process_count(settings: Settings) -> int:
    """``[pipeline] processes``, or one per core, at most four (the SMTP side is mostly I/O)."""
    return settings.pipeline.processes or max(1, min(4, os.cpu_count() or 1))
