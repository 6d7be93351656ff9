"""Reads the web pages need beyond the CLI's: "mijn werk" in sections, and what every page
shows at its top (the active crises the reader may see, programmes that ended)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from veiligheid_flow.app.queries_tasks import listed
from veiligheid_flow.app.reading import view_at, visible
from veiligheid_flow.authority import Actor, Role
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis.models import Crisis
from veiligheid_flow.programme.models import Programme
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.tasks.views import rank_reason, state_label

AHEAD_DAYS = 28  # "mijn werk" lists what is due within four weeks (and everything late)


@dataclass(frozen=True)
class WorkItem:
    rank: int
    id: int
    title: str
    theme: str
    due_date: date
    status: str  # the English value (open, in_progress, …)
    status_label: str  # Dutch, "gepauzeerd" while a crisis pauses it
    statutory: bool
    legal_basis: str | None
    reason: str  # why it stands at this place (the priority rule's reason)
    standing_in_for: str | None  # the owner's name when the reader stands in
    owner: str
    backup: str
    paused: bool
    late_days: int  # calendar days past the due date (0: not late)


@dataclass(frozen=True)
class MyWork:
    today: date
    overdue: tuple[WorkItem, ...]
    due_today: tuple[WorkItem, ...]
    this_week: tuple[WorkItem, ...]
    later: tuple[WorkItem, ...]
    standing_in: tuple[WorkItem, ...]
    paused: tuple[WorkItem, ...]

    @property
    def empty(self) -> bool:
        return not (self.overdue or self.due_today or self.this_week or self.later or self.paused)


@dataclass(frozen=True)
class CrisisBanner:
    id: int
    title: str
    grip: int
    since: datetime
    expected_end: date


@dataclass(frozen=True)
class Frame:
    """What heads every page for the reader."""

    crises: tuple[CrisisBanner, ...]
    ended: tuple[tuple[str, str, date, date], ...]  # (code, municipality, start, end)
    running: bool  # at least one of the reader's programmes runs today
    coordinator: bool
    holder: bool
    crisis_authority: bool


def _item(task: Task, rank: int, email: str, today: date) -> WorkItem:
    return WorkItem(
        rank=rank,
        id=task.id,
        title=task.title,
        theme=task.theme.name,
        due_date=task.due_date,
        status=str(task.status.value if hasattr(task.status, "value") else task.status),
        status_label=state_label(task),
        statutory=task.statutory,
        legal_basis=task.legal_basis,
        reason=rank_reason(task),
        standing_in_for=task.owner.name if task.owner.email != email else None,
        owner=task.owner.name,
        backup=task.backup.name,
        paused=task.paused,
        late_days=max(0, (today - task.due_date).days) if not task.paused else 0,
    )


def my_work(app: App, *, now: datetime, actor: Actor) -> MyWork:
    """The reader's open work (they are responsible for it now), in rank order, in
    sections: late, due today, the rest of this week, the next four weeks; and the work they
    stand in for; paused work apart."""
    today = local_date(now)
    sunday = today + timedelta(days=6 - today.weekday())
    if not any(Role.STAFF in roles for roles in actor.roles.values()):
        return MyWork(today, (), (), (), (), (), ())  # a portfolio holder: no work of one's own
    with view_at(app, now=now) as session:
        codes = visible(session, actor, None)
        found = listed(
            session,
            task_service.TaskFilter(
                owner=actor.email, due_before=today + timedelta(days=AHEAD_DAYS + 1)
            ),
            codes,
        )
        mine = [t for t in found if t.responsible.email == actor.email]
        items = [_item(t, rank, actor.email, today) for rank, t in enumerate(mine, 1)]
    active = [i for i in items if not i.paused]
    return MyWork(
        today=today,
        overdue=tuple(i for i in active if i.due_date < today),
        due_today=tuple(i for i in active if i.due_date == today),
        this_week=tuple(i for i in active if today < i.due_date <= sunday),
        later=tuple(i for i in active if i.due_date > sunday),
        standing_in=tuple(i for i in active if i.standing_in_for),
        paused=tuple(i for i in items if i.paused),
    )


def frame(app: App, *, now: datetime, actor: Actor) -> Frame:
    """The active crises in the reader's municipalities and the state of their programmes."""
    today = local_date(now)
    with view_at(app, now=now) as session:
        codes = tuple(sorted(actor.municipalities))
        return Frame(
            crises=_active_crises(session, now, codes),
            ended=_programmes(session, codes, Programme.end < today),
            running=bool(
                _programmes(session, codes, Programme.start <= today, Programme.end >= today)
            ),
            coordinator=any(actor.has(Role.COORDINATOR, c) for c in codes),
            holder=any(actor.has(Role.HOLDER, c) for c in codes),
            crisis_authority=any(actor.has(Role.CRISIS, c) for c in codes),
        )


def _active_crises(session: Session, now: datetime, codes: tuple[str, ...]) -> tuple:
    rows = session.scalars(
        select(Crisis)
        .where(Crisis.declared_at <= now, or_(Crisis.ended_at.is_(None), Crisis.ended_at > now))
        .order_by(Crisis.declared_at)
    )
    return tuple(
        CrisisBanner(c.id, c.title, c.grip, c.declared_at, c.expected_end)
        for c in rows
        if not c.municipalities or set(c.municipalities) & set(codes)
    )


def _programmes(session: Session, codes: tuple[str, ...], *conditions) -> tuple:  # type: ignore[no-untyped-def]
    rows = session.scalars(
        select(Programme)
        .where(Programme.municipality_code.in_(codes), *conditions)
        .order_by(Programme.end, Programme.code)
    )
    return tuple((p.code, p.municipality, p.start, p.end) for p in rows)
