"""Pausing and resuming the bulk of a crisis's work in a few SQL statements.

Most work a crisis touches is plain: not paused yet, nobody stood in for the owner, no signal,
no council deadline within the crisis, owner and backup not on crisis duty themselves. For
such a task a crisis changes one thing: the pause table pauses it (and at the end, its due
date moves by the working days it lay still). Where the rule files allow this to be known
without deciding task by task (`fast_path`), those tasks are paused and resumed here,
set-based, with an audit entry each (the engine's rule ids and reasons); the pure engine
decides every other touched task. What a fact, the crisis scope, the statutory guard and the
due-date shift are comes from rules.facts and rules.engine, not from here; and
tests/test_setbased_matches_engine.py holds both paths to the same decisions and reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    exists,
    false,
    insert,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from veiligheid_flow.audit import service as audit_service
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis.models import Crisis, TaskPause
from veiligheid_flow.programme.models import CouncilItem, Programme
from veiligheid_flow.rules.conditions import (
    All,
    AnyOf,
    Compare,
    Condition,
    Not,
    compares,
    facts_of,
    partial,
)
from veiligheid_flow.rules.engine import shifted_due
from veiligheid_flow.rules.facts import NEVER_PAUSED, REGISTRY
from veiligheid_flow.rules.service import OPEN, RULES_ACTOR, build_world, crisis_facts
from veiligheid_flow.rules.tables import Rule, RuleBook
from veiligheid_flow.rules.window import DUE_FACTS, _first, thresholds
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

# The facts a pause rule may read for the set-based path: those with a SQL form (facts.REGISTRY).
SQL_FACTS: dict[str, Callable[[], ColumnElement[Any]]] = {
    name: fact.sql for name, fact in REGISTRY.items() if fact.sql is not None
}


def to_sql(cond: Condition) -> ColumnElement[bool] | None:
    """The condition as a SQL filter, or None when it reads a fact SQL_FACTS lacks."""
    if isinstance(cond, All | AnyOf):
        parts = [to_sql(c) for c in (cond.all if isinstance(cond, All) else cond.any)]
        if any(p is None for p in parts):
            return None
        return and_(*parts) if isinstance(cond, All) else or_(*parts)  # type: ignore[arg-type]
    if isinstance(cond, Not):
        inner = to_sql(cond.not_)
        return None if inner is None else not_(inner)
    if cond.fact not in SQL_FACTS:
        return None
    column, value = SQL_FACTS[cond.fact](), cond.value
    if isinstance(value, bool) and cond.op in ("eq", "ne"):
        matches = column if value else not_(column)
        return matches if cond.op == "eq" else not_(matches)
    return {
        "eq": lambda: column == value,
        "ne": lambda: column != value,
        "lt": lambda: column < value,
        "le": lambda: column <= value,
        "gt": lambda: column > value,
        "ge": lambda: column >= value,
        "in": lambda: column.in_(value),
        "not_in": lambda: column.not_in(value),
    }[cond.op]()


def pause_plan(book: RuleBook) -> list[tuple[Rule, ColumnElement[bool]]] | None:
    """Per pause rule that pauses: the SQL filter of the tasks it decides first (rules are
    tried in order). None when a pause rule cannot be written as SQL."""
    plan, earlier = [], []
    for rule in book.tables.get("pause", []):
        condition = to_sql(rule.when)
        if condition is None:
            return None
        if rule.then.get("pause"):
            plan.append((rule, and_(condition, *[not_(e) for e in earlier])))
        earlier.append(condition)
    return plan


def fast_path(book: RuleBook) -> bool:
    """Whether a plain task's other decisions cannot change when it is paused or resumed:
    the other tables read `decision.paused` only as 'not paused' (so pausing can only switch
    rules off), such a rule hands work to the backup or sets a signal (which a plain task
    has not), and none reads a crisis fact."""
    if pause_plan(book) is None:
        return False
    for table in ("priority", "responsibility", "flags"):
        for rule in book.tables.get(table, []):
            facts = [c.fact for c in compares(rule.when)]
            # (council_item.deadline_in_crisis is no concern: a plain task's deadline lies
            # outside the crisis)
            if any(f.startswith("crisis.") for f in facts):
                return False
            if "decision.paused" not in facts:
                continue
            conjuncts = rule.when.all if isinstance(rule.when, All) else [rule.when]
            direct = [
                c for c in conjuncts if isinstance(c, Compare) and c.fact == "decision.paused"
            ]
            if facts.count("decision.paused") != len(direct) or any(
                c.op != "eq" or c.value is not False for c in direct
            ):
                return False
            if table == "responsibility" and rule.then.get("responsible") != "backup":
                return False
    return True


def _plain(
    crisis: Crisis, *, paused: bool = False, today: date | None = None
) -> ColumnElement[bool]:
    """Open tasks whose decision a crisis changes only by pausing (or, `paused`, resuming)
    them (see the module). Pausing from `today`: only work not yet due, so that
    `task.late_before_crisis` (due before the pause began) stays false for it, also on a
    weekend, when a task due on Friday carries no 'te laat' signal yet."""
    facts = crisis_facts(crisis)
    staff = facts.staff_ids()
    on_duty = [Task.owner_id.not_in(staff), Task.backup_id.not_in(staff)] if facts.staff else []
    not_due = [Task.due_date >= today] if today is not None else []
    return and_(
        *not_due,
        Task.status.in_(OPEN),
        Task.paused.is_(paused),
        not_(NEVER_PAUSED.sql()),
        _council_clear_of(crisis),
        Task.responsible_id == Task.owner_id,
        cast(Task.flags, String) == "[]",
        *on_duty,
    )


def _council_clear_of(crisis: Crisis) -> ColumnElement[bool]:
    """No council item, or one whose submission deadline lies outside the crisis's expected
    span (so `council_item.deadline_in_crisis` stays as it was)."""
    inside = crisis_facts(crisis).covers_sql(CouncilItem.submission_deadline)
    clear = select(CouncilItem.id).where(not_(inside))
    return or_(Task.council_item_id.is_(None), Task.council_item_id.in_(clear))


@dataclass
class Bulk:
    """What the set-based path does: the tasks it decides (a filter, to leave them out of the
    engine's turn), its changes (for the notices and the CLI) and the writes still to make
    (`finish`, after the engine has selected its tasks)."""

    done: ColumnElement[bool]
    changes: list[tuple[int, dict[str, Any], dict[str, Any], list[str]]]
    finish: Callable[[], None] = lambda: None


def pause(session: Session, crisis: Crisis, book: RuleBook, now: datetime) -> Bulk:
    """Pause the crisis's plain tasks: a pause period, the flag on the task, an audit entry."""
    plan = pause_plan(book) or []
    today = local_date(now)
    shift = book.settings.crisis_shift
    plain = and_(_plain(crisis, today=today), or_(*crisis_facts(crisis).touching()))
    changes, audit = [], []
    for rule, condition in plan:
        chosen = select(Task.id).where(plain, condition)
        shifted = Task.due_date != Task.planned_due  # the engine's due-date step is there
        for task_id, decision, moved in session.execute(
            select(Task.id, Task.decision, shifted).where(Task.id.in_(chosen))
        ):
            steps = [(rule.id, rule.reason), *([(shift.rule_id, shift.reason)] if moved else [])]
            rule_ids, reason = _as_engine(decision, steps)
            before, after = {"paused": False}, {"paused": True}
            changes.append((task_id, before, after, rule_ids))
            audit.append(_audit_entry(now, task_id, before, after, reason, rule_ids))
        session.execute(
            insert(TaskPause).from_select(
                ["task_id", "crisis_id", "since", "rule_id"],
                select(
                    Task.id, literal(crisis.id, Integer), literal(today), literal(rule.id)
                ).where(Task.id.in_(chosen)),
            )
        )
    if audit:
        session.connection().execute(AuditEntry.__table__.insert(), audit)
    paused = select(TaskPause.task_id).where(TaskPause.crisis_id == crisis.id)
    session.execute(
        Task.__table__.update().where(Task.id.in_(paused)).values(paused=True),
    )
    return Bulk(Task.id.in_(paused), sorted(changes, key=lambda c: c[0]))


def _as_engine(
    decision: dict[str, Any] | None, steps: list[tuple[str, str]]
) -> tuple[list[str], str | None]:
    """The rule ids and audit reason the engine gives a plain task: its stored steps (which
    leave out pause and due-date steps) with `steps` (rule id, reason) after its priority."""
    stored = (decision or {}).get("steps", [])
    first = [s["rule_id"] for s in stored if s["table"] == "priority"]
    rest = [(s["rule_id"], s["reason"]) for s in stored if s["table"] != "priority"]
    rule_ids = [*first, *(rule_id for rule_id, _ in [*steps, *rest])]
    return rule_ids, "; ".join(reason for _, reason in [*steps, *rest]) or None


def _audit_entry(
    now: datetime,
    task_id: int,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str | None,
    rule_ids: list[str],
) -> dict[str, Any]:
    return audit_service.entry_values(
        at=now,
        actor=RULES_ACTOR,
        action="task.decision",
        object_type="task",
        object_id=task_id,
        before=before,
        after=after,
        reason=reason,
        rule_ids=rule_ids,
    )


def _available(session: Session, now: datetime) -> list[ColumnElement[bool]]:
    """Owner and backup available today (World.available_sql), as filters over Task rows."""
    world = build_world(session, now, WorkCalendar())
    return [world.available_sql(Task.owner_id), world.available_sql(Task.backup_id)]


def _resuming_switches_nothing_on(book: RuleBook) -> bool:
    """Whether no pause rule, and no rule that reads `decision.paused`, applies to a resumed
    plain task: not statutory, touched by no crisis, owner and backup available (`_available`),
    its due date beyond every due threshold (`resume` leaves the others to the engine).
    Resuming can switch such a rule on (pausing only off), and then the engine must decide."""
    beyond = max(thresholds(book).due) + 1
    known: dict[str, Any] = {"decision.paused": False, NEVER_PAUSED.fact: False}
    known |= {"crisis.in_scope": False, "crisis.max_grip": 0}
    known["council_item.deadline_in_crisis"] = False
    for role in ("owner", "backup"):
        known |= {f"{role}.absent": False, f"{role}.on_crisis_duty": False}
        known[f"{role}.available"] = True
    # working days to the due date: beyond every threshold; past it (max(0, -x)): 0
    known |= {name: beyond if sign > 0 else 0 for name, sign in DUE_FACTS.items()}
    assert set(known) <= set(REGISTRY)
    return all(
        partial(rule.when, known) is False
        for table, rules in book.tables.items()
        for rule in rules
        if table == "pause" or "decision.paused" in facts_of(rule.when)
    )


def resume(session: Session, crisis: Crisis, book: RuleBook, now: datetime) -> Bulk:
    """Resume the plain tasks of an ended crisis whose moved due date lies beyond every rule's
    threshold (and inside their programme): the period closed, the due date moved, audited."""
    assert crisis.ended_at is not None
    if not _resuming_switches_nothing_on(book):
        return Bulk(false(), [])
    ended = local_date(crisis.ended_at)
    today = local_date(now)
    # Tasks paused by this crisis only, once, and not moved before (NOT EXISTS: PostgreSQL
    # runs NOT IN over a large subquery row by row).
    other = aliased(TaskPause)
    others = exists().where(
        other.task_id == Task.id,
        (other.crisis_id != crisis.id) | other.until.is_not(None),
    )
    plain = and_(
        ~others,
        Task.due_date == Task.planned_due,
        _plain(crisis, paused=True),
        *_available(session, now),
    )
    open_here = and_(TaskPause.crisis_id == crisis.id, TaskPause.until.is_(None))
    candidates = and_(Task.id.in_(select(TaskPause.task_id).where(open_here)), plain)
    rows = session.execute(
        select(
            TaskPause.id,
            TaskPause.task_id,
            TaskPause.since,
            Task.planned_due,
            Task.decision,
            Programme,
        )
        .join(Task, Task.id == TaskPause.task_id)
        .join(Programme, Programme.id == Task.programme_id)
        .where(open_here, plain)
    ).all()
    shift = book.settings.crisis_shift
    beyond = max(thresholds(book).due)
    calendars: dict[tuple[str, ...], tuple[WorkCalendar, date]] = {}
    moved: dict[tuple[Any, ...], date] = {}
    periods, tasks, audit, changes, rejected = [], [], [], [], []
    for pid, task_id, since, planned, decision, programme in rows:
        key = tuple(programme.non_working_days)
        if key not in calendars:
            cal = WorkCalendar(date.fromisoformat(d) for d in programme.non_working_days)
            calendars[key] = (cal, _first(cal, today, beyond, strict=True))
        cal, safe_from = calendars[key]
        until = max(since, ended)
        mkey = (key, since, until, planned)
        if mkey not in moved:
            moved[mkey], _ = shifted_due(shift, cal, planned, [(since, until)])
        due = moved[mkey]
        if planned < safe_from or due > programme.end:
            rejected.append(task_id)  # near a threshold or past the programme: the engine's
            continue
        periods.append({"_id": pid, "until": until})
        tasks.append({"_id": task_id, "due_date": due})
        before, after = {"paused": True}, {"paused": False}
        if due != planned:
            before["due_date"], after["due_date"] = planned, due
        rule_ids, reason = _as_engine(
            decision, [(shift.rule_id, shift.reason)] if due != planned else []
        )
        changes.append((task_id, before, after, rule_ids))
        audit.append(_audit_entry(now, task_id, before, after, reason, rule_ids))
    if len(rejected) > 20_000:  # (an IN list this long is not worth it: the engine does all)
        return Bulk(false(), [])
    pause_table, task_table = TaskPause.__table__, Task.__table__
    writes = (
        (
            pause_table.update()
            .where(pause_table.c.id == bindparam("_id"))
            .values(until=bindparam("until")),
            periods,
        ),
        (
            task_table.update()
            .where(task_table.c.id == bindparam("_id"))
            .values(paused=False, due_date=bindparam("due_date")),
            tasks,
        ),
        (AuditEntry.__table__.insert(), audit),
    )

    def finish() -> None:
        for statement, params in writes:
            if params:
                session.connection().execute(statement, params)

    return Bulk(and_(candidates, Task.id.not_in(rejected)), changes, finish)
