"""The pure rules engine: a task snapshot and the world in, a decision with its reasons out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from veiligheid_flow.rules.conditions import facts_of
from veiligheid_flow.rules.facts import NEVER_PAUSED, TaskSnapshot, World, task_facts
from veiligheid_flow.rules.tables import CrisisShift, Rule, RuleBook
from veiligheid_flow.workdays import WorkCalendar

STATUTORY_GUARD = NEVER_PAUSED.rule_id


@dataclass(frozen=True)
class Step:
    table: str
    rule_id: str
    version: int
    reason: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    tier: int
    paused: bool
    paused_by: tuple[int, ...]
    responsible: str  # "owner" or "backup"
    due_date: date
    flags: tuple[str, ...]
    steps: tuple[Step, ...] = field(default=())

    @property
    def rule_ids(self) -> list[str]:
        return [s.rule_id for s in self.steps]


def _step(table: str, rule: Rule, facts: dict[str, Any]) -> Step:
    return Step(
        table,
        rule.id,
        rule.version,
        rule.reason,
        {name: facts[name] for name in dict.fromkeys(facts_of(rule.when))},
    )


def _first(book: RuleBook, table: str, facts: dict[str, Any]) -> tuple[Rule | None, Step | None]:
    for rule in book.tables.get(table, ()):
        if rule.applies(facts):
            return rule, _step(table, rule, facts)
    return None, None


def facts_for(task: TaskSnapshot, world: World, book: RuleBook) -> dict[str, Any]:
    """The facts the rules read for a task, judged against its (crisis-shifted) due date."""
    due, _ = _shifted_due(task, world, book)
    return task_facts(task, world, due)


def decide(task: TaskSnapshot, world: World, book: RuleBook) -> Decision:
    due, shift_step = _shifted_due(task, world, book)
    facts = task_facts(task, world, due)
    steps: list[Step] = []

    if task.override is not None:
        tier = task.override.tier
        steps.append(
            Step(
                "priority",
                "OVERRIDE-PORTEFEUILLEHOUDER",
                1,
                f"Prioriteit gezet door {task.override.by}: {task.override.reason}",
                {"override.tier": tier},
            )
        )
    else:
        rule, step = _first(book, "priority", facts)
        tier = rule.then["tier"] if rule else book.default_tier
        steps += [step] if step else []

    rule, step = _first(book, "pause", facts)
    paused = bool(rule and rule.then["pause"])
    steps += [step] if step else []
    if paused and NEVER_PAUSED.holds(facts):
        paused = False
        steps.append(
            Step(
                "pause",
                NEVER_PAUSED.rule_id,
                NEVER_PAUSED.version,
                NEVER_PAUSED.reason,
                {NEVER_PAUSED.fact: True},
            )
        )
    paused_by = tuple(sorted(c.id for c in world.crises if c.touches(task))) if paused else ()
    facts["decision.paused"] = paused

    steps += [shift_step] if shift_step else []
    facts["decision.past_programme_end"] = due > task.programme_end

    rule, step = _first(book, "responsibility", facts)
    responsible = rule.then["responsible"] if rule else "owner"
    steps += [step] if step else []

    flags: list[str] = []
    for rule in book.tables.get("flags", ()):
        if rule.applies(facts) and rule.then["flag"] not in flags:
            flags.append(rule.then["flag"])
            steps.append(_step("flags", rule, facts))
    return Decision(tier, paused, paused_by, responsible, due, tuple(flags), tuple(steps))


def shifted_due(
    shift: CrisisShift, calendar: WorkCalendar, planned: date, paused: Iterable[tuple[date, date]]
) -> tuple[date, int]:
    """The due-date shift after a pause, the one definition (the engine's and the set-based
    path's): `planned` moved by the working days in the (first, last) periods the task lay
    still, both days included, overlaps once; but only by the periods that displaced its work,
    those it was due in or at most `displaced_within_working_days` after (a task late before
    the crisis, or due long after it, keeps its date). With the count; (planned, 0) when off."""
    if not shift.enabled:
        return planned, 0
    due, count = planned, 0
    for first, last in _spans(paused):  # overlapping pauses are one stretch of lying still
        if first <= due <= calendar.add_working_days(last, shift.displaced_within_working_days):
            count += calendar.working_days_between(first - timedelta(days=1), last)
            due = calendar.add_working_days(planned, count)
    return due, count


def _spans(periods: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """The periods merged where they overlap or touch, in order."""
    spans: list[tuple[date, date]] = []
    for first, last in sorted(periods):
        if spans and first <= spans[-1][1] + timedelta(days=1):
            spans[-1] = (spans[-1][0], max(spans[-1][1], last))
        else:
            spans.append((first, last))
    return spans


def _shifted_due(task: TaskSnapshot, world: World, book: RuleBook) -> tuple[date, Step | None]:
    """Planned due date moved by the working days the task lay still in ended crises."""
    shift = book.settings.crisis_shift
    periods = [(first, last) for _, first, last in task.ended_pauses]
    due, count = shifted_due(shift, world.calendar, task.planned_due, periods)
    if count == 0:
        return task.planned_due, None
    crises = sorted({cid for cid, _, _ in task.ended_pauses})
    return due, Step(
        "due",
        shift.rule_id,
        shift.version,
        shift.reason,
        {
            "crises": crises,
            "working_days_paused": count,
            "planned_due": task.planned_due.isoformat(),
            "due": due.isoformat(),
        },
    )


def sort_key(task_id: int, decision: Decision, effort_hours: float) -> tuple[Any, ...]:
    """The total order of work: active first, tier, due date, effort, id."""
    return (decision.paused, decision.tier, decision.due_date, effort_hours, task_id)
