"""Working days at their edges, and the legal deadlines with the explanation a user reads.
Pure, no database."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from veiligheid_flow.rules.legal import add_term, describe, legal_deadline
from veiligheid_flow.rules.tables import CaseType, Term, load_rulebook
from veiligheid_flow.workdays import WorkCalendar

CASES = load_rulebook(Path(__file__).resolve().parents[2] / "rules").cases
CAL = WorkCalendar([date(2023, 12, 27)])
KINGS_DAY = date(2023, 4, 27)  # a Thursday

# Written out by hand, not taken from the holidays package.
DAYS_OFF_2023 = [
    date(2023, 4, 7),  # Good Friday
    date(2023, 4, 10),  # Easter Monday
    KINGS_DAY,
    date(2023, 5, 5),  # Liberation Day
    date(2023, 5, 18),  # Ascension Day
    date(2023, 5, 29),  # Whit Monday
    date(2023, 12, 25),
    date(2023, 12, 26),
    date(2023, 12, 27),  # the programme's extra day off
]


def test_the_days_off_of_2023_and_nothing_else_on_a_weekday() -> None:
    weekdays = [date(2023, 1, 2) + timedelta(n) for n in range(364)]
    off = [d for d in weekdays if d.weekday() < 5 and not CAL.is_working_day(d)]
    assert off == DAYS_OFF_2023
    assert not CAL.is_working_day(date(2023, 10, 7))  # a Saturday


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (date(2023, 4, 26), KINGS_DAY, 0),  # ends on a holiday: it does not count
        (date(2023, 4, 26), date(2023, 4, 28), 1),
        (KINGS_DAY, date(2023, 4, 28), 1),  # starts on a holiday: the start never counts
        (date(2023, 12, 29), date(2024, 1, 1), 0),  # ends on New Year's Day, over the year end
        (date(2023, 12, 22), date(2023, 12, 27), 0),  # ends on the extra day off
        (date(2023, 12, 22), date(2023, 12, 28), 1),
        (date(2023, 4, 28), date(2023, 4, 28), 0),
    ],
)
def test_working_days_between_at_holidays(start: date, end: date, count: int) -> None:
    # Kills `start <= d` and `d < end` in counting the days off.
    assert CAL.working_days_between(start, end) == count
    assert CAL.working_days_between(end, start) == -count
    # and again on a fresh calendar (no cached answers of either direction)
    fresh = WorkCalendar([date(2023, 12, 27)])
    assert fresh.working_days_between(end, start) == -count


def test_working_days_between_agrees_with_counting_day_by_day() -> None:
    start = date(2022, 12, 20)
    for span in (1, 3, 8, 40, 200, 400):
        end = start + timedelta(days=span)
        by_hand = sum(CAL.is_working_day(start + timedelta(n)) for n in range(1, span + 1))
        assert CAL.working_days_between(start, end) == by_hand, span
        start += timedelta(days=11)


def test_moving_to_a_working_day_either_way() -> None:
    assert CAL.on_or_after(date(2023, 4, 29)) == date(2023, 5, 1)  # Saturday → Monday
    assert CAL.on_or_before(date(2023, 4, 30)) == date(2023, 4, 28)  # Sunday → Friday
    assert CAL.on_or_before(date(2023, 12, 27)) == date(2023, 12, 22)
    assert CAL.on_or_after(date(2023, 10, 2)) == date(2023, 10, 2)


def test_holiday_names() -> None:
    assert CAL.holiday_name(date(2023, 12, 27)) == "extra vrije dag"
    assert CAL.holiday_name(KINGS_DAY) == "Koningsdag"
    assert CAL.holiday_name(date(2023, 10, 2)) is None


# --- legal terms and their explanations ----------------------------------------------------------


def test_describe_spells_every_unit_in_singular_and_plural() -> None:
    # Kills a wrong or missing unit word, singular/plural swapped, another separator.
    assert describe(Term(months=1, weeks=2, days=1)) == "1 maand + 2 weken + 1 dag"
    assert describe(Term(months=3, weeks=1, days=3)) == "3 maanden + 1 week + 3 dagen"
    assert describe(Term(days=2)) == "2 dagen"


def test_add_term_counts_calendar_months_weeks_and_days() -> None:
    assert add_term(date(2023, 1, 31), Term(months=1)) == date(2023, 2, 28)
    assert add_term(date(2023, 1, 31), Term(months=1, weeks=1, days=1)) == date(2023, 3, 8)


def test_a_term_ending_in_a_weekend_moves_and_says_so() -> None:
    deadline = legal_deadline(CASES["damocles"], date(2023, 3, 18))
    assert (deadline.raw_end, deadline.due) == (date(2023, 4, 29), date(2023, 5, 1))
    assert deadline.explanation == (
        "Sluiting drugspand (Damocles): bezwaartermijn: 6 weken na 18-03-2023 "
        "(Opiumwet art. 13b; Awb art. 6:7 (bezwaar binnen 6 weken)); "
        "eindigt op 29-04-2023 (weekend) en schuift naar 01-05-2023 (Algemene termijnenwet art. 1)"
    )


def test_a_term_ending_on_a_holiday_names_the_holiday() -> None:
    deadline = legal_deadline(CASES["woonoverlast"], date(2023, 3, 16))
    assert deadline.due == date(2023, 4, 28)
    assert deadline.explanation.endswith(
        "; eindigt op 27-04-2023 (Koningsdag) en schuift naar 28-04-2023 "
        "(Algemene termijnenwet art. 1)"
    )


def test_an_extended_term_says_by_how_much_and_keeps_the_start() -> None:
    # Kills `text = …` in place of `text += …` (the start of the explanation lost).
    deadline = legal_deadline(CASES["woo_verzoek"], date(2023, 10, 2), extended=True)
    assert deadline.due == date(2023, 11, 13)
    assert deadline.explanation == (
        "Woo-verzoek: 4 weken na 02-10-2023 (Wet open overheid art. 4.4 (4 weken, verdaging "
        "2 weken)), verlengd met 2 weken"
    )
    assert legal_deadline(CASES["woo_verzoek"], date(2023, 10, 2)).due == date(2023, 10, 30)


def test_extension_and_shift_together_and_a_case_without_extension() -> None:
    case = CaseType(
        title="Proef",
        source="art. 1",
        term=Term(days=3),
        extension=Term(days=1),
        termijnenwet=True,
    )
    # 3 + 1 days after Tuesday 25 April: Saturday 29 April, so Monday 1 May
    deadline = legal_deadline(case, date(2023, 4, 25), extended=True)
    assert deadline.explanation == (
        "Proef: 3 dagen na 25-04-2023 (art. 1), verlengd met 1 dag; eindigt op 29-04-2023 "
        "(weekend) en schuift naar 01-05-2023 (Algemene termijnenwet art. 1)"
    )
    crisis = legal_deadline(CASES["wvggz_crisismaatregel"], date(2023, 4, 26), extended=True)
    assert crisis.due == crisis.raw_end == date(2023, 4, 29)  # no termijnenwet: stays
    assert "verlengd" not in crisis.explanation


def test_outside_the_atw_the_explanation_keeps_the_term_and_names_the_closed_day() -> None:
    # Kills `text = …` in place of `text += …` in the office branch (the term, the event day and
    # the source lost from what the user reads), and a wrong reason for the closed day.
    apv = CaseType(title="Proef", source="APV art. 2:78", term=Term(days=10), termijnenwet=False)
    office = WorkCalendar([date(2023, 10, 13)])  # the office's own day off, a Friday
    deadline = legal_deadline(apv, date(2023, 10, 3), office=office)  # + 10 days: that Friday
    assert (deadline.due, deadline.legal) == (date(2023, 10, 12), date(2023, 10, 13))
    assert deadline.explanation == (
        "Proef: 10 dagen na 03-10-2023 (APV art. 2:78); wettelijke einddatum 13-10-2023 "
        "(extra vrije dag, kantoor dicht, geen Algemene termijnenwet): te doen op de laatste "
        "werkdag ervoor, 12-10-2023"
    )
