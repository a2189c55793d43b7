"""Instants in and out: UTC text in the database, the desk's local offset for people.

The database stores every instant as ``YYYY-MM-DDTHH:MM:SS+00:00`` so that
text order is time order and indexes on due columns work.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from sepdesk.errors import InputError


def to_db(dt: datetime) -> str:
    """An aware instant as sortable UTC text."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime given to to_db")
    # timespec drops the fraction as replace(microsecond=0) did, at a third of the cost
    # (the pipeline writes about nine instants per mail).
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def day_start(day: date, tz: str) -> datetime:
    """The first instant of ``day`` in the desk's timezone (contract dates are local days).

    Compare it with stored instants through :func:`to_db`, never the bare date text:
    '2026-11-14' sorts after '2026-11-13T23:01:00+00:00', which is 00:01 on the 14th in Berlin.
    """
    return datetime.combine(day, time(0), ZoneInfo(tz))


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text)


def from_db_opt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# The zone names RFC 5322 allows in a Date (obs-zone), in seconds east of UTC. Any other
# name is refused: the fallback parser would drop it and read the time as the desk's.
_RFC5322_ZONES = {
    "UT": 0, "UTC": 0, "Z": 0, "GMT": 0, "EST": -5 * 3600, "EDT": -4 * 3600,
    "CST": -6 * 3600, "CDT": -5 * 3600, "MST": -7 * 3600, "MDT": -6 * 3600,
    "PST": -8 * 3600, "PDT": -7 * 3600,
}  # fmt: skip


class _UnknownZone(ValueError):
    pass


def _zone(name: str | None, offset: int | None) -> int | None:
    """dateutil's ``tzinfos`` as a function: the offset a text gives, else an RFC 5322
    zone name's; any other name raises. Given a table instead, dateutil reads a name of
    the host's own zone (CET, CEST on a server in Berlin) as the host's local time,
    whichever half of the year it names, before it looks at the table at all."""
    if offset is not None:
        return offset
    if name is None:
        return None
    if name.upper() in _RFC5322_ZONES:
        return _RFC5322_ZONES[name.upper()]
    raise _UnknownZone(name)


def parse_instant(text: str, tz: str, what: str = "time", loose: bool = True) -> datetime:
    """ISO 8601 (or, ``loose``, an RFC 5322 date) from a user; naive means the desk's
    timezone. Not ``loose``: ISO 8601 alone (a received time: "31.12.2026" read as it
    came would start an SLA clock at a time nobody gave).

    A naive time the desk's clocks skip (spring) or show twice (autumn) names no
    instant, or two: it is refused with the offsets to choose from, never guessed.
    So is a zone name that is not a number or one of RFC 5322's.
    """
    try:
        dt = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        if not loose:
            raise InputError(
                f"{what}: not an ISO 8601 instant: {text!r};"
                " give e.g. 2026-11-02T09:15 or 2026-11-02T09:15+01:00"
            ) from None
        try:
            dt = _loose(text, what)
        except _UnknownZone:
            raise InputError(
                f"{what}: unknown zone name in {text!r}; give the offset, e.g. +01:00"
            ) from None
        except (ValueError, OverflowError):
            raise InputError(f"{what}: not an ISO 8601 instant: {text!r}") from None
    if dt.tzinfo is None:
        dt = local_wall_time(dt, tz, f"{what}: {text!r}")
    return within_range(dt, f"{what}: {text!r}")


def within_range(dt: datetime, what: str) -> datetime:
    """``dt`` when it lies between EARLIEST and LATEST, else InputError naming ``what``.

    Stored, an instant outside breaks every later reader: the SLA clock counts days on
    from it (year 10000 does not exist), and one --at 9999-12-31 would leave tickets due
    in year 10000, which status and the timer can no longer read.
    """
    if not EARLIEST <= dt <= LATEST:
        raise InputError(
            f"{what} is out of range; give an instant between {EARLIEST.year} and {LATEST.year}"
        )
    return dt


# What a user may give as an instant: no mail is older than 1970, and the SLA clock
# needs room after the instant (deadlines, reminders) before datetime's year 9999 ends.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)


def _loose(text: str, what: str) -> datetime:
    """A non-ISO date ("16 Mar 2026 10:00 +0100"), read only where it means one day.

    The parser fills what the text leaves out from a default date, and reads 03.04.2026
    month first: parsed against two defaults and both ways round, a text without a whole
    date ("--at 5") or with day and month interchangeable gives two answers, and is
    refused instead of guessed.
    """
    readings = {
        dateparser.parse(text, default=default, dayfirst=dayfirst, tzinfos=_zone)
        for default in _DEFAULTS
        for dayfirst in (False, True)
    }
    if len({r.date() for r in readings}) > 1:
        raise InputError(
            f"{what}: {text!r} names no single day; give it as ISO 8601 (2026-03-04T10:00)"
        )
    return readings.pop()


_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))


def local_wall_time(naive: datetime, tz: str, what: str) -> datetime:
    """``naive`` read in ``tz``; InputError when that wall-clock time is skipped or repeated."""
    zone = ZoneInfo(tz)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise InputError(
            f"{what} does not exist in {tz} (the clocks skip from {_offset(first)} to"
            f" {_offset(second)} that night); give the offset"
        )
    raise InputError(
        f"{what} occurs twice in {tz} (the clocks go back that night); give the offset:"
        f" {first.isoformat()} or {second.isoformat()}"
    )


def earliest_reading(naive: datetime, tz: str) -> datetime:
    """``naive`` read in ``tz``, the earlier instant where a DST switch makes it two (or
    none): for a time that starts an SLA clock, so a deadline can come early, never late."""
    zone = ZoneInfo(tz)
    return min(naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1))


def _offset(dt: datetime) -> str:
    return dt.isoformat()[-6:]


def local_iso(dt: datetime | None, tz: str) -> str | None:
    """ISO 8601 with the offset of the desk's timezone, for output."""
    if dt is None:
        return None
    return dt.astimezone(ZoneInfo(tz)).isoformat()


def db_to_local(text: str | None, tz: str) -> str | None:
    return local_iso(from_db_opt(text), tz)


def now() -> datetime:
    """The one place that reads the wall clock; everything below takes ``at``."""
    return datetime.now(UTC)
