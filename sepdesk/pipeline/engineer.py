"""An authenticated engineer's mail on a ticket: commands at the top, the rest relayed."""

from __future__ import annotations

from sepdesk.pipeline.work import Work


def handle_engineer_mail(work: Work) -> None:
    if work.thread is None:
        work.finish("ignored", f"staff mail from {work.staff} names no ticket")
        return
    work.finish("follow_up", f"staff mail on {work.thread['ticket_number']} (stored)", work.thread)
