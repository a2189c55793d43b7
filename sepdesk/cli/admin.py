"""``sepdesk init``, ``status`` and ``backup``: the database and the desk's health."""

from __future__ import annotations

from typing import Any

import click

from sepdesk.cli.common import emit, get_desk, get_settings, json_option, non_empty_path
from sepdesk.desk import Desk
from sepdesk.store import schema_version


@click.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create or migrate the database."""
    settings = get_settings(ctx)
    desk = Desk.open(settings)
    try:
        click.echo(
            f"database {settings.database.path}: schema {', '.join(schema_version(desk.db))}"
        )
    finally:
        desk.close()


@click.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Health at a glance: intake, quarantine, outbox, IMAP, next escalation."""
    from sepdesk.reports.status import desk_status

    desk = get_desk(ctx)
    record = desk_status(desk)
    # Whole cells: an IMAP last_error cut to 60 characters ended at the timestamp and the
    # account, before the reason the admin runs status for (review finding).
    emit(ctx, record if as_json else _readable(record), nested_width=None)


def _readable(record: dict[str, Any]) -> dict[str, Any]:
    """Nested figures flattened for the key: value view (``--json`` keeps the structure)."""
    out = dict(record)
    pid = out.pop("serve_pid")
    running = f"running (pid {pid})" if pid else "running" if pid == 0 else "not running"
    out = {"at": out.pop("at"), "serve": running, **out}
    out["open_tickets_by_severity"] = " ".join(
        f"{sev}={n}" for sev, n in record["open_tickets_by_severity"].items()
    )
    if not record["imap"]:
        out.pop("imap")  # imap_enabled and imap_last_contact already say "none"
    if not record["escalation_recipients"]:
        from sepdesk.sla.timer import RECIPIENT_HINT

        out["escalation_recipients"] = f"none: only assignees get escalations; {RECIPIENT_HINT}"
    return out


@click.command()
# A folder: a bad file (exit 1), as for every other file argument.
@click.argument("file", type=click.Path(), callback=non_empty_path)
@click.pass_context
def backup(ctx: click.Context, file: str) -> None:
    """Write a consistent copy of the database to FILE (safe while serve runs)."""
    from sepdesk.store.backup import backup_to

    desk = get_desk(ctx, any_schema=True)  # also the old database before an upgrade's restart
    pages = backup_to(desk.db, file)
    click.echo(f"backup written to {file} ({pages} pages)")
