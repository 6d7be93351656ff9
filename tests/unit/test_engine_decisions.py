"""The rules engine's own parts that the shipped rule files do not reach: defaults, switches,
boundaries and the exact reasons it records. Pure, no database."""

from __future__ import annotations

import functools
import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from veiligheid_flow.rules.conditions import Compare
from veiligheid_flow.rules.engine import (
    STATUTORY_GUARD,
    Decision,
    Step,
    decide,
    facts_for,
    sort_key,
)
from veiligheid_flow.rules.facts import CrisisFacts, Override, TaskSnapshot, World, task_facts
from veiligheid_flow.rules.tables import CrisisShift, Rule, RuleBook, Settings, load_rulebook
from veiligheid_flow.workdays import WorkCalendar

BOOK = load_rulebook(Path(__file__).resolve().parents[2] / "rules")
# These tests are about the shift's arithmetic: every later due date counts as displaced.
BOOK.settings = BOOK.settings.model_copy(
    update={
        "crisis_shift": BOOK.settings.crisis_shift.model_copy(
            update={"displaced_within_working_days": 260}
        )
    }
)
CAL = WorkCalendar()
TODAY = date(2023, 10, 2)  # a Monday
END = date(2024, 12, 31)
OWNER, BACKUP = "owner@example.nl", "backup@example.nl"


def snap(task_id: int = 1, **changes: object) -> TaskSnapshot:
    base = TaskSnapshot(
        id=task_id,
        statutory=False,
        kind="deliver",
        effort_hours=8.0,
        planned_due=date(2023, 12, 15),
        programme_end=END,
        theme_code="JEUGD",
        theme_kind="local",
        council_priority=False,
        owner=OWNER,
        backup=BACKUP,
    )
    return replace(base, **changes)


WORLD = World(today=TODAY, calendar=CAL)


def rule(rule_id: str, when: Compare, then: dict[str, object], version: int = 1) -> Rule:
    return Rule(id=rule_id, version=version, when=when, then=then, reason=f"Reden {rule_id}.")


def crisis(crisis_id: int, themes: tuple[str, ...]) -> CrisisFacts:
    return CrisisFacts(crisis_id, f"C{crisis_id}", 2, TODAY, None, themes=frozenset(themes))


# --- defaults -----------------------------------------------------------------------------------


def test_no_priority_rule_applies_so_the_tables_default_tier_decides() -> None:
    # Kills: `default_tier` ignored (the first rule's tier, or a KeyError, instead).
    only_statutory = rule("PRIO-W", Compare(fact="task.statutory", eq=True), {"tier": 1})
    book = replace(BOOK, tables={**BOOK.tables, "priority": [only_statutory]}, default_tier=7)
    decision = decide(snap(), WORLD, book)
    assert decision.tier == 7
    assert [s.table for s in decision.steps] == []  # no rule, so no reason either
    assert decide(snap(statutory=True), WORLD, book).tier == 1


def test_a_book_without_tables_decides_the_defaults_and_records_no_steps() -> None:
    # Kills: iterating `tables.get(table, None)`, appending a None step when nothing applies.
    decision = decide(snap(), WORLD, RuleBook(default_tier=5))
    assert decision == Decision(5, False, (), "owner", date(2023, 12, 15), (), ())


# --- the reasons recorded, exactly ---------------------------------------------------------------


def test_a_rule_step_records_its_table_id_version_reason_and_the_facts_it_read() -> None:
    # Kills: version or reason left out of a step (the audit trail and `explain` show them).
    raadsthema = rule("PRIO-R", Compare(fact="theme.council_priority", eq=True), {"tier": 3}, 4)
    book = replace(BOOK, tables={**BOOK.tables, "priority": [raadsthema]})
    decision = decide(snap(council_priority=True), WORLD, book)
    assert decision.steps[0] == Step(
        "priority", "PRIO-R", 4, "Reden PRIO-R.", {"theme.council_priority": True}
    )


def test_the_override_step_is_recorded_exactly() -> None:
    override = Override(tier=2, by="bm@example.nl", reason="raadsvragen")
    decision = decide(snap(override=override), WORLD, BOOK)
    assert decision.steps[0] == Step(
        "priority",
        "OVERRIDE-PORTEFEUILLEHOUDER",
        1,
        "Prioriteit gezet door bm@example.nl: raadsvragen",
        {"override.tier": 2},
    )


def test_the_statutory_guard_step_is_recorded_exactly() -> None:
    # Kills every change to the guard's step (version, reason text, facts).
    pause_all = rule("PAUZE-ALLES", Compare(fact="task.effort_hours", ge=0), {"pause": True})
    book = replace(BOOK, tables={**BOOK.tables, "pause": [pause_all]})
    decision = decide(snap(statutory=True), WORLD, book)
    assert decision.paused is False
    pause_steps = [s for s in decision.steps if s.table == "pause"]
    assert pause_steps[1] == Step(
        "pause",
        STATUTORY_GUARD,
        1,
        "Een wettelijke taak wordt nooit gepauzeerd.",
        {"task.statutory": True},
    )


def test_paused_by_lists_the_touching_crises_in_id_order() -> None:
    w = replace(WORLD, crises=(crisis(3, ("JEUGD",)), crisis(2, ("ANDERS",)), crisis(1, ())))
    assert decide(snap(), w, BOOK).paused_by == (1, 3)


def test_a_flag_set_by_two_rules_appears_once_with_the_first_rules_step() -> None:
    first = rule("SIGNAAL-A", Compare(fact="task.kind", eq="deliver"), {"flag": "overdue"})
    second = rule("SIGNAAL-B", Compare(fact="task.effort_hours", gt=1), {"flag": "overdue"})
    book = replace(BOOK, tables={**BOOK.tables, "flags": [first, second]})
    decision = decide(snap(), WORLD, book)
    assert decision.flags == ("overdue",)
    assert [s.rule_id for s in decision.steps if s.table == "flags"] == ["SIGNAAL-A"]


# --- due dates after a crisis -----------------------------------------------------------------

PAUSED = ((4, date(2023, 10, 2), date(2023, 10, 6)),)  # Monday to Friday: 5 working days


def test_with_crisis_shift_disabled_the_due_date_stays_and_no_step_says_otherwise() -> None:
    # Kills: `crisis_shift.enabled: false` ignored (`not enabled and not pauses`).
    off = Settings(kind="settings", version=1, crisis_shift=CrisisShift(enabled=False))
    decision = decide(snap(ended_pauses=PAUSED), WORLD, replace(BOOK, settings=off))
    assert decision.due_date == date(2023, 12, 15)
    assert all(s.table != "due" for s in decision.steps)
    assert decide(snap(ended_pauses=PAUSED), WORLD, BOOK).due_date == date(2023, 12, 22)


def test_the_shift_step_carries_the_settings_id_version_and_reason() -> None:
    shift = CrisisShift(
        rule_id="SCHUIF-X",
        version=3,
        reason="Eigen reden voor de verschuiving.",
        displaced_within_working_days=260,
    )
    book = replace(BOOK, settings=Settings(kind="settings", version=1, crisis_shift=shift))
    decision = decide(snap(ended_pauses=PAUSED), WORLD, book)
    assert [s for s in decision.steps if s.table == "due"] == [
        Step(
            "due",
            "SCHUIF-X",
            3,
            "Eigen reden voor de verschuiving.",
            {
                "crises": [4],
                "working_days_paused": 5,
                "planned_due": "2023-12-15",
                "due": "2023-12-22",
            },
        )
    ]


def test_facts_for_reads_the_shifted_due_date() -> None:
    task = snap(ended_pauses=PAUSED)
    facts = facts_for(task, WORLD, BOOK)
    assert facts == task_facts(task, WORLD, date(2023, 12, 22))
    assert facts["task.working_days_to_due"] == CAL.working_days_between(TODAY, date(2023, 12, 22))
    assert facts_for(snap(), WORLD, BOOK)["task.working_days_to_due"] == 54


def test_a_due_date_exactly_on_the_programme_end_is_not_past_it() -> None:
    # Kills: `due >= programme_end` (every task due on 31 December flagged).
    on_end = snap(planned_due=END)
    assert "past_programme_end" not in decide(on_end, WORLD, BOOK).flags
    # shifted onto the end: still inside; one working day further: past it
    monday = date(2024, 12, 30)
    shifted = snap(planned_due=monday, ended_pauses=((1, monday, monday),))
    assert decide(shifted, WORLD, BOOK).due_date == END
    assert "past_programme_end" not in decide(shifted, WORLD, BOOK).flags
    two = snap(planned_due=monday, ended_pauses=((1, monday - timedelta(3), monday),))
    assert decide(two, WORLD, BOOK).due_date == date(2025, 1, 2)
    assert "past_programme_end" in decide(two, WORLD, BOOK).flags


# --- the order of work, against an order written out independently -----------------------------


def _before(a: tuple[TaskSnapshot, Decision], b: tuple[TaskSnapshot, Decision]) -> int:
    """The documented order, comparison by comparison: active work first, then the lower tier,
    the earlier due date, the smaller effort, the lower id."""
    (ta, da), (tb, db) = a, b
    if da.paused != db.paused:
        return 1 if da.paused else -1
    for x, y in ((da.tier, db.tier), (da.due_date, db.due_date)):
        if x != y:
            return -1 if x < y else 1
    if ta.effort_hours != tb.effort_hours:
        return -1 if ta.effort_hours < tb.effort_hours else 1
    return ta.id - tb.id


def test_sort_key_gives_the_documented_order() -> None:
    # Kills any reordering or loss of a key part: every part ties often in this set, so each
    # later part decides some pairs.
    rng = random.Random(7)
    pairs = []
    for task_id in rng.sample(range(1, 500), 60):
        task = snap(task_id, effort_hours=rng.choice((2.0, 8.0)))
        decision = Decision(
            tier=rng.choice((1, 2)),
            paused=rng.choice((False, True)),
            paused_by=(),
            responsible="owner",
            due_date=date(2023, 10, rng.choice((2, 3))),
            flags=(),
        )
        pairs.append((task, decision))
    expected = sorted(pairs, key=functools.cmp_to_key(_before))
    actual = sorted(pairs, key=lambda p: sort_key(p[0].id, p[1], p[0].effort_hours))
    assert [t.id for t, _ in actual] == [t.id for t, _ in expected]


@pytest.mark.parametrize("part", ["paused", "tier", "due_date", "effort", "id"])
def test_each_part_of_the_sort_key_decides_when_the_earlier_ones_tie(part: str) -> None:
    first = snap(1, effort_hours=8.0)
    base = Decision(2, False, (), "owner", date(2023, 10, 2), ())
    changes = {
        "paused": (first, replace(base, paused=True)),
        "tier": (first, replace(base, tier=3)),
        "due_date": (first, replace(base, due_date=date(2023, 10, 3))),
        "effort": (replace(first, effort_hours=9.0), base),
        "id": (replace(first, id=2), base),
    }
    later_task, later_decision = changes[part]
    assert sort_key(1, base, 8.0) < sort_key(later_task.id, later_decision, later_task.effort_hours)
