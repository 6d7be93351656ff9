"""Expanding activities into dated occurrences, and the working-day calendar. Pure."""

from __future__ import annotations

import calendar as monthcal
from datetime import date, timedelta
from typing import Any

import pytest

from veiligheid_flow.programme.expand import nominal_dates, occurrences
from veiligheid_flow.programme.schema import ActivitySpec, ProgrammeSpec, Recurrence
from veiligheid_flow.workdays import WorkCalendar

START, END = date(2023, 3, 1), date(2024, 12, 31)
PERIOD = ProgrammeSpec(code="UPV-2023-2024", name="Test", start=START, end=END)
# The extra days off of the example programme.
CALENDAR = WorkCalendar([date(2023, 12, 27), date(2024, 5, 10), date(2024, 12, 27)])


def activity(**schedule: Any) -> ActivitySpec:
    return ActivitySpec(code="T01", title="Testactiviteit", effort_hours=1, **schedule)


def every_day(start: date = START, end: date = END) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def month_ends(start: date = START, end: date = END) -> list[date]:
    return [d for d in every_day(start, end) if (d + timedelta(days=1)).day == 1]


# --- a due date on a day off moves to the previous working day -------------------------------


@pytest.mark.parametrize(
    ("nominal", "due", "why"),
    [
        (date(2023, 12, 31), date(2023, 12, 29), "Sunday"),
        (date(2024, 3, 31), date(2024, 3, 28), "Easter Sunday, after Good Friday"),
        (date(2024, 4, 1), date(2024, 3, 28), "Easter Monday"),
        (date(2023, 4, 27), date(2023, 4, 26), "King's Day (Thursday)"),
        (date(2023, 5, 5), date(2023, 5, 4), "Liberation Day (Friday)"),
        (date(2023, 12, 27), date(2023, 12, 22), "extra day off after Christmas"),
        (date(2024, 5, 10), date(2024, 5, 8), "extra day off after Ascension Day"),
        (date(2023, 10, 2), date(2023, 10, 2), "an ordinary Monday stays"),
    ],
)
def test_due_date_on_a_day_off_moves_to_the_previous_working_day(nominal, due, why):
    (occurrence,) = occurrences(activity(due=nominal), PERIOD, CALENDAR)

    assert occurrence.due == due, why
    assert occurrence.nominal == nominal
    assert occurrence.key == nominal.isoformat()  # the key stays the nominal date


def test_holiday_names_and_working_days():
    # (the holiday library's names depend on the locale, so only their presence is checked)
    assert CALENDAR.holiday_name(date(2023, 4, 27))  # King's Day
    assert CALENDAR.holiday_name(date(2023, 5, 5))  # Liberation Day, every year
    assert CALENDAR.holiday_name(date(2024, 5, 5))
    assert CALENDAR.holiday_name(date(2023, 12, 27)) == "extra vrije dag"
    assert CALENDAR.holiday_name(date(2023, 10, 3)) is None
    assert not CALENDAR.is_working_day(date(2023, 10, 1))  # Sunday
    assert CALENDAR.is_working_day(date(2023, 10, 2))
    # Without the extra days off, 27 December 2023 is an ordinary Wednesday.
    assert WorkCalendar().is_working_day(date(2023, 12, 27))


def test_every_moved_occurrence_is_a_working_day_on_or_before_its_nominal_date():
    spec = activity(repeat=Recurrence(rrule="FREQ=DAILY"))

    found = occurrences(spec, PERIOD, CALENDAR)

    assert len(found) == len(every_day())
    for occ in found:
        assert CALENDAR.is_working_day(occ.due)
        assert occ.due <= occ.nominal
        # no working day is skipped over
        assert all(
            not CALENDAR.is_working_day(occ.due + timedelta(days=n))
            for n in range(1, (occ.nominal - occ.due).days + 1)
        )


# --- every: month / quarter / year ---------------------------------------------------------


def test_monthly_on_day_31_gives_the_last_day_of_short_months():
    dates = nominal_dates(Recurrence(every="month", day=31), START, END)

    assert dates == month_ends()
    assert len(dates) == 22
    assert date(2024, 2, 29) in dates  # leap year
    assert date(2023, 4, 30) in dates
    assert date(2023, 9, 30) in dates


def test_monthly_without_a_day_means_the_last_day_and_day_15_means_the_15th():
    assert nominal_dates(Recurrence(every="month"), START, END) == month_ends()
    assert nominal_dates(Recurrence(every="month", day=15), START, END) == [
        d for d in every_day() if d.day == 15
    ]


def test_quarterly_gives_the_end_of_each_quarter_in_the_period():
    assert nominal_dates(Recurrence(every="quarter"), START, END) == [
        date(2023, 3, 31),
        date(2023, 6, 30),
        date(2023, 9, 30),
        date(2023, 12, 31),
        date(2024, 3, 31),
        date(2024, 6, 30),
        date(2024, 9, 30),
        date(2024, 12, 31),
    ]


def test_quarterly_with_a_day_and_its_moved_due_dates():
    spec = activity(repeat=Recurrence(every="quarter", day=1))

    found = occurrences(spec, PERIOD, CALENDAR)

    assert [o.nominal for o in found] == [
        date(y, m, 1) for y in (2023, 2024) for m in (3, 6, 9, 12)
    ]
    moved = {o.nominal: o.due for o in found if o.due != o.nominal}
    assert moved == {
        date(2024, 6, 1): date(2024, 5, 31),  # Saturday
        date(2024, 9, 1): date(2024, 8, 30),  # Sunday
        date(2024, 12, 1): date(2024, 11, 29),  # Sunday
    }


def test_quarter_end_on_easter_sunday_moves_before_good_friday():
    spec = activity(repeat=Recurrence(every="quarter"))

    due = {o.nominal: o.due for o in occurrences(spec, PERIOD, CALENDAR)}

    assert due[date(2024, 3, 31)] == date(2024, 3, 28)
    assert due[date(2023, 12, 31)] == date(2023, 12, 29)


def test_yearly_dates_list_inside_the_period_only():
    rule = Recurrence(every="year", dates=["03-31", "09-30"])
    assert nominal_dates(rule, START, END) == [
        date(2023, 3, 31),
        date(2023, 9, 30),
        date(2024, 3, 31),
        date(2024, 9, 30),
    ]
    # 15 January 2023 lies before the period starts
    assert nominal_dates(Recurrence(every="year", dates=["01-15"]), START, END) == [
        date(2024, 1, 15)
    ]
    # 29 February exists only in 2024
    assert nominal_dates(Recurrence(every="year", dates=["02-29"]), START, END) == [
        date(2024, 2, 29)
    ]


# --- RRULE -----------------------------------------------------------------------------------


def test_weekly_rrule_on_monday_gives_every_monday_of_the_period():
    mondays = [d for d in every_day() if d.weekday() == 0]

    dates = nominal_dates(Recurrence(rrule="FREQ=WEEKLY;BYDAY=MO"), START, END)

    assert dates == mondays
    assert len(dates) == 96
    assert (dates[0], dates[-1]) == (date(2023, 3, 6), date(2024, 12, 30))


def test_weekly_rrule_moves_monday_holidays_back_but_keeps_the_nominal_key():
    spec = activity(repeat=Recurrence(rrule="FREQ=WEEKLY;BYDAY=MO"))

    found = {o.key: o.due for o in occurrences(spec, PERIOD, CALENDAR)}

    assert found["2023-04-10"] == date(2023, 4, 6)  # Easter Monday, Good Friday before it
    assert found["2023-05-29"] == date(2023, 5, 26)  # Whit Monday
    assert found["2024-01-01"] == date(2023, 12, 29)  # New Year's Day
    assert found["2023-10-02"] == date(2023, 10, 2)


def test_monthly_rrule_on_the_first_tuesday():
    dates = nominal_dates(Recurrence(rrule="FREQ=MONTHLY;BYDAY=1TU"), START, END)

    assert len(dates) == 22
    assert dates == [d for d in every_day() if d.weekday() == 1 and d.day <= 7]
    assert dates[0] == date(2023, 3, 7)


def test_fortnightly_rrule_from_the_example():
    dates = nominal_dates(Recurrence(rrule="FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"), START, END)

    assert all(d.weekday() == 1 for d in dates)
    assert {b - a for a, b in zip(dates, dates[1:], strict=False)} == {timedelta(days=14)}
    assert dates[0] - START < timedelta(days=14)
    assert END - dates[-1] < timedelta(days=14)


def test_rrule_with_until_stops_there():
    rule = Recurrence(rrule="FREQ=MONTHLY;BYMONTHDAY=1;UNTIL=20230701")

    assert nominal_dates(rule, START, END) == [date(2023, m, 1) for m in range(3, 8)]


def test_event_driven_activity_has_no_occurrences():
    assert occurrences(activity(case="huisverbod"), PERIOD, CALENDAR) == []


# --- counting working days -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "count", "result"),
    [
        (date(2023, 12, 22), 1, date(2023, 12, 28)),  # Christmas, 2nd Christmas, extra day
        (date(2023, 12, 28), -1, date(2023, 12, 22)),
        (date(2024, 5, 8), 1, date(2024, 5, 13)),  # Ascension Day, extra day, weekend
        (date(2024, 5, 13), -2, date(2024, 5, 7)),
        (date(2023, 4, 26), 2, date(2023, 5, 1)),  # King's Day, weekend
        (date(2023, 5, 4), 1, date(2023, 5, 8)),  # Liberation Day, weekend
        (date(2023, 10, 2), 0, date(2023, 10, 2)),
        (date(2023, 10, 2), 10, date(2023, 10, 16)),
    ],
)
def test_add_working_days_skips_weekends_holidays_and_extra_days_off(start, count, result):
    assert CALENDAR.add_working_days(start, count) == result


def test_working_days_between_across_the_turn_of_the_year():
    # (22 Dec, 2 Jan]: 28, 29 December and 2 January; not 25-27 Dec, 1 Jan or the weekends
    assert CALENDAR.working_days_between(date(2023, 12, 22), date(2024, 1, 2)) == 3
    assert CALENDAR.working_days_between(date(2024, 1, 2), date(2023, 12, 22)) == -3
    assert CALENDAR.working_days_between(date(2023, 10, 2), date(2023, 10, 2)) == 0
    assert WorkCalendar().working_days_between(date(2023, 12, 22), date(2024, 1, 2)) == 4


def test_add_and_between_agree_over_the_whole_period():
    working = [d for d in every_day() if CALENDAR.is_working_day(d)]
    assert len(working) == CALENDAR.working_days_between(START - timedelta(days=1), END)
    for index in range(0, len(working) - 25, 37):
        day = working[index]
        for count in (1, 5, 10, 25):
            later = CALENDAR.add_working_days(day, count)
            assert later == working[index + count]
            assert CALENDAR.working_days_between(day, later) == count
            assert CALENDAR.add_working_days(later, -count) == day


def test_month_ends_helper_matches_the_calendar_module():
    # guards the expectation helper used above
    assert month_ends() == [
        date(y, m, monthcal.monthrange(y, m)[1])
        for y in (2023, 2024)
        for m in range(1, 13)
        if date(y, m, 1) >= START
    ]
