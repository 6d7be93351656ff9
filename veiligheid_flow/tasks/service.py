"""Task queries and life cycle: open → in progress → done, or cancelled; hand over to the backup.

Services change rows and write audit entries; they do not commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from difflib import get_close_matches
from enum import Enum
from typing import TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session, selectinload

from veiligheid_flow.audit import service as audit
from veiligheid_flow.authority import Actor, Role, refuse_outside, require_role, resolve_actor
from veiligheid_flow.errors import DomainError, NotFound, Refused
from veiligheid_flow.programme.models import Person, Programme, Theme, theme_share
from veiligheid_flow.tasks.models import Task, TaskStatus

E = TypeVar("E", bound=Enum)

TRANSITIONS: dict[TaskStatus, set[TaskStatus]] = {
    TaskStatus.OPEN: {TaskStatus.IN_PROGRESS, TaskStatus.DONE, TaskStatus.CANCELLED},
    TaskStatus.IN_PROGRESS: {TaskStatus.OPEN, TaskStatus.DONE, TaskStatus.CANCELLED},
    TaskStatus.DONE: {TaskStatus.OPEN},
    TaskStatus.CANCELLED: {TaskStatus.OPEN},
}

STATUS_LABELS = {
    TaskStatus.OPEN: "open",
    TaskStatus.IN_PROGRESS: "in behandeling",
    TaskStatus.DONE: "gereed",
    TaskStatus.CANCELLED: "vervallen",
}


def parse_labelled(text: str, labels: Mapping[E, str]) -> E | None:
    """The enum member whose Dutch label or value `text` names (case, '_' and '-' ignored)."""
    needle = " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    for member, label in labels.items():
        if needle in (label, str(member.value).replace("_", " ")):
            return member
    return None


def parse_status(text: str) -> TaskStatus:
    """A status by its Dutch label ('in behandeling', 'gereed') or its value ('done')."""
    found = parse_labelled(text, STATUS_LABELS)
    if found is None:
        known = ", ".join(STATUS_LABELS.values())
        raise ValueError(f"'{text}' is geen status (kies uit: {known})")
    return found


@dataclass(frozen=True)
class TaskFilter:
    owner: str | None = None  # email, id or name; matches owner or current responsible
    theme: str | None = None
    status: tuple[TaskStatus, ...] = ()
    due_after: date | None = None
    due_before: date | None = None
    statutory: bool | None = None
    programme: str | None = None
    municipality: str | None = None  # code; also the district themes it shares in
    include_closed: bool = False
    # Selections: a task matching any of the given ones (due on one of the dates, or …).
    due_on: frozenset[date] | None = None
    task_ids: frozenset[int] | None = None
    council_items: frozenset[int] | None = None


def order_of_work(query: Select[tuple[Task]]) -> Select[tuple[Task]]:
    """The order the rules give: active before paused, tier, due date, effort, id (total)."""
    return query.order_by(Task.paused, Task.tier, Task.due_date, Task.effort_hours, Task.id)


def list_tasks(*, session: Session, filters: TaskFilter = TaskFilter()) -> list[Task]:
    query = select(Task).options(
        selectinload(Task.owner),
        selectinload(Task.backup),
        selectinload(Task.responsible),
        selectinload(Task.theme),
        selectinload(Task.council_item),
    )
    if filters.owner:
        people = person_ids(session, filters.owner, filters.municipality)
        query = query.where(or_(Task.owner_id.in_(people), Task.responsible_id.in_(people)))
    if filters.theme:
        codes = theme_codes(session, filters.theme, filters.municipality)
        query = query.join(Theme, Task.theme_id == Theme.id).where(Theme.code.in_(codes))
    if filters.programme:
        query = query.join(Programme, Task.programme_id == Programme.id).where(
            Programme.code == filters.programme
        )
    if filters.municipality:
        query = query.where(visible_in(filters.municipality))
    selections = [
        column.in_(sorted(values))
        for column, values in (
            (Task.due_date, filters.due_on),
            (Task.id, filters.task_ids),
            (Task.council_item_id, filters.council_items),
        )
        if values is not None
    ]
    if selections:
        query = query.where(or_(*selections))
    if filters.status:
        query = query.where(Task.status.in_(filters.status))
    elif not filters.include_closed:
        query = query.where(Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS]))
    if filters.due_after:
        query = query.where(Task.due_date >= filters.due_after)
    if filters.due_before:
        query = query.where(Task.due_date < filters.due_before)
    if filters.statutory is not None:
        query = query.where(Task.statutory == (filters.statutory or false()))
    return list(session.scalars(order_of_work(query)).all())


def person_ids(session: Session, who: str, municipality: str | None = None) -> list[int]:
    """The people `who` names: by email, id (OOV1) or name, case-insensitive (within the
    municipality, when given); an unknown one is refused with the nearest known ones."""
    needle = " ".join(who.split()).lower()
    scope = select(Programme.id).where(Programme.municipality_code == municipality)
    people = select(Person.id, Person.key, Person.email, Person.name).where(
        Person.programme_id.in_(scope) if municipality else true()
    )
    rows = list(session.execute(people))
    ids = [row.id for row in rows if needle in (row.email, row.key.lower(), row.name.lower())]
    if not ids:
        known = [value for row in rows for value in (row.key, row.email, row.name)]
        raise DomainError(f"onbekende persoon '{who}'{_suggest(who, known)}")
    return ids


def theme_codes(session: Session, code: str, municipality: str | None = None) -> list[str]:
    """The theme codes `code` names (case-insensitive; those the municipality sees, when
    given); an unknown one is refused with the nearest known codes."""
    themes = select(Theme.code)
    if municipality:
        own = select(Programme.id).where(Programme.municipality_code == municipality)
        shared = select(theme_share.c.theme_id).where(theme_share.c.programme_id.in_(own))
        themes = themes.where(or_(Theme.programme_id.in_(own), Theme.id.in_(shared)))
    known = sorted(set(session.scalars(themes)))
    found = [c for c in known if c.lower() == code.strip().lower()]
    if not found:
        raise DomainError(f"onbekend thema '{code}'{_suggest(code, known)}")
    return found


def _suggest(text: str, known: list[str]) -> str:
    by_lower = {k.lower(): k for k in known}
    close = get_close_matches(text.strip().lower(), list(by_lower), n=3, cutoff=0.6)
    if close:
        return f"; bedoelt u {' of '.join(repr(by_lower[c]) for c in close)}?"
    return f" (bekend: {', '.join(sorted(set(known))[:12]) or 'geen'})"


def visible_in(municipality: str) -> ColumnElement[bool]:
    """Tasks a municipality may see: its own programmes' tasks and those of the district
    themes its programmes share in."""
    own = select(Programme.id).where(Programme.municipality_code == municipality)
    shared = select(theme_share.c.theme_id).where(theme_share.c.programme_id.in_(own))
    return or_(Task.programme_id.in_(own), Task.theme_id.in_(shared))


def get_task(*, session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"taak {task_id} bestaat niet")
    return task


ACTIONS = {
    TaskStatus.IN_PROGRESS: "deze taak starten",
    TaskStatus.DONE: "deze taak gereed melden",
    TaskStatus.OPEN: "deze taak heropenen",
    TaskStatus.CANCELLED: "deze taak laten vervallen",
}


def check_actor(*, session: Session, task: Task, by: str | Actor, action: str) -> Actor:
    """Staff act on the tasks they own, back up or stand in for (not cancel: that is the
    coordinator's); a coordinator on any task of the municipality."""
    code = task.programme.municipality_code
    actor = resolve_actor(session, by, None if isinstance(by, Actor) else code)
    if actor.has(Role.COORDINATOR, code):
        return actor
    if action == ACTIONS[TaskStatus.CANCELLED] or actor.system:
        require_role(actor, Role.COORDINATOR, [code], action)
    refuse_outside(actor, [code], action)
    own = {p.email: p.name for p in (task.owner, task.backup, task.responsible)}
    if actor.email not in own or not actor.has(Role.STAFF, code):
        names = ", ".join(f"{name} ({email})" for email, name in own.items())
        raise Refused(
            f"Alleen de eigenaar, de achtervang of de waarnemer van taak {task.id} ({names}) "
            f"of de coördinator van gemeente {code} mag {action}; {actor.label} is dat niet."
        )
    return actor


def change_status(
    *,
    session: Session,
    task_id: int,
    to: TaskStatus,
    by: str | Actor,
    now: datetime,
    note: str | None = None,
) -> Task:
    task = get_task(session=session, task_id=task_id)
    who = check_actor(session=session, task=task, by=by, action=ACTIONS[to]).label
    current = TaskStatus(task.status)
    if to not in TRANSITIONS[current]:
        raise DomainError(
            f"taak {task_id} is '{STATUS_LABELS[current]}' en kan niet naar '{STATUS_LABELS[to]}'"
        )
    before = {"status": current.value, "note": task.note}
    task.status = to
    task.status_changed_at, task.status_changed_by = now, who
    if note is not None:
        task.note = note
    audit.record(
        session=session,
        at=now,
        actor=who,
        action=f"task.{to.value}",
        object_type="task",
        object_id=task.id,
        before=before,
        after={"status": to.value, "note": task.note},
        reason=note,
    )
    return task


def reassign_to_backup(
    *, session: Session, task_id: int, by: str | Actor, now: datetime, reason: str | None = None
) -> Task:
    """Hand the task to its backup: the backup is responsible from now on; the owner stays."""
    task = get_task(session=session, task_id=task_id)
    action = "deze taak overdragen aan de achtervang"
    who = check_actor(session=session, task=task, by=by, action=action).label
    if not task.open:
        raise DomainError(f"taak {task_id} is al afgesloten")
    if task.handed_over:
        raise DomainError(f"taak {task_id} is al overgedragen aan de achtervang")
    task.handed_over = True
    task.responsible_id = task.backup_id
    audit.record(
        session=session,
        at=now,
        actor=who,
        action="task.reassign",
        object_type="task",
        object_id=task.id,
        before={"handed_over": False},
        after={"handed_over": True},
        reason=reason,
    )
    return task
