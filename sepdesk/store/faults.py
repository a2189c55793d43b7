"""One log line per fault, not one per failed attempt; and the pause after a failed pass.

Used wherever the same fault fails every attempt until someone acts: the daemon's
workers and pipeline processes, the SMTP receiver's stores, the sender's outbox folder,
a hotline file that fails on its own.
"""

from __future__ import annotations

import errno
import logging

from sepdesk.errors import StoreError
from sepdesk.store.db import storage_fault

log = logging.getLogger("sepdesk.daemon")

FAILED_PASS_WAIT = 5.0  # seconds before a job whose pass failed runs again
# A folder of ours that is full, read-only or failing: the storage's fault, not the code's.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


class PassFaults:
    """One log line per fault of a background job (or of the SMTP receiver's stores, the
    sender's outbox folder), not one per failed pass.

    A full or read-only disk fails every pass until someone frees space; a traceback
    per pass (the pipeline processes retried four times a second) flooded the log.
    The first failed pass of a streak logs an ERROR: one line for a storage fault
    (database or folder full, read-only, I/O error), the traceback for anything else;
    the same error again only at DEBUG; a different one is logged anew. The first pass
    that works afterwards logs one WARNING saying how many failed.
    """

    def __init__(
        self,
        name: str,
        what: tuple[str, str] = ("pass", "passes"),
        retry: str = f"retrying every {FAILED_PASS_WAIT:g} s",
        log: logging.Logger = log,
    ) -> None:
        """``what``: a failing thing, in the singular and plural; ``retry``: what happens
        next, said after a storage fault."""
        self.name, self.what, self.retry, self.log = name, what, retry, log
        self.failing: str | None = None
        self.failures = 0

    def failed(self, exc: Exception, known: bool = False, same: str | None = None) -> None:
        """``known``: a fault of the storage whatever its type (one line, no traceback).
        ``same``: what makes two failures one fault, when not their text (a relay that
        is down answers a TLS handshake with a different error nearly every time)."""
        text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        self.failures += 1
        if (same or text) == self.failing:
            self.log.debug("%s: %s failed again: %s", self.name, self.what[0], text)
            return
        self.failing = same or text
        storage = (
            storage_fault(exc)
            or isinstance(exc, StoreError)  # the database cannot be opened
            or (isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS)
        )
        if known or storage:
            self.log.error("%s: %s failed: %s; %s", self.name, self.what[0], text, self.retry)
        else:
            self.log.error("%s: %s failed", self.name, self.what[0], exc_info=exc)

    def worked(self) -> None:
        if self.failing is not None:
            self.log.warning(
                "%s: works again after %d failed %s", self.name, self.failures, self.what[1]
            )
            self.failing, self.failures = None, 0
