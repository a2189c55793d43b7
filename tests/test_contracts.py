"""The contracts CSV (SPEC §3): strict columns and fields, all rows or none, upsert rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sepdesk.contracts import (
    COLUMNS,
    contracts_version,
    default_end,
    import_csv,
    list_contracts,
    set_sce,
)
from sepdesk.desk import Desk
from sepdesk.errors import InputError
from sepdesk.intake.files import ingest_file
from sepdesk.pipeline.customer import facts_for_number
from sepdesk.pipeline.customers import ContractView, contract_state
from sepdesk.store import connect
from sepdesk.store.migrations import MIGRATIONS
from sepdesk.tickets import store as tickets
from tests.conftest import CONTRACTS, MAILS, T0, insert_contracts_before_m014, write_toml

HEADER = ",".join(COLUMNS)
GOOD = "100001,Alpha GmbH,business,2026-01-01,2026-12-31,it@alpha.example,L-1,full,"


def write(tmp_path: Path, *lines: str, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def refused(desk: Desk, path: Path) -> str:
    """The one-line error of an import that must write nothing."""
    with pytest.raises(InputError) as err:
        import_csv(desk.db, path, T0)
    assert list_contracts(desk.db) == []
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_a_good_file_goes_in(desk: Desk, tmp_path: Path) -> None:
    assert import_csv(desk.db, write(tmp_path, HEADER, GOOD), T0) == 1
    assert [c["customer_number"] for c in list_contracts(desk.db)] == ["100001"]


def test_a_row_with_an_extra_field_is_refused_by_line_and_field(desk: Desk, tmp_path: Path) -> None:
    path = write(
        tmp_path, HEADER, GOOD, "100002,Beta AG,demo,2026-02-01,,@beta.example,,DEMO,,oops"
    )
    message = refused(desk, path)
    assert "line 3, field 10" in message and "'oops'" in message


def test_a_row_with_a_field_too_few_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, "100002,Beta AG,demo,2026-02-01,,@beta.example,,DEMO")
    assert "line 2, field sce: missing" in refused(desk, path)


def test_an_unknown_column_is_named(desk: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",region", GOOD + ",north")
    assert "line 1: unknown column 'region'" in refused(desk, path)


def test_a_column_given_twice_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",sce", GOOD + ",")
    assert "line 1: column sce given twice" in refused(desk, path)


@pytest.mark.parametrize(("sep", "name"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_semicolon_separated_file_gets_a_hint(
    desk: Desk, tmp_path: Path, sep: str, name: str
) -> None:
    path = write(tmp_path, HEADER.replace(",", sep), GOOD.replace(",", sep))
    message = refused(desk, path)
    assert f"line 1: the columns are separated by {name}" in message
    assert "comma-separated" in message


def test_an_empty_file_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert "empty file" in refused(desk, path)
    path.write_bytes(b"\n" + "\n".join([HEADER, GOOD]).encode())
    assert "line 1: blank; the header row must be the first line" in refused(desk, path)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 5, 1), date(2027, 5, 1)),
        (date(2026, 12, 31), date(2027, 12, 31)),
        (date(2024, 2, 29), date(2025, 2, 28)),  # no 29 February next year
        (date(2027, 2, 28), date(2028, 2, 28)),
    ],
)
def test_an_empty_end_means_twelve_months_after_start(start: date, end: date) -> None:
    """SPEC §1: "A contract runs from start to end (default: 12 months after start)"."""
    assert default_end(start) == end


def test_an_imported_empty_end_covers_the_day_twelve_months_on(desk: Desk, tmp_path: Path) -> None:
    import_csv(
        desk.db, write(tmp_path, HEADER, "170146,Lumiere,business,2026-05-01,,@l.fr,,full,"), T0
    )
    (row,) = list_contracts(desk.db)
    assert (row["start"], row["end"]) == ("2026-05-01", "2027-05-01")
    view = ContractView(
        customer_number="170146",
        customer_name="Lumiere",
        level="business",
        start=date.fromisoformat(row["start"]),
        end=date.fromisoformat(row["end"]),
        contacts=(),
        license_ids=(),
        license_type="full",
    )
    assert contract_state(view, date(2027, 5, 1)) == "current"
    assert contract_state(view, date(2027, 5, 2)) == "expired"


def test_an_empty_sce_keeps_the_customers_choice(desk: Desk, tmp_path: Path) -> None:
    """SPEC: sce is yes, no or empty; the choice is set by `contracts sce`. A later file
    without a value must not wipe it."""

    def sce_after(line: str) -> str:
        import_csv(desk.db, write(tmp_path, HEADER, line), T0)
        return str(list_contracts(desk.db)[0]["sce"])

    assert sce_after(GOOD) == ""
    set_sce(desk.db, "100001", "yes", T0)
    assert sce_after(GOOD) == "yes"
    set_sce(desk.db, "100001", "no", T0)
    assert sce_after(GOOD.replace("Alpha GmbH", "Alpha AG")) == "no"
    assert list_contracts(desk.db)[0]["customer_name"] == "Alpha AG"  # the rest is updated
    assert sce_after(GOOD.removesuffix(",") + ",yes") == "yes"  # a value in the file counts
    assert sce_after(GOOD) == "yes"


def test_a_header_spaced_as_spec_writes_it_is_read(desk: Desk, tmp_path: Path) -> None:
    spaced = ", ".join(COLUMNS)
    assert import_csv(desk.db, write(tmp_path, spaced, GOOD), T0) == 1


def test_the_header_is_read_in_any_case_and_spacing_as_the_hotline_header_is(
    desk: Desk, tmp_path: Path
) -> None:
    """A spreadsheet's header ("Customer_Number", " LEVEL ") was refused as "unknown column
    'Customer_Number'" while the hotline import read its header in any case: both compare
    header cells by csvheader.column_key now. A BOM before it is dropped too."""
    header = ",".join(f" {c.title()} " if i % 2 else c.upper() for i, c in enumerate(COLUMNS))
    path = tmp_path / "c.csv"
    path.write_bytes(("\ufeff" + header + "\r\n" + GOOD + "\r\n").encode("utf-8"))
    assert import_csv(desk.db, path, T0) == 1
    assert list_contracts(desk.db)[0]["contacts"] == ["it@alpha.example"]


def test_columns_differing_only_in_case_are_one_column(desk: Desk, tmp_path: Path) -> None:
    """What is read as one column cannot be given twice; unknown ones keep their message."""
    assert "line 1: column sce given twice" in refused(
        desk, write(tmp_path, HEADER + ",SCE", GOOD + ",")
    )
    assert "line 1: unknown column 'region'" in refused(
        desk, write(tmp_path, HEADER + ", Region", GOOD + ",north")
    )
    assert "line 1: missing column license_type" in refused(
        desk, write(tmp_path, HEADER.replace(",license_type", ""), GOOD.replace(",full", ""))
    )


def test_malformed_csv_is_one_line_naming_the_line(desk: Desk, tmp_path: Path) -> None:
    import csv

    limit = csv.field_size_limit()
    csv.field_size_limit(100)  # an unclosed quote running on hits the field size limit
    try:
        path = write(tmp_path, HEADER, '100001,"Alpha' + "x" * 200, GOOD)
        assert "malformed CSV" in refused(desk, path)
    finally:
        csv.field_size_limit(limit)


def test_a_record_of_several_lines_is_named_by_all_of_them(desk: Desk, tmp_path: Path) -> None:
    """A stray quote runs on to the end: the fault is on the line it opened, not the last."""
    path = write(tmp_path, HEADER, GOOD, '100002,"Beta AG,demo,2026-02-01,,a@b.de,,DEMO,', GOOD)
    assert "line 3, field level: missing (2 fields" not in refused(desk, path)
    assert "lines 3-4, field level: missing (2 fields" in refused(desk, path)
    path = write(tmp_path, HEADER, '100002,"Beta\nAG",gold,2026-02-01,,a@b.de,,DEMO,', GOOD)
    assert "lines 2-3, field customer_name: control character" in refused(desk, path)
    path = write(tmp_path, HEADER, "", GOOD, "", GOOD.replace("full", "PRO"))
    assert ", line 5, field license_type" in refused(desk, path)  # blank lines counted


def test_blank_rows_and_line_broken_lists_go_in(desk: Desk, tmp_path: Path) -> None:
    """Excel's trailing ",,,,,,,," rows and a line of blanks refused the whole file; a
    contacts cell listing one address per line was refused as a control character
    (review finding). A line break in a name stays refused (test above)."""
    beta = '100002,Beta AG,business,2026-01-01,,"it@beta.example;\r\nops@beta.example",'
    path = write(tmp_path, HEADER, GOOD, ",,,,,,,,", "   ", beta + '"L-2\nL-3",full,', ",,,,,,,,")
    assert import_csv(desk.db, path, T0) == 2
    beta_row = list_contracts(desk.db)[1]
    assert beta_row["contacts"] == ["it@beta.example", "ops@beta.example"]
    assert beta_row["license_ids"] == ["L-2", "L-3"]


def test_a_byte_that_is_not_utf8_is_named_by_its_line(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "c8.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\n".encode() + b"100009,B\xfcckerei,business\n")
    assert refused(desk, path) == f"{path}, line 3: not UTF-8 (byte {len(HEADER) + len(GOOD) + 10})"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("100001,A,gold,2026-01-01,,a@x.de,,full,", "line 3, field level"),
        ("100001,A,business,2026-13-01,,a@x.de,,full,", "line 3, field start"),
        ("100001,A,business,01.01.2026,,a@x.de,,full,", "line 3, field start"),
        ("100001,A,business,2026-01-01,2025-12-31,a@x.de,,full,", "line 3, field end"),
        ("100001,A,business,2026-01-01,,a@x.de,,PRO,", "line 3, field license_type"),
        ("100001,A,business,2026-01-01,,a@x.de,,full,maybe", "line 3, field sce"),
        ("100001,A,business,2026-01-01,,someone,,full,", "line 3, field contacts"),
        (",A,business,2026-01-01,,a@x.de,,full,", "line 3, field customer_number"),
        # no end, and 12 months after the start is past the calendar: refused, no traceback
        ("100001,A,business,9999-06-01,,a@x.de,,full,", "line 3, field end"),
        # a NUL or another control character was stored (review finding)
        (
            "100001,A\x00B,business,2026-01-01,,a@x.de,,full,",
            "field customer_name: control character '\\x00'",
        ),
        (
            "100001,A,business,2026-01-01,,a@x.de,SL-1\x1b,full,",
            "line 3, field license_ids: control",
        ),
    ],
)
def test_a_bad_field_is_named_by_line_and_field(
    desk: Desk, tmp_path: Path, row: str, expected: str
) -> None:
    """SPEC §3: level, dates, license_type, sce and contacts are checked; nothing is written."""
    assert expected in refused(desk, write(tmp_path, HEADER, GOOD.replace("100001", "100009"), row))


def test_contacts_and_domains_are_matched_case_insensitively(desk: Desk, tmp_path: Path) -> None:
    line = "100001,Alpha GmbH,business,2026-01-01,,A.Person@Alpha.example;@Beta.Example,,CE,"
    import_csv(desk.db, write(tmp_path, HEADER, line), T0)
    (row,) = list_contracts(desk.db)
    assert (row["license_type"], row["end"]) == ("CE", "2027-01-01")
    from sepdesk.pipeline.customer import contract_index

    index = contract_index(desk)
    for sender in ("a.person@alpha.example", "someone@BETA.example"):
        assert index.customers_of_sender(sender) == ("100001",), sender
    assert index.customers_of_sender("other@alpha.example") == ()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_number", "\u00b2"),  # isdigit() says yes to a superscript two
        ("customer_number", "\u0661\u0662\u0663"),  # and to Arabic-Indic digits
        ("contacts", '"a@x.de,b@x.de"'),  # a list in one entry: matches neither
        ("contacts", "Anna Person <a@x.de>"),
        ("contacts", "a b@x.de"),
        ("contacts", "a@@x.de"),
        ("contacts", "a@x.de@y.de"),
        # What the parser never reads as a sender (sepdesk.mailbox, one rule for both).
        ("contacts", "a:b@x.de"),
        ("contacts", "a[1]@x.de"),
        ("contacts", "a@x..de"),
    ],
)
def test_a_value_that_can_never_match_is_refused(
    desk: Desk, tmp_path: Path, field: str, value: str
) -> None:
    """A customer number or contact that no mail or call can ever name would be taken in
    silently and match nobody: the customer's mail then gets "no contract" replies."""
    row = "100001,A,business,2026-01-01,,a@x.de,,full,"
    row = row.replace("100001" if field == "customer_number" else "a@x.de", value)
    assert f"line 2, field {field}" in refused(desk, write(tmp_path, HEADER, row))


@pytest.mark.parametrize("address", ["a[1]@x.de", "a@x..de", "a@", "a b@x.de", "a\\b@x.de"])
def test_contacts_callers_and_senders_share_one_mailbox_rule(address: str) -> None:
    """The importers checked addresses each their own way (contracts and hotline with
    two different character lists), looser than the parser: a contact it took in that
    the parser never reads from a From could equal no sender and matched nobody."""
    from sepdesk.contracts import _contact_ok
    from sepdesk.mailbox import is_mailbox  # the hotline's caller_email check
    from sepdesk.pipeline.parse import parse_mail

    raw = f"From: {address}\r\nTo: support@sep.example\r\nSubject: x\r\n\r\nbody\r\n"
    assert parse_mail(raw.encode()).from_addr == ""
    assert not _contact_ok(address)
    assert not is_mailbox(address)
    assert _contact_ok("a.b@x.de") and is_mailbox("a.b@x.de") and _contact_ok("@x.de")


# -- contract periods: a renewal or an overlap beside the running contract -------------------

RENEWAL = GOOD.replace("2026-01-01,2026-12-31", "2027-01-01,2027-12-31")


def _periods(desk: Desk) -> list[tuple[str, str, str, str]]:
    return [
        (c["customer_number"], c["level"], c["start"], c["end"]) for c in list_contracts(desk.db)
    ]


def test_a_renewal_imported_in_advance_is_a_period_beside_the_running_one(
    desk: Desk, tmp_path: Path
) -> None:
    """Review finding: the renewal overwrote the running contract, one row per customer."""
    import_csv(desk.db, write(tmp_path, HEADER, GOOD), T0)
    import_csv(desk.db, write(tmp_path, HEADER, RENEWAL, name="renewal.csv"), T0)
    assert _periods(desk) == [
        ("100001", "business", "2026-01-01", "2026-12-31"),
        ("100001", "business", "2027-01-01", "2027-12-31"),
    ]
    # The same customer and start is the same period: level and end are updated.
    import_csv(desk.db, write(tmp_path, HEADER, GOOD.replace("business", "emergency")), T0)
    assert _periods(desk)[0] == ("100001", "emergency", "2026-01-01", "2026-12-31")
    assert len(_periods(desk)) == 2


def test_one_file_may_hold_several_periods_of_a_customer_but_not_one_twice(
    desk: Desk, tmp_path: Path
) -> None:
    overlap = GOOD.replace("2026-01-01,2026-12-31", "2026-06-01,2026-06-30")
    assert import_csv(desk.db, write(tmp_path, HEADER, GOOD, RENEWAL, overlap), T0) == 3
    assert [p[2] for p in _periods(desk)] == ["2026-01-01", "2026-06-01", "2027-01-01"]
    twice = GOOD.replace("2026-12-31", "2027-03-31")
    message = refused_in(desk, write(tmp_path, HEADER, RENEWAL, GOOD, twice, name="twice.csv"))
    assert "line 4, field start: duplicate 100001 from 2026-01-01" in message


def refused_in(desk: Desk, path: Path) -> str:
    """The one-line error of an import that must leave the contracts as they were."""
    before = list_contracts(desk.db)
    with pytest.raises(InputError) as err:
        import_csv(desk.db, path, T0)
    assert list_contracts(desk.db) == before
    return str(err.value)


def test_the_customers_fields_come_from_the_latest_period_of_the_file(
    desk: Desk, tmp_path: Path
) -> None:
    """Name, contacts, licences, licence type and the SCE choice are the customer's: the
    row with the latest start wins, on every period; an empty sce keeps the choice."""
    import_csv(desk.db, write(tmp_path, HEADER, GOOD), T0)
    set_sce(desk.db, "100001", "yes", T0)
    renamed = RENEWAL.replace("Alpha GmbH", "Alpha AG").replace("it@alpha.example", "@alpha.de")
    import_csv(desk.db, write(tmp_path, HEADER, renamed, GOOD, name="both.csv"), T0)
    rows = list_contracts(desk.db)
    assert [(r["customer_name"], r["contacts"], r["sce"]) for r in rows] == [
        ("Alpha AG", ["@alpha.de"], "yes"),
        ("Alpha AG", ["@alpha.de"], "yes"),
    ]
    set_sce(desk.db, "100001", "no", T0)
    assert {r["sce"] for r in list_contracts(desk.db)} == {"no"}


def test_the_desk_judges_a_request_by_the_period_current_on_its_day(
    sample_desk: Desk, tmp_path: Path
) -> None:
    """Review finding: after the 2027 renewal of 104217 was imported, sample 001 (Critical)
    received on 2026-12-08 was unqualified with a no_contract reply: no Call ID, no clock."""
    renewal = (
        "104217,Müller Maschinenbau GmbH,emergency,2027-01-01,2027-12-31,"
        "it@mueller-maschinenbau.de;t.weiss@mueller-maschinenbau.de,SL-4Q7M-2291,full,"
    )
    import_csv(sample_desk.db, write(tmp_path, HEADER, renewal), T0)
    assert len(list_contracts(sample_desk.db)) == 17
    december = ingest_file(sample_desk, MAILS[0], datetime(2026, 12, 8, 9, tzinfo=UTC))
    ticket = tickets.find(sample_desk.db, december.ticket or "")
    assert (ticket["status"], ticket["contract_state"]) == ("accepted", "current")
    assert ticket["call_id"] and ticket["first_response_due"]
    assert ticket["contract_level"] == "business"
    # In January the renewal counts, with its own terms.
    (tmp_path / "jan").mkdir()
    jan_mail = tmp_path / "jan" / "001.eml"
    jan_mail.write_bytes(MAILS[0].read_bytes().replace(b"Message-ID: <", b"Message-ID: <jan."))
    january = ingest_file(sample_desk, jan_mail, datetime(2027, 1, 5, 9, tzinfo=UTC))
    ticket = tickets.find(sample_desk.db, january.ticket or "")
    assert (ticket["contract_state"], ticket["contract_level"]) == ("current", "emergency")


def test_m014_keeps_the_contracts_of_a_database_made_before_it(tmp_path: Path) -> None:
    db = connect(tmp_path / "old.db")
    MIGRATIONS.apply(db, stop_before="m014_contract_periods")
    insert_contracts_before_m014(db, CONTRACTS, T0)
    set_sce(db, "104217", "no", T0)
    before = [dict(r) for r in db.query("SELECT * FROM contracts ORDER BY rowid")]
    MIGRATIONS.apply(db)
    assert [dict(r) for r in db.query("SELECT * FROM contracts ORDER BY rowid")] == before
    version = contracts_version(db)  # the triggers that count changes are made again
    renewal = "104217,Müller Maschinenbau GmbH,business,2027-01-01,,it@x.de,,full,"
    import_csv(db, write(tmp_path, HEADER, renewal), T0)
    assert contracts_version(db) > version
    mueller = [c for c in list_contracts(db) if c["customer_number"] == "104217"]
    assert [(c["start"], c["sce"]) for c in mueller] == [("2026-01-01", "no"), ("2027-01-01", "no")]


def test_a_spreadsheets_empty_unnamed_columns_and_capitals_are_taken(
    desk: Desk, tmp_path: Path
) -> None:
    """Excel exports cells once formatted right of the table as ",,", and people type
    "Business" and "ce": the file was refused (review finding). Empty columns without a
    name are left out, and level, licence type and sce are read in any case."""
    lines = [
        HEADER + ",,",
        "100001,Alpha GmbH,Business,2026-01-01,2026-12-31,it@alpha.example,L-1,ce,Yes,,",
        "100002,Beta AG,DEMO,2026-01-01,,it@beta.example,L-2,Demo,",  # cut short: fine
    ]
    assert import_csv(desk.db, write(tmp_path, *lines), T0) == 2
    got = {c["customer_number"]: c for c in list_contracts(desk.db)}
    assert (got["100001"]["level"], got["100001"]["license_type"]) == ("business", "CE")
    assert (got["100002"]["level"], got["100002"]["license_type"]) == ("demo", "DEMO")
    assert got["100001"]["sce"] == "yes"


def test_a_value_under_a_column_without_a_name_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ",", GOOD + ",note")
    assert "line 2, field 10: 'note' under a column without a name" in refused(desk, path)


def _cli(desk: Desk, tmp_path: Path, *args: str) -> Result:
    from sepdesk.cli.main import _register, cli

    _register()
    cfg = write_toml(tmp_path / "s.toml", {"database": {"path": desk.settings.database.path}})
    return CliRunner().invoke(cli, ["--config", str(cfg), *args])


def test_a_period_imported_with_a_wrong_start_is_removed(desk: Desk, tmp_path: Path) -> None:
    """A renewal imported with a typo in its start (2026-12-10 for 2027-01-10) stayed for
    good: importing the corrected row added another period, and in the overlap the wrong
    one won (review finding). `contracts remove` takes it out; the others stay."""
    wrong = "100001,Alpha GmbH,emergency,2026-12-10,2027-12-09,it@alpha.example,L-1,full,"
    right = "100001,Alpha GmbH,emergency,2027-01-10,2028-01-09,it@alpha.example,L-1,full,"
    import_csv(desk.db, write(tmp_path, HEADER, GOOD, wrong), T0)
    import_csv(desk.db, write(tmp_path, HEADER, right, name="fixed.csv"), T0)
    december = datetime(2026, 12, 15, 10, tzinfo=UTC)
    assert facts_for_number(desk, "100001", december).level == "emergency"
    removed = _cli(desk, tmp_path, "contracts", "remove", "100001", "2026-12-10")
    assert removed.exit_code == 0, removed.output
    assert (
        removed.stdout
        == "customer 100001: contract period from 2026-12-10 removed; 2 periods left\n"
    )
    starts = [c["start"] for c in list_contracts(desk.db)]
    assert starts == ["2026-01-01", "2027-01-10"]
    assert facts_for_number(desk, "100001", december).level == "business"


def test_removing_an_unknown_period_names_the_customers_periods(desk: Desk, tmp_path: Path) -> None:
    import_csv(desk.db, write(tmp_path, HEADER, GOOD), T0)
    unknown = _cli(desk, tmp_path, "contracts", "remove", "100001", "2027-01-01")
    assert unknown.exit_code == 1
    assert unknown.stderr == (
        "sepdesk: customer 100001: no contract period starts on 2027-01-01"
        " (its periods start on 2026-01-01)\n"
    )
    nobody = _cli(desk, tmp_path, "contracts", "remove", "999999", "2026-01-01")
    assert (nobody.exit_code, nobody.stderr) == (1, "sepdesk: customer 999999: no such contract\n")
    bad = _cli(desk, tmp_path, "contracts", "remove", "100001", "01.01.2026")
    assert bad.exit_code == 2 and "START" in bad.stderr
    assert len(list_contracts(desk.db)) == 1


def test_a_ticket_judged_by_a_removed_period_keeps_its_contract(
    sample_desk: Desk, tmp_path: Path
) -> None:
    """Removal is safe for the tickets: each keeps its contract level and state, its clock
    and Call ID, recorded when it was judged."""
    result = ingest_file(sample_desk, MAILS[0], "header")
    before = tickets.find(sample_desk.db, result.ticket or "")
    assert before["customer_number"] == "104217" and before["contract_state"] == "current"
    assert _cli(sample_desk, tmp_path, "contracts", "remove", "104217", "2026-01-01").exit_code == 0
    after = tickets.find(sample_desk.db, result.ticket or "")
    keep = ("contract_level", "contract_state", "call_id", "first_response_due", "status")
    assert {k: after[k] for k in keep} == {k: before[k] for k in keep}
