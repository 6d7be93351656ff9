"""What every query shares: the read at `now` (a rolled-back transaction), the plain read of
what is stored, names for addresses, and which municipalities a reader may see."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from veiligheid_flow.app.views import PersonRef
from veiligheid_flow.authority import Actor, refuse_outside
from veiligheid_flow.bootstrap import App
from veiligheid_flow.programme.models import Person, PortfolioHolder, Programme
from veiligheid_flow.programme.service import check_municipality
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.tasks.service import visible_in


@contextmanager
def view_at(app: App, *, now: Any) -> Iterator[Session]:
    """A read at `now`: the decisions are brought to `now` inside a transaction that is rolled
    back, so a listing shows what is true then and stores nothing (also for a past `now`).
    For the application layer only: no entry point holds a session."""
    book = app.rulebook()
    session = app.sessions()
    try:
        session.begin()
        rules_service.evaluate(session=session, now=now, book=book, backwards=True)
        yield session
    finally:
        session.rollback()
        session.close()


@contextmanager
def read_only(app: App) -> Iterator[Session]:
    """A plain read of what is stored: no evaluation, rolled back."""
    session = app.sessions()
    try:
        session.begin()
        yield session
    finally:
        session.rollback()
        session.close()


class Names:
    """Address → name, from the people and portfolio holders (current people first)."""

    def __init__(self, session: Session) -> None:
        self.names: dict[str, str] = {}
        for email, name in session.execute(
            select(PortfolioHolder.email, PortfolioHolder.name).order_by(PortfolioHolder.id)
        ):
            self.names.setdefault(email, name)
        for email, name in session.execute(
            select(Person.email, Person.name).order_by(Person.left_at.is_not(None), Person.id)
        ):
            self.names.setdefault(email, name)

    def ref(self, email: str) -> PersonRef:
        return PersonRef(self.names.get(email, email), email)

    def maybe(self, email: str | None) -> PersonRef | None:
        return self.ref(email) if email else None


def programmes_of(codes: tuple[str, ...] | str) -> Any:
    codes = (codes,) if isinstance(codes, str) else codes
    return select(Programme.id).where(Programme.municipality_code.in_(codes))


def visible(
    session: Session, actor: Actor | None, municipality: str | None
) -> tuple[str, ...] | None:
    """The municipalities a read may show: None for all (no reader named: the operator at the
    shell), else their codes. A reader asking for a municipality they do not serve is refused
    in one line; a reader asking for none sees the municipalities they serve."""
    if municipality:
        check_municipality(session, municipality)
    if actor is None or actor.system:
        return (municipality,) if municipality else None
    if municipality:
        refuse_outside(actor, [municipality], f"de gegevens van gemeente {municipality} zien")
        return (municipality,)
    return tuple(sorted(actor.municipalities))


def refuse_unseen(actor: Actor | None, codes: set[str] | tuple[str, ...], what: str) -> None:
    """One object (a crisis, a task, a message): refused unless the reader serves one of the
    municipalities it concerns."""
    if actor is None or actor.system or set(codes) & actor.municipalities:
        return
    refuse_outside(actor, sorted(codes), f"{what} zien")


def tasks_visible_in(codes: tuple[str, ...]) -> ColumnElement[bool]:
    """Tasks any of `codes` may see (their own, and those of district themes they share in)."""
    return or_(*(visible_in(code) for code in codes))
