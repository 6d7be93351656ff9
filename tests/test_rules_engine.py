"""Pure unit tests of the rules engine: snapshots and worlds built by hand, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from veiligheid_flow.rules.conditions import Compare
from veiligheid_flow.rules.engine import STATUTORY_GUARD, Decision, decide, sort_key
from veiligheid_flow.rules.facts import CrisisFacts, Override, TaskSnapshot, World
from veiligheid_flow.rules.legal import legal_deadline
from veiligheid_flow.rules.tables import CaseType, Rule, RuleBook, Term, load_rulebook
from veiligheid_flow.workdays import WorkCalendar

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"

OOV1 = "a.devries@example.nl"
AOV = "p.vandijk@example.nl"
OOV3 = "f.elamrani@example.nl"
ZV = "e.yilmaz@example.nl"
COM = "e.hendriks@example.nl"

CAL = WorkCalendar()
TODAY = date(2023, 10, 2)  # a Monday
PROGRAMME_END = date(2024, 12, 31)


@pytest.fixture(scope="module")
def book() -> RuleBook:
    return wide_shift(load_rulebook(RULES))


def wide_shift(book: RuleBook) -> RuleBook:
    """The rule book with every later due date counted as displaced by a crisis (a year): these
    tests are about the shift's arithmetic; which work moves is tests/test_crisis_semantics.py."""
    shift = book.settings.crisis_shift.model_copy(update={"displaced_within_working_days": 260})
    book.settings = book.settings.model_copy(update={"crisis_shift": shift})
    return book


def snap(task_id: int = 1, **changes: object) -> TaskSnapshot:
    base = TaskSnapshot(
        id=task_id,
        statutory=False,
        kind="deliver",
        effort_hours=10.0,
        planned_due=date(2023, 12, 15),
        programme_end=PROGRAMME_END,
        theme_code="JEUGD_EN_VEILIGHEID",
        theme_kind="local",
        council_priority=False,
        owner=OOV3,
        backup=ZV,
    )
    return replace(base, **changes)


def world(**changes: object) -> World:
    return replace(World(today=TODAY, calendar=CAL), **changes)


def crisis(
    crisis_id: int = 1,
    *,
    themes: tuple[str, ...] = (),
    staff: tuple[str, ...] = (),
    start: date = TODAY,
    days: int = 10,
) -> CrisisFacts:
    return CrisisFacts(
        id=crisis_id,
        title=f"Crisis {crisis_id}",
        grip=2,
        start=start,
        expected_end=CAL.add_working_days(start, days),
        themes=frozenset(themes),
        staff=frozenset(staff),
    )


def step_ids(decision: Decision, table: str) -> list[str]:
    return [s.rule_id for s in decision.steps if s.table == table]


# --- order of work ------------------------------------------------------------------------


def test_statutory_task_is_tier_one(book: RuleBook) -> None:
    decision = decide(snap(statutory=True, council_priority=True), world(), book)
    assert decision.tier == 1
    assert step_ids(decision, "priority") == ["PRIO-WETTELIJK"]


def test_council_deadline_within_15_working_days_is_tier_two(book: RuleBook) -> None:
    near = CAL.add_working_days(TODAY, 15)
    far = CAL.add_working_days(TODAY, 16)
    linked = snap(council_item="TA23-11-FATBIKES", council_priority=True)
    at_15 = decide(replace(linked, council_deadline=near), world(), book)
    at_16 = decide(replace(linked, council_deadline=far), world(), book)
    assert (at_15.tier, step_ids(at_15, "priority")) == (2, ["PRIO-TERMIJNAGENDA"])
    # Sixteen working days away: the council priority theme decides (tier 3).
    assert (at_16.tier, step_ids(at_16, "priority")) == (3, ["PRIO-RAADSTHEMA"])
    step = next(s for s in at_15.steps if s.rule_id == "PRIO-TERMIJNAGENDA")
    assert step.facts == {
        "council_item.linked": True,
        "council_item.working_days_to_deadline": 15,
    }


def test_council_priority_theme_is_tier_three_and_other_work_tier_four(book: RuleBook) -> None:
    priority = decide(snap(council_priority=True, theme_code="VERKEERSVEILIGHEID"), world(), book)
    other = decide(snap(council_priority=False, theme_code="COMMUNICATIE"), world(), book)
    assert (priority.tier, step_ids(priority, "priority")) == (3, ["PRIO-RAADSTHEMA"])
    assert (other.tier, step_ids(other, "priority")) == (4, ["PRIO-OVERIG"])


def test_sort_key_orders_tiers_before_due_dates(book: RuleBook) -> None:
    # Due dates run against the tiers, so only the tier can put them in this order.
    tasks = [
        snap(4, council_priority=False, planned_due=date(2023, 10, 3)),
        snap(3, council_priority=True, planned_due=date(2023, 10, 4)),
        snap(
            2,
            council_item="TA23-11-FATBIKES",
            council_deadline=date(2023, 10, 19),
            planned_due=date(2023, 10, 5),
        ),
        snap(1, statutory=True, planned_due=date(2023, 12, 29), effort_hours=160),
    ]
    decided = {t.id: (t, decide(t, world(), book)) for t in tasks}
    order = sorted(decided, key=lambda i: sort_key(i, decided[i][1], decided[i][0].effort_hours))
    assert order == [1, 2, 3, 4]
    assert [decided[i][1].tier for i in order] == [1, 2, 3, 4]


def test_within_a_tier_earliest_due_then_smallest_effort_then_id(book: RuleBook) -> None:
    tasks = [
        snap(7, planned_due=date(2023, 11, 1), effort_hours=5),
        snap(5, planned_due=date(2023, 10, 20), effort_hours=40),
        snap(6, planned_due=date(2023, 10, 20), effort_hours=8),
        snap(3, planned_due=date(2023, 10, 20), effort_hours=8),
    ]
    keyed = sorted(tasks, key=lambda t: sort_key(t.id, decide(t, world(), book), t.effort_hours))
    assert [t.id for t in keyed] == [3, 6, 5, 7]


def test_paused_work_sorts_after_active_work(book: RuleBook) -> None:
    paused = snap(1, council_priority=True, theme_code="ONDERMIJNING")
    active = snap(2, council_priority=False, planned_due=date(2024, 6, 1))
    w = world(crises=(crisis(themes=("ONDERMIJNING",)),))
    d_paused, d_active = decide(paused, w, book), decide(active, w, book)
    assert d_paused.paused and not d_active.paused
    assert sort_key(2, d_active, 10.0) < sort_key(1, d_paused, 10.0)


# --- override -----------------------------------------------------------------------------


def test_override_wins_over_the_tables_and_is_the_priority_step(book: RuleBook) -> None:
    override = Override(tier=6, by="m.verbeek@example.nl", reason="Eerst de evaluatie afronden")
    decision = decide(snap(statutory=True, override=override), world(), book)
    assert decision.tier == 6
    priority_steps = [s for s in decision.steps if s.table == "priority"]
    assert [s.rule_id for s in priority_steps] == ["OVERRIDE-PORTEFEUILLEHOUDER"]
    assert "m.verbeek@example.nl" in priority_steps[0].reason
    assert "Eerst de evaluatie afronden" in priority_steps[0].reason
    assert priority_steps[0].facts == {"override.tier": 6}


# --- pause --------------------------------------------------------------------------------


def _hostile(book: RuleBook) -> RuleBook:
    """A pause table that would pause statutory work too. A rules folder saying this is refused
    at load (tests/test_hostile_input.py); the engine's guard is tested on it all the same."""
    rule = Rule(
        id="PAUZE-ALLES-IN-CRISIS",
        version=1,
        when=Compare(fact="crisis.in_scope", eq=True),
        then={"pause": True},
        reason="Alles ligt stil, ook wettelijk werk (verkeerde regel).",
    )
    return replace(book, tables={**book.tables, "pause": [rule]})


def test_statutory_task_never_paused_even_if_a_pause_rule_says_so(book: RuleBook) -> None:
    hostile = _hostile(book)
    w = world(crises=(crisis(themes=("CRISIS_FYSIEKE_VEILIGHEID",)),))
    statutory = snap(statutory=True, theme_code="CRISIS_FYSIEKE_VEILIGHEID", owner=AOV, backup=OOV1)
    planned = replace(statutory, id=2, statutory=False)

    decision = decide(statutory, w, hostile)
    assert decision.paused is False
    assert decision.paused_by == ()
    assert step_ids(decision, "pause") == ["PAUZE-ALLES-IN-CRISIS", STATUTORY_GUARD]
    # The same rule does pause planned work in the same crisis.
    assert decide(planned, w, hostile).paused is True


def test_staff_crisis_hands_statutory_work_to_backup_and_pauses_planned(book: RuleBook) -> None:
    w = world(crises=(crisis(7, staff=(OOV1,)),))
    statutory = snap(1, statutory=True, theme_code="VEERKRACHTIGE_WIJKEN", owner=OOV1, backup=OOV3)
    planned = snap(2, theme_code="DIGITALE_VEILIGHEID", owner=OOV1, backup=COM)
    elsewhere = snap(3, theme_code="DIGITALE_VEILIGHEID", owner=ZV, backup=OOV1)

    d_stat = decide(statutory, w, book)
    assert (d_stat.paused, d_stat.responsible) == (False, "backup")
    assert step_ids(d_stat, "responsibility") == ["VERANTW-CRISISDIENST"]
    assert "unstaffed" not in d_stat.flags

    d_plan = decide(planned, w, book)
    assert (d_plan.paused, d_plan.paused_by, d_plan.responsible) == (True, (7,), "owner")
    assert step_ids(d_plan, "pause") == ["PAUZE-CRISIS-GEPLAND-WERK"]
    assert d_plan.flags == ()

    # Staff scope: a task is touched by its owner, not by its backup being on duty.
    d_else = decide(elsewhere, w, book)
    assert (d_else.paused, d_else.responsible, d_else.flags) == (False, "owner", ())


def test_theme_crisis_pauses_only_its_themes_and_unscoped_crisis_pauses_all(
    book: RuleBook,
) -> None:
    ours = snap(1, theme_code="ONDERMIJNING")
    theirs = snap(2, theme_code="COMMUNICATIE")
    themed = world(crises=(crisis(themes=("ONDERMIJNING",)),))
    assert decide(ours, themed, book).paused is True
    assert decide(theirs, themed, book).paused is False
    everything = world(crises=(crisis(),))
    assert decide(theirs, everything, book).paused is True


# --- responsibility -----------------------------------------------------------------------


def test_absent_owner_hands_work_to_backup(book: RuleBook) -> None:
    w = world(absences={OOV3: ((date(2023, 9, 25), date(2023, 10, 6)),)})
    decision = decide(snap(), w, book)
    assert decision.responsible == "backup"
    assert step_ids(decision, "responsibility") == ["VERANTW-AFWEZIG"]
    # After the absence the owner is responsible again.
    later = decide(snap(), replace(w, today=date(2023, 10, 9)), book)
    assert later.responsible == "owner"


def test_owner_and_backup_both_unavailable_is_unstaffed(book: RuleBook) -> None:
    w = world(
        absences={OOV3: ((TODAY, TODAY),)},
        crises=(crisis(staff=(ZV,), themes=("COMMUNICATIE",)),),
    )
    statutory = snap(statutory=True)
    decision = decide(statutory, w, book)
    assert decision.paused is False
    assert decision.responsible == "owner"  # nobody to hand it to
    assert "unstaffed" in decision.flags
    assert "statutory_at_risk" in decision.flags
    assert "SIGNAAL-ONBEMAND" in step_ids(decision, "flags")


def test_handed_over_task_stays_with_backup(book: RuleBook) -> None:
    decision = decide(snap(handed_over=True), world(), book)
    assert decision.responsible == "backup"
    assert step_ids(decision, "responsibility") == ["VERANTW-OVERGEDRAGEN"]


def test_escalation_after_five_working_days_overdue(book: RuleBook) -> None:
    four = decide(snap(planned_due=CAL.add_working_days(TODAY, -4)), world(), book)
    five = decide(snap(planned_due=CAL.add_working_days(TODAY, -5)), world(), book)
    assert four.responsible == "owner" and "overdue" in four.flags
    assert five.responsible == "backup" and "overdue" in five.flags
    assert step_ids(five, "responsibility") == ["VERANTW-ESCALATIE"]


# --- due dates after a crisis -------------------------------------------------------------


def test_due_shifts_by_paused_working_days_after_an_ended_crisis(book: RuleBook) -> None:
    task = snap(
        planned_due=date(2023, 11, 15),
        ended_pauses=((3, date(2023, 10, 2), date(2023, 10, 13)),),
    )
    decision = decide(task, world(today=date(2023, 10, 16)), book)
    assert decision.due_date == CAL.add_working_days(date(2023, 11, 15), 10)
    assert decision.due_date == date(2023, 11, 29)
    shift = next(s for s in decision.steps if s.table == "due")
    assert shift.rule_id == "CRISIS-VERSCHUIF-DEADLINE"
    assert shift.facts["working_days_paused"] == 10
    assert shift.facts["crises"] == [3]
    assert shift.facts["planned_due"] == "2023-11-15"
    assert shift.facts["due"] == "2023-11-29"


def test_two_overlapping_ended_pauses_count_the_union(book: RuleBook) -> None:
    pauses = ((1, date(2023, 10, 2), date(2023, 10, 6)), (2, date(2023, 10, 4), date(2023, 10, 13)))
    decision = decide(snap(planned_due=date(2023, 11, 15), ended_pauses=pauses), world(), book)
    # 2..13 October: 10 working days, not 5 + 8.
    assert decision.due_date == CAL.add_working_days(date(2023, 11, 15), 10)
    shift = next(s for s in decision.steps if s.table == "due")
    assert shift.facts["working_days_paused"] == 10
    assert shift.facts["crises"] == [1, 2]


def test_disjoint_ended_pauses_add_up_and_weekend_pause_shifts_nothing(book: RuleBook) -> None:
    pauses = ((1, date(2023, 10, 2), date(2023, 10, 3)), (2, date(2023, 10, 9), date(2023, 10, 10)))
    decision = decide(snap(planned_due=date(2023, 11, 15), ended_pauses=pauses), world(), book)
    assert decision.due_date == CAL.add_working_days(date(2023, 11, 15), 4)
    weekend = decide(snap(ended_pauses=((1, date(2023, 10, 7), date(2023, 10, 8)),)), world(), book)
    assert weekend.due_date == date(2023, 12, 15)
    assert all(s.table != "due" for s in weekend.steps)


def test_shift_past_programme_end_is_flagged(book: RuleBook) -> None:
    late = snap(
        planned_due=date(2024, 12, 20),
        ended_pauses=((1, date(2024, 12, 2), date(2024, 12, 13)),),
    )
    decision = decide(late, world(today=date(2024, 12, 16)), book)
    assert decision.due_date > PROGRAMME_END
    assert "past_programme_end" in decision.flags
    on_time = decide(replace(late, ended_pauses=()), world(today=date(2024, 12, 16)), book)
    assert "past_programme_end" not in on_time.flags


def test_resumed_task_is_judged_against_its_shifted_deadline(book: RuleBook) -> None:
    # Planned 29 Sept, paused 2..13 Oct: the deadline moves to 13 Oct, which is today.
    task = snap(
        planned_due=date(2023, 9, 29),
        ended_pauses=((1, date(2023, 9, 29), date(2023, 10, 12)),),
    )
    decision = decide(task, world(today=date(2023, 10, 13)), book)
    assert decision.due_date == date(2023, 10, 13)
    assert "overdue" not in decision.flags
    assert decision.responsible == "owner"


def test_work_late_before_the_crisis_keeps_its_deadline_and_stays_late() -> None:
    # Planned 29 Sept, paused 2..13 Oct: it was late when the crisis began; not moved.
    task = snap(
        planned_due=date(2023, 9, 29),
        ended_pauses=((1, date(2023, 10, 2), date(2023, 10, 13)),),
    )
    decision = decide(task, world(today=date(2023, 10, 13)), load_rulebook(RULES))
    assert decision.due_date == date(2023, 9, 29)
    assert "overdue" in decision.flags


# --- council agenda at risk ---------------------------------------------------------------


def test_council_deadline_inside_crisis_window_is_at_risk(book: RuleBook) -> None:
    c = crisis(themes=("VERKEERSVEILIGHEID",), days=10)  # 2..16 October
    task = snap(
        theme_code="VERKEERSVEILIGHEID",
        council_priority=True,
        council_item="TA23-11-FATBIKES",
        council_deadline=date(2023, 10, 16),
    )
    inside = decide(task, world(crises=(c,)), book)
    assert "council_at_risk" in inside.flags
    assert "SIGNAAL-TERMIJNAGENDA-RISICO" in step_ids(inside, "flags")

    after = decide(replace(task, council_deadline=date(2023, 10, 19)), world(crises=(c,)), book)
    assert "council_at_risk" not in after.flags
    # A crisis that does not touch the task does not put its council item at risk.
    other = decide(task, world(crises=(crisis(themes=("ONDERMIJNING",)),)), book)
    assert "council_at_risk" not in other.flags


# --- legal deadlines ----------------------------------------------------------------------


def test_huisverbod_ten_days(book: RuleBook) -> None:
    deadline = legal_deadline(book.cases["huisverbod"], date(2023, 6, 9))
    assert deadline.due == date(2023, 6, 19)
    assert "Wet tijdelijk huisverbod" in deadline.explanation
    extended = legal_deadline(book.cases["huisverbod"], date(2023, 6, 9), extended=True)
    assert extended.due == date(2023, 7, 7)  # 10 + 18 days: four weeks in all


def test_woo_four_weeks(book: RuleBook) -> None:
    deadline = legal_deadline(book.cases["woo_verzoek"], date(2023, 9, 4))
    assert deadline.due == date(2023, 10, 2)
    assert deadline.raw_end == deadline.due


def test_termijnenwet_term_ending_on_kings_day_moves_to_next_working_day(book: RuleBook) -> None:
    deadline = legal_deadline(book.cases["woo_verzoek"], date(2023, 3, 30))
    assert deadline.raw_end == date(2023, 4, 27)
    assert deadline.due == date(2023, 4, 28)
    assert "Koningsdag" in deadline.explanation
    assert "Algemene termijnenwet" in deadline.explanation


def test_termijnenwet_term_ending_on_sunday_moves_to_monday(book: RuleBook) -> None:
    deadline = legal_deadline(book.cases["woo_verzoek"], date(2023, 6, 4))
    assert deadline.raw_end == date(2023, 7, 2)  # a Sunday
    assert deadline.due == date(2023, 7, 3)
    assert "weekend" in deadline.explanation


def test_term_without_termijnenwet_does_not_move(book: RuleBook) -> None:
    on_kings_day = legal_deadline(book.cases["huisverbod"], date(2023, 4, 17))
    assert on_kings_day.due == on_kings_day.raw_end == date(2023, 4, 27)
    on_sunday = legal_deadline(book.cases["evenementenvergunning"], date(2023, 3, 5))
    assert on_sunday.due == date(2023, 4, 30)  # a Sunday, and it stays
    assert "termijnenwet" not in on_sunday.explanation


def test_months_term(book: RuleBook) -> None:
    deadline = legal_deadline(book.cases["gebiedsverbod"], date(2023, 5, 15))
    assert deadline.due == date(2023, 8, 15)
    assert "3 maanden" in deadline.explanation
    # End of month: 31 January + 3 months is the last day of April.
    assert legal_deadline(book.cases["gebiedsverbod"], date(2023, 1, 31)).due == date(2023, 4, 30)
    monthly = CaseType(
        title="Proef", source="test", term=Term(months=1), termijnenwet=True, effort_hours=1
    )
    moved = legal_deadline(monthly, date(2023, 3, 27))
    assert (moved.raw_end, moved.due) == (date(2023, 4, 27), date(2023, 4, 28))
