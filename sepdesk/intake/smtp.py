"""The SMTP receiver (aiosmtpd): desk recipients only, size-limited, 250 only after the commit.

A MAIL FROM or RCPT TO path opened with '<' and never closed gets 501 (RFC
5321 syntax). RCPT outside the desk's addresses gets 550 5.1.1 (never a
relay). At most ``max_connections`` sessions are open; more get 421. DATA is
read into one buffer (:meth:`TolerantSMTP.smtp_DATA`): a message over
``max_message_bytes``, or of more lines than that allows, gets 552. DATA
stores the raw bytes, envelope and received time in one committed
transaction before 250, and answers 451 if that failed. The limits and their
answers are listed in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax

from sepdesk.config import Settings
from sepdesk.instants import now
from sepdesk.intake.store import Stored, store_raw
from sepdesk.store import connect, write_tx
from sepdesk.store.faults import PassFaults

log = logging.getLogger("sepdesk.smtp")

OK_RCPT = "250 2.1.5 OK"
NO_RELAY = "550 5.1.1 <{}>: recipient not accepted here (no relay)"
OK_QUEUED = "250 2.0.0 OK: stored as intake #{}"
_Item = tuple[bytes, str, list[str], Future[Stored]]
TEMP_FAIL = "451 4.3.0 could not store the message; please try again later"
BAD_SENDER = "501 5.1.7 bad sender address syntax: no closing '>'"
BAD_RECIPIENT = "501 5.1.3 bad recipient address syntax: no closing '>'"
TOO_MANY = "421 4.3.2 {} too many connections; please try again later"
REFUSALS_LOGGED_EVERY_S = 60.0
TOO_LONG_LINE = "500 Line too long (see RFC5321 4.5.3.1.6)"  # aiosmtpd's words
TOO_MUCH_DATA = "552 Error: Too much mail data"
TOO_MANY_LINES = "552 5.3.4 Error: too many lines for the message's size limit"
MIN_LINES = 100_000
YIELD_EVERY = 1024
HUNG_UP = ""  # _read_data closed the connection: no answer, nothing stored


def echo(address: str) -> str:
    """An address as a reply may repeat it: at most 254 characters, each printable.

    aiosmtpd hands over bytes that are not UTF-8 as surrogates (``\\udcff``), which no
    reply can be encoded with: the session would end in a traceback and a
    ``500 Error: (UnicodeEncodeError)``. CR, LF and NUL would break or smuggle a line.
    """
    return "".join(ch if ch.isprintable() else "?" for ch in address[:254])


def text(value: str) -> str:
    """``value`` as text SQLite can store: bytes that were not UTF-8 become U+FFFD.

    aiosmtpd hands them over as surrogates (``MAIL FROM:<j\\xfcrgen@...>`` from a
    Latin-1 client), and binding one raises: the message, and every other message
    of its group commit, would get 451 for good.
    """
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _settle(
    future: Future[Stored], result: Stored | None = None, exc: BaseException | None = None
) -> None:
    """Hand a session its outcome, unless it is gone.

    A session waiting for its 250 is cancelled when its client hangs up or the receiver
    stops, and that cancels its future; setting a cancelled future raises, which would
    end this thread and leave every later SMTP session waiting for ever. Such a client
    got no 250 and sends again (the same bytes are then recognised).
    """
    try:
        if exc is not None:
            future.set_exception(exc)
        elif result is not None:
            future.set_result(result)
    except InvalidStateError:  # cancelled: nobody is waiting
        pass


class GroupCommitter(threading.Thread):
    """Stores messages from many SMTP sessions in shared transactions: one fsync per batch.

    Each session waits on its own future, resolved only after the commit that
    holds its message, so every 250 still follows a durable write.
    """

    MAX_BATCH = 64

    def __init__(self, settings: Settings) -> None:
        super().__init__(name="smtp-store", daemon=True)
        self.settings = settings
        self.queue: queue.Queue[_Item | None] = queue.Queue()

    def submit(self, raw: bytes, mail_from: str, rcpts: list[str]) -> Future[Stored]:
        future: Future[Stored] = Future()
        self.queue.put((raw, mail_from, rcpts, future))
        return future

    def _batch(self) -> list[_Item] | None:
        first = self.queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < self.MAX_BATCH:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self.queue.put(None)
                break
            batch.append(item)
        return batch

    def _commit(self, db: Any, batch: list[_Item]) -> None:
        """One transaction for the batch; a message that fails alone fails alone.

        store_raw writes each message with one statement, atomic by itself, so one that
        raises leaves the others in place: only its session answers 451. When SQLite
        itself ended the transaction (disk full, I/O error) the whole batch fails.
        """
        outcomes: list[Stored | BaseException] = []
        try:
            with write_tx(db):
                for raw, frm, to, _future in batch:
                    try:
                        outcomes.append(
                            store_raw(
                                db,
                                source="smtp",
                                raw=raw,
                                received_at=now(),
                                mail_from=frm,
                                rcpt_to=to,
                            )
                        )
                    except Exception as exc:  # its session logs it and answers 451
                        if not db.conn.in_transaction:
                            raise
                        outcomes.append(exc)
        except Exception as exc:  # every session of the batch answers 451 and retries
            for item in batch:
                _settle(item[3], exc=exc)
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, Stored):
                _settle(item[3], outcome)
            else:
                _settle(item[3], exc=outcome)

    def run(self) -> None:
        db = None
        while (batch := self._batch()) is not None:
            try:
                db = db or connect(self.settings.database.path)
            except Exception as exc:
                for item in batch:
                    _settle(item[3], exc=exc)
                continue
            self._commit(db, batch)
        if db is not None:
            db.close()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then end; wait at most ``timeout`` seconds.

        A batch still uncommitted then is lost with the process: its sessions got no
        250, so their clients send again.
        """
        self.queue.put(None)
        self.join(timeout)


class IntakeHandler:
    """aiosmtpd handler: every branch returns an explicit status."""

    def __init__(
        self, settings: Settings, on_stored: Callable[[int], None] = lambda _id: None
    ) -> None:
        self.settings = settings
        self.addresses = settings.desk_addresses()
        self.on_stored = on_stored
        self.committer = GroupCommitter(settings)
        self.committer.start()
        self.accepting = True
        # A full disk refuses every message until space is freed: one line for the fault.
        self.faults = PassFaults(
            "SMTP receiver", ("store", "stores"), "answered 451: senders try again", log
        )

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        wanted = address.strip().lower()
        if wanted not in self.addresses:
            return NO_RELAY.format(echo(address))
        # A repeated recipient is one delivery: kept once, its envelope stays as small as
        # the desk's address list (a client repeating it 10,000 times stored them all).
        if all(a.strip().lower() != wanted for a in envelope.rcpt_tos):
            envelope.rcpt_tos.append(address)
        return OK_RCPT

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not self.accepting:
            return TEMP_FAIL
        raw = crlf_lines(envelope.original_content or b"")
        try:
            sender = text(envelope.mail_from or "")
            future = self.committer.submit(raw, sender, list(envelope.rcpt_tos))
            stored = await asyncio.wrap_future(future)
        except Exception as exc:  # the handler's fence: any storage failure is a 451
            self.faults.failed(exc)
            return TEMP_FAIL
        self.faults.worked()
        self.on_stored(stored.intake_id)
        return OK_QUEUED.format(stored.intake_id)

    def close(self, timeout: float = 10.0) -> None:
        self.committer.close(timeout)


# A line end without CR: RFC 5321 forbids it, yet clients send it (Python's smtplib
# passes bytes through as they are and dot-stuffs after every LF). aiosmtpd takes only
# CR LF for a line end, so such lines kept the client's stuffing dot (".." for ".")
# and the mail's bytes differed from the same mail fetched by IMAP. They are read as
# Postfix reads them by default ("normalize"): as lines ended by CR LF.
_BARE_LF = re.compile(rb"(?<!\r)\n\.?")


def crlf_lines(data: bytes) -> bytes:
    """DATA content with every bare LF a CR LF, less the stuffing dot of the line it opens."""
    if data.count(b"\n") == data.count(b"\r\n"):
        return data
    return _BARE_LF.sub(b"\r\n", data)


def unterminated_path(arg: str | None, keyword: str) -> bool:
    """Whether ``MAIL FROM:``/``RCPT TO:`` opens a path with '<' and never closes it.

    aiosmtpd's address parser supplies a missing '>' and accepts ``MAIL FROM:<bad``;
    RFC 5321 §4.1.2 makes the path ``"<" ... ">"``, so that is a syntax error (501).
    A '>' inside a quoted local part does not close the path.
    """
    if arg is None or arg[: len(keyword)].upper() != keyword:
        return False  # aiosmtpd answers these itself
    path = arg[len(keyword) :].strip()
    if not path.startswith("<"):
        return False
    quoted = escaped = False
    for ch in path[1:]:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ">" and not quoted:
            return False
    return True


class Sessions:
    """The receiver's open sessions, against ``[smtp] max_connections``.

    Without a limit, idle connections (a thousand, or one byte a second each) used up
    the process's file handles: the receiver then refused everyone, asyncio logged a
    traceback per failed accept (over 200,000 in half a minute, spinning a core), and
    the daemon's other workers failed to open files. A session over the limit is told
    421 and closed, as Postfix does; a mail server tries again later. Only the event
    loop's thread touches this.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.refused = 0  # since the last log line
        self.logged_at: float | None = None

    def admit(self) -> bool:
        if self.open < self.limit:
            self.open += 1
            if self.refused:  # the end of a burst: its refusals since the last line
                self._log()
            return True
        self.refused += 1
        if self.logged_at is None or time.monotonic() - self.logged_at >= REFUSALS_LOGGED_EVERY_S:
            self._log()
        return False

    def _log(self) -> None:
        log.warning(
            "SMTP: %s connection(s) refused with 421: [smtp] max_connections = %s"
            " sessions were open",
            self.refused,
            self.limit,
        )
        self.refused, self.logged_at = 0, time.monotonic()


class TolerantSMTP(SMTP):
    """RFC 5321 caps lines at 1000 octets, but real mail breaks it; accept and record, don't refuse.

    Broken paths are refused, though: ``MAIL FROM:<bad`` gets 501, not 250.
    """

    line_length_limit = 1 << 20
    sessions: Sessions | None = None  # set by the controller
    refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Counted once per connection (STARTTLS would call this again; none is offered).
        if self.sessions is not None and self.transport is None and not self.sessions.admit():
            self.refused = True
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(TOO_MANY.format(self.hostname).encode() + b"\r\n")
            transport.close()
            return
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.refused:
            return
        if self.sessions is not None:
            self.sessions.open -= 1
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        return False if self.refused else super().eof_received()

    @syntax("DATA")  # HELP lists what has it (the overrides lost aiosmtpd's)
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA (its replies and limits, one more), reading into one buffer.

        aiosmtpd keeps every line as an object of its own until the final dot, about
        40 bytes for an empty one: 32 MiB of empty lines held 1.2 GB and 28 s of CPU,
        while its line loop, never waiting on the socket for buffered data, stalled
        every other session for seconds. Here the lines go into one bytearray, the loop
        lets the others run every YIELD_EVERY lines, and a message of more than
        ``max_lines()`` lines (8 bytes a line on average at ``max_message_bytes``) is
        refused with 552 (the pipeline would choke on it).
        """
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        refusal = await self._read_data()
        if refusal == HUNG_UP:
            return
        if refusal:
            self._set_post_data_state()
            await self.push(refusal)
            return
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    async def _read_data(self) -> str | None:
        """The DATA lines up to the final dot into the envelope, unstuffed; the refusal
        when the message broke a limit. A refused message is read to its end all the
        same, so that its sender gets the permanent answer (a dropped connection is a
        temporary failure to a mail server: it would send the message again and again),
        but only as far as a message within the size limit can go (SIZE lets a server
        know the limit beforehand): past that the connection is closed (HUNG_UP)."""
        assert self.envelope is not None
        data, size, lines, refusal = bytearray(), 0, 0, None
        limit, max_lines = self.data_size_limit or 0, self.max_lines()
        in_line = False  # inside an over-long line, read in pieces
        while self.transport is not None:
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.CancelledError:  # the client hung up: nothing is stored
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as exc:  # a line over line_length_limit
                refusal = refusal or TOO_LONG_LINE
                line = await self._reader.read(exc.consumed)
            start = not in_line  # a piece of an over-long line is no line's start
            if start and line == b".\r\n":
                break
            in_line = not line.endswith(b"\r\n")
            # The message's bytes, unstuffed (RFC 5321 4.5.2), are what the limit is on:
            # counted as sent, a message of exactly the limit with a line starting with
            # "." got 552 after its SIZE had been accepted (review finding).
            content = line[1:] if start and line[:1] == b"." else line
            size, lines = size + len(content), lines + 1
            if refusal is None and limit and size > limit:
                refusal = TOO_MUCH_DATA
            elif refusal is None and lines > max_lines:
                refusal = TOO_MANY_LINES
            if refusal is None:
                data += content
            elif data:
                data = bytearray()  # given up: free it now, not at the final dot
            # Looked at every line: every 1,024th, a stream of 1 MiB pieces of an
            # over-long line ran to a GiB before the hang-up (review finding).
            if lines > 4 * max_lines or (limit and size > 2 * limit):
                self._hang_up()  # no message within the limit is this long
                return HUNG_UP
            if lines % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        if refusal is None:
            self.envelope.original_content = bytes(data)
            self.envelope.content = self.envelope.original_content
        return refusal

    def _hang_up(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def max_lines(self) -> int:
        return max(MIN_LINES, (self.data_size_limit or 0) // 8)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parse, with a path the parser trips over a 553, not a traceback.

        The standard library's parser raises AttributeError on an unclosed domain
        literal (``MAIL FROM:<a@[>``) instead of HeaderParseError, which aiosmtpd
        would answer ``500 Error: (AttributeError)`` after logging a traceback.
        """
        try:
            return super()._getaddr(arg)
        except Exception:  # any parse failure is a malformed address: aiosmtpd's 553
            return None, None

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        # Only where aiosmtpd would go on to accept: after HELO/EHLO (else its 503).
        if self.session and self.session.host_name and unterminated_path(arg, "FROM:"):
            await self.push(BAD_SENDER)
            return
        await super().smtp_MAIL(arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        ready = (
            self.session and self.session.host_name and self.envelope and self.envelope.mail_from
        )
        if ready and unterminated_path(arg, "TO:"):
            await self.push(BAD_RECIPIENT)
            return
        await super().smtp_RCPT(arg)


FILES_KEPT = 100  # open files the rest of the daemon may need: database, IMAP, spool, pipes


def session_limit(wanted: int) -> int:
    """``[smtp] max_connections`` as the open-file limit allows: the soft limit is raised
    as far as the hard one lets it; beyond that, fewer sessions and a warning. A session
    is an open file, and the daemon out of them refuses everyone (and logs a traceback
    per attempt) instead of telling the surplus to come back later."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FILES_KEPT
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY or soft >= need:
        return wanted
    allowed = max(1, soft - FILES_KEPT)
    log.warning(
        "[smtp] max_connections = %s, but the open-file limit (%s) leaves room for %s"
        " sessions; using %s (raise LimitNOFILE= for more)",
        wanted,
        soft,
        allowed,
        allowed,
    )
    return allowed


class ReceiverController(Controller):
    def __init__(self, handler: IntakeHandler, max_connections: int, **kw: Any) -> None:
        super().__init__(handler, **kw)
        self.sessions = Sessions(session_limit(max_connections))

    def factory(self) -> SMTP:
        smtp = TolerantSMTP(self.handler, **self.SMTP_kwargs)
        smtp.sessions = self.sessions
        return smtp


def start_receiver(settings: Settings, handler: IntakeHandler) -> Controller:
    controller = ReceiverController(
        handler,
        settings.smtp.max_connections,
        hostname=settings.smtp.host,
        port=settings.smtp.port,
        data_size_limit=settings.smtp.max_message_bytes,
        decode_data=False,
        server_hostname=settings.desk_domain(),
        ready_timeout=10,
    )
    controller.start()
    log.info("SMTP receiver listening on %s:%s", settings.smtp.host, settings.smtp.port)
    return controller
