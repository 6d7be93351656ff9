"""The bounded RRULE expansion in programme/expand.py against dateutil run plainly, and the
calendar shift it uses. Pure, no database."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from dateutil.rrule import rrulestr

from veiligheid_flow.programme.expand import _calendar_shift, nominal_dates
from veiligheid_flow.programme.schema import Recurrence

START, END = date(2023, 3, 1), date(2024, 12, 31)


def plain(text: str, start: date, end: date) -> list[date]:
    """dateutil without any shifting: slow for rules that never match, exact for the rest."""
    rule = rrulestr(text, dtstart=datetime.combine(start, time.min))
    found = rule.between(datetime.combine(start, time.min), datetime.combine(end, time.max), True)
    return [m.date() for m in found]


RULES = [
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",  # last weekday of the month
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",  # leap day: only 2024
    "FREQ=YEARLY;BYYEARDAY=-1",
    "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO",  # ISO week 1 of 2025 starts on 30 December 2024
    "FREQ=YEARLY;BYWEEKNO=53;BYDAY=SU",
    "FREQ=WEEKLY;INTERVAL=3;BYDAY=WE;COUNT=5",
    "FREQ=DAILY;INTERVAL=40",
]


@pytest.mark.parametrize("text", RULES)
@pytest.mark.parametrize(
    ("start", "end"),
    [(START, END), (date(2020, 12, 28), date(2021, 1, 10)), (date(2098, 1, 1), date(2100, 12, 31))],
)
def test_the_bounded_expansion_gives_dateutils_own_dates(text: str, start: date, end: date) -> None:
    # Kills a shift onto years with another calendar, and years left out of the comparison
    # (week numbers at the turn of a year depend on the year before and after).
    assert nominal_dates(Recurrence(rrule=text), start, end) == plain(text, start, end)


def test_a_rule_that_never_matches_gives_nothing() -> None:
    assert nominal_dates(Recurrence(rrule="FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"), START, END) == []


@pytest.mark.parametrize(
    ("until", "expected"),
    [
        ("20230228", []),  # before the period
        ("20230301", [START]),  # on its first day: that day still counts
        ("20230303", [START, date(2023, 3, 2), date(2023, 3, 3)]),
        ("20991231", None),  # long after it: the period's end cuts it off
    ],
)
def test_until_is_absolute(until: str, expected: list[date] | None) -> None:
    text = f"FREQ=DAILY;UNTIL={until}"
    dates = nominal_dates(Recurrence(rrule=text), START, END)
    if expected is None:
        assert dates == plain("FREQ=DAILY", START, END)
        assert dates[-1] == END
    else:
        assert dates == expected


def same_calendar(a: int, b: int) -> bool:
    """Written independently of expand._calendar: 1 March's weekday and the length of
    February fix a Gregorian year's calendar."""

    def february(y: int) -> int:
        return (date(y, 3, 1) - date(y, 2, 1)).days

    return date(a, 3, 1).weekday() == date(b, 3, 1).weekday() and february(a) == february(b)


# (the other cases are those where a bound one year off, or a year more or less compared,
# gives another shift)
@pytest.mark.parametrize(
    ("first", "last"),
    [(2023, 2024), (2000, 2000), (2010, 2010), (2019, 2025), (2020, 2026), (2098, 2099)],
)
def test_the_calendar_shift_is_the_largest_one_below_9999(first: int, last: int) -> None:
    shift = _calendar_shift(first, last)
    years = range(first - 1, last + 2)
    assert all(same_calendar(y, y + shift) for y in years)
    assert last + 1 + shift <= 9998
    larger = range(shift + 1, 9999 - last - 1)
    assert not any(all(same_calendar(y, y + s) for y in years) for s in larger)
    assert shift > 9998 - 400 - last  # so at most 400 years are left for dateutil to search
