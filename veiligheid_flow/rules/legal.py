"""Legal deadlines for event-driven statutory work. Pure.

Algemene termijnenwet (Atw), for the terms it covers (`termijnenwet: true` in the case type):
- art. 1: a term that ends on a Saturday, Sunday or generally recognised holiday is extended to
  the next day that is none of those;
- art. 2: a term of at least three days is extended until it contains two such days;
- art. 3: the holidays (lid 1), Good Friday (lid 2) and the days equated by decree (lid 3;
  `equated_days` in rules/legal_terms.yaml, each with its decree).
A term outside the Atw (a measure's duration, an APV term) keeps its legal end; when the office
is closed that day, the work is due on the office's last working day before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from veiligheid_flow.rules.tables import CaseType, Term
from veiligheid_flow.workdays import WorkCalendar

ATW_CALENDAR = WorkCalendar()  # art. 3 lid 1 and 2: weekends, the holidays, Good Friday
ATW_SHORT_TERM_DAYS = 3  # art. 2: a term of at least three days …
ATW_MIN_WORKING_DAYS = 2  # … contains at least two working days


@dataclass(frozen=True)
class LegalDeadline:
    due: date  # when the work is due: the legal end, or the office's last day before it
    raw_end: date  # the end as the term counts it, before any Atw extension
    explanation: str
    legal_end: date | None = None  # the end the law sets (after the Atw), when `due` differs

    @property
    def legal(self) -> date:
        return self.legal_end or self.due


def add_term(start: date, term: Term) -> date:
    return start + relativedelta(days=term.days, weeks=term.weeks, months=term.months)


def describe(term: Term) -> str:
    parts = [
        (term.months, "maand", "maanden"),
        (term.weeks, "week", "weken"),
        (term.days, "dag", "dagen"),
    ]
    # never empty: a Term has at least one day, week or month
    return " + ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)


@lru_cache(maxsize=16)
def atw_calendar(equated: frozenset[date] = frozenset()) -> WorkCalendar:
    """The Atw's calendar: weekends, its holidays and the days equated by decree."""
    return WorkCalendar(equated) if equated else ATW_CALENDAR


def _why_closed(day: date, equated: Mapping[date, str]) -> str:
    if day in equated:
        return f"bij besluit gelijkgesteld met een feestdag: {equated[day]}"
    return ATW_CALENDAR.holiday_name(day) or "weekend"


def legal_deadline(
    case: CaseType,
    event_day: date,
    *,
    extended: bool = False,
    equated: Mapping[date, str] | None = None,
    office: WorkCalendar | None = None,
) -> LegalDeadline:
    """The term runs from the day after the event (Awb/Atw). With `termijnenwet` the Atw
    extends it (art. 1 and 2); otherwise a legal end on a day the `office` is closed makes the
    work due on the office's last working day before it."""
    equated = equated or {}
    end = add_term(event_day, case.term)
    text = f"{case.title}: {describe(case.term)} na {event_day:%d-%m-%Y} ({case.source})"
    if extended and case.extension is not None:
        end = add_term(end, case.extension)
        text += f", verlengd met {describe(case.extension)}"
    if case.termijnenwet:
        due, steps = _atw(event_day, end, equated)
        return LegalDeadline(due=due, raw_end=end, explanation="; ".join([text, *steps]))
    if office is not None and not office.is_working_day(end):
        due = office.on_or_before(end)
        reason = office.holiday_name(end) or "weekend"
        text += (
            f"; wettelijke einddatum {end:%d-%m-%Y} ({reason}, kantoor dicht, geen "
            f"Algemene termijnenwet): te doen op de laatste werkdag ervoor, {due:%d-%m-%Y}"
        )
        return LegalDeadline(due=due, raw_end=end, explanation=text, legal_end=end)
    return LegalDeadline(due=end, raw_end=end, explanation=text)


def _atw(event_day: date, end: date, equated: Mapping[date, str]) -> tuple[date, list[str]]:
    """The end after Atw art. 1 and 2, with a sentence per article that moved it."""
    calendar = atw_calendar(frozenset(equated))
    steps: list[str] = []
    due = end
    if not calendar.is_working_day(end):
        due = calendar.on_or_after(end)
        steps.append(
            f"eindigt op {end:%d-%m-%Y} ({_why_closed(end, equated)}) en schuift naar "
            f"{due:%d-%m-%Y} (Algemene termijnenwet art. 1)"
        )
    if (end - event_day).days >= ATW_SHORT_TERM_DAYS:
        before = due
        while calendar.working_days_between(event_day, due) < ATW_MIN_WORKING_DAYS:
            due = calendar.on_or_after(due + timedelta(days=1))
        if due != before:
            steps.append(
                f"verlengd tot {due:%d-%m-%Y} zodat de termijn twee werkdagen omvat "
                "(Algemene termijnenwet art. 2)"
            )
    return due, steps
