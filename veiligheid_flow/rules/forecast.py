"""Capacity forecast: planned load against capacity per person and week, and the deadlines that
will be missed if work is done in rank order. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from veiligheid_flow.workdays import WorkCalendar


@dataclass(frozen=True)
class PlannedTask:
    id: int
    title: str
    person: str  # responsible email
    effort_hours: float
    due: date


@dataclass(frozen=True)
class WeekLoad:
    person: str
    week: date  # Monday
    capacity: float
    load: float

    @property
    def over(self) -> bool:
        return self.load > self.capacity + 1e-9


@dataclass(frozen=True)
class Miss:
    task: PlannedTask
    finished_week: date | None  # None: not finished within the horizon


def forecast(
    *,
    tasks: Sequence[PlannedTask],
    hours_per_week: Mapping[str, float],
    today: date,
    weeks: int,
    calendar: WorkCalendar,
    unavailable: Mapping[str, set[date]],
) -> tuple[list[WeekLoad], list[Miss]]:
    """`tasks` in rank order. Each person works through their tasks in that order, spending
    their capacity of each working day (hours per week / 5) unless unavailable that day."""
    monday = today - timedelta(days=today.weekday())
    end = monday + timedelta(weeks=weeks)
    horizon = [today + timedelta(days=n) for n in range((end - today).days)]
    rows: list[WeekLoad] = []
    misses: list[Miss] = []
    for person, hours in sorted(hours_per_week.items()):
        daily = {
            d: (
                hours / 5
                if calendar.is_working_day(d) and d not in unavailable.get(person, set())
                else 0.0
            )
            for d in horizon
        }
        own = [t for t in tasks if t.person == person]
        finish = _schedule(own, daily, horizon)
        for n in range(weeks):
            start = monday + timedelta(weeks=n)
            days = [start + timedelta(days=k) for k in range(7)]
            capacity = sum(daily.get(d, 0.0) for d in days)
            load = sum(t.effort_hours for t in own if _due_week(t.due, today) == start) + (
                sum(t.effort_hours for t in own if t.due < monday) if n == 0 else 0.0
            )
            rows.append(WeekLoad(person, start, round(capacity, 1), round(load, 1)))
        for task in own:
            done = finish.get(task.id)
            # Unfinished at the horizon is a miss only when the deadline lies inside it.
            if (done is None and task.due < end) or (done is not None and done > task.due):
                misses.append(Miss(task, done and done - timedelta(days=done.weekday())))
    return rows, misses


def _due_week(due: date, today: date) -> date:
    return due - timedelta(days=due.weekday())


def _schedule(
    tasks: Sequence[PlannedTask], daily: dict[date, float], horizon: list[date]
) -> dict[int, date]:
    """Finish day per task, working through them in order with the daily capacity."""
    finish: dict[int, date] = {}
    remaining = dict(daily)
    index = 0
    for task in tasks:
        need = task.effort_hours
        last = horizon[min(index, len(horizon) - 1)]
        while need > 1e-9 and index < len(horizon):
            day = horizon[index]
            used = min(need, remaining[day])
            need -= used
            remaining[day] -= used
            if used > 0:
                last = day
            if remaining[day] <= 1e-9:
                index += 1
        if need <= 1e-9:
            finish[task.id] = last
    return finish
