"""Apply the rules to the stored tasks: build facts, decide, write changes with their rule ids.

Re-evaluating with unchanged facts changes nothing. Does not commit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow.audit import service as audit
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis.models import Absence, Crisis, PriorityOverride, TaskPause
from veiligheid_flow.programme.models import Activity, CouncilItem, Person, Programme, Theme
from veiligheid_flow.rules.engine import Decision, decide
from veiligheid_flow.rules.facts import CrisisFacts, Override, TaskSnapshot, World
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.workdays import WorkCalendar

RULES_ACTOR = "regels"


@dataclass
class Change:
    task_id: int
    before: dict[str, Any]
    after: dict[str, Any]
    rule_ids: list[str]


@dataclass
class EvaluationReport:
    evaluated: int = 0
    changes: list[Change] = field(default_factory=list)


def active_crises(session: Session, now: datetime) -> list[Crisis]:
    return list(
        session.scalars(
            select(Crisis)
            .where(Crisis.declared_at <= now)
            .where((Crisis.ended_at.is_(None)) | (Crisis.ended_at > now))
            .order_by(Crisis.id)
        )
    )


def crisis_facts(crisis: Crisis) -> CrisisFacts:
    return CrisisFacts(
        id=crisis.id,
        title=crisis.title,
        grip=crisis.grip,
        start=local_date(crisis.declared_at),
        expected_end=crisis.expected_end,
        themes=frozenset(crisis.themes),
        staff=frozenset(crisis.staff),
    )


def build_world(session: Session, now: datetime, calendar: WorkCalendar) -> World:
    today = local_date(now)
    absences: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for a in session.scalars(select(Absence).where(Absence.cancelled.is_(False))):
        absences[a.email].append((a.start, a.end))
    return World(
        today=today,
        calendar=calendar,
        crises=tuple(crisis_facts(c) for c in active_crises(session, now)),
        absences={k: tuple(v) for k, v in absences.items()},
    )


class Snapshots:
    """Reads the reference data once, then makes a TaskSnapshot per task."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.people = {p.id: p for p in session.scalars(select(Person))}
        self.themes = {t.id: t for t in session.scalars(select(Theme))}
        self.activity_kinds = {
            activity_id: kind
            for activity_id, kind in session.execute(select(Activity.id, Activity.kind))
        }
        self.items = {c.id: c for c in session.scalars(select(CouncilItem))}
        self.programmes = {p.id: p for p in session.scalars(select(Programme))}
        self.overrides = {
            o.task_id: Override(o.tier, o.by, o.reason)
            for o in session.scalars(
                select(PriorityOverride)
                .where(PriorityOverride.active.is_(True))
                .order_by(PriorityOverride.id)
            )
        }
        self.pauses: dict[int, list[TaskPause]] = defaultdict(list)
        for pause in session.scalars(select(TaskPause).order_by(TaskPause.id)):
            self.pauses[pause.task_id].append(pause)
        self.crises = {c.id: c for c in session.scalars(select(Crisis))}

    def calendar(self, programme_id: int) -> WorkCalendar:
        days = self.programmes[programme_id].non_working_days
        return WorkCalendar(date.fromisoformat(d) for d in days)

    def of(self, task: Task) -> TaskSnapshot:
        theme = self.themes[task.theme_id]
        item = self.items.get(task.council_item_id) if task.council_item_id else None
        return TaskSnapshot(
            id=task.id,
            statutory=task.statutory,
            kind=self.activity_kinds[task.activity_id],
            effort_hours=task.effort_hours,
            planned_due=task.planned_due,
            programme_end=self.programmes[task.programme_id].end,
            theme_code=theme.code,
            theme_kind=theme.kind,
            council_priority=theme.council_priority,
            owner=self.people[task.owner_id].email,
            backup=self.people[task.backup_id].email,
            handed_over=task.handed_over,
            council_item=item.code if item else None,
            council_deadline=item.submission_deadline if item else None,
            override=self.overrides.get(task.id),
            ended_pauses=tuple(
                sorted(
                    (p.crisis_id, p.since, p.until)
                    for p in self.pauses.get(task.id, ())
                    if p.until is not None
                )
            ),
        )


def decision_json(decision: Decision) -> dict[str, Any]:
    return {"steps": [asdict(s) for s in decision.steps], "paused_by": list(decision.paused_by)}


def evaluate(
    *,
    session: Session,
    now: datetime,
    book: RuleBook,
    actor: str = RULES_ACTOR,
    reason: str | None = None,
) -> EvaluationReport:
    """Decide every open task and store what changed, auditing it with the rule ids."""
    report = EvaluationReport()
    snaps = Snapshots(session, now)
    worlds: dict[int, World] = {}
    tasks = session.scalars(
        select(Task)
        .where(Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS]))
        .order_by(Task.id)
    )
    for task in tasks:
        if task.programme_id not in worlds:
            worlds[task.programme_id] = build_world(session, now, snaps.calendar(task.programme_id))
        decision = decide(snaps.of(task), worlds[task.programme_id], book)
        if _record_pauses(session, snaps, task.id, decision.paused_by, now):
            # A pause just ended: decide again so the due-date shift applies at once.
            decision = decide(snaps.of(task), worlds[task.programme_id], book)
        report.evaluated += 1
        change = _apply(task, decision)
        if change:
            report.changes.append(change)
            audit.record(
                session=session,
                at=now,
                actor=actor,
                action="task.decision",
                object_type="task",
                object_id=task.id,
                before=change.before,
                after=change.after,
                reason=reason
                or "; ".join(s.reason for s in decision.steps if s.table != "priority")
                or None,
                rule_ids=change.rule_ids,
            )
    session.flush()
    return report


def _record_pauses(
    session: Session, snaps: Snapshots, task_id: int, paused_by: tuple[int, ...], now: datetime
) -> bool:
    """Open a pause period per crisis that pauses the task now; close the others. Returns
    whether a period was closed."""
    today = local_date(now)
    closed = False
    periods = snaps.pauses[task_id]
    for pause in periods:
        if pause.until is None and pause.crisis_id not in paused_by:
            crisis = snaps.crises[pause.crisis_id]
            ended = crisis.ended_at is not None and crisis.ended_at <= now
            pause.until = max(pause.since, local_date(crisis.ended_at) if ended else today)
            closed = True
    open_crises = {p.crisis_id for p in periods if p.until is None}
    for crisis_id in paused_by:
        if crisis_id not in open_crises:
            pause = TaskPause(task_id=task_id, crisis_id=crisis_id, since=today, until=None)
            session.add(pause)
            periods.append(pause)
    return closed


def _apply(task: Task, decision: Decision) -> Change | None:
    responsible_id = task.backup_id if decision.responsible == "backup" else task.owner_id
    wanted = {
        "tier": decision.tier,
        "paused": decision.paused,
        "responsible_id": responsible_id,
        "due_date": decision.due_date,
        "flags": list(decision.flags),
    }
    before = {k: getattr(task, k) for k, v in wanted.items() if getattr(task, k) != v}
    explanation = decision_json(decision)
    if task.decision != explanation:
        task.decision = explanation
    if not before:
        return None
    for key in before:
        setattr(task, key, wanted[key])
    return Change(task.id, before, {k: wanted[k] for k in before}, decision.rule_ids)
