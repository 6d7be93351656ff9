"""Which tasks can the mere passing of time decide differently? Pure: rules and calendar in,
date ranges out.

A fact like `task.working_days_to_due` changes every day, but a rule only sees on which side of
its threshold the value lies. Between two days the decision of a task can therefore change only
if, for some threshold, the task's due date lies where that side flipped. Those due dates form a
few short ranges: the daily sweep evaluates the tasks in them and leaves the rest alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from veiligheid_flow.rules.conditions import compares
from veiligheid_flow.rules.facts import REGISTRY
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.workdays import WorkCalendar

# fact → sign, from the registry: the fact's value as working days to the date (+1) or past it
# (-1), for the facts the due date or the council deadline moves.
DUE_FACTS = {f.name: f.sign for f in REGISTRY.values() if "due" in f.windows}
DEADLINE_FACTS = {f.name: f.sign for f in REGISTRY.values() if "council deadline" in f.windows}


@dataclass(frozen=True)
class Thresholds:
    due: frozenset[float]  # in working days to the (shifted) due date
    deadline: frozenset[float]  # in working days to a council item's submission deadline


def thresholds(book: RuleBook) -> Thresholds:
    """Every constant a rule compares a time-dependent fact with, as working days to the date.

    0 is always included: overdue (a due date before today) is also judged outside the rules."""
    due: set[float] = {0}
    deadline: set[float] = {0}
    for rules in book.tables.values():
        for rule in rules:
            for comp in compares(rule.when):
                values = comp.value if comp.op in ("in", "not_in") else [comp.value]
                numbers = [v for v in values if isinstance(v, int | float)]
                if comp.fact in DUE_FACTS:
                    # overdue_working_days = max(0, -to_due): its thresholds mirror, and 0 counts.
                    due.update(DUE_FACTS[comp.fact] * v for v in numbers)
                elif comp.fact in DEADLINE_FACTS:
                    deadline.update(DEADLINE_FACTS[comp.fact] * v for v in numbers)
    return Thresholds(frozenset(due), frozenset(deadline))


def _first(calendar: WorkCalendar, day: date, at_least: float, strict: bool) -> date:
    """The first date d whose working_days_between(day, d) is >= (or >) `at_least`."""
    guess = calendar.add_working_days(day, int(at_least)) - timedelta(days=10)

    def ok(d: date) -> bool:
        n = calendar.working_days_between(day, d)
        return n > at_least if strict else n >= at_least

    while ok(guess):
        guess -= timedelta(days=10)
    while not ok(guess):
        guess += timedelta(days=1)
    return guess


def flipped_ranges(
    calendar: WorkCalendar, before: date, after: date, limits: Iterable[float]
) -> list[tuple[date, date]]:
    """Half-open date ranges [lo, hi) of target dates whose value relative to some limit (less,
    equal, greater) differs between `before` and `after`. Empty when the days are equal."""
    if before == after:
        return []
    ranges = []
    for limit in sorted(set(limits)):
        for strict in (False, True):
            a = _first(calendar, before, limit, strict)
            b = _first(calendar, after, limit, strict)
            if a != b:
                ranges.append((min(a, b), max(a, b)))
    return _merged(ranges)


def _merged(ranges: list[tuple[date, date]]) -> list[tuple[date, date]]:
    out: list[tuple[date, date]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
