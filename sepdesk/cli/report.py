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
    _write_report(out, text)
    click.echo(f"report written to {out}", err=True)


def _write_report(out: str, text: str) -> None:
    """Write ``text`` to ``out``: a file is replaced whole, anything else written as it is."""
    path = Path(out)
    if path.exists() and not path.is_file():
        # /dev/stdout, a FIFO, a device (a folder: "Is a directory"). A rename replaced it
        # with a plain file: /dev/stdout became a file and the terminal got nothing.
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    # Written beside the target and renamed, so a reader never sees half a report; beside
    # the file a symlink names, which is replaced and the link kept.
    target = path.resolve()
    tmp = target.with_name(target.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:  # named as given: the admin never named the .partial file
        tmp.unlink(missing_ok=True)
        why = exc.strerror
        if exc.filename == str(tmp) and target.parent.is_dir():
            # Else "/proc/version: No such file or directory" for a file that exists.
            why = f"cannot create a file in {target.parent}: {why}"
        raise OSError(exc.errno, why, out) from None
