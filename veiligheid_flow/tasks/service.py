"""Task queries and life cycle: open → in progress → done, or cancelled; hand over to the backup.

Services change rows and write audit entries; they do not commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from veiligheid_flow.audit import service as audit
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.programme.models import Person, PortfolioHolder, Programme, Theme, theme_share
from veiligheid_flow.tasks.models import Task, TaskStatus

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


@dataclass(frozen=True)
class TaskFilter:
    owner: str | None = None  # email or person key; matches owner or current responsible
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
        who = filters.owner.lower()
        owner, responsible = aliased(Person), aliased(Person)
        query = (
            query.join(owner, Task.owner_id == owner.id)
            .join(responsible, Task.responsible_id == responsible.id)
            .where(
                or_(
                    owner.email == who,
                    owner.key == filters.owner,
                    responsible.email == who,
                    responsible.key == filters.owner,
                )
            )
        )
    if filters.theme:
        query = query.join(Theme, Task.theme_id == Theme.id).where(Theme.code == filters.theme)
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


def check_actor(*, session: Session, task: Task, by: str) -> str:
    """`by` must be a person or portfolio holder of the task's programme."""
    who = by.strip().lower()
    known = session.scalar(
        select(Person.id).where(
            Person.programme_id == task.programme_id,
            Person.email == who,
            Person.left_at.is_(None),  # someone who left acts no more
        )
    ) or session.scalar(
        select(PortfolioHolder.id).where(
            PortfolioHolder.programme_id == task.programme_id, PortfolioHolder.email == who
        )
    )
    if not known:
        raise DomainError(f"'{by}' is geen medewerker of portefeuillehouder van dit programma")
    return who


def change_status(
    *,
    session: Session,
    task_id: int,
    to: TaskStatus,
    by: str,
    now: datetime,
    note: str | None = None,
) -> Task:
    task = get_task(session=session, task_id=task_id)
    who = check_actor(session=session, task=task, by=by)
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
    *, session: Session, task_id: int, by: str, now: datetime, reason: str | None = None
) -> Task:
    """Hand the task to its backup: the backup is responsible from now on; the owner stays."""
    task = get_task(session=session, task_id=task_id)
    who = check_actor(session=session, task=task, by=by)
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
