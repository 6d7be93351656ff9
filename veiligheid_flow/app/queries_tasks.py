"""The read side of the tasks: listings in the order of work, the week, why a task has its
place (explain), and the capacity forecast. Each brings the decisions to `now` in a
rolled-back transaction and returns plain values; `actor` (a reader named with --by) limits
what is shown to the municipalities they serve (None: the operator, who sees all)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow.app.reading import (
    programmes_of,
    refuse_unseen,
    tasks_visible_in,
    view_at,
    visible,
)
from veiligheid_flow.app.views import TaskView, WeekView
from veiligheid_flow.authority import Actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.programme.models import Person, Programme
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules.engine import decide, facts_for
from veiligheid_flow.rules.forecast import Miss, PlannedTask, WeekLoad, forecast
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.tasks.views import task_dict


@dataclass(frozen=True)
class TaskQuery:
    """The filters of a task listing (`veiligheid tasks`)."""

    owner: str | None = None  # email, id or name; matches owner or current responsible
    theme: str | None = None
    status: tuple[TaskStatus, ...] = ()
    due_after: date | None = None
    due_before: date | None = None  # exclusive
    statutory: bool | None = None
    programme: str | None = None
    municipality: str | None = None  # code; also the district themes it shares in
    include_closed: bool = False


def task_view(task: Task, rank: int | None = None) -> TaskView:
    data = task_dict(task, rank)
    data["flags"] = tuple(data["flags"])
    data["due_date"], data["planned_due"] = task.due_date, task.planned_due
    return TaskView(**data)


def listed(session: Session, filters: task_service.TaskFilter, codes: tuple[str, ...] | None):  # type: ignore[no-untyped-def]
    """The tasks of `filters`, seen by `codes` (None: all), in the order of work."""
    if codes is None or len(codes) == 1:
        municipality = codes[0] if codes else filters.municipality
        return task_service.list_tasks(
            session=session, filters=replace(filters, municipality=municipality)
        )
    seen = set(session.scalars(select(Task.id).where(tasks_visible_in(codes))))
    return [t for t in task_service.list_tasks(session=session, filters=filters) if t.id in seen]


def tasks(
    app: App, *, now: datetime, filters: TaskQuery = TaskQuery(), actor: Actor | None = None
) -> list[TaskView]:
    """Open work (or with `include_closed` all), in the order the rules give, at `now`."""
    with view_at(app, now=now) as session:
        codes = visible(session, actor, filters.municipality)
        found = listed(session, task_service.TaskFilter(**vars(filters)), codes)
        return [task_view(t, rank) for rank, t in enumerate(found, 1)]


def week(
    app: App, *, now: datetime, municipality: str | None = None, actor: Actor | None = None
) -> WeekView:
    """Open work due in the current week (Mon–Sun, Europe/Amsterdam) and everything overdue,
    of one municipality or of all."""
    today = local_date(now)
    monday = today - timedelta(days=today.weekday())
    with view_at(app, now=now) as session:
        codes = visible(session, actor, municipality)
        found = listed(
            session,
            task_service.TaskFilter(due_before=monday + timedelta(days=7)),
            codes,
        )
        programmes = select(Programme).where(Programme.end < today)
        if codes is not None:
            programmes = programmes.where(Programme.municipality_code.in_(codes))
        ended = tuple(
            (p.code, p.municipality, p.start, p.end)
            for p in session.scalars(programmes.order_by(Programme.end, Programme.code))
        )
        views = tuple(task_view(t, rank) for rank, t in enumerate(found, 1))
        return WeekView(monday, views, ended)


def check_task_seen(session: Session, actor: Actor | None, task_id: int) -> None:
    if actor is not None and not actor.system:
        task = task_service.get_task(session=session, task_id=task_id)  # "bestaat niet" first
        # Only the reader's own municipalities need asking (one query each, not the region's).
        mine = sorted(actor.municipalities)
        if not any(
            session.scalar(select(Task.id).where(Task.id == task_id, task_service.visible_in(c)))
            for c in mine
        ):
            refuse_unseen(actor, {task.programme.municipality_code}, f"taak {task_id}")


def explain(
    app: App, task_id: int, *, now: datetime, actor: Actor | None = None, rank: bool = True
) -> dict[str, Any]:
    """Why a task has its rank, status, responsible person and due date — at `now`. Without
    `rank` the task's place in all open work is not computed (it lists every task)."""
    book = app.rulebook()
    with view_at(app, now=now) as session:
        check_task_seen(session, actor, task_id)
        task = task_service.get_task(session=session, task_id=task_id)
        one = select(Task.id).where(Task.id == task.id)
        row = session.execute(select(*rules_service.TASK_FACTS).where(Task.id == task.id)).all()
        snaps = rules_service.Snapshots(session, one, row)
        world = rules_service.build_world(session, now, snaps.calendar(task.programme_id))
        decision = rules_service.decision_json(decide(snaps.of(task), world, book))
        order = [t.id for t in task_service.list_tasks(session=session)] if rank else []
        return {
            "task": task_dict(task, order.index(task.id) + 1 if task.id in order else None),
            "steps": decision["steps"],
            "paused_by": decision["paused_by"],
            "facts": facts_for(snaps.of(task), world, book),
        }


def capacity_forecast(
    app: App,
    *,
    now: datetime,
    weeks: int,
    crisis_days: int = 0,
    municipality: str | None = None,
    actor: Actor | None = None,
) -> tuple[list[WeekLoad], list[Miss]]:
    """Per person and week: load against capacity, and deadlines that will be missed; of one
    municipality's people and work, or of all."""
    today = local_date(now)
    with view_at(app, now=now) as session:
        codes = visible(session, actor, municipality)
        people_query = select(Person)
        if codes is not None:
            people_query = people_query.where(Person.programme_id.in_(programmes_of(codes)))
        found = listed(session, task_service.TaskFilter(), codes)
        people = {p.email: p.hours_per_week for p in session.scalars(people_query)}
        calendar = municipal_calendar(session)
        unavailable: dict[str, set[date]] = {}
        world = rules_service.build_world(session, now, calendar)
        days = [today + timedelta(days=n) for n in range(weeks * 7 + 7)]
        for email in people:
            unavailable[email] = {
                d for d in days if world.absent(email, d) or world.on_crisis_duty(email, d)
            }
        if crisis_days:
            hypothetical = {calendar.add_working_days(today, n) for n in range(crisis_days)}
            hypothetical.add(today)
            for email in people:
                unavailable[email] |= hypothetical
        planned = [
            PlannedTask(t.id, t.title, t.responsible.email, t.effort_hours, t.due_date)
            for t in found
            if not t.paused
        ]
    return forecast(
        tasks=planned,
        hours_per_week=people,
        today=today,
        weeks=weeks,
        calendar=calendar,
        unavailable=unavailable,
    )
