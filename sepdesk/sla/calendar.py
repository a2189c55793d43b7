"""Support hours as pure arithmetic: open windows, holidays, and adding support time to an instant.

No I/O and no clock reads: every function takes the instants it works on.
Windows are local wall-clock times in the desk's timezone (Mon–Fri 08:00–18:00
reads the same in CET and CEST); durations are real elapsed time, so the
arithmetic runs on UTC instants and only the window edges are converted.

Speed matters (the timer and reports compute many deadlines): the loops step
day by day, never minute by minute, and both the holiday sets (per year) and
each day's window (per schedule and date) are cached on the calendar.

Results are instants in the desk's timezone, for people. Do arithmetic and
comparisons on them in UTC: Python subtracts and compares two datetimes that
share one ZoneInfo by wall clock, which is wrong across the autumn switch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from sepdesk.config import Settings
from sepdesk.errors import ConfigError

ZERO = timedelta(0)
# A schedule with no open day for ten years is a configuration error, not a loop to spin in.
MAX_SEARCH_DAYS = 3660
_CACHE_LIMIT = 200_000
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class Schedule:
    """When a support level's clock runs: always, or daily local windows on some weekdays."""

    name: str
    opens: time | None = None
    closes: time | None = None
    weekdays: frozenset[int] = frozenset(range(5))

    @property
    def continuous(self) -> bool:
        """24 x 7, holidays included: the clock never stops."""
        return self.opens is None


ALWAYS = Schedule("24x7")
MAJOR_HOURS = Schedule("Mon-Fri 08:00-18:00", time(8), time(18))
MINOR_HOURS = Schedule("Mon-Fri 09:00-17:00", time(9), time(17))
SCHEDULES = (ALWAYS, MAJOR_HOURS, MINOR_HOURS)

Window = tuple[datetime, datetime]


def _aware(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime given to the support calendar")
    return dt


def _parse_extra(entries: list[str]) -> tuple[frozenset[tuple[int, int]], frozenset[date]]:
    """'MM-DD' (every year) and 'YYYY-MM-DD' (once) entries; anything else is a config error."""
    every_year: set[tuple[int, int]] = set()
    once: set[date] = set()
    for entry in entries:
        text = entry.strip()
        m = _MONTH_DAY.match(text)
        try:
            if m:
                month, day = int(m.group(1)), int(m.group(2))
                date(2024, month, day)  # a leap year, so 02-29 is accepted
                every_year.add((month, day))
            else:
                once.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"[calendar] extra_closed: {entry!r} is neither 'MM-DD' nor 'YYYY-MM-DD'"
            ) from None
    return frozenset(every_year), frozenset(once)


def _unknown_region(country: str, subdiv: str | None) -> str:
    if subdiv is None:
        return (
            f"[calendar] country: {country!r} is not a country code of the holidays package"
            " (ISO 3166 alpha-2, e.g. 'DE')"
        )
    known = ", ".join(holidays.list_supported_countries().get(country, []))
    return f"[calendar] subdivisions: {subdiv!r} is not a subdivision of {country} (known: {known})"


class SupportCalendar:
    """Open windows per schedule, closed days, and support-time arithmetic for one desk."""

    def __init__(
        self,
        tz: str = "Europe/Berlin",
        country: str = "DE",
        subdivisions: list[str] | tuple[str, ...] = (),
        extra_closed: list[str] | tuple[str, ...] = (),
    ) -> None:
        try:
            self.tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"[desk] timezone: unknown timezone {tz!r}") from None
        self.country = country
        self.subdivisions = tuple(subdivisions)
        self._every_year, self._once = _parse_extra(list(extra_closed))
        self._holidays: dict[int, dict[date, str]] = {}
        self._windows: dict[tuple[str, int], Window | None] = {}
        self._holidays_for(2026)  # fail now, at startup, on an unknown country or subdivision

    @classmethod
    def from_settings(cls, settings: Settings) -> SupportCalendar:
        cal = settings.calendar
        return cls(settings.desk.timezone, cal.country, cal.subdivisions, cal.extra_closed)

    # -- closed days -------------------------------------------------------------------------

    def _holidays_for(self, year: int) -> dict[date, str]:
        """Public holidays of one year: the country's, plus the union of every subdivision's."""
        found = self._holidays.get(year)
        if found is not None:
            return found
        merged: dict[date, str] = {}
        for subdiv in (None, *self.subdivisions):
            try:
                table = holidays.country_holidays(self.country, subdiv=subdiv, years=year)
            except NotImplementedError:
                raise ConfigError(_unknown_region(self.country, subdiv)) from None
            for day, name in table.items():
                merged.setdefault(day, name)
        self._holidays[year] = merged
        return merged

    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` is closed for every schedule but 24x7, or None on an ordinary day."""
        name = self._holidays_for(day.year).get(day)
        if name is not None:
            return name
        if day in self._once or (day.month, day.day) in self._every_year:
            return "extra closed day"
        return None

    def closed_reason(self, day: date, schedule: Schedule) -> str | None:
        """Why the schedule has no window on ``day`` (weekday name or holiday), or None if open."""
        if schedule.continuous:
            return None
        if day.weekday() not in schedule.weekdays:
            return _WEEKDAY_NAMES[day.weekday()]
        return self.holiday_name(day)

    # -- windows -----------------------------------------------------------------------------

    def _window(self, ordinal: int, schedule: Schedule) -> Window | None:
        """The UTC window of one local day (by date ordinal), or None when closed; cached."""
        key = (schedule.name, ordinal)
        try:
            return self._windows[key]
        except KeyError:
            pass
        if len(self._windows) > _CACHE_LIMIT:
            self._windows.clear()
        day = date.fromordinal(ordinal)
        window: Window | None = None
        if self.closed_reason(day, schedule) is None:
            assert schedule.opens is not None and schedule.closes is not None
            start = datetime.combine(day, schedule.opens, tzinfo=self.tz).astimezone(UTC)
            end = datetime.combine(day, schedule.closes, tzinfo=self.tz).astimezone(UTC)
            window = (start, end)
        self._windows[key] = window
        return window

    def _local_ordinal(self, t: datetime) -> int:
        return t.astimezone(self.tz).toordinal()

    def next_open(self, t: datetime, schedule: Schedule) -> datetime:
        """``t`` itself when the clock runs at ``t``, else the start of the next window."""
        _aware(t, "next_open")
        if schedule.continuous:
            return t.astimezone(self.tz)
        u = t.astimezone(UTC)
        first = day = self._local_ordinal(t)
        while day - first <= MAX_SEARCH_DAYS:
            w = self._window(day, schedule)
            if w is not None and u < w[1]:
                return max(u, w[0]).astimezone(self.tz)
            day += 1
        raise ValueError(f"no open {schedule.name} window within {MAX_SEARCH_DAYS} days")

    def _utc_windows(self, a: datetime, b: datetime, schedule: Schedule) -> Iterator[Window]:
        """Open windows clipped to ``a``..``b`` in UTC (subtracting local instants of one
        zone compares wall clocks, which is wrong across the DST switch)."""
        ua, ub = a.astimezone(UTC), b.astimezone(UTC)
        if ub <= ua:
            return
        if schedule.continuous:
            yield ua, ub
            return
        for day in range(self._local_ordinal(a), self._local_ordinal(b) + 1):
            w = self._window(day, schedule)
            if w is None:
                continue
            start, end = max(ua, w[0]), min(ub, w[1])
            if start < end:
                yield start, end

    def windows(self, a: datetime, b: datetime, schedule: Schedule) -> list[Window]:
        """The open windows between ``a`` and ``b``, clipped to them, as local instants."""
        _aware(a, "windows")
        _aware(b, "windows")
        return [
            (start.astimezone(self.tz), end.astimezone(self.tz))
            for start, end in self._utc_windows(a, b, schedule)
        ]

    def closed_days(self, a: datetime, b: datetime, schedule: Schedule) -> list[tuple[date, str]]:
        """Local dates from ``a`` to ``b`` on which the schedule has no window, with the reason."""
        if schedule.continuous or b.astimezone(UTC) <= a.astimezone(UTC):
            return []
        out: list[tuple[date, str]] = []
        for day in range(self._local_ordinal(a), self._local_ordinal(b) + 1):
            d = date.fromordinal(day)
            reason = self.closed_reason(d, schedule)
            if reason is not None:
                out.append((d, reason))
        return out

    # -- support-time arithmetic -------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta, schedule: Schedule) -> datetime:
        """The instant at which ``duration`` of support time has run from ``start``.

        The result lies inside a window or exactly at its closing edge (a
        budget used up at 18:00 Friday is due Friday 18:00, not Monday).
        Zero duration returns ``start`` itself, which keeps ``add`` additive.
        """
        _aware(start, "add")
        if duration < ZERO:
            raise ValueError("add: negative duration")
        if schedule.continuous or duration == ZERO:
            return (start.astimezone(UTC) + duration).astimezone(self.tz)
        u = start.astimezone(UTC)
        remaining = duration
        first = day = self._local_ordinal(start)
        while day - first <= MAX_SEARCH_DAYS:
            w = self._window(day, schedule)
            if w is not None and u < w[1]:
                begin = w[0] if u < w[0] else u
                available = w[1] - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(self.tz)
                remaining -= available
            day += 1
        raise ValueError(f"no open {schedule.name} window within {MAX_SEARCH_DAYS} days")

    def elapsed(self, a: datetime, b: datetime, schedule: Schedule) -> timedelta:
        """Support time between ``a`` and ``b`` (negative when ``b`` is before ``a``)."""
        _aware(a, "elapsed")
        _aware(b, "elapsed")
        if b.astimezone(UTC) < a.astimezone(UTC):
            return -self.elapsed(b, a, schedule)
        return sum((end - start for start, end in self._utc_windows(a, b, schedule)), ZERO)
