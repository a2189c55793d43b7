"""IMAP intake: every message in the watched folders becomes one committed intake row, then moves.

The order per message is the durability rule of the whole desk: fetch by UID
(``BODY.PEEK[]``, so nothing is marked), store the raw bytes idempotently
under ``(imap, "<user>@<host>/<folder>/<UIDVALIDITY>/<UID>")``, let the
pipeline give the row a committed outcome, and only then MOVE the UID to the
processed or quarantine folder. A crash anywhere leaves the message in the
folder; the next pass finds the row already stored (without fetching the
body again) and, once it is done, just moves it, so no second ticket and no
second acknowledgement.

Who runs the pipeline: with ``handoff`` (``serve`` with pipeline processes)
the poller commits a batch, wakes those processes and goes on fetching the
next batch; it moves each message once its row shows an outcome, looking
whenever the daemon reports committed outcomes (:attr:`ImapPoller.outcomes`),
at most every ``SETTLE_PACE_S`` and at least every ``settle_wait``; it does not
IDLE while any handed-over message waits. The finished ones move together: at
once when none of the folder's handed-over messages is still pending, else when
``move_batch`` are finished or the first of them has waited ``MOVE_DELAY_S``.
Without ``handoff`` (or when no pipeline process is alive) it processes each
batch itself before moving it.

Everything still in a watched folder is unprocessed by definition (processed
mail has been moved away), so each pass is ``UID SEARCH ALL``; no "seen"
flags and no expunge-as-processed. A new UIDVALIDITY only changes the refs;
the pipeline recognises a Message-ID it already handled as ``duplicate``.

``ImapPoller.run(stop)`` is the daemon's thread: catch up, then IDLE (or poll
every ``poll_interval`` s without IDLE), catching up on every wake. Faults
(dropped connection, restarted server, refused login, TLS errors) are one
log line, recorded in ``imap_state``, and retried with capped exponential
backoff; ``run`` never raises for them. A message whose FETCH makes the server
drop the connection is fetched alone next time, and after ``UNREADABLE_AFTER``
such drops stored empty, quarantined and moved, so the rest of the folder is read.
A MOVE the server refuses (NO) is not such a fault: those messages stay, final, and
are moved on a later pass (see :meth:`ImapPoller.move`).

Fault injection for crash tests: ``SEPDESK_FAULT=imap-before-move`` makes the
process exit with status 137 right after an outcome is committed and before
the MOVE (see :func:`_fault_point`); ``imap-after-copy`` and ``imap-after-flag``
between the MOVE fallback's COPY and STORE, and its STORE and EXPUNGE.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from sepdesk.config import IMAP_SECRET, ImapSettings, Settings, no_secret, read_secret, tls_context
from sepdesk.desk import Desk
from sepdesk.errors import ConfigError, one_line
from sepdesk.instants import now, to_db
from sepdesk.intake.store import store_raw
from sepdesk.store import write_tx
from sepdesk.store.db import storage_fault
from sepdesk.tlsmode import speaks_tls

log = logging.getLogger("sepdesk.imap")

SOURCE = "imap"
BATCH_SIZE = 50
SETTLE_WAIT_S = 0.5  # with messages handed over, look at their rows at least this often
SETTLE_PACE_S = 0.1  # ...and at most this often
# A UID MOVE costs Dovecot about as much CPU as moving ~150 more messages in the same
# command (its index transaction): during a backlog, finished messages wait for a batch.
MOVE_BATCH = 250
MOVE_DELAY_S = 1.0  # ...but no finished message waits for its MOVE longer than this
IDLE_RENEW_S = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30 min inactivity timeout
IDLE_WAKE_S = 5.0  # a quiet IDLE returns this often to look at the stop event (no traffic)
SOCKET_TIMEOUT_S = 60.0
# After a plain connection got no greeting: how long a TLS handshake on the port may take
# to show it is an implicit-TLS (IMAPS) one.
TLS_PROBE_S = 5.0
# A message whose FETCH alone made the server drop the connection this often is unreadable
# (a maildir file whose name lies about its size): quarantined unread, not fetched for ever.
# Twice, so that one server restart during that FETCH quarantines nothing.
UNREADABLE_AFTER = 2
# Messages the MOVE fallback copied in an earlier pass, found still in the folder: Dovecot
# answers the EXPUNGE "OK Expunge ignored" without the right to expunge, and they stayed
# for ever, "moved" again at every pass, with nothing in the log or in last_error.
NOT_REMOVED = "copied there, but not removed from the folder (EXPUNGE ignored: no right?)"
# A message whose move the destination refused (a full quota) is tried again after this,
# twice as long after each refusal up to the cap; new mail is tried at once. Tried on
# every pass, each held message cost a MOVE per pass: 20 held, 28 commands a pass.
HELD_RETRY_S = 30.0
HELD_RETRY_CAP_S = 30 * 60.0
FAULT_ENV = "SEPDESK_FAULT"
FINAL_STATES = ("done", "quarantined")
# The final rows among the handed-over ones: a range over the covering (state, id) index
# (tests/test_query_plans.py holds it to that index).
FINAL_STATES_QUERY = (
    "SELECT id, state FROM intake WHERE state IN ('done', 'quarantined') AND id BETWEEN ? AND ?"
)

# Errors that mean "the server or the network", retried by run() with backoff.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    IMAPClientError,  # includes LoginError and imaplib's abort/readonly
    OSError,  # socket errors, refused connections, ssl.SSLError, timeouts
    EOFError,
    ConfigError,  # an unreadable password file may be fixed without a restart
)


class ConnectionLost(ConnectionError):
    """The server closed the connection (BYE or EOF) while we were idling."""


class TlsAtOnce(ConfigError):
    """``tls = "starttls"`` (or ``"none"``) names an implicit-TLS port: the server waits
    for a TLS handshake and never sends the greeting the poller waits for."""


@dataclass(frozen=True)
class Fetched:
    """One message as it came from the server: raw bytes, or headers only when oversize."""

    uid: int
    raw: bytes
    received_at: datetime
    size: int
    oversize: bool
    unreadable: bool = False  # the server could not send it: stored empty, quarantined


@dataclass
class _Handed:
    """One folder's messages stored and handed to the pipeline processes, not yet moved."""

    uidvalidity: int
    rows: dict[int, int] = field(default_factory=dict)  # UID -> intake id
    final_since: float | None = None  # monotonic time a finished one was first left unmoved


@dataclass
class _Held:
    """Messages of a folder whose move to one destination was refused, and their retry."""

    uids: set[int]
    delay: float
    due: float  # monotonic time of their next try


def _fault_point(name: str) -> None:
    """Crash-test hook: exit hard at a named point when $SEPDESK_FAULT names it."""
    if os.environ.get(FAULT_ENV) == name:
        os._exit(137)


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def _uid_set(uids: Iterable[int]) -> str:
    """A compact IMAP UID set ("1:50,52") for MOVE, COPY and EXPUNGE of many UIDs at once.

    Not for FETCH: imapclient matches its replies against a list of UIDs."""
    parts: list[str] = []
    run: list[int] = []
    for uid in sorted(set(uids)):
        if run and uid == run[-1] + 1:
            run[-1] = uid
            continue
        if run:
            parts.append(_uid_range(run))
        run = [uid, uid]
    if run:
        parts.append(_uid_range(run))
    return ",".join(parts)


def _uid_range(run: list[int]) -> str:
    return str(run[0]) if run[0] == run[1] else f"{run[0]}:{run[1]}"


def _aware(value: Any) -> datetime:
    """INTERNALDATE as an aware instant; a missing or naive one is taken as UTC / now."""
    if not isinstance(value, datetime):
        return now()
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _pipeline() -> Any:
    # Imported late: the pipeline imports much of sepdesk, and tests may swap it.
    from sepdesk.pipeline import runner

    return runner


class ImapPoller:
    """Reads the configured IMAP folders into intake rows; one instance per thread."""

    def __init__(
        self,
        desk: Desk,
        settings: Settings | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        backoff_initial: float = 1.0,
        backoff_cap: float = 60.0,
        idle_wake: float = IDLE_WAKE_S,
        batch_size: int = BATCH_SIZE,
        secret_names: tuple[str, str] = IMAP_SECRET,
        handoff: Callable[[], bool] | None = None,
        settle_wait: float = SETTLE_WAIT_S,
        move_batch: int = MOVE_BATCH,
    ) -> None:
        """``secret_names``: the environment variable and systemd credential holding this
        account's password (the main account's by default; see serve for the others).

        ``handoff``: called after each stored batch to wake the pipeline processes; it
        returns False when none is alive, and then the poller processes the batch itself.
        The daemon sets :attr:`outcomes` when those processes have committed outcomes."""
        self.desk = desk
        self.secret_names = secret_names
        self.settings = settings or desk.settings
        self.cfg: ImapSettings = self.settings.imap
        self.ssl_context = ssl_context
        self.backoff_initial = backoff_initial
        self.backoff_cap = backoff_cap
        self.idle_wake = idle_wake
        self.batch_size = batch_size
        self.handoff = handoff
        self.settle_wait = settle_wait
        self.move_batch = move_batch
        self.outcomes = threading.Event()
        self.client: IMAPClient | None = None
        self._handed: dict[str, _Handed] = {}
        self._last_settle = 0.0
        self._uidvalidity: dict[str, int] = {}
        self._seen_uid: dict[str, int] = {}  # highest UID each folder had at its last catch-up
        # (folder, UIDVALIDITY) -> UIDs of a FETCH the server broke off: fetched one by one.
        self._suspect: dict[tuple[str, int], set[int]] = {}
        # (folder, UIDVALIDITY, UID) -> how often a FETCH of that message alone broke off.
        self._breaks: dict[tuple[str, int, int], int] = {}
        self._contacted = False
        self._failing: str | None = None  # the fault key of the current streak, logged once
        # (folder, destination) -> the last MOVE from there to there the server refused,
        # logged once while it lasts; forgotten by a catch-up of the folder that has none.
        self._refusals: dict[tuple[str, str], str] = {}
        # Those refused since that catch-up began -> how many messages (of all its batches).
        self._refused_now: dict[tuple[str, str], int] = {}
        # (folder, UIDVALIDITY) of the selected folder: the one MOVE and COPY act on.
        self._selected: tuple[str, int] | None = None
        # (folder, UIDVALIDITY, destination) -> UIDs the MOVE fallback copied there, until
        # a pass finds them gone: a retry only deletes them, never copies them a second time.
        self._copied: dict[tuple[str, int, str], set[int]] = {}
        # (folder, UIDVALIDITY, destination) -> the messages it refused, tried again when due.
        self._held: dict[tuple[str, int, str], _Held] = {}
        # (folder, UIDVALIDITY) -> UIDs the MOVE fallback may have copied already, unknown to
        # this poller: final when it first met them (a run that died after its COPY), or a
        # COPY whose answer was lost. Looked for in the destination before a COPY.
        self._unsure: dict[tuple[str, int], set[int]] = {}
        self._failures = 0
        # Extra folders absent and refused by CREATE -> the server's answer, logged once while
        # it lasts. Not read; created again at each connect, and on a live connection at a
        # pass once poll_interval has passed (monotonic time of that), till the server takes them.
        self._skipped: dict[str, str] = {}
        self._skipped_retry = 0.0

    # -- names -------------------------------------------------------------

    @property
    def folders(self) -> list[str]:
        """The folders read, main folder first, without duplicates."""
        return self.cfg.read_folders

    @property
    def readable(self) -> list[str]:
        """The folders read now: those the server has (see :attr:`_skipped`)."""
        return [f for f in self.folders if f not in self._skipped]

    @property
    def account(self) -> str:
        """user@host, as the log lines name the account."""
        return self.cfg.account

    def mailbox_key(self, folder: str) -> str:
        # The name sepdesk status matches against the config (ImapSettings.mailbox_names).
        return f"{self.account}/{folder}"

    @property
    def max_bytes(self) -> int:
        return self.settings.smtp.max_message_bytes

    # -- connection --------------------------------------------------------

    def connect(self) -> IMAPClient:
        """Connect, secure, log in and create missing folders; reuses a live connection."""
        if self.client is not None:
            _trace_protocol(self.client)
            return self.client
        client = self._open()
        _trace_protocol(client)
        try:
            client.normalise_times = False  # aware INTERNALDATEs, not server-local naive ones
            client.login(self.cfg.user, self._password())
            self._ensure_folders(client)
        except BaseException:
            _drop(client)
            raise
        self.client = client
        return client

    def _open(self) -> IMAPClient:
        host, port, mode = self.cfg.host, self.cfg.port, self.cfg.tls
        if mode == "tls":
            context = self._tls_context()
            return IMAPClient(host, port, ssl=True, ssl_context=context, timeout=SOCKET_TIMEOUT_S)
        try:
            client = IMAPClient(host, port, ssl=False, timeout=SOCKET_TIMEOUT_S)
        except TimeoutError:
            # Said "cannot reach ... timed out" of a server that answers, after a minute.
            if speaks_tls(host, port, TLS_PROBE_S):
                raise TlsAtOnce(f"[imap] tls: {mode!r} on a port that speaks TLS") from None
            raise
        if mode == "starttls":
            try:
                client.starttls(self._tls_context())  # no plaintext fallback: a failure is a fault
            except BaseException:
                _drop(client)
                raise
        return client

    def _tls_context(self) -> ssl.SSLContext:
        # Made only for TLS: loading the system's CA certificates took ~20 ms of every
        # plain (loopback) connect, the daemon's first IMAP work at start.
        return self.ssl_context or tls_context(self.cfg.ca_file)

    def _password(self) -> str:
        try:
            secret = read_secret(self.cfg.password_file, *self.secret_names)
        except ConfigError as exc:  # named by its key, as a bad value at load is
            raise ConfigError(f"[imap] password_file of {self.cfg.user}: {exc}") from None
        if secret is None:
            raise ConfigError(no_secret("imap", self.cfg.user, self.secret_names))
        return secret

    def _ensure_folders(self, client: IMAPClient, folders: Sequence[str] | None = None) -> None:
        wanted = folders
        if wanted is None:
            wanted = [*self.folders, self.cfg.processed_folder, self.cfg.quarantine_folder]
        for folder in dict.fromkeys(wanted):
            if client.folder_exists(folder):
                self._found(folder)
            else:
                try:
                    client.create_folder(folder)
                except IMAPClientError as exc:
                    # A folder the server will not create (a name it refuses) held up all
                    # intake: every connect failed on it, retried for ever. The main folder
                    # still does (nothing to IDLE on); an extra one is skipped till it exists.
                    if folder == self.cfg.folder or not _refused(exc):
                        raise
                    if folder in self.folders:
                        self._skip(folder, _one_line(exc))
                        continue
                    # A destination: the mail is read and processed; its refused move is
                    # the WARNING (see move).
                    log.info(
                        "imap %s: cannot create folder %s: %s", self.account, folder, _one_line(exc)
                    )
                    continue
                self._skipped.pop(folder, None)  # "created it" below says it is read now
                # The watched folder too (the issue: folders are created when absent);
                # a WARNING, since a typo in [imap] folder would watch an empty one.
                level = logging.WARNING if folder in self.folders else logging.INFO
                log.log(level, "imap %s: folder %s did not exist; created it", self.account, folder)

    def _skip(self, folder: str, answer: str) -> None:
        """An extra folder the server will not create: a WARNING (INFO while the same answer
        repeats), on its imap_state row too; the other folders are read as usual."""
        text = f"cannot create folder {folder}, not read: {answer}"
        level = logging.INFO if _same_fault(text, self._skipped.get(folder)) else logging.WARNING
        log.log(level, "imap %s: %s", self.account, text)
        self._skipped[folder] = text
        self._skipped_retry = time.monotonic() + self.cfg.poll_interval
        self._safe_record_error(text, [folder])

    def _found(self, folder: str) -> None:
        if self._skipped.pop(folder, None) is not None:
            log.warning("imap %s: folder %s exists now; reading it", self.account, folder)

    def close(self) -> None:
        """Log out (or drop the socket when the server is gone); safe to call twice."""
        client, self.client = self.client, None
        # Handed-over rows are found again from their refs after reconnecting; the UIDs
        # remembered here may have been moved by a MOVE whose answer never came.
        self._handed.clear()
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            _drop(client)

    # -- one pass ----------------------------------------------------------

    def run_once(self) -> int:
        """Catch up every folder once; returns how many messages got an outcome and were moved.

        With ``handoff`` some may still be waiting for their outcome afterwards
        (:attr:`waiting`). Faults propagate (``run`` is the fence); the
        connection is kept for the next call.
        """
        connected = self.client is not None
        client = self.connect()
        if connected and self._skipped and time.monotonic() >= self._skipped_retry:
            self._ensure_folders(client, list(self._skipped))  # made on the server meanwhile?
        return sum(self.catch_up(client, folder) for folder in self.readable)

    @property
    def waiting(self) -> int:
        """Messages handed to the pipeline processes and not moved yet."""
        return sum(len(w.rows) for w in self._handed.values())

    def catch_up(self, client: IMAPClient, folder: str) -> int:
        uidvalidity, uidnext = self._select(client, folder)
        self._refused_now = {k: n for k, n in self._refused_now.items() if k[0] != folder}
        uids = sorted(int(u) for u in client.search("ALL"))
        self._forget_gone(folder, uidvalidity, set(uids))
        handed = self._handed_in(folder, uidvalidity, uids)
        new = [u for u in uids if u not in handed.rows]
        large = self._oversize(client, new)
        moved = 0
        for batch in _chunks(new, self.batch_size):
            moved += self._handle_batch(client, folder, uidvalidity, batch, large)
        moved += self._settle(client, folder)
        self._forget_refusals(folder)
        # Every UID below UIDNEXT at SELECT time was either in the search or is gone.
        self._seen_uid[folder] = max(uidnext - 1, *uids, 0)
        self._record_contact(folder, uidvalidity, max(uids, default=0))
        return moved

    def _select(self, client: IMAPClient, folder: str) -> tuple[int, int]:
        """SELECT; returns (UIDVALIDITY, UIDNEXT) and warns when UIDVALIDITY changed."""
        info = client.select_folder(folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        uidnext = int(info.get(b"UIDNEXT", 0))
        known = self._uidvalidity.get(folder) or self._stored_uidvalidity(folder)
        if known and known != uidvalidity:
            # Old refs no longer name these messages; the pipeline's Message-ID check
            # turns any re-read message into a "duplicate" outcome, never a second ticket.
            log.warning(
                "imap: UIDVALIDITY of %s changed %s -> %s; continuing",
                self.mailbox_key(folder),
                known,
                uidvalidity,
            )
        self._uidvalidity[folder] = uidvalidity
        self._selected = (folder, uidvalidity)
        return uidvalidity, uidnext

    def _handed_in(self, folder: str, uidvalidity: int, uids: list[int]) -> _Handed:
        """This folder's handed-over messages still in it (a new UIDVALIDITY forgets them all)."""
        handed = self._handed.get(folder)
        if handed is None or handed.uidvalidity != uidvalidity:
            handed = self._handed[folder] = _Handed(uidvalidity)
        present = set(uids)
        handed.rows = {u: i for u, i in handed.rows.items() if u in present}
        return handed

    def _forget_gone(self, folder: str, uidvalidity: int, present: set[int]) -> None:
        """Forget the broken FETCHes of messages no longer in the folder (moved, expunged,
        or of an old UIDVALIDITY): kept, the UIDs of every break stayed for as long as the
        daemon ran, whatever became of their messages."""
        for key in [k for k in self._suspect if k[0] == folder]:
            # Parenthesised: "pop(key) & present if ... else set()" popped nothing of an old
            # UIDVALIDITY, so its entries stayed for as long as the daemon ran.
            kept = self._suspect.pop(key) & (present if key[1] == uidvalidity else set())
            if kept:
                self._suspect[key] = kept
        for broke in [k for k in self._breaks if k[0] == folder]:
            if broke[1] != uidvalidity or broke[2] not in present:
                del self._breaks[broke]
        for where in [k for k in self._held if k[0] == folder]:
            held = self._held[where]
            held.uids &= present if where[1] == uidvalidity else set()
            if not held.uids:
                del self._held[where]
        for unsure in [k for k in self._unsure if k[0] == folder]:
            kept = self._unsure.pop(unsure) & (present if unsure[1] == uidvalidity else set())
            if kept:
                self._unsure[unsure] = kept
        for copied in [k for k in self._copied if k[0] == folder]:
            kept = self._copied.pop(copied) & (present if copied[1] == uidvalidity else set())
            if kept:
                self._copied[copied] = kept
                self._move_refused(len(kept), copied[2], IMAPClientError(NOT_REMOVED))

    def _oversize(self, client: IMAPClient, uids: list[int]) -> set[int]:
        """The UIDs over ``max_message_bytes``, by one SEARCH: a FETCH of every size first
        cost the poller more than the bodies (imapclient parses its reply byte by byte)."""
        if not uids:
            return set()
        return {int(u) for u in client.search(["LARGER", str(self.max_bytes)])} & set(uids)

    def _handle_batch(
        self,
        client: IMAPClient,
        folder: str,
        uidvalidity: int,
        uids: list[int],
        large: set[int],
    ) -> int:
        """Store what is new (one commit), then hand it over or process it here; moves what is final."""
        known = self._known(folder, uidvalidity, uids)
        self._note_unsure(client, folder, uidvalidity, known)
        # Committed before any FETCH: a second such message in the batch breaks the pass.
        unreadable = [
            self._unreadable(folder, u)
            for u in uids
            if u not in known and self._breaks_of(folder, uidvalidity, u)
        ]
        if unreadable:
            ids = self._store(folder, uidvalidity, unreadable)
            known.update((msg.uid, i) for msg, i in zip(unreadable, ids, strict=True))
        todo = [u for u in uids if u not in known]
        fetched = self._fetch(client, folder, uidvalidity, todo, large)
        ids = self._store(folder, uidvalidity, fetched)
        rows = {**known, **{msg.uid: i for msg, i in zip(fetched, ids, strict=True)}}
        self._quarantine_oversize_known(client, {u: i for u, i in known.items() if u in large})
        if self.handoff is not None and self.handoff():
            return self._hand_over(client, folder, rows)
        return self._move_final(client, self._process_here(rows))

    def _note_unsure(
        self, client: IMAPClient, folder: str, uidvalidity: int, known: dict[int, int]
    ) -> None:
        """Without MOVE: the messages whose rows were final before this poller met them
        (UIDs above those of its last catch-up) may be in their destination already, copied
        by a run that died before its EXPUNGE. Only stored rows are asked about: the normal
        path sends no command more."""
        seen = self._seen_uid.get(folder, 0)
        first = {u: i for u, i in known.items() if u > seen}
        if not first or client.has_capability("MOVE"):
            return
        states = self._states(list(first.values()))
        final = {u for u, i in first.items() if states[i] in FINAL_STATES}
        if final:
            self._unsure.setdefault((folder, uidvalidity), set()).update(final)

    def _hand_over(self, client: IMAPClient, folder: str, rows: dict[int, int]) -> int:
        """Leave the pending rows to the pipeline processes; move those final already
        (stored before a crash). Moves what they finished only when they said so: looking
        at every waiting row after every batch would cost more than the batch."""
        states = self._states(list(rows.values()))
        final = {u: states[i] for u, i in rows.items() if states[i] in FINAL_STATES}
        self._handed[folder].rows.update((u, i) for u, i in rows.items() if u not in final)
        log.info(
            "imap: %d messages of %s stored, handed to the pipeline",
            len(rows),
            self.mailbox_key(folder),
        )
        moved = self._move_final(client, final)
        if self.outcomes.is_set():
            self.outcomes.clear()
            moved += self._settle(client, folder)
        return moved

    def _known(self, folder: str, uidvalidity: int, uids: list[int]) -> dict[int, int]:
        """UID -> intake id of messages stored before (a crash, a failed MOVE): no second FETCH."""
        if not uids:
            return {}
        prefix = f"{self.mailbox_key(folder)}/{uidvalidity}/"
        refs = [prefix + str(u) for u in uids]
        marks = ",".join("?" * len(refs))
        rows = self.desk.db.execute(
            f"SELECT source_ref, id FROM intake WHERE source = ? AND source_ref IN ({marks})",
            [SOURCE, *refs],
        ).fetchall()
        return {int(str(ref).rsplit("/", 1)[1]): int(i) for ref, i in rows}

    def _fetch(
        self, client: IMAPClient, folder: str, uidvalidity: int, uids: list[int], large: set[int]
    ) -> list[Fetched]:
        """Full bodies for messages within the size limit; only the header of larger ones.

        A message the server cannot send (Dovecot answers its FETCH with BYE) broke
        every pass over its batch, so nothing behind it in the folder was ever read.
        After such a break the batch's messages are fetched one by one, and one that
        breaks its own FETCH ``UNREADABLE_AFTER`` times is quarantined unread.
        """
        suspect = self._suspect.get((folder, uidvalidity), set())
        out: list[Fetched] = []
        groups = [[u] for u in uids if u in suspect] + [[u for u in uids if u not in suspect]]
        for group in groups:
            if group:
                out += self._fetch_group(client, folder, uidvalidity, group, large)
        return out

    def _breaks_of(self, folder: str, uidvalidity: int, uid: int) -> bool:
        return self._breaks.get((folder, uidvalidity, uid), 0) >= UNREADABLE_AFTER

    def _unreadable(self, folder: str, uid: int) -> Fetched:
        log.warning(
            "imap: message UID %d of %s breaks the connection whenever it is fetched"
            " (see the IMAP server's log); quarantined unread, it moves to %s",
            uid,
            self.mailbox_key(folder),
            self.cfg.quarantine_folder,
        )
        return Fetched(uid, b"", now(), 0, oversize=False, unreadable=True)

    def _fetch_group(
        self, client: IMAPClient, folder: str, uidvalidity: int, uids: list[int], large: set[int]
    ) -> list[Fetched]:
        small = [u for u in uids if u not in large]
        big = [u for u in uids if u in large]
        try:
            bodies = client.fetch(small, ["BODY.PEEK[]", "INTERNALDATE"]) if small else {}
            headers = (
                client.fetch(big, ["BODY.PEEK[HEADER]", "INTERNALDATE", "RFC822.SIZE"])
                if big
                else {}
            )
        except IMAPClientAbortError:  # the connection is gone; run() reconnects
            self._fetch_broke(folder, uidvalidity, uids)
            raise
        out = []
        for uid in uids:
            data = bodies.get(uid) or headers.get(uid) or {}
            # "is None", not "or": an empty message (a 0-byte maildir file) is mail too; it
            # was taken for an expunged one and stayed unread in the folder for ever.
            raw = data.get(b"BODY[]")
            if raw is None:
                raw = data.get(b"BODY[HEADER]")
            if raw is None:
                continue  # expunged by someone else meanwhile: nothing to take
            size = int(data.get(b"RFC822.SIZE") or len(raw))
            received_at = _aware(data.get(b"INTERNALDATE"))
            out.append(Fetched(uid, bytes(raw), received_at, size, uid in large))
        return out

    def _fetch_broke(self, folder: str, uidvalidity: int, uids: list[int]) -> None:
        """Remember a FETCH the server broke off: its batch is fetched one by one next time,
        and a message alone is counted towards ``UNREADABLE_AFTER``."""
        if len(uids) > 1:
            self._suspect.setdefault((folder, uidvalidity), set()).update(uids)
            return
        key = (folder, uidvalidity, uids[0])
        self._breaks[key] = self._breaks.get(key, 0) + 1

    def _store(self, folder: str, uidvalidity: int, fetched: list[Fetched]) -> list[int]:
        """Store a batch idempotently in one transaction (one fsync, not one per mail).

        Safe to group: until the MOVE the messages stay on the server, so a crash
        before this commit loses nothing; the refs make a second store a no-op.
        An oversize message is quarantined in the same commit, so no pipeline
        process ever sees its header-only row as pending.
        """
        runner = _pipeline()
        ids = []
        with write_tx(self.desk.db) as db:
            for msg in fetched:
                intake_id = store_raw(
                    db,
                    source=SOURCE,
                    source_ref=f"{self.mailbox_key(folder)}/{uidvalidity}/{msg.uid}",
                    raw=msg.raw,
                    received_at=msg.received_at,
                    mail_from="",
                    rcpt_to=[],
                ).intake_id
                if msg.oversize:
                    runner.quarantine_oversize(
                        self.desk, intake_id, self._oversize_reason(msg.size)
                    )
                elif msg.unreadable:
                    runner.quarantine_intake(self.desk, intake_id, self._unreadable_reason())
                ids.append(intake_id)
        return ids

    def _quarantine_oversize_known(self, client: IMAPClient, rows: dict[int, int]) -> None:
        """Header-only rows stored by an older version without their quarantine (a no-op if final)."""
        if not rows:
            return
        runner = _pipeline()
        sizes = client.fetch(list(rows), ["RFC822.SIZE"])
        for uid, intake_id in rows.items():
            size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", self.max_bytes + 1))
            runner.quarantine_oversize(self.desk, intake_id, self._oversize_reason(size))

    def _process_here(self, rows: dict[int, int]) -> dict[int, str]:
        """Give each pending row its outcome in this thread (one commit); returns UID -> state.

        Rows already done or quarantined (processed before a crash or a failed
        MOVE) are left alone: they are only moved.
        """
        ids = list(rows.values())
        states = self._states(ids)
        todo = [i for i in ids if states[i] not in FINAL_STATES]
        if todo:
            _pipeline().process_batch(self.desk, todo)
            states = self._states(ids)
        return {uid: states[i] for uid, i in rows.items()}

    def _settle(self, client: IMAPClient, folder: str) -> int:
        """Move this folder's handed-over messages whose rows have an outcome (it is selected)."""
        handed = self._handed.get(folder)
        if handed is None or not handed.rows:
            return 0
        final = self._final(handed)
        moved = 0
        if final and self._move_due(handed, len(final)):
            moved = self._move_final(client, final)
            for uid in final:
                del handed.rows[uid]
            handed.final_since = None
        if handed.rows and not (self.handoff and self.handoff()):
            # Every pipeline process is gone (a crash, a reload): nobody else will do it.
            moved += self._move_final(client, self._process_here(handed.rows))
            handed.rows.clear()
            handed.final_since = None
        return moved

    def _all_final(self) -> bool:
        """Whether every handed-over message's row has its outcome (one range query each)."""
        return all(len(self._final(h)) == len(h.rows) for h in self._handed.values() if h.rows)

    def _final(self, handed: _Handed) -> dict[int, str]:
        """UID -> state of the folder's handed-over messages whose rows have an outcome."""
        states = self._states(list(handed.rows.values()))
        return {u: states[i] for u, i in handed.rows.items() if states[i] in FINAL_STATES}

    def _move_due(self, handed: _Handed, final: int) -> bool:
        """Whether the ``final`` finished messages of a folder move now (see the module doc)."""
        now = time.monotonic()
        if handed.final_since is None:
            handed.final_since = now
        return (
            final == len(handed.rows)
            or final >= self.move_batch
            or now - handed.final_since >= MOVE_DELAY_S
        )

    def await_outcomes(self, stop: threading.Event) -> None:
        """With messages handed over: wait for outcomes (or a short while), then move those
        final and catch up any folder with new mail (IDLE must wait until none is handed)."""
        self.outcomes.wait(self.settle_wait)
        # Let a few batches finish: fewer, larger MOVEs and fewer looks at the rows; but
        # once every handed-over message has its outcome (a backlog's end), move them now.
        pace = self._last_settle + SETTLE_PACE_S - time.monotonic()
        if pace > 0 and not self._all_final() and stop.wait(pace):
            return
        self.outcomes.clear()
        self._last_settle = time.monotonic()
        client = self.connect()
        for folder in self.readable:
            uidvalidity, uidnext = self._select(client, folder)
            if uidnext - 1 > self._seen_uid.get(folder, 0):
                self.catch_up(client, folder)
            elif folder in self._handed and self._handed[folder].uidvalidity == uidvalidity:
                self._settle(client, folder)

    def _oversize_reason(self, size: int) -> str:
        return (
            f"{_pipeline().HEADERS_ONLY}: {size} bytes over the limit of {self.max_bytes}"
            f" ([smtp] max_message_bytes); only the header was fetched, the full"
            f" message is in IMAP folder {self.cfg.quarantine_folder}"
        )

    def _unreadable_reason(self) -> str:
        return (
            f"unreadable: the IMAP server broke the connection {UNREADABLE_AFTER} times"
            f" fetching this message (see its log); nothing of it is stored, the message"
            f" is in IMAP folder {self.cfg.quarantine_folder}"
        )

    def _states(self, ids: list[int]) -> dict[int, str]:
        """Each row's state: "done", "quarantined", or "pending" for any other.

        One range over the (state, id) index instead of an IN list: the poller asks
        this for up to every handed-over row several times a second, and SQLite parsed
        an IN list of a thousand marks anew each time. The handed-over rows were
        stored recently, so the range holds few other final rows.
        """
        if not ids:
            return {}
        rows = self.desk.db.execute(FINAL_STATES_QUERY, [min(ids), max(ids)]).fetchall()
        final = {int(r[0]): str(r[1]) for r in rows}
        return {i: final.get(i, "pending") for i in ids}

    # -- moving ------------------------------------------------------------

    def _move_final(self, client: IMAPClient, states: dict[int, str]) -> int:
        """MOVE every UID whose row is done or quarantined; "pending" ones stay for a retry."""
        dests = {"done": self.cfg.processed_folder, "quarantined": self.cfg.quarantine_folder}
        moved = 0
        for state, dest in dests.items():
            uids = sorted(u for u, s in states.items() if s == state)
            if uids:
                _fault_point("imap-before-move")
                moved += self.move(client, uids, dest)
        return moved

    def move(self, client: IMAPClient, uids: list[int], dest: str) -> int:
        """UID MOVE when offered; else COPY, flag \\Deleted and expunge just those UIDs.
        Returns how many moved.

        When the server refuses the move twice (NO: a full or broken destination) the
        messages it refused stay in the folder, final, and are moved on a later pass.
        Raising instead sent the poller into its backoff on every pass, up to a minute, so
        one message that could not be moved held up all new mail of the mailbox. A refused
        set is then moved one message at a time: a quota on the destination refuses a set
        for its one large message, and the small ones waited with it. Refused messages are
        tried again only when due (``HELD_RETRY_S``, doubling): each cost a command a pass.
        """
        uids = self._due(uids, dest)
        if not uids:
            return 0
        return self._try_move(client, uids, dest)  # the held ones not due stay

    def _due(self, uids: list[int], dest: str) -> list[int]:
        """The UIDs to try now: all but the held ones not due yet, which keep the refusal."""
        held = self._held.get((*self._selected, dest)) if self._selected else None
        if held is None or time.monotonic() >= held.due:
            return uids
        waiting = [u for u in uids if u in held.uids]
        if waiting:
            key = self._refusal_key(dest)
            self._refused_now[key] = self._refused_now.get(key, 0) + len(waiting)
        return [u for u in uids if u not in held.uids]

    def _hold(self, dest: str, tried: list[int], refused: list[int]) -> None:
        """Remember the refused UIDs; a retry refused again doubles their delay."""
        if self._selected is None:
            return
        key = (*self._selected, dest)
        held = self._held.get(key)
        if held is None:
            if refused:
                delay = HELD_RETRY_S
                self._held[key] = _Held(set(refused), delay, time.monotonic() + delay)
            return
        retried = held.uids.intersection(tried)
        held.uids = (held.uids - set(tried)) | set(refused)
        if not held.uids:
            del self._held[key]
        elif retried:  # a retry of held ones: refused again, wait longer; else start afresh
            again = retried.intersection(refused)
            held.delay = min(held.delay * 2, HELD_RETRY_CAP_S) if again else HELD_RETRY_S
            held.due = time.monotonic() + held.delay

    def _try_move(self, client: IMAPClient, uids: list[int], dest: str) -> int:
        refusal = self._move_set(client, uids, dest)
        refused = uids if refusal is not None else []
        if refusal is not None and len(uids) > 1 and _per_message(refusal):  # one per UID
            refused = []
            # The ones refused before go last: a refusal that ends the pass (below) must
            # not keep the others back pass after pass.
            held = self._held.get((*self._selected, dest)) if self._selected else None
            for uid in sorted(uids, key=lambda u: held is not None and u in held.uids):
                try:
                    self._move_or_copy(client, [uid], dest)
                except IMAPClientError as exc:
                    if _garbled_refusal(exc):
                        # The connection is given up: hold this one as refused, and the
                        # pass ends. The next, on a new connection, moves the others.
                        self._hold(dest, [uid], [uid])
                        self._move_refused(1, dest, exc)
                        raise
                    if not _refused(exc):
                        raise
                    refused.append(uid)
                    refusal = exc
        self._hold(dest, uids, refused if refusal is not None else [])
        if refusal is None or not refused:
            # Its refusal is not over: a message it holds may be in another batch. A pass
            # that meets no refusal there ends it (_forget_refusals).
            return len(uids)
        self._move_refused(len(refused), dest, refusal)
        return len(uids) - len(refused)

    def _move_set(self, client: IMAPClient, uids: list[int], dest: str) -> IMAPClientError | None:
        """Move the UIDs in one command, twice if refused; the second refusal, or None."""
        refusal: IMAPClientError | None = None
        for _ in range(2):  # the second time after mending what the first refusal names
            if refusal is not None:
                unmendable = self._before_move_retry(client, dest, refusal)
                if unmendable is not None:
                    return unmendable
            try:
                self._move_or_copy(client, uids, dest)
                return None
            except IMAPClientError as exc:
                if not _refused(exc):
                    raise
                refusal = exc
        return refusal

    def _move_or_copy(self, client: IMAPClient, uids: list[int], dest: str) -> None:
        if client.has_capability("MOVE"):
            client.move(_uid_set(uids), dest)
        else:
            self.copy_delete(client, uids, dest)

    def _before_move_retry(
        self, client: IMAPClient, dest: str, exc: IMAPClientError
    ) -> IMAPClientError | None:
        """Mend what a first refusal may mean: the destination was deleted meanwhile
        ([TRYCREATE], RFC 3501 6.4.7), or another client expunged some of the UIDs and the
        server wants that reported first ([EXPUNGEISSUED], RFC 5530): a NOOP does.

        Returns the refusal to create the destination, if it was refused: that is the
        reason to log ("[TRYCREATE] Mailbox doesn't exist" did not say why)."""
        if "TRYCREATE" in str(exc).upper():
            try:
                client.create_folder(dest)
                log.info(
                    "imap %s: folder %s had been deleted; created it again", self.account, dest
                )
            except IMAPClientError as refused:
                if not _refused(refused):
                    raise
                return refused
        client.noop()
        return None

    def _move_refused(self, count: int, dest: str, exc: IMAPClientError) -> None:
        """One WARNING per refusal; INFO while the same one repeats pass after pass, until
        a pass meets no refusal there (a refusal days later was only an INFO). Kept in
        imap_state.last_error too, for ``sepdesk status``, until then."""
        key = self._refusal_key(dest)
        # A pass moves in batches: the count of the last batch alone was recorded, "3" for
        # 103 messages held by a full destination.
        count = self._refused_now[key] = self._refused_now.get(key, 0) + count
        text = f"the server refused to move {count} messages to {dest}: {_one_line(exc)}"
        level = logging.INFO if _same_fault(text, self._refusals.get(key)) else logging.WARNING
        self._refusals[key] = text
        log.log(level, "imap %s: %s; they stay and are tried again later", self.account, text)
        # On the row of the folder that holds them: every folder's row showed it, until
        # that folder's next catch-up.
        self._safe_record_error(text, [key[0]] if key[0] else None)

    def _refusal_key(self, dest: str) -> tuple[str, str]:
        return (self._selected[0] if self._selected else "", dest)

    def _forget_refusals(self, folder: str) -> None:
        """Forget the refusals of moves from ``folder`` that its catch-up did not meet again.

        A catch-up tries to move every finished message still in the folder; one that met
        no refusal to a destination has no refused message for it left (another client
        took it away, the folder was made anew). Kept, the refusal stayed in
        imap_state.last_error, stamped anew by every pass, and the next refusal there,
        days later, was only an INFO."""
        for key in [k for k in self._refusals if k[0] == folder]:
            if key not in self._refused_now:
                del self._refusals[key]
                log.warning(
                    "imap: no message of %s waits for its move to %s any more",
                    self.mailbox_key(key[0]),
                    key[1],
                )

    def copy_delete(self, client: IMAPClient, uids: list[int], dest: str) -> None:
        """The MOVE fallback (RFC 6851 §3.3). Without UIDPLUS the EXPUNGE is folder-wide.

        A refused COPY is a refused move (see :meth:`move`): nothing happened. When the
        COPY worked and the STORE or EXPUNGE then fails, or the EXPUNGE is ignored (Dovecot
        answers OK "Expunge ignored: Permission denied" without the expunge right), the
        messages are in both folders; the retry only deletes them (each pass copied them
        once more). When the COPY's answer was lost (a dropped connection) or the daemon
        died before the EXPUNGE, they were copied again at the next pass or start: a second
        copy in the destination. Such messages (:attr:`_unsure`) are looked for there first.
        """
        assert self._selected is not None, "copy_delete needs the folder selected by _select"
        copied = self._copied.setdefault((*self._selected, dest), set())
        unsure = self._unsure.setdefault(self._selected, set())
        todo = [u for u in uids if u not in copied]
        doubt = [u for u in todo if u in unsure]
        if doubt:
            there = self._copies_in(client, doubt, dest)
            copied.update(there)
            unsure.difference_update(doubt)
            todo = [u for u in todo if u not in there]
        if todo:
            unsure.update(todo)  # until its answer comes: lost with the connection, who knows
            try:
                client.copy(_uid_set(todo), dest)
            except IMAPClientError as exc:
                if _refused(exc):  # a NO: nothing was copied
                    unsure.difference_update(todo)
                raise
            unsure.difference_update(todo)
            copied.update(todo)
            _fault_point("imap-after-copy")
        uid_set = _uid_set(uids)
        client.add_flags(uids, [b"\\Deleted"], silent=True)  # its reply parser wants a list
        _fault_point("imap-after-flag")
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uid_set)
        else:
            client.expunge()
        # Not forgotten here: an ignored EXPUNGE says OK. _forget_gone forgets them.

    def _copies_in(self, client: IMAPClient, uids: list[int], dest: str) -> set[int]:
        """The UIDs of the selected folder that have a copy in ``dest`` already: the same
        header, size and INTERNALDATE (a COPY keeps them all). The Message-ID narrows the
        search where there is one; without it size and date do, and the header decides.
        Each copy found answers for one message only (two equal ones may both be there)."""
        assert self._selected is not None
        folder, uidvalidity = self._selected
        source = client.fetch(uids, ["BODY.PEEK[HEADER]", "INTERNALDATE", "RFC822.SIZE"])
        try:
            client.select_folder(dest, readonly=True)
        except IMAPClientError as exc:
            if not _refused(exc):
                raise
            source = {}  # no such folder (yet): no copy there; the source is selected again
        try:
            found = _matching_copies(client, uids, source)
        except IMAPClientError as exc:
            # A SEARCH or FETCH the destination refused: the source is selected again before
            # the error goes on, or the pass's next commands (STORE, EXPUNGE) would name the
            # destination's messages. Where that fails too, the connection starts afresh.
            try:
                self._select(client, folder)
            except IMAPClientError as again:
                raise IMAPClientAbortError(f"cannot select {folder} again: {again}") from exc
            raise
        if self._select(client, folder)[0] != uidvalidity:  # the UIDs name other messages now
            raise IMAPClientAbortError(f"UIDVALIDITY of {folder} changed during a move")
        if found:
            log.info(
                "imap: %d messages of %s were in %s already (copied before a restart or a"
                " lost answer); not copied again",
                len(found),
                self.mailbox_key(folder),
                dest,
            )
        return found

    # -- state rows --------------------------------------------------------

    def _stored_uidvalidity(self, folder: str) -> int | None:
        row = self.desk.db.execute(
            "SELECT uidvalidity FROM imap_state WHERE mailbox = ?", [self.mailbox_key(folder)]
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def _record_contact(self, folder: str, uidvalidity: int, last_uid: int) -> None:
        """A pass that worked clears last_error, unless a destination still refuses moves
        of this folder's messages (another folder's refusal is on that folder's row)."""
        stamp = to_db(now())
        refusals = "; ".join(t for (source, _), t in self._refusals.items() if source == folder)
        with write_tx(self.desk.db) as db:
            db.execute(
                "INSERT INTO imap_state (mailbox, uidvalidity, last_uid, last_contact_at,"
                " last_error) VALUES (?, ?, ?, ?, ?) ON CONFLICT(mailbox) DO UPDATE SET"
                " uidvalidity = excluded.uidvalidity,"
                " last_uid = MAX(imap_state.last_uid, excluded.last_uid),"
                " last_contact_at = excluded.last_contact_at, last_error = excluded.last_error",
                [
                    self.mailbox_key(folder),
                    uidvalidity,
                    last_uid,
                    stamp,
                    f"{stamp} {refusals}" if refusals else None,
                ],
            )

    def _record_error(self, text: str, folders: Sequence[str] | None = None) -> None:
        """``text`` in the rows of ``folders``: of all the poller's, for a connection fault."""
        with write_tx(self.desk.db) as db:
            for folder in self.folders if folders is None else folders:
                db.execute(
                    "INSERT INTO imap_state (mailbox, last_error) VALUES (?, ?)"
                    " ON CONFLICT(mailbox) DO UPDATE SET last_error = excluded.last_error",
                    [self.mailbox_key(folder), f"{to_db(now())} {text}"],
                )

    # -- the daemon loop ---------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Catch up, then IDLE or poll until ``stop`` is set; faults are logged and retried."""
        delay = self.backoff_initial
        try:
            while not stop.is_set():
                self._contacted = False
                try:
                    self._serve(stop)
                    return
                except Exception as exc:
                    if self._contacted:  # it worked for a while: start the backoff afresh
                        delay = self.backoff_initial
                    self._fault(exc, delay)
                self.close()
                if stop.wait(delay):
                    return
                delay = min(delay * 2, self.backoff_cap)
        finally:
            self.close()

    def _serve(self, stop: threading.Event) -> None:
        self.run_once()
        self._contacted = True
        if self._failing is not None:
            where = f"{self.account}:{self.cfg.port}"
            log.warning("imap: %s works again after %d failed attempts", where, self._failures)
            self._failing, self._failures = None, 0
        while not stop.is_set():
            if self.waiting:
                self.await_outcomes(stop)
            elif self._wait_for_mail(stop):
                self.run_once()
        self._move_finished()

    def _move_finished(self) -> None:
        """On a graceful stop: move the messages that have their outcome now, not at the
        next start (they wait for a batch while others are pending). Pending ones stay."""
        client = self.client
        try:
            for folder, handed in self._handed.items():
                if client is None or not handed.rows:
                    continue
                if self._select(client, folder)[0] == handed.uidvalidity:
                    self._move_final(client, self._final(handed))
        except TRANSIENT_ERRORS as exc:
            log.info("imap: finished messages stay until the next start: %s", self._describe(exc))

    def _fault(self, exc: Exception, delay: float) -> None:
        """One log line per fault; a traceback only for what is not a server, network or
        storage fault.

        A fault that repeats (the server stays down, the disk stays full) is a WARNING
        (a storage fault: an ERROR) once and INFO for each retry after; its end is a
        WARNING again (see _serve)."""
        text = self._describe(exc)
        # A server that goes away is a dropped connection, then refused ones until it is
        # back: one outage, one WARNING (a review found two). A refused login or another
        # answer of the server's is news of its own.
        key = _UNREACHABLE if _unreachable(exc) else _fault_key(text)
        self._failures += 1
        if isinstance(exc, TRANSIENT_ERRORS):
            level = logging.INFO if key == self._failing else logging.WARNING
            log.log(level, "imap: %s; retrying in %g s", text, delay)
        elif storage_fault(exc):  # the database is full or failing: recording it fails too
            level = logging.INFO if key == self._failing else logging.ERROR
            log.log(level, "imap: %s; the mail stays in the folder; retrying in %g s", text, delay)
            self._failing = key
            return
        else:  # a bug: keep the thread alive, but show where
            log.error("imap: unexpected %s; retrying in %g s", text, delay, exc_info=exc)
        self._failing = key
        self._safe_record_error(text)

    def _describe(self, exc: BaseException) -> str:
        where = f"{self.account}:{self.cfg.port}"
        # imapclient wraps every error of LOGIN in LoginError, also the connection lost
        # meanwhile (a restarting server): that is no refusal of the password.
        if isinstance(exc, LoginError) and "socket error" not in str(exc):
            return f"login refused for {where}: {_one_line(exc)}"
        if isinstance(exc, ssl.SSLError):
            return f"TLS failed with {where}: {_one_line(exc)}"
        if isinstance(exc, TlsAtOnce):
            return (
                f"no IMAP greeting from {where}: the server speaks TLS at once:"
                ' use tls = "tls" for this port'
            )
        if isinstance(exc, (ConnectionRefusedError, socket.timeout)):
            return f"cannot reach {where}: {_one_line(exc)}"
        if storage_fault(exc):
            return f"cannot store mail of {where}: database: {_one_line(exc)}"
        return f"connection to {where} failed: {type(exc).__name__}: {_one_line(exc)}"

    def _safe_record_error(self, text: str, folders: Sequence[str] | None = None) -> None:
        try:
            self._record_error(text, folders)
        except Exception as exc:  # the database may be the fault; the log line still stands
            log.error("imap: cannot record error in imap_state: %s", exc)

    # -- waiting for mail --------------------------------------------------

    def _wait_for_mail(self, stop: threading.Event) -> bool:
        """Block until new mail may be there (True) or ``stop`` is set (False)."""
        client = self.connect()
        if not client.has_capability("IDLE"):
            return not stop.wait(self.cfg.poll_interval)
        return self._idle(client, stop)

    def _idle(self, client: IMAPClient, stop: threading.Event) -> bool:
        """IDLE on the main folder until it changes, ``stop``, or poll_interval passes.

        Leaving IDLE every poll_interval re-reads the extra folders and bounds
        the delay of any change IDLE did not report.
        """
        folder = self.cfg.folder
        info = client.select_folder(folder)
        if int(info.get(b"UIDNEXT", 0)) - 1 > self._seen_uid.get(folder, 0):
            return True  # arrived between the last catch-up and now: IDLE would not tell
        started = time.monotonic()
        limit = min(IDLE_RENEW_S, self.cfg.poll_interval)
        while not stop.is_set():
            # Each IDLE lasts one idle_wake. A change the server reports together with its
            # "+ idling" is read into imaplib's buffer with that line, where idle_check
            # (which polls the socket) never sees it; DONE's reply hands it over. Without
            # this a message arriving just then waited for poll_interval.
            client.idle()
            # On a fault we leave without DONE: the connection is dropped by run() anyway.
            changed = self._idle_step(client)
            _text, responses = client.idle_done()
            if changed or _announces_mail(responses):
                return True
            if time.monotonic() - started >= limit:
                return True
        return False

    def _idle_step(self, client: IMAPClient) -> bool:
        """One bounded wait in IDLE; True when the folder changed."""
        t0 = time.monotonic()
        responses = client.idle_check(timeout=self.idle_wake)
        for resp in responses:
            if len(resp) >= 1 and resp[0] == b"BYE":
                words = b" ".join(p for p in resp[1:] if isinstance(p, bytes))
                raise ConnectionLost(f"server said BYE: {words.decode(errors='replace')}")
        if not responses and time.monotonic() - t0 < self.idle_wake / 2:
            # idle_check swallows EOF and returns nothing at once: the server is gone.
            raise ConnectionLost("connection closed by the server during IDLE")
        return _announces_mail(responses)


def _matching_copies(client: IMAPClient, uids: list[int], source: dict[int, Any]) -> set[int]:
    """The UIDs among ``uids`` (their ``source`` FETCH data) with a copy in the folder now
    selected: the same header and INTERNALDATE; each copy answers for one message only."""
    found: set[int] = set()
    taken: set[int] = set()
    for uid in uids:
        data = source.get(uid)
        if data is None:
            continue  # expunged meanwhile
        header = bytes(data.get(b"BODY[HEADER]") or b"")
        when = data.get(b"INTERNALDATE")
        criteria = _copy_criteria(header, int(data.get(b"RFC822.SIZE") or 0), when)
        candidates = [int(u) for u in client.search(criteria) if int(u) not in taken]
        if not candidates:
            continue
        got = client.fetch(candidates, ["BODY.PEEK[HEADER]", "INTERNALDATE"])
        for cand in candidates:
            other = got.get(cand, {})
            same = bytes(other.get(b"BODY[HEADER]") or b"") == header
            if same and other.get(b"INTERNALDATE") == when:
                taken.add(cand)
                found.add(uid)
                break
    return found


def _copy_criteria(header: bytes, size: int, when: Any) -> list[Any]:
    """SEARCH criteria for a copy of a message: its exact size, a few days around its
    INTERNALDATE (SEARCH compares dates, in a zone of the server's choosing), and its
    Message-ID when it has one."""
    criteria: list[Any] = ["SMALLER", str(size + 1)]
    if size > 0:
        criteria += ["LARGER", str(size - 1)]
    if isinstance(when, datetime):
        criteria += ["SINCE", when.date() - timedelta(days=1)]
        criteria += ["BEFORE", when.date() + timedelta(days=2)]
    message_id = BytesHeaderParser().parsebytes(header).get("Message-ID")
    text = " ".join(str(message_id or "").split())
    if text and text.isascii():
        criteria += ["HEADER", "Message-ID", text]
    return criteria


def _announces_mail(responses: Iterable[Any]) -> bool:
    """Whether untagged responses report new messages (EXISTS, RECENT)."""
    return any(
        isinstance(r, tuple) and len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses
    )


def _refused(exc: IMAPClientError) -> bool:
    """Whether the server answered NO or BAD (imapclient raises the base class for that);
    its subclasses (abort, protocol errors) mean the connection itself is in doubt."""
    return type(exc) is IMAPClientError


def _garbled_refusal(exc: IMAPClientError) -> bool:
    """A NO that imaplib could not read as one: Dovecot 2.3.19 at times ends its "NO
    [OVERQUOTA]" to a COPY without CRLF ("unterminated line: b'A18 NO [OVERQUOTA] \\n'"),
    and imaplib gives the connection up (an abort) though the server refused one message."""
    return isinstance(exc, IMAPClientAbortError) and bool(_GARBLED_NO.search(str(exc)))


_GARBLED_NO = re.compile(r"unterminated line: b'\S+ NO \[")


# Response codes (RFC 5530; TRYCREATE, RFC 3501) of a refusal that holds for the whole
# destination: each message alone would be refused as well.
_WHOLE_REFUSALS = frozenset(
    {"NOPERM", "CANNOT", "NONEXISTENT", "TRYCREATE", "INUSE", "UNAVAILABLE", "CORRUPTION",
     "SERVERBUG"}
)  # fmt: skip
_RESPONSE_CODE = re.compile(r"\[([A-Z-]+)")


def _per_message(refusal: IMAPClientError) -> bool:
    """Whether a refused set may hold messages the destination takes alone: a quota one
    large message exceeds ([OVERQUOTA]), or an answer without a known code. A destination
    refusing everything had one MOVE per held message on every pass (212 commands at
    196 held)."""
    code = _RESPONSE_CODE.search(str(refusal).upper())
    return code is None or code.group(1) not in _WHOLE_REFUSALS


def _same_fault(text: str, other: str | None) -> bool:
    """Whether two fault texts name the same fault: Dovecot adds a time stamp and timings
    ("[2026-12-06 20:18:02] (0.002 + 0.000 secs)") to its answers, which made every retry
    of one fault a new WARNING."""
    return other is not None and _fault_key(text) == _fault_key(other)


def _fault_key(text: str) -> str:
    return _DIGITS.sub("#", _TIMINGS.sub("", text))


_UNREACHABLE = "server unreachable"  # the fault key of every connection fault


def _unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the server cannot be talked to (connection dropped, refused,
    timed out), as opposed to an answer of its (a refused login, a failed command), a TLS
    failure or a fault of our own."""
    if isinstance(exc, ssl.SSLError) or storage_fault(exc):
        return False
    if isinstance(exc, LoginError):  # imapclient's wrapper of every LOGIN error
        return "socket error" in str(exc)
    return isinstance(exc, (OSError, EOFError, IMAPClientAbortError))


_TIMINGS = re.compile(r"\(\d+\.\d+(?: \+ \d+\.\d+)* secs\)")  # as many terms as it likes
_DIGITS = re.compile(r"\d+")


def _trace_protocol(client: IMAPClient) -> None:
    """imaplib's protocol trace only while logger "imapclient.imaplib" shows DEBUG lines.

    imapclient turns it on for every connection (debug level 5), and imaplib then formats
    each response before the logger drops it: the repr of every fetched message twice
    (once as it arrives, once more with its whole batch) and a line per regex match, 12%
    of the poller's CPU. Asked at every connect and pass, so a reload to DEBUG shows the
    trace from the next pass on."""
    debug = logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG)
    client._imap.debug = 5 if debug else 0


def _drop(client: IMAPClient) -> None:
    """Close the socket without a word to the server; it may be gone already."""
    with contextlib.suppress(Exception):
        client.shutdown()


def _one_line(value: Any) -> str:
    text = one_line(str(value))  # Dovecot's refusals may carry stray bytes
    # imaplib/imapclient hand the server's answer on as bytes or their repr:
    # b'[AUTHENTICATIONFAILED] Authentication failed.'
    quoted = _BYTES_REPR.fullmatch(text)
    return (quoted.group(2) if quoted else text)[:300]


_BYTES_REPR = re.compile(r"b(['\"])(.*)\1")


__all__ = ["FAULT_ENV", "ImapPoller"]
