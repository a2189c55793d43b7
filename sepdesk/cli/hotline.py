"""``sepdesk hotline import``: phone calls to tickets.

Output, chosen so a 100,000-row file neither floods a terminal nor is held in memory:

- text: one line per row (``line, call_uid, outcome, ticket, reason``) for the
  first ``TEXT_ROW_LIMIT`` rows; after that only ``rejected`` rows (the ones that need
  a person), then a summary line with counts per outcome;
- ``--json``: a JSON array with every row's record, streamed one record per line;
  the summary line goes to stderr so stdout stays valid JSON.

Exit 1 when any row was rejected (the summary line then goes to stderr) or the file
could not be read (one line on stderr).
"""

from __future__ import annotations

from pathlib import Path

import click

from sepdesk.cli.common import FencedGroup, get_desk, json_option, json_text
from sepdesk.errors import one_line
from sepdesk.hotline.importer import RowResult, import_file
from sepdesk.instants import now

TEXT_ROW_LIMIT = 1000
ALWAYS_SHOWN = ("rejected",)


@click.group(cls=FencedGroup)
def hotline() -> None:
    """Phone calls logged by the hotline."""


class _Printer:
    """Prints results as they come: JSON array items, or table lines with a cap.

    A reader that goes away (``| head``) must not stop the import halfway: the rows
    still go in and the rejects files are still written; printing stops, and the
    summary goes to stderr at the end.
    """

    def __init__(self, as_json: bool) -> None:
        self.as_json, self.count, self.hidden = as_json, 0, 0
        self.reader_gone = False

    def _echo(self, text: str, nl: bool = True) -> None:
        if self.reader_gone:
            return
        try:
            click.echo(text, nl=nl)
        except BrokenPipeError:
            self.reader_gone = True

    def __call__(self, result: RowResult) -> None:
        self.count += 1
        if self.as_json:
            prefix = "[\n  " if self.count == 1 else ",\n  "
            self._echo(prefix + json_text(result.record()), nl=False)
            return
        if self.count == 1:
            self._echo(f"{'line':>6}  {'call_uid':<20}  {'outcome':<10}  {'ticket':<14}  reason")
        if self.count > TEXT_ROW_LIMIT and result.outcome not in ALWAYS_SHOWN:
            self.hidden += 1
            return
        r = result
        # As emit's table: the call_uid and the reason (which quotes the file) are the
        # file's, whose control characters would drive the terminal.
        uid, reason = one_line(r.call_uid), one_line(r.reason)
        self._echo(
            f"{r.line:>6}  {uid:<20}  {r.outcome:<10}  {r.ticket or '-':<14}  {reason}".rstrip()
        )

    def finish(self) -> None:
        if self.as_json:
            click.echo("\n]" if self.count else "[]")
        elif self.hidden:
            click.echo(f"({self.hidden} further rows not listed; use --json for every row)")


@hotline.command("import")
@click.argument("file", type=click.Path(path_type=Path))  # a folder: a bad file (exit 1)
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@json_option
@click.pass_context
def hotline_import(ctx: click.Context, file: Path, dry_run: bool, as_json: bool) -> None:
    """Turn the phone calls in hotline log FILE (CSV) into tickets."""
    desk = get_desk(ctx, create=not dry_run)  # a dry run writes nothing, no database either
    printer = _Printer(as_json)
    summary = import_file(desk, file, now(), dry_run=dry_run, on_result=printer)
    if printer.reader_gone:
        # The rows and the rejects are in; the summary still reaches the terminal.
        click.echo(summary.text(), err=True)
        ctx.exit(1 if summary.rejected else 0)
    printer.finish()
    # On stderr with --json (stdout stays JSON), and whenever rows were rejected: the exit
    # code is then 1, and its one line on stderr is this one, naming the rejects file.
    click.echo(summary.text(), err=as_json or bool(summary.rejected))
    if summary.rejected:
        ctx.exit(1)
