"""Maintenance contracts: CSV import (all or nothing), listing, and the lookup index for matching.

The CSV format is SPEC §3: customer_number, customer_name, level, start, end,
contacts, license_ids, license_type, sce. Import is an upsert; a bad row is
reported by line and field and nothing of the file is written.

A row is one contract period, keyed by customer_number and start: a renewal or an
overlapping contract is a row of its own beside the running one. The customer's own
fields (name, contacts, licence IDs and type, the SCE choice) are alike on all its periods.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from dateutil.relativedelta import relativedelta

from sepdesk.csvheader import column_key
from sepdesk.errors import CONTROL, InputError, NotFound
from sepdesk.instants import to_db
from sepdesk.mailbox import is_domain_entry, is_mailbox
from sepdesk.store import write_tx
from sepdesk.tickets.store import add_event

COLUMNS = (
    "customer_number",
    "customer_name",
    "level",
    "start",
    "end",
    "contacts",
    "license_ids",
    "license_type",
    "sce",
)
LEVELS = ("business", "emergency", "demo")
LICENSE_TYPES = ("full", "CE", "NFR", "MSP", "DEMO")
SCE_VALUES = ("yes", "no", "")
_LICENSE_SPELLING = {t.lower(): t for t in LICENSE_TYPES}
LIST_COLUMNS = ("contacts", "license_ids")  # ';'-separated entries


@dataclass(frozen=True)
class ContractRow:
    customer_number: str
    customer_name: str
    level: str
    start: date
    end: date
    contacts: tuple[str, ...]
    license_ids: tuple[str, ...]
    license_type: str
    sce: str


def default_end(start: date) -> date:
    """The end of a contract with an empty ``end``: 12 months after ``start`` (SPEC §1
    contracts, and the sample corpus's README: "start + 12 months"); like every end,
    that day is still covered (see contract_state). 29 February ends on 28 February."""
    return start + relativedelta(months=12)


def _default_end(start: date, where: str) -> date:
    """default_end of a row's start, or InputError naming the row when there is none."""
    try:
        return default_end(start)
    except (ValueError, OverflowError):  # a start in 9999: twelve months on is past year 9999
        raise InputError(
            f"{where}, field end: missing, and 12 months after start is past 9999-12-31"
        ) from None


def _date(value: str, where: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"{where}: not a date (YYYY-MM-DD): {value!r}") from None


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip().lower() for v in value.split(";") if v.strip())


def _contact_ok(entry: str) -> bool:
    """A mailbox as the parser reads senders, or ``@domain``, with a dot in the domain:
    a display form or a list (``Name <a@x.de>``, ``a@x.de,b@x.de``) would never equal a
    sender's address and so match nobody."""
    if entry.startswith("@"):
        return is_domain_entry(entry)
    return is_mailbox(entry) and "." in entry.partition("@")[2]


def parse_row(row: dict[str, str], where: str) -> ContractRow:
    """One CSV row to a ContractRow, or InputError naming the line and field."""
    values = {k: (row.get(k) or "").strip() for k in COLUMNS}
    # A spreadsheet cell may list its entries one per line: a separator like ';' there.
    for key in LIST_COLUMNS:
        values[key] = values[key].replace("\r\n", ";").replace("\r", ";").replace("\n", ";")
    # A NUL or another control character was stored, and shown in every list and mail
    # that names the customer (review finding).
    for key in COLUMNS:
        if found := CONTROL.search(values[key]):
            raise InputError(f"{where}, field {key}: control character {found.group()!r}")
    for required in ("customer_number", "customer_name", "level", "start", "license_type"):
        if not values[required]:
            raise InputError(f"{where}, field {required}: missing")
    # isdigit alone lets in '²' and other scripts' digits, which no one types as a number
    if not (values["customer_number"].isascii() and values["customer_number"].isdigit()):
        raise InputError(
            f"{where}, field customer_number: not a number: {values['customer_number']!r}"
        )
    # "Business", "ce", "Yes": a spreadsheet's capitals (review finding); stored as SPEC
    # spells them.
    values["level"], values["sce"] = values["level"].lower(), values["sce"].lower()
    values["license_type"] = _LICENSE_SPELLING.get(
        values["license_type"].lower(), values["license_type"]
    )
    if values["level"] not in LEVELS:
        raise InputError(f"{where}, field level: must be one of {', '.join(LEVELS)}")
    if values["license_type"] not in LICENSE_TYPES:
        raise InputError(f"{where}, field license_type: must be one of {', '.join(LICENSE_TYPES)}")
    if values["sce"] not in SCE_VALUES:
        raise InputError(f"{where}, field sce: must be yes, no or empty")
    start = _date(values["start"], f"{where}, field start")
    end = (
        _date(values["end"], f"{where}, field end") if values["end"] else _default_end(start, where)
    )
    if end < start:
        raise InputError(f"{where}, field end: before start")
    contacts = _split(values["contacts"])
    bad = [c for c in contacts if not _contact_ok(c)]
    if bad:
        raise InputError(f"{where}, field contacts: not an address or @domain: {bad[0]!r}")
    return ContractRow(
        values["customer_number"],
        values["customer_name"],
        values["level"],
        start,
        end,
        contacts,
        tuple(v.strip() for v in values["license_ids"].split(";") if v.strip()),
        values["license_type"],
        values["sce"],
    )


def _check_header(header: list[str], path: Path) -> None:
    """The header row must name each column of SPEC §3 once, and nothing else."""
    where = f"{path}, line 1"
    missing = [c for c in COLUMNS if c not in header]
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        if missing and COLUMNS[0] in ",".join(header).split(sep):
            raise InputError(
                f"{where}: the columns are separated by {name}; the file must be"
                " comma-separated (';' only separates the entries inside contacts and license_ids)"
            )
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InputError(
            f"{where}: unknown column {unknown[0]!r} (the columns are {', '.join(COLUMNS)})"
        )
    twice = [c for c in COLUMNS if header.count(c) > 1]
    if twice:
        raise InputError(f"{where}: column {twice[0]} given twice")
    if missing:
        raise InputError(f"{where}: missing column {missing[0]}")


def _fields(header: list[str], fields: list[str], where: str) -> dict[str, str]:
    """One record's fields by column; a field more or less than the header is an error."""
    if len(fields) > len(header):
        raise InputError(
            f"{where}, field {len(header) + 1}: {fields[len(header)]!r} after the last column"
            f" ({header[-1]}): {len(fields)} fields, the header has {len(header)}"
        )
    if len(fields) < len(header):
        raise InputError(
            f"{where}, field {header[len(fields)]}: missing"
            f" ({len(fields)} fields, the header has {len(header)})"
        )
    return dict(zip(header, fields, strict=True))


def _named_fields(
    header: list[str], named: list[int], fields: list[str], where: str
) -> dict[str, str]:
    """The record's fields of the named columns; a value under a column without a name
    is an error (it would be lost), an empty one is left out, and so is a missing one."""
    if len(named) == len(header):
        return _fields(header, fields, where)
    if len(fields) > len(header):
        _fields(header, fields, where)  # raises: a field after the last column
    for i, value in enumerate(fields):
        if not header[i] and value.strip():
            raise InputError(f"{where}, field {i + 1}: {value!r} under a column without a name")
    names = [header[i] for i in named]
    return _fields(names, [fields[i] for i in named if i < len(fields)], where)


def read_csv(path: Path) -> list[ContractRow]:
    """Every row of the file, or InputError for the first bad one (line numbers as in an editor)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # SPEC §3: an error names file and line; a byte offset alone sent the admin
        # counting through the file (review finding).
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}, line {line}: not UTF-8 (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _rows(reader, path)
    except csv.Error as exc:  # an unclosed quote running on, a field over the size limit
        raise InputError(f"{path}, line {reader.line_num}: malformed CSV: {exc}") from None


def _rows(reader: Any, path: Path) -> list[ContractRow]:
    first = next(reader, None)
    if first is None:
        raise InputError(f"{path}: empty file (no header row)")
    if not any(h.strip() for h in first):
        raise InputError(f"{path}, line 1: blank; the header row must be the first line")
    # "customer_number, customer_name" as SPEC writes it, "Customer_Number" as a
    # spreadsheet may: compared as the hotline import compares its header.
    header = [column_key(h) for h in first]
    # Columns without a name, as a spreadsheet exports cells once formatted right of
    # the table (",,"), are left out when empty (review finding: the file was refused).
    named = [i for i, h in enumerate(header) if h]
    _check_header([header[i] for i in named], path)
    rows: list[ContractRow] = []
    seen: set[tuple[str, date]] = set()
    end = reader.line_num
    for fields in reader:
        # A quoted field may hold line breaks (or a stray quote run on): a record of
        # several lines is named by all of them, as its fault may be on the first.
        start, end = end + 1, reader.line_num
        if not any(f.strip() for f in fields):  # a blank line, or Excel's trailing ",,,,"
            continue
        where = f"{path}, line {start}" if start == end else f"{path}, lines {start}-{end}"
        parsed = parse_row(_named_fields(header, named, fields, where), where)
        key = (parsed.customer_number, parsed.start)
        if key in seen:
            raise InputError(
                f"{where}, field start: duplicate {parsed.customer_number} from"
                f" {parsed.start.isoformat()} (one row per customer and start)"
            )
        seen.add(key)
        rows.append(parsed)
    return rows


def import_csv(db: sqlite_utils.Database, path: str | Path, at: datetime) -> int:
    """Upsert every row of the file in one transaction; returns the number of rows.

    A row updates the customer's period with the same start, else adds a period. The
    customer's own fields (name, contacts, licence IDs and type, sce) are taken from the
    customer's row with the latest start in the file and set on all its periods. An empty ``sce`` leaves a
    customer's participation choice as it was (set by ``contracts sce`` or an earlier
    file); ``yes`` or ``no`` replaces it.
    """
    rows = read_csv(Path(path))
    with write_tx(db):
        for r in rows:
            _upsert_period(db, r, at)
        latest: dict[str, ContractRow] = {}
        for r in rows:
            if r.customer_number not in latest or r.start > latest[r.customer_number].start:
                latest[r.customer_number] = r
        for r in latest.values():
            _set_customer(db, r, at)
    return len(rows)


def _upsert_period(db: sqlite_utils.Database, r: ContractRow, at: datetime) -> None:
    """One period in, or updated when the customer has one with its start; the customer's
    fields and choice follow in _set_customer."""
    db.execute(
        'INSERT INTO contracts (customer_number, customer_name, level, start, "end",'
        " contacts, license_ids, license_type, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(customer_number, start) DO UPDATE SET"
        ' level=excluded.level, "end"=excluded."end", updated_at=excluded.updated_at',
        [
            r.customer_number,
            r.customer_name,
            r.level,
            r.start.isoformat(),
            r.end.isoformat(),
            json.dumps(list(r.contacts)),
            json.dumps(list(r.license_ids)),
            r.license_type,
            to_db(at),
        ],
    )


def _set_customer(db: sqlite_utils.Database, r: ContractRow, at: datetime) -> None:
    """The customer's fields from ``r`` on every period of the customer. An empty sce keeps
    the customer's earlier choice (`contracts sce`), which a new period takes on too."""
    # A period new in this file has no choice yet: the stored one is on the others.
    stored, changed = db.execute(
        "SELECT sce, sce_changed_at FROM contracts WHERE customer_number = ?"
        " ORDER BY sce = '', start DESC LIMIT 1",
        [r.customer_number],
    ).fetchone()
    db.execute(
        "UPDATE contracts SET customer_name = ?, contacts = ?, license_ids = ?,"
        " license_type = ?, sce = ?, sce_changed_at = ?, updated_at = ?"
        " WHERE customer_number = ?",
        [
            r.customer_name,
            json.dumps(list(r.contacts)),
            json.dumps(list(r.license_ids)),
            r.license_type,
            r.sce or stored,
            changed,
            to_db(at),
            r.customer_number,
        ],
    )


def list_contracts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    out = []
    for row in db.query("SELECT * FROM contracts ORDER BY customer_number, start"):
        out.append(
            {
                "customer_number": row["customer_number"],
                "customer_name": row["customer_name"],
                "level": row["level"],
                "start": row["start"],
                "end": row["end"],
                "contacts": json.loads(row["contacts"]),
                "license_ids": json.loads(row["license_ids"]),
                "license_type": row["license_type"],
                "sce": row["sce"],
            }
        )
    return out


def set_sce(db: sqlite_utils.Database, customer_number: str, choice: str, at: datetime) -> str:
    """Record a customer's SEP Customer Experience choice with the date; return the
    customer's licence type, which decides whether the choice counts (SPEC §5). The
    choice is the customer's: it goes on every period."""
    if choice not in ("yes", "no"):
        raise InputError(f"sce: must be yes or no, not {choice!r}")
    with write_tx(db):
        cur = db.execute(
            "UPDATE contracts SET sce = ?, sce_changed_at = ?, updated_at = ? WHERE customer_number = ?",
            [choice, to_db(at), to_db(at), customer_number],
        )
        if cur.rowcount == 0:
            raise NotFound(f"customer {customer_number}: no such contract")
        add_event(db, None, at, "cli", "sce", {"customer_number": customer_number, "sce": choice})
        row = db.execute(
            "SELECT license_type FROM contracts WHERE customer_number = ?", [customer_number]
        ).fetchone()
    return str(row[0])


def remove_period(
    db: sqlite_utils.Database, customer_number: str, start: date, at: datetime
) -> int:
    """Remove the customer's period that starts on ``start``, as one imported with a wrong
    start (an import can only add or update periods); returns how many periods the
    customer has left. The customer's other periods stay as they are, and so do tickets
    judged by the removed one: each keeps its contract level and state, its clock and
    Call ID. NotFound names the customer's periods when none starts then."""
    with write_tx(db):
        cur = db.execute(
            "DELETE FROM contracts WHERE customer_number = ? AND start = ?",
            [customer_number, start.isoformat()],
        )
        starts = [
            r[0]
            for r in db.execute(
                "SELECT start FROM contracts WHERE customer_number = ? ORDER BY start",
                [customer_number],
            )
        ]
        if cur.rowcount == 0:
            if not starts:
                raise NotFound(f"customer {customer_number}: no such contract")
            raise NotFound(
                f"customer {customer_number}: no contract period starts on {start.isoformat()}"
                f" (its periods start on {', '.join(starts)})"
            )
        detail = {"customer_number": customer_number, "start": start.isoformat()}
        add_event(db, None, at, "cli", "contract_removed", detail)
    return len(starts)


def contracts_version(db: sqlite_utils.Database) -> int:
    """Changes whenever contracts change: the cache key of the matching index.

    Counted by triggers (migration m007), so asking costs one lookup by key, however
    many contracts there are.
    """
    row = db.execute("SELECT version FROM data_versions WHERE name = 'contracts'").fetchone()
    return int(row[0])
