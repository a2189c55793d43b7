"""``sepdesk ingest`` and ``sepdesk quarantine``: mail files in, and mail that could not be processed."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from sepdesk.cli.common import (
    ROW_ID,
    FencedGroup,
    echo_one_line,
    emit,
    fail,
    get_desk,
    json_option,
    option_instant,
    write_raw,
)
from sepdesk.errors import InputError, one_line
from sepdesk.instants import db_to_local
from sepdesk.intake.files import ingest_file
from sepdesk.pipeline import runner
from sepdesk.pipeline.parse import header_identity


@click.command()
# A folder among FILES is a file that cannot be read (outcome error, exit 1), not a usage
# error that keeps the other files out.
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--received-at",
    default=None,
    help="Received time (ISO 8601; naive = desk timezone, a date alone its midnight),"
    ' or "header" for each file\'s Date.',
)
@json_option
@click.pass_context
def ingest(
    ctx: click.Context, files: tuple[str, ...], received_at: str | None, as_json: bool
) -> None:
    """Feed raw RFC 5322 FILES through the pipeline; one record per file."""
    when: str | datetime | None = received_at
    if received_at and received_at != "header":
        when = _received_at(ctx, received_at)  # usage errors first
    desk = get_desk(ctx, create=True)
    records, failed = [], False
    for name in files:
        try:
            rec = ingest_file(desk, Path(name), when)
            records.append(rec.__dict__)
        except (InputError, sqlite3.Error) as exc:
            # The record keeps the report one per file; the error is also said where
            # every error goes (SPEC §3: one line on stderr naming the file). A database
            # error too: it stopped the run, and the records of the files already in
            # were never printed (review finding).
            why = str(exc) if isinstance(exc, InputError) else f"{name}: cannot store: {exc}"
            failed = True
            echo_one_line("sepdesk", why)
            records.append({"file": name, "outcome": "error", "ticket": None, "reason": why})
    emit(ctx, records, ["file", "outcome", "ticket", "reason"], {"reason": 70, "file": 50})
    if failed:
        ctx.exit(1)


def _received_at(ctx: click.Context, text: str) -> datetime:
    """--received-at: ISO 8601, nothing looser (the received time starts the SLA clock,
    picks the ticket number's year and the day the contract is judged on). Any instant
    is taken, a future one too: ingest replays and tests mail of any day (SPEC §3)."""
    return option_instant(ctx, text, "--received-at", iso_only=True)


@click.group(cls=FencedGroup)
def quarantine() -> None:
    """Mails that could not be processed."""


@quarantine.command("list")
@click.option(
    "--all", "show_all", is_flag=True, help="Released entries too, with the time of release."
)
@json_option
@click.pass_context
def quarantine_list(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List quarantined mails still waiting (--all: released ones too)."""
    desk = get_desk(ctx)
    waiting = "" if show_all else " WHERE released_at IS NULL"
    rows = []
    for r in desk.db.query(f"SELECT * FROM quarantine{waiting} ORDER BY id"):
        row = {
            "id": r["id"],
            "source": r["source"],
            "received_at": db_to_local(r["received_at"], desk.tz),
            "reason": r["reason"],
            "attempts": r["attempts"],
        }
        if show_all:
            row["released_at"] = db_to_local(r["released_at"], desk.tz)
        rows.append(row)
    columns = ["id", "source", "received_at", "reason", "attempts"]
    emit(ctx, rows, columns + ["released_at"] * show_all, {"reason": 80})


@quarantine.command("release")
@click.argument("quarantine_id", type=ROW_ID)
@click.pass_context
def quarantine_release(ctx: click.Context, quarantine_id: int) -> None:
    """Take quarantined mail ID off the list without processing it (its bytes are kept)."""
    runner.release(get_desk(ctx), quarantine_id)
    click.echo(
        f"quarantine #{quarantine_id}: released; its message stays stored"
        f" (sepdesk quarantine show {quarantine_id} --raw)"
    )


@contextmanager
def _own_report() -> Iterator[None]:
    """The pipeline's line per mail held back while the command says the outcome itself.

    Outside serve no logging is set up, and Python's last-resort handler printed that
    line (a WARNING for a quarantined mail) on stderr before the command's own error: two
    lines for one failure (SPEC §3: one). ERRORs, a bug's, still show.
    """
    pipeline = logging.getLogger("sepdesk.pipeline")
    level = pipeline.level
    pipeline.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        pipeline.setLevel(level)


@quarantine.command("retry")
@click.argument("quarantine_id", type=ROW_ID)
@click.pass_context
def quarantine_retry(ctx: click.Context, quarantine_id: int) -> None:
    """Put quarantined mail ID back through the pipeline."""
    desk = get_desk(ctx)
    with _own_report():
        result = runner.retry(desk, quarantine_id)
    attempts = runner.attempts_of(desk, result.intake_id)
    if result.state == "quarantined":
        # The request (process it) could not be done: exit 1, as SPEC §3 has it.
        line = f"failed again (attempt {attempts}), back in quarantine #{quarantine_id}"
        fail(f"quarantine #{quarantine_id}: {line}: {result.reason}")
    elif result.state == "pending":
        line = f"failed (attempt {attempts} of {runner.MAX_ATTEMPTS}), left for the pipeline"
        click.echo(f"quarantine #{quarantine_id}: {line} to try again; see the log")
    else:
        text = f"{result.outcome} {result.ticket or ''} {result.reason}"
        click.echo(f"quarantine #{quarantine_id}: {one_line(text)}")


@quarantine.command("show")
@click.argument("quarantine_id", type=ROW_ID)
@click.option("--raw", is_flag=True, help="Write the stored message bytes instead of the fields.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),  # a folder: a bad file (exit 1), as for backup
    default=None,
    help="With --raw: write the bytes to this file instead of stdout.",
)
@json_option
@click.pass_context
def quarantine_show(
    ctx: click.Context, quarantine_id: int, raw: bool, out: Path | None, as_json: bool
) -> None:
    """Show quarantined mail ID: its entry and what the pipeline did, or its bytes (--raw)."""
    if out is not None and not raw:
        raise click.UsageError("--out goes with --raw", ctx)
    desk = get_desk(ctx)
    entry = runner.quarantine_entry(desk, quarantine_id)
    data = bytes(entry["raw"] or b"")
    if raw:
        write_raw(data, out, f"quarantine #{quarantine_id}")
        return
    tz = desk.tz
    record = {
        "id": entry["id"],
        "intake_id": entry["intake_id"],
        "source": entry["source"],
        "source_ref": entry["source_ref"],
        "mail_from": entry["mail_from"],
        "from": header_identity(data)[1],  # the header's From (mail_from: the envelope's)
        "rcpt_to": json.loads(entry["rcpt_to"] or "[]"),
        "size": entry["size"],
        "message_id": entry["message_id"],
        "received_at": db_to_local(entry["received_at"], tz),
        "reason": entry["reason"],
        "attempts": entry["attempts"],
        "created_at": db_to_local(entry["created_at"], tz),
        "updated_at": db_to_local(entry["updated_at"], tz),
        "released_at": db_to_local(entry["released_at"], tz),
        "steps": json.loads(entry["steps"] or "[]"),
    }
    emit(ctx, record)
