"""Budget: planned against realised per theme and year (`veiligheid budget`), and booking a
realised amount (`veiligheid budget boek`). The digest, the board, the evaluation and the
publication read `budget()`.

Planned lines are the programme file's `budget:` as loaded now. Realised amounts are the
file's `realised:` lines plus the bookings made with the command; both count from the moment
they were recorded (a file line that left the file stops counting when the reload removed
it), so a past `now` shows the state then. A theme's budget belongs to the municipality whose
programme holds the theme (a shared district theme is not repeated for the others)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from veiligheid_flow.app.reading import read_only, visible
from veiligheid_flow.authority import Actor, Role, require_role, resolve_actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme import budget as budgets
from veiligheid_flow.programme.models import REALISED_FROM_FILE, Programme
from veiligheid_flow.programme.service import check_municipality

PLANNED, REALISED, BOOKED = "gepland", "gerealiseerd", "geboekt"


@dataclass(frozen=True)
class BudgetEntry:
    kind: str  # "gepland" (file `budget:`) | "gerealiseerd" (file `realised:`) | "geboekt"
    amount: Decimal
    description: str
    at: datetime | None  # when it was recorded (None for planned lines)
    by: str | None  # who recorded it: an address, or "systeem" (None for planned lines)


@dataclass(frozen=True)
class BudgetView:
    municipality: str
    theme_code: str
    theme_name: str
    year: int
    planned: Decimal
    realised: Decimal  # file lines and bookings together
    lines: tuple[BudgetEntry, ...]  # planned first, then realised in the order recorded


@dataclass(frozen=True)
class Booking:
    """What `budget boek` did: the booking, and the theme's year after it."""

    entry: BudgetEntry
    view: BudgetView


def budget(
    app: App, *, now: datetime, actor: Actor | None = None, municipality: str | None = None
) -> tuple[BudgetView, ...]:
    """Planned and realised per active theme and year, sorted by municipality, theme name,
    year. Bookings (and file lines) recorded after `now` are not counted."""
    with read_only(app) as session:
        codes = visible(session, actor, municipality)
        return _views(budgets.lines_at(session, codes, now))


def _views(themes: list[budgets.ThemeLines]) -> tuple[BudgetView, ...]:
    views = []
    for lines in themes:
        years = {b.year for b in lines.planned} | {r.year for r in lines.realised}
        for year in sorted(years):
            planned = [
                BudgetEntry(PLANNED, b.amount, b.description, None, None)
                for b in lines.planned
                if b.year == year
            ]
            realised = [
                BudgetEntry(
                    REALISED if r.source == REALISED_FROM_FILE else BOOKED,
                    r.amount,
                    r.description,
                    r.recorded_at,
                    r.recorded_by,
                )
                for r in lines.realised
                if r.year == year
            ]
            views.append(
                BudgetView(
                    municipality=lines.municipality,
                    theme_code=lines.theme.code,
                    theme_name=lines.theme.name,
                    year=year,
                    planned=_sum(planned),
                    realised=_sum(realised),
                    lines=(*planned, *realised),
                )
            )
    return tuple(sorted(views, key=lambda v: (v.municipality, v.theme_name, v.theme_code, v.year)))


def _sum(entries: list[BudgetEntry]) -> Decimal:
    return sum((e.amount for e in entries), Decimal("0.00"))


def book(
    app: App,
    theme: str,
    year: int,
    amount: str | Decimal,
    *,
    description: str,
    by: str | Actor,
    now: datetime,
    municipality: str | None = None,
) -> Booking:
    """Book a realised amount on a theme (code or name) and year: one unit of work, audited.
    Only a coordinator of the theme's municipality may; `amount` as '1.250,50' or '1250.50';
    a negative amount is a correction and may not make the year's realised total negative."""
    value = amount if isinstance(amount, Decimal) else budgets.parse_amount(amount)
    with app.unit_of_work() as session:
        who = resolve_actor(session, by, municipality)
        if municipality:
            check_municipality(session, municipality)
        places = {municipality} if municipality else who.municipalities
        found = budgets.find_theme(session, theme, places, year)
        code = session.get(Programme, found.programme_id).municipality_code
        require_role(who, Role.COORDINATOR, [code], f"budget boeken op thema {found.code}")
        row = budgets.book(
            session,
            theme=found,
            year=year,
            amount=value,
            description=description,
            now=now,
            actor=who.label,
        )
        entry = BudgetEntry(BOOKED, row.amount, row.description, row.recorded_at, row.recorded_by)
        views = [
            v
            for v in _views([t for t in budgets.lines_at(session, [code], now) if t.theme is found])
            if v.year == year
        ]
        if not views:  # pragma: no cover - the booking itself makes the year
            raise DomainError("boeking niet teruggevonden")
        return Booking(entry=entry, view=views[0])
