"""``sepdesk sla``: deadlines, a ticket's clock, one timer pass, and the compliance report."""

from __future__ import annotations

import csv
import io

import click

from sepdesk.cli.common import (
    FencedGroup,
    emit,
    get_desk,
    get_settings,
    json_option,
    json_wanted,
    option_instant,
)
from sepdesk.instants import local_iso
from sepdesk.sla.calendar import SupportCalendar
from sepdesk.sla.deadlines import budget, first_response_due, schedule_for
from sepdesk.sla.explain import explain as explain_ticket
from sepdesk.sla.report import COLUMNS as REPORT_COLUMNS
from sepdesk.sla.report import compliance
from sepdesk.sla.timer import RECIPIENT_HINT, next_due, run_pass

CONTRACT_LEVELS = ("business", "emergency", "demo", "none")


@click.group(cls=FencedGroup)
def sla() -> None:
    """The SLA clock: deadlines, explanations, escalations and compliance."""


@sla.command()
@click.option("--severity", type=click.IntRange(1, 4), required=True, help="Severity 1-4.")
@click.option(
    "--contract",
    type=click.Choice(CONTRACT_LEVELS, case_sensitive=False),
    default=None,
    help="Contract level (default: none, i.e. by severity).",
)
@click.option("--from", "from_", required=True, help="Receipt instant, ISO 8601 (naive: desk tz).")
@json_option
@click.pass_context
def deadline(
    ctx: click.Context, severity: int, contract: str | None, from_: str, as_json: bool
) -> None:
    """Print when the first response is due.

    The instant is ISO 8601 with the offset of the desk's timezone; a naive
    --from is read in the desk's timezone.
    """
    settings = get_settings(ctx)
    level = None if contract in (None, "none") else contract.lower()
    received = option_instant(ctx, from_, "--from")
    cal = SupportCalendar.from_settings(settings)
    due = local_iso(first_response_due(cal, received, severity, level), settings.desk.timezone)
    if not as_json:
        click.echo(due)
        return
    record = {
        "received_at": local_iso(received, settings.desk.timezone),
        "severity": severity,
        "contract_level": level or "none",
        "schedule": schedule_for(severity, level).name,
        "budget_hours": budget(severity, level).total_seconds() / 3600,
        "first_response_due": due,
    }
    emit(ctx, record)


@sla.command()
@click.argument("ticket_id", metavar="ID")
@click.option(
    "--at",
    default=None,
    help="Judge the clock as known at this instant (default: now): later changes of"
    " severity or due are undone, later responses and escalations left out.",
)
@json_option
@click.pass_context
def explain(ctx: click.Context, ticket_id: str, at: str | None, as_json: bool) -> None:
    """Explain a ticket's SLA clock.

    ID is a ticket number or Call ID. Shows received, the open windows the
    budget runs through, the nights, weekends and holidays skipped, the due
    instant, the first response, breached, and the escalations fired.
    """
    desk = get_desk(ctx)
    emit(ctx, explain_ticket(desk, ticket_id, option_instant(ctx, at, "--at")))


@sla.command("run-once")
@click.option("--at", default=None, help="Fire what is due at this instant (default: now).")
@json_option
@click.pass_context
def run_once_cmd(ctx: click.Context, at: str | None, as_json: bool) -> None:
    """Fire the escalations due at an instant.

    Each warning, breach and reminder fires once; a second pass sends nothing
    twice. Prints how many escalations fired; those that had no recipient
    (no [desk] escalation_to, team_address or assignee) are counted on stderr
    (JSON: no_recipient).
    """
    desk = get_desk(ctx)
    done = run_pass(desk, option_instant(ctx, at, "--at"))
    if done.no_recipient:
        click.echo(
            f"sepdesk: warning: {done.no_recipient} of {done.fired} escalations had no"
            f" recipient and were not mailed; {RECIPIENT_HINT}",
            err=True,
        )
    if not as_json:
        click.echo(str(done.fired))
        return
    upcoming = next_due(desk.db, desk.settings)
    emit(
        ctx,
        {
            "fired": done.fired,
            "no_recipient": done.no_recipient,
            "next_due": local_iso(upcoming, desk.settings.desk.timezone),
        },
    )


@sla.command()
@click.option(
    "--at",
    default=None,
    help="Report as known at this instant (default: now): later tickets and responses are"
    " left out, later changes of severity or due (and reopenings) undone.",
)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header row.")
@json_option
@click.pass_context
def report(ctx: click.Context, at: str | None, as_csv: bool, as_json: bool) -> None:
    """Response-time compliance per month and severity.

    Counts, within SLA, breached, pending, and the median and 90th percentile
    response times in support hours of each ticket's schedule.
    """
    desk = get_desk(ctx)
    rows = compliance(
        desk.db, desk.calendar, desk.settings.desk.timezone, option_instant(ctx, at, "--at")
    )
    if as_csv and not json_wanted(ctx):
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=REPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    emit(ctx, rows, REPORT_COLUMNS)
