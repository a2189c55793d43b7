"""The daemon's logging setup: the level, the SMTP library quieted, lean records."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from sepdesk.daemon.logs import setup_logging

_FLAGS = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
QUIETED = ("mail.log", "imapclient.imapclient")


@pytest.fixture
def fresh_root() -> Iterator[logging.Logger]:
    """The root logger, its handlers and the logging flags restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {f: getattr(logging, f) for f in _FLAGS}
    quiet = {name: logging.getLogger(name).level for name in QUIETED}
    yield root
    for h in root.handlers:
        h.close()
    root.handlers, root.level = saved[0], saved[1]
    for f, v in saved[2].items():
        setattr(logging, f, v)
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


class _Keep(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


def _setup(root: logging.Logger, level: int | str) -> None:
    root.handlers = []  # pytest adds its own for each phase of a test
    setup_logging(level)


def test_level_by_name_and_smtp_library_quiet(fresh_root: logging.Logger) -> None:
    _setup(fresh_root, "debug")
    assert fresh_root.level == logging.DEBUG
    assert logging.getLogger("mail.log").level == logging.WARNING
    fmt = fresh_root.handlers[0].formatter
    assert fmt is not None
    record = logging.LogRecord("sepdesk.x", logging.INFO, "f.py", 1, "hi %s", ("there",), None)
    assert fmt.format(record) == "INFO sepdesk.x: hi there"


def test_records_skip_caller_thread_and_process(fresh_root: logging.Logger) -> None:
    _setup(fresh_root, logging.INFO)
    assert fresh_root.level == logging.INFO
    seen: list[logging.LogRecord] = []
    handler = _Keep(seen)
    fresh_root.addHandler(handler)
    logging.getLogger("sepdesk.test").info("one line")
    # No walk up the stack for the caller, no thread or process lookups.
    assert seen[0].lineno == 0 and seen[0].pathname == "(unknown file)"
    assert seen[0].threadName is None and seen[0].process is None


def test_imapclient_adds_no_line_to_a_failed_try(fresh_root: logging.Logger) -> None:
    """README: a refused login is one WARNING line, each further try one INFO line; the
    library's own "Connection closed" made it two per try. Its protocol trace (another
    logger) still shows at DEBUG."""
    _setup(fresh_root, "info")
    seen: list[logging.LogRecord] = []
    fresh_root.addHandler(_Keep(seen))
    library = logging.getLogger("imapclient.imapclient")
    library.info("Connection closed")
    library.warning("a warning of its own")
    assert [r.getMessage() for r in seen] == ["a warning of its own"]
    _setup(fresh_root, "debug")
    assert logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG)


def test_a_log_line_shows_control_characters_from_mail_as_escapes(
    fresh_root: logging.Logger,
) -> None:
    """Review: serve logged a Message-ID's ESC sequence raw (``message-id=smtpweird^[[31m``),
    which drove the terminal; a line break in a value could forge a log line."""
    _setup(fresh_root, logging.INFO)
    fmt = fresh_root.handlers[0].formatter
    assert fmt is not None
    args = ("smtpweird\x1b[31mred@vd.example\r\nINFO forged",)
    record = logging.LogRecord("sepdesk.x", logging.INFO, "f.py", 1, "message-id=%s", args, None)
    assert fmt.format(record) == (
        "INFO sepdesk.x: message-id=smtpweird\\x1b[31mred@vd.example INFO forged"
    )
