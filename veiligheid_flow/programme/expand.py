"""Expand an activity into its task occurrences over the programme period. Pure."""

from __future__ import annotations

import calendar as monthcal
from dataclasses import dataclass
from datetime import MAXYEAR, date, datetime, time
from typing import TypeVar

from dateutil.rrule import rrulestr

from veiligheid_flow.programme.schema import ActivitySpec, ProgrammeSpec, Recurrence
from veiligheid_flow.workdays import WorkCalendar

_D = TypeVar("_D", date, datetime)


@dataclass(frozen=True)
class Occurrence:
    key: str  # the nominal date, ISO: stable across reloads
    nominal: date
    due: date  # nominal moved to the previous working day


def occurrences(
    activity: ActivitySpec, period: ProgrammeSpec, calendar: WorkCalendar
) -> list[Occurrence]:
    if activity.due is not None:
        nominals = [activity.due]
    elif activity.repeat is not None:
        nominals = nominal_dates(activity.repeat, period.start, period.end)
    else:
        return []  # event-driven: tasks come from cases
    return [Occurrence(d.isoformat(), d, calendar.on_or_before(d)) for d in nominals]


def nominal_dates(rule: Recurrence, start: date, end: date) -> list[date]:
    if rule.rrule is not None:
        return _rrule_dates(rule.rrule, start, end)
    if rule.every == "year":
        days = [
            date(year, int(md[:2]), int(md[3:]))
            for year in range(start.year, end.year + 1)
            for md in rule.dates or []
            if _valid_day(year, int(md[:2]), int(md[3:]))
        ]
    else:
        months = range(1, 13) if rule.every == "month" else (3, 6, 9, 12)
        days = [
            _day_in_month(year, month, rule.day)
            for year in range(start.year, end.year + 1)
            for month in months
        ]
    return sorted(d for d in days if start <= d <= end)


def _rrule_dates(text: str, start: date, end: date) -> list[date]:
    """The dates of an RRULE from `start` to `end`, in bounded time.

    dateutil looks for a next occurrence until the year 9999, so a rule that never matches
    (FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30) takes seconds. The rule is therefore expanded over the
    latest years before 9999 whose calendar is the same as the period's (weekday of 1 January
    and leap year, for each year), and the dates are shifted back: the same dates, with only a
    few decades left to search."""
    shift = _calendar_shift(start.year, end.year)
    first = datetime.combine(_years_later(start, shift), time.min)
    last = datetime.combine(_years_later(end, shift), time.max)
    parsed = rrulestr(text, dtstart=first)
    until = parsed._until  # UNTIL is absolute: move it along, or cut it off at the period
    if until is not None:
        if until.date() < start:
            return []
        parsed = parsed.replace(until=last if until.date() > end else _years_later(until, shift))
    return sorted({_years_later(m.date(), -shift) for m in parsed.between(first, last, inc=True)})


def _calendar_shift(first_year: int, last_year: int) -> int:
    """The largest number of years that maps first_year−1 … last_year+1 onto years with the
    same calendars, below 9999 (400 always does: the Gregorian calendar repeats after it)."""
    years = range(first_year - 1, last_year + 2)
    return next(
        shift
        for shift in range(MAXYEAR - 1 - years[-1], 0, -1)
        if all(_calendar(y) == _calendar(y + shift) for y in years)
    )


def _calendar(year: int) -> tuple[int, bool]:
    return date(year, 1, 1).weekday(), monthcal.isleap(year)


def _years_later(day: _D, years: int) -> _D:
    return day.replace(year=day.year + years)  # same calendar: 29 February exists in both


def _day_in_month(year: int, month: int, day: int | None) -> date:
    last = monthcal.monthrange(year, month)[1]
    return date(year, month, min(day or last, last))


def _valid_day(year: int, month: int, day: int) -> bool:
    return day <= monthcal.monthrange(year, month)[1]
