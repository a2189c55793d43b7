"""``sepdesk outbox list``, ``outbox retry`` and ``outbox dismiss``: mails queued and sent,
with state."""

from __future__ import annotations

import json

import click

from sepdesk.cli.common import LIMIT, ROW_ID, FencedGroup, emit, get_desk, json_option
from sepdesk.instants import db_to_local, now
from sepdesk.outbound.outbox import dismiss, requeue


@click.group(cls=FencedGroup)
def outbox() -> None:
    """Outgoing mail."""


@outbox.command("list")
@click.option("--state", type=click.Choice(["queued", "sent", "failed", "bounced"]), default=None)
@click.option("--limit", type=LIMIT, default=None, help="At most N mails, newest first.")
@json_option
@click.pass_context
def outbox_list(ctx: click.Context, state: str | None, limit: int | None, as_json: bool) -> None:
    """List mails queued and sent, newest first."""
    desk = get_desk(ctx)
    sql = (
        "SELECT o.*, t.ticket_number, d.at AS dismissed_at FROM outbox o"
        " LEFT JOIN tickets t ON t.id = o.ticket_id"
        " LEFT JOIN outbox_dismissals d ON d.outbox_id = o.id"
        + (" WHERE o.state = ?" if state else "")
        + " ORDER BY o.id DESC"
        + (f" LIMIT {int(limit)}" if limit else "")
    )
    rows = [
        {
            "id": r["id"],
            "to": json.loads(r["to_addrs"]),
            "subject": r["subject"],
            "kind": r["kind"],
            "ticket": r["ticket_number"],
            "state": r["state"],
            "attempts": r["attempts"],
            "message_id": r["message_id"],
            "in_reply_to": r["in_reply_to"],
            "created_at": db_to_local(r["created_at"], desk.tz),
            "sent_at": db_to_local(r["sent_at"], desk.tz),
            # Why the last attempt failed or who refused it, and when the next one is due.
            "last_error": r["last_error"],
            "next_attempt_at": db_to_local(r["next_attempt_at"], desk.tz)
            if r["state"] == "queued"
            else None,
            # A failed mail an admin dismissed: status no longer counts it.
            "dismissed_at": db_to_local(r["dismissed_at"], desk.tz),
        }
        for r in desk.db.query(sql, [state] if state else [])
    ]
    if not as_json:
        for r in rows:
            if r["dismissed_at"]:
                r["state"] += " (dismissed)"
    emit(ctx, rows, ["id", "state", "kind", "ticket", "to", "subject", "attempts"], {"subject": 50})


@outbox.command("retry")
@click.argument("outbox_id", type=ROW_ID)
@click.pass_context
def outbox_retry(ctx: click.Context, outbox_id: int) -> None:
    """Queue a failed mail again, now (after the relay or the address was fixed)."""
    requeue(get_desk(ctx).db, outbox_id, now())
    click.echo(f"outbox #{outbox_id}: queued again; the sender tries it at its next pass")


@outbox.command("dismiss")
@click.argument("outbox_id", type=ROW_ID)
@click.pass_context
def outbox_dismiss(ctx: click.Context, outbox_id: int) -> None:
    """Stop counting failed mail ID in status (seen to by hand); it stays failed."""
    dismiss(get_desk(ctx).db, outbox_id, now())
    click.echo(f"outbox #{outbox_id}: dismissed; status no longer counts it as failed")
