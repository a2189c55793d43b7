"""``sepdesk ingest`` and ``sepdesk quarantine``: mail files in, and mail that could not be processed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from sepdesk.cli.common import FencedGroup, emit, get_desk, json_option, option_instant
from sepdesk.errors import InputError
from sepdesk.instants import db_to_local
from sepdesk.intake.files import ingest_file
from sepdesk.pipeline import runner


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--received-at",
    default=None,
    help='Received time (ISO 8601; naive = desk timezone), or "header" for each file\'s Date.',
)
@json_option
@click.pass_context
def ingest(
    ctx: click.Context, files: tuple[str, ...], received_at: str | None, as_json: bool
) -> None:
    """Feed raw RFC 5322 FILES through the pipeline; one record per file."""
    when: str | datetime | None = received_at
    if received_at and received_at != "header":
        when = option_instant(ctx, received_at, "--received-at")  # usage errors first
    desk = get_desk(ctx)
    records, failed = [], False
    for name in files:
        try:
            rec = ingest_file(desk, Path(name), when)
            records.append(rec.__dict__)
        except InputError as exc:
            failed = True
            records.append({"file": name, "outcome": "error", "ticket": None, "reason": str(exc)})
    emit(ctx, records, ["file", "outcome", "ticket", "reason"], {"reason": 70, "file": 50})
    if failed:
        ctx.exit(1)


@click.group(cls=FencedGroup)
def quarantine() -> None:
    """Mails that could not be processed."""


@quarantine.command("list")
@json_option
@click.pass_context
def quarantine_list(ctx: click.Context, as_json: bool) -> None:
    """List quarantined mails still waiting."""
    desk = get_desk(ctx)
    rows = [
        {
            "id": r["id"],
            "source": r["source"],
            "received_at": db_to_local(r["received_at"], desk.tz),
            "reason": r["reason"],
            "attempts": r["attempts"],
        }
        for r in desk.db.query("SELECT * FROM quarantine WHERE released_at IS NULL ORDER BY id")
    ]
    emit(ctx, rows, ["id", "source", "received_at", "reason", "attempts"], {"reason": 80})


@quarantine.command("retry")
@click.argument("quarantine_id", type=int)
@click.pass_context
def quarantine_retry(ctx: click.Context, quarantine_id: int) -> None:
    """Put quarantined mail ID back through the pipeline."""
    result = runner.retry(get_desk(ctx), quarantine_id)
    click.echo(
        f"quarantine #{quarantine_id}: {result.outcome} {result.ticket or ''} {result.reason}"
    )
