"""Customer matching and contract state: the pure rules, on short texts of our own."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepdesk.pipeline import rules
from sepdesk.pipeline.customers import (
    ContractIndex,
    ContractView,
    _license_tokens,
    contract_state,
    match_customer,
)


def _contract(
    number: str, contacts: tuple[str, ...], licences: tuple[str, ...] = ()
) -> ContractView:
    return ContractView(
        customer_number=number,
        customer_name=f"Firma {number}",
        level="business",
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        contacts=contacts,
        license_ids=licences,
        license_type="full",
    )


@pytest.fixture
def index() -> ContractIndex:
    return ContractIndex.build(
        [
            _contract("311111", ("@alpha-werke.de",), ("SL-AAAA-1111",)),
            _contract("322222", ("admin@beta-gmbh.de",), ("SL-BBBB-2222",)),
            _contract("333333", ("@partner-it.example",)),
            _contract("344444", ("@shared.example",)),
            _contract("355555", ("@shared.example",)),
        ]
    )


def _match(index: ContractIndex, text: str, sender: str = "x@unknown.example", subject: str = ""):
    return match_customer(index, subject=subject, text=text, sender=sender)


@pytest.mark.parametrize(
    "text",
    [
        "Kundennummer: 322222",
        "unsere Kunden-Nr. lautet 322222",
        "Kd.-Nr. 322222",
        "KdNr:322222",
        "SEP-Kundennr.: 322222",
        "Our customer no. 322222",
        "customer #322222",
        "Cust. no. 322222 (MSP)",
        "Customer ID: 322222",
    ],
)
def test_labelled_number_in_german_and_english(index: ContractIndex, text: str) -> None:
    m = _match(index, f"Hallo,\n{text}\nGruß")
    assert (m.customer_number, m.basis) == ("322222", "number")
    assert not m.verified_sender


@pytest.mark.parametrize(
    "text", ["Kunden-Nr: 322 222", "Kundennummer 322.222", "customer no. 322 222, thanks"]
)
def test_a_labelled_number_with_a_thousands_separator(index: ContractIndex, text: str) -> None:
    m = _match(index, f"Hallo,\n{text}\nGruß")
    assert (m.customer_number, m.basis) == ("322222", "number")


@pytest.mark.parametrize(
    "text",
    [
        "Wir haben 322 222 Dateien gesichert.",  # free text: a count, not a number of ours
        "Der Auftrag kostet 322.222 Euro.",
        "Kundennummer 322 22 und Kosten",  # not groups of three
        "Kundennummer 32.2222",
    ],
)
def test_separated_digits_are_no_customer_number_without_a_label(
    index: ContractIndex, text: str
) -> None:
    assert _match(index, text).customer_number is None


def test_a_huge_paste_is_read_at_its_ends_only(index: ContractIndex) -> None:
    """A 33 MB mail of pasted log lines took 24 s to match and classify. The desk reads a
    text's beginning and end (classify.bounded): the signature's number still counts, a
    number deep inside the paste does not (it made the match ambiguous)."""
    log_lines = "".join(
        f"10:{i % 60:02d} job {i} failed on drive D{i % 7}\n" for i in range(40_000)
    )
    middle = f"{log_lines}customer #311111 (their job, not ours)\n{log_lines}"
    m = _match(index, f"Hallo,\nunser Backup bricht ab:\n{middle}\nGruß\nKundennummer: 322222")
    assert (m.customer_number, m.basis) == ("322222", "number")


def test_number_in_subject_and_sender_verified(index: ContractIndex) -> None:
    m = _match(index, "Backup fails", sender="ADMIN@Beta-GmbH.de", subject="Customer number 322222")
    assert (m.customer_number, m.verified_sender) == ("322222", True)
    assert "subject" in m.reason


def test_phone_next_to_label_is_not_taken(index: ContractIndex) -> None:
    m = _match(index, "Kundennummer habe ich nicht zur Hand, Tel. 322222 oder 0171 555")
    assert m.customer_number is None


def test_hrb_and_order_numbers_are_not_customer_numbers(index: ContractIndex) -> None:
    text = "Amtsgericht Ulm HRB 322222\norder no. 311111\nTicket T-2026-322222"
    assert _match(index, text).customer_number is None


def test_unknown_labelled_number_falls_back_to_sender_domain(index: ContractIndex) -> None:
    m = _match(index, "Kundennummer 311112 (Tippfehler)", sender="it@alpha-werke.de")
    assert (m.customer_number, m.basis, m.verified_sender) == ("311111", "contact", True)


def test_domain_is_case_insensitive(index: ContractIndex) -> None:
    m = _match(index, "Hi", sender="Someone@ALPHA-Werke.DE")
    assert (m.customer_number, m.basis) == ("311111", "contact")


def test_single_address_registration_does_not_cover_the_domain(index: ContractIndex) -> None:
    assert _match(index, "Hallo", sender="other@beta-gmbh.de").customer_number is None


def test_partner_writing_for_end_customer_gets_the_end_customer(index: ContractIndex) -> None:
    m = _match(index, "customer number of our client: 311111", sender="ops@partner-it.example")
    assert (m.customer_number, m.basis, m.verified_sender) == ("311111", "number", False)


def test_end_customer_label_decides_between_two_numbers(index: ContractIndex) -> None:
    text = "Unsere Kundennummer: 333333\nKundennummer meines Kunden: 311111"
    assert _match(index, text, sender="ops@partner-it.example").customer_number == "311111"


def test_two_known_numbers_without_a_rule_are_ambiguous(index: ContractIndex) -> None:
    m = _match(index, "Kundennummer 311111 oder Kundennummer 322222?")
    assert m.customer_number is None and set(m.ambiguous) == {"311111", "322222"}


def test_sender_registered_for_two_customers_is_ambiguous(index: ContractIndex) -> None:
    m = _match(index, "Hello", sender="it@shared.example")
    assert m.ambiguous == ("344444", "355555")


def test_licence_id_matches(index: ContractIndex) -> None:
    m = _match(index, "Lizenz sl-bbbb-2222 läuft ab")
    assert (m.customer_number, m.basis) == ("322222", "license")


def test_unlabelled_known_number_counts_only_alone(index: ContractIndex) -> None:
    assert _match(index, "Vertrag 322222, bitte prüfen").customer_number == "322222"
    assert _match(index, "Fax 322222").customer_number is None


def test_number_only_in_quoted_history_ranks_below_sender(index: ContractIndex) -> None:
    text = "Danke!\n\n-----Original Message-----\nFrom: x\nKundennummer: 322222"
    assert _match(index, text, sender="a@alpha-werke.de").customer_number == "311111"


def test_no_match_says_why(index: ContractIndex) -> None:
    m = _match(index, "customer number 999999")
    assert (m.customer_number, m.basis) == (None, "none")
    assert "999999" in m.reason


def test_contract_state_boundaries() -> None:
    c = _contract("1", ())
    assert contract_state(c, date(2026, 1, 1)) == "current"
    assert contract_state(c, date(2026, 12, 31)) == "current"
    assert contract_state(c, date(2027, 1, 1)) == "expired"
    assert contract_state(c, date(2025, 12, 31)) == "none"  # not started yet
    assert contract_state(None, date(2026, 6, 1)) == "none"


def test_index_get(index: ContractIndex) -> None:
    assert index.get("311111") is not None and index.get("999") is None


def _period(start: date, end: date, level: str = "business") -> ContractView:
    return replace(_contract("400000", ("@periods.example",)), start=start, end=end, level=level)


def test_the_period_that_counts_on_a_day() -> None:
    """Current on its day (of overlapping ones the latest start); else the one that ended
    last (expired); else the first to come (none yet)."""
    y2026 = _period(date(2026, 1, 1), date(2026, 12, 31))
    y2027 = _period(date(2027, 1, 1), date(2027, 12, 31), "emergency")
    june = _period(date(2026, 6, 1), date(2026, 6, 30), "demo")
    y2029 = _period(date(2029, 1, 1), date(2029, 12, 31))
    index = ContractIndex.build([y2027, june, y2029, y2026])
    assert index.periods["400000"] == [y2026, june, y2027, y2029]
    expected = [
        (date(2025, 12, 31), y2026, "none"),
        (date(2026, 5, 31), y2026, "current"),
        (date(2026, 6, 15), june, "current"),
        (date(2026, 12, 8), y2026, "current"),  # the renewal imported in advance waits
        (date(2027, 1, 1), y2027, "current"),
        (date(2028, 3, 1), y2027, "expired"),  # between two periods
        (date(2029, 1, 1), y2029, "current"),
    ]
    for day, period, state in expected:
        assert index.on_day("400000", day) is period, day
        assert contract_state(index.on_day("400000", day), day) == state, day
    assert index.on_day("999", date(2026, 6, 1)) is None
    assert index.get("400000") is y2029  # the customer's fields: the latest period
    assert index.customers_of_sender("a@periods.example") == ("400000",)


@pytest.mark.parametrize(
    "text",
    [
        "We are the partner. End customer number: 311111. Our customer number 333333.",
        "Unsere Kundennummer 333333, Kundennummer des Endkunden: 311111",
    ],
)
def test_end_customer_label_marks_only_its_own_number(index: ContractIndex, text: str) -> None:
    m = _match(index, text, sender="ops@partner-it.example")
    assert (m.customer_number, m.ambiguous) == ("311111", ())


@pytest.mark.parametrize(
    "text",
    [
        "Wir betreuen als Partner (unsere SEP-Kundennummer 333333) die IT der Alpha Werke, "
        "die einen eigenen Supportvertrag bei Ihnen hat: SEP-Kundennummer 311111.",
        "We look after Alpha Werke (our customer no. 333333), which has its own support "
        "contract with you: customer no. 311111.",
    ],
)
def test_a_number_of_its_own_contract_is_the_end_customers(index: ContractIndex, text: str) -> None:
    m = _match(index, text, sender="ops@partner-it.example")
    assert (m.customer_number, m.ambiguous) == ("311111", ())


def test_a_customer_named_before_a_wrapped_label_is_the_end_customer(
    index: ContractIndex,
) -> None:
    text = (
        "Our own customer number with you is 333333, but that is only our NFR lab\n"
        "licence. This incident concerns our managed-services customer Alpha Werke AG, SEP "
        "customer\nnumber 311111 - please log it under their contract."
    )
    m = _match(index, text, sender="ops@partner-it.example")
    assert (m.customer_number, m.ambiguous) == ("311111", ())
    # "Customer Number:" names no customer of the writer's: two numbers stay ambiguous.
    two = "Our Customer Number: 333333. Customer Number: 311111."
    assert _match(index, two, sender="ops@partner-it.example").customer_number is None


def test_kunde_nr_is_a_label(index: ContractIndex) -> None:
    m = _match(index, "Kunde Nr. 311111", sender="someone@elsewhere.example")
    assert (m.customer_number, m.basis) == ("311111", "number")


def test_end_customer_word_before_a_colon_marks_the_label(index: ContractIndex) -> None:
    text = "Endkunde: Alpha Werke, Kd-Nr. 311111, unsere Kundennummer 333333"
    m = _match(index, text, sender="ops@partner-it.example")
    assert (m.customer_number, m.ambiguous) == ("311111", ())


_LICENSE_PLAIN = re.compile(
    r"(?<![\w-])[A-Z0-9]{2,}(?:-[A-Z0-9]{2,}){1,4}(?![\w-])", re.IGNORECASE
)  # the licence pattern without possessive quantifiers, as first written


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(["AB", "c3", "X", "12", "-", "--", " ", "_", "ſ", "K", "ä", ".", "\n"]),
        max_size=30,
    ).map("".join)
)
def test_licence_tokens_are_found_as_the_plain_pattern_finds_them(text: str) -> None:
    found = [m.span() for m in rules.LICENSE_TOKEN.finditer(text)]
    assert found == [m.span() for m in _LICENSE_PLAIN.finditer(text)]


_TOKEN_PIECES = ["SL", "4Q7M", "2291", "-", "--", " ", "_", "ä", "ſK", "x", "AB", ".", "\n", "9"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_TOKEN_PIECES), max_size=30).map("".join))
def test_licence_tokens_are_found_as_by_the_plain_pattern(text: str) -> None:
    """Licence tokens are looked for only before a hyphen between two letters or digits;
    they are the tokens a plain search finds, in order."""
    plain = [(m.span(), m.group()) for m in rules.LICENSE_TOKEN.finditer(text)]
    assert [(m.span(), m.group()) for m in _license_tokens(text)] == plain
    for odd in ("AB-CD-EF-GH-IJ-KL", "äSL-AB x_SL-AB SL-AB_", "2026-11-02 SL-4Q7M-2291,AB-CD"):
        plain = [(m.span(), m.group()) for m in rules.LICENSE_TOKEN.finditer(odd)]
        assert [(m.span(), m.group()) for m in _license_tokens(odd)] == plain


def test_a_signatures_cust_dot_is_a_label(index: ContractIndex) -> None:
    m = _match(index, "Regards,\nD. MacLeod\nSEP cust. 311111", sender="x@elsewhere.example")
    assert (m.customer_number, m.basis) == ("311111", "number")


_NUMBER_TOKEN_AS_WRITTEN = re.compile(r"(?<![\w+\-/.,])\d{5,8}(?![\w\-/]|[.:,]\d)")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 +-/.,:x\n", max_size=40))
def test_number_tokens_are_where_the_pattern_as_written_finds_them(text: str) -> None:
    assert [m.span() for m in rules.NUMBER_TOKEN.finditer(text)] == [
        m.span() for m in _NUMBER_TOKEN_AS_WRITTEN.finditer(text)
    ]
    for start in range(len(text)):  # search(rest) is asked from a label on
        found, written = (
            rules.NUMBER_TOKEN.search(text, start),
            _NUMBER_TOKEN_AS_WRITTEN.search(text, start),
        )
        assert (found and found.span()) == (written and written.span())
