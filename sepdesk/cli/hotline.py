"""``sepdesk hotline import``: phone calls to tickets."""

from __future__ import annotations

import click

from sepdesk.cli.common import FencedGroup


@click.group(cls=FencedGroup)
def hotline() -> None:
    """Phone calls logged by the hotline."""
