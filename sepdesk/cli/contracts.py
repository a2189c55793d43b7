"""``sepdesk contracts``: import, list, and SEP Customer Experience choices."""

from __future__ import annotations

from datetime import datetime

import click

from sepdesk import contracts as contract_store
from sepdesk.cli.common import FencedGroup, emit, get_desk, json_option
from sepdesk.instants import now


@click.group(cls=FencedGroup)
def contracts() -> None:
    """Maintenance contracts in and out."""


@contracts.command("import")
@click.argument("file", type=click.Path())  # a folder: a bad file (exit 1), as a missing one
@click.pass_context
def import_(ctx: click.Context, file: str) -> None:
    """Upsert contract periods (customer and start) from a CSV file (all rows or none)."""
    count = contract_store.import_csv(get_desk(ctx, create=True).db, file, now())
    click.echo(f"{file}: {count} contracts imported")


@contracts.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List every contract period."""
    rows = contract_store.list_contracts(get_desk(ctx).db)
    emit(
        ctx,
        rows,
        ["customer_number", "customer_name", "level", "start", "end", "license_type", "sce"],
    )


@contracts.command("remove")
@click.argument("customer")
@click.argument("start", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="START")
@click.pass_context
def remove(ctx: click.Context, customer: str, start: datetime) -> None:
    """Remove CUSTOMER's contract period that starts on START (YYYY-MM-DD)."""
    left = contract_store.remove_period(get_desk(ctx).db, customer, start.date(), now())
    click.echo(
        f"customer {customer}: contract period from {start.date().isoformat()} removed;"
        f" {left} period{'' if left == 1 else 's'} left"
    )


@contracts.command("sce")
@click.argument("customer")
@click.argument("choice", type=click.Choice(["yes", "no"]))
@click.pass_context
def sce(ctx: click.Context, customer: str, choice: str) -> None:
    """Record whether CUSTOMER takes part in the SEP Customer Experience report."""
    from sepdesk.reports.sce import participates

    license_type = contract_store.set_sce(get_desk(ctx).db, customer, choice, now())
    click.echo(f"customer {customer}: sce = {choice}")
    if choice == "no" and participates(license_type, choice):
        # Stored all the same (the licence type may change), but the operator must not
        # believe the customer has left the report.
        click.echo(
            f"customer {customer}: licence type {license_type} always takes part in the"
            f" SCE report; the choice has no effect while it is {license_type}"
        )
