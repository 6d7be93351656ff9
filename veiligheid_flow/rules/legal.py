"""Legal deadlines for event-driven statutory work. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

from veiligheid_flow.rules.tables import CaseType, Term
from veiligheid_flow.workdays import WorkCalendar

# The Algemene termijnenwet knows only its own holidays, not a municipality's extra days off.
ATW_CALENDAR = WorkCalendar()


@dataclass(frozen=True)
class LegalDeadline:
    due: date
    raw_end: date
    explanation: str


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


def legal_deadline(case: CaseType, event_day: date, *, extended: bool = False) -> LegalDeadline:
    """The term runs from the day after the event (Awb/Atw); with `termijnenwet`, an end on a
    Saturday, Sunday or public holiday moves to the next working day."""
    end = add_term(event_day, case.term)
    text = f"{case.title}: {describe(case.term)} na {event_day:%d-%m-%Y} ({case.source})"
    if extended and case.extension is not None:
        end = add_term(end, case.extension)
        text += f", verlengd met {describe(case.extension)}"
    due = end
    if case.termijnenwet and not ATW_CALENDAR.is_working_day(end):
        due = ATW_CALENDAR.on_or_after(end)
        reason = ATW_CALENDAR.holiday_name(end) or "weekend"
        text += (
            f"; eindigt op {end:%d-%m-%Y} ({reason}) en schuift naar {due:%d-%m-%Y} "
            "(Algemene termijnenwet)"
        )
    return LegalDeadline(due=due, raw_end=end, explanation=text)
