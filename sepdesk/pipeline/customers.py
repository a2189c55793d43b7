"""Which customer a request belongs to, and whether that customer's contract is current.

Pure functions over a :class:`ContractIndex` (no I/O, no clock): the caller passes the
contracts, the mail's text and sender, and the day of receipt. A customer may hold several
contract periods (a renewal imported in advance, an overlap); who the customer is (name,
contacts, licences) comes from the latest, whether a contract is current from the period
that counts on the day (:func:`period_on`). Rules (patterns in ``rules``), in order of
strength:

1. a labelled customer number that is known ("Kundennummer: 104217", "customer #104217");
   two different ones are decided by an end-customer label, else they are ambiguous;
2. a known licence ID;
3. the sender among one customer's contacts (address, else ``@domain``; case-insensitive);
4. an unlabelled known number standing alone (not a phone, order, register number...).

A labelled number that is unknown (a typo) simply falls through to the sender.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date

from sepdesk.pipeline import rules
from sepdesk.pipeline.classify import bounded, own_text


@dataclass(frozen=True)
class ContractView:
    """One contract period of a customer; the customer's fields are alike in all of them
    (the import keeps them so: see sepdesk.contracts.import_csv)."""

    customer_number: str
    customer_name: str
    level: str  # business | emergency | demo
    start: date
    end: date  # already defaulted by the caller (see sepdesk.contracts.default_end)
    contacts: tuple[str, ...]  # lower-cased addresses or "@domain"
    license_ids: tuple[str, ...]
    license_type: str

    def has_contact(self, address: str) -> bool:
        """Whether ``address`` is one of this customer's registered contacts (the
        address itself, or its domain as ``@domain``; case-insensitive)."""
        address = address.strip().lower()
        domain = "@" + address.rpartition("@")[2]
        return any(c.strip().lower() in (address, domain) for c in self.contacts)


@dataclass(frozen=True)
class CustomerMatch:
    customer_number: str | None
    basis: str  # "number" | "license" | "contact" | "none"
    reason: str  # one human sentence: which label/where, or why none
    verified_sender: bool  # sender is a registered contact of the matched customer
    ambiguous: tuple[str, ...] = ()  # two+ known customers and no rule decides


@dataclass
class ContractIndex:
    """All contracts with lookups by number, licence ID, contact address and contact domain.

    ``by_number`` holds each customer's latest period (the customer's fields), ``periods``
    all of them by start.
    """

    by_number: dict[str, ContractView] = field(default_factory=dict)
    by_license: dict[str, str] = field(default_factory=dict)
    by_address: dict[str, list[str]] = field(default_factory=dict)
    by_domain: dict[str, list[str]] = field(default_factory=dict)
    periods: dict[str, list[ContractView]] = field(default_factory=dict)

    @classmethod
    def build(cls, contracts: Iterable[ContractView]) -> ContractIndex:
        index = cls()
        for c in contracts:
            index.periods.setdefault(c.customer_number, []).append(c)
        for periods in index.periods.values():
            periods.sort(key=lambda p: p.start)
            index._add(periods[-1])
        return index

    def _add(self, c: ContractView) -> None:
        self.by_number[c.customer_number] = c
        for lic in c.license_ids:
            self.by_license[lic.strip().upper()] = c.customer_number
        for contact in c.contacts:
            key = contact.strip().lower()
            table = self.by_domain if key.startswith("@") else self.by_address
            names = table.setdefault(key.lstrip("@"), [])
            if c.customer_number not in names:
                names.append(c.customer_number)

    def get(self, customer_number: str) -> ContractView | None:
        """The customer's latest period: who the customer is, not whether it is covered."""
        return self.by_number.get(customer_number)

    def on_day(self, customer_number: str, day: date) -> ContractView | None:
        """The customer's period that counts on ``day`` (see period_on)."""
        return period_on(self.periods.get(customer_number, ()), day)

    def customers_of_sender(self, sender: str) -> tuple[str, ...]:
        """Customers the sender is registered for: by exact address first, else by domain."""
        address = sender.strip().lower()
        if address in self.by_address:
            return tuple(self.by_address[address])
        domain = address.rpartition("@")[2]
        return tuple(self.by_domain.get(domain, ()))

    def is_contact(self, customer_number: str, sender: str) -> bool:
        contract = self.by_number.get(customer_number)
        return contract is not None and contract.has_contact(sender)


def period_on(periods: Sequence[ContractView], day: date) -> ContractView | None:
    """The period a customer's request on ``day`` is judged by: the current one (of
    overlapping ones, the latest start, the newer terms); else the one that ended last,
    so the customer reads as expired; else the first to come (contract_state: 'none').
    A renewal imported in advance replaced the running contract (review finding)."""
    current = [p for p in periods if p.start <= day <= p.end]
    if current:
        return max(current, key=lambda p: p.start)
    ended = [p for p in periods if p.end < day]
    if ended:
        return max(ended, key=lambda p: p.end)
    return min(periods, key=lambda p: p.start, default=None)


def contract_state(contract: ContractView | None, day: date) -> str:
    """'current' from start to end inclusive, 'expired' after the end, else 'none'.

    A contract that has not started yet gives 'none': on that day there is no contract
    (it has not expired either).
    """
    if contract is None or day < contract.start:
        return "none"
    return "current" if day <= contract.end else "expired"


# ----------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class _Labelled:
    number: str
    label: str
    end_customer: bool  # the label says it is the end customer's number


def labelled_numbers(text: str) -> list[_Labelled]:
    """Every number that directly follows a customer-number label, in text order."""
    found: list[_Labelled] = []
    for label in rules.CUSTOMER_LABEL.finditer(text):
        rest = text[label.end() : label.end() + 48]
        number = _first_number(rest)
        if not number:
            continue
        gap = rest[: number.start()]
        if not rules.LABEL_GAP.fullmatch(gap) or rules.NOT_A_CUSTOMER_NUMBER.search(gap):
            continue
        before = text[max(0, label.start() - 60) : label.start()]
        # Only the label's own phrase: "End customer no. X. Our customer no. Y" marks X alone.
        # A number ends a phrase too ("End customer no: X, our no: Y"); a colon does not, so
        # "Endkunde: Firma X, Kd-Nr. Y" still ties the label to the end customer.
        before = re.split(r"[.;\n](?:\s|$)|\d{4,}", before)[-1]
        around = before + text[label.start() : label.end()] + gap
        digits = _GROUP_SEPARATOR.sub("", number.group())
        found.append(_Labelled(digits, label.group().strip(), _is_end_customer(around)))
    return found


def _first_number(rest: str) -> re.Match[str] | None:
    """The first customer number after a label: a number token, or one written with a
    space or dot between groups of thousands ("Kunden-Nr: 104 217", "104.217"). Only
    here, right after a label: in free text such digits are prices, dates, counts."""
    number = rules.NUMBER_TOKEN.search(rest)
    grouped = _GROUPED_NUMBER.search(rest, 0, number.start() if number else len(rest))
    return grouped or number


# 5 to 8 digits in groups of three after the first, one kind of separator throughout;
# not part of a longer token (as NUMBER_TOKEN).
_GROUPED_NUMBER = re.compile(
    r"(?<![\w+\-/.,])(?=(?:\d[ .]?){5,8}(?![ .]?\d))\d{1,3}([ .])\d{3}(?:\1\d{3})?"
    r"(?![\w\-/]|[.:,]\d)"
)
_GROUP_SEPARATOR = re.compile(r"[ .]")


def _is_end_customer(context: str) -> bool:
    return bool(rules.END_CUSTOMER.search(context))


def unlabelled_known_numbers(index: ContractIndex, text: str) -> list[str]:
    """Known customer numbers standing alone (no phone, order, register word just before)."""
    found: list[str] = []
    for m in rules.NUMBER_TOKEN.finditer(text):
        if m.group() not in index.by_number or m.group() in found:
            continue
        line_start = text.rfind("\n", 0, m.start()) + 1
        before = text[max(line_start, m.start() - 24) : m.start()]
        if not rules.UNLABELLED_CONTEXT_BAD.search(before):
            found.append(m.group())
    return found


def license_customers(index: ContractIndex, text: str) -> list[str]:
    found: list[str] = []
    for m in _license_tokens(text):
        number = index.by_license.get(m.group().upper())
        if number and number not in found:
            found.append(number)
    return found


# A hyphen between two letters or digits on either side: every licence token holds one
# (its first). Opening with the hyphen, ``re`` finds it as fast as str.find.
_TOKEN_HYPHEN = re.compile(r"-(?<=[A-Z0-9]{2}-)(?=[A-Z0-9]{2})", re.IGNORECASE)


def _license_tokens(text: str) -> Iterator[re.Match[str]]:
    """``rules.LICENSE_TOKEN.finditer(text)``, tried only where a token can start: at the
    start of the word before such a hyphen (the token's lookbehind wants no word character
    before it, and the word up to the hyphen is its first group). ``re`` tried the token
    at every position of the text (~35 us per mail)."""
    pos = 0
    for hyphen in _TOKEN_HYPHEN.finditer(text):
        start = hyphen.start()
        while start > 0 and text[start - 1].isalnum():  # re's \w, but for "_" (never in a token)
            start -= 1
        if start < pos:  # inside the last token, or a word that started before it
            continue
        m = rules.LICENSE_TOKEN.match(text, start)
        if m:
            yield m
            pos = m.end()


# ----------------------------------------------------------------------------- matching


def match_customer(index: ContractIndex, *, subject: str, text: str, sender: str) -> CustomerMatch:
    """The customer a request belongs to, with the basis and one sentence saying why."""
    text = bounded(text)
    whole = f"{subject}\n{text}"
    forwarded = bool(rules.FORWARD_SUBJECT.match(subject or ""))
    own = f"{subject}\n{own_text(text, keep_outlook_blocks=forwarded)}"
    sender = sender.strip().lower()
    # The writer's own lines first; a number only in quoted history ranks below the sender.
    steps = (
        (_by_label, own),
        (_by_license, own),
        (_by_sender, own),
        (_by_label, whole),
        (_by_license, whole),
        (_by_unlabelled, own),
    )
    for decide, where in steps:
        result = decide(index, where, sender)
        if result is not None:
            return result
    return _none(index, whole, sender)


def _by_label(index: ContractIndex, text: str, sender: str) -> CustomerMatch | None:
    known = [n for n in labelled_numbers(text) if n.number in index.by_number]
    numbers = list(dict.fromkeys(n.number for n in known))
    if not numbers:
        return None
    if len(numbers) > 1:
        ends = list(dict.fromkeys(n.number for n in known if n.end_customer))
        if len(ends) != 1:
            return _ambiguous(index, numbers, sender, "several labelled customer numbers")
        numbers = ends
    chosen = next(n for n in known if n.number == numbers[0])
    place = "the subject" if chosen.number in text.split("\n", 1)[0] else "the text"
    why = f'labelled "{chosen.label}" in {place}'
    return _matched(index, chosen.number, "number", sender, why)


def _by_license(index: ContractIndex, text: str, sender: str) -> CustomerMatch | None:
    numbers = license_customers(index, text)
    if not numbers:
        return None
    if len(numbers) > 1:
        return _ambiguous(index, numbers, sender, "licence IDs of several customers")
    return _matched(index, numbers[0], "license", sender, "a registered licence ID is named")


def _by_sender(index: ContractIndex, text: str, sender: str) -> CustomerMatch | None:
    numbers = index.customers_of_sender(sender)
    if not numbers:
        return None
    if len(numbers) > 1:
        return _ambiguous(index, list(numbers), sender, "the sender is a contact of several")
    return _matched(
        index, numbers[0], "contact", sender, f"sender {sender} is a registered contact"
    )


def _by_unlabelled(index: ContractIndex, text: str, sender: str) -> CustomerMatch | None:
    numbers = unlabelled_known_numbers(index, text)
    if len(numbers) != 1:
        return None if not numbers else _ambiguous(index, numbers, sender, "several known numbers")
    return _matched(index, numbers[0], "number", sender, "a known customer number stands alone")


def _matched(index: ContractIndex, number: str, basis: str, sender: str, why: str) -> CustomerMatch:
    verified = index.is_contact(number, sender)
    return CustomerMatch(number, basis, f"customer {number}: {why}.", verified)


def _ambiguous(index: ContractIndex, numbers: list[str], sender: str, why: str) -> CustomerMatch:
    listed = ", ".join(numbers)
    return CustomerMatch(
        None, "none", f"ambiguous: {why} ({listed}); nothing decides.", False, tuple(numbers)
    )


def _none(index: ContractIndex, text: str, sender: str) -> CustomerMatch:
    unknown = [n.number for n in labelled_numbers(text) if n.number not in index.by_number]
    why = f"labelled number {unknown[0]} is unknown and " if unknown else "no known number and "
    return CustomerMatch(None, "none", f"{why}sender {sender or '?'} is not a contact.", False)
