"""Issue 11, point 2: crisis semantics as policy. The due date moves only for work the crisis
displaced (due during the crisis or within `crisis_shift.displaced_within_working_days` working
days after it), not for long-overdue work nor work a year ahead; a task that was late before
the crisis stays late (flagged) while it is paused."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import ROOT
from veiligheid_flow.rules.engine import shifted_due
from veiligheid_flow.rules.tables import CrisisShift, load_rulebook
from veiligheid_flow.workdays import WorkCalendar

CAL = WorkCalendar()
SHIFT = load_rulebook(ROOT / "rules").settings.crisis_shift
CRISIS = (date(2023, 10, 2), date(2023, 10, 13))  # two working weeks: 10 working days


def test_the_setting_is_in_the_rules() -> None:
    assert SHIFT.displaced_within_working_days == 10


def test_work_due_during_the_crisis_moves_by_the_days_it_lay_still() -> None:
    assert shifted_due(SHIFT, CAL, date(2023, 10, 10), [CRISIS]) == (date(2023, 10, 24), 10)


def test_work_due_shortly_after_the_crisis_moves_too() -> None:
    assert shifted_due(SHIFT, CAL, date(2023, 10, 20), [CRISIS])[1] == 10  # 5 days after


def test_long_overdue_work_and_work_a_year_ahead_keep_their_deadline() -> None:
    assert shifted_due(SHIFT, CAL, date(2023, 3, 1), [CRISIS]) == (date(2023, 3, 1), 0)
    assert shifted_due(SHIFT, CAL, date(2024, 10, 1), [CRISIS]) == (date(2024, 10, 1), 0)
    assert shifted_due(SHIFT, CAL, date(2023, 10, 30), [CRISIS]) == (date(2023, 10, 30), 0)


def test_the_window_is_policy() -> None:
    wide = CrisisShift(displaced_within_working_days=260)
    assert shifted_due(wide, CAL, date(2024, 6, 3), [CRISIS])[1] == 10
    off = CrisisShift(enabled=False)
    assert shifted_due(off, CAL, date(2023, 10, 10), [CRISIS]) == (date(2023, 10, 10), 0)


@hsettings(max_examples=300, deadline=None)
@given(
    due=st.dates(date(2023, 1, 1), date(2024, 12, 31)),
    start=st.dates(date(2023, 3, 1), date(2024, 6, 30)),
    length=st.integers(0, 40),
)
def test_no_resumed_task_gets_a_deadline_in_the_past(due: date, start: date, length: int):
    from datetime import timedelta

    end = start + timedelta(days=length)
    moved, count = shifted_due(SHIFT, CAL, due, [(start, end)])
    assert moved >= due
    if count:  # only displaced work moves, and then it ends after the crisis
        assert start <= due <= CAL.add_working_days(end, SHIFT.displaced_within_working_days)
        assert moved >= CAL.on_or_before(end)  # not before its last working day: never past


def test_the_window_boundaries_are_inclusive() -> None:
    first, last = CRISIS
    edge = CAL.add_working_days(last, 10)
    assert shifted_due(SHIFT, CAL, first, [CRISIS])[1] == 10  # due on the first day
    assert shifted_due(SHIFT, CAL, edge, [CRISIS])[1] == 10  # the window's last day
    assert shifted_due(SHIFT, CAL, edge + timedelta(days=1), [CRISIS])[1] == 0
    assert shifted_due(SHIFT, CAL, first - timedelta(days=1), [CRISIS])[1] == 0
    zero = CrisisShift(displaced_within_working_days=0)
    assert shifted_due(zero, CAL, last, [CRISIS])[1] == 10
    assert shifted_due(zero, CAL, date(2023, 10, 16), [CRISIS])[1] == 0


def test_overlapping_and_touching_pauses_are_one_stretch() -> None:
    due = date(2023, 10, 20)
    overlapping = [(date(2023, 10, 2), date(2023, 10, 6)), (date(2023, 10, 4), date(2023, 10, 13))]
    assert shifted_due(SHIFT, CAL, due, overlapping)[1] == 10  # 2..13 Oct, not 5 + 8
    touching = [(date(2023, 10, 2), date(2023, 10, 6)), (date(2023, 10, 7), date(2023, 10, 13))]
    assert shifted_due(SHIFT, CAL, due, touching)[1] == 10
    inner = [(date(2023, 10, 2), date(2023, 10, 13)), (date(2023, 10, 4), date(2023, 10, 5))]
    assert shifted_due(SHIFT, CAL, due, inner)[1] == 10  # the longer end is kept


def test_separate_pauses_each_move_the_work_they_displace() -> None:
    one, two = (date(2023, 10, 2), date(2023, 10, 6)), (date(2023, 10, 16), date(2023, 10, 20))
    # due 12 Oct: displaced by the first (5 days) to 19 Oct, which the second then displaces too
    assert shifted_due(SHIFT, CAL, date(2023, 10, 12), [two, one]) == (date(2023, 10, 26), 10)
    # due 1 Dec: beyond both windows (the second's ends 3 Nov)
    assert shifted_due(SHIFT, CAL, date(2023, 12, 1), [one, two]) == (date(2023, 12, 1), 0)


def test_which_pauses_merge_decides_what_is_displaced() -> None:
    late = date(2023, 10, 25)  # beyond 6 Oct + 10 working days, within 13 Oct + 10
    touching = [(date(2023, 10, 2), date(2023, 10, 6)), (date(2023, 10, 7), date(2023, 10, 13))]
    assert shifted_due(SHIFT, CAL, late, touching)[1] == 10  # one stretch 2..13 Oct
    apart = [(date(2023, 10, 2), date(2023, 10, 6)), (date(2023, 10, 8), date(2023, 10, 13))]
    assert shifted_due(SHIFT, CAL, late, apart)[1] == 5  # a day between: only the second
    sharing = [(date(2023, 10, 2), date(2023, 10, 6)), (date(2023, 10, 6), date(2023, 10, 13))]
    assert shifted_due(SHIFT, CAL, date(2023, 10, 10), sharing)[1] == 10  # 6 Oct counted once
