"""``sepdesk report``: the anonymised SEP Customer Experience report."""

from __future__ import annotations

from pathlib import Path

import click

from sepdesk.cli.common import FencedGroup, get_desk, non_empty_path
from sepdesk.instants import now


@click.group(cls=FencedGroup)
def report() -> None:
    """Reports."""


@report.command("sce")
@click.option(
    "--out",
    type=click.Path(),  # a folder or an unwritable place: a bad file (exit 1), said below
    default=None,
    callback=non_empty_path,
    help="Write the JSON report to this file (default: stdout).",
)
@click.pass_context
def sce(ctx: click.Context, out: str | None) -> None:
    """Anonymised SEP Customer Experience report of the participating customers (JSON)."""
    from sepdesk.reports.sce import build_report, render

    desk = get_desk(ctx)
    text = render(build_report(desk.db, desk.tz, now(), desk.settings.policy.current_version))
    if out is None:
        click.echo(text, nl=False)
        return
    path = Path(out)
    # Written beside the target and renamed, so a reader never sees half a report.
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:  # named as given: the admin never named the .partial file
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, out) from None
    click.echo(f"report written to {out}", err=True)
