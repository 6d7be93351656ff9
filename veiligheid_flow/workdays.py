"""Working days: weekends, Dutch public holidays (incl. 5 May) and a programme's extra days off."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import cached_property

import holidays


class WorkCalendar:
    """Pure calendar of working days. `extra_days_off` come from the programme file."""

    def __init__(self, extra_days_off: Iterable[date] = ()) -> None:
        self.extra_days_off = frozenset(extra_days_off)

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        # "optional" adds Liberation Day (5 May) every year, as the Algemene termijnenwet does.
        return holidays.country_holidays("NL", categories=("public", "optional"), language="nl")

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra_days_off:
            return "extra vrije dag"
        return self._holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday_name(day) is None

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
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1
            for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )
