"""A real SMTP sink on loopback (aiosmtpd): keeps every message, fails on request.

Used as the desk's ``[relay]``: tests read what was "sent" from
``sink.messages`` and make the relay misbehave with ``fail_next(n, code)``,
which answers the next ``n`` DATA commands with a 4xx (temporary) or 5xx
(permanent) reply instead of accepting them, and ``refuse_rcpt(address, code)``,
which refuses one recipient at RCPT TO, and ``close_after(k, how)``, which ends
every connection after ``k`` messages (a drop after the k-th 250, or a 421 to
the next MAIL FROM; or ``452``: it stays open, every further MAIL FROM refused). ``connections`` counts the connections it was given.
Thread-safe: aiosmtpd runs the handler in its own event-loop thread while the
test reads from the main one.

Put the fixture into conftest with ``from tests.servers.smtp_sink import smtp_sink``.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

HOST = "127.0.0.1"
START_ATTEMPTS = 5
FAIL_TEXT = {4: "4.3.0 sink told to fail temporarily", 5: "5.7.1 sink told to refuse"}
CLOSING = "421 4.3.2 sink closes the connection: enough messages on it"
SPENT = "452 4.5.3 sink takes no more messages on this connection"


@dataclass(frozen=True)
class Received:
    """One message as the sink got it: envelope and raw bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def bare_lf(self) -> bool:
        """True when a line ends in LF alone: strict receivers refuse that (SMTP smuggling)."""
        return b"\n" in self.raw.replace(b"\r\n", b"")

    def message(self) -> EmailMessage:
        msg = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        return msg


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if self.sink._closing == "421" and _kept(session) >= self.sink._close_after:
            assert server.transport is not None
            asyncio.get_running_loop().call_soon(server.transport.close)  # after the reply
            return CLOSING
        if self.sink._closing == "452" and _kept(session) >= self.sink._close_after:
            return SPENT
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        refusal = self.sink._take_refusal(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        failure = self.sink._take_failure()
        if failure:
            return failure
        raw = envelope.original_content or b""
        self.sink._store(Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), raw))
        kept = _kept(session) + 1
        session.sink_kept = kept  # type: ignore[attr-defined]
        if self.sink._closing == "drop" and kept >= self.sink._close_after:
            # The 250 is written before this runs, and close() sends it before closing.
            assert server.transport is not None
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 2.0.0 OK: kept by the sink"


def _kept(session: Session) -> int:
    """How many messages the sink kept on this connection."""
    return int(getattr(session, "sink_kept", 0))


class _SinkSMTP(SMTP):
    # aiosmtpd refuses lines over 1000 octets with "500 Line too long", and a message
    # sent with bare LF endings is one long line to it; keep such mail (Received.bare_lf
    # tells) so a test sees what was sent rather than a transport error.
    line_length_limit = 1 << 20

    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.sink = handler.sink

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:  # not the same connection again after STARTTLS
            self.sink._connected()
        super().connection_made(transport)


class _SinkController(Controller):
    def factory(self) -> SMTP:
        return _SinkSMTP(self.handler, **self.SMTP_kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 and a free port; ``start()`` / ``stop()``."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, starttls: bool = False) -> None:
        """``ssl_context``: speak TLS with it, from the start or (``starttls``) after
        STARTTLS, which is then required; plain SMTP without it."""
        self.tls: dict[str, Any] = {}
        if ssl_context is not None:
            self.tls = (
                {"tls_context": ssl_context, "require_starttls": True}
                if starttls
                else {"ssl_context": ssl_context}
            )
        self.host = HOST
        self.port = 0
        self.messages: list[Received] = []
        self.connections = 0
        self._close_after = 0
        self._closing: str | None = None
        self._failures: list[str] = []
        self._refusals: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> SmtpSink:
        # The free port is probed and then bound by aiosmtpd: another process may take it
        # in between, so try a few.
        for attempt in range(START_ATTEMPTS):
            self.port = _free_port()
            controller = _SinkController(
                _Handler(self), hostname=HOST, port=self.port, ready_timeout=10, **self.tls
            )
            try:
                controller.start()
            except (OSError, RuntimeError):
                if attempt == START_ATTEMPTS - 1:
                    raise
                continue
            self._controller = controller
            with self._lock:
                self.connections = 0  # not the controller's own probe that it is up
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def fail_next(self, count: int = 1, code: int = 451) -> None:
        """Answer the next ``count`` messages with ``code`` (4xx temporary, 5xx permanent)."""
        if not 400 <= code < 600:
            raise ValueError(f"not a failure code: {code}")
        with self._lock:
            self._failures.extend([f"{code} {FAIL_TEXT[code // 100]}"] * count)

    def close_after(self, count: int, how: str = "drop") -> None:
        """End every connection after ``count`` messages: ``drop`` closes it right after
        the count-th 250; ``421`` answers the next MAIL FROM with 421 and closes; ``452``
        answers every further MAIL FROM with 452 and leaves the connection open."""
        if how not in ("drop", "421", "452") or count < 1:
            raise ValueError(f"not a way to close after {count} messages: {how!r}")
        with self._lock:
            self._close_after, self._closing = count, how

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    def refuse_rcpt(self, address: str, code: int, count: int = 1) -> None:
        """Answer RCPT TO ``address`` with ``code`` the next ``count`` times (greylisting:
        450; an unknown mailbox: 550)."""
        with self._lock:
            self._refusals.setdefault(address.lower(), []).extend(
                [f"{code} {FAIL_TEXT[code // 100]}"] * count
            )

    def _take_refusal(self, address: str) -> str | None:
        with self._lock:
            waiting = self._refusals.get(address.lower())
            return waiting.pop(0) if waiting else None

    def _take_failure(self) -> str | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _store(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)

    def received(self) -> list[Received]:
        """A snapshot of the messages kept so far."""
        with self._lock:
            return list(self.messages)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages whose envelope recipients include ``address``."""
        address = address.lower()
        return [r.message() for r in self.received() if address in map(str.lower, r.rcpt_tos)]

    def relay_settings(self) -> dict[str, Any]:
        """The ``[relay]`` section that sends the desk's mail here."""
        return {"host": self.host, "port": self.port, "tls": "none"}

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A started sink, stopped after the test."""
    with SmtpSink() as sink:
        yield sink
