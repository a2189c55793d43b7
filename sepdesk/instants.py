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


def parse_instant(text: str, tz: str, what: str = "time") -> datetime:
    """ISO 8601 (or RFC 5322 date) from a user; naive means the desk's timezone."""
    try:
        dt = dateparser.isoparse(text)
    except (ValueError, OverflowError):
        try:
            dt = dateparser.parse(text)
        except (ValueError, OverflowError):
            raise InputError(f"{what}: not an ISO 8601 instant: {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo(tz))
    return dt


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
