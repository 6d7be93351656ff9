"""Jinja2 rendering (HTML autoescaped) and .ics attachments for deadline emails."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from icalendar import Calendar, Event
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def _env(html: bool) -> Environment:
    return Environment(
        loader=PackageLoader("veiligheid_flow", "templates"),
        autoescape=select_autoescape(["html"]) if html else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(kind: str, **context: Any) -> tuple[str, str]:
    """(text, html) for a message kind."""
    text = _env(False).get_template(f"{kind}.txt").render(**context)
    html = _env(True).get_template(f"{kind}.html").render(**context)
    return text, html


def deadlines_ics(items: list[tuple[str, str, date, str]], stamp: datetime) -> str:
    """One all-day VEVENT per (uid, summary, day, description)."""
    cal = Calendar()
    cal.add("prodid", "-//veiligheid-flow//NL")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    for uid, summary, day, description in items:
        event = Event()
        event.add("uid", f"{uid}@veiligheid-flow")
        event.add("dtstamp", stamp)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
        event.add("summary", summary)
        event.add("description", description)
        cal.add_component(event)
    return cal.to_ical().decode()
