"""Reads the coordinators' web pages need beyond the CLI's: who coordinates where, the
capacity forecast with names and per week or month, the absences a reader may see and manage,
and Dutch words for the audit trail's actions. Frozen values only; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from veiligheid_flow.app import queries
from veiligheid_flow.app.views import AbsenceView, PersonView
from veiligheid_flow.authority import Actor, Role
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.errors import DomainError, Refused

MONTHS = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
HORIZON = {"week": 8, "maand": 26}  # weeks of forecast shown per kind of period


# --- who coordinates -----------------------------------------------------------------------------


def coordinates(actor: Actor) -> bool:
    return any(actor.has(Role.COORDINATOR, code) for code in actor.municipalities)


def as_coordinator(actor: Actor, action: str = "deze pagina zien") -> Actor:
    """The reader limited to the municipalities they coordinate (for the queries' `actor`);
    refused when they coordinate none."""
    roles = {c: r for c, r in actor.roles.items() if Role.COORDINATOR in r}
    if not roles:
        raise Refused(
            f"Alleen een {Role.COORDINATOR.value} mag {action}; {actor.name} is dat niet."
        )
    return Actor(email=actor.email, name=actor.name, roles=roles)


# --- capacity ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date  # a Monday (week) or the first Monday counted in the month
    label: str  # "2 okt" (week of) or "okt 2023"
    long: str  # "week van 2 okt 2023", "okt 2023"


@dataclass(frozen=True)
class Load:
    planned: float  # hours of work due in the period (the first one also all that is late)
    available: float  # working hours: formatie less absence, crisis duty and holidays

    @property
    def over(self) -> bool:
        return self.planned > self.available + 1e-9


@dataclass(frozen=True)
class PersonLoad:
    email: str
    name: str
    hours_per_week: float  # formatie
    loads: tuple[Load, ...]  # one per period

    @property
    def over(self) -> int:
        return sum(1 for load in self.loads if load.over)


@dataclass(frozen=True)
class MissView:
    task_id: int
    title: str
    person: str
    due: date
    finished_week: date | None  # None: not finished within the horizon


@dataclass(frozen=True)
class CapacityView:
    per: str  # "week" or "maand"
    weeks: int
    today: date
    periods: tuple[Period, ...]
    people: tuple[PersonLoad, ...]
    misses: tuple[MissView, ...]


def capacity(app: App, *, now: datetime, actor: Actor, per: str = "week") -> CapacityView:
    """The capacity forecast of the municipalities the reader coordinates, with names, per
    week (8 weeks) or per month (26 weeks; a week counts in the month of its Thursday)."""
    if per not in HORIZON:
        raise DomainError("kies per week of per maand")
    reader = as_coordinator(actor)
    weeks = HORIZON[per]
    rows, misses = queries.capacity_forecast(app, now=now, weeks=weeks, actor=reader)
    people = {p.email: p for p in queries.people(app, now=now, actor=reader)}
    mondays = sorted({r.week for r in rows})
    key = (lambda d: d) if per == "week" else _month_of
    order = list(dict.fromkeys(key(m) for m in mondays))  # the periods, in time order
    slot = {m: order.index(key(m)) for m in mondays}
    periods = tuple(_period(min(m for m in mondays if key(m) == k), per) for k in order)
    sums: dict[str, list[list[float]]] = {}
    for r in rows:
        cells = sums.setdefault(r.person, [[0.0, 0.0] for _ in periods])
        cells[slot[r.week]][0] += r.load
        cells[slot[r.week]][1] += r.capacity
    loads = [
        _person(email, people.get(email), cells)
        for email, cells in sums.items()
        if email in people or any(p for p, _ in cells)
    ]
    names = {p.email: p.name for p in loads}
    return CapacityView(
        per=per,
        weeks=weeks,
        today=local_date(now),
        periods=periods,
        people=tuple(sorted(loads, key=lambda p: p.name)),
        misses=tuple(
            MissView(
                m.task.id,
                m.task.title,
                names.get(m.task.person, m.task.person),
                m.task.due,
                m.finished_week,
            )
            for m in misses
        ),
    )


def _month_of(monday: date) -> tuple[int, int]:
    thursday = monday + timedelta(days=3)
    return thursday.year, thursday.month


def _period(first: date, per: str) -> Period:
    """A week by its Monday, or a month by its first Monday counted in it."""
    if per == "week":
        short = f"{first.day} {MONTHS[first.month - 1]}"
        return Period(first, short, f"week van {short} {first.year}")
    year, month = _month_of(first)
    name = f"{MONTHS[month - 1]} {year}"
    return Period(first, name, name)


def _person(email: str, person: PersonView | None, cells: list[list[float]]) -> PersonLoad:
    return PersonLoad(
        email=email,
        name=person.name if person else email,
        hours_per_week=person.hours_per_week if person else 0.0,
        loads=tuple(Load(round(p, 1), round(a, 1)) for p, a in cells),
    )


# --- absences ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AbsencePage:
    absences: tuple[AbsenceView, ...]  # by start date
    people: tuple[PersonView, ...]  # for whom the reader may register one (themselves first)
    coordinator: bool


def absences(app: App, *, now: datetime, actor: Actor) -> AbsencePage:
    """The reader's own absences, and as a coordinator also everyone's in the municipalities
    they coordinate; and the people they may register an absence for."""
    own = [a for a in queries.absences(app, now=now, actor=actor) if a.person.email == actor.email]
    found = {a.id: a for a in own}
    people = [p for p in queries.people(app, now=now, actor=actor) if p.email == actor.email][:1]
    if coordinates(actor):
        reader = as_coordinator(actor)
        found |= {a.id: a for a in queries.absences(app, now=now, actor=reader)}
        seen = {p.email for p in people}
        for p in queries.people(app, now=now, actor=reader):
            if p.email not in seen:
                people.append(p)
                seen.add(p.email)
    listed = sorted(found.values(), key=lambda a: (a.start, a.id))
    return AbsencePage(tuple(listed), tuple(people), coordinates(actor))


# --- the audit trail in Dutch --------------------------------------------------------------------

OBJECTS = {
    "task": "taak",
    "crisis": "crisis",
    "absence": "afwezigheid",
    "priority": "prioriteit",
    "email": "bericht",
    "programme": "programma",
    "theme": "thema",
    "activity": "activiteit",
    "person": "medewerker",
    "council_item": "termijnagenda",
    "case": "zaak",
    "retention": "bewaartermijn",
}
VERBS = {
    "decision": "beslissing van de regels",
    "create": "aangemaakt",
    "update": "gewijzigd",
    "add": "vastgelegd",
    "cancel": "ingetrokken",
    "cancelled": "geannuleerd",
    "declare": "uitgeroepen",
    "end": "beëindigd",
    "set": "gezet",
    "clear": "weggehaald",
    "reassign": "overgedragen",
    "open": "(her)geopend",
    "in_progress": "gestart",
    "done": "gereed gemeld",
    "sent": "verstuurd",
    "retry": "opnieuw klaargezet",
    "confirm": "als verstuurd bevestigd",
    "mail": "oude berichten opgeruimd",
    "person": "gegevens van een vertrokken medewerker opgeruimd",
    "load": "geladen",
}


def action_label(action: str) -> str:
    """'task.done' → 'taak: gereed gemeld'; an unknown action as it is stored."""
    kind, _, verb = action.partition(".")
    if kind in OBJECTS and verb in VERBS:
        return f"{OBJECTS[kind]}: {VERBS[verb]}"
    return action


# --- the outbox in Dutch -------------------------------------------------------------------------

MESSAGE_KINDS = {
    "reminder": "herinnering",
    "overdue": "te laat",
    "escalation": "escalatie",
    "summary": "stand van zaken",
    "council": "termijnagenda",
    "council_risk": "termijnagenda in gevaar",
    "crisis": "crisis",
    "digest": "weekoverzicht",
    "sign_in": "aanmeldlink",
    "admin_alert": "melding aan beheer",
}


def message_kind(kind: str) -> str:
    return MESSAGE_KINDS.get(kind, kind)
