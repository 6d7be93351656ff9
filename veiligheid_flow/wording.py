"""How Dutch readers write dates and counts; shared by messages and pages."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date

from veiligheid_flow.clock import LOCAL_TZ


def dutch_date(value: date | str | None) -> str:
    """A date as Dutch readers write it: 'vr 13 okt 2023' (babel's Dutch names)."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_TZ).date()
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return format_date(day, "EEE d MMM y", locale="nl")


def dutch_moment(value: datetime | None) -> str:
    """A moment in local time: 'ma 2 okt 2023 10:00'."""
    if value is None:
        return ""
    local = value.astimezone(LOCAL_TZ)
    return f"{dutch_date(local.date())} {local:%H:%M}"


def count(n: int, one: str, many: str) -> str:
    """'1 taak', '3 taken': the right form for the number."""
    return f"{n} {one if n == 1 else many}"
