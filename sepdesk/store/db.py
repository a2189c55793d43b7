"""Opening the database: WAL, synchronous=FULL, busy timeout, migrations, write transactions.

Every thread that writes (SMTP handler, IMAP poller, runners, CLI) opens its
own connection with :func:`open_db` and writes inside :func:`write_tx`, which
takes the write lock up front (``BEGIN IMMEDIATE``) so two writers never
deadlock on a lock upgrade.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import sqlite3
import stat
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.utils import dedupe_keys

from sepdesk.errors import StoreError
from sepdesk.store.migrations import MIGRATIONS, known_migrations

BUSY_TIMEOUT_MS = 30_000
# Writers queue on a lock of our own before BEGIN IMMEDIATE: SQLite's busy handler polls
# with sleeps of up to 100 ms, while these locks hand over at once. Threads of one process
# share a threading.Lock; processes (serve's pipeline workers, the CLI) share an flock on
# "<database>.lock". SQLite's own locking stays the guarantee; this only makes it fair.
_WRITE_LOCKS: dict[str, _FileLock] = {}
_LOCKS_GUARD = threading.Lock()


class _FileLock:
    def __init__(self, path: str) -> None:
        self.path = path
        self.thread_lock = threading.Lock()
        self.fd: int | None = None
        self.pid = os.getpid()

    def _fd(self) -> int | None:
        if self.fd is None or self.pid != os.getpid():
            self.pid = os.getpid()
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self.fd = None  # a read-only folder: SQLite's locking alone still holds
        return self.fd

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.thread_lock:
            fd = self._fd()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)


def _write_lock(db: sqlite_utils.Database) -> _FileLock:
    lock = getattr(db, "_sepdesk_write_lock", None)
    if lock is None:
        path = db.execute("PRAGMA database_list").fetchone()[2] or f":memory:{id(db)}"
        with _LOCKS_GUARD:
            lock = _WRITE_LOCKS.setdefault(path, _FileLock(path + ".lock"))
        db._sepdesk_write_lock = lock  # type: ignore[attr-defined]
    return lock


class Database(sqlite_utils.Database):
    """sqlite-utils' Database with a lighter ``query`` for plain SELECTs and cheaper savepoints.

    sqlite-utils wraps every query in a savepoint so that a statement that turns
    out to write can be undone; a SELECT cannot write, and the pipeline and the
    importers run many small ones per message, so they skip that guard.
    """

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """sqlite-utils' ``atomic`` with one savepoint name for every nesting level.

        sqlite-utils names each savepoint anew, so each is a new statement to prepare and
        a new entry in the connection's statement cache, pushing out the statements the
        pipeline runs for every mail (a savepoint per row). RELEASE and ROLLBACK TO act on
        the innermost savepoint of a name, so strictly nested blocks can share one.
        """
        if not self.conn.in_transaction:
            _not_lost(self)
            with super().atomic():
                yield self
            return
        self.conn.execute("SAVEPOINT sepdesk")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:  # a RAISE(ROLLBACK) may have ended it already
                self.conn.execute("ROLLBACK TO SAVEPOINT sepdesk")
                self.conn.execute("RELEASE SAVEPOINT sepdesk")
            raise
        else:
            self.conn.execute("RELEASE SAVEPOINT sepdesk")

    def query(self, sql: str, params: Any = None) -> Generator[dict[str, Any], None, None]:
        if sql.lstrip()[:6].upper() != "SELECT":
            return super().query(sql, params)
        cursor = self.conn.execute(sql, params if params is not None else ())
        keys = dedupe_keys(d[0] for d in cursor.description)
        return (dict(zip(keys, row, strict=True)) for row in cursor)


def connect(path: str | Path) -> sqlite_utils.Database:
    """A connection with the pragmas every writer needs; no migrations."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        db = Database(conn, execute_plugins=False)
        _refuse_foreign(db, path)  # before the first write: WAL changes the file
        with db.ensure_autocommit_on():
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys=ON")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{path}: cannot open database: {exc}{unwritable(path, exc)}") from None
    return db


# SQLite's words when it may not write the file ("attempt to write a readonly database")
# or create its -wal and -shm beside it ("unable to open database file"): they name no cause.
_NOT_WRITABLE = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN})


def unwritable(path: str | Path, exc: BaseException) -> str:
    """Why this user cannot write the database, as a clause for ``exc``'s error line ("" when
    that is not the fault): the file, its -wal or -shm, or its folder that SQLite writes them
    to is read-only for this user (a CLI run as someone other than the desk's user) or on a
    read-only file system."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None or code & 0xFF not in _NOT_WRITABLE:
        return ""
    path = Path(path)
    files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    stuck = [f for f in files if f.exists() and not os.access(f, os.W_OK)]
    folder = path.parent
    if not stuck and not os.access(folder, os.W_OK | os.X_OK):
        stuck = [folder]
    if not stuck:
        return ""
    where = stuck[0]
    if os.statvfs(where).f_flag & os.ST_RDONLY:
        return f"; {where} is on a read-only file system"
    what = f"its folder {where}" if where == folder else f"{where}"
    info = where.stat()
    owner = _user_name(info.st_uid)
    return (
        f"; user {_user_name(os.geteuid())} has no write permission on {what} (owner {owner},"
        f" mode {stat.S_IMODE(info.st_mode):04o}): run the command as the desk's user"
        f" (runuser -u {owner} -- sepdesk ...)"
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (a container)
        return str(uid)


def _refuse_foreign(db: sqlite_utils.Database, path: Path) -> None:
    """Close ``db`` and raise StoreError when it has tables but no sepdesk migration ever
    ran on it: another program's file named as ``[database] path`` by mistake. Taken for
    a desk without a schema, it had its journal mode switched to WAL, and ``init`` left a
    table of migrations in it before failing on a table name it shares ("table contracts
    already exists").

    A new or empty file passes, and one an ``init`` killed before its first migration
    left with the table of migrations alone.
    """
    foreign = _foreign_tables(db)
    if not foreign:
        return
    db.close()
    shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if foreign[5:] else "")
    raise StoreError(
        f"{path}: not a sepdesk database (it has tables of its own: {shown}); check [database] path"
    )


def _foreign_tables(db: sqlite_utils.Database) -> list[str]:
    """The tables of ``db``, but none when a sepdesk migration ran on it."""
    names = [
        row[0]
        for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
        )
    ]
    table = MIGRATIONS.migrations_table
    ours = f"SELECT 1 FROM [{table}] WHERE migration_set = ? LIMIT 1"
    if table in names and db.execute(ours, [MIGRATIONS.name]).fetchone():
        return []
    return [name for name in names if name != table]


def unknown_migrations(db: sqlite_utils.Database) -> list[str]:
    """Migrations applied to this database that this sepdesk does not have: a newer
    release wrote it."""
    known = set(known_migrations())
    return [name for name in schema_version(db) if name not in known]


def pending_migrations(db: sqlite_utils.Database) -> list[str]:
    """The names of the migrations this database has not had yet."""
    return [m.name for m in MIGRATIONS.pending(db)]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending forward migrations; returns the names applied.

    Under the database's write lock: two processes migrating at once (``serve`` starting
    while ``init`` or an import that made the database runs) each read the same pending
    list and the second failed on what the first had just created ("duplicate column").
    """
    try:
        with _write_lock(db).held():
            pending = pending_migrations(db)  # the first read: a full disk may fail it already
            # sqlite-utils creates its table of migrations and then, apart, the table's
            # unique index: a crash between the two left the index missing for good.
            with db.atomic():
                MIGRATIONS.ensure_migrations_table(db)
            MIGRATIONS.apply(db)
    except sqlite3.Error as exc:
        path = db.execute("PRAGMA database_list").fetchone()[2] or ""
        raise StoreError(
            f"migration failed: {exc}{unwritable(path, exc) if path else ''}"
        ) from None
    return pending


def open_db(
    path: str | Path, *, migrate_schema: bool = True, any_schema: bool = False
) -> sqlite_utils.Database:
    """A connection (see :func:`connect`), its schema migrated (``migrate_schema``).

    A database a newer sepdesk wrote is refused unless ``any_schema`` (backup): this
    release does not understand its schema, and found nothing pending to migrate, so
    ``serve``, ``init`` and the rest went on with it silently.
    """
    db = connect(path)
    try:
        newer = [] if any_schema else unknown_migrations(db)
        if newer:
            raise StoreError(
                f"a newer sepdesk wrote this database (migrations this one does not know:"
                f" {', '.join(newer)}); run that release, or restore a backup taken before"
                " the upgrade"
            )
        if migrate_schema:
            migrate(db)
    except StoreError as exc:
        db.close()
        raise StoreError(f"{path}: {exc}") from None
    except sqlite3.Error as exc:
        db.close()
        raise StoreError(f"{path}: cannot open database: {exc}{unwritable(path, exc)}") from None
    return db


@contextmanager
def write_tx(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One write transaction taken with BEGIN IMMEDIATE; commit on success, rollback on error.

    Nested use becomes a savepoint (:meth:`Database.atomic`). SQLite may roll the whole
    transaction back itself on an error (a full disk, an I/O error): a nested use after
    that raises (see :func:`_not_lost`) instead of taking the write lock this thread holds.
    """
    if db.conn.in_transaction or getattr(db, "_sepdesk_writing", False):
        _not_lost(db)
        with db.atomic():
            yield db
        return
    with _write_lock(db).held():
        db.execute("BEGIN IMMEDIATE")
        db._sepdesk_writing = True  # type: ignore[attr-defined]
        try:
            yield db
        except BaseException:
            db.rollback()
            raise
        else:
            db.execute("COMMIT")
        finally:
            db._sepdesk_writing = False  # type: ignore[attr-defined]


def _not_lost(db: sqlite_utils.Database) -> None:
    """Raise when this thread's write transaction was rolled back under it.

    On SQLITE_FULL, SQLITE_IOERR and the like SQLite may cancel the whole transaction
    and the caller's fence may go on (the pipeline's row fence does). Going on then
    deadlocked on the write lock (a nested write_tx saw no transaction and took the
    lock again) or committed later work on its own, apart from what it belongs to.
    """
    if getattr(db, "_sepdesk_writing", False) and not db.conn.in_transaction:
        raise TransactionLost(
            "the write transaction was rolled back by an earlier error; nothing of it was committed"
        )


class TransactionLost(sqlite3.OperationalError):
    """SQLite rolled back the current write transaction on an error (disk full, I/O error)."""


_STORAGE_FAULTS = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
    }
)


def storage_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is the database's storage failing (full, read-only, I/O error, locked),
    not anything a message or a row brought: retry the work later, blame no input for it."""
    if isinstance(exc, TransactionLost):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _STORAGE_FAULTS


def insert_row(db: sqlite_utils.Database, table: str, values: dict[str, Any]) -> int:
    """INSERT one row (column -> SQL value); returns its id.

    Plain SQL rather than sqlite-utils' ``Table.insert``, which inspects and converts
    every value: the pipeline and importers write thousands of rows that are SQL already.
    """
    cur = db.execute(_insert_sql(table, tuple(values)), list(values.values()))
    return int(cur.lastrowid or 0)


SQL_VARIABLES = 999  # parameters per statement: the lowest limit an SQLite build may have


def insert_rows(db: sqlite_utils.Database, table: str, rows: list[dict[str, Any]]) -> None:
    """Multi-row INSERTs for rows that all have the keys of the first, in the same order.

    The statements sqlite-utils' ``insert_all`` builds (a third cheaper per row than an
    ``executemany`` of one-row INSERTs), without its inspection and conversion of every
    value: these rows are SQL values already. SQLite inserts the rows of one VALUES list
    in order, so ids follow the list.
    """
    cols = tuple(rows[0])
    per = max(1, SQL_VARIABLES // len(cols))
    for start in range(0, len(rows), per):
        chunk = rows[start : start + per]
        params = [value for row in chunk for value in row.values()]
        db.conn.execute(_insert_sql(table, cols, len(chunk)), params)


@cache
def _insert_sql(table: str, columns: tuple[str, ...], count: int = 1) -> str:
    marks = f"({', '.join('?' * len(columns))})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([marks] * count)}"


def schema_version(db: sqlite_utils.Database) -> list[str]:
    return [m.name for m in MIGRATIONS.applied(db)]


def holds_address(column: str) -> str:
    """SQL true when the JSON list of addresses in ``column`` holds the address bound to
    its ``?`` (compared lower-cased). A LIKE on the JSON text would take ``%`` and ``_``
    from a sender's words as wildcards, and miss addresses json.dumps escaped."""
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE lower(value) = lower(?))"
