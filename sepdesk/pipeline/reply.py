"""The text of the one mail a customer gets per message: blocks chosen from facts. Pure.

Which blocks appear is decided here; their wording lives in
``sepdesk/templates/<lang>/``. Contract details appear only when the
recipient is a registered contact (``verified``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sepdesk.templates import greeting, render, severity_line, table


@dataclass(frozen=True)
class ReplyFacts:
    language: str
    ticket_number: str
    requester_name: str = ""
    call_id: str | None = None
    opened: str = "new"  # new | followup | reopened | linked
    linked_from: str | None = None
    severity: int | None = None
    due: str | None = None  # local ISO text, or None when no SLA clock runs
    due_passed: bool = False  # the due was over when the mail answered came in
    missing: tuple[str, ...] = ()
    unreadable: bool = False  # the message is encrypted or TNEF: nothing of it was read
    critical: bool = False
    old_versions: tuple[str, ...] = ()
    current_version: str = ""
    contract_state: str = "none"  # current | expired | none
    contract_level: str | None = None
    contract_end: str | None = None
    customer_number: str | None = None
    verified: bool = False
    ambiguous: bool = False
    emergency_used_by: str | None = None
    hotline: str = ""
    form_url: str = ""
    desk_name: str = ""
    extra: tuple[str, ...] = field(default=())


def _opening(f: ReplyFacts) -> list[str]:
    lang = f.language
    if f.opened == "followup":
        return [render(lang, "followup", ticket=f.ticket_number)]
    if f.opened == "reopened":
        return [render(lang, "reopened", ticket=f.ticket_number)]
    if f.opened == "linked":
        return [render(lang, "linked", ticket=f.ticket_number, old=f.linked_from)]
    return [render(lang, "opened", ticket=f.ticket_number)]


def _contract_blocks(f: ReplyFacts) -> list[str]:
    lang = f.language
    if f.emergency_used_by:
        if f.verified:
            return [
                render(
                    lang,
                    "emergency_used",
                    used=f.emergency_used_by,
                    form=f.form_url,
                    hotline=f.hotline,
                )
            ]
        # The contract's level and the call that used it are the customer's: anyone else
        # (who named the customer number) learns the ways to help that everyone learns.
        return [render(lang, "no_contract", form=f.form_url, hotline=f.hotline)]
    if f.ambiguous:
        # Asked which customer it is (review finding: a contact of several current customers
        # was told it had no contract): the answer settles the contract, and the clock.
        return []
    if f.contract_state == "current":
        if f.verified and f.contract_end:
            return [
                render(
                    lang,
                    "contract",
                    level=f.contract_level,
                    customer=f.customer_number,
                    end=f.contract_end,
                )
            ]
        return []
    blocks = []
    if f.contract_state == "expired" and f.verified:
        blocks.append(render(lang, "expired", customer=f.customer_number, end=f.contract_end))
    blocks.append(render(lang, "no_contract", form=f.form_url, hotline=f.hotline))
    return blocks


def _work_blocks(f: ReplyFacts) -> list[str]:
    lang = f.language
    blocks = []
    if f.call_id:
        blocks.append(render(lang, "accepted", call_id=f.call_id))
    if f.severity and f.due and f.contract_state == "current" and not f.emergency_used_by:
        blocks.append(severity_line(lang, f.severity, f.due, f.due_passed))
    if f.ambiguous:
        blocks.append(render(lang, "ambiguous"))
    if f.unreadable:
        blocks.append(render(lang, "unreadable"))
    if f.missing:
        labels = table(lang, "fields")
        items = "\n".join(f"- {labels.get(m, m)}" for m in f.missing)
        blocks.append(render(lang, "missing", items=items))
    if f.critical:
        blocks.append(render(lang, "critical", hotline=f.hotline))
    if f.old_versions:
        blocks.append(
            render(
                lang, "old_version", versions=", ".join(f.old_versions), current=f.current_version
            )
        )
    return blocks


def reply_body(f: ReplyFacts) -> str:
    lang = f.language
    blocks = [greeting(lang, f.requester_name), *_opening(f), *_work_blocks(f)]
    blocks += [*_contract_blocks(f), *f.extra]
    blocks.append(render(lang, "closing", desk=f.desk_name))
    return "\n\n".join(b.strip() for b in blocks if b.strip()) + "\n"
