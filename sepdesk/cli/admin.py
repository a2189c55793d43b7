"""``sepdesk init``, ``status`` and ``backup``: the database and the desk's health."""

from __future__ import annotations

import click

from sepdesk.cli.common import emit, get_desk, get_settings, json_option
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
    emit(ctx, desk_status(desk))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def backup(ctx: click.Context, file: str) -> None:
    """Write a consistent copy of the database to FILE (safe while serve runs)."""
    from sepdesk.store.backup import backup_to

    desk = get_desk(ctx)
    pages = backup_to(desk.db, file)
    click.echo(f"backup written to {file} ({pages} pages)")
