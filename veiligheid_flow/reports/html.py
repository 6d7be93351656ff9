"""The Jinja2 environment of the reports (templates/reports/) and its Dutch filters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import cache

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


def long_date(value: date | datetime | None) -> str:
    """'13 oktober 2023'."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, "d MMMM y", locale="nl")


def short_date(value: date | datetime | None) -> str:
    """'13-10-2023'."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return f"{day:%d-%m-%Y}"


def moment(value: datetime | None) -> str:
    return f"{long_date(value)} {value:%H:%M}" if value else ""


def number(value: float | int | Decimal | None, digits: int = 0) -> str:
    """Dutch digits: 1.234 or 1.234,5."""
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale="nl")


def euro(value: Decimal | float | None) -> str:
    """'€ 45.000' (whole euros), '–' when unknown."""
    return "–" if value is None else f"€ {number(value)}"


def percent(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("veiligheid_flow", "templates/reports"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        long_date=long_date,
        short_date=short_date,
        moment=moment,
        number=number,
        euro=euro,
    )
    env.globals["percent"] = percent
    return env


def render(template: str, **values: object) -> str:
    return environment().get_template(template).render(**values)
