"""Who acts, and what they may: the checks every command makes before it changes anything.

A person serves the municipalities whose programme names them (as staff or portfolio holder);
nobody sees or changes the work of a municipality they do not serve. Within a municipality the
programme file's `roles` name the coordinators and the crisis delegates; the mayor is crisis
authority by title. `--by` is resolved once per command into an `Actor`. Does not commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from veiligheid_flow import limits
from veiligheid_flow.errors import DomainError, Refused
from veiligheid_flow.programme.models import Person, PortfolioHolder, Programme


class Role(StrEnum):
    STAFF = "medewerker"
    COORDINATOR = "coördinator"
    HOLDER = "portefeuillehouder"
    CRISIS = "crisisbevoegde (burgemeester of gemandateerde)"


@dataclass(frozen=True)
class Actor:
    """Who acts: an address, a name, and per municipality they serve, their roles there."""

    email: str
    name: str
    roles: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    system: bool = False

    @property
    def municipalities(self) -> frozenset[str]:
        return frozenset(self.roles)

    @property
    def label(self) -> str:
        """What the audit trail records."""
        return self.email

    def has(self, role: Role, code: str) -> bool:
        return role in self.roles.get(code, frozenset())


SYSTEM = Actor(email="systeem", name="systeem", system=True)
"""The scheduler, the jobs and `veiligheid start`: may load and run jobs, nothing else. Never
resolved from `--by`: no person can name it."""


def _current(model: type[Person] | type[PortfolioHolder]) -> Any:
    """Rows of people still in their programme (someone who left acts nowhere)."""
    return Person.left_at.is_(None) if model is Person else true()


def served_by(session: Session, email: str) -> set[str]:
    """The municipality codes where `email` works or holds a portfolio."""
    return set(actor_for(session, email).roles)


def actor_for(session: Session, email: str) -> Actor:
    """The actor for an address: their roles in every municipality they serve."""
    roles: dict[str, set[Role]] = {}
    names: list[str] = []
    people = session.execute(
        select(Person.key, Person.name, Programme.municipality_code, Programme.roles)
        .join(Programme, Person.programme_id == Programme.id)
        .where(Person.email == email, Person.left_at.is_(None))
    )
    for key, name, code, named in people:
        names.append(name)
        mine = roles.setdefault(code, set())
        mine.add(Role.STAFF)
        if key in (named or {}).get("coordinators", []):
            mine.add(Role.COORDINATOR)
        if key in (named or {}).get("crisis_delegates", []):
            mine.add(Role.CRISIS)
    holders = session.execute(
        select(PortfolioHolder.name, PortfolioHolder.title, Programme.municipality_code)
        .join(Programme, PortfolioHolder.programme_id == Programme.id)
        .where(PortfolioHolder.email == email)
    )
    for name, title, code in holders:
        names.append(name)
        mine = roles.setdefault(code, set())
        mine.add(Role.HOLDER)
        if title == "burgemeester":
            mine.add(Role.CRISIS)
    return Actor(
        email=email,
        name=names[0] if names else email,
        roles={code: frozenset(r) for code, r in roles.items()},
    )


def resolve_actor(session: Session, by: str | Actor, municipality: str | None = None) -> Actor:
    """The person `by` names: an address, an id (OOV1, BM), a full name or a title
    ('burgemeester') that names exactly one person (in `municipality`, when given). An Actor
    passes through."""
    if isinstance(by, Actor):
        return by
    check_label(by)
    found = _one(session, by, municipality, (Person, PortfolioHolder), anywhere=True)
    return actor_for(session, found)


def resolve_person(session: Session, who: str, municipality: str | None = None) -> str:
    """The address of the staff member `who` names (address, id or name)."""
    return _one(session, who, municipality, (Person,), "medewerker")


def resolve_holder(session: Session, who: str, municipality: str | None = None) -> PortfolioHolder:
    """The portfolio holder `who` names (address, id, name or title), in their newest programme
    (in `municipality`, when given)."""
    email = _one(session, who, municipality, (PortfolioHolder,), "portefeuillehouder")
    query = select(PortfolioHolder).join(Programme).where(PortfolioHolder.email == email)
    if municipality:
        query = query.where(Programme.municipality_code == municipality)
    return session.scalars(query.order_by(PortfolioHolder.id.desc())).first()


def _one(
    session: Session,
    who: str,
    municipality: str | None,
    models: tuple[type[Person] | type[PortfolioHolder], ...],
    kind: str = "medewerker of portefeuillehouder",
    anywhere: bool = False,
) -> str:
    """The one address `who` names among `models`; refused, with candidates, when it names
    nobody or several people."""
    needle = " ".join(who.split()).lower()
    found: dict[str, tuple[str, set[str]]] = {}
    for model in models:
        match = (
            (model.email == needle)
            | (func.lower(model.key) == needle)
            | (func.lower(model.name) == needle)
        )
        if model is PortfolioHolder:
            match |= func.lower(PortfolioHolder.title) == needle
        rows = session.execute(
            select(model.email, model.name, Programme.municipality_code)
            .join(Programme, model.programme_id == Programme.id)
            .where(match, _current(model))
        )
        for email, name, code in rows:
            # An address names one person wherever they serve (the role checks follow).
            if email == needle and (anywhere or municipality in (None, code)):
                return needle
            if municipality is None or code == municipality:
                found.setdefault(email, (name, set()))[1].add(code)
    if not found:
        where = f" van gemeente {municipality}" if municipality else ""
        raise DomainError(
            f"'{who}' is geen {kind}{where}." + _suggestion(session, needle, municipality, models)
        )
    if len(found) > 1:
        names = " of ".join(
            f"{name} ({email}, {', '.join(sorted(codes))})"
            for email, (name, codes) in sorted(found.items())
        )
        places = {code for _, codes in found.values() for code in codes}
        what = "iemand in meer dan één gemeente" if len(places) > 1 else "meer dan één persoon"
        raise DomainError(
            f"'{who}' noemt {what}: bedoelt u {names}? Geef het e-mailadres"
            f"{' of --municipality' if len(places) > 1 else ''}."
        )
    return next(iter(found))


def _suggestion(
    session: Session,
    needle: str,
    municipality: str | None,
    models: tuple[type[Person] | type[PortfolioHolder], ...],
) -> str:
    """' Bedoelt u …?' with the closest names, ids and addresses, or nothing."""
    known: dict[str, str] = {}
    for model in models:
        query = (
            select(model.name, model.key, model.email)
            .join(Programme, model.programme_id == Programme.id)
            .where(_current(model))
        )
        if municipality:
            query = query.where(Programme.municipality_code == municipality)
        for name, key, email in session.execute(query):
            for label in (name, key, email):
                known.setdefault(label.lower(), f"{name} ({email})")
    close = get_close_matches(needle, list(known), n=3, cutoff=0.75)
    hints = list(dict.fromkeys(known[label] for label in close))
    return f" Bedoelt u {' of '.join(hints)}?" if hints else ""


def refuse_outside(actor: Actor, codes: Iterable[str], action: str) -> None:
    """Refuse unless `actor` serves every municipality in `codes`."""
    missing = sorted(set(codes) - actor.municipalities)
    if missing:
        raise Refused(
            f"{actor.label} werkt niet voor gemeente {', '.join(missing)}: alleen wie daar "
            f"medewerker of portefeuillehouder is, mag {action}."
        )


def require_role(actor: Actor, role: Role, codes: Iterable[str], action: str) -> None:
    """Refuse, naming the role, unless `actor` has `role` in every municipality in `codes`."""
    codes = sorted(set(codes))
    if not actor.system:
        refuse_outside(actor, codes, action)
    lacking = [code for code in codes if not actor.has(role, code)]
    if lacking:
        raise Refused(
            f"Alleen de {role.value} van gemeente {', '.join(lacking)} mag {action}; "
            f"{actor.label} is dat niet."
        )


def require_serves(session: Session, email: str, codes: Iterable[str], action: str) -> None:
    """Refuse unless `email` serves every municipality in `codes`."""
    refuse_outside(actor_for(session, email), codes, action)


def require_shares(actor: Actor, other: Actor, role: Role, action: str) -> None:
    """Refuse unless `actor` has `role` in a municipality that `other` serves."""
    theirs = other.municipalities
    refuse_outside(actor, [] if theirs & actor.municipalities else theirs, action)
    if not any(actor.has(role, code) for code in theirs):
        raise Refused(
            f"Alleen de {role.value} van gemeente {', '.join(sorted(theirs))} mag {action}; "
            f"{actor.label} is dat niet."
        )


def check_label(by: str) -> str:
    """A name given with --by: one line that fits the audit trail."""
    problem = limits.control_problem(by) or limits.length_problem(by, limits.EMAIL)
    if problem or not by.strip():
        raise DomainError(f"--by {problem or 'mag niet leeg zijn'}")
    return by.strip()


def require_loader(session: Session, spec: Any, by: str | Actor) -> Actor:
    """Who may load `spec` (a ProgrammeFile): the system, or a coordinator of its
    municipality; for a municipality's very first load, a coordinator the file itself names."""
    from veiligheid_flow.programme.schema import municipality_code

    if isinstance(by, Actor) and by.system:
        return by
    code = municipality_code(spec.municipality)
    action = f"het programma van gemeente {code} laden"
    known = session.scalar(select(Programme.id).where(Programme.municipality_code == code))
    if known is not None:
        actor = resolve_actor(session, by, code)
        require_role(actor, Role.COORDINATOR, [code], action)
        return actor
    needle = by.email if isinstance(by, Actor) else check_label(by).lower()
    named = [p for p in spec.people if p.id in spec.roles.coordinators]
    for person in named:
        if needle in (str(person.email).lower(), person.id.lower()):
            roles = {code: frozenset({Role.STAFF, Role.COORDINATOR})}
            return Actor(email=str(person.email).lower(), name=person.name, roles=roles)
    names = ", ".join(f"{p.name} ({p.email})" for p in named) or "niemand: vul roles.coordinators"
    raise DomainError(
        f"Alleen een coördinator die het bestand zelf noemt ({names}) mag gemeente {code} voor "
        f"het eerst laden; '{needle}' is dat niet."
    )
