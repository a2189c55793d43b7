"""What every command shares: loading the Desk once, printing records as a table or JSON, failing in one line."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from sepdesk import config
from sepdesk.desk import Desk
from sepdesk.errors import ConfigError, InputError, SepdeskError, one_line
from sepdesk.instants import now, parse_instant
from sepdesk.store import migrate, pending_migrations
from sepdesk.store.db import unwritable

F = TypeVar("F", bound=Callable[..., Any])

# A row id or LIMIT beyond SQLite's 64-bit integers cannot even be bound to a query
# (OverflowError, "datatype mismatch"): such a number is refused as a bad value.
ROW_ID = click.IntRange(max=2**63 - 1)
LIMIT = click.IntRange(min=1, max=2**63 - 1)


def non_empty_path(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """An empty FILE is the current directory to pathlib (".", no name to write to)."""
    if value is not None and not str(value):
        raise click.BadParameter("must not be empty", ctx=ctx, param=param)
    return value


MAX_ERROR_CHARS = 500  # of an error line: it echoes what it was given, which may be huge


def echo_one_line(where: str, message: str) -> None:
    """An error on stderr as one line, whatever the message holds (an exception's text
    may span several), its control characters shown as escapes (an ID given with
    terminal escape sequences would drive the terminal), and a huge value it echoes
    cut short: a 10,000-character ID made a 10,000-character line."""
    text = one_line(message)
    if len(text) > MAX_ERROR_CHARS:
        left_out = len(text) - MAX_ERROR_CHARS
        text = f"{text[:MAX_ERROR_CHARS]}... ({left_out} more characters)"
    click.echo(f"{where}: {text}", err=True)


class Failure(click.ClickException):
    """A request that could not be done: one line on stderr, exit 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        echo_one_line("sepdesk", self.format_message())


class ConfigFailure(Failure):
    """A bad configuration: one line naming file, section and key, exit 2."""

    exit_code = 2


def fail(message: str) -> NoReturn:
    """Stop the command: one line on stderr, exit 1."""
    raise Failure(message)


def get_settings(ctx: click.Context) -> config.Settings:
    root = ctx.find_root()
    obj = root.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = config.load(obj.get("config_path"))
        except ConfigError as exc:
            raise ConfigFailure(str(exc)) from None
    return obj["settings"]


def option_instant(
    ctx: click.Context, text: str | None, option: str, *, iso_only: bool = False
) -> datetime:
    """An ISO 8601 option value (naive: desk timezone), now when absent; ``iso_only``:
    no looser text (see instants.parse_instant).

    A malformed one is a usage error (exit 2), like any other bad option.
    """
    if text is None:
        return now()
    try:
        return parse_instant(text, get_settings(ctx).desk.timezone, option, loose=not iso_only)
    except InputError as exc:
        message = str(exc).removeprefix(f"{option}: ")
        raise click.BadParameter(message, ctx=ctx, param_hint=option) from None


def existing_database(settings: config.Settings) -> None:
    """Refuse to go on without the database: opening a missing one would create it empty.

    ``init``, ``serve`` and the commands that bring data in (``contracts import``,
    ``ingest``, ``hotline import`` but for a dry run) create the database; every other
    command works on the existing one, so a wrong or relative ``[database] path``
    fails here instead of reporting (or backing up) an empty desk.
    """
    path = Path(settings.database.path)
    if path.exists():
        return
    where = f" ({path.resolve()})" if not path.is_absolute() else ""
    if settings.source == config.Settings.source:
        fix = "or name the right one in a config file ([database] path, --config)"
    else:
        fix = f"or set [database] path in {settings.source}"
    fail(f"{path}: no such database{where}; create it with `sepdesk init` {fix}")


def get_desk(ctx: click.Context, create: bool = False, any_schema: bool = False) -> Desk:
    """The desk, opened once: on the existing database (see :func:`existing_database`),
    or, for a command that brings data in (``create``), on a new one if need be, as
    the samples' replay does: import the contracts, then ingest the mails.

    A database made here gets its schema; an existing one older than this sepdesk is
    refused (see :func:`current_schema`): only ``init`` and ``serve`` migrate it.
    ``any_schema`` (backup) takes it as it is.
    """
    obj = ctx.find_root().ensure_object(dict)
    if "desk" not in obj:
        settings = get_settings(ctx)
        new = create and not Path(settings.database.path).exists()
        if not create:
            existing_database(settings)
        try:
            desk = Desk.open(settings, migrate=new, any_schema=any_schema)
        except SepdeskError as exc:
            raise Failure(str(exc)) from None
        ctx.find_root().call_on_close(desk.close)
        if new:
            _say_created(settings.database.path)
        if not (new or any_schema):
            current_schema(desk, create)
        obj["desk"] = desk
    return obj["desk"]


def _say_created(path: str) -> None:
    """One line on stderr for a database a command made at a relative ``[database] path``:
    run from another directory, it names another file, and an import then filled a second
    desk without a word (review finding). An absolute path names the one desk: no line."""
    if not Path(path).is_absolute():
        where = f"{Path(path).resolve()}, from the working directory"
        click.echo(f"sepdesk: {path}: no database there, created a new one ({where})", err=True)


def current_schema(desk: Desk, create: bool = False) -> None:
    """Refuse a database whose schema is older than this sepdesk's.

    Right after an upgrade the old ``serve`` may still be running on it: a command that
    migrated the database then would change the schema under that daemon. ``serve``
    migrates when it starts, ``init`` when asked. A file with no schema at all (made
    empty, or an ``init`` killed before its first migration) is no older desk: a command
    that may create the database makes it there, the others say how.
    """
    pending = pending_migrations(desk.db)
    if pending and not desk.db["intake"].exists():
        if create:
            migrate(desk.db)  # under the write lock: a serve starting meanwhile waits
            return
        fail(
            f"{desk.settings.database.path}: the database has no schema yet (an empty file);"
            " create it with `sepdesk init`, or start `sepdesk serve`"
        )
    if pending:
        fail(
            f"{desk.settings.database.path}: the database schema is older than this sepdesk"
            f" ({len(pending)} migration(s) pending); restart `sepdesk serve`, which migrates"
            " it at start, or stop it and run `sepdesk init`"
        )


def json_wanted(ctx: click.Context) -> bool:
    c: click.Context | None = ctx
    while c is not None:
        if c.params.get("as_json"):
            return True
        c = c.parent
    return False


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print records as JSON.")(f)


def _cell(value: Any, width: int | None) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, (list, tuple)):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    # Values come from mail and files (a subject, a Message-ID, a call_uid): an ESC in
    # one drove the admin's terminal (click strips ANSI only when not a terminal).
    text = one_line(text)
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return text


# C1 controls (U+0080-U+009F; U+009B is a terminal's CSI, as ESC [ is): json.dumps
# escapes C0 controls, but with ensure_ascii=False it writes these raw (review finding).
_C1 = re.compile("[\x80-\x9f]")


def json_text(value: Any, indent: int | None = None) -> str:
    """``value`` as JSON for a terminal: non-ASCII text as it is, control characters
    escaped (C1 ones too)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=str)
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def emit(
    ctx: click.Context,
    records: Sequence[dict[str, Any]] | dict[str, Any],
    columns: Sequence[str] = (),
    widths: dict[str, int] | None = None,
    nested_width: int | None = 60,
) -> None:
    """Records as JSON (``--json``) or as an aligned table; a single dict as key: value lines,
    a list of dicts in it as indented lines of key=value cells, each cut to ``nested_width``
    (None: whole)."""
    if json_wanted(ctx):
        click.echo(json_text(records, indent=2))
        return
    if isinstance(records, dict):
        for key, value in records.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                click.echo(f"{key}:")
                for item in value:
                    click.echo(
                        "  " + "  ".join(f"{k}={_cell(v, nested_width)}" for k, v in item.items())
                    )
            else:
                click.echo(f"{key}: {_cell(value, None)}")
        return
    cols = list(columns) or (list(records[0].keys()) if records else [])
    widths = widths or {}
    rows = [[_cell(r.get(c), widths.get(c, 48)) for c in cols] for r in records]
    sizes = [max([len(c)] + [len(row[i]) for row in rows]) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(sizes[i]) for i, c in enumerate(cols)).rstrip())
    for row in rows:
        click.echo("  ".join(v.ljust(sizes[i]) for i, v in enumerate(row)).rstrip())


class UsageFailure(click.UsageError):
    """A usage error (bad option or argument, unknown command): one line, exit 2.

    click shows usage, a hint and the error on four lines; SPEC wants every error as
    one clear line naming the thing at fault.
    """

    def show(self, file: Any = None) -> None:
        where = self.ctx.command_path if self.ctx else "sepdesk"
        echo_one_line(where, f"{self.format_message()} (see {where} --help)")


def as_usage_failure(exc: click.UsageError) -> click.UsageError:
    """The usage error as one line; a group called bare keeps click's help (exit 2 too)."""
    if isinstance(exc, (UsageFailure, click.exceptions.NoArgsIsHelpError)):
        return exc
    return UsageFailure(exc.format_message(), exc.ctx)


def fenced(f: F) -> F:
    """The CLI's error fence: our errors become one line and exit 1, never a traceback."""

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except click.UsageError as exc:  # a subcommand's parsing, inside its group's invoke
            raise as_usage_failure(exc) from None
        except ConfigError as exc:
            raise ConfigFailure(str(exc)) from None
        except SepdeskError as exc:
            raise Failure(str(exc)) from None
        except BrokenPipeError:
            # The reader went away (`sepdesk tickets list | head -1`): click's main leaves
            # quietly, as Unix tools do, instead of "sepdesk: Broken pipe".
            raise
        except OSError as exc:
            name = f"{exc.filename}: " if exc.filename else ""
            raise Failure(f"{name}{exc.strerror or exc}") from None
        except sqlite3.DatabaseError as exc:
            # A database damaged past its first pages opens, then fails on a query:
            # "database disk image is malformed" is what the admin must see (and restore
            # from a backup, docs/operations.md), not a traceback ending in it.
            path = _database_path()
            raise Failure(f"{path}: {exc}{unwritable(path, exc)}") from None

    return wrapper  # type: ignore[return-value]


def _database_path() -> str:
    """The command's [database] path, for an error about the database."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx else None
    settings = obj.get("settings") if isinstance(obj, dict) else None
    return settings.database.path if settings else "database"


class FencedGroup(click.Group):
    """A group whose every subcommand runs inside :func:`fenced`."""

    def invoke(self, ctx: click.Context) -> Any:
        return fenced(super().invoke)(ctx)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:  # the root's own options are parsed here, before any invoke
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise as_usage_failure(exc) from None

    def group(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", FencedGroup)
        return super().group(*args, **kwargs)


def stderr(message: str) -> None:
    print(message, file=sys.stderr)


def write_raw(data: bytes, out: Path | None, what: str) -> None:
    """A customer's raw mail to stdout, or to ``out``: a new file readable by its owner
    only (0600, as a backup is) whatever the umask; an existing file keeps its mode."""
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as f:
        f.write(data)
    click.echo(f"{what}: {len(data)} bytes written to {out}")
