"""One log line per fault of a background job, and the pause after a failed pass."""

from __future__ import annotations

import errno
import logging

from sepdesk.store.db import storage_fault

log = logging.getLogger("sepdesk.daemon")

FAILED_PASS_WAIT = 5.0  # seconds before a job whose pass failed runs again
# A folder of ours that is full, read-only or failing: the storage's fault, not the code's.
_STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


class PassFaults:
    """One log line per fault of a background job, not one per failed pass.

    A full or read-only disk fails every pass until someone frees space; a traceback
    per pass (the pipeline processes retried four times a second) flooded the log.
    The first failed pass of a streak logs an ERROR: one line for a storage fault
    (database or folder full, read-only, I/O error), the traceback for anything else;
    the same error again only at DEBUG; a different one is logged anew. The first pass
    that works afterwards logs one WARNING saying how many failed.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.failing: str | None = None
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        text = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        self.failures += 1
        if text == self.failing:
            log.debug("%s: pass failed again: %s", self.name, text)
            return
        self.failing = text
        if storage_fault(exc) or (isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS):
            log.error("%s: pass failed: %s; retrying every %g s", self.name, text, FAILED_PASS_WAIT)
        else:
            log.error("%s: pass failed", self.name, exc_info=exc)

    def worked(self) -> None:
        if self.failing is not None:
            log.warning("%s: works again after %d failed passes", self.name, self.failures)
            self.failing, self.failures = None, 0
