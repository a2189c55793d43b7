"""Reading the hotline log CSV (SPEC §3): streaming, delimiter sniffing, per-row validation. No I/O but the file.

The file is read line by line in binary and decoded per line, so one line that is
not UTF-8 rejects only its row (the rest still goes in); a BOM on the first line is
dropped. Each row keeps the bytes of its lines exactly as they were in the file
(``CallRow.data``), and the reader keeps the header line's (``header_data``): the
rejects file is made of those, so a fixed rejects file re-imported holds nothing the
input did not. The delimiter is taken from the header line alone: spreadsheet programs
in German locales export ``;``-separated files, so ``;`` (or a tab) wins over ``,``
when it occurs more often in the header.

Column names may be mapped in config (``[hotline] columns``: our name -> theirs);
header names are compared case-insensitively and without surrounding blanks.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from sepdesk.csvheader import column_key
from sepdesk.errors import CONTROL, InputError
from sepdesk.instants import earliest_reading
from sepdesk.mailbox import is_mailbox
from sepdesk.templates import LANGUAGES, table

FIELDS = (
    "call_uid",
    "started_at",
    "caller_name",
    "caller_phone",
    "caller_email",
    "customer_number",
    "severity",
    "summary",
    "engineer",
    "ticket",
)
REQUIRED_COLUMNS = ("call_uid", "started_at", "severity")
BOM = b"\xef\xbb\xbf"
# Names a hotline may know a level by that the desk itself never prints; every name it
# prints (templates/<lang>/severities.txt) is read from there: see severity_words.
SEVERITY_ALIASES = {"schwer": 2, "kosmetisch": 4}
MAX_FIELD = 20_000  # a summary longer than this is a broken export, not a phone note
# When a call can have started, seen from the import's clock. Ahead: a phone system's
# clock that is off, or a naive time that was really UTC, is hours out, never a day.
MAX_AHEAD = timedelta(days=1)
# Back: a call more than a year before its import is a mistyped year (1999, 2016 for
# 2026), not a late export. Its deadline is long past, the contract that covered it may
# be gone, and its ticket would open a number series of that year (T-1999-000001).
# A year still lets a backlog after an outage in, and December's calls in January.
MAX_AGE = timedelta(days=366)
# json.dumps(norm, sort_keys=True, ensure_ascii=False), without a new encoder per row
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, check_circular=False)
_ISO = dateparser.isoparser()


@dataclass
class CallRow:
    """One validated (or rejected) row; ``errors`` holds (column, reason) pairs.

    ``line`` to ``last_line`` are the file lines the row took (more than one when a
    quoted field holds a line break); ``data`` is their bytes as read, line ends included.
    """

    line: int
    raw: list[str]
    values: dict[str, str] = field(default_factory=dict)
    last_line: int = 0
    data: bytes = b""
    started_at: datetime | None = None
    severity: int | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def call_uid(self) -> str:
        return self.values.get("call_uid", "")

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def reason(self) -> str:
        why = "; ".join(f"{col}: {why}" for col, why in self.errors)
        return f"{_span(self.line, self.last_line)}: {why}" if self.last_line > self.line else why

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def content(self) -> str:
        """The normalised row as JSON: the same call logged with other spacing/offset is equal."""
        norm = {k: self.values.get(k, "") for k in FIELDS}
        norm["started_at"] = self.started_at.astimezone(UTC).isoformat() if self.started_at else ""
        norm["severity"] = str(self.severity or "")
        norm["caller_email"] = norm["caller_email"].lower()
        norm["ticket"] = norm["ticket"].upper()
        return _DIGEST_JSON.encode(norm)

    def digest(self) -> str:
        """sha256 of :meth:`content`: what a later import compares the row by."""
        return content_digest(self.content())


def content_digest(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def sniff_delimiter(header: str) -> str:
    """The delimiter of the header line: the most frequent of ``,`` ``;`` TAB (ties: ``,``)."""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the file: its number, its bytes as read, its text (``bad``: not UTF-8)."""

    number: int
    data: bytes
    text: str
    bad: bool = False


def _lines(stream: BinaryIO) -> Iterator[Line]:
    """The file's lines; an undecodable one is decoded with replacement and marked ``bad``."""
    for number, chunk in enumerate(stream, start=1):
        text = chunk[len(BOM) :] if number == 1 and chunk.startswith(BOM) else chunk
        try:
            yield Line(number, chunk, text.decode("utf-8"))
        except UnicodeDecodeError:
            yield Line(number, chunk, text.decode("utf-8", errors="replace"), True)


@dataclass
class CallReader:
    """An open hotline CSV: its header, delimiter and the column positions of our fields."""

    path: Path
    header: list[str]
    header_data: bytes  # the header line as read (BOM and line end included)
    delimiter: str
    positions: dict[str, int]
    _stream: BinaryIO
    _lines: Iterator[Line]
    tz: str
    at: datetime  # the import's instant: started_at is checked against it

    @classmethod
    def open(
        cls, path: Path, tz: str, columns: Mapping[str, str] | None = None, *, at: datetime
    ) -> CallReader:
        """Open and check the header; raises InputError (one line) when the file is unusable.

        ``at`` is the import's instant (the command's clock): no call starts long after it.
        """
        try:
            stream = path.open("rb")
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        lines = _lines(stream)
        try:
            first = next(lines, Line(1, b"", ""))
            if first.bad:
                raise InputError(f"{path}: line 1: header is not UTF-8")
            if not first.data:
                raise InputError(f"{path}: empty file, no header row")
            if not first.text.strip():
                raise InputError(f"{path}: line 1 is blank; the header row must be the first line")
            if "\r" in first.text.rstrip("\r\n"):
                # Lines are split at LF only (rows keep their bytes for the rejects file):
                # a file whose lines end in CR alone reads as one line.
                raise InputError(
                    f"{path}: line 1: the lines end in CR alone (an old Mac format);"
                    " save the file with CRLF or LF line ends"
                )
            delimiter = sniff_delimiter(first.text)
            header = next(csv.reader([first.text], delimiter=delimiter))
            positions = _positions(path, header, columns or {})
        except (InputError, csv.Error, OSError) as exc:
            stream.close()
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{path}: line 1: unreadable header: {exc}") from None
        return cls(path, header, first.data, delimiter, positions, stream, lines, tz, at)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> CallReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def rows(self) -> Iterator[CallRow]:
        """Every data row, validated, in file order; blank lines are skipped."""
        taken: list[Line] = []  # the lines the csv reader read for the record it is on

        def texts() -> Iterator[str]:
            for line in self._lines:
                taken.append(line)
                yield line.text

        reader = csv.reader(texts(), delimiter=self.delimiter)
        while True:
            try:
                raw, error = next(reader), ""
            except StopIteration:
                break
            except csv.Error as exc:
                raw, error = [], f"malformed CSV: {exc}"
            # A record ends with a line: every line read since the last one is its own.
            lines, taken[:] = list(taken), []
            if not lines:
                continue
            if len(lines) > 1 or error or '"' in lines[0].text:
                broken = self._unclosed(lines, error)
                if broken:
                    yield from broken
                    continue
            if error:
                yield _rejected(lines, [], error)
            elif any(cell.strip() for cell in raw):
                yield self._validate(lines, raw)
        if taken:  # never expected: the reader returns every line it read in a record
            yield _rejected(taken, [], "malformed CSV: lines left over at the end of the file")

    def _unclosed(self, lines: list[Line], error: str) -> list[CallRow]:
        """The rows of a record a stray quote ran away with, each rejected; [] if none did.

        A quoted field may hold line breaks, so a record of several lines is fine as
        long as none of its later lines reads as a row of this file by itself and no
        quote is left open at its end (which the csv module accepts at the end of the
        file). Otherwise the quote was never meant to span lines: every line that reads
        as a row starts a rejected row of its own, so each row is counted and reported
        with its own lines, and their bytes go to the rejects file unchanged.
        """
        starts = [i for i in range(1, len(lines)) if self._row_like(lines[i])]
        still_open = quote_open("".join(line.text for line in lines), self.delimiter)
        if not starts and not still_open:
            return []
        first, last = lines[0].number, lines[-1].number
        end = "the end of the file" if still_open and not error else f"line {last}"
        why = f"unclosed quote? a quoted field opened in this row runs on to {end}"
        if starts:
            n = len(starts)
            why += f", over {n} more {'row' if n == 1 else 'rows'}"
            why += f" ({_span(lines[starts[0]].number, last)})"
        rows = []
        for a, b in zip([0, *starts], [*starts, len(lines)], strict=True):
            if a:
                why = f"unclosed quote? inside a quoted field opened on line {first} ({_span(first, last)})"
            rows.append(self._fragment(lines[a:b], f"{error}; {why}" if error and not a else why))
        return rows

    def _row_like(self, line: Line) -> bool:
        """Whether a line read alone is a row of this file: all its fields, a call_uid, a date."""
        try:
            fields = next(csv.reader([line.text], delimiter=self.delimiter), [])
        except csv.Error:
            return False
        if len(fields) != len(self.header):
            return False
        uid = fields[self.positions["call_uid"]].strip()
        started = fields[self.positions["started_at"]].strip()
        return bool(uid) and parse_started(started, self.tz) is not None

    def _fragment(self, lines: list[Line], why: str) -> CallRow:
        """A rejected part of a broken record; its values as its first line reads alone."""
        try:
            raw = next(csv.reader([lines[0].text], delimiter=self.delimiter), [])
        except csv.Error:
            raw = []
        row = _rejected(lines, raw, why)
        for name, pos in self.positions.items():
            row.values[name] = _cell(raw, pos)
        return row

    def _validate(self, lines: list[Line], raw: list[str]) -> CallRow:
        row = _row(lines, raw)
        if any(line.bad for line in lines):
            row.errors.append(("*", "not valid UTF-8"))
        if len(raw) != len(self.header):
            row.errors.append(("*", f"{len(raw)} fields, the header has {len(self.header)}"))
        for name, pos in self.positions.items():
            row.values[name] = _cell(raw, pos)
        check_values(row, self.tz, self.at)
        return row


def quote_open(text: str, delimiter: str) -> bool:
    """Whether ``text`` ends inside a quoted field, by the csv module's (non-strict) rules.

    A quote opens a quoted field only at the start of a field; inside one, a doubled
    quote is a quote character and a single one closes it.
    """
    inside, at_start, i, n = False, True, 0, len(text)
    while i < n:
        if inside:
            j = text.find('"', i)
            if j < 0:
                return True
            if text.startswith('""', j):
                i = j + 2
                continue
            inside, at_start, i = False, False, j + 1
            continue
        c = text[i]
        if c == '"' and at_start:
            inside = True
        else:
            at_start = c in (delimiter, "\n", "\r")
        i += 1
    return inside


def _span(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _row(lines: list[Line], raw: list[str]) -> CallRow:
    data = b"".join(line.data for line in lines)
    return CallRow(lines[0].number, raw, last_line=lines[-1].number, data=data)


def _rejected(lines: list[Line], raw: list[str], why: str) -> CallRow:
    row = _row(lines, raw)
    row.errors.append(("*", why))
    return row


def _cell(raw: list[str], pos: int) -> str:
    """A field's value; line breaks inside a quoted field become plain ones (a CRLF file
    keeps CR LF in them, which would end up in subjects and mail bodies)."""
    return raw[pos].replace("\r\n", "\n").replace("\r", "\n").strip() if pos < len(raw) else ""


def _positions(path: Path, header: list[str], columns: Mapping[str, str]) -> dict[str, int]:
    names = [column_key(h) for h in header]
    known = [column_key(columns.get(n, n)) for n in FIELDS]
    # Only our columns matter twice: an export may repeat (or leave empty) its own.
    doubled = sorted({n for n in names if n in known and names.count(n) > 1})
    if doubled:
        raise InputError(f"{path}: line 1: column(s) named twice: {', '.join(doubled)}")
    # Other columns of a phone system's export are ignored, but one that looks like a
    # misspelt column of ours ("tickets") would silently read as absent: an error
    # (unless that column of ours is there too: "call_id" beside "call_uid").
    for name in names:
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        if name not in known and near and near[0] not in names:
            raise InputError(
                f"{path}: line 1: unknown column {name!r}: did you mean {near[0]!r}?"
                " ([hotline] columns maps other names)"
            )
    index = {n: i for i, n in enumerate(names)}
    positions = {}
    for name in FIELDS:
        theirs = column_key(columns.get(name, name))
        if theirs in index:
            positions[name] = index[theirs]
    missing = ", ".join(columns.get(n, n) for n in REQUIRED_COLUMNS if n not in positions)
    if "summary" not in positions and "ticket" not in positions:
        # A clause of its own: "a, b, summary or ticket" read as if all four were needed.
        either = f"one of {columns.get('summary', 'summary')}, {columns.get('ticket', 'ticket')}"
        missing = f"{missing}; and {either}" if missing else either
    if missing:
        raise InputError(f"{path}: line 1: missing column(s): {missing}")
    return positions


@cache
def severity_words() -> dict[str, int]:
    """Every text a severity may be given as, in lower case: 1-4, and each name the
    desk's mails print ("Major (schwerwiegend)"), whole and its two parts ("major",
    "schwerwiegend"). The names were a list of their own, which had "schwer" where
    the mails say "schwerwiegend" (review finding)."""
    words = dict(SEVERITY_ALIASES)
    for lang in LANGUAGES:
        for key, name in table(lang, "severities").items():
            outer, _, inner = name.partition("(")
            for word in (key, name, outer, inner.removesuffix(")")):
                if word.strip():
                    words[_severity_key(word)] = int(key)
    return words


def _severity_key(text: str) -> str:
    """A severity text as compared: any case, blanks as one ("Major  ( schwerwiegend )")."""
    return " ".join(text.replace("(", " ( ").replace(")", " ) ").split()).casefold()


def parse_severity(text: str) -> int | None:
    return severity_words().get(_severity_key(text))


def parse_started(text: str, tz: str) -> datetime | None:
    """ISO 8601; naive means the desk's timezone. None when it is not ISO 8601.

    A phone system logging local time writes the hour the clocks go back twice, and
    may write one that spring skips: such a call is taken to start at the earlier
    instant (see ``earliest_reading``) rather than rejected, as a Critical call at
    02:30 must not wait for someone to fix the file."""
    try:
        dt = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        return None
    if dt.tzinfo is not None:
        return dt
    try:
        return earliest_reading(dt, tz)
    except OverflowError:
        # 0001-01-01T00:00 in Berlin is an instant before datetime.min: a year-1 (or
        # 9999) time is refused by its distance from the import anyway, read as UTC so
        # that check names it, instead of the error failing the whole file.
        return dt.replace(tzinfo=UTC)


def is_bare_date(text: str) -> bool:
    """An ISO 8601 date with no time (``2026-11-24``, ``20261124``, ``2026-W48-2``)."""
    try:
        _ISO.parse_isodate(text)
    except (ValueError, OverflowError):
        return False
    return True


def started_error(text: str, started: datetime, tz: str, at: datetime) -> str | None:
    """Why a parsed started_at cannot be the start of a call imported at ``at``, or None."""
    if is_bare_date(text):
        return f"a date without a time: {text!r}"
    if started > at + MAX_AHEAD:
        return f"{text!r} is more than a day after the import ({_local(at, tz)})"
    if started < at - MAX_AGE:
        return f"{text!r} is more than {MAX_AGE.days} days before the import ({_local(at, tz)})"
    return None


def _local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).replace(microsecond=0).isoformat()


def check_values(row: CallRow, tz: str, at: datetime) -> None:
    """Fill ``started_at``/``severity`` and add an error per bad or missing value."""
    for name in REQUIRED_COLUMNS:
        if not row.get(name):
            row.errors.append((name, "missing"))
    if not row.get("summary") and not row.get("ticket"):
        row.errors.append(("summary", "missing (neither summary nor ticket given)"))
    if row.get("started_at"):
        row.started_at = parse_started(row.get("started_at"), tz)
        if row.started_at is None:
            row.errors.append(("started_at", f"not an ISO 8601 instant: {row.get('started_at')!r}"))
        elif why := started_error(row.get("started_at"), row.started_at, tz, at):
            row.errors.append(("started_at", why))
    if row.get("severity"):
        row.severity = parse_severity(row.get("severity"))
        if row.severity is None:
            row.errors.append(("severity", f"not 1-4 or a level name: {row.get('severity')!r}"))
    email = row.get("caller_email")
    # A mailbox the confirmation can go to (``@x.de`` is a contract's domain entry).
    if email and not is_mailbox(email):
        row.errors.append(("caller_email", f"not a mail address: {email!r}"))
    for name, value in row.values.items():
        if len(value) > MAX_FIELD:
            row.errors.append((name, f"longer than {MAX_FIELD} characters"))
        # An ESC, BEL or NUL went on into `tickets list`/`show` and the customer's mail
        # (review finding); a summary's line breaks and tabs are a note's own.
        text = value.replace("\n", "").replace("\t", "") if name == "summary" else value
        if found := CONTROL.search(text):
            row.errors.append((name, f"control character {found.group()!r}"))
