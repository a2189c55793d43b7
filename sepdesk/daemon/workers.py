"""Background jobs as ``run_once(at) -> count`` plus one thin loop each (Mailman's runners).

A worker runs its job until it returns 0, then sleeps until the job's next
due instant, its idle limit, or a wake-up from another part of the daemon.
No test sleeps: tests call the jobs' run_once with an explicit ``at``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sepdesk.desk import Desk
from sepdesk.instants import now
from sepdesk.pipeline import runner
from sepdesk.store.faults import FAILED_PASS_WAIT, PassFaults

log = logging.getLogger("sepdesk.daemon")

RETRY_FAILED_AFTER = 30.0  # seconds before a message whose attempt failed is tried again


class Worker(threading.Thread):
    def __init__(
        self,
        name: str,
        job: Callable[[datetime], int],
        stop: threading.Event,
        next_wake: Callable[[], datetime | None] = lambda: None,
        idle: float = 30.0,
        pace: float = 0.0,
    ) -> None:
        """``pace``: least seconds between passes, so a job that finds a little work on
        every pass (each a commit and a disk flush) does not crowd out the others."""
        super().__init__(name=name, daemon=True)
        self.job, self.stop, self.next_wake, self.idle = job, stop, next_wake, idle
        self.pace = pace
        self.wake = threading.Event()
        self.heartbeat = time.monotonic()
        self.faults = PassFaults(name)

    def _sleep_for(self) -> float:
        when = self.next_wake()
        if when is None:
            return self.idle
        return max(0.05, min(self.idle, (when - now()).total_seconds()))

    def run(self) -> None:
        while not self.stop.is_set():
            self.heartbeat = time.monotonic()
            try:
                busy = self.job(now())
                self.faults.worked()
                if busy:
                    if self.pace:
                        self.stop.wait(self.pace)
                    continue
                timeout = max(self.pace, self._sleep_for())
            except Exception as exc:  # the runner's fence: log, back off, keep going
                self.faults.failed(exc)
                timeout = FAILED_PASS_WAIT
            self.wake.wait(timeout)
            self.wake.clear()


class PipelineJob:
    """Processes pending intake rows; a row whose attempt failed waits before its next try."""

    def __init__(
        self,
        desk: Desk,
        shard: tuple[int, int] = (0, 1),
        leave: tuple[str, ...] = runner.SELF_PROCESSED_SOURCES,
        progress: Callable[[], None] = lambda: None,
    ) -> None:
        """``leave``: sources whose fresh rows are someone else's (see runner.pending_ids);
        ``progress``: called as each row is read and written (runner.process_batch)."""
        self.desk = desk
        self.shard = shard
        self.leave = leave
        self.progress = progress
        self.failed: dict[int, float] = {}

    def _ids(self, clock: float, at: datetime) -> list[int]:
        own = runner.pending_ids(
            self.desk, limit=runner.BATCH * 4, shard=self.shard, at=at, leave=self.leave
        )
        ids = [i for i in own if self.failed.get(i, 0) <= clock][: runner.BATCH]
        if not ids and self.shard[1] > 1:
            # Own shard empty while others have a backlog: help with their newest rows
            # (their owners work from the oldest), so a busy shard does not leave a core idle;
            # never with mail of a conversation, which its owner takes in order.
            backlog = runner.pending_ids(
                self.desk, runner.BATCH * 2, newest=True, at=at, leave=self.leave, unthreaded=True
            )
            if len(backlog) >= runner.BATCH * 2:
                ids = [i for i in backlog if self.failed.get(i, 0) <= clock][: runner.BATCH // 2]
        return ids

    def __call__(self, at: datetime) -> int:
        clock = time.monotonic()
        ids = self._ids(clock, at)
        for result in runner.process_batch(self.desk, ids, at, self.progress):
            if result.state == "pending":
                self.failed[result.intake_id] = clock + RETRY_FAILED_AFTER
            else:
                self.failed.pop(result.intake_id, None)
        return len(ids)
