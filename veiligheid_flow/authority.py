"""Who acts, and where they may: the checks every command makes before it changes anything.

A person serves the municipalities whose programme names them (as staff or portfolio holder);
nobody changes the work of a municipality they do not serve. Does not commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from veiligheid_flow import limits
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme.models import Person, PortfolioHolder, Programme


def _current(model: type[Person] | type[PortfolioHolder]) -> Any:
    """Rows of people still in their programme (someone who left acts nowhere)."""
    return Person.left_at.is_(None) if model is Person else true()


def served_by(session: Session, email: str) -> set[str]:
    """The municipality codes where `email` works or holds a portfolio."""
    codes: set[str] = set()
    for model in (Person, PortfolioHolder):
        codes |= set(
            session.scalars(
                select(Programme.municipality_code)
                .join(model, model.programme_id == Programme.id)
                .where(model.email == email, _current(model))
            )
        )
    return codes


def require_serves(session: Session, email: str, codes: Iterable[str], action: str) -> None:
    """Refuse unless `email` serves every municipality in `codes`."""
    missing = sorted(set(codes) - served_by(session, email))
    if missing:
        raise DomainError(
            f"{email} werkt niet voor gemeente {', '.join(missing)}: alleen wie daar "
            f"medewerker of portefeuillehouder is, mag {action}"
        )


def require_shares(session: Session, email: str, other: str, action: str) -> None:
    """Refuse unless `email` serves at least one municipality that `other` serves."""
    theirs = served_by(session, other)
    if not theirs & served_by(session, email):
        raise DomainError(
            f"{email} werkt niet voor gemeente {', '.join(sorted(theirs)) or '?'}: alleen wie "
            f"daar medewerker of portefeuillehouder is, mag {action}"
        )


def resolve_actor(session: Session, by: str, municipality: str | None = None) -> str:
    """The address of the staff member or portfolio holder `by` names (address or id)."""
    check_label(by)
    needle = by.strip().lower()
    found: set[tuple[str, str]] = set()
    for model in (Person, PortfolioHolder):
        found |= {
            (email, code)
            for email, code in session.execute(
                select(model.email, Programme.municipality_code)
                .join(Programme, model.programme_id == Programme.id)
                .where(
                    (model.email == needle) | (func.lower(model.key) == needle), _current(model)
                )
            )
        }
    if municipality:
        found = {(email, code) for email, code in found if code == municipality}
    emails = sorted({email for email, _ in found})
    if needle in emails:
        return needle
    if not emails:
        where = f" van gemeente {municipality}" if municipality else ""
        raise DomainError(f"'{by}' is geen bekende medewerker of portefeuillehouder{where}")
    if len(emails) > 1:
        raise DomainError(
            f"'{by}' kan {', '.join(emails)} zijn: geef het e-mailadres of --municipality"
        )
    return emails[0]


def check_label(by: str) -> str:
    """A free-text actor (`load --by`): one line that fits the audit trail."""
    problem = limits.control_problem(by) or limits.length_problem(by, limits.EMAIL)
    if problem or not by.strip():
        raise DomainError(f"--by {problem or 'mag niet leeg zijn'}")
    return by.strip()
