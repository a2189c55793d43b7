"""``sepdesk serve``: run the daemon in the foreground (systemd Type=notify)."""

from __future__ import annotations

import click

from sepdesk.cli.common import fail, get_settings
from sepdesk.daemon.lock import AlreadyServing, hold_serve_lock
from sepdesk.daemon.logs import setup_logging


@click.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """The daemon: SMTP receiver and/or IMAP poller, SLA timer, outbound sender, hotline spool."""
    from sepdesk.daemon.processes import PipelineProcesses, pipeline_process_count

    settings = get_settings(ctx)
    setup_logging(settings.log.level)
    # Started first, while this process has one thread: start() preloads the pipeline here
    # and forks, so each process is ready at once (processes.py). They wait for the
    # daemon's first wake-up before they use the database.
    processes = PipelineProcesses(settings, pipeline_process_count(settings))
    processes.start()
    # The lock is taken after the fork, so only this process holds it: a daemon killed
    # with SIGKILL frees it at once, however long its pipeline processes linger.
    try:
        lock = hold_serve_lock(settings.database.path)
    except AlreadyServing as exc:
        processes.shutdown(5)
        fail(str(exc))
    ctx.call_on_close(lock.close)
    from sepdesk.daemon.serve import serve as run

    ctx.exit(run(settings, ctx.find_root().obj.get("config_path"), processes))
