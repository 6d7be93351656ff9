"""Working days: weekends, Dutch public holidays (incl. 5 May) and a programme's extra days off."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cached_property

import holidays


def _weekdays_through(day: date) -> int:
    """Mondays to Fridays from 0001-01-01 (a Monday) up to and including `day`."""
    weeks, rest = divmod(day.toordinal(), 7)
    return 5 * weeks + min(rest, 5)


class WorkCalendar:
    """Pure calendar of working days. `extra_days_off` come from the programme file."""

    def __init__(self, extra_days_off: Iterable[date] = ()) -> None:
        self.extra_days_off = frozenset(extra_days_off)
        self._off_by_year: dict[int, frozenset[date]] = {}
        self._between: dict[tuple[date, date], int] = {}

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        # "optional" adds Liberation Day (5 May) every year, as the Algemene termijnenwet does.
        return holidays.country_holidays("NL", categories=("public", "optional"), language="nl")

    def _off_weekdays(self, year: int) -> frozenset[date]:
        """Holidays and extra days off of `year` that fall on a Monday to Friday."""
        found = self._off_by_year.get(year)
        if found is None:
            self._holidays.get(date(year, 1, 1))  # makes the holidays object load `year`
            days = {d for d in self._holidays if d.year == year} | {
                d for d in self.extra_days_off if d.year == year
            }
            found = self._off_by_year[year] = frozenset(d for d in days if d.weekday() < 5)
        return found

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra_days_off:
            return "extra vrije dag"
        return self._holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._off_weekdays(day.year)

    def on_or_before(self, day: date) -> date:
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def on_or_after(self, day: date) -> date:
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, day: date, count: int) -> date:
        """Move `count` working days forward (negative: backward) from `day`."""
        step = timedelta(days=1 if count >= 0 else -1)
        remaining = abs(count)
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open range (start, end]; negative when end < start."""
        key = (start, end)
        found = self._between.get(key)
        if found is None:
            found = self._between[key] = self._count_between(start, end)
        return found

    def _count_between(self, start: date, end: date) -> int:
        if end < start:
            return -self.working_days_between(end, start)
        off = sum(
            1
            for year in range(start.year, end.year + 1)
            for d in self._off_weekdays(year)
            if start < d <= end
        )
        return _weekdays_through(end) - _weekdays_through(start) - off
