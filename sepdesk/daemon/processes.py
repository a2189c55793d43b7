"""Pipeline workers in their own processes, so parsing and classifying use every core.

The SMTP receiver, sender and timer share one interpreter; the pipeline is
the CPU-heavy part, so ``serve`` runs it in child processes, each owning the
intake rows whose id falls in its shard. A child finishes the batch in hand
on SIGTERM or when its parent is gone (it checks its parent id every pass),
so a killed daemon leaves no orphan behind.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from multiprocessing.synchronize import Event as EventType
from typing import Any

from sepdesk.config import Settings
from sepdesk.daemon.workers import PipelineJob
from sepdesk.desk import Desk
from sepdesk.instants import now

log = logging.getLogger("sepdesk.daemon")
IDLE_POLL = 0.05  # seconds between looks at the intake table when there is nothing to do


def _child_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def pipeline_main(settings: Settings, shard: tuple[int, int], stop: EventType, level: int) -> None:
    """The loop of one pipeline process."""
    _child_logging(level)
    parent = os.getppid()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    desk = Desk.open(settings, migrate=False)
    job = PipelineJob(desk, shard)
    try:
        while not stop.is_set() and os.getppid() == parent:
            try:
                busy = job(now())
            except Exception:  # the fence: log, back off, keep going
                log.exception("pipeline shard %s: pass failed", shard[0])
                busy = 0
            if not busy:
                stop.wait(IDLE_POLL)
    finally:
        desk.close()


class PipelineProcesses:
    """Starts and stops ``count`` pipeline processes."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.ctx = multiprocessing.get_context("spawn")
        self.stop = self.ctx.Event()
        level = logging.getLogger().getEffectiveLevel()
        self.procs: list[Any] = [
            self.ctx.Process(
                target=pipeline_main,
                args=(settings, (i, count), self.stop, level),
                name=f"sepdesk-pipeline-{i}",
                daemon=True,
            )
            for i in range(count)
        ]

    def start(self) -> None:
        for p in self.procs:
            p.start()

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def shutdown(self, timeout: float) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(timeout)
            if p.is_alive():
                log.warning("%s did not stop in time; terminating", p.name)
                p.terminate()
                p.join(2)
