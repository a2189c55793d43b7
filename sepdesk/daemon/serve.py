"""``sepdesk serve``: the wiring of receiver, pipeline, sender, SLA timer, IMAP and hotline spool.

Each part runs in its own thread with its own database connection. SIGTERM
stops accepting mail, lets every worker finish the item in hand, and exits
0; SIGHUP re-reads the configuration (listen addresses need a restart).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sepdesk import config
from sepdesk.config import Settings
from sepdesk.daemon.logs import set_level
from sepdesk.daemon.notify import sd_notify, watchdog_interval
from sepdesk.daemon.processes import pipeline_process_count
from sepdesk.daemon.workers import PipelineJob, Worker
from sepdesk.desk import Desk
from sepdesk.errors import ConfigError
from sepdesk.outbound import sender

log = logging.getLogger("sepdesk.daemon")
STOP_TIMEOUT = 8.0
HUNG_AFTER = 300.0  # seconds a worker or pipeline process may go without turning its loop
# Sections a reload cannot apply: the listening socket, the open database, the IMAP login.
RESTART_SECTIONS = ("smtp", "database", "imap")


class Daemon:
    def __init__(
        self,
        settings: Settings,
        config_path: str | None = None,
        pipeline_processes: int = 0,
        processes: Any = None,
    ) -> None:
        """``pipeline_processes`` 0 runs the pipeline in a thread (tests); more uses processes
        (``processes``, when they were started early; else started here)."""
        self.settings = settings
        self.config_path = config_path
        self.pipeline_processes = pipeline_processes
        self.processes: Any = processes
        self.pipeline: Worker | None = None
        self.stop = threading.Event()
        self.workers: list[Worker] = []
        self.desks: list[Desk] = []
        self.controller: Any = None
        self.handler: Any = None
        self.threads: list[threading.Thread] = []
        self.pollers: list[Any] = []

    def _desk(self) -> Desk:
        desk = Desk.open(self.settings, migrate=not self.desks)
        self.desks.append(desk)
        return desk

    def _worker(self, name: str, job: Callable[[datetime], int], **kw: Any) -> Worker:
        worker = Worker(name, job, self.stop, **kw)
        self.workers.append(worker)
        return worker

    def _build(self) -> None:
        from sepdesk.sla import timer

        self._desk()  # migrations run once, before any worker starts
        if self.pipeline_processes:
            if self.processes is None:  # else started early by cli.serve
                from sepdesk.daemon.processes import PipelineProcesses

                self.processes = PipelineProcesses(self.settings, self.pipeline_processes)
        else:
            self.pipeline = self._worker("pipeline", PipelineJob(self._desk()), idle=10.0)
        out_desk = self._desk()
        outgoing = self._worker(
            "sender",
            lambda at: sender.run_once(out_desk, at, stop=self.stop),
            next_wake=lambda: sender.next_attempt(out_desk),
            # Woken by the pipeline (a thread, or a process via SIGUSR1) and the timer; the
            # idle limit picks up mail other processes queued (a CLI ingest, a hotline import).
            idle=10.0,
            pace=0.5,  # batches mail: one disk flush for many
        )
        sla_desk = self._desk()

        def escalate(at: datetime) -> int:
            fired = timer.run_once(sla_desk, at)
            if fired:  # its escalation mails go out now, not at the sender's idle limit
                outgoing.wake.set()
            return fired

        self._worker(
            "sla-timer",
            escalate,
            next_wake=lambda: timer.next_due(sla_desk.db, sla_desk.settings),
            idle=60.0,
            pace=5.0,  # escalations are minutes apart; a few seconds cost nothing
        )
        self.wake_after_pipeline = [outgoing, self.workers[-1]]
        self._extra_workers()

    def _extra_workers(self) -> None:
        if self.settings.imap.enabled:
            self._imap_pollers()
        try:
            from sepdesk.hotline.spool import SpoolJob
        except ImportError:
            return
        self._worker("hotline-spool", SpoolJob(self._desk()), idle=10.0)

    def _imap_pollers(self) -> None:
        """One poller thread per mailbox: [imap] itself, then each of [imap] accounts."""
        from sepdesk.intake.imap import ImapPoller

        for i, mailbox in enumerate(self.settings.imap.mailboxes()):
            names = config.imap_secret_names(i)  # the main account's, or account n's ..._n
            settings = dataclasses.replace(self.settings, imap=mailbox)
            # With pipeline processes the poller only fetches, stores and moves: the
            # processes give the rows their outcomes on the other cores meanwhile.
            handoff = self._hand_off if self.processes is not None else None
            poller = ImapPoller(self._desk(), settings, secret_names=names, handoff=handoff)
            self.pollers.append(poller)
            name = f"imap-{mailbox.user}@{mailbox.host}"
            self.threads.append(
                threading.Thread(target=poller.run, args=(self.stop,), name=name, daemon=True)
            )

    def _on_stored(self, _intake_id: int) -> None:
        if self.pipeline is not None:
            self.pipeline.wake.set()
        if self.processes is not None:
            self.processes.wake()

    def _hand_off(self) -> bool:
        """An IMAP poller stored a batch: wake the pipeline processes; False when none runs."""
        processes = self.processes  # replaced on SIGHUP; read once
        return processes is not None and processes.wake() > 0

    def _start_smtp(self) -> None:
        if not self.settings.smtp.enabled:
            return
        from sepdesk.intake.smtp import IntakeHandler, start_receiver

        self.handler = IntakeHandler(self.settings, self._on_stored)
        self.controller = start_receiver(self.settings, self.handler)

    def wake_followers(self) -> None:
        """Wake the sender, the SLA timer and the IMAP pollers: new outcomes, outbox rows."""
        for w in self.wake_after_pipeline:
            w.wake.set()
        for p in self.pollers:
            p.outcomes.set()  # handed-over messages may be ready to move

    def start(self) -> None:
        self._build()
        if self.pipeline is not None:
            job = self.pipeline.job

            def pipeline_then_wake(at: datetime) -> int:
                count = job(at)
                if count:
                    self.wake_followers()
                return count

            self.pipeline.job = pipeline_then_wake
        if self.processes is not None:
            self.processes.start()
            self.processes.wake()  # the database is migrated: they may begin
        for w in self.workers:
            w.start()
        for t in self.threads:
            t.start()
        self._start_smtp()
        sd_notify("READY=1\nSTATUS=accepting mail")
        log.info("sepdesk serving (config: %s)", self.settings.source)
        warn_without_escalation_recipients(self.settings)
        report_missing_secrets(self.settings)

    def reload(self) -> None:
        try:
            new = config.load(self.config_path)
        except ConfigError as exc:
            log.error("SIGHUP: configuration not reloaded: %s", exc)
            return
        kept = changed_sections(self.settings, new, RESTART_SECTIONS)
        if kept:
            log.warning("SIGHUP: changes to %s take effect after a restart", ", ".join(kept))
        new = self.settings = running(self.settings, new)
        set_level(new.log.level)  # before the pipeline processes start: they take it over
        for desk in self.desks:
            desk.settings = new
            desk._cache.clear()
        if self.processes is not None:
            from sepdesk.daemon.processes import PipelineProcesses

            # Each process finishes its batch, then new ones start with the new settings
            # (and as many as [pipeline] processes now says).
            self.processes.shutdown(STOP_TIMEOUT)
            self.pipeline_processes = pipeline_process_count(new)
            self.processes = PipelineProcesses(new, self.pipeline_processes)
            self.processes.start()
            self.processes.wake()
        log.info("SIGHUP: configuration re-read from %s", new.source)
        warn_without_escalation_recipients(new)

    def shutdown(self) -> None:
        """Stop within STOP_TIMEOUT seconds, plus KILL_WAIT for pipeline processes killed then.

        Every part finishes its work in hand under one deadline, side by side: the
        pipeline processes are told first, then the SMTP store commits what it holds,
        then the threads are joined. Whatever is unfinished at the deadline is left
        uncommitted (no 250 was given for it; a pipeline row is retried at the next
        start; a mail the relay took is in the sender's journal). systemd's TimeoutStopSec
        must stay above this (tests/test_systemd.py).
        """
        sd_notify("STOPPING=1")
        log.info("stopping: no new mail accepted; finishing work in hand")
        deadline = time.monotonic() + STOP_TIMEOUT

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        if self.handler is not None:
            self.handler.accepting = False
        if self.controller is not None:
            self.controller.stop()
        self.stop.set()
        sender.interrupt(self.stop)  # a slow relay must not keep the sender past the deadline
        for w in self.workers:
            w.wake.set()
        if self.processes is not None:
            self.processes.terminate()
        if self.handler is not None:
            self.handler.close(left())
        if self.processes is not None:
            self.processes.shutdown(left())
        for t in [*self.workers, *self.threads]:
            t.join(left())
        stuck = [t.name for t in [*self.workers, *self.threads] if t.is_alive()]
        if stuck:
            # Their databases stay open: closed under a thread still in it (the sender
            # waiting for a write lock another process held), it failed with a traceback.
            # The process ends anyway, and with it every connection; nothing uncommitted
            # counts (a pipeline row is retried, the sender's journal is folded at start).
            log.warning("stopping: %s still busy at the deadline; left unfinished", stuck)
        else:
            for desk in self.desks:
                desk.close()
        log.info("stopped")

    def replace_ended_processes(self) -> None:
        """A pipeline process that ended while serving (killed, crashed) gets a successor."""
        if self.processes is None or self.stop.is_set():
            return
        for name in self.processes.replace_ended():
            log.error("%s ended; a new pipeline process takes over its mail", name)

    def healthy(self) -> bool:
        """What the watchdog ping stands for: every worker thread and live pipeline process
        turned its loop within HUNG_AFTER seconds."""
        limit = time.monotonic() - HUNG_AFTER
        procs_ok = self.processes is None or not self.processes.hung_since(limit)
        return procs_ok and all(w.is_alive() and w.heartbeat > limit for w in self.workers)


def running(current: Settings, new: Settings) -> Settings:
    """``new`` as the daemon runs it after a reload: the sections that need a restart keep
    the values it runs with. Compared with the file last read instead, a change undone
    by the next reload was called one that needs a restart (review finding)."""
    return dataclasses.replace(new, **{name: getattr(current, name) for name in RESTART_SECTIONS})


def changed_sections(old: Settings, new: Settings, names: tuple[str, ...]) -> list[str]:
    """The sections among ``names`` whose settings differ, as "[name]"."""
    return [f"[{n}]" for n in names if getattr(old, n) != getattr(new, n)]


def warn_without_escalation_recipients(settings: Settings) -> None:
    """Say at start (and reload) when SLA escalations can reach only assignees: not silently."""
    from sepdesk.sla.timer import RECIPIENT_HINT, configured_recipients

    if not configured_recipients(settings):
        log.warning(
            "no escalation recipient: SLA warnings and breaches of unassigned tickets"
            " are mailed to nobody; %s",
            RECIPIENT_HINT,
        )


def report_missing_secrets(settings: Settings) -> None:
    """Say once at start, as an ERROR, which password is nowhere given: the relay then
    keeps the mail queued, the poller retries, each at INFO after the first line, and a
    missing secret looked like a wrong one. serve goes on: the secret may come later."""
    for line in config.missing_secrets(settings):
        log.error("%s; until then that login is not tried", line)


# Taken by the main loop with sigtimedwait, never by asynchronous handlers: a handler runs
# between any two bytecodes of the main thread, and one that sets an Event while the code
# it interrupted holds that Event's lock (a second SIGUSR1 inside the first's handler, or
# SIGTERM inside stop.wait()) deadlocks the daemon for good.
HANDLED = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1})


def block_handled_signals() -> None:
    """Block HANDLED in the main thread, before any thread starts: all inherit it.

    multiprocessing starts its resource tracker with the first process it spawns (at
    SIGHUP, or in place of an ended pipeline process) and then unblocks SIGTERM and SIGINT
    in the thread that spawned: a SIGTERM arriving before the mask was restored killed the
    daemon outright (exit -15, no orderly stop). Started here, before the mask, the
    tracker is found running by every later spawn, which then leaves the mask alone.
    """
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)


def serve(settings: Settings, config_path: str | None, processes: Any = None) -> int:
    """Run until SIGTERM. ``processes``: pipeline processes started early (cli.serve)."""
    block_handled_signals()
    count = processes.count if processes is not None else pipeline_process_count(settings)
    daemon = Daemon(settings, config_path, count, processes)
    daemon.start()
    beat = watchdog_interval()
    last_beat = 0.0
    while not daemon.stop.is_set():
        info = signal.sigtimedwait(HANDLED, min(beat or 1.0, 1.0))
        if info is not None:
            _on_signal(daemon, info.si_signo)
        daemon.replace_ended_processes()
        if beat and time.monotonic() - last_beat >= beat / 2 and daemon.healthy():
            sd_notify("WATCHDOG=1")
            last_beat = time.monotonic()
    daemon.shutdown()
    return 0


def _on_signal(daemon: Daemon, signo: int) -> None:
    if signo in (signal.SIGTERM, signal.SIGINT):
        daemon.stop.set()
    elif signo == signal.SIGHUP:
        daemon.reload()
    else:  # SIGUSR1: a pipeline process committed new tickets or mail
        daemon.wake_followers()
