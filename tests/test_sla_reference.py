"""The SLA clock against a deliberately naive reference that walks time minute by minute.

The reference knows nothing of sepdesk's windows or day loop: it asks, for each UTC
minute, whether the level's support hours are open at that local wall-clock time in
Europe/Berlin (weekday, holiday of the ``holidays`` package for DE and the
subdivisions, extra closed day). Window edges are whole local minutes and Berlin's
offsets whole hours, so "open" is the same for the whole of each UTC minute; only the
first, partial minute needs care. Seeded, so a failure is reproducible.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from sepdesk.sla.calendar import SupportCalendar
from sepdesk.sla.deadlines import first_response_due

BERLIN = ZoneInfo("Europe/Berlin")
MINUTE = timedelta(minutes=1)
Hours = tuple[time, time] | None  # None: 24 x 7, holidays included

# SPEC §1, read afresh: (budget, support hours) by severity, and the contracts that override.
BY_SEVERITY: dict[int, tuple[timedelta, Hours]] = {
    1: (timedelta(hours=4), None),
    2: (timedelta(hours=8), (time(8), time(18))),
    3: (timedelta(hours=12), (time(9), time(17))),
    4: (timedelta(hours=12), (time(9), time(17))),
}
BY_CONTRACT: dict[str, tuple[timedelta, Hours]] = {
    "emergency": (timedelta(hours=1, minutes=30), None),
    "demo": (timedelta(hours=12), (time(9), time(17))),
}
CONFIGS = [((), ()), (("BY", "BE"), ("12-24", "12-31"))]


class Reference:
    def __init__(self, subdivisions: tuple[str, ...], extra: tuple[str, ...]) -> None:
        self.subdivisions, self.extra = subdivisions, extra
        self._closed: dict[date, bool] = {}

    def closed(self, day: date) -> bool:
        if day not in self._closed:
            self._closed[day] = (
                any(day in holidays.Germany(subdiv=s, years=day.year) for s in (None, *self.subdivisions))
                or f"{day.month:02d}-{day.day:02d}" in self.extra
            )  # fmt: skip
        return self._closed[day]

    def open_at(self, minute: datetime, hours: Hours) -> bool:
        if hours is None:
            return True
        local = minute.astimezone(BERLIN)
        return (
            local.weekday() < 5
            and not self.closed(local.date())
            and hours[0] <= local.time() < hours[1]
        )

    def due(self, received: datetime, severity: int, contract: str | None) -> datetime:
        budget, hours = BY_CONTRACT.get(contract or "", BY_SEVERITY[severity])
        start = received.astimezone(UTC)
        minute = start.replace(second=0, microsecond=0)
        for _ in range(60 * 24 * 40):
            if self.open_at(minute, hours):
                available = minute + MINUTE - start
                if budget <= available:
                    return start + budget
                budget -= available
            minute += MINUTE
            start = minute
        raise AssertionError("no due within 40 days")


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month, 31)
    return d - timedelta(days=(d.weekday() + 1) % 7)


EDGES = [time(7, 59, 59), time(8), time(8, 59, 59, 999999), time(9), time(16, 59, 59, 999999),
         time(17), time(17, 59, 59, 999999), time(18), time(0), time(23, 59, 59, 999999)]  # fmt: skip


def _received(rng: random.Random) -> datetime:
    year = rng.randint(2025, 2030)
    kind = rng.randrange(4)
    if kind == 0:  # anywhere, to the microsecond
        start = datetime(year, 1, 1, tzinfo=UTC)
        return start + timedelta(
            seconds=rng.randrange(366 * 86400), microseconds=rng.randrange(10**6)
        )
    if kind == 1:  # the nights of both DST switches, in UTC steps through them
        night = datetime.combine(_last_sunday(year, rng.choice((3, 10))), time(0), tzinfo=UTC)
        return night + timedelta(seconds=rng.randrange(-3 * 3600, 5 * 3600))
    days = [*holidays.Germany(subdiv=rng.choice((None, "BY", "BE")), years=year)]
    days += [date(year, 12, 24), date(year, 12, 31), _last_sunday(year, 3), _last_sunday(year, 10)]
    day = rng.choice(days) + timedelta(days=rng.randint(-3, 1))  # on, before and after
    moment = rng.choice(EDGES) if kind == 2 else time(rng.randrange(24), rng.randrange(60))
    return datetime.combine(day, moment, tzinfo=BERLIN)


def test_the_reference_reads_the_spec_examples_as_written() -> None:
    ref = Reference((), ())
    spring = ref.due(datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN), 1, None)
    autumn = ref.due(datetime.fromisoformat("2026-10-25T01:30+02:00"), 1, None)
    assert spring.astimezone(BERLIN).isoformat() == "2026-03-29T05:30:00+02:00"
    assert autumn.astimezone(BERLIN).isoformat() == "2026-10-25T04:30:00+01:00"


@pytest.mark.parametrize(("subdivisions", "extra"), CONFIGS)
def test_due_agrees_with_the_minute_walk(
    subdivisions: tuple[str, ...], extra: tuple[str, ...]
) -> None:
    rng = random.Random(f"sla-reference {subdivisions} {extra}")
    cal, ref = (
        SupportCalendar(subdivisions=subdivisions, extra_closed=extra),
        Reference(subdivisions, extra),
    )
    for _ in range(200):
        received = _received(rng)
        severity = rng.randint(1, 4)
        contract = rng.choice((None, "business", "emergency", "demo"))
        got = first_response_due(cal, received, severity, contract)
        want = ref.due(received, severity, contract)
        case = f"{received.isoformat()} severity {severity} contract {contract}"
        assert got.astimezone(UTC) == want, (
            f"{case}: {got.isoformat()} != {want.astimezone(BERLIN)}"
        )
        assert got.utcoffset() == got.astimezone(UTC).astimezone(BERLIN).utcoffset(), case
