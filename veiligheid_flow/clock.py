"""Time handling: stored times are UTC; dates and schedules are Europe/Amsterdam."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
YEARS = range(2000, 2101)  # the moments this software plans for (programme periods too)


def parse_now(value: str | None, system_now: datetime | None = None) -> datetime:
    """Parse an ISO or DD-MM-JJJJ [HH:MM] moment (naive means Europe/Amsterdam) into aware UTC.

    `system_now` is the real clock, passed in by the entry point when `value` is empty.
    """
    if not value:
        if system_now is None:
            raise ValueError("geen tijdstip opgegeven")
        return as_utc(system_now)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = _day_first(value.strip(), ("%d-%m-%Y %H:%M", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y"))
    if parsed is None:
        raise ValueError(
            f"ongeldig tijdstip {value!r}: verwacht bv. 2023-10-02T08:00 of 02-10-2023 08:00"
        )
    if parsed.year not in YEARS:
        raise ValueError(f"tijdstip {value!r} ligt buiten {YEARS[0]}–{YEARS[-1]}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    return parsed.astimezone(UTC)


def parse_date(value: str) -> date:
    """A calendar day written JJJJ-MM-DD or DD-MM-JJJJ; ValueError otherwise."""
    text = value.strip()
    found = _day_first(text, ("%Y-%m-%d", "%d-%m-%Y")) if _DAY.fullmatch(text) else None
    if found is None:
        raise ValueError(f"'{value}' is geen datum (JJJJ-MM-DD of DD-MM-JJJJ)")
    return found.date()


_DAY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{4}")


def _day_first(text: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone")
    return moment.astimezone(UTC)


def local_date(moment: datetime) -> date:
    """The Europe/Amsterdam calendar date of an aware moment."""
    return as_utc(moment).astimezone(LOCAL_TZ).date()


def local_datetime(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(LOCAL_TZ)
