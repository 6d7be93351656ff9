"""What a rule may refer to: the facts (with their types) and the actions of each table.

Defined in code on purpose: a rule file naming anything else is refused when it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from veiligheid_flow.workdays import WorkCalendar

FactType = Literal["bool", "int", "float", "str"]

FACTS: dict[str, tuple[FactType, str]] = {
    "task.statutory": ("bool", "de taak is een wettelijke taak"),
    "task.kind": ("str", "soort activiteit: deliver of monitor"),
    "task.effort_hours": ("float", "geraamde uren"),
    "task.handed_over": ("bool", "handmatig overgedragen aan de achtervang"),
    "task.working_days_to_due": (
        "int",
        "werkdagen tot de deadline, na verschuiving door crises (negatief: te laat)",
    ),
    "task.overdue_working_days": ("int", "werkdagen over de deadline heen (0 als op tijd)"),
    "theme.code": ("str", "code van het thema"),
    "theme.kind": ("str", "district, local of other"),
    "theme.council_priority": ("bool", "prioritair thema van de raad"),
    "council_item.linked": ("bool", "de taak hoort bij een punt op de termijnagenda"),
    "council_item.working_days_to_deadline": ("int", "werkdagen tot de aanleverdatum griffie"),
    "council_item.deadline_in_crisis": (
        "bool",
        "aanleverdatum valt in de verwachte duur van een crisis",
    ),
    "crisis.in_scope": ("bool", "een lopende crisis raakt deze taak (thema of medewerker)"),
    "crisis.max_grip": ("int", "hoogste GRIP-niveau van de crises die de taak raken (0: geen)"),
    "owner.absent": ("bool", "eerst verantwoordelijke is afwezig"),
    "owner.on_crisis_duty": ("bool", "eerst verantwoordelijke is ingezet bij een crisis"),
    "owner.available": (
        "bool",
        "eerst verantwoordelijke is aanwezig en niet ingezet bij een crisis",
    ),
    "backup.absent": ("bool", "achtervang is afwezig"),
    "backup.on_crisis_duty": ("bool", "achtervang is ingezet bij een crisis"),
    "backup.available": ("bool", "achtervang is aanwezig en niet ingezet bij een crisis"),
    "decision.paused": ("bool", "besluit van de tabel 'pause': de taak ligt stil"),
    "decision.past_programme_end": ("bool", "de (verschoven) deadline ligt na het programma-einde"),
}

# Which decisions of earlier tables a table may read (tables run in this order).
TABLE_ORDER = ("priority", "pause", "responsibility", "flags")
DECISION_FACTS = {
    "priority": set(),
    "pause": set(),
    "responsibility": {"decision.paused"},
    "flags": {"decision.paused", "decision.past_programme_end"},
}
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
        municipalities the named themes; no themes and no staff means all planned work there."""
        if task.owner in self.staff:
            return True
        if self.municipalities and task.municipality not in self.municipalities:
            return False
        return task.theme_code in self.themes or not (self.themes or self.staff)


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


def task_facts(task: TaskSnapshot, world: World, due: date | None = None) -> dict[str, Any]:
    """Facts of a task; `due` is its current due date (after crisis shifts), default planned."""
    cal, today = world.calendar, world.today
    to_due = cal.working_days_between(today, due or task.planned_due)
    touching = [c for c in world.crises if c.touches(task)]
    deadline = task.council_deadline
    facts: dict[str, Any] = {
        "task.statutory": task.statutory,
        "task.kind": task.kind,
        "task.effort_hours": task.effort_hours,
        "task.handed_over": task.handed_over,
        "task.working_days_to_due": to_due,
        "task.overdue_working_days": max(0, -to_due),
        "theme.code": task.theme_code,
        "theme.kind": task.theme_kind,
        "theme.council_priority": task.council_priority,
        "council_item.linked": task.council_item is not None,
        "council_item.working_days_to_deadline": (
            cal.working_days_between(today, deadline) if deadline else None
        ),
        "council_item.deadline_in_crisis": deadline is not None
        and any(c.start <= deadline <= (c.expected_end or c.start) for c in touching),
        "crisis.in_scope": bool(touching),
        "crisis.max_grip": max((c.grip for c in touching), default=0),
    }
    for role, email in (("owner", task.owner), ("backup", task.backup)):
        absent, duty = world.absent(email), world.on_crisis_duty(email)
        facts[f"{role}.absent"] = absent
        facts[f"{role}.on_crisis_duty"] = duty
        facts[f"{role}.available"] = not (absent or duty)
    return facts
