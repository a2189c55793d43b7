"""A misbehaving SMTP relay on loopback: a small asyncio server that answers as told.

For the sender's fault tests, where aiosmtpd (tests/servers/smtp_sink.py) is too
well-behaved: a ``Script`` says what the relay does at each stage of one
connection (``greeting``, ``ehlo``, ``starttls``, ``auth``, ``mail``, ``rcpt``, ``data``,
``dot``, ``quit``): answer a code, hang up, hang, or answer one byte at a time. Each connection takes
the next script (the last one repeats). Messages accepted with a 250 after the dot
are kept in ``messages``. Runs its own event loop in a thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field

HOST = "127.0.0.1"

# What the relay does at a stage: a reply code ("250", "451", ...), "drop" (close the
# connection without answering), "hang" (never answer), "drip:<code>" (answer
# <code> one byte every DRIP seconds) or "late:<seconds>:<code>" (answer <code> after
# that pause: a relay scanning a mail before its answer to the dot).
DRIP = 0.2


@dataclass
class Script:
    greeting: str = "220"
    ehlo: str = "250"
    mail: str = "250"
    rcpt: str = "250"
    data: str = "354"
    dot: str = "250"
    quit: str = "221"
    rset: str = "250"
    # STARTTLS: "220" then a handshake that fails (garbage instead of a TLS reply).
    starttls: str = "220"
    # After that 220: "garbage", or "hang" (the client's hello read, never answered).
    handshake: str = "garbage"
    auth: str = "235"
    # Recipients refused whatever ``rcpt`` says: address -> code.
    refuse: dict[str, str] = field(default_factory=dict)
    extensions: tuple[str, ...] = ("8BITMIME", "PIPELINING")
    # Every n-th message over all connections is answered with ``fail_code`` after the dot.
    fail_every: int = 0
    fail_code: str = "451"


@dataclass(frozen=True)
class Kept:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


TEXT = {
    "220": "bad-relay ESMTP",
    "221": "bye",
    "250": "OK",
    "354": "go ahead",
    "421": "4.3.2 service not available, closing",
    "451": "4.3.0 local error",
    "452": "4.3.1 insufficient storage",
    "454": "4.7.0 TLS not available",
    "535": "5.7.8 authentication failed",
    "550": "5.1.1 no such user",
    "552": "5.3.4 message too big",
    "553": "5.7.1 sender address rejected: not owned by user",
    "554": "5.7.1 rejected",
}


class BadRelay:
    def __init__(self, scripts: list[Script] | None = None) -> None:
        self.scripts = list(scripts or [Script()])
        self.messages: list[Kept] = []
        self.connections = 0
        self.dots = 0
        self.transcripts: list[list[str]] = []
        self.port = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def _script(self) -> Script:
        with self._lock:
            self.connections += 1
            return self.scripts.pop(0) if len(self.scripts) > 1 else self.scripts[0]

    def script_next(self, *scripts: Script) -> None:
        """Connections after the current ones follow these scripts (the last repeats)."""
        with self._lock:
            self.scripts = list(scripts)

    async def _answer(self, writer: asyncio.StreamWriter, what: str, lines: list[str]) -> bool:
        """Do ``what``; False when the connection is to end (dropped)."""
        if what == "drop":
            writer.transport.abort()
            return False
        if what == "hang":
            await asyncio.sleep(3600)
            return False
        if what.startswith("late:"):
            _, pause, what = what.split(":")
            await asyncio.sleep(float(pause))
        drip = what.startswith("drip:")
        code = what[5:] if drip else what
        text = [f"{code}-{line}" for line in lines[:-1]] + [f"{code} {lines[-1]}"]
        data = "".join(t + "\r\n" for t in text).encode()
        if drip:
            for i in range(len(data)):
                writer.write(data[i : i + 1])
                await writer.drain()
                await asyncio.sleep(DRIP)
        else:
            writer.write(data)
            await writer.drain()
        return True

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        s = self._script()
        log: list[str] = []
        self.transcripts.append(log)
        try:
            await self._converse(s, reader, writer, log)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def _converse(
        self, s: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, log: list[str]
    ) -> None:
        if not await self._answer(writer, s.greeting, [TEXT.get(s.greeting[-3:], "x")]):
            return
        mail_from, rcpts = "", []
        while True:
            line = await reader.readline()
            if not line:
                return
            cmd = line.decode("ascii", "replace").strip()
            log.append(cmd)
            verb = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                how = s.ehlo
                lines = ["bad-relay", *s.extensions] if verb == "EHLO" else ["bad-relay"]
                if not await self._answer(writer, how, lines if how.endswith("250") else ["no"]):
                    return
            elif verb == "MAIL":
                mail_from, rcpts = cmd.split(":", 1)[1].strip(), []
                if not await self._answer(writer, s.mail, [TEXT.get(s.mail[-3:], "x")]):
                    return
            elif verb == "RCPT":
                addr = cmd.split(":", 1)[1].strip().strip("<>").split(">")[0].lower()
                how = s.refuse.get(addr, s.rcpt)
                if how.endswith("250"):
                    rcpts.append(addr)
                if not await self._answer(writer, how, [TEXT.get(how[-3:], "x")]):
                    return
            elif verb == "DATA":
                if not await self._answer(writer, s.data, [TEXT.get(s.data[-3:], "x")]):
                    return
                if not s.data.endswith("354"):
                    continue
                body = await reader.readuntil(b"\r\n.\r\n")
                with self._lock:
                    self.dots += 1
                    nth = self.dots
                dot = s.dot
                if s.fail_every and nth % s.fail_every == 0:
                    dot = s.fail_code
                if dot.endswith("250"):
                    with self._lock:
                        self.messages.append(Kept(mail_from, tuple(rcpts), body[:-5]))
                if not await self._answer(writer, dot, [TEXT.get(dot[-3:], "x")]):
                    return
            elif verb == "STARTTLS":
                if not await self._answer(writer, s.starttls, ["ready"]):
                    return
                if s.starttls.endswith("220") and s.handshake == "hang":
                    await reader.read(1)  # the client's hello has begun: it is in the handshake
                    log.append("(TLS hello)")
                    await asyncio.sleep(3600)
                    return
                if s.starttls.endswith("220"):
                    writer.write(b"this is no TLS\r\n")
                    await writer.drain()
                    return
            elif verb == "AUTH":
                if not await self._answer(writer, s.auth, [TEXT.get(s.auth[-3:], "x")]):
                    return
            elif verb == "QUIT":
                await self._answer(writer, s.quit, ["bye"])
                return
            elif verb == "RSET" or verb == "NOOP":
                if not await self._answer(writer, s.rset if verb == "RSET" else "250", ["OK"]):
                    return
            else:
                if not await self._answer(writer, "502", ["not implemented"]):
                    return

    def start(self) -> BadRelay:
        ready = threading.Event()
        sock = socket.socket()
        sock.bind((HOST, 0))
        self.port = sock.getsockname()[1]

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(asyncio.start_server(self._session, sock=sock))
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="bad-relay", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            for w in list(self._writers):
                w.transport.abort()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def relay_settings(self) -> dict[str, object]:
        return {"host": HOST, "port": self.port, "tls": "none"}

    def kept(self) -> list[Kept]:
        with self._lock:
            return list(self.messages)

    def __enter__(self) -> BadRelay:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
