"""rules/window.py: which due dates and council deadlines the passing of time can decide
differently. Checked against brute force and against the engine itself. Pure, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from veiligheid_flow.rules.conditions import All, AnyOf, Compare, Not
from veiligheid_flow.rules.engine import Decision, decide
from veiligheid_flow.rules.facts import TaskSnapshot, World
from veiligheid_flow.rules.tables import Rule, load_rulebook
from veiligheid_flow.rules.window import Thresholds, flipped_ranges, thresholds
from veiligheid_flow.workdays import WorkCalendar

BOOK = load_rulebook(Path(__file__).resolve().parents[2] / "rules")
CAL = WorkCalendar([date(2023, 12, 27)])
START, END = date(2023, 3, 1), date(2024, 12, 31)


def test_the_shipped_rules_thresholds() -> None:
    # Kills: the council threshold (15, PRIO-TERMIJNAGENDA) lost, so a task stays tier 3 for
    # weeks after its deadline came within 15 working days; overdue's thresholds not mirrored.
    # due: overdue gt 0 (flags) and ge 5 (escalation) mirror to 0 and -5.
    assert thresholds(BOOK) == Thresholds(frozenset({0, -5}), frozenset({0, 15}))


def test_thresholds_read_every_number_a_time_fact_is_compared_with() -> None:
    when = All(
        all=[
            Compare.model_validate({"fact": "task.working_days_to_due", "in": [3, 7, "x"]}),
            AnyOf(any=[Not(not_=Compare(fact="task.overdue_working_days", gt=2.5))]),
            Compare(fact="council_item.working_days_to_deadline", lt=20),
            Compare(fact="council_item.working_days_to_deadline", not_in=[4]),
            Compare(fact="task.effort_hours", ge=40),  # not a time fact: no threshold
            Compare(fact="task.statutory", eq=True),
        ]
    )
    only = Rule(id="R-ALLES", version=1, when=when, then={"tier": 1}, reason="Alle soorten.")
    book = replace(BOOK, tables={"priority": [only]})
    assert thresholds(book) == Thresholds(frozenset({0, 3, 7, -2.5}), frozenset({0, 20, 4}))


# --- flipped_ranges against brute force ---------------------------------------------------


# A programme that closes for three weeks at Christmas: more than the 10 calendar days
# window._first first steps back, so its correcting loop has to run.
CLOSED = WorkCalendar([date(2023, 12, 15) + timedelta(n) for n in range(21)])


def side(calendar: WorkCalendar, day: date, target: date, limit: float) -> int:
    n = calendar.working_days_between(day, target)
    return (n > limit) - (n < limit)


def brute_force(
    calendar: WorkCalendar, before: date, after: date, limits: list[float]
) -> set[date]:
    lo = min(before, after) - timedelta(days=80)
    targets = [lo + timedelta(n) for n in range((max(before, after) - lo).days + 80)]
    return {
        t
        for t in targets
        if any(side(calendar, before, t, x) != side(calendar, after, t, x) for x in limits)
    }


def covered(ranges: list[tuple[date, date]]) -> set[date]:
    return {lo + timedelta(n) for lo, hi in ranges for n in range((hi - lo).days)}


CASES = [
    (date(2023, 10, 2), date(2023, 10, 3), [0, -5, 15]),  # an ordinary Monday → Tuesday
    (date(2023, 10, 6), date(2023, 10, 9), [0, 15]),  # over a weekend
    (date(2023, 10, 7), date(2023, 10, 8), [0, 15]),  # Saturday → Sunday: nothing moves
    (date(2023, 12, 22), date(2023, 12, 28), [0, 2, -5]),  # Christmas and an extra day off
    (date(2023, 4, 26), date(2023, 4, 28), [0, 1, 15]),  # over King's Day
    (date(2023, 10, 3), date(2023, 10, 2), [0, -5, 15]),  # backwards: `run --now` in the past
    (date(2024, 1, 2), date(2024, 2, 14), [0, 5, 15]),  # a long gap: ranges overlap and merge
    (date(2023, 12, 8), date(2023, 12, 11), [0, -3, 4]),  # into a long closure
    (date(2023, 10, 2), date(2023, 10, 3), [2.5, -0.5]),  # fractional constants
]


@pytest.mark.parametrize("calendar", [CAL, CLOSED], ids=["plain", "closed-at-christmas"])
@pytest.mark.parametrize(("before", "after", "limits"), CASES)
def test_flipped_ranges_are_exactly_the_targets_whose_side_changed(
    calendar: WorkCalendar, before: date, after: date, limits: list[float]
) -> None:
    ranges = flipped_ranges(calendar, before, after, limits)
    assert covered(ranges) == brute_force(calendar, before, after, limits)
    # merged: sorted, non-empty, neither overlapping nor touching
    assert all(lo < hi for lo, hi in ranges)
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_the_same_day_flips_nothing() -> None:
    assert flipped_ranges(CAL, date(2023, 10, 2), date(2023, 10, 2), [0, 15]) == []


# --- the engine agrees: day by day over the whole programme --------------------------------


def programme() -> list[TaskSnapshot]:
    """Tasks due and council deadlines spread over the programme, every few days."""
    tasks = []
    day, task_id = START, 0
    while day <= END:
        task_id += 1
        tasks.append(
            TaskSnapshot(
                id=task_id,
                statutory=task_id % 5 == 0,
                kind="deliver",
                effort_hours=8.0,
                planned_due=day,
                programme_end=END,
                theme_code="T",
                theme_kind="local",
                council_priority=task_id % 2 == 0,
                owner="a@example.nl",
                backup="b@example.nl",
                council_item="TA" if task_id % 3 else None,
                council_deadline=day - timedelta(days=task_id % 11) if task_id % 3 else None,
            )
        )
        day += timedelta(days=16)
    return tasks


def outcome(decision: Decision) -> tuple[object, ...]:
    """What the service stores and compares: the decided fields and which rules gave them
    (the facts a step read, such as a count of days, change every day and are not compared)."""
    reasons = tuple((s.rule_id, s.version) for s in decision.steps)
    d = decision
    return (d.tier, d.paused, d.responsible, d.due_date, d.flags, reasons)


def test_a_new_day_changes_decisions_only_inside_the_flipped_ranges() -> None:
    # What the daily sweep relies on (rules/service.time_scope), walked over all of 2023-2024
    # rather than a few weeks: a decision that changes outside the ranges would never be stored.
    tasks, limits = programme(), thresholds(BOOK)
    day = START - timedelta(days=1)
    decided = {t.id: outcome(decide(t, World(day, CAL), BOOK)) for t in tasks}
    council_changes = 0
    while day < END:
        after = day + timedelta(days=1)
        due_ranges = flipped_ranges(CAL, day, after, limits.due)
        deadline_ranges = flipped_ranges(CAL, day, after, limits.deadline)
        for task in tasks:
            decision = outcome(decide(task, World(after, CAL), BOOK))
            if decision != decided[task.id]:
                in_due = any(lo <= task.planned_due < hi for lo, hi in due_ranges)
                in_deadline = task.council_deadline is not None and any(
                    lo <= task.council_deadline < hi for lo, hi in deadline_ranges
                )
                assert in_due or in_deadline, (task.id, after)
                council_changes += decision[0] != decided[task.id][0]
                decided[task.id] = decision
        day = after
    assert council_changes >= 15  # the walk did cross the council threshold, many times
