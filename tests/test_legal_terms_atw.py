"""Issue 11, point 6: legal terms in full. Algemene termijnenwet art. 1 (an end on a weekend or
holiday moves to the next working day), art. 2 (a term of three days or more contains two
working days), art. 3 (Good Friday, 5 May every year, and the days equated by decree, read from
rules/legal_terms.yaml); a term outside the Atw ending on a day the office is closed is due on
the office's last working day before it, with the legal date kept."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import ROOT
from veiligheid_flow.rules.legal import atw_calendar, legal_deadline
from veiligheid_flow.rules.tables import CaseType, Term, load_rulebook
from veiligheid_flow.workdays import WorkCalendar

BOOK = load_rulebook(ROOT / "rules")
EQUATED = BOOK.equated_days


def case(days: int = 0, weeks: int = 0, *, atw: bool = True) -> CaseType:
    return CaseType(
        title="Proef", source="art. 1", term=Term(days=days, weeks=weeks), termijnenwet=atw
    )


def test_the_rules_list_the_decree_days_with_their_decree() -> None:
    assert date(2023, 4, 28) in EQUATED and date(2024, 12, 27) in EQUATED
    assert all("Besluit gelijkstelling" in source for source in EQUATED.values())
    assert all(day.weekday() < 5 for day in EQUATED)  # a decree equates working days


def test_a_term_ending_on_kings_day_skips_the_equated_friday() -> None:
    deadline = legal_deadline(BOOK.cases["woonoverlast"], date(2023, 3, 16), equated=EQUATED)
    assert (deadline.raw_end, deadline.due) == (date(2023, 4, 27), date(2023, 5, 1))
    without = legal_deadline(BOOK.cases["woonoverlast"], date(2023, 3, 16))
    assert without.due == date(2023, 4, 28)  # the decree is what moves it past Friday


def test_a_term_ending_on_an_equated_day_names_the_decree() -> None:
    deadline = legal_deadline(case(weeks=4), date(2023, 4, 21), equated=EQUATED)
    assert (deadline.raw_end, deadline.due) == (date(2023, 5, 19), date(2023, 5, 22))
    assert "bij besluit gelijkgesteld met een feestdag: Besluit gelijkstelling" in (
        deadline.explanation
    )
    assert deadline.explanation.endswith("(Algemene termijnenwet art. 1)")


def test_good_friday_and_easter_monday_are_atw_holidays() -> None:
    deadline = legal_deadline(case(weeks=1), date(2023, 3, 31))
    assert (deadline.raw_end, deadline.due) == (date(2023, 4, 7), date(2023, 4, 11))
    assert "Goede vrijdag" in deadline.explanation


def test_article_2_a_three_day_term_over_easter_gets_two_working_days() -> None:
    deadline = legal_deadline(case(days=3), date(2023, 4, 6))  # Thursday before Good Friday
    assert deadline.raw_end == date(2023, 4, 9)
    assert deadline.due == date(2023, 4, 12)  # Tue 11 is one working day; Wed 12 the second
    assert "schuift naar 11-04-2023 (Algemene termijnenwet art. 1)" in deadline.explanation
    assert deadline.explanation.endswith(
        "verlengd tot 12-04-2023 zodat de termijn twee werkdagen omvat "
        "(Algemene termijnenwet art. 2)"
    )


def test_article_2_applies_even_when_the_end_is_a_working_day() -> None:
    deadline = legal_deadline(case(days=3), date(2023, 10, 6))  # Friday: Sat, Sun, Mon
    assert (deadline.raw_end, deadline.due) == (date(2023, 10, 9), date(2023, 10, 10))
    assert "termijnenwet art. 1" not in deadline.explanation
    assert "termijnenwet art. 2" in deadline.explanation


def test_article_2_does_not_apply_to_a_term_of_two_days() -> None:
    deadline = legal_deadline(case(days=2), date(2023, 10, 6))  # Friday: ends Sunday
    assert deadline.due == date(2023, 10, 9)
    assert "art. 2" not in deadline.explanation


def test_outside_the_atw_a_closed_office_brings_the_work_forward() -> None:
    office = WorkCalendar([date(2023, 10, 13)])  # the municipality's own day off, a Friday
    huisverbod = BOOK.cases["huisverbod"]
    deadline = legal_deadline(huisverbod, date(2023, 10, 4), office=office)  # + 10: Saturday
    assert (deadline.raw_end, deadline.due, deadline.legal) == (
        date(2023, 10, 14),
        date(2023, 10, 12),
        date(2023, 10, 14),
    )
    assert "wettelijke einddatum 14-10-2023 (weekend, kantoor dicht" in deadline.explanation
    assert deadline.explanation.endswith("te doen op de laatste werkdag ervoor, 12-10-2023")
    on_a_weekday = legal_deadline(huisverbod, date(2023, 10, 2), office=office)  # Thursday 12
    assert on_a_weekday.due == on_a_weekday.legal == date(2023, 10, 12)
    assert on_a_weekday.legal_end is None


DAYS = st.dates(min_value=date(2023, 1, 1), max_value=date(2028, 6, 30))


@hsettings(max_examples=300, deadline=None)
@given(event=DAYS, days=st.integers(1, 40))
def test_the_atw_end_is_the_first_day_that_meets_articles_1_and_2(event: date, days: int):
    calendar = atw_calendar(frozenset(EQUATED))
    due = legal_deadline(case(days=days), event, equated=EQUATED).due
    end = event + timedelta(days=days)

    def lawful(day: date) -> bool:
        enough = days < 3 or calendar.working_days_between(event, day) >= 2
        return day >= end and calendar.is_working_day(day) and enough

    assert lawful(due)
    assert not any(lawful(end + timedelta(days=n)) for n in range((due - end).days))


@hsettings(max_examples=300, deadline=None)
@given(event=DAYS, days=st.integers(1, 40), off=st.sets(DAYS, max_size=30))
def test_outside_the_atw_the_work_is_due_on_the_last_open_day_up_to_the_end(event, days, off):
    office = WorkCalendar(off)
    deadline = legal_deadline(case(days=days, atw=False), event, office=office)
    end = event + timedelta(days=days)
    assert deadline.legal == end and office.is_working_day(deadline.due)
    assert deadline.due <= end
    assert not any(
        office.is_working_day(deadline.due + timedelta(days=n))
        for n in range(1, (end - deadline.due).days + 1)
    )
