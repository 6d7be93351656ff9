"""The overdue notice and the escalation, composed together in one pass: late tasks, repeated
every N working days, to the owner (backup in copy); tasks an escalation rule just handed to the
backup, to the backup."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veiligheid_flow.audit import service as audit
from veiligheid_flow.clock import LOCAL_TZ
from veiligheid_flow.mail.site import Site
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks.models import Task, TaskStatus

from .context import SITE, Context, Draft, _count, _open_tasks, _running


def _overdue_days(ctx: Context, session: Session, since: date, every: int) -> set[date]:
    """Past due dates whose working days late reached 1, 1 + every, 1 + 2·every … since `since`."""
    first = session.scalar(
        select(func.min(Task.due_date)).where(
            Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS])
        )
    )
    found: set[date] = set()
    day = first
    while day is not None and day < ctx.today:
        late = ctx.calendar.working_days_between(day, ctx.today)
        prev = max(ctx.calendar.working_days_between(day, since), 0)
        if any((n - 1) % every == 0 for n in range(prev + 1, late + 1)):
            found.add(day)
        day += timedelta(days=1)
    return found


def overdue(
    session: Session, *, now: datetime, book: RuleBook, since: date, site: Site = SITE
) -> list[Draft]:
    """Overdue tasks, repeated every N working days, to the owner with the backup in copy."""
    ctx = Context(session, now, site)
    every = book.settings.overdue_repeat_every_working_days
    by_owner: dict[str, list[Task]] = defaultdict(list)
    escalated: dict[str, list[Task]] = defaultdict(list)
    newly_escalated = _escalated_since(session, since, now, book.escalation_rule_ids())
    repeat_on = _overdue_days(ctx, session, since, every)
    candidates = _open_tasks(
        session, due_on=frozenset(repeat_on), task_ids=frozenset(newly_escalated)
    )
    for task in candidates:
        if task.paused or task.due_date >= ctx.today or not _running(task, ctx.today):
            continue
        if task.due_date in repeat_on and task.responsible_id == task.owner_id:
            by_owner[task.owner.email].append(task)
        if task.id in newly_escalated and task.responsible_id == task.backup_id:
            escalated[task.backup.email].append(task)
    drafts = [
        ctx.draft(
            "overdue",
            key=f"overdue:{email}:{ctx.today}",
            to=email,
            subject=f"Te laat: {_count(tasks)} over de deadline",
            heading="Over de deadline",
            cc=(copied := ctx.present({t.backup.email for t in tasks} - {email})),
            copied=[ctx.name(a) for a in copied],
            programmes=(t.programme for t in tasks),
            # A personal "Gereed melden" link would reach the copy too (and act in the
            # owner's name): with a copy, the task page (sign-in) is the way.
            tasks=[ctx.task_row(t, None if copied else email) for t in tasks],
        )
        for email, tasks in sorted(by_owner.items())
    ]
    drafts += [
        ctx.draft(
            "escalation",
            key=f"escalation:{email}:{ctx.today}",
            to=email,
            subject=f"Escalatie: je bent nu verantwoordelijk voor {_count(tasks)}",
            heading="Escalatie naar achtervang",
            programmes=(t.programme for t in tasks),
            tasks=[ctx.task_row(t, email) for t in tasks],
        )
        for email, tasks in sorted(escalated.items())
    ]
    return drafts


def _escalated_since(
    session: Session, since: date, now: datetime, escalations: frozenset[str]
) -> set[int]:
    """Tasks an escalation rule handed to the backup after the last covered slot."""
    start = datetime.combine(since + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
    rows = audit.entries(session=session, object_type="task", action="task.decision", since=start)
    return {
        int(row.object_id)
        for row in rows
        if row.at <= now
        and escalations.intersection(row.rule_ids or [])
        and "responsible_id" in (row.after or {})
    }
