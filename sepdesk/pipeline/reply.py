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
    contract_next: str | None = None  # the start of the customer's next period, none current
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
    if f.contract_next and f.verified:
        # A renewal after a gap, or a first contract to come: "renew it" and "no contract
        # matched" told a customer on file the opposite of what was bought (review finding).
        customer, start = f.customer_number, f.contract_next
        if f.contract_state == "expired":
            said = render(lang, "renewal", customer=customer, end=f.contract_end, start=start)
        else:
            said = render(lang, "starts", customer=customer, start=start)
        return [said, render(lang, "expired_help", form=f.form_url, hotline=f.hotline)]
    if f.contract_state == "expired" and f.verified:
        # The contract found is named, so "no contract could be matched" after it said the
        # opposite (review finding): the ways to help follow as what to do until renewal.
        return [
            render(lang, "expired", customer=f.customer_number, end=f.contract_end),
            render(lang, "expired_help", form=f.form_url, hotline=f.hotline),
        ]
    return [render(lang, "no_contract", form=f.form_url, hotline=f.hotline)]


def _without_contract(f: ReplyFacts) -> bool:
    """Whether no contract covers the request (none current, or its emergency incident
    used): what is missing is then asked for once one does, after the contract blocks."""
    if f.ambiguous:
        return False
    return f.contract_state != "current" or bool(f.emergency_used_by)


def _missing(f: ReplyFacts) -> list[str]:
    """The list of missing information. Without a contract, a reply giving it alone
    changes nothing (the request stays unqualified): it is asked for once there is one,
    not as if the answer would get the request worked on (review finding)."""
    if not f.missing:
        return []
    labels = table(f.language, "fields")
    items = "\n".join(f"- {labels.get(m, m)}" for m in f.missing)
    name = "missing_no_contract" if _without_contract(f) else "missing"
    return [render(f.language, name, items=items)]


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
    if not _without_contract(f):
        blocks += _missing(f)
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
    blocks += _contract_blocks(f)
    if _without_contract(f):  # asked for once the contract blocks said how to get one
        blocks += _missing(f)
    blocks += f.extra
    blocks.append(render(lang, "closing", desk=f.desk_name))
    return "\n\n".join(b.strip() for b in blocks if b.strip()) + "\n"
