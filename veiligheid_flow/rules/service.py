"""Apply the rules to the stored tasks: build facts, decide, write changes with their rule ids.

Re-evaluating with unchanged facts changes nothing. Does not commit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select, true, union
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from veiligheid_flow.audit import service as audit
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis.models import Absence, Crisis, PriorityOverride, TaskPause
from veiligheid_flow.programme.models import Activity, CouncilItem, Person, Programme, Theme
from veiligheid_flow.rules.engine import Decision, decide
from veiligheid_flow.rules.facts import CrisisFacts, Override, TaskSnapshot, World
from veiligheid_flow.rules.models import EvaluationMark
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.rules.window import flipped_ranges, thresholds
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
        municipalities=frozenset(crisis.municipalities or ()),
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


REFERENCE_IDS = 5000  # more ids than this: read the whole reference table instead
FEW = 2000  # an evaluation of at most this many tasks reads only their reference rows


class Snapshots:
    """Reads the reference data once, then makes a TaskSnapshot per task. Pause periods and
    overrides are read only for the tasks selected by `tasks`."""

    def __init__(
        self, session: Session, tasks: Select[tuple[int]], rows: list[Any] | None = None
    ) -> None:
        """With `rows` (the selected tasks' TASK_FACTS), only the reference rows they name
        are read: a read at `now` that decides a few tasks does not load a region's staff."""

        def only(model: Any, column: Any, ids: set[int]) -> Select[Any]:
            query = select(model)
            if rows is not None and len(ids) <= REFERENCE_IDS:
                query = query.where(column.in_(sorted(ids)))
            return query

        def ids(*names: str) -> set[int]:
            return {v for r in rows or () for n in names if (v := getattr(r, n)) is not None}

        self.people = {
            p.id: p
            for p in session.scalars(only(Person, Person.id, ids("owner_id", "backup_id")))
        }
        self.themes = {t.id: t for t in session.scalars(only(Theme, Theme.id, ids("theme_id")))}
        self.activity_kinds = {
            activity_id: kind
            for activity_id, kind in session.execute(
                only(Activity, Activity.id, ids("activity_id"))
                .with_only_columns(Activity.id, Activity.kind)
            )
        }
        self.items = {
            c.id: c
            for c in session.scalars(
                only(CouncilItem, CouncilItem.id, ids("council_item_id"))
            )
        }
        self.programmes = {
            p.id: p for p in session.scalars(only(Programme, Programme.id, ids("programme_id")))
        }
        self.overrides = {
            o.task_id: Override(o.tier, o.by, o.reason)
            for o in session.scalars(
                select(PriorityOverride)
                .where(PriorityOverride.active.is_(True), PriorityOverride.task_id.in_(tasks))
                .order_by(PriorityOverride.id)
            )
        }
        self.pauses: dict[int, list[_Period]] = defaultdict(list)
        for row in session.execute(
            select(
                TaskPause.id,
                TaskPause.task_id,
                TaskPause.crisis_id,
                TaskPause.since,
                TaskPause.until,
            )
            .where(TaskPause.task_id.in_(tasks))
            .order_by(TaskPause.id)
        ):
            self.pauses[row.task_id].append(_Period(*row))
        self.crises = {c.id: c for c in session.scalars(select(Crisis))}

    def calendar(self, programme_id: int) -> WorkCalendar:
        return programme_calendar(self.programmes[programme_id])

    def of(self, task: Any) -> TaskSnapshot:
        """`task`: a Task, or a row with the same names (TASK_FACTS)."""
        theme = self.themes[task.theme_id]
        item = self.items.get(task.council_item_id) if task.council_item_id else None
        programme = self.programmes[task.programme_id]
        return TaskSnapshot(
            id=task.id,
            statutory=task.statutory,
            kind=self.activity_kinds[task.activity_id],
            effort_hours=task.effort_hours,
            planned_due=task.planned_due,
            programme_end=programme.end,
            theme_code=theme.code,
            theme_kind=theme.kind,
            council_priority=theme.council_priority,
            owner=self.people[task.owner_id].email,
            backup=self.people[task.backup_id].email,
            handed_over=task.handed_over,
            council_item=item.code if item else None,
            council_deadline=item.submission_deadline if item else None,
            override=self.overrides.get(task.id),
            municipality=programme.municipality_code,
            ended_pauses=tuple(
                sorted(
                    (p.crisis_id, p.since, p.until)
                    for p in self.pauses.get(task.id, ())
                    if p.until is not None
                )
            ),
            open_pauses=tuple(
                sorted(
                    (p.crisis_id, p.since)
                    for p in self.pauses.get(task.id, ())
                    if p.until is None
                )
            ),
        )


def programme_calendar(programme: Programme) -> WorkCalendar:
    return WorkCalendar(date.fromisoformat(d) for d in programme.non_working_days)


STORED_ELSEWHERE = ("pause", "due")  # kept as pause periods (crisis.models.TaskPause)


def decision_json(decision: Decision, *, stored: bool = False) -> dict[str, Any]:
    """A decision as JSON. `stored`: without the pause and due-date steps, which the pause
    periods record (the set-based crisis path writes those, not this JSON)."""
    steps = [
        {
            "table": s.table,
            "rule_id": s.rule_id,
            "version": s.version,
            "reason": s.reason,
            "facts": dict(s.facts),
        }
        for s in decision.steps
        if not (stored and s.table in STORED_ELSEWHERE)
    ]
    if stored:
        return {"steps": steps}
    return {"steps": steps, "paused_by": list(decision.paused_by)}


@dataclass(frozen=True)
class Scope:
    """The open tasks an event can touch: re-evaluated besides those the passing of time can.

    `everything` re-evaluates every open task (a new rule book does that by itself)."""

    everything: bool = False
    task_ids: frozenset[int] = frozenset()
    where: tuple[ColumnElement[bool], ...] = ()
    # Tasks already decided by the set-based path in this unit of work (rules.setbased).
    exclude: tuple[ColumnElement[bool], ...] = ()

    def __or__(self, other: Scope) -> Scope:
        return Scope(
            self.everything or other.everything,
            self.task_ids | other.task_ids,
            self.where + other.where,
            self.exclude + other.exclude,
        )


NOTHING = Scope()
OPEN = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


def evaluate(
    *,
    session: Session,
    now: datetime,
    book: RuleBook,
    scope: Scope = NOTHING,
    actor: str = RULES_ACTOR,
    reason: str | None = None,
    backwards: bool = False,
) -> EvaluationReport:
    """Bring every open task's stored decision to `now`: decide the tasks in `scope` and those
    whose decision time can have changed since the last evaluation; store and audit changes.

    Stored decisions never go back in time: a write at a `now` before the last evaluation
    decides at that later moment (else every task would be decided back, then forward again).
    Only a read that is rolled back (`backwards=True`) decides at a past `now`.
    Evaluations take turns (the mark row is locked), so two runners never decide at once."""
    mark = _locked_mark(session)
    if not backwards:
        now = max(now, mark.at)
    full = scope.everything or mark.rules_digest != book.digest
    condition: ColumnElement[bool] = true()
    passed = NOTHING
    if not full:
        passed = time_scope(session, book, mark.at, now)
        scope = scope | passed
        # One indexed query per clause, united: an OR over them would scan every task.
        clauses = [*scope.where, Task.id.in_(sorted(scope.task_ids))]
        condition = Task.id.in_(union(*(select(Task.id).where(c) for c in clauses)))
    selected: Select[tuple[int]] = select(Task.id).where(Task.status.in_(OPEN), condition)
    if scope.exclude:
        # EXCEPT, not NOT IN: PostgreSQL runs NOT IN over a large subquery row by row.
        rest = selected.except_(select(Task.id).where(or_(*scope.exclude))).subquery()
        selected = select(rest.c.id)
    report = _decide_and_store(session, now, book, selected, actor, reason)
    if full or passed.where:  # (within one day and no crisis began or ended: nothing to move)
        mark.at, mark.rules_digest = now, book.digest
    session.flush()
    return report


def _locked_mark(session: Session) -> EvaluationMark:
    """The mark row, locked for this transaction. Created if missing (an empty digest: the
    first evaluation is full); a runner that loses the race to create it waits and reads it."""
    mark = session.get(EvaluationMark, 1, with_for_update=True)
    if mark is not None:
        return mark
    dialect = session.get_bind().dialect.name
    insert_mark = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert_mark(EvaluationMark)
        .values(id=1, at=datetime(1970, 1, 1, tzinfo=UTC), rules_digest="")
        .on_conflict_do_nothing()
    )
    return session.get(EvaluationMark, 1, with_for_update=True, populate_existing=True)


def time_scope(session: Session, book: RuleBook, since: datetime, now: datetime) -> Scope:
    """The tasks whose facts the passing of time from `since` to `now` (either way) can change:
    due dates or council deadlines near a rule's threshold, absences that began or ended,
    crises that began or ended in between."""
    before, after = local_date(since), local_date(now)
    where: list[ColumnElement[bool]] = []
    if before != after:
        where += _date_clauses(session, book, before, after)
    low, high = min(since, now), max(since, now)
    for crisis in session.scalars(
        select(Crisis).where(
            or_(
                and_(Crisis.declared_at > low, Crisis.declared_at <= high),
                and_(Crisis.ended_at > low, Crisis.ended_at <= high),
            )
        )
    ):
        where += crisis_scope(crisis).where
    return Scope(where=tuple(where))


def stored_explanation(session: Session, task: Task, book: RuleBook) -> dict[str, Any]:
    """The stored reasons of a task's decision, whole: the rule steps in its decision JSON,
    the pause rule of each open pause period, and the due-date rule once a pause has ended."""
    periods = list(session.scalars(select(TaskPause).where(TaskPause.task_id == task.id)))
    rule_ids = [s["rule_id"] for s in (task.decision or {}).get("steps", [])]
    rule_ids += [p.rule_id for p in periods if p.until is None and p.rule_id]
    if task.due_date != task.planned_due and any(p.until is not None for p in periods):
        rule_ids.append(book.settings.crisis_shift.rule_id)
    return {
        "rule_ids": rule_ids,
        "paused_by": sorted(p.crisis_id for p in periods if p.until is None),
    }


def live_decisions(
    session: Session, now: datetime, book: RuleBook, task_ids: list[int]
) -> dict[int, Decision]:
    """What the pure engine decides for these tasks at `now`, with every reason (pause and
    due-date steps included): for explanations. Writes nothing."""
    chosen = select(Task.id).where(Task.id.in_(task_ids))
    snaps = Snapshots(session, chosen)
    base = build_world(session, now, WorkCalendar())
    found = {}
    for task in session.execute(select(*TASK_FACTS).where(Task.id.in_(chosen))):
        world = replace(base, calendar=snaps.calendar(task.programme_id))
        found[task.id] = decide(snaps.of(task), world, book)
    return found


def programme_scope(session: Session, code: str) -> Scope:
    """Every task of one programme (after it was loaded)."""
    programme = select(Programme.id).where(Programme.code == code)
    return Scope(where=(Task.programme_id.in_(programme),))


def person_scope(session: Session, email: str) -> Scope:
    """Every task a person (by email, in any programme) owns or backs up."""
    people = select(Person.id).where(Person.email == email)
    return Scope(where=(Task.owner_id.in_(people), Task.backup_id.in_(people)))


def _date_clauses(
    session: Session, book: RuleBook, before: date, after: date
) -> list[ColumnElement[bool]]:
    limits = thresholds(book)
    where: list[ColumnElement[bool]] = []
    calendars = {
        tuple(p.non_working_days): programme_calendar(p) for p in session.scalars(select(Programme))
    }
    for calendar in calendars.values():
        for lo, hi in flipped_ranges(calendar, before, after, limits.due):
            where.append(and_(Task.due_date >= lo, Task.due_date < hi))
        for lo, hi in flipped_ranges(calendar, before, after, limits.deadline):
            items = select(CouncilItem.id).where(
                CouncilItem.submission_deadline >= lo, CouncilItem.submission_deadline < hi
            )
            where.append(Task.council_item_id.in_(items))
    first, last = min(before, after), max(before, after)
    absent = select(Absence.email).where(Absence.start <= last, Absence.end >= first)
    people = select(Person.id).where(Person.email.in_(absent))
    return [*where, Task.owner_id.in_(people), Task.backup_id.in_(people)]


def crisis_scope(crisis: Crisis) -> Scope:
    """Every task a crisis can touch: CrisisFacts.touching (the SQL of `touches`), plus tasks
    whose backup is on crisis duty and tasks it paused before (its scope may have shrunk)."""
    facts = crisis_facts(crisis)
    paused = select(TaskPause.task_id).where(TaskPause.crisis_id == crisis.id)
    return Scope(
        where=(
            *facts.touching(),
            Task.backup_id.in_(facts.staff_ids()),
            Task.id.in_(paused),
        )
    )


TASK_FACTS = (
    Task.id,
    Task.programme_id,
    Task.activity_id,
    Task.theme_id,
    Task.statutory,
    Task.effort_hours,
    Task.planned_due,
    Task.owner_id,
    Task.backup_id,
    Task.handed_over,
    Task.council_item_id,
    *(getattr(Task, name) for name in ("tier", "paused", "responsible_id", "due_date", "flags")),
    Task.decision,
)
DECIDED = ("tier", "paused", "responsible_id", "due_date", "flags")


@dataclass
class _Writes:
    """What one evaluation writes, gathered and then sent as batched statements."""

    tasks: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)

    def send(self, session: Session) -> None:
        task, pause = Task.__table__, TaskPause.__table__
        for statement, rows in (
            (
                task.update()
                .where(task.c.id == bindparam("_id"))
                .values({key: bindparam(key) for key in (*DECIDED, "decision")}),
                [
                    {"_id": row["id"], **{k: row[k] for k in (*DECIDED, "decision")}}
                    for row in self.tasks
                ],
            ),
            (AuditEntry.__table__.insert(), self.audit),
            (pause.insert(), self.opened),
            (
                pause.update()
                .where(pause.c.id == bindparam("_id"))
                .values(until=bindparam("until")),
                [{"_id": row["id"], "until": row["until"]} for row in self.closed],
            ),
        ):
            if rows:
                session.connection().execute(statement, rows)
        # Tasks already loaded in this session show the new decision without a reload.
        changed = {row["id"]: row for row in self.tasks}
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Task) and obj.id in changed:
                for key in (*DECIDED, "decision"):
                    set_committed_value(obj, key, changed[obj.id][key])


def _decide_and_store(
    session: Session,
    now: datetime,
    book: RuleBook,
    selected: Select[tuple[int]],
    actor: str,
    reason: str | None,
) -> EvaluationReport:
    """Decide the selected open tasks with the pure engine; write what changed in batches."""
    report = EvaluationReport()
    query = select(*TASK_FACTS).where(Task.id.in_(selected)).order_by(Task.id)
    few = session.execute(query.limit(FEW + 1)).all()
    if not few:
        return report
    # A few tasks (a read at `now`, one command): only their reference rows; else all of
    # them, and the task rows streamed.
    small = len(few) <= FEW
    rows: Any = few if small else session.execute(query)
    snaps = Snapshots(session, selected, few if small else None)
    base = build_world(session, now, WorkCalendar())
    by_days: dict[tuple[str, ...], World] = {}
    worlds: dict[int, World] = {}
    writes = _Writes()
    for task in rows:
        if task.programme_id not in worlds:
            programme = snaps.programmes[task.programme_id]
            days = tuple(programme.non_working_days)
            if days not in by_days:
                by_days[days] = replace(base, calendar=programme_calendar(programme))
            worlds[task.programme_id] = by_days[days]
        decision = decide(snaps.of(task), worlds[task.programme_id], book)
        if _record_pauses(snaps, writes, task.id, decision, now):
            # A pause just ended: decide again so the due-date shift applies at once.
            decision = decide(snaps.of(task), worlds[task.programme_id], book)
        report.evaluated += 1
        change = _change(task, decision)
        if not change and _reasons(task.decision) != _decision_reasons(decision):
            # Same outcome, other reasons (e.g. absent now, where it was escalation before).
            writes.tasks.append(
                {
                    "id": task.id,
                    **_decided(task, None),
                    "decision": decision_json(decision, stored=True),
                }
            )
        if change:
            report.changes.append(change)
            writes.tasks.append(
                {
                    "id": task.id,
                    **_decided(task, change),
                    "decision": decision_json(decision, stored=True),
                }
            )
            writes.audit.append(
                audit.entry_values(
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
            )
    writes.send(session)
    return report


@dataclass
class _Period:
    id: int | None
    task_id: int
    crisis_id: int
    since: date
    until: date | None


def _record_pauses(
    snaps: Snapshots, writes: _Writes, task_id: int, decision: Decision, now: datetime
) -> bool:
    """Open a pause period per crisis that pauses the task now; close the others. Returns
    whether a period was closed."""
    today = local_date(now)
    closed = False
    paused_by = decision.paused_by
    rule_id = next((s.rule_id for s in decision.steps if s.table == "pause"), None)
    periods = snaps.pauses[task_id]
    for pause in periods:
        if pause.until is None and pause.crisis_id not in paused_by:
            crisis = snaps.crises[pause.crisis_id]
            ended = crisis.ended_at is not None and crisis.ended_at <= now
            pause.until = max(pause.since, local_date(crisis.ended_at) if ended else today)
            writes.closed.append({"id": pause.id, "until": pause.until})
            closed = True
    open_crises = {p.crisis_id for p in periods if p.until is None}
    for crisis_id in paused_by:
        if crisis_id not in open_crises:
            periods.append(_Period(None, task_id, crisis_id, today, None))
            writes.opened.append(
                {
                    "task_id": task_id,
                    "crisis_id": crisis_id,
                    "since": today,
                    "until": None,
                    "rule_id": rule_id,
                }
            )
    return closed


def _change(task: Any, decision: Decision) -> Change | None:
    """The decided fields that differ from the stored ones (`task`: a Task or a row)."""
    responsible_id = task.backup_id if decision.responsible == "backup" else task.owner_id
    wanted = {
        "tier": decision.tier,
        "paused": decision.paused,
        "responsible_id": responsible_id,
        "due_date": decision.due_date,
        "flags": list(decision.flags),
    }
    before = {k: getattr(task, k) for k, v in wanted.items() if getattr(task, k) != v}
    if not before:
        return None
    return Change(task.id, before, {k: wanted[k] for k in before}, decision.rule_ids)


def _decided(task: Any, change: Change | None) -> dict[str, Any]:
    after = change.after if change else {}
    return {key: after.get(key, getattr(task, key)) for key in DECIDED}


def _decision_reasons(decision: Decision) -> tuple[Any, ...]:
    return tuple((s.rule_id, s.version) for s in decision.steps if s.table not in STORED_ELSEWHERE)


def _reasons(explanation: dict[str, Any] | None) -> tuple[Any, ...]:
    """What a stored explanation says, apart from the fact values that change every day."""
    steps = (explanation or {}).get("steps", [])
    return tuple((s["rule_id"], s["version"]) for s in steps if s["table"] not in STORED_ELSEWHERE)
