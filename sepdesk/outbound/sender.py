"""Delivering the outbox: to the ``[relay]`` over SMTP, or as .eml files in ``[outbox] dir``.

``run_once(desk, at)`` sends every queued mail that is due and returns how
many it handled. A temporary failure is retried with exponential backoff; a
permanent one (5xx) or the last attempt marks the mail failed with the
reason. The mails of a pass share one connection to the relay (a new one
after MAILS_PER_CONNECTION, or when the relay closed it between mails): a
TLS handshake and login per mail held a burst of acknowledgements after an
outage to some 30 mails/s. Right after the relay's 250 the mail is noted in
a journal beside the database (journal.py), which needs no database lock, and
each pass first folds that journal into the outbox: a crash or a locked
database between the 250 and our commit no longer sends the mail again. A
crash between the 250 arriving and the journal's fsync still can, with the
same Message-ID, so receivers can drop the copy; so can a connection lost (or
hung up on, RELAY_DEADLINE) after the mail's final dot and before the relay's
answer, which SMTP leaves for the sender to retry.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import selectors
import smtplib
import socket
import ssl
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, NoReturn, cast

from sepdesk.config import RELAY_SECRET, Settings, no_secret, read_secret, tls_context
from sepdesk.desk import Desk
from sepdesk.errors import ConfigError, DeliveryError
from sepdesk.instants import from_db, to_db
from sepdesk.mailbox import ascii_mailbox
from sepdesk.outbound import journal
from sepdesk.outbound.outbox import CUSTOMER_KINDS, backoff, raw_of
from sepdesk.store import insert_row, write_tx
from sepdesk.store.faults import PassFaults
from sepdesk.tickets import store as tickets
from sepdesk.tlsmode import plain_text_answer, speaks_tls

log = logging.getLogger("sepdesk.sender")
RELAY_TIMEOUT = 30  # seconds for each answer of the relay
RELAY_DEADLINE = 60.0  # seconds for one mail, connection included
# Once the whole mail is handed over, the relay's answer is awaited this long, past
# RELAY_DEADLINE: it may have taken the mail already, and hanging up sends it again on
# the retry (RFC 5321 4.5.3.2.6 asks for 10 minutes; the daemon's watchdog allows 300 s).
FINAL_REPLY_TIMEOUT = 240.0
# ...and this long still when the desk is stopping (within serve's STOP_TIMEOUT).
STOP_GRACE = 5.0
# After a relay took the connection and sent no greeting: how long a TLS handshake on
# the port may take to show it is one of implicit TLS (465).
TLS_PROBE_S = 5.0
PASS_BUDGET = 60.0  # seconds of a pass before the rest of its mails wait for the next
# Mails handed over one connection before it is closed and another opened, as Postfix
# bounds its connection reuse: a relay's per-session limits and state stay small.
MAILS_PER_CONNECTION = 100
# Seconds between looks, while connecting, whether the mail's deadline expired or the
# desk is stopping: a socket still connecting has nothing for the deadline to shut down.
CONNECT_SLICE = 0.1
# Between tries while a fault that is no mail's lasts (see _defer).
DEFER_RETRY = timedelta(minutes=1)
# A full or read-only outbox folder fails every mail of every pass: one line for it.
_FOLDER = PassFaults(
    "sender: outbox folder",
    ("write", "writes"),
    "the mails stay queued, tried again every minute",
    log,
)
# A relay down or refusing us fails every mail of every pass: one line for it.
_RELAY = PassFaults(
    "sender: relay",
    ("connection", "connections"),
    "the mails stay queued, tried again every minute",
    log,
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _write_files(settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Write a batch of .eml files (same name on a resend), then make them durable together.

    The fsyncs come after all writes: the first journal commit carries every file's
    data, so a batch costs about one disk flush instead of one per mail.
    """
    folder = Path(settings.outbox.dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for row in rows:
            name = f"{row['id']:08d}-{_UNSAFE.sub('_', row['message_id'])[:80]}.eml"
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(row["raw"])  # filled by run_once
            written.append((tmp, folder / name))
        for tmp, final in written:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            tmp.replace(final)
        journal.sync_folder(folder)
    except OSError as exc:
        raise DeliveryError(f"{folder}: cannot write outgoing mail: {exc.strerror}") from None


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _refusal(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{addr} {code} {_text(msg)}" for addr, (code, msg) in refused.items())


def _temporary(refused: dict[str, tuple[int, bytes]]) -> dict[str, tuple[int, bytes]]:
    """The recipients refused for now (4xx, e.g. greylisting): worth another attempt."""
    return {a: r for a, r in refused.items() if 400 <= r[0] < 500}


class RelayDown(DeliveryError):
    """The relay could not be reached, refused us before any mail (greeting, EHLO,
    STARTTLS, AUTH) or stopped answering. ``in_mail``: it stopped during this mail's
    own transaction (which may be the mail's doing: a huge one on a slow link)."""

    def __init__(self, message: str, in_mail: bool = False) -> None:
        super().__init__(message)
        self.in_mail = in_mail


class _Client(smtplib.SMTP):
    """smtplib.SMTP whose connecting its deadline can end. smtplib's create_connection
    gave the client no socket until connected: a relay dropping SYNs (a firewall) kept a
    stopping sender for RELAY_TIMEOUT, past the daemon's stop deadline, which closed the
    database under it; RELAY_DEADLINE passed unnoticed as well."""

    def __init__(self, deadline: _Deadline, **kw: Any) -> None:
        self.deadline = deadline
        self._in_data = False
        super().__init__(**kw)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _dial(self, host, port, timeout)

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False
            if self.sock is not None:  # the next mail's answers: RELAY_TIMEOUT again
                with contextlib.suppress(OSError):
                    self.sock.settimeout(self.timeout)

    def send(self, s: Any) -> None:
        super().send(s)
        # smtplib sends the mail and its ending "." line in one piece: it is handed over.
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.deadline.handed_over(self)


class _TLSClient(_Client, smtplib.SMTP_SSL):
    """The same for implicit TLS: the handshake runs on ``sock`` already, which the
    deadline can shut down (a relay that accepts and never answers the handshake)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        plain = super()._get_socket(host, port, timeout)
        return _handshake(self, plain, self.context, self._host)  # type: ignore[attr-defined]


def _handshake(
    client: _Client, plain: socket.socket, context: ssl.SSLContext, server_hostname: str
) -> ssl.SSLSocket:
    """TLS over ``plain``, the TLS socket ``client.sock`` before its handshake begins."""
    try:
        # The plain socket is detached: from here the deadline shuts the TLS one.
        client.sock = tls = context.wrap_socket(
            plain, server_hostname=server_hostname, do_handshake_on_connect=False
        )
        _check(client.deadline)
        tls.do_handshake()
    except BaseException:
        client.close()
        raise
    return tls


class _Handshaking:
    """The context given to smtplib's starttls, whose wrap_socket it calls: the handshake
    as for implicit TLS. smtplib's own wrap_socket detached the plain socket, the one
    ``client.sock`` still named, before the handshake: the deadline's shutdown missed
    it, and a relay answering 220 to STARTTLS and then nothing kept a stopping sender
    for RELAY_TIMEOUT (30 s), past the daemon's stop deadline."""

    def __init__(self, client: _Client, context: ssl.SSLContext) -> None:
        self.client, self.context = client, context

    def wrap_socket(self, sock: socket.socket, server_hostname: str) -> ssl.SSLSocket:
        return _handshake(self.client, sock, self.context, server_hostname)


class _HungUp(OSError):
    """The deadline expired, or the desk is stopping, while connecting to the relay."""


def _check(deadline: _Deadline) -> None:
    """Raise _HungUp when the deadline expired or the desk is stopping. Called after
    the socket is the client's: either the deadline's hang-up sees the socket, or this
    sees the deadline (_expire sets ``expired`` before it looks at the socket)."""
    if deadline.expired or deadline.stopped:
        raise _HungUp("hung up while connecting")


def _dial(client: _Client, host: str, port: int, timeout: float) -> socket.socket:
    """socket.create_connection, but each socket is ``client.sock`` before it connects,
    for the deadline to shut down, and the wait ends within CONNECT_SLICE of the
    deadline expiring (or the desk stopping) instead of after ``timeout``."""
    error = OSError("getaddrinfo returns an empty list")
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        client.sock = sock = socket.socket(family, kind, proto)
        try:
            _check(client.deadline)
            _connect_in_slices(sock, address, timeout, client.deadline)
        except OSError as exc:
            client.close()
            if isinstance(exc, _HungUp):
                raise
            error = exc  # try the next address, as create_connection; it raises the last error
            continue
        except BaseException:
            client.close()
            raise
        sock.settimeout(timeout)
        return sock
    raise error


def _connect_in_slices(
    sock: socket.socket, address: Any, timeout: float, deadline: _Deadline
) -> None:
    sock.setblocking(False)
    code = sock.connect_ex(address)
    end = time.monotonic() + timeout
    with selectors.DefaultSelector() as waiting:
        waiting.register(sock, selectors.EVENT_WRITE)
        while code in (errno.EINPROGRESS, errno.EWOULDBLOCK):
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            if waiting.select(min(left, CONNECT_SLICE)):
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            _check(deadline)
    if code:
        raise OSError(code, os.strerror(code))


def _connect(settings: Settings, context: ssl.SSLContext, deadline: _Deadline) -> smtplib.SMTP:
    """A session with the relay, logged in; RelayDown when there is none."""
    r = settings.relay
    if r.tls == "tls":
        client: _Client = _TLSClient(deadline, timeout=RELAY_TIMEOUT, context=context)
    else:
        client = _Client(deadline, timeout=RELAY_TIMEOUT)
    # Connected here, not by the constructor, so that the deadline covers the greeting
    # too; the constructor would have kept the name, which TLS checks the certificate for.
    client._host = r.host  # type: ignore[attr-defined]
    deadline.watch(client)
    if deadline.stopped:  # set before the watch: interrupt found no mail of ours to hang up on
        raise RelayStopped("not begun: the desk is stopping")
    greeted = False
    try:
        code, message = client.connect(r.host, r.port)
        greeted = True
        if deadline.stopped:  # the stop came just as the relay greeted us: no session begun
            _hang_up(client)
            raise RelayStopped("hung up: the desk is stopping")
        if code != 220:
            raise smtplib.SMTPConnectError(code, message)
        if r.tls == "starttls":
            # No plaintext fallback: a relay that does not offer STARTTLS is an error.
            client.starttls(context=cast(ssl.SSLContext, _Handshaking(client, context)))
        if r.user:
            try:
                password = read_secret(r.password_file, *RELAY_SECRET)
            except ConfigError as exc:  # named by its key, as a bad value at load is
                raise ConfigError(f"[relay] password_file: {exc}") from None
            if password is None:  # an empty one drew "535 credentials invalid" instead
                raise ConfigError(no_secret("relay", r.user, RELAY_SECRET))
            client.login(r.user, password)
        # Here, not in the mail's transaction: a relay refusing EHLO (and HELO) refuses
        # the desk, not the mail; it charged the mail an attempt, a 5xx failed it for good.
        client.ehlo_or_helo_if_needed()
    # ssl.SSLError is an OSError; ConfigError: the password file cannot be read, which is
    # the desk's fault as a wrong password is (it charged every mail, with a traceback).
    except (smtplib.SMTPException, OSError, ConfigError) as exc:
        _hang_up(client)
        if deadline.stopped:
            raise RelayStopped("hung up: the desk is stopping") from None
        hint = "" if greeted else _tls_mode_hint(settings, exc)
        raise RelayDown(_relay_fault(settings, exc, deadline) + hint) from None
    return client


def _tls_mode_hint(settings: Settings, exc: BaseException) -> str:
    """What to set when ``[relay] tls`` does not fit the port, as the IMAP poller says it:
    the raw "WRONG_VERSION_NUMBER" or "Connection unexpectedly closed: timed out" named no
    setting (review finding). Asked only of a relay that never greeted us."""
    r = settings.relay
    if r.tls == "tls" and plain_text_answer(exc):
        return (
            ': the relay answers in plain text on this port: use tls = "starttls"'
            " (or the relay's port of implicit TLS, 465)"
        )
    # A relay that took the connection and sent no greeting: smtplib reports the timeout
    # as a disconnect. The probe runs only then, not while a relay is down (refused).
    silent = r.tls != "tls" and isinstance(exc, smtplib.SMTPServerDisconnected)
    if silent and speaks_tls(r.host, r.port, TLS_PROBE_S):
        return ': the relay speaks TLS at once on this port: use tls = "tls"'
    return ""


class RelayStopped(DeliveryError):
    """The daemon is stopping and hung up on the relay: the mail stays queued as it was."""


class _Deadline:
    """Hangs up on a relay still busy with one mail after RELAY_DEADLINE seconds, or at
    once when ``stop`` is set and :func:`interrupt` is called (the daemon stopping).

    The socket's timeout bounds each wait, not the mail: a relay answering a byte at a
    time kept the sender (and its heartbeat, which the watchdog checks) for minutes
    per mail, for every mail of the pass.
    """

    active: ClassVar[set[_Deadline]] = set()
    guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.expired = False
        self.stop = stop
        self._client: smtplib.SMTP | None = None
        self._timer = threading.Timer(RELAY_DEADLINE, self._expire)
        self._timer.daemon = True
        self._over = False  # cancelled: the mail is done, its connection may serve the next
        self._lock = threading.Lock()  # cancel and _expire: one wins, whole
        self.final = False  # the whole mail is the relay's: only its answer is awaited

    @property
    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def watch(self, client: smtplib.SMTP) -> None:
        """Hang up on ``client`` at the deadline; again for a new client of the same mail
        (its connection closed between mails), whose deadline keeps running."""
        self._client = client
        if isinstance(client, _Client):  # a reused connection tells this mail's hand-over
            client.deadline = self
        with _Deadline.guard:  # interrupt sets stop before it looks: one of us sees the other
            _Deadline.active.add(self)
            if self.stopped:
                self._expire()
                return
        if self._timer.ident is None:
            self._timer.start()

    def cancel(self) -> None:
        """The mail is done: no hang-up from here on. A timer already firing (a mail that
        took almost RELAY_DEADLINE), or an interrupt that listed this deadline, had shut
        the connection the next mail of the pass was already using."""
        with self._lock:
            self._over = True
        self._timer.cancel()
        with _Deadline.guard:
            _Deadline.active.discard(self)

    def handed_over(self, client: smtplib.SMTP) -> None:
        """The whole mail is sent; its answer may take long (a relay scanning it): no
        hang-up at RELAY_DEADLINE, and FINAL_REPLY_TIMEOUT for the answer. Hanging up
        now had the retry deliver the mail again (review finding: 8 copies)."""
        with self._lock:
            if self._over or self.expired:
                return
            self.final = True
            self._timer.cancel()
            if client.sock is not None:
                with contextlib.suppress(OSError):
                    client.sock.settimeout(FINAL_REPLY_TIMEOUT)

    def stopping(self) -> None:
        """The desk is stopping: hang up now, or after STOP_GRACE when only the relay's
        answer to a whole mail is awaited (it may be on its way: review finding)."""
        with self._lock:
            waiting = self.final and not self._over
        if not waiting:
            self._expire()
            return
        grace = threading.Timer(STOP_GRACE, self._expire)
        grace.daemon = True
        grace.start()

    def _expire(self) -> None:
        with self._lock:
            if self._over:
                return
            self.expired = True
            sock = self._client.sock if self._client is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    # The plain socket's shutdown, for a TLS one too: the sending thread's
                    # read returns at once; SSLSocket.shutdown would drop the TLS state.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


def interrupt(stop: threading.Event) -> None:
    """The daemon is stopping (``stop`` is set): hang up on the relay now instead of
    after RELAY_DEADLINE, so the sender ends within the stop timeout; the mail in hand
    stays queued as it was. A stuck sender had its database closed under it."""
    with _Deadline.guard:
        hung = [d for d in _Deadline.active if d.stop is stop]
    for d in hung:
        d.stopping()


def _timed_out(exc: BaseException, deadline: _Deadline) -> bool:
    """Whether the relay stopped answering (smtplib reports a timeout as a disconnect)."""
    return (
        deadline.expired
        or isinstance(exc, TimeoutError)
        or isinstance(exc.__context__, TimeoutError)
    )


def _relay_fault(settings: Settings, exc: Exception, deadline: _Deadline) -> str:
    where = f"relay {settings.relay.host}:{settings.relay.port}"
    if deadline.final:
        return (
            f"{where}: no answer to the whole mail ({type(exc).__name__}: {exc});"
            " it may have taken it, and the retry may deliver it twice"
        )
    if deadline.expired:
        return f"{where}: too slow, hung up after {RELAY_DEADLINE:g} s on one mail"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{where} said {exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{where}: {type(exc).__name__}: {exc}"


class _Stale(Exception):
    """The relay closed a connection that served earlier mails before this mail's
    transaction began (a drop between mails, or 421 to MAIL FROM), or will take no more
    mails on it (4xx to MAIL FROM): no fault of the mail."""


def _closing(exc: BaseException) -> bool:
    """Whether the relay closed the session (a drop, or 421: "closing the channel")."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return any(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError))


def _too_big(exc: BaseException) -> bool:
    """A refusal of MAIL FROM for the mail's SIZE (RFC 1870: 552): the one thing about the
    mail itself a relay can refuse before the mail has begun."""
    return isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code == 552


def _refusal_of_mail(exc: BaseException) -> bool:
    """A 4xx/5xx for this mail's transaction that leaves the session open (RSET and go on)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return not _closing(exc)
    return (
        isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError))
        and 400 <= exc.smtp_code < 600
        and not _closing(exc)
    )


def _relay_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context for the relay. Its ca_file was loaded with the configuration; one
    removed or broken since is the desk's fault, as a wrong password is: RelayDown (it
    was a temporary fault of each mail, charged an attempt)."""
    try:
        return tls_context(settings.relay.ca_file)
    except OSError as exc:  # ssl.SSLError is one
        reason = exc.strerror or str(exc)
        raise RelayDown(f"[relay] ca_file: {settings.relay.ca_file}: {reason}") from None


class _Session:
    """The pass's connection to the relay, reused for its mails: a new MAIL FROM after
    each transaction, RSET after a refused one, a new connection after
    MAILS_PER_CONNECTION mails or when the relay closed it between mails."""

    def __init__(self, settings: Settings, stop: threading.Event | None = None) -> None:
        self.settings, self.stop = settings, stop
        self.client: smtplib.SMTP | None = None
        self.mails = 0  # transactions begun on client
        self._context: ssl.SSLContext | None = None

    def send(self, deadline: _Deadline, to: list[str], raw: bytes) -> dict[str, tuple[int, bytes]]:
        """One mail under ``deadline``: the recipients refused while others took it."""
        if self.client is not None and self.mails >= MAILS_PER_CONNECTION:
            self.close()
        if self.client is None:
            return self._transaction(self._connect(deadline), deadline, to, raw, reused=False)
        deadline.watch(self.client)
        if deadline.stopped:  # set before the watch: interrupt found no mail of ours
            raise RelayStopped("not begun: the desk is stopping")
        try:
            return self._transaction(self.client, deadline, to, raw, reused=True)
        except _Stale:
            # As if the mail came first on a connection of its own: its attempt counts
            # only from there, and a relay refusing a new session is no mail's fault.
            return self._transaction(self._connect(deadline), deadline, to, raw, reused=False)

    def _connect(self, deadline: _Deadline) -> smtplib.SMTP:
        if self._context is None:
            self._context = _relay_context(self.settings)
        self.client, self.mails = _connect(self.settings, self._context, deadline), 0
        return self.client

    def _transaction(
        self, client: smtplib.SMTP, deadline: _Deadline, to: list[str], raw: bytes, reused: bool
    ) -> dict[str, tuple[int, bytes]]:
        self.mails += 1
        begun = False  # MAIL FROM taken: from then on, whatever happens is this mail's
        try:
            sender = self.settings.desk.support_address
            options = [f"SIZE={len(raw)}"] if client.does_esmtp and client.has_extn("size") else []
            code, reply = client.mail(sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            begun = True
            refused: dict[str, tuple[int, bytes]] = {}
            for address in to:
                code, reply = client.rcpt(address)
                if code not in (250, 251):
                    refused[address] = (code, reply)
                if code == 421:  # the relay is closing: no DATA for the others either
                    raise smtplib.SMTPRecipientsRefused(refused)
            if len(refused) == len(to):
                raise smtplib.SMTPRecipientsRefused(refused)
            code, reply = client.data(raw)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
            return refused
        except (smtplib.SMTPException, OSError) as exc:
            if not begun and not _too_big(exc) and not deadline.stopped:
                self._not_begun(exc, deadline, reused)
            if _refusal_of_mail(exc) and self._reset():
                raise
            self._drop()
            raise
        except BaseException:  # in an unknown state: the next mail begins on a new connection
            self._drop()
            raise

    def _not_begun(self, exc: Exception, deadline: _Deadline, reused: bool) -> NoReturn:
        """Refused or lost before the mail's MAIL FROM was taken, for a reason that is not
        the mail's (MAIL FROM is the desk's own address): the relay's or the desk's doing.

        On a connection that served others, the mail tries a new one (_Stale): a relay
        bounding its mails per connection answers "452 too many messages". Else the relay
        refuses the desk (RelayDown: the mails stay queued, no attempt used): "553 sender
        not owned" or "550 daily quota exceeded" had failed every mail of the pass for
        good, and a 451 there cost each an attempt.
        """
        self._drop()
        if reused and not _timed_out(exc, deadline):
            r = self.settings.relay
            log.debug("relay %s:%s ended the session between mails: %s", r.host, r.port, exc)
            raise _Stale from None
        raise RelayDown(_relay_fault(self.settings, exc, deadline)) from None

    def _reset(self) -> bool:
        """RSET after a refused transaction, so the next mail starts clean; whether the
        session can go on."""
        assert self.client is not None
        with contextlib.suppress(smtplib.SMTPException, OSError):
            code, _ = self.client.rset()
            if code == 250:
                return True
        return False

    def _drop(self) -> None:
        """Hang up on the relay (under whatever deadline watches the client)."""
        if self.client is not None:
            _hang_up(self.client)
        self.client, self.mails = None, 0

    def close(self) -> None:
        """QUIT at the end of the pass, under a deadline of its own: a relay may hang at QUIT."""
        if self.client is None:
            return
        deadline = _Deadline(self.stop)
        deadline.watch(self.client)
        try:
            self._drop()
        finally:
            deadline.cancel()


def _relay(session: _Session, row: dict[str, Any]) -> dict[str, tuple[int, bytes]]:
    """Hand the mail to the relay over ``session``; the recipients it refused while
    taking it for the others (empty: all accepted). Raises DeliveryError when it took
    it for nobody, RelayDown when it could not be asked."""
    r = session.settings.relay
    to = json.loads(row["to_addrs"])
    # A domain that is not ASCII goes in its IDNA form, as the To header has it. A local
    # part that is not ASCII needs SMTPUTF8 (smtplib could not even write it in RCPT TO:
    # UnicodeEncodeError, the pass failed at this mail each time, and no mail after it
    # went out). Those are refused for good, as a relay would refuse them; the others
    # get the mail.
    rcpt = {a: ascii_mailbox(a) for a in to}
    wide = {a: _NOT_ASCII for a, ascii in rcpt.items() if ascii is None}
    if len(wide) == len(to):
        raise DeliveryError(f"recipients refused: {_refusal(wide)}", permanent=True)
    given = {ascii: a for a, ascii in rcpt.items() if ascii is not None}
    deadline = _Deadline(session.stop)
    try:
        try:
            refused = session.send(deadline, list(given), row["raw"])
        except (smtplib.SMTPException, OSError) as exc:
            if deadline.stopped:
                if deadline.final:
                    log.warning(
                        "outbox #%s: stopping before the relay answered to the whole mail;"
                        " it stays queued, and may be delivered twice",
                        row["id"],
                    )
                raise RelayStopped("hung up: the desk is stopping") from None
            # A refusal the relay did answer stands, though what followed (RSET) then hung.
            if _timed_out(exc, deadline) and not _refusal_of_mail(exc):
                raise RelayDown(
                    _relay_fault(session.settings, exc, deadline), in_mail=True
                ) from None
            raise
    except smtplib.SMTPRecipientsRefused as exc:
        # Every recipient refused: retried unless every refusal was permanent (5xx).
        permanent = not _temporary(exc.recipients)
        raise DeliveryError(
            f"recipients refused: {_refusal(exc.recipients)}", permanent=permanent
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"relay said {exc.smtp_code} {_text(exc.smtp_error)}",
            permanent=500 <= exc.smtp_code < 600,
        ) from None
    except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise DeliveryError(f"relay {r.host}:{r.port}: {type(exc).__name__}: {exc}") from None
    finally:
        deadline.cancel()  # also when connecting failed: no timer left waiting
    # Refusals by the address the outbox row names (its copies are made for those).
    return {**{given.get(a, a): why for a, why in refused.items()}, **wide}


# How a recipient whose local part is not ASCII is refused: sepdesk does not use SMTPUTF8.
_NOT_ASCII = (
    553,
    b"5.6.7 an address whose local part is not ASCII needs SMTPUTF8, which sepdesk does not use",
)


def _hang_up(client: smtplib.SMTP) -> None:
    """QUIT, whatever it answers: once the relay took the mail, a fault at QUIT must not
    turn it into a failure (and a resend to everyone)."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.quit()
    client.close()


def _record(desk: Desk, row: dict[str, Any], at: datetime, error: DeliveryError | None) -> None:
    """The result of one attempt; inside a batch transaction or its own."""
    attempts = row["attempts"] + 1
    final = False
    with write_tx(desk.db):
        if error is None:
            desk.db.execute(
                "UPDATE outbox SET state = 'sent', attempts = ?, sent_at = ?, last_error = NULL,"
                " raw = ? WHERE id = ? AND state = 'queued'",
                [attempts, to_db(at), row["raw"], row["id"]],
            )
            if row.get("last_error"):  # failed before (a retry keeps the error it failed with)
                _delivered_after_all(desk, row, at)
        else:
            final = _record_failure(desk, row, at, error, attempts)
    if error is None:
        log.info("outbox #%s %s sent to %s", row["id"], row["kind"], row["to_addrs"])
    else:
        log.warning(
            "outbox #%s attempt %s: %s%s", row["id"], attempts, error, " (failed)" if final else ""
        )


def _record_partial(
    desk: Desk, row: dict[str, Any], at: datetime, refused: dict[str, tuple[int, bytes]]
) -> None:
    """The relay took the mail for some recipients and refused others.

    The mail went out: its row is sent, as it was sent (To, raw), and names every
    refused recipient in last_error. Those refused for now (4xx) get a copy of their
    own, a new outbox row queued with backoff (its own Message-ID: the row's is
    unique), so nobody who has the mail gets it twice.
    """
    attempts = row["attempts"] + 1
    delivered = [a for a in json.loads(row["to_addrs"]) if a not in refused]
    again = sorted(_temporary(refused))
    note = f"delivered to {', '.join(delivered)}; refused: {_refusal(refused)}"
    with write_tx(desk.db):
        copy = _copy_for(desk, row, at, again, attempts) if again else None
        if copy is not None:
            note += f"; outbox #{copy} retries those refused for now"
        desk.db.execute(
            "UPDATE outbox SET state = 'sent', attempts = ?, sent_at = ?, last_error = ?,"
            " raw = ? WHERE id = ? AND state = 'queued'",
            [attempts, to_db(at), note, row["raw"], row["id"]],
        )
    log.warning("outbox #%s attempt %s: %s", row["id"], attempts, note)


def _copy_for(
    desk: Desk, row: dict[str, Any], at: datetime, to: list[str], attempts: int
) -> int | None:
    """A queued copy of ``row`` for ``to``; None when the attempts have run out."""
    if attempts >= desk.settings.outbox.max_attempts:
        return None
    local, _, domain = row["message_id"].partition("@")
    columns = desk.db["outbox"].columns_dict
    values = {k: v for k, v in row.items() if k in columns and k != "id"}
    values.update(
        to_addrs=json.dumps(to),
        message_id=f"{local}.r{row['id']}x{attempts}@{domain}",
        raw=b"",  # composed for these recipients when it is sent
        state="queued",
        attempts=attempts,
        next_attempt_at=to_db(at + backoff(attempts)),
        last_error=f"refused for now as recipients of outbox #{row['id']}",
        sent_at=None,
    )
    return insert_row(desk.db, "outbox", values)


def _delivered_after_all(desk: Desk, row: dict[str, Any], at: datetime) -> None:
    """A customer's mail that failed and went out on ``outbox retry``: its ticket is no
    longer flagged (review finding: it stayed 'mail bounced', listed first, for ever),
    unless another mail of the ticket still failed or bounced."""
    if row["ticket_id"] is None or row["kind"] not in CUSTOMER_KINDS:
        return
    kinds = ",".join("?" for _ in CUSTOMER_KINDS)
    still = desk.db.execute(
        f"SELECT 1 FROM outbox WHERE ticket_id = ? AND kind IN ({kinds})"
        " AND state IN ('failed', 'bounced') LIMIT 1",
        [row["ticket_id"], *CUSTOMER_KINDS],
    ).fetchone()
    flagged = desk.db.execute(
        "SELECT delivery_failed FROM tickets WHERE id = ?", [row["ticket_id"]]
    ).fetchone()
    if flagged and flagged[0] and not still:
        tickets.update(desk.db, row["ticket_id"], at, delivery_failed=0)
        tickets.add_event(
            desk.db, row["ticket_id"], at, "desk", "delivered", {"outbox_id": row["id"]}
        )


def _record_failure(
    desk: Desk, row: dict[str, Any], at: datetime, error: DeliveryError, attempts: int
) -> bool:
    """A failed attempt: queued again with backoff, or failed; whether it is final."""
    final = error.permanent or attempts >= desk.settings.outbox.max_attempts
    desk.db.execute(
        "UPDATE outbox SET state = ?, attempts = ?, last_error = ?, next_attempt_at = ?"
        " WHERE id = ? AND state = 'queued'",
        [
            "failed" if final else "queued",
            attempts,
            str(error),
            to_db(at + backoff(attempts)),
            row["id"],
        ],
    )
    if final and row["ticket_id"] is not None and row["kind"] in CUSTOMER_KINDS:
        # As a bounce does: the customer never got it, and the ticket says so (listed
        # first by tickets list) instead of a row only the outbox shows.
        tickets.update(desk.db, row["ticket_id"], at, delivery_failed=1)
        detail = {"outbox_id": row["id"], "error": str(error)}
        tickets.add_event(desk.db, row["ticket_id"], at, "desk", "delivery_failed", detail)
    return final


def _defer(desk: Desk, rows: list[dict[str, Any]], at: datetime, error: DeliveryError) -> None:
    """A fault that is no mail's (the relay down or refusing the desk, the outbox folder
    full or read-only): every mail stays queued, its attempts untouched and its
    ``last_error`` saying why, tried again in DEFER_RETRY, however long the fault lasts.
    Counted as attempts, a fault of two hours failed every mail queued meanwhile, each
    to be retried by hand; the fault is logged once by the caller (_RELAY, _FOLDER)."""
    with write_tx(desk.db):
        desk.db.conn.executemany(
            "UPDATE outbox SET last_error = ?, next_attempt_at = ? WHERE id = ? AND state = 'queued'",
            [[str(error), to_db(at + DEFER_RETRY), row["id"]] for row in rows],
        )


# Mails the relay took whose record failed (the database full, say): outbox id -> the
# recipients refused. The failed record ends the pass, and the mail is still queued:
# without this the next pass, five seconds later, would hand it over again, and again.
# Per process, like the daemon's one sender; the journal (folded before each pass) keeps
# them across a crash, this only when the journal could not be written (a full disk).
_DELIVERED: dict[tuple[str, int], dict[str, tuple[int, bytes]]] = {}


def _relay_each(
    desk: Desk, rows: list[dict[str, Any]], at: datetime, stop: threading.Event | None = None
) -> None:
    # One commit per mail: after a crash at most one mail is handed to the relay twice.
    # A slow relay ends the pass at PASS_BUDGET: the rest wait for the next pass, which
    # begins at once, so the sender's heartbeat stays fresh.
    end = time.monotonic() + PASS_BUDGET
    session = _Session(desk.settings, stop)
    try:
        _relay_rows(desk, rows, at, session, end)
    finally:
        session.close()


def _relay_rows(
    desk: Desk, rows: list[dict[str, Any]], at: datetime, session: _Session, end: float
) -> None:
    stop = session.stop
    for i, row in enumerate(rows):
        if (i and time.monotonic() > end) or (stop is not None and stop.is_set()):
            return
        key = (desk.settings.database.path, row["id"])
        refused = _DELIVERED.get(key)
        if refused is None:
            try:
                refused = _relay(session, row)
            except RelayStopped:
                return  # tried again at the next start, as if the pass had ended before it
            except RelayDown as exc:
                if exc.in_mail:  # this mail's attempt; the rest are not tried behind it
                    _record(desk, row, at, exc)
                else:  # no session at all: one connection and one log line for the pass
                    _RELAY.failed(exc, known=True, same="relay down")  # its reason: each mail's
                    _defer(desk, rows[i:], at, exc)
                return
            except DeliveryError as exc:
                _RELAY.worked()
                _record(desk, row, at, exc)
                continue
            except Exception as exc:  # the fence: one mail must not stop the ones after it
                log.exception("outbox #%s: sending failed", row["id"])
                _record(desk, row, at, DeliveryError(f"{type(exc).__name__}: {exc}"))
                continue
            _RELAY.worked()
            _note_taken(desk, row, at, refused)
            _DELIVERED[key] = refused
        if refused:
            _record_partial(desk, row, at, refused)
        else:
            _record(desk, row, at, None)
        del _DELIVERED[key]


def _note_taken(
    desk: Desk, row: dict[str, Any], at: datetime, refused: dict[str, tuple[int, bytes]]
) -> None:
    """The relay took the mail: in the journal before anything else can happen to us."""
    refusals = {a: (code, _text(msg)) for a, (code, msg) in refused.items()}
    taken = journal.Taken(row["id"], to_db(at), refusals, row["message_id"])
    journal.note(desk.settings, taken)


def fold_journal(desk: Desk) -> int:
    """Record as sent what the journal says the relay took, then empty it; how many it
    recorded. Before each pass, so nothing it names is handed over again; raises (and
    the pass sends nothing) while the database cannot take them."""
    taken = journal.entries(desk.settings)
    if not taken:
        return 0
    recorded = 0
    with write_tx(desk.db):
        for entry in taken:
            _DELIVERED.pop((desk.settings.database.path, entry.outbox_id), None)
            sql = "SELECT * FROM outbox WHERE id = ? AND state = 'queued'"
            rows = list(desk.db.query(sql, [entry.outbox_id]))
            if not rows:
                continue  # recorded before: the journal is emptied after the commit
            if entry.message_id and rows[0]["message_id"] != entry.message_id:
                # Another mail under the same id: the database was restored from a
                # backup; the journalled mail is not in it, this one was never sent.
                log.warning(
                    "outbox #%s: the journal's entry is another mail (%s); left queued",
                    entry.outbox_id,
                    entry.message_id,
                )
                continue
            row = {**rows[0], "raw": raw_of(desk.settings, rows[0])}
            refused = {a: (code, msg.encode()) for a, (code, msg) in entry.refused.items()}
            if refused:
                _record_partial(desk, row, from_db(entry.at), refused)
            else:
                _record(desk, row, from_db(entry.at), None)
            recorded += 1
    journal.empty(desk.settings)
    if recorded:
        log.info("outbox: %s mail(s) the relay had taken recorded from the journal", recorded)
    return recorded


def _write_batch(desk: Desk, rows: list[dict[str, Any]], at: datetime) -> None:
    # A crash before the commit rewrites the same files: nothing is lost or doubled.
    try:
        _write_files(desk.settings, rows)
    except DeliveryError as exc:
        _FOLDER.failed(exc, known=True)
        _defer(desk, rows, at, exc)
        return
    _FOLDER.worked()
    with write_tx(desk.db):
        for row in rows:
            _record(desk, row, at, None)


def run_once(
    desk: Desk, at: datetime, limit: int = 200, stop: threading.Event | None = None
) -> int:
    """Send every queued mail that is due; returns how many were tried. ``stop``: the
    daemon's; once set, no further mail is begun (see :func:`interrupt`)."""
    fold_journal(desk)
    rows = list(
        desk.db.query(
            "SELECT * FROM outbox WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY id LIMIT ?",
            [to_db(at), limit],
        )
    )
    # Composed here, in the sender, so the pipeline's transactions stay short.
    ready = [r for r in (_composed(desk, row, at) for row in rows) if r is not None]
    if ready and desk.settings.relay_enabled:
        _relay_each(desk, ready, at, stop)
    elif ready:
        _write_batch(desk, ready, at)
    return len(rows)


def _composed(desk: Desk, row: dict[str, Any], at: datetime) -> dict[str, Any] | None:
    """The row with its bytes; None when it cannot be composed, then recorded as failed
    (composing again gives the same error): it must not hold up the mails after it."""
    try:
        return {**row, "raw": raw_of(desk.settings, row)}
    except Exception as exc:
        log.exception("outbox #%s: cannot compose the mail", row["id"])
        error = DeliveryError(f"cannot compose: {type(exc).__name__}: {exc}", permanent=True)
        _record(desk, row, at, error)
        return None


def next_attempt(desk: Desk) -> datetime | None:
    row = desk.db.execute(
        "SELECT min(next_attempt_at) FROM outbox WHERE state = 'queued'"
    ).fetchone()
    return datetime.fromisoformat(row[0]) if row and row[0] else None
