"""``sepdesk report``: the anonymised SEP Customer Experience report."""

from __future__ import annotations

import click

from sepdesk.cli.common import FencedGroup


@click.group(cls=FencedGroup)
def report() -> None:
    """Reports."""
