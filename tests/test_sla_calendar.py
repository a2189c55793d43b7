"""The support calendar: windows, closed days, DST, and the algebra of support time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sepdesk.config import CalendarSettings, DeskSettings, Settings
from sepdesk.errors import ConfigError
from sepdesk.sla.calendar import (
    ALWAYS,
    MAJOR_HOURS,
    MINOR_HOURS,
    SCHEDULES,
    Schedule,
    SupportCalendar,
)

BERLIN = ZoneInfo("Europe/Berlin")
CAL = SupportCalendar()


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def test_dst_24x7_is_real_hours() -> None:
    spring = CAL.add(berlin("2026-03-29T00:30"), timedelta(hours=4), ALWAYS)
    assert spring.isoformat() == "2026-03-29T05:30:00+02:00"
    autumn = CAL.add(datetime.fromisoformat("2026-10-25T01:30+02:00"), timedelta(hours=4), ALWAYS)
    assert autumn.isoformat() == "2026-10-25T04:30:00+01:00"


def test_windows_are_local_wall_clock_across_dst() -> None:
    before = CAL.windows(berlin("2026-03-27T00:00"), berlin("2026-03-28T00:00"), MAJOR_HOURS)
    after = CAL.windows(berlin("2026-03-30T00:00"), berlin("2026-03-31T00:00"), MAJOR_HOURS)
    assert [w.isoformat() for w in before[0]] == [
        "2026-03-27T08:00:00+01:00",
        "2026-03-27T18:00:00+01:00",
    ]
    assert [w.isoformat() for w in after[0]] == [
        "2026-03-30T08:00:00+02:00",
        "2026-03-30T18:00:00+02:00",
    ]


def test_holidays_close_every_schedule_but_24x7() -> None:
    good_friday = date(2026, 4, 3)
    assert CAL.closed_reason(good_friday, MAJOR_HOURS) == "Good Friday"
    assert CAL.closed_reason(good_friday, MINOR_HOURS) == "Good Friday"
    assert CAL.closed_reason(good_friday, ALWAYS) is None
    assert CAL.closed_reason(date(2026, 4, 4), MINOR_HOURS) == "Saturday"
    assert CAL.closed_reason(date(2026, 4, 7), MINOR_HOURS) is None


def test_subdivisions_are_a_union_and_extra_days_recur() -> None:
    cal = SupportCalendar(subdivisions=["BY", "SN"], extra_closed=["12-24", "2026-05-15"])
    assert cal.holiday_name(date(2026, 1, 6)) == "Epiphany"  # BY only
    assert cal.holiday_name(date(2026, 11, 18)) == "Repentance and Prayer Day"  # SN only
    assert cal.holiday_name(date(2027, 12, 24)) == "extra closed day"
    assert cal.holiday_name(date(2026, 5, 15)) == "extra closed day"
    assert cal.holiday_name(date(2027, 5, 15)) is None
    assert CAL.holiday_name(date(2026, 1, 6)) is None


def test_from_settings_uses_desk_timezone_and_calendar() -> None:
    s = Settings(
        desk=DeskSettings(timezone="Europe/Berlin"),
        calendar=CalendarSettings(subdivisions=["BY"], extra_closed=["12-31"]),
    )
    cal = SupportCalendar.from_settings(s)
    assert cal.holiday_name(date(2026, 1, 6)) == "Epiphany"
    assert cal.holiday_name(date(2026, 12, 31)) == "extra closed day"


@pytest.mark.parametrize("bad", ["24.12.", "13-01", "2026-02-30", "xmas"])
def test_bad_extra_closed_entry_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="extra_closed"):
        SupportCalendar(extra_closed=[bad])


def test_unknown_subdivision_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="calendar"):
        SupportCalendar(subdivisions=["XX"])


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.add(datetime(2026, 3, 2, 9), timedelta(hours=1), MAJOR_HOURS)


def test_next_open() -> None:
    assert CAL.next_open(berlin("2026-03-13T17:59"), MAJOR_HOURS) == berlin("2026-03-13T17:59")
    assert CAL.next_open(berlin("2026-03-13T18:00"), MAJOR_HOURS) == berlin("2026-03-16T08:00")
    assert CAL.next_open(berlin("2026-04-02T20:00"), MINOR_HOURS) == berlin("2026-04-07T09:00")
    assert CAL.next_open(berlin("2026-04-03T20:00"), ALWAYS) == berlin("2026-04-03T20:00")


def test_elapsed_counts_only_open_time() -> None:
    got = CAL.elapsed(berlin("2026-03-13T17:30"), berlin("2026-03-16T09:00"), MAJOR_HOURS)
    assert got == timedelta(hours=1, minutes=30)
    assert CAL.elapsed(berlin("2026-03-16T09:00"), berlin("2026-03-13T17:30"), MAJOR_HOURS) == (
        -timedelta(hours=1, minutes=30)
    )


def test_closed_days_lists_weekends_and_holidays() -> None:
    got = CAL.closed_days(berlin("2026-04-02T16:00"), berlin("2026-04-08T12:00"), MINOR_HOURS)
    assert got == [
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 4), "Saturday"),
        (date(2026, 4, 5), "Sunday"),
        (date(2026, 4, 6), "Easter Monday"),
    ]


def test_a_year_with_no_open_day_is_refused_not_looped() -> None:
    every_day = [f"{m:02d}-{d:02d}" for m in range(1, 13) for d in range(1, 32) if d <= 28]
    every_day += [f"{m:02d}-{d:02d}" for m in range(1, 13) for d in (29, 30, 31)]
    every_day = [e for e in every_day if e not in ("02-30", "02-31", "04-31", "06-31")]
    every_day = [e for e in every_day if e not in ("09-31", "11-31")]
    cal = SupportCalendar(extra_closed=every_day)
    with pytest.raises(ValueError, match="no open"):
        cal.add(berlin("2026-03-02T09:00"), timedelta(hours=1), MINOR_HOURS)


# -- properties --------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2029, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(min_value=0, max_value=60 * 3600).map(lambda s: timedelta(seconds=s))
schedules = st.sampled_from(SCHEDULES)
PROPERTY = settings(max_examples=300, deadline=None)


@PROPERTY
@given(instants, durations, schedules)
def test_due_is_never_before_start(t: datetime, d: timedelta, sch: Schedule) -> None:
    assert CAL.add(t, d, sch) >= t


@PROPERTY
@given(instants, durations, durations, schedules)
def test_add_is_additive(t: datetime, a: timedelta, b: timedelta, sch: Schedule) -> None:
    assert CAL.add(CAL.add(t, a, sch), b, sch) == CAL.add(t, a + b, sch)


@PROPERTY
@given(instants, instants, durations, durations, schedules)
def test_add_is_monotone(
    t1: datetime, t2: datetime, a: timedelta, b: timedelta, sch: Schedule
) -> None:
    t1, t2 = min(t1, t2), max(t1, t2)
    a, b = min(a, b), max(a, b)
    # Compared in UTC: two instants sharing one ZoneInfo compare by wall clock.
    assert CAL.add(t1, a, sch).astimezone(UTC) <= CAL.add(t1, b, sch).astimezone(UTC)
    assert CAL.add(t1, a, sch).astimezone(UTC) <= CAL.add(t2, a, sch).astimezone(UTC)


@PROPERTY
@given(instants, durations, schedules)
def test_due_lies_in_a_window_or_at_its_closing_edge(
    t: datetime, d: timedelta, sch: Schedule
) -> None:
    if d == timedelta(0):
        return
    due = CAL.add(t, d, sch)
    just_before = due - timedelta(microseconds=1)
    # The clock was running right up to the due instant.
    assert CAL.next_open(just_before, sch) == just_before


@PROPERTY
@given(instants, durations, schedules)
def test_elapsed_inverts_add(t: datetime, d: timedelta, sch: Schedule) -> None:
    assert CAL.elapsed(t, CAL.add(t, d, sch), sch) == d


@PROPERTY
@given(instants, instants, schedules)
def test_windows_sum_to_elapsed(a: datetime, b: datetime, sch: Schedule) -> None:
    a, b = min(a, b), max(a, b)
    total = sum(
        (e.astimezone(UTC) - s.astimezone(UTC) for s, e in CAL.windows(a, b, sch)), timedelta(0)
    )
    assert total == CAL.elapsed(a, b, sch)
