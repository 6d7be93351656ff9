"""How large a programme may be: its period, its recurrence rules and the tasks they expand to.

Every limit keeps loading (and each later `run`) bounded in time and memory; the numbers are
generous for a municipal programme (two to four years, a few hundred tasks).
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import ValidationInfo

from veiligheid_flow.clock import YEARS

FIRST_YEAR, LAST_YEAR = YEARS[0], YEARS[-1]  # every date of a programme file
MAX_PERIOD_YEARS = 6  # programme and plan
MAX_PER_ACTIVITY = 400  # dates one recurring activity may expand to
MAX_PER_FILE = 20_000  # tasks (dates) one programme file may expand to
MAX_RRULES = 100  # activities with an RRULE per file: each costs up to ~50 ms to expand
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")  # a task is per date: nothing finer
SUB_DAILY = ("HOURLY", "MINUTELY", "SECONDLY")
MAX_INTERVAL = 366
# Parts of an RRULE that are refused: times of day (a task has a date) and BYEASTER (a dateutil
# extension whose dates do not repeat every 400 years, see expand.py).
REFUSED_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND", "BYEASTER", "DTSTART")


def year_problem(day: date) -> str | None:
    if FIRST_YEAR <= day.year <= LAST_YEAR:
        return None
    return f"datum {day} ligt buiten de jaren {FIRST_YEAR}–{LAST_YEAR}"


def period_problem(start: date, end: date) -> str | None:
    """Dutch reason why start … end is not a sane period, or None."""
    problem = year_problem(start) or year_problem(end)
    if problem:
        return problem
    if end < start:
        return "einddatum ligt vóór de begindatum"
    if (end.year - start.year - MAX_PERIOD_YEARS, end.month, end.day) > (0, start.month, start.day):
        return f"periode {start} t/m {end} is langer dan {MAX_PERIOD_YEARS} jaar"
    return None


def sane_year(value: date | None) -> date | None:
    """Pydantic field validator: a date within FIRST_YEAR … LAST_YEAR."""
    problem = value and year_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def sane_period(end: date, info: ValidationInfo) -> date:
    """Pydantic field validator for `end`: a sane period from `start` (if that was valid)."""
    start = info.data.get("start")
    problem = start and period_problem(start, end)
    if problem:
        raise ValueError(problem)
    return end


def rrule_problem(text: str) -> str | None:
    """Dutch reason why an RRULE is refused before dateutil reads it, or None."""
    if "\n" in text or "\r" in text:
        return "geef één RRULE-regel (zonder DTSTART, RDATE of EXDATE)"
    body = text.strip().upper().removeprefix("RRULE:")
    parts = dict(part.partition("=")[::2] for part in body.split(";") if part)
    freq = parts.get("FREQ", "")
    if freq in SUB_DAILY:  # an unknown FREQ is dateutil's to refuse
        return (
            f"FREQ={freq} is niet toegestaan: kies {', '.join(FREQUENCIES)} "
            "(hooguit één taak per dag)"
        )
    refused = [name for name in REFUSED_PARTS if name in parts]
    if refused:
        return f"{refused[0]} is niet toegestaan in een herhaling van taken"
    interval = parts.get("INTERVAL", "1")
    if not (re.fullmatch(r"\d{1,3}", interval) and 1 <= int(interval) <= MAX_INTERVAL):
        return f"INTERVAL moet een geheel getal van 1 tot en met {MAX_INTERVAL} zijn"
    if "COUNT" in parts and not re.fullmatch(r"[1-9]\d{0,8}", parts["COUNT"]):
        return "COUNT moet een geheel getal van 1 tot en met 999999999 zijn"
    return None
