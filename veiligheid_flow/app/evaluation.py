"""The evaluation of a programme period (issue 13): what was planned and done, on time or
late, the statutory cases and their legal terms, the council items, the escalations, the
crises, the staff load and the budget. Read from the audit trail as it stood at `now`, so it
can be made for any past moment; a plain read (nothing is evaluated, nothing written).

Counting conventions (the report says them too):
- an *activity* is a task of the programme file (statutory cases are counted apart); a task
  that is cancelled at `now` is not counted as planned;
- the *deadline* of a task is the due date in force (moved after a crisis by the rules): for a
  task that is done, the one in force when it was reported done;
- *late* means done (or, open, still not done) at least one working day after that deadline,
  in working days of the programme's calendar (the rules' `task.overdue_working_days`);
- an *escalation* is a decision of a responsibility rule that reads lateness and hands the
  task to the backup (`RuleBook.escalation_rule_ids`, as the mail does);
- a *council item* is delivered when every task linked to it is done, on the day the last one
  was; on time when that is on or before its submission deadline;
- the *staff load* of a quarter is the hours of the tasks due in it, of the person responsible
  for them at `now`, against hours per week / 5 per working day of the quarter within the
  programme period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from veiligheid_flow.app.budget import BudgetView, budget
from veiligheid_flow.app.reading import read_only, refuse_unseen, visible
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import Actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date, local_datetime
from veiligheid_flow.crisis.models import Crisis, TaskPause
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.programme.models import CouncilItem, Person, Programme, Theme
from veiligheid_flow.rules.service import programme_calendar
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

# Working days late, grouped: (from, to) both inclusive, None: no upper bound.
DELAY_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (1, 1),
    (2, 5),
    (6, 10),
    (11, 20),
    (21, 40),
    (41, None),
)


def bucket_label(low: int, high: int | None) -> str:
    if high is None:
        return f"meer dan {low - 1}"
    return "1" if low == high == 1 else f"{low}–{high}"


def bucket_of(days: int) -> int:
    """The index in DELAY_BUCKETS of `days` (≥ 1) working days late."""
    for index, (low, high) in enumerate(DELAY_BUCKETS):
        if days >= low and (high is None or days <= high):
            return index
    raise ValueError(f"{days} werkdagen is niet te laat")


# --- the views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """The activities of a theme (or of the whole programme) at `now`."""

    planned: int = 0  # not cancelled
    due: int = 0  # deadline up to and including today
    done: int = 0
    on_time: int = 0
    late: int = 0  # done, after the deadline
    overdue: int = 0  # open, past the deadline, not paused
    paused: int = 0  # open and paused by a crisis
    cancelled: int = 0
    delays: tuple[int, ...] = ()  # working days late of each task done late (sorted)
    overdue_days: tuple[int, ...] = ()  # working days over, of each open overdue task

    @property
    def open(self) -> int:
        return self.planned - self.done

    @property
    def waiting(self) -> int:
        """Open and not (yet) late: not due, or paused."""
        return self.open - self.overdue

    def distribution(self) -> tuple[tuple[str, int, int], ...]:
        """Per DELAY_BUCKETS: (label, done late, open and late)."""
        done = [0] * len(DELAY_BUCKETS)
        still = [0] * len(DELAY_BUCKETS)
        for days in self.delays:
            done[bucket_of(days)] += 1
        for days in self.overdue_days:
            still[bucket_of(days)] += 1
        return tuple(
            (bucket_label(*b), d, s) for b, d, s in zip(DELAY_BUCKETS, done, still, strict=True)
        )


@dataclass(frozen=True)
class Counts:
    """Cases or council items by outcome."""

    total: int = 0
    met: int = 0  # term met / delivered on time
    missed: int = 0  # term exceeded / delivered late
    failed: int = 0  # council items: not delivered while the deadline passed
    running: int = 0  # term still running / deadline still ahead


@dataclass(frozen=True)
class ThemeEvaluation:
    code: str  # "" for the whole programme
    name: str
    holders: tuple[str, ...]  # "name (title)": public officials
    progress: Progress
    cases: Counts
    council: Counts
    escalations: int
    paused_tasks: int  # tasks a crisis paused at some time up to today
    budget_planned: Decimal = Decimal(0)
    budget_realised: Decimal = Decimal(0)


@dataclass(frozen=True)
class CaseRow:
    task_id: int
    title: str
    theme_code: str
    case_type: str
    legal_basis: str
    event_day: date
    deadline: date
    done_on: date | None
    state: str  # "gehaald", "overschreden", "loopt", "vervallen"
    late_by: int  # working days past the term (0 when met or running)

    @property
    def met(self) -> bool | None:
        return {"gehaald": True, "overschreden": False}.get(self.state)


@dataclass(frozen=True)
class CouncilRow:
    code: str
    subject: str
    type: str  # raadsinformatiebrief, raadsvoorstel, …
    holder: str
    committee: str
    committee_date: date
    council_date: date | None
    submission_deadline: date
    themes: tuple[str, ...]
    tasks: int
    done: int
    delivered_on: date | None
    state: str  # "op tijd", "te laat", "niet aangeleverd", "nog niet aan de orde", "geen taak"


@dataclass(frozen=True)
class EscalationRow:
    task_id: int
    title: str
    theme_code: str
    at: datetime  # local
    deadline: date | None
    to: str  # the backup's name


@dataclass(frozen=True)
class MoveRow:
    task_id: int
    title: str
    theme_code: str
    before: date
    after: date
    working_days: int


@dataclass(frozen=True)
class CrisisRow:
    id: int
    title: str
    grip: int
    declared_at: datetime  # local
    ended_at: datetime | None  # None: still going on at `now`
    working_days: int  # from its first day up to its end (or today), both included
    themes: tuple[str, ...]
    tasks_paused: int
    pause_working_days: int  # summed over the paused tasks
    paused_hours: float  # the planned hours of the tasks it paused
    moves: tuple[MoveRow, ...]

    @property
    def moved_working_days(self) -> int:
        return sum(m.working_days for m in self.moves)


@dataclass(frozen=True)
class LoadRow:
    person: str
    quarter: str  # "2023-K4"
    load: float  # hours
    capacity: float

    @property
    def share(self) -> float:
        return self.load / self.capacity if self.capacity else 0.0


@dataclass(frozen=True)
class BudgetRow:
    theme_code: str
    theme_name: str
    year: int
    planned: Decimal
    realised: Decimal


@dataclass(frozen=True)
class Evaluation:
    programme: str
    programme_name: str
    municipality: str
    municipality_code: str
    start: date
    end: date
    now: datetime  # local
    today: date
    themes: tuple[ThemeEvaluation, ...]
    total: ThemeEvaluation
    cases: tuple[CaseRow, ...]
    council: tuple[CouncilRow, ...]
    escalations: tuple[EscalationRow, ...]
    crises: tuple[CrisisRow, ...]
    quarters: tuple[str, ...]
    load: tuple[LoadRow, ...]
    budget: tuple[BudgetRow, ...]

    def quarter_totals(self) -> tuple[tuple[str, float, float], ...]:
        """(quarter, load, capacity) over all people."""
        load: dict[str, float] = defaultdict(float)
        capacity: dict[str, float] = defaultdict(float)
        for row in self.load:
            load[row.quarter] += row.load
            capacity[row.quarter] += row.capacity
        return tuple((q, round(load[q], 1), round(capacity[q], 1)) for q in self.quarters)


# --- the query ---------------------------------------------------------------------------------


def evaluation(
    app: App, *, now: datetime, programme: str | None = None, actor: Actor | None = None
) -> Evaluation:
    """The evaluation of one programme (its code; without one: the only programme the reader
    sees) as the audit trail stood at `now`."""
    with evaluating(app, now=now, programme=programme, actor=actor) as (evaluator, money):
        return evaluator.run(money)


@contextmanager
def evaluating(
    app: App, *, now: datetime, programme: str | None, actor: Actor | None
) -> Iterator[tuple[Evaluator, tuple[BudgetView, ...]]]:
    """The Evaluator of the chosen programme inside a plain read, and the budget at `now`."""
    with read_only(app) as session:
        found = choose_programme(session, programme, actor)
        chosen, code = found.id, found.municipality_code
    money = budget(app, now=now, actor=actor, municipality=code)
    with read_only(app) as session:
        yield Evaluator(session, session.get_one(Programme, chosen), now, app.rulebook()), money


def choose_programme(session: Session, code: str | None, actor: Actor | None) -> Programme:
    """The programme `code` names (refused outside the reader's municipalities), or the only
    one the reader sees."""
    if code:
        found = session.scalar(select(Programme).where(Programme.code == code))
        if found is None:
            known = ", ".join(session.scalars(select(Programme.code).order_by(Programme.code)))
            raise NotFound(f"programma '{code}' is niet geladen (geladen: {known or 'geen'})")
        refuse_unseen(actor, (found.municipality_code,), f"programma {code}")
        return found
    codes = visible(session, actor, None)
    query = select(Programme).order_by(Programme.start, Programme.code)
    if codes is not None:
        query = query.where(Programme.municipality_code.in_(codes))
    rows = list(session.scalars(query))
    if not rows:
        raise DomainError("er is geen programma geladen")
    if len(rows) > 1:
        names = ", ".join(p.code for p in rows)
        raise DomainError(
            f"er zijn meer programma's geladen: kies er één met --programme ({names})"
        )
    return rows[0]


@dataclass
class TaskState:
    """One task as the audit trail says it was at `now`."""

    id: int
    theme_id: int
    activity_id: int
    title: str
    backup_id: int
    council_item_id: int | None
    effort_hours: float
    legal_basis: str | None
    case: dict[str, Any] | None = None  # case.open's after: case, event_day, due
    status: str = "open"
    planned_due: date | None = None
    due: date | None = None
    paused: bool = False
    responsible_id: int | None = None
    done_at: datetime | None = None
    due_when_done: date | None = None
    history: list[AuditEntry] = field(default_factory=list)

    @property
    def deadline(self) -> date:
        """The due date in force: when it was reported done, or (open) now."""
        day = self.due_when_done if self.status == "done" else self.due
        assert day is not None, f"taak {self.id} heeft geen deadline in het logboek"
        return day


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def quarter_of(day: date) -> str:
    return f"{day.year}-K{(day.month - 1) // 3 + 1}"


def quarters_between(start: date, end: date) -> tuple[str, ...]:
    found: list[str] = []
    day = date(start.year, 3 * ((start.month - 1) // 3) + 1, 1)
    while day <= end:
        found.append(quarter_of(day))
        day = date(day.year + (day.month + 3 > 12), (day.month + 2) % 12 + 1, 1)
    return tuple(found)


def quarter_range(label: str) -> tuple[date, date]:
    """First and last day of "2024-K3" (or "2024-Q3")."""
    year, part = label.replace("Q", "K").split("-K")
    first = date(int(year), 3 * (int(part) - 1) + 1, 1)
    following = date(first.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    return first, following - timedelta(days=1)


class Evaluator:
    """The tasks of one programme replayed from the audit trail up to `now`, and the parts of
    the evaluation computed from them (the publication and the quarterly report use it too)."""

    def __init__(self, session: Session, programme: Programme, now: datetime, book: RuleBook):
        self.session, self.programme, self.now = session, programme, now
        self.today = local_date(now)
        self.calendar: WorkCalendar = programme_calendar(programme)
        self.escalating = book.escalation_rule_ids()
        self.shift_rule = book.settings.crisis_shift.rule_id
        self.tasks = self._replay()
        self._pauses: list[TaskPause] | None = None
        with_tasks = {t.theme_id for t in self.tasks.values()}
        self.themes = [
            t
            for t in session.scalars(
                select(Theme).where(Theme.programme_id == programme.id).order_by(Theme.id)
            )
            if t.active or t.id in with_tasks
        ]
        self.theme_code = {t.id: t.code for t in self.themes}
        self.people = {
            p.id: p
            for p in session.scalars(select(Person).where(Person.programme_id == programme.id))
        }

    # -- the audit trail, replayed --

    def _replay(self) -> dict[int, TaskState]:
        rows = self.session.execute(
            select(
                Task.id,
                Task.theme_id,
                Task.activity_id,
                Task.title,
                Task.backup_id,
                Task.council_item_id,
                Task.effort_hours,
                Task.legal_basis,
            ).where(Task.programme_id == self.programme.id)
        )
        known = {r.id: TaskState(*r) for r in rows}
        ids = select(cast(Task.id, String)).where(Task.programme_id == self.programme.id)
        entries = self.session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == "task",
                AuditEntry.object_id.in_(ids),
                AuditEntry.at <= self.now,
            )
            .order_by(AuditEntry.id)
        )
        found: dict[int, TaskState] = {}
        for entry in entries:
            task = known.get(int(entry.object_id))
            if task is None:
                continue
            if entry.action in ("task.create", "case.open"):
                found[task.id] = task
            if task.id in found:
                _apply(task, entry)
        return found

    def run(self, money: Iterable[BudgetView]) -> Evaluation:
        tasks = list(self.tasks.values())
        activities = [t for t in tasks if t.case is None]
        cases = [self._case(t) for t in sorted(tasks, key=lambda t: t.id) if t.case is not None]
        council = self.council_rows()
        escalations = self.escalation_rows()
        crises = self.crisis_rows()
        pauses = self._paused_tasks()
        budget = self.budget(money)
        themes = []
        for theme in self.themes:
            mine = [t for t in activities if t.theme_id == theme.id]
            themes.append(
                ThemeEvaluation(
                    code=theme.code,
                    name=theme.name,
                    holders=tuple(f"{h.name} ({h.title})" for h in theme.holders),
                    progress=self.progress(mine),
                    cases=_case_counts([c for c in cases if c.theme_code == theme.code]),
                    council=_council_counts([c for c in council if theme.code in c.themes]),
                    escalations=sum(1 for e in escalations if e.theme_code == theme.code),
                    paused_tasks=len({i for i in pauses if self._theme_of(i) == theme.code}),
                    **_budget_sums([b for b in budget if b.theme_code == theme.code]),
                )
            )
        total = ThemeEvaluation(
            code="",
            name="Hele programma",
            holders=(),
            progress=self.progress(activities),
            cases=_case_counts(cases),
            council=_council_counts(council),
            escalations=len(escalations),
            paused_tasks=len(pauses),
            **_budget_sums(budget),
        )
        quarters = quarters_between(self.programme.start, self.programme.end)
        return Evaluation(
            programme=self.programme.code,
            programme_name=self.programme.name,
            municipality=self.programme.municipality,
            municipality_code=self.programme.municipality_code,
            start=self.programme.start,
            end=self.programme.end,
            now=local_datetime(self.now),
            today=self.today,
            themes=tuple(themes),
            total=total,
            cases=tuple(cases),
            council=tuple(council),
            escalations=tuple(escalations),
            crises=tuple(crises),
            quarters=quarters,
            load=self._load(tasks, quarters),
            budget=tuple(budget),
        )

    def _theme_of(self, task_id: int) -> str:
        return self.theme_code[self.tasks[task_id].theme_id]

    def late_by(self, deadline: date, day: date) -> int:
        return max(0, self.calendar.working_days_between(deadline, day))

    # -- the parts --

    def progress(self, tasks: Iterable[TaskState]) -> Progress:
        counts: dict[str, int] = defaultdict(int)
        delays: list[int] = []
        over: list[int] = []
        for task in tasks:
            if task.status == "cancelled":
                counts["cancelled"] += 1
                continue
            counts["planned"] += 1
            deadline = task.deadline
            if deadline <= self.today:
                counts["due"] += 1
            if task.status == "done":
                assert task.done_at is not None
                counts["done"] += 1
                late = self.late_by(deadline, local_date(task.done_at))
                counts["late" if late else "on_time"] += 1
                if late:
                    delays.append(late)
            elif task.paused:
                counts["paused"] += 1
            elif late := self.late_by(deadline, self.today):
                counts["overdue"] += 1
                over.append(late)
        return Progress(**counts, delays=tuple(sorted(delays)), overdue_days=tuple(sorted(over)))

    def _case(self, task: TaskState) -> CaseRow:
        assert task.case is not None
        deadline = _day(task.case["due"])
        assert deadline is not None
        done_on = local_date(task.done_at) if task.status == "done" and task.done_at else None
        if task.status == "cancelled":
            state, late = "vervallen", 0
        elif done_on is not None:
            late = self.late_by(deadline, done_on)
            state = "overschreden" if done_on > deadline else "gehaald"
        else:
            late = self.late_by(deadline, self.today)
            state = "overschreden" if self.today > deadline else "loopt"
        return CaseRow(
            task_id=task.id,
            title=task.title,
            theme_code=self.theme_code[task.theme_id],
            case_type=str(task.case["case"]),
            legal_basis=task.legal_basis or "",
            event_day=_day(task.case["event_day"]) or deadline,
            deadline=deadline,
            done_on=done_on,
            state=state,
            late_by=late,
        )

    def council_rows(self) -> list[CouncilRow]:
        items = list(
            self.session.scalars(
                select(CouncilItem)
                .where(CouncilItem.programme_id == self.programme.id)
                .order_by(CouncilItem.submission_deadline, CouncilItem.id)
            )
        )
        deadlines = self._item_deadlines()
        rows = []
        for item in items:
            linked = [
                t
                for t in self.tasks.values()
                if t.council_item_id == item.id and t.status != "cancelled"
            ]
            if not item.active and not linked:
                continue
            deadline = deadlines.get(item.id, item.submission_deadline)
            done = [t for t in linked if t.status == "done" and t.done_at]
            delivered = (
                max(local_date(t.done_at) for t in done if t.done_at)
                if linked and len(done) == len(linked)
                else None
            )
            if not linked:
                state = "geen taak"
            elif delivered is not None:
                state = "op tijd" if delivered <= deadline else "te laat"
            elif deadline < self.today:
                state = "niet aangeleverd"
            else:
                state = "nog niet aan de orde"
            rows.append(
                CouncilRow(
                    code=item.code,
                    subject=item.subject,
                    type=item.type,
                    holder=f"{item.holder.name} ({item.holder.title})",
                    committee=item.committee,
                    committee_date=item.committee_date,
                    council_date=item.council_date,
                    submission_deadline=deadline,
                    themes=tuple(sorted({self.theme_code[t.theme_id] for t in linked})),
                    tasks=len(linked),
                    done=len(done),
                    delivered_on=delivered,
                    state=state,
                )
            )
        return sorted(rows, key=lambda r: (r.submission_deadline, r.code))

    def _item_deadlines(self) -> dict[int, date]:
        """Each council item's submission deadline as the audit trail had it at `now`."""
        ids = select(cast(CouncilItem.id, String)).where(
            CouncilItem.programme_id == self.programme.id
        )
        found: dict[int, date] = {}
        for object_id, after in self.session.execute(
            select(AuditEntry.object_id, AuditEntry.after)
            .where(
                AuditEntry.object_type == "council_item",
                AuditEntry.object_id.in_(ids),
                AuditEntry.at <= self.now,
            )
            .order_by(AuditEntry.id)
        ):
            day = _day((after or {}).get("submission_deadline"))
            if day is not None:
                found[int(object_id)] = day
        return found

    def escalation_rows(self) -> list[EscalationRow]:
        rows = []
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            for entry in task.history:
                after = entry.after or {}
                if (
                    entry.action == "task.decision"
                    and "responsible_id" in after
                    and self.escalating.intersection(entry.rule_ids or ())
                ):
                    backup = self.people.get(after["responsible_id"])
                    rows.append(
                        EscalationRow(
                            task_id=task.id,
                            title=task.title,
                            theme_code=self.theme_code[task.theme_id],
                            at=local_datetime(entry.at),
                            deadline=_due_at(task, entry),
                            to=backup.name if backup else str(after["responsible_id"]),
                        )
                    )
        return sorted(rows, key=lambda r: (r.at, r.task_id))

    def pauses(self) -> list[TaskPause]:
        """The pause periods of this programme's tasks that began up to today."""
        if self._pauses is None:
            self._pauses = list(
                self.session.scalars(
                    select(TaskPause)
                    .join(Task, Task.id == TaskPause.task_id)
                    .where(Task.programme_id == self.programme.id, TaskPause.since <= self.today)
                    .order_by(TaskPause.id)
                )
            )
            self._pauses = [p for p in self._pauses if p.task_id in self.tasks]
        return self._pauses

    def pauses_of(self, task_id: int) -> list[TaskPause]:
        return [p for p in self.pauses() if p.task_id == task_id]

    def _paused_tasks(self) -> set[int]:
        return {p.task_id for p in self.pauses()}

    def crisis_rows(self) -> list[CrisisRow]:
        pauses = self.pauses()
        of_crisis: dict[int, list[TaskPause]] = defaultdict(list)
        for pause in pauses:
            of_crisis[pause.crisis_id].append(pause)
        code = self.programme.municipality_code
        crises = [
            c
            for c in self.session.scalars(
                select(Crisis).where(Crisis.declared_at <= self.now).order_by(Crisis.declared_at)
            )
            if c.id in of_crisis or not c.municipalities or code in c.municipalities
        ]
        ended = {c.id: c.ended_at for c in crises if c.ended_at and c.ended_at <= self.now}
        moves = self._moves(pauses, ended)
        rows = []
        for crisis in crises:
            first = local_date(crisis.declared_at)
            last = local_date(ended[crisis.id]) if crisis.id in ended else self.today
            mine = of_crisis.get(crisis.id, [])
            paused_days = sum(
                self.calendar.working_days_between(
                    p.since - timedelta(days=1), min(p.until or self.today, self.today)
                )
                for p in mine
            )
            task_ids = {p.task_id for p in mine}
            rows.append(
                CrisisRow(
                    id=crisis.id,
                    title=crisis.title,
                    grip=crisis.grip,
                    declared_at=local_datetime(crisis.declared_at),
                    ended_at=local_datetime(ended[crisis.id]) if crisis.id in ended else None,
                    working_days=self.calendar.working_days_between(
                        first - timedelta(days=1), last
                    ),
                    themes=tuple(crisis.themes or ()),
                    tasks_paused=len(task_ids),
                    pause_working_days=paused_days,
                    paused_hours=round(sum(self.tasks[i].effort_hours for i in task_ids), 1),
                    moves=tuple(moves.get(crisis.id, ())),
                )
            )
        return rows

    def _moves(
        self, pauses: list[TaskPause], ended: dict[int, datetime]
    ) -> dict[int, list[MoveRow]]:
        """Due dates the crisis shift moved, each given to the crisis (among those that paused
        the task) that ended last at or before the move."""
        crises_of: dict[int, set[int]] = defaultdict(set)
        for pause in pauses:
            crises_of[pause.task_id].add(pause.crisis_id)
        moves: dict[int, list[MoveRow]] = defaultdict(list)
        for task in sorted(self.tasks.values(), key=lambda t: t.id):
            for entry in task.history:
                before, after = entry.before or {}, entry.after or {}
                if entry.action != "task.decision" or "due_date" not in after:
                    continue
                candidates = [
                    (ended[c], c) for c in crises_of[task.id] if c in ended and ended[c] <= entry.at
                ]
                if not candidates:
                    continue
                old, new = _day(before.get("due_date")), _day(after["due_date"])
                assert old is not None and new is not None
                moves[max(candidates)[1]].append(
                    MoveRow(
                        task_id=task.id,
                        title=task.title,
                        theme_code=self.theme_code[task.theme_id],
                        before=old,
                        after=new,
                        working_days=self.calendar.working_days_between(old, new),
                    )
                )
        return moves

    def _load(self, tasks: list[TaskState], quarters: tuple[str, ...]) -> tuple[LoadRow, ...]:
        hours: dict[tuple[int, str], float] = defaultdict(float)
        for task in tasks:
            if task.status == "cancelled" or task.responsible_id is None:
                continue
            deadline = task.deadline
            hours[(task.responsible_id, quarter_of(deadline))] += task.effort_hours
        start, end = self.programme.start, self.programme.end
        rows = []
        for person in sorted(self.people.values(), key=lambda p: (p.name, p.id)):
            for quarter in quarters:
                first, last = quarter_range(quarter)
                first, last = max(first, start), min(last, end)
                days = self.calendar.working_days_between(first - timedelta(days=1), last)
                load = hours.get((person.id, quarter), 0.0)
                if person.left_at is not None and not load:
                    continue
                rows.append(
                    LoadRow(
                        person.name,
                        quarter,
                        round(load, 1),
                        round(person.hours_per_week / 5 * days, 1),
                    )
                )
        return tuple(rows)

    def budget(self, money: Iterable[BudgetView]) -> list[BudgetRow]:
        """Planned and realised per theme and year of this programme (`app.budget`)."""
        codes = {t.code for t in self.themes}
        years = range(self.programme.start.year, self.programme.end.year + 1)
        rows = [
            BudgetRow(v.theme_code, v.theme_name, v.year, v.planned, v.realised)
            for v in money
            if v.municipality == self.programme.municipality_code
            and v.theme_code in codes
            and v.year in years
        ]
        return sorted(rows, key=lambda r: (r.year, r.theme_code))


def _apply(task: TaskState, entry: AuditEntry) -> None:
    """One audit entry's effect on the task."""
    after = entry.after or {}
    task.history.append(entry)
    if entry.action == "case.open":
        task.case = dict(after)
        task.planned_due = task.due = _day(after.get("due"))
        task.status = "open"
        return
    for key in ("planned_due", "due_date", "paused", "responsible_id", "effort_hours", "status"):
        if key in after:
            value = after[key]
            if key in ("planned_due", "due_date"):
                value = _day(value)
            setattr(task, "due" if key == "due_date" else key, value)
    if entry.action == "task.reassign":
        task.responsible_id = task.backup_id
    if entry.action == "task.done":
        task.done_at, task.due_when_done = entry.at, task.due


def _due_at(task: TaskState, entry: AuditEntry) -> date | None:
    """The due date in force once `entry` was written."""
    due = None
    for earlier in task.history:
        after = earlier.after or {}
        due = _day(after.get("due_date", after.get("due"))) or due
        if earlier is entry:
            break
    return due


def _case_counts(rows: list[CaseRow]) -> Counts:
    states = [r.state for r in rows if r.state != "vervallen"]
    return Counts(
        total=len(states),
        met=states.count("gehaald"),
        missed=states.count("overschreden"),
        running=states.count("loopt"),
    )


def _council_counts(rows: list[CouncilRow]) -> Counts:
    states = [r.state for r in rows if r.state != "geen taak"]
    return Counts(
        total=len(states),
        met=states.count("op tijd"),
        missed=states.count("te laat"),
        failed=states.count("niet aangeleverd"),
        running=states.count("nog niet aan de orde"),
    )


def _budget_sums(rows: list[BudgetRow]) -> dict[str, Decimal]:
    return {
        "budget_planned": sum((r.planned for r in rows), Decimal(0)),
        "budget_realised": sum((r.realised for r in rows), Decimal(0)),
    }
