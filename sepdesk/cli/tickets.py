"""``sepdesk tickets``: list, show, and the engineer's actions."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from sepdesk.cli.common import (
    LIMIT,
    FencedGroup,
    emit,
    get_desk,
    json_option,
    option_instant,
    write_raw,
)
from sepdesk.desk import Desk
from sepdesk.errors import InputError, NotFound
from sepdesk.instants import db_to_local, local_iso, now, to_db
from sepdesk.pipeline import commands as mail_commands
from sepdesk.sla.breach import ticket_breached
from sepdesk.tickets import actions
from sepdesk.tickets import store as tickets

# How the database writes an instant (sepdesk.instants.to_db): UTC, whole seconds.
_STORED_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")

LIST_COLUMNS = [
    "ticket_number",
    "call_id",
    "status",
    "severity",
    "customer_number",
    "due",
    "subject",
]


@click.group("tickets", cls=FencedGroup)
def tickets_group() -> None:
    """Tickets: list, show, and engineer actions."""


def _due_cell(local_iso: str | None) -> str:
    """The due instant for the table: ISO 8601 to the minute, with the desk's offset
    ("2026-11-02T10:42+01:00"; SPEC §3 prints every instant with its offset)."""
    return datetime.fromisoformat(local_iso).isoformat(timespec="minutes") if local_iso else "-"


def _filters(
    status: str | None,
    severity: int | None,
    customer: str | None,
    due_before: datetime | None,
) -> tuple[str, list[Any]]:
    """The WHERE clause of ``tickets list`` and its arguments."""
    where: list[str] = []
    args: list[Any] = []
    if status:
        where.append("status = ?")
        args.append(status)
    if severity:
        where.append("severity = ?")
        args.append(severity)
    if customer:
        where.append("customer_number = ?")
        args.append(customer)
    if due_before:
        where.append("first_response_due IS NOT NULL AND first_response_due < ?")
        args.append(to_db(due_before))
    return (" WHERE " + " AND ".join(where)) if where else "", args


@tickets_group.command("list")
@click.option("--status", type=click.Choice(tickets.STATUSES), default=None)
@click.option("--severity", type=click.IntRange(1, 4), default=None)
@click.option("--customer", default=None, help="Customer number.")
@click.option("--breached/--not-breached", default=None)
@click.option("--due-before", default=None, help="Only tickets due before this instant (ISO 8601).")
@click.option("--limit", type=LIMIT, default=None)
@json_option
@click.pass_context
def list_(
    ctx: click.Context,
    status: str | None,
    severity: int | None,
    customer: str | None,
    breached: bool | None,
    due_before: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Every ticket, newest first, unless filtered or limited."""
    before = option_instant(ctx, due_before, "--due-before") if due_before else None
    desk = get_desk(ctx)
    where, args = _filters(status, severity, customer, before)
    # Strictly newest first (SPEC §3): a bounced acknowledgement keeps its place and says
    # so in its status column; sorted to the top it had hidden the newest tickets.
    sql = f"SELECT * FROM tickets{where} ORDER BY received_at DESC, id DESC"
    if limit and breached is None:
        sql += f" LIMIT {int(limit)}"
    at = now()
    found: Iterable[dict[str, Any]] = desk.db.query(sql, args)
    if breached is not None:
        # Judged now by the one rule (sla.breach), not by the flag the SLA timer stores;
        # on the rows, before a record (with its messages) is built for any of them.
        found = [t for t in found if ticket_breached(t, at) is breached][:limit]
    rows = [tickets.record(desk.db, t, desk.tz, at) for t in found]
    if as_json:
        emit(ctx, rows)
        return
    for r in rows:
        r["due"] = _due_cell(r["first_response_due"])
        if r["delivery_failed"]:
            r["status"] += " (mail bounced)"
    emit(ctx, rows, LIST_COLUMNS, {"subject": 48})


@tickets_group.command("show")
@click.argument("ref")
@click.option(
    "--raw",
    is_flag=True,
    help="Write the raw mail of one of its incoming messages (attachments included).",
)
@click.option(
    "--message",
    "message_id",
    default=None,
    help="With --raw: the message by its number in the messages list (1 the first) or its"
    " message_id (default: the first incoming mail).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),  # a folder: a bad file (exit 1), as for backup
    default=None,
    help="With --raw: write the bytes to this file instead of stdout.",
)
@json_option
@click.pass_context
def show(
    ctx: click.Context,
    ref: str,
    raw: bool,
    message_id: str | None,
    out: Path | None,
    as_json: bool,
) -> None:
    """Show one ticket by ticket number or Call ID."""
    if (out is not None or message_id is not None) and not raw:
        raise click.UsageError("--message and --out go with --raw", ctx)
    desk = get_desk(ctx)
    ticket = tickets.find(desk.db, ref)
    if raw:
        write_raw(_raw_mail(desk, ticket, message_id), out, ticket["ticket_number"])
        return
    rec = tickets.record(desk.db, ticket, desk.tz, now())
    if not as_json:
        rec["events"] = [
            {
                "at": db_to_local(e["at"], desk.tz),
                "actor": e["actor"],
                "kind": e["kind"],
                "detail": _local_detail(e["detail"], desk.tz),
            }
            for e in desk.db.query(
                "SELECT * FROM events WHERE ticket_id = ? ORDER BY id", [ticket["id"]]
            )
        ]
    emit(ctx, rec)


def _raw_mail(desk: Desk, ticket: dict[str, Any], which: str | None) -> bytes:
    """The stored bytes of a ticket's incoming mail: an encrypted or attachment-only mail
    showed the team nothing and no command reached it (review finding). ``which``: the
    message's number in ``tickets show``'s list (1 the first), or its Message-ID; none:
    the first incoming mail."""
    rows = desk.db.execute(
        "SELECT m.direction, m.message_id, i.raw FROM messages m"
        " LEFT JOIN intake i ON i.id = m.intake_id WHERE m.ticket_id = ? ORDER BY m.at, m.id",
        [ticket["id"]],
    ).fetchall()
    number = ticket["ticket_number"]
    stored = [(n, mid, raw) for n, (way, mid, raw) in enumerate(rows, 1) if way == "in" and raw]
    if which is None:
        found = stored[:1]
    elif which.strip().isdigit():
        found = [r for r in stored if r[0] == int(which)]
    else:
        found = [r for r in stored if r[1] == which.strip().strip("<>")]
    if not found:
        name = f"message {which}" if which else "an incoming mail"
        raise NotFound(f"{number}: no stored mail for {name}")
    if len(found) > 1:  # a reused Message-ID (review finding: only the first was reachable)
        numbers = ", ".join(str(r[0]) for r in found)
        raise InputError(f"{number}: messages {numbers} have Message-ID {which}: give the number")
    return bytes(found[0][2])


def _local_detail(detail: str, tz: str) -> str:
    """An event's JSON detail with its stored UTC instants (e.g. due_changed) in the desk's offset."""
    values = json.loads(detail or "{}")
    if not isinstance(values, dict):
        return detail
    for key, value in values.items():
        if isinstance(value, str) and _STORED_INSTANT.fullmatch(value):
            values[key] = db_to_local(value, tz)
    return json.dumps(values, ensure_ascii=False)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


# How far --at may lie ahead of this machine's clock: another machine's, a little fast.
AHEAD_SLACK = timedelta(minutes=5)


def _not_ahead(ref: str, action: str, at: datetime, tz: str) -> None:
    """--at says when something happened. A time ahead of the clock (a typo in the year)
    had been taken: an accept dated next May held the customer's Call ID mail till then."""
    current = now().replace(microsecond=0)
    if at > current + AHEAD_SLACK:
        raise InputError(
            f"{ref}: cannot {action} at {local_iso(at.replace(microsecond=0), tz)}: that is"
            f" ahead of now ({local_iso(current, tz)}); --at says when it happened"
        )


def _action(name: str, help_text: str) -> click.Command:
    @click.pass_context
    def run(ctx: click.Context, ref: str, at: str | None) -> None:
        desk = get_desk(ctx)
        when = option_instant(ctx, at, "--at")
        _not_ahead(ref, name, when, desk.settings.desk.timezone)
        t = actions.apply(desk, ref, name, when, _actor())
        click.echo(
            f"{t['ticket_number']}: {t['status']}" + (f" ({t['call_id']})" if t["call_id"] else "")
        )

    cmd = click.command(name, help=help_text)(run)
    click.argument("ref")(cmd)
    click.option("--at", default=None, help="When it happened (ISO 8601); default now.")(cmd)
    return cmd


for _name, _help in (
    ("accept", "Accept ticket REF as a support call (gives it a Call ID)."),
    ("solve", "Mark ticket REF solved."),
    ("close", "Close ticket REF."),
    ("reopen", "Reopen a solved or closed ticket REF."),
    ("respond", "Record a first response given outside mail (e.g. by phone)."),
):
    tickets_group.add_command(_action(_name, _help))


@tickets_group.command("severity")
@click.argument("ref")
@click.argument("level", type=click.IntRange(1, 4))
@click.pass_context
def severity(ctx: click.Context, ref: str, level: int) -> None:
    """Set the severity of REF to LEVEL (1-4); the due time is recomputed from receipt."""
    desk = get_desk(ctx)
    t = actions.apply(desk, ref, "severity", now(), _actor(), level)
    due = db_to_local(t["first_response_due"], desk.tz)
    click.echo(f"{t['ticket_number']}: severity {t['severity']}, due {due or '-'}")


@tickets_group.command("assign")
@click.argument("ref")
@click.argument("who")
@click.pass_context
def assign(ctx: click.Context, ref: str, who: str) -> None:
    """Assign REF to engineer WHO: a staff address (in [desk] staff), name@domain."""
    if not who.strip():
        raise click.BadParameter("must not be empty", param_hint="WHO")
    # The rule of the mail command #assign, so both accept the same addresses.
    address, error = mail_commands.check_arg("assign", [who])
    if error or address is None:
        raise click.BadParameter(f"{who!r} is not a mail address (name@domain)", param_hint="WHO")
    t = actions.apply(get_desk(ctx), ref, "assign", now(), _actor(), address)
    click.echo(f"{t['ticket_number']}: assigned to {t['assigned_to']}")
