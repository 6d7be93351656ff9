"""Reads of the portfolio holder's pages: the board (their themes only) and the priority page
of one task. Who may open the board is answered here, so the web asks the application layer
and never the roles directly (the crisis desk: app/queries_crisis.py).

Everything is set-based (one grouped query per part, ids in chunks): no query per task.
The counting rules are the weekly digest's (`mail/digest.py`): cancelled tasks do not count,
done is done, late is open and past its due date, not paused or late before the crisis
that pauses it; the board adds paused (open and paused, the rest) and counts every task of
the theme, where the digest looks six weeks ahead."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, case, cast, func, not_, or_, select
from sqlalchemy.orm import Session

from veiligheid_flow.app.reading import tasks_visible_in, view_at
from veiligheid_flow.authority import Actor, Role
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date, local_datetime
from veiligheid_flow.crisis.models import Crisis, PriorityOverride, TaskPause
from veiligheid_flow.errors import NotFound, Refused
from veiligheid_flow.programme.budget import realised_by_theme
from veiligheid_flow.programme.models import (
    BudgetLine,
    CouncilItem,
    Person,
    PortfolioHolder,
    Programme,
    Theme,
    theme_holder,
)
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.tasks.views import TIER_LABELS, state_label

OPEN = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)
# Paused work that was late before the crisis stays late (the rules keep its 'overdue' signal,
# SIGNAAL-TE-LAAT-VOOR-CRISIS): it counts as late, not as paused.
KEPT_LATE = cast(Task.flags, String).like('%"overdue"%')
LISTED = 25  # late and paused tasks listed on the board (the counts are complete)
NEXT = 5  # upcoming open tasks per theme (to pick one for a priority)
CHUNK = 5000  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits
AT_RISK = cast(Task.flags, String).like('%"council_at_risk"%')


# --- who may open which page --------------------------------------------------------------------


def holder_municipalities(actor: Actor) -> tuple[str, ...]:
    """Where `actor` holds a portfolio."""
    return tuple(sorted(c for c in actor.municipalities if actor.has(Role.HOLDER, c)))


def require_holder(actor: Actor) -> tuple[str, ...]:
    codes = holder_municipalities(actor)
    if not codes:
        raise Refused(f"Alleen een portefeuillehouder heeft een portefeuille; {actor.label} niet.")
    return codes


# --- the board ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardTask:
    id: int
    title: str
    theme: str
    due_date: date
    days_late: int  # calendar days past the due date (0: not late)
    responsible: str
    tier: int
    tier_label: str
    overridden: bool  # a portfolio holder set its priority
    crisis: str | None  # the crisis that pauses it (the first, when several)


@dataclass(frozen=True)
class CrisisPause:
    crisis_id: int
    crisis: str
    theme: str
    count: int


@dataclass(frozen=True)
class BudgetItem:
    theme: str
    year: int
    description: str
    amount: Decimal

    @property
    def euros(self) -> str:
        return euros(self.amount)


def euros(amount: Decimal) -> str:
    """'€ 45.000': whole euros, a dot between thousands."""
    return "€ " + f"{amount:,.0f}".replace(",", ".")


@dataclass(frozen=True)
class ThemeProgress:
    id: int
    code: str
    name: str
    municipality: str
    co_holders: tuple[str, ...]  # the other holders of the theme
    total: int
    done: int
    open: int  # open, not late, not paused
    late: int
    paused: int
    pauses: tuple[CrisisPause, ...]
    upcoming: tuple[BoardTask, ...]

    def pct(self, part: int) -> float:
        return round(100 * part / self.total, 1) if self.total else 0.0


@dataclass(frozen=True)
class CouncilLine:
    code: str
    subject: str
    holder: str
    committee: str
    committee_date: date
    submission_deadline: date
    days_left: int
    open_tasks: int
    at_risk: bool


@dataclass(frozen=True)
class OverrideLine:
    task_id: int
    title: str
    theme: str
    tier: int
    tier_label: str
    by: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Board:
    today: date
    holder: str
    titles: tuple[str, ...]  # burgemeester, wethouder
    themes: tuple[ThemeProgress, ...]
    late: tuple[BoardTask, ...]
    late_total: int
    paused: tuple[BoardTask, ...]
    paused_total: int
    pauses: tuple[CrisisPause, ...]
    council: tuple[CouncilLine, ...]
    budget: tuple[BudgetItem, ...]
    realised: tuple[tuple[str, Decimal], ...]  # (theme name, realised this year so far)
    overrides: tuple[OverrideLine, ...]

    @property
    def budget_total(self) -> str:
        return euros(sum((b.amount for b in self.budget), Decimal(0)))

    @property
    def realised_total(self) -> str:
        return euros(sum((amount for _, amount in self.realised), Decimal(0)))

    def realised_euros(self, theme: str) -> str:
        return euros(sum((a for name, a in self.realised if name == theme), Decimal(0)))


def _holder_rows(session: Session, actor: Actor, today: date) -> list[PortfolioHolder]:
    """The actor's holder rows, per municipality those of programmes running today (else the
    newest there), as the digest picks them."""
    rows: dict[str, list[tuple[PortfolioHolder, Programme]]] = defaultdict(list)
    for holder, programme in session.execute(
        select(PortfolioHolder, Programme)
        .join(Programme, PortfolioHolder.programme_id == Programme.id)
        .where(
            PortfolioHolder.email == actor.email,
            Programme.municipality_code.in_(holder_municipalities(actor)),
        )
        .order_by(PortfolioHolder.id.desc())
    ):
        rows[programme.municipality_code].append((holder, programme))
    return [
        h
        for found in rows.values()
        for h in ([h for h, p in found if p.start <= today <= p.end] or [found[0][0]])
    ]


def _tasks(session: Session, where: Sequence[Any], today: date, limit: int) -> list[BoardTask]:
    """Open tasks matching `where` by due date, with their responsible person's name, whether
    a priority is set, and the crisis pausing them: one query."""
    override = (
        select(PriorityOverride.id)
        .where(PriorityOverride.task_id == Task.id, PriorityOverride.active.is_(True))
        .exists()
    )
    crisis = (
        select(func.min(Crisis.title))
        .select_from(Crisis)
        .join(TaskPause, TaskPause.crisis_id == Crisis.id)
        .where(TaskPause.task_id == Task.id, TaskPause.until.is_(None))
        .scalar_subquery()
    )
    rows = session.execute(
        select(Task.id, Task.title, Theme.name, Task.due_date, Person.name, Task.tier, Task.paused)
        .add_columns(override.label("overridden"), crisis.label("crisis"))
        .join(Theme, Task.theme_id == Theme.id)
        .join(Person, Task.responsible_id == Person.id)
        .where(Task.status.in_(OPEN), *where)
        .order_by(Task.due_date, Task.id)
        .limit(limit)
    )
    return [
        BoardTask(
            id=r[0],
            title=r[1],
            theme=r[2],
            due_date=r[3],
            days_late=0 if r[6] else max(0, (today - r[3]).days),
            responsible=r[4],
            tier=r[5],
            tier_label=TIER_LABELS.get(r[5], f"klasse {r[5]}"),
            overridden=bool(r.overridden),
            crisis=r.crisis if r[6] else None,
        )
        for r in rows
    ]


def _count(session: Session, where: Sequence[Any]) -> int:
    return session.scalar(select(func.count()).select_from(Task).where(*where)) or 0


def _upcoming(session: Session, ids: list[int], today: date) -> dict[int, list[int]]:
    """Per theme the ids of the next NEXT open, unpaused tasks (a window function)."""
    number = func.row_number().over(partition_by=Task.theme_id, order_by=(Task.due_date, Task.id))
    ranked = (
        select(Task.id, Task.theme_id, number.label("n"))
        .where(
            Task.theme_id.in_(ids),
            Task.status.in_(OPEN),
            Task.paused.is_(False),
            Task.due_date >= today,
        )
        .subquery()
    )
    found: dict[int, list[int]] = defaultdict(list)
    for task_id, theme_id in session.execute(
        select(ranked.c.id, ranked.c.theme_id).where(ranked.c.n <= NEXT).order_by(ranked.c.n)
    ):
        found[theme_id].append(task_id)
    return found


def board(app: App, *, now: datetime, actor: Actor) -> Board:
    """The portfolio board of `actor`: only the themes they hold, at `now`."""
    require_holder(actor)
    today = local_date(now)
    with view_at(app, now=now) as session:
        holders = _holder_rows(session, actor, today)
        holder_ids = [h.id for h in holders]
        themes = list(
            session.execute(
                select(Theme, Programme.municipality_code)
                .join(Programme, Theme.programme_id == Programme.id)
                .join(theme_holder, theme_holder.c.theme_id == Theme.id)
                .where(theme_holder.c.holder_id.in_(holder_ids), Theme.active.is_(True))
                .order_by(Theme.name, Theme.id)
            ).all()
        )
        ids = [t.id for t, _ in themes]
        names = {t.id: t.name for t, _ in themes}
        mine = Task.theme_id.in_(ids)
        progress = _progress(session, ids, today)
        pauses = _pauses(session, ids, names)
        late_where = [mine, Task.due_date < today, or_(Task.paused.is_(False), KEPT_LATE)]
        paused_where = [mine, Task.paused.is_(True), not_(and_(Task.due_date < today, KEPT_LATE))]
        upcoming = _upcoming(session, ids, today)
        upcoming_tasks = {
            t.id: t
            for t in _tasks(
                session,
                [Task.id.in_([i for found in upcoming.values() for i in found])],
                today,
                len(ids) * NEXT,
            )
        }
        co_holders = _co_holders(session, ids, actor.email)
        views = []
        for theme, code in themes:
            total, done, late, paused = progress.get(theme.id, (0, 0, 0, 0))
            views.append(
                ThemeProgress(
                    id=theme.id,
                    code=theme.code,
                    name=theme.name,
                    municipality=code,
                    co_holders=tuple(co_holders.get(theme.id, ())),
                    total=total,
                    done=done,
                    open=total - done - late - paused,
                    late=late,
                    paused=paused,
                    pauses=tuple(p for p in pauses if p.theme == theme.name),
                    upcoming=tuple(upcoming_tasks[i] for i in upcoming.get(theme.id, ())),
                )
            )
        return Board(
            today=today,
            holder=actor.name,
            titles=tuple(sorted({h.title for h in holders})),
            themes=tuple(views),
            late=tuple(_tasks(session, late_where, today, LISTED)),
            late_total=_count(session, [Task.status.in_(OPEN), *late_where]),
            paused=tuple(_tasks(session, paused_where, today, LISTED)),
            paused_total=_count(session, [Task.status.in_(OPEN), *paused_where]),
            pauses=tuple(pauses),
            council=tuple(_council(session, holder_ids, ids, today)),
            budget=tuple(_budget(session, ids, names, today.year)),
            realised=tuple(
                sorted(
                    (names[theme_id], amount)
                    for theme_id, amount in realised_by_theme(
                        session, ids, today.year, now
                    ).items()
                )
            ),
            overrides=tuple(_overrides(session, ids)),
        )


def _progress(
    session: Session, ids: list[int], today: date
) -> dict[int, tuple[int, int, int, int]]:
    """Per theme: (total, done, late, paused) of its tasks, cancelled ones not counted."""
    open_ = Task.status.in_(OPEN)
    late = and_(open_, Task.due_date < today, or_(Task.paused.is_(False), KEPT_LATE))
    rows = session.execute(
        select(
            Task.theme_id,
            func.count(),
            func.sum(case((Task.status == TaskStatus.DONE, 1), else_=0)),
            func.sum(case((late, 1), else_=0)),
            func.sum(case((and_(open_, Task.paused.is_(True), not_(late)), 1), else_=0)),
        )
        .where(Task.theme_id.in_(ids), Task.status != TaskStatus.CANCELLED)
        .group_by(Task.theme_id)
    )
    return {theme: (n, done or 0, lt or 0, p or 0) for theme, n, done, lt, p in rows}


def _pauses(session: Session, ids: list[int], names: dict[int, str]) -> list[CrisisPause]:
    """What each crisis pauses now, per theme."""
    rows = session.execute(
        select(Crisis.id, Crisis.title, Task.theme_id, func.count(func.distinct(Task.id)))
        .join(TaskPause, TaskPause.crisis_id == Crisis.id)
        .join(Task, TaskPause.task_id == Task.id)
        .where(
            TaskPause.until.is_(None),
            Task.theme_id.in_(ids),
            Task.paused.is_(True),
            Task.status.in_(OPEN),
        )
        .group_by(Crisis.id, Crisis.title, Task.theme_id)
    )
    found = [CrisisPause(cid, title, names[theme], n) for cid, title, theme, n in rows]
    return sorted(found, key=lambda p: (p.crisis_id, p.theme))


def _co_holders(session: Session, ids: list[int], email: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for theme_id, name, title in session.execute(
        select(theme_holder.c.theme_id, PortfolioHolder.name, PortfolioHolder.title)
        .join(PortfolioHolder, theme_holder.c.holder_id == PortfolioHolder.id)
        .where(theme_holder.c.theme_id.in_(ids), PortfolioHolder.email != email)
        .order_by(PortfolioHolder.key)
    ):
        found[theme_id].append(f"{name} ({title})")
    return found


def _council(
    session: Session, holder_ids: list[int], theme_ids: list[int], today: date
) -> Iterator[CouncilLine]:
    """The coming council items the holder presents or their themes' tasks prepare."""
    prepared = select(Task.council_item_id).where(
        Task.theme_id.in_(theme_ids), Task.council_item_id.is_not(None)
    )
    items = session.execute(
        select(CouncilItem, PortfolioHolder.name, PortfolioHolder.title)
        .join(PortfolioHolder, CouncilItem.holder_id == PortfolioHolder.id)
        .where(
            CouncilItem.active.is_(True),
            CouncilItem.submission_deadline >= today,
            or_(CouncilItem.holder_id.in_(holder_ids), CouncilItem.id.in_(prepared)),
        )
        .order_by(CouncilItem.submission_deadline, CouncilItem.id)
    ).all()
    item_ids = [item.id for item, _, _ in items]
    counts = {
        item_id: (n, risk or 0)
        for item_id, n, risk in session.execute(
            select(Task.council_item_id, func.count(), func.sum(case((AT_RISK, 1), else_=0)))
            .where(Task.council_item_id.in_(item_ids), Task.status.in_(OPEN))
            .group_by(Task.council_item_id)
        )
    }
    for item, name, title in items:
        n, risk = counts.get(item.id, (0, 0))
        yield CouncilLine(
            code=item.code,
            subject=item.subject,
            holder=f"{name} ({title})",
            committee=item.committee,
            committee_date=item.committee_date,
            submission_deadline=item.submission_deadline,
            days_left=(item.submission_deadline - today).days,
            open_tasks=n,
            at_risk=risk > 0,
        )


def _budget(
    session: Session, ids: list[int], names: dict[int, str], year: int
) -> Iterator[BudgetItem]:
    for line in session.scalars(
        select(BudgetLine)
        .where(BudgetLine.theme_id.in_(ids), BudgetLine.year == year)
        .order_by(BudgetLine.theme_id, BudgetLine.id)
    ):
        yield BudgetItem(names[line.theme_id], line.year, line.description, line.amount)


def _overrides(session: Session, ids: list[int]) -> Iterator[OverrideLine]:
    names = _names(session)
    for override, title, theme in session.execute(
        select(PriorityOverride, Task.title, Theme.name)
        .join(Task, PriorityOverride.task_id == Task.id)
        .join(Theme, Task.theme_id == Theme.id)
        .where(PriorityOverride.active.is_(True), Task.theme_id.in_(ids), Task.status.in_(OPEN))
        .order_by(PriorityOverride.at.desc(), PriorityOverride.id.desc())
    ):
        yield OverrideLine(
            task_id=override.task_id,
            title=title,
            theme=theme,
            tier=override.tier,
            tier_label=TIER_LABELS.get(override.tier, f"klasse {override.tier}"),
            by=names.get(override.by, override.by),
            reason=override.reason,
            at=local_datetime(override.at),
        )


def _names(session: Session) -> dict[str, str]:
    """Address → name (holders and people)."""
    found = dict(session.execute(select(PortfolioHolder.email, PortfolioHolder.name)).all())
    for email, name in session.execute(select(Person.email, Person.name)):
        found.setdefault(email, name)
    return found


# --- one task's priority ------------------------------------------------------------------------


@dataclass(frozen=True)
class PriorityTask:
    id: int
    title: str
    theme: str
    theme_code: str
    municipality: str
    status_label: str
    open: bool
    due_date: date
    statutory: bool
    tier: int
    tier_label: str
    override_tier: int | None  # the holder's priority, when set
    override_by: str | None
    override_reason: str | None
    override_at: datetime | None


TIERS = {tier: label for tier, label in sorted(TIER_LABELS.items())}  # what a holder may pick


def priority_task(app: App, *, now: datetime, task_id: int, actor: Actor) -> PriorityTask:
    """A task of one of `actor`'s themes, with its priority. Another municipality's task is
    not found; a task of a theme they do not hold is refused."""
    codes = require_holder(actor)
    with view_at(app, now=now) as session:
        row = session.execute(
            select(Task, Theme, Programme.municipality_code)
            .join(Theme, Task.theme_id == Theme.id)
            .join(Programme, Task.programme_id == Programme.id)
            .where(Task.id == task_id, tasks_visible_in(tuple(sorted(actor.municipalities))))
        ).first()
        if row is None:
            raise NotFound(f"taak {task_id} bestaat niet")
        task, theme, code = row
        if code not in codes or actor.email not in {h.email for h in theme.holders}:
            raise Refused(
                f"Alleen de portefeuillehouder van thema {theme.name} mag de prioriteit van "
                f"deze taak zetten; {actor.label} is dat niet."
            )
        override = session.scalars(
            select(PriorityOverride).where(
                PriorityOverride.task_id == task_id, PriorityOverride.active.is_(True)
            )
        ).first()
        names = _names(session) if override else {}
        return PriorityTask(
            id=task.id,
            title=task.title,
            theme=theme.name,
            theme_code=theme.code,
            municipality=code,
            status_label=state_label(task),
            open=task.open,
            due_date=task.due_date,
            statutory=task.statutory,
            tier=task.tier,
            tier_label=TIER_LABELS.get(task.tier, f"klasse {task.tier}"),
            override_tier=override.tier if override else None,
            override_by=names.get(override.by, override.by) if override else None,
            override_reason=override.reason if override else None,
            override_at=local_datetime(override.at) if override else None,
        )
