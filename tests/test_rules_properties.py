"""Properties of the pure rules engine over random programmes, crises and absences."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from veiligheid_flow.rules.conditions import Compare
from veiligheid_flow.rules.engine import Decision, decide, sort_key
from veiligheid_flow.rules.facts import CrisisFacts, Override, TaskSnapshot, World
from veiligheid_flow.rules.tables import Rule, RuleBook, load_rulebook
from veiligheid_flow.workdays import WorkCalendar

ROOT = Path(__file__).resolve().parent.parent
BOOK = load_rulebook(ROOT / "rules")
CAL = WorkCalendar([date(2023, 12, 27), date(2024, 5, 10)])
START, END = date(2023, 3, 1), date(2024, 12, 31)

PEOPLE = ("a@example.nl", "b@example.nl", "c@example.nl", "d@example.nl", "e@example.nl")
THEMES = ("ONDERMIJNING", "DIGITALE_VEILIGHEID", "VERKEERSVEILIGHEID", "COMMUNICATIE")


def _always_pause_book() -> RuleBook:
    """The shipped rules with a pause table that pauses everything, statutory work too."""
    rule = Rule(
        id="PAUZE-ALTIJD",
        version=1,
        when=Compare(fact="task.effort_hours", ge=0),
        then={"pause": True},
        reason="Alles ligt altijd stil.",
    )
    return replace(BOOK, tables={**BOOK.tables, "pause": [rule]})


HOSTILE = _always_pause_book()

days = st.integers(0, (END - START).days).map(lambda n: START + timedelta(n))


@st.composite
def tasks(draw: st.DrawFn, task_id: int | None = None) -> TaskSnapshot:
    owner, backup = draw(st.permutations(PEOPLE))[:2]
    linked = draw(st.booleans())
    return TaskSnapshot(
        id=task_id if task_id is not None else draw(st.integers(1, 10_000)),
        statutory=draw(st.booleans()),
        kind=draw(st.sampled_from(("deliver", "monitor"))),
        effort_hours=draw(st.sampled_from((1.0, 4.0, 8.0, 16.0, 40.0, 120.0))),
        planned_due=draw(days),
        programme_end=END,
        theme_code=draw(st.sampled_from(THEMES)),
        theme_kind=draw(st.sampled_from(("district", "local", "other"))),
        council_priority=draw(st.booleans()),
        owner=owner,
        backup=backup,
        handed_over=draw(st.booleans()),
        council_item="TA-X" if linked else None,
        council_deadline=draw(days) if linked else None,
        override=draw(
            st.none() | st.builds(Override, st.integers(1, 9), st.just("bm"), st.just("reden"))
        ),
    )


@st.composite
def crises(draw: st.DrawFn, crisis_id: int) -> CrisisFacts:
    start = draw(days)
    return CrisisFacts(
        id=crisis_id,
        title=f"Crisis {crisis_id}",
        grip=draw(st.integers(0, 5)),
        start=start,
        expected_end=CAL.add_working_days(start, draw(st.integers(1, 20))),
        themes=frozenset(draw(st.sets(st.sampled_from(THEMES), max_size=2))),
        staff=frozenset(draw(st.sets(st.sampled_from(PEOPLE), max_size=2))),
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    today = draw(days)
    n = draw(st.integers(0, 3))
    active = tuple(draw(crises(i + 1)) for i in range(n))
    absences = draw(
        st.dictionaries(
            st.sampled_from(PEOPLE),
            st.lists(
                st.tuples(st.integers(-10, 10), st.integers(0, 15)).map(
                    lambda p: (today + timedelta(p[0]), today + timedelta(p[0] + p[1]))
                ),
                max_size=2,
            ).map(tuple),
            max_size=3,
        )
    )
    return World(today=today, calendar=CAL, crises=active, absences=absences)


def available(world: World, email: str) -> bool:
    return not (world.absent(email) or world.on_crisis_duty(email))


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(task=tasks(), world=worlds(), hostile=st.booleans())
def test_a_statutory_task_is_never_paused(task: TaskSnapshot, world: World, hostile: bool) -> None:
    book = HOSTILE if hostile else BOOK
    decision = decide(replace(task, statutory=True), world, book)
    assert decision.paused is False
    assert decision.paused_by == ()
    # The hostile table does pause the same task when it is not statutory.
    if hostile:
        assert decide(replace(task, statutory=False), world, book).paused is True


@settings(max_examples=200, deadline=None)
@given(
    programme=st.lists(tasks(), min_size=1, max_size=8),
    crisis=crises(1),
    ended_after=st.integers(0, 25),
)
def test_declare_then_end_restores_every_task(
    programme: list[TaskSnapshot], crisis: CrisisFacts, ended_after: int
) -> None:
    end_day = CAL.add_working_days(crisis.start, ended_after)
    for i, raw in enumerate(programme):
        # No absence, override, hand-over or overdue work: only the crisis acts.
        task = replace(
            raw,
            id=i + 1,
            override=None,
            handed_over=False,
            planned_due=max(raw.planned_due, end_day),
        )
        during = decide(task, World(crisis.start, CAL, crises=(crisis,)), BOOK)
        assert during.paused == (not task.statutory and crisis.touches(task))

        pauses = ((crisis.id, crisis.start, end_day),) if during.paused else ()
        after = decide(replace(task, ended_pauses=pauses), World(end_day, CAL), BOOK)
        assert after.paused is False
        assert after.paused_by == ()
        assert after.responsible == "owner"
        paused_days = CAL.working_days_between(crisis.start - timedelta(1), end_day)
        within = BOOK.settings.crisis_shift.displaced_within_working_days
        displaced = task.planned_due <= CAL.add_working_days(end_day, within)  # (≥ start)
        expected = CAL.add_working_days(
            task.planned_due, paused_days if pauses and displaced else 0
        )
        assert after.due_date == expected


@settings(max_examples=200, deadline=None)
@given(
    task=tasks(),
    many=st.lists(crises(0), min_size=1, max_size=4),
    order=st.randoms(use_true_random=False),
)
def test_overlapping_crises_a_task_resumes_only_when_none_touches_it(
    task: TaskSnapshot, many: list[CrisisFacts], order: random.Random
) -> None:
    active = [replace(c, id=i + 1) for i, c in enumerate(many)]
    task = replace(task, override=None)
    today = max(c.start for c in active)
    while True:
        world = World(today, CAL, crises=tuple(active))
        decision = decide(task, world, BOOK)
        touching = sorted(c.id for c in active if c.touches(task))
        assert decision.paused == (not task.statutory and bool(touching))
        assert decision.paused_by == (tuple(touching) if decision.paused else ())
        if not active:
            break
        active.pop(order.randrange(len(active)))  # end one crisis, in random order


def _ranked(items: list[TaskSnapshot], world: World) -> list[int]:
    decided = [(t, decide(t, world, BOOK)) for t in items]
    return [
        t.id
        for t, d in sorted(decided, key=lambda td: sort_key(td[0].id, td[1], td[0].effort_hours))
    ]


@settings(max_examples=200, deadline=None)
@given(
    programme=st.lists(tasks(), min_size=1, max_size=12, unique_by=lambda t: t.id),
    world=worlds(),
    shuffle=st.randoms(use_true_random=False),
)
def test_sort_key_is_a_total_deterministic_order(
    programme: list[TaskSnapshot], world: World, shuffle: random.Random
) -> None:
    decisions: dict[int, Decision] = {t.id: decide(t, world, BOOK) for t in programme}
    first = _ranked(programme, world)
    # The documented order, written out here apart from sort_key (which can then fail):
    # active first, then tier, due date, effort, and the id breaking every tie.
    documented = {
        t.id: (decisions[t.id].paused, decisions[t.id].tier, decisions[t.id].due_date)
        + (t.effort_hours, t.id)
        for t in programme
    }
    assert first == sorted(documented, key=documented.__getitem__)
    # Re-evaluating gives the same decisions and the same order, whatever the input order.
    again = list(programme)
    shuffle.shuffle(again)
    assert _ranked(again, world) == first
    assert all(decide(t, world, BOOK) == decisions[t.id] for t in programme)
    # Active work before paused work; within each, tiers ascend.
    ranked = [decisions[i] for i in first]
    assert [d.paused for d in ranked] == sorted(d.paused for d in ranked)
    for paused in (False, True):
        tiers = [d.tier for d in ranked if d.paused is paused]
        assert tiers == sorted(tiers)


@settings(max_examples=200, deadline=None)
@given(task=tasks(), world=worlds())
def test_nobody_responsible_only_with_the_unstaffed_flag(task: TaskSnapshot, world: World) -> None:
    decision = decide(task, world, BOOK)
    assert decision.responsible in ("owner", "backup")
    person = task.owner if decision.responsible == "owner" else task.backup
    other = task.backup if decision.responsible == "owner" else task.owner
    if not decision.paused and not available(world, person):
        assert "unstaffed" in decision.flags or available(world, other)
    if "unstaffed" in decision.flags:
        assert not decision.paused
        assert not available(world, task.owner) and not available(world, task.backup)
    # Whenever someone is available and the task is live and not handed over, that one has it.
    if not decision.paused and not task.handed_over and available(world, task.backup):
        assert available(world, person)
