"""``sepdesk serve``: run the daemon in the foreground (systemd Type=notify)."""

from __future__ import annotations

import logging
import sys

import click

from sepdesk.cli.common import get_settings


def setup_logging(level: str) -> None:
    # journald stamps time and unit; one line per event is enough.
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(levelname)s %(name)s: %(message)s",
    )
    # aiosmtpd logs every SMTP command at INFO; our own line per message says what matters.
    logging.getLogger("mail.log").setLevel(max(logging.WARNING, logging.getLogger().level))


@click.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """The daemon: SMTP receiver and/or IMAP poller, SLA timer, outbound sender, hotline spool."""
    from sepdesk.daemon.serve import serve as run

    settings = get_settings(ctx)
    setup_logging(settings.log.level)
    ctx.exit(run(settings, ctx.find_root().obj.get("config_path")))
