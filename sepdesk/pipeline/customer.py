"""The contract side of a request: the matching index from the database, match and contract state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sepdesk.contracts import contracts_version
from sepdesk.desk import Desk
from sepdesk.pipeline.customers import (
    ContractIndex,
    ContractView,
    CustomerMatch,
    contract_state,
    match_customer,
)


@dataclass(frozen=True)
class CustomerFacts:
    match: CustomerMatch
    contract: ContractView | None
    state: str  # current | expired | none

    @property
    def level(self) -> str | None:
        return self.contract.level if self.contract else None


def contract_index(desk: Desk) -> ContractIndex:
    """The matching index, rebuilt only when the contracts table changed."""
    return versioned_index(desk)[1]


def versioned_index(desk: Desk) -> tuple[int, ContractIndex]:
    """The contracts version and the matching index built at it (one read of the version)."""
    version = contracts_version(desk.db)
    cached: tuple[int, ContractIndex] | None = desk._cache.get("contracts")
    if cached is None or cached[0] != version:
        cached = (version, _build_index(desk))
        desk._cache["contracts"] = cached
    return cached


def _build_index(desk: Desk) -> ContractIndex:
    views = [
        ContractView(
            customer_number=r["customer_number"],
            customer_name=r["customer_name"],
            level=r["level"],
            start=date.fromisoformat(r["start"]),
            end=date.fromisoformat(r["end"]),
            contacts=tuple(json.loads(r["contacts"])),
            license_ids=tuple(json.loads(r["license_ids"])),
            license_type=r["license_type"],
        )
        for r in desk.db.query("SELECT * FROM contracts")  # every period of every customer
    ]
    return ContractIndex.build(views)


def local_day(desk: Desk, at: datetime) -> date:
    return at.astimezone(ZoneInfo(desk.tz)).date()


def facts_for(
    desk: Desk,
    *,
    subject: str,
    text: str,
    sender: str,
    at: datetime,
    index: ContractIndex | None = None,
) -> CustomerFacts:
    """The customer a mail names and its contract state; ``index``: one the caller has at hand."""
    if index is None:
        index = contract_index(desk)
    match = match_customer(index, subject=subject, text=text, sender=sender)
    day = local_day(desk, at)
    contract = index.on_day(match.customer_number, day) if match.customer_number else None
    return CustomerFacts(match, contract, contract_state(contract, day))


def facts_for_number(desk: Desk, customer_number: str | None, at: datetime) -> CustomerFacts:
    """Contract facts for a known customer number (follow-ups, phone calls) on the day of ``at``."""
    index = contract_index(desk)
    day = local_day(desk, at)
    contract = index.on_day(customer_number, day) if customer_number else None
    basis = "number" if contract else "none"
    match = CustomerMatch(customer_number if contract else None, basis, "from the ticket", False)
    return CustomerFacts(match, contract, contract_state(contract, day))


def next_start(desk: Desk, customer_number: str, at: datetime) -> date | None:
    """The start of the customer's first period after the day of ``at`` (a renewal after a
    gap, a first contract still to come), or None."""
    day = local_day(desk, at)
    periods = contract_index(desk).periods.get(customer_number, ())
    return min((p.start for p in periods if p.start > day), default=None)
