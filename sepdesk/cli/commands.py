"""Every top-level command and group, in the order ``sepdesk --help`` lists them."""

from __future__ import annotations

import click

from sepdesk.cli.admin import backup, init, status
from sepdesk.cli.contracts import contracts
from sepdesk.cli.hotline import hotline
from sepdesk.cli.intake import ingest, quarantine
from sepdesk.cli.outbox import outbox
from sepdesk.cli.report import report
from sepdesk.cli.serve import serve
from sepdesk.cli.sla import sla
from sepdesk.cli.tickets import tickets_group as tickets

ALL: list[click.Command] = [
    init,
    serve,
    ingest,
    contracts,
    tickets,
    sla,
    hotline,
    outbox,
    quarantine,
    report,
    status,
    backup,
]
