"""What a rule may refer to: the facts and the actions of each table.

Defined in code on purpose: a rule file naming anything else is refused when it is loaded.
Each fact is defined once, in REGISTRY: its type, its Dutch description, how it is computed
from a task and the world, its SQL form (for the set-based crisis path) and the time window it
moves with. The engine, rules/setbased.py, rules/window.py and the rule-file checks in
rules/tables.py all read it from here; so do the crisis scope and the statutory guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, select, true

from veiligheid_flow.programme.models import Activity, Person, Programme, Theme
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

FactType = Literal["bool", "int", "float", "str"]
# What moves a fact as time passes: the task's (shifted) due date, its council item's
# submission deadline, absences or crises beginning and ending.
Window = Literal["due", "council deadline", "absence", "crisis"]
DATE_WINDOWS: tuple[Window, ...] = ("due", "council deadline")


@dataclass(frozen=True)
class Fact:
    """One fact a rule may read."""

    name: str
    type: FactType
    description: str  # Dutch: `rules facts` lists it
    compute: Callable[[Subject], Any] | None  # None: a decision of an earlier table (engine)
    # The fact over one Task row, for the set-based path (which reads only tasks the crisis
    # at hand touches); None: that path cannot read it.
    sql: Callable[[], ColumnElement[Any]] | None = None
    windows: tuple[Window, ...] = ()  # none: only the task's own data changes it
    # For a date window: the value counts working days to the date (+1) or past it (-1).
    sign: int = 1


def _of_theme(column: Any) -> ColumnElement[Any]:
    return select(column).where(Theme.id == Task.theme_id).scalar_subquery()


def _person_facts(role: str, who: str) -> list[Fact]:
    def email(s: Subject) -> str:
        return str(getattr(s.task, role))

    return [
        Fact(
            f"{role}.absent",
            "bool",
            f"{who} is afwezig",
            lambda s: s.world.absent(email(s)),
            windows=("absence",),
        ),
        Fact(
            f"{role}.on_crisis_duty",
            "bool",
            f"{who} is ingezet bij een crisis",
            lambda s: s.world.on_crisis_duty(email(s)),
            windows=("crisis",),
        ),
        Fact(
            f"{role}.available",
            "bool",
            f"{who} is aanwezig en niet ingezet bij een crisis",
            lambda s: not (s.world.absent(email(s)) or s.world.on_crisis_duty(email(s))),
            windows=("absence", "crisis"),
        ),
    ]


def _to_deadline(s: Subject) -> int | None:
    deadline = s.task.council_deadline
    return s.world.calendar.working_days_between(s.world.today, deadline) if deadline else None


def _deadline_in_crisis(s: Subject) -> bool:
    deadline = s.task.council_deadline
    return deadline is not None and any(c.covers(deadline) for c in s.touching)


_ALL: list[Fact] = [
    Fact(
        "task.statutory",
        "bool",
        "de taak is een wettelijke taak",
        lambda s: s.task.statutory,
        lambda: Task.statutory,
    ),
    Fact(
        "task.kind",
        "str",
        "soort activiteit: deliver of monitor",
        lambda s: s.task.kind,
        lambda: select(Activity.kind).where(Activity.id == Task.activity_id).scalar_subquery(),
    ),
    Fact(
        "task.effort_hours",
        "float",
        "geraamde uren",
        lambda s: s.task.effort_hours,
        lambda: Task.effort_hours,
    ),
    Fact(
        "task.handed_over",
        "bool",
        "handmatig overgedragen aan de achtervang",
        lambda s: s.task.handed_over,
        lambda: Task.handed_over,
    ),
    Fact(
        "task.working_days_to_due",
        "int",
        "werkdagen tot de deadline, na verschuiving door crises (negatief: te laat)",
        lambda s: s.to_due,
        windows=("due",),
    ),
    Fact(
        "task.overdue_working_days",
        "int",
        "werkdagen over de deadline heen (0 als op tijd)",
        lambda s: max(0, -s.to_due),
        windows=("due",),
        sign=-1,
    ),
    Fact(
        "theme.code",
        "str",
        "code van het thema",
        lambda s: s.task.theme_code,
        lambda: _of_theme(Theme.code),
    ),
    Fact(
        "theme.kind",
        "str",
        "district, local of other",
        lambda s: s.task.theme_kind,
        lambda: _of_theme(Theme.kind),
    ),
    Fact(
        "theme.council_priority",
        "bool",
        "prioritair thema van de raad",
        lambda s: s.task.council_priority,
        lambda: _of_theme(Theme.council_priority),
    ),
    Fact(
        "council_item.linked",
        "bool",
        "de taak hoort bij een punt op de termijnagenda",
        lambda s: s.task.council_item is not None,
        lambda: Task.council_item_id.is_not(None),
    ),
    Fact(
        "council_item.working_days_to_deadline",
        "int",
        "werkdagen tot de aanleverdatum griffie",
        _to_deadline,
        windows=("council deadline",),
    ),
    Fact(
        "council_item.deadline_in_crisis",
        "bool",
        "aanleverdatum valt in de verwachte duur van een crisis",
        _deadline_in_crisis,
        windows=("crisis",),
    ),
    Fact(
        "crisis.in_scope",
        "bool",
        "een lopende crisis raakt deze taak (thema of medewerker)",
        lambda s: bool(s.touching),
        true,  # (the set-based path reads only tasks the crisis touches)
        windows=("crisis",),
    ),
    Fact(
        "task.late_before_crisis",
        "bool",
        "de taak was al te laat vóór de crisis die haar raakt (dat blijft zichtbaar)",
        # due before the crisis began to pause it (its declaration, or the update that
        # widened it to the task): changes only at crisis events or when the due date moves,
        # never by the passing of days
        lambda s: any(s.due < s.task.pause_began(c) for c in s.touching),
        windows=("crisis",),
    ),
    Fact(
        "crisis.max_grip",
        "int",
        "hoogste GRIP-niveau van de crises die de taak raken (0: geen)",
        lambda s: max((c.grip for c in s.touching), default=0),
        windows=("crisis",),
    ),
    *_person_facts("owner", "eerst verantwoordelijke"),
    *_person_facts("backup", "achtervang"),
    Fact("decision.paused", "bool", "besluit van de tabel 'pause': de taak ligt stil", None),
    Fact(
        "decision.past_programme_end",
        "bool",
        "de (verschoven) deadline ligt na het programma-einde",
        None,
    ),
]
REGISTRY: dict[str, Fact] = {fact.name: fact for fact in _ALL}
_COMPUTED = tuple(fact for fact in _ALL if fact.compute is not None)
# (window.py reads a date window's rule constants as working days)
assert all(f.type == "int" for f in _ALL if set(f.windows) & set(DATE_WINDOWS))

# name → (type, description): what the rule-file checks and the `rules facts` listing read.
FACTS: dict[str, tuple[FactType, str]] = {f.name: (f.type, f.description) for f in _ALL}

# Which decisions of earlier tables a table may read (tables run in this order).
TABLE_ORDER = ("priority", "pause", "responsibility", "flags")
DECISION_FACTS = {
    "priority": set(),
    "pause": set(),
    "responsibility": {"decision.paused"},
    "flags": {"decision.paused", "decision.past_programme_end"},
}
assert {f.name for f in _ALL if f.compute is None} == set().union(*DECISION_FACTS.values())
FLAGS: dict[str, str] = {
    "unstaffed": "onbemand",
    "council_at_risk": "termijnagenda in gevaar",
    "past_programme_end": "na programma-einde",
    "overdue": "te laat",
    "statutory_at_risk": "wettelijke taak in gevaar",
}
OVERDUE_FACT = "task.overdue_working_days"  # lateness: what an escalation rule reads
assert OVERDUE_FACT in FACTS

ACTIONS: dict[str, dict[str, Any]] = {
    "priority": {"tier": int},
    "pause": {"pause": bool},
    "responsibility": {"responsible": ("owner", "backup")},
    "flags": {"flag": tuple(FLAGS)},
}


@dataclass(frozen=True)
class NeverPaused:
    """Statutory work never pauses, whatever the pause table says. The one guard: the engine
    overrides the table with it, the set-based path leaves such tasks to the engine, and a
    pause rule that could pause them is refused when the rule files are loaded."""

    fact: str = "task.statutory"
    rule_id: str = "VAST-WETTELIJK-NOOIT-PAUZE"
    version: int = 1
    reason: str = "Een wettelijke taak wordt nooit gepauzeerd."

    def holds(self, facts: dict[str, Any]) -> bool:
        """Whether the task with these facts is statutory."""
        return bool(facts[self.fact])

    def sql(self) -> ColumnElement[bool]:
        """The same, over a Task row."""
        sql = REGISTRY[self.fact].sql
        assert sql is not None
        return sql().is_(True)


NEVER_PAUSED = NeverPaused()
assert REGISTRY[NEVER_PAUSED.fact].type == "bool"


@dataclass(frozen=True)
class CrisisFacts:
    id: int
    title: str
    grip: int
    start: date
    expected_end: date | None
    themes: frozenset[str] = frozenset()
    staff: frozenset[str] = frozenset()  # emails of staff on crisis duty
    municipalities: frozenset[str] = frozenset()  # codes; empty: every municipality

    def touches(self, task: TaskSnapshot) -> bool:
        """Scope: the work of staff on crisis duty (wherever it is), and in the crisis's
        municipalities the named themes; no themes and no staff means all planned work there.
        `touching` is the same in SQL."""
        if task.owner in self.staff:
            return True
        if self.municipalities and task.municipality not in self.municipalities:
            return False
        return task.theme_code in self.themes or not (self.themes or self.staff)

    def touching(self) -> tuple[ColumnElement[bool], ...]:
        """`touches` over Task rows: one clause per way in (the scope is their OR; each alone
        is one indexed query). A theme's programme is its tasks' programme."""
        staff = self.staff_ids()
        clauses = [Task.owner_id.in_(staff)]
        if self.themes or not self.staff:
            area = select(Programme.id)
            if self.municipalities:
                area = area.where(Programme.municipality_code.in_(sorted(self.municipalities)))
            if self.themes:
                themes = select(Theme.id).where(
                    Theme.code.in_(sorted(self.themes)), Theme.programme_id.in_(area)
                )
                clauses.append(Task.theme_id.in_(themes))
            else:
                clauses.append(Task.programme_id.in_(area))
        return tuple(clauses)

    def staff_ids(self) -> Any:
        """The people on duty for this crisis, as a subquery of Person ids."""
        return select(Person.id).where(Person.email.in_(sorted(self.staff)))

    def covers(self, day: date) -> bool:
        """Whether `day` lies in the crisis's expected span (a council deadline at risk)."""
        return self.start <= day <= (self.expected_end or self.start)

    def covers_sql(self, column: Any) -> ColumnElement[bool]:
        """`covers`, for a date column."""
        return and_(column >= self.start, column <= (self.expected_end or self.start))


@dataclass(frozen=True)
class Override:
    tier: int
    by: str
    reason: str


@dataclass(frozen=True)
class TaskSnapshot:
    id: int
    statutory: bool
    kind: str
    effort_hours: float
    planned_due: date
    programme_end: date
    theme_code: str
    theme_kind: str
    council_priority: bool
    owner: str
    backup: str
    handed_over: bool = False
    council_item: str | None = None
    council_deadline: date | None = None
    override: Override | None = None
    municipality: str = ""  # code of the programme's municipality
    # (crisis id, first day, last day) of ended crises that paused this task
    ended_pauses: tuple[tuple[int, date, date], ...] = ()
    # (crisis id, first day) of the pauses still open
    open_pauses: tuple[tuple[int, date], ...] = ()

    def pause_began(self, crisis: CrisisFacts) -> date:
        """When `crisis` began to pause this task: its open pause's first day, else the
        crisis's own first day."""
        return next((day for cid, day in self.open_pauses if cid == crisis.id), crisis.start)


@dataclass(frozen=True)
class World:
    today: date
    calendar: WorkCalendar
    crises: tuple[CrisisFacts, ...] = ()  # active ones
    absences: dict[str, tuple[tuple[date, date], ...]] = field(default_factory=dict)

    def absent(self, email: str, day: date | None = None) -> bool:
        day = day or self.today
        return any(start <= day <= end for start, end in self.absences.get(email, ()))

    def on_crisis_duty(self, email: str, day: date | None = None) -> bool:
        """Today: any active crisis names them. A later day: until the crisis's expected end."""
        return any(
            email in crisis.staff and (day is None or day <= (crisis.expected_end or day))
            for crisis in self.crises
        )

    def available_sql(self, person_id: Any) -> ColumnElement[bool]:
        """Today neither absent nor on crisis duty (the `available` facts), for a column of
        Person ids."""
        absent = {email for email in self.absences if self.absent(email)}
        away = sorted(absent | {email for crisis in self.crises for email in crisis.staff})
        return person_id.not_in(select(Person.id).where(Person.email.in_(away)))


@dataclass(frozen=True)
class Subject:
    """What one task's facts are computed from."""

    task: TaskSnapshot
    world: World
    due: date  # its current due date (after crisis shifts)
    touching: tuple[CrisisFacts, ...]  # the active crises that touch it

    @property
    def to_due(self) -> int:
        return self.world.calendar.working_days_between(self.world.today, self.due)


def task_facts(task: TaskSnapshot, world: World, due: date | None = None) -> dict[str, Any]:
    """Facts of a task; `due` is its current due date (after crisis shifts), default planned."""
    touching = tuple(c for c in world.crises if c.touches(task))
    subject = Subject(task, world, due or task.planned_due, touching)
    return {fact.name: fact.compute(subject) for fact in _COMPUTED}  # type: ignore[misc]
