"""The daemon's log lines: one per event on stderr, which journald stamps with time and unit."""

from __future__ import annotations

import logging

from sepdesk.errors import one_line

FORMAT = "%(levelname)s %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """A log line as one line a terminal or journal shows as it is: what a message quotes
    from mail (a Message-ID, a subject, a server's answer) had its ESC sequences drive the
    admin's terminal, and a line break in it could forge a log line. A traceback below
    the line keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return one_line(super().formatMessage(record))


def setup_logging(level: int | str) -> None:
    """Log at ``level`` (a number or a name such as "info") in the daemon and its processes."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(FORMAT))
    logging.basicConfig(handlers=[handler])
    # FORMAT names none of these, and each record would collect them: a caller's file and
    # line (a walk up the stack), thread, process. A pipeline process logs a line or two
    # per message; this is the Logging HOWTO's own advice ("Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    set_level(level)


def set_level(level: int | str) -> None:
    """The level from now on (at start, and when SIGHUP brings a new ``[log] level``)."""
    if isinstance(level, str):
        level = getattr(logging, level.upper(), logging.INFO)
    logging.getLogger().setLevel(level)
    # aiosmtpd logs every SMTP command at INFO; our own line per message says what matters.
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, level))
    # imapclient adds "Connection closed" (INFO) to the poller's one line per failed try.
    # Its module logger only: "imapclient.imaplib" carries the protocol trace at DEBUG.
    logging.getLogger("imapclient.imapclient").setLevel(max(logging.WARNING, level))
