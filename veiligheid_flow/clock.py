"""Time handling: stored times are UTC; dates and schedules are Europe/Amsterdam."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
YEARS = range(2000, 2101)  # the moments this software plans for (programme periods too)


def parse_now(value: str | None, system_now: datetime | None = None) -> datetime:
    """Parse an ISO date-time (naive means Europe/Amsterdam) into aware UTC.

    `system_now` is the real clock, passed in by the entry point when `value` is empty.
    """
    if not value:
        if system_now is None:
            raise ValueError("geen tijdstip opgegeven")
        return as_utc(system_now)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"ongeldig tijdstip {value!r}: verwacht ISO, bv. 2023-10-02T08:00"
        ) from exc
    if parsed.year not in YEARS:
        raise ValueError(f"tijdstip {value!r} ligt buiten {YEARS[0]}–{YEARS[-1]}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    return parsed.astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give a timezone")
    return moment.astimezone(UTC)


def local_date(moment: datetime) -> date:
    """The Europe/Amsterdam calendar date of an aware moment."""
    return as_utc(moment).astimezone(LOCAL_TZ).date()


def local_datetime(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(LOCAL_TZ)
