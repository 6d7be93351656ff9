"""Budget realisation: amounts as people write them, the theme a booking is for, the booking
itself (audited), and the planned and realised lines at a moment. Does not commit."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from difflib import get_close_matches

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from veiligheid_flow import limits
from veiligheid_flow.audit import service as audit
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme.models import (
    REALISED_BOOKED,
    BudgetLine,
    BudgetRealised,
    Programme,
    Theme,
)

MAX_AMOUNT = Decimal("9999999999.99")  # Numeric(12, 2)
_DUTCH = re.compile(r"\d{1,3}(\.\d{3})+(,\d{1,2})?|\d+(,\d{1,2})?")  # 1.250,50 · 1250,5
_PLAIN = re.compile(r"\d+(\.\d{1,2})?")  # 1250.50 · 1250


def parse_amount(text: str) -> Decimal:
    """'1.250,50', '1250,50', '1250.50', '€ -300' → Decimal. A single dot before exactly three
    digits ('1.250') could be either way and is refused, as is more than two decimals."""
    raw = text.strip()
    if len(raw) > 40:
        raise DomainError("bedrag is te lang")
    body = raw.removeprefix("€").strip().replace("\u2212", "-")
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-").strip().replace(" ", "")
    if re.fullmatch(r"\d{1,3}\.\d{3}", body):
        raise DomainError(
            f"bedrag '{raw}' is dubbelzinnig: bedoelt u {body.replace('.', '')} of "
            f"{body.replace('.', ',')}? Schrijf bv. {body},00 of {body.replace('.', '')}"
        )
    if _DUTCH.fullmatch(body):
        value = body.replace(".", "").replace(",", ".")
    elif _PLAIN.fullmatch(body):
        value = body
    else:
        raise DomainError(
            f"'{raw}' is geen bedrag (bv. 1.250,50 of 1250.50; hooguit twee decimalen)"
        )
    try:
        amount = sign * Decimal(value)
    except InvalidOperation:  # pragma: no cover - the patterns let only digits through
        raise DomainError(f"'{raw}' is geen bedrag") from None
    if abs(amount) > MAX_AMOUNT:
        raise DomainError(f"bedrag '{raw}' is te groot (hooguit 9.999.999.999,99)")
    if amount == 0:
        raise DomainError("bedrag 0 boekt niets")
    return amount.quantize(Decimal("0.01"))


def dutch_amount(amount: Decimal) -> str:
    """1250.5 → '1.250,50'."""
    text = f"{amount:,.2f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _suggest(text: str, known: list[str]) -> str:
    """'; bedoelt u …?' with the closest codes and names, or the known ones."""
    by_lower = {k.lower(): k for k in known}
    close = get_close_matches(text.strip().lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        return f"; bedoelt u {' of '.join(repr(by_lower[c]) for c in close)}?"
    return f" (bekend: {', '.join(sorted(set(known))[:12]) or 'geen'})"


def find_theme(session: Session, text: str, municipalities: Collection[str], year: int) -> Theme:
    """The active theme `text` names (code or name, any case) in `municipalities`: the one of
    the programme whose period holds `year` when a code is in several programmes."""
    needle = " ".join(text.split()).lower()
    rows = list(
        session.execute(
            select(Theme, Programme)
            .join(Programme, Theme.programme_id == Programme.id)
            .where(Theme.active.is_(True), Programme.municipality_code.in_(municipalities))
            .order_by(Programme.start, Theme.id)
        )
    )
    found = [(t, p) for t, p in rows if needle in (t.code.lower(), t.name.lower())]
    if not found:
        known = [label for t, _ in rows for label in (t.code, t.name)]
        raise DomainError(f"onbekend thema '{text}'{_suggest(text, known)}")
    inside = [(t, p) for t, p in found if p.start.year <= year <= p.end.year]
    if not inside:
        periods = ", ".join(f"{p.code} ({p.start.year}–{p.end.year})" for _, p in found)
        raise DomainError(f"jaar {year} valt buiten de periode van thema {text}: {periods}")
    if len(inside) > 1:
        names = ", ".join(f"{t.code} in {p.code} ({p.municipality_code})" for t, p in inside)
        raise DomainError(
            f"'{text}' noemt meer dan één thema voor {year}: {names}; geef --municipality"
        )
    return inside[0][0]


def realised_total(session: Session, theme_id: int, year: int, now: datetime) -> Decimal:
    rows = session.scalars(
        select(BudgetRealised.amount).where(
            BudgetRealised.theme_id == theme_id, BudgetRealised.year == year, current_at(now)
        )
    )
    return sum(rows, Decimal(0))


def book(
    session: Session,
    *,
    theme: Theme,
    year: int,
    amount: Decimal,
    description: str,
    now: datetime,
    actor: str,
) -> BudgetRealised:
    """Book a realised amount. A negative amount corrects earlier ones: the realised total of
    the theme and year never drops below zero."""
    text = " ".join(description.split())
    problem = limits.control_problem(text) or limits.length_problem(text, limits.TEXT)
    if problem or not text:
        raise DomainError(f"--omschrijving {problem or 'mag niet leeg zijn'}")
    if amount < 0:
        total = realised_total(session, theme.id, year, now)
        if total + amount < 0:
            raise DomainError(
                f"een correctie van {dutch_amount(amount)} maakt het gerealiseerde bedrag van "
                f"{theme.code} in {year} negatief (nu {dutch_amount(total)})"
            )
    row = BudgetRealised(
        theme_id=theme.id,
        year=year,
        amount=amount,
        description=text,
        source=REALISED_BOOKED,
        recorded_at=now,
        recorded_by=actor,
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        at=now,
        actor=actor,
        action="budget.book",
        object_type="theme",
        object_id=theme.id,
        after={
            "booking": row.id,
            "theme": theme.code,
            "year": year,
            "amount": amount,
            "description": text,
        },
        reason="correctie" if amount < 0 else None,
    )
    return row


def current_at(now: datetime):  # type: ignore[no-untyped-def]
    """Realised rows that count at `now`: recorded by then and not yet removed."""
    return (BudgetRealised.recorded_at <= now) & or_(
        BudgetRealised.removed_at.is_(None), BudgetRealised.removed_at > now
    )


@dataclass(frozen=True)
class ThemeLines:
    theme: Theme
    municipality: str
    planned: list[BudgetLine]
    realised: list[BudgetRealised]


def lines_at(
    session: Session, municipalities: Collection[str] | None, now: datetime
) -> list[ThemeLines]:
    """Per active theme of the municipalities' own programmes (all when None): its planned
    lines and the realised lines that count at `now`."""
    query = (
        select(Theme, Programme.municipality_code)
        .join(Programme, Theme.programme_id == Programme.id)
        .where(Theme.active.is_(True))
    )
    if municipalities is not None:
        query = query.where(Programme.municipality_code.in_(municipalities))
    themes = list(session.execute(query))
    ids = [t.id for t, _ in themes]
    planned: dict[int, list[BudgetLine]] = {}
    for line in session.scalars(
        select(BudgetLine).where(BudgetLine.theme_id.in_(ids)).order_by(BudgetLine.id)
    ):
        planned.setdefault(line.theme_id, []).append(line)
    realised: dict[int, list[BudgetRealised]] = {}
    for row in session.scalars(
        select(BudgetRealised)
        .where(BudgetRealised.theme_id.in_(ids), current_at(now))
        .order_by(BudgetRealised.recorded_at, BudgetRealised.id)
    ):
        realised.setdefault(row.theme_id, []).append(row)
    return [
        ThemeLines(t, code, planned.get(t.id, []), realised.get(t.id, [])) for t, code in themes
    ]


def realised_by_theme(
    session: Session, theme_ids: Collection[int], year: int, now: datetime
) -> dict[int, Decimal]:
    """Theme id → realised in `year` that counts at `now` (file lines and bookings; themes
    without any are absent). For the digest and the board, beside their planned lines."""
    found: dict[int, Decimal] = {}
    for theme_id, amount in session.execute(
        select(BudgetRealised.theme_id, BudgetRealised.amount).where(
            BudgetRealised.theme_id.in_(list(theme_ids)),
            BudgetRealised.year == year,
            current_at(now),
        )
    ):
        found[theme_id] = found.get(theme_id, Decimal(0)) + amount
    return found
