"""Expand an activity into its task occurrences over the programme period. Pure."""

from __future__ import annotations

import calendar as monthcal
from dataclasses import dataclass
from datetime import date, datetime

from dateutil.rrule import rrulestr

from veiligheid_flow.programme.schema import ActivitySpec, ProgrammeSpec, Recurrence
from veiligheid_flow.workdays import WorkCalendar


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
        parsed = rrulestr(rule.rrule, dtstart=datetime.combine(start, datetime.min.time()))
        stop = datetime.combine(end, datetime.max.time())
        # A sub-daily rule gives one task per day: occurrences are keyed by date.
        return sorted(
            {
                moment.date()
                for moment in parsed.between(
                    datetime.combine(start, datetime.min.time()), stop, inc=True
                )
            }
        )
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


def _day_in_month(year: int, month: int, day: int | None) -> date:
    last = monthcal.monthrange(year, month)[1]
    return date(year, month, min(day or last, last))


def _valid_day(year: int, month: int, day: int) -> bool:
    return day <= monthcal.monthrange(year, month)[1]
