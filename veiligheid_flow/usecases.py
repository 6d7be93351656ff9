"""Use cases: one unit of work each. The CLI, the scheduler and the Prefect flows call these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, or_, select
from sqlalchemy.orm import Session

from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import Actor, require_loader
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis import service as crisis_service
from veiligheid_flow.crisis.models import Absence, Crisis
from veiligheid_flow.mail import compose
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.programme.loader import LoadedProgramme, read_programme
from veiligheid_flow.programme.models import Activity, Person, Programme, Theme
from veiligheid_flow.programme.service import (
    LoadReport,
    check_municipality,
    load_programme,
    municipal_calendar,
    municipality_code,
)
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules import setbased
from veiligheid_flow.rules.engine import decide, facts_for
from veiligheid_flow.rules.forecast import PlannedTask, forecast
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.cases import open_case as open_case_service
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.tasks.views import task_dict


def validate(app: App, path: Path) -> LoadedProgramme:
    return read_programme(path, known_case_types=set(app.rulebook().cases))


@dataclass
class LoadResult:
    report: LoadReport
    decisions_changed: int
    municipality: str


def load(app: App, path: Path, *, now: datetime, actor: str | Actor) -> LoadResult:
    """Validate, load and evaluate the rules in one transaction; nothing changes on error.
    `actor`: a coordinator of the file's municipality (`authority.require_loader`) or SYSTEM."""
    book = app.rulebook()
    loaded = read_programme(path, known_case_types=set(book.cases))
    with app.unit_of_work() as session:
        who = require_loader(session, loaded.spec, actor)
        report = load_programme(loaded, session=session, now=now, actor=who.label)
        evaluation = rules_service.evaluate(
            session=session,
            now=now,
            book=book,
            # An unchanged file changes no task: only time may have moved decisions.
            scope=rules_service.programme_scope(session, report.programme_code)
            if report.changed
            else rules_service.NOTHING,
        )
    return LoadResult(report, len(evaluation.changes), municipality_code(loaded.spec.municipality))


def refresh(app: App, *, now: datetime) -> int:
    """Re-evaluate every open task at `now` (e.g. a new day); returns the number changed."""
    book = app.rulebook()
    with app.unit_of_work() as session:
        return len(rules_service.evaluate(session=session, now=now, book=book).changes)


@contextmanager
def view_at(app: App, *, now: datetime) -> Iterator[Session]:
    """A read at `now`: the decisions are brought to `now` inside a transaction that is rolled
    back, so a listing shows what is true then and stores nothing (also for a past `now`)."""
    book = app.rulebook()
    session = app.sessions()
    try:
        session.begin()
        rules_service.evaluate(session=session, now=now, book=book, backwards=True)
        yield session
    finally:
        session.rollback()
        session.close()


def week_tasks(
    session: Session, *, now: datetime, municipality: str | None = None
) -> tuple[date, list[Task]]:
    """Open work due in the current week (Mon–Sun, Europe/Amsterdam) and everything overdue,
    of one municipality or of all."""
    today = local_date(now)
    monday = today - timedelta(days=today.weekday())
    if municipality:
        check_municipality(session, municipality)
    tasks = task_service.list_tasks(
        session=session,
        filters=task_service.TaskFilter(
            due_before=monday + timedelta(days=7), municipality=municipality
        ),
    )
    return monday, tasks


def change_status(
    app: App,
    task_id: int,
    to: TaskStatus,
    *,
    by: str | Actor,
    now: datetime,
    note: str | None = None,
) -> Task:
    book = app.rulebook()
    with app.unit_of_work() as session:
        task = task_service.change_status(
            session=session, task_id=task_id, to=to, by=by, now=now, note=note
        )
        rules_service.evaluate(
            session=session,
            now=now,
            book=book,
            scope=rules_service.Scope(task_ids=frozenset({task_id})),
        )
    return task


def reassign(app: App, task_id: int, *, by: str | Actor, now: datetime, reason: str | None) -> Task:
    book = app.rulebook()
    with app.unit_of_work() as session:
        task = task_service.reassign_to_backup(
            session=session, task_id=task_id, by=by, now=now, reason=reason
        )
        rules_service.evaluate(
            session=session,
            now=now,
            book=book,
            scope=rules_service.Scope(task_ids=frozenset({task_id})),
        )
    return task


# --- rules: crises, absences, priorities, cases, explanations, forecast -------------------


@dataclass
class Impact:
    """What a rules-changing command did to the tasks: for the CLI and the crisis notices."""

    subject_id: int
    changes: list[rules_service.Change]
    dry_run: bool = False
    municipalities: list[str] = field(default_factory=list)
    # Per kind (paused, handed_over, council_at_risk): the first titles, for a preview.
    titles: dict[str, list[str]] = field(default_factory=dict)


IMPACT_KINDS = {
    "paused": lambda c: c.after.get("paused") is True,
    "handed_over": lambda c: "responsible_id" in c.after,
    "council_at_risk": lambda c: "council_at_risk" in (c.after.get("flags") or []),
}


def _titles(session: Session, changes: list[rules_service.Change], first: int = 3):  # type: ignore[no-untyped-def]
    ids = {kind: [c.task_id for c in changes if test(c)] for kind, test in IMPACT_KINDS.items()}
    wanted = sorted({i for chosen in ids.values() for i in chosen[:first]})
    names = dict(session.execute(select(Task.id, Task.title).where(Task.id.in_(wanted))).all())
    return {kind: [names[i] for i in chosen[:first]] for kind, chosen in ids.items()}


@contextmanager
def _transaction(app: App, dry_run: bool) -> Iterator[Session]:
    """The unit of work, or with `dry_run` a transaction that is always rolled back."""
    if not dry_run:
        with app.unit_of_work() as session:
            yield session
        return
    session = app.sessions()
    try:
        session.begin()
        yield session
    finally:
        session.rollback()
        session.close()


def _with_rules(  # type: ignore[no-untyped-def]
    app: App, now: datetime, action, crisis_event: str | None = None, dry_run: bool = False
):
    """Run `action`, re-evaluate the tasks it can touch and (for a crisis) queue the notices:
    one transaction. `action(session, book)` returns (subject, Scope). With `dry_run` the same
    runs in a transaction that is rolled back: the Impact says what would happen.

    The rules are brought up to `now` first, so the changes reported (and mailed) are the ones
    the action caused, not those the mere passing of time would have made anyway."""
    book = app.rulebook()
    with _transaction(app, dry_run) as session:
        rules_service.evaluate(session=session, now=now, book=book)
        subject, scope, *bulk = action(session, book)
        report = rules_service.evaluate(session=session, now=now, book=book, scope=scope)
        for done in bulk:
            done.finish()
        changes = [
            *(rules_service.Change(*c) for done in bulk for c in done.changes),
            *report.changes,
        ]
        subject_id = subject.id if subject is not None else 0
        impact = Impact(subject_id, changes, dry_run=dry_run)
        if crisis_event:
            impact.municipalities = list(subject.municipalities)
            impact.titles = _titles(session, changes)
        if crisis_event and not dry_run:
            drafts = compose.crisis_notices(
                session, now=now, crisis_id=subject_id, event=crisis_event, changes=changes
            )
            compose.enqueue(session, drafts, now=now)
    return impact


def _crisis_action(run, bulk=None):  # type: ignore[no-untyped-def]
    """A crisis command's action: the crisis and every task it could touch. With `bulk`
    (setbased.pause or .resume), the plain tasks are done set-based first, when the rule
    files allow it; the engine decides the rest."""

    def action(session, book):  # type: ignore[no-untyped-def]
        crisis = run(session, book)
        scope = rules_service.crisis_scope(crisis)
        if bulk is None or not setbased.fast_path(book):
            return crisis, scope
        done = bulk(session, crisis, book, now_of(crisis))
        return crisis, scope | rules_service.Scope(exclude=(done.done,)), done

    return action


def now_of(crisis):  # type: ignore[no-untyped-def]
    """The moment of the crisis event being handled: its end, or else its declaration."""
    return crisis.ended_at or crisis.declared_at


def _people_action(run):  # type: ignore[no-untyped-def]
    """An absence's action: every task its person owns or backs up."""

    def action(session, book):  # type: ignore[no-untyped-def]
        absence = run(session, book)
        return absence, rules_service.person_scope(session, absence.email)

    return action


def _new_task_action(run):  # type: ignore[no-untyped-def]
    def action(session, book):  # type: ignore[no-untyped-def]
        task = run(session, book)
        return task, rules_service.Scope(task_ids=frozenset({task.id}))

    return action


def _task_action(task_id: int, run):  # type: ignore[no-untyped-def]
    def action(session, book):  # type: ignore[no-untyped-def]
        return run(session, book), rules_service.Scope(task_ids=frozenset({task_id}))

    return action


def declare_crisis(
    app: App,
    title: str,
    *,
    grip: int,
    by: str | Actor,
    now: datetime,
    themes: list[str],
    staff: list[str],
    expected_days: int | None,
    municipalities: list[str] | None = None,
    dry_run: bool = False,
) -> Impact:
    def action(session, book):  # type: ignore[no-untyped-def]
        return crisis_service.declare(
            session=session,
            title=title,
            grip=grip,
            by=by,
            now=now,
            themes=themes,
            staff=staff,
            municipalities=municipalities or [],
            expected_days=(
                book.settings.default_crisis_days if expected_days is None else expected_days
            ),
            calendar=municipal_calendar(session),
        )

    return _with_rules(
        app, now, _crisis_action(action, setbased.pause), crisis_event="declare", dry_run=dry_run
    )


def update_crisis(
    app: App,
    crisis_id: int,
    *,
    by: str | Actor,
    now: datetime,
    themes: list[str] | None,
    staff: list[str] | None,
    grip: int | None,
    dry_run: bool = False,
) -> Impact:
    def action(session, _book):  # type: ignore[no-untyped-def]
        before = rules_service.crisis_scope(crisis_service.get_crisis(session, crisis_id))
        crisis = crisis_service.update_scope(
            session=session,
            crisis_id=crisis_id,
            by=by,
            now=now,
            themes=themes,
            staff=staff,
            grip=grip,
        )
        return crisis, before | rules_service.crisis_scope(crisis)

    event = f"update-{now:%Y%m%dT%H%M%S}"
    return _with_rules(app, now, action, crisis_event=event, dry_run=dry_run)


def end_crisis(app: App, crisis_id: int, *, by: str | Actor, now: datetime) -> Impact:
    return _with_rules(
        app,
        now,
        _crisis_action(
            lambda session, _book: crisis_service.end(
                session=session, crisis_id=crisis_id, by=by, now=now
            ),
            setbased.resume,
        ),
        crisis_event="end",
    )


def add_absence(
    app: App,
    person: str,
    *,
    start: date,
    end: date,
    by: str | Actor,
    now: datetime,
    reason: str | None,
) -> Impact:
    return _with_rules(
        app,
        now,
        _people_action(
            lambda session, _book: crisis_service.add_absence(
                session=session, person=person, start=start, end=end, by=by, now=now, reason=reason
            )
        ),
    )


def cancel_absence(app: App, absence_id: int, *, by: str | Actor, now: datetime) -> Impact:
    return _with_rules(
        app,
        now,
        _people_action(
            lambda session, _book: crisis_service.cancel_absence(
                session=session, absence_id=absence_id, by=by, now=now
            )
        ),
    )


def set_priority(
    app: App, task_id: int, *, tier: int, by: str | Actor, reason: str, now: datetime
) -> Impact:
    return _with_rules(
        app,
        now,
        _task_action(
            task_id,
            lambda session, _book: crisis_service.set_priority(
                session=session, task_id=task_id, tier=tier, by=by, reason=reason, now=now
            ),
        ),
    )


def clear_priority(app: App, task_id: int, *, by: str | Actor, now: datetime) -> Impact:
    return _with_rules(
        app,
        now,
        _task_action(
            task_id,
            lambda session, _book: crisis_service.clear_priority(
                session=session, task_id=task_id, by=by, now=now
            ),
        ),
    )


def open_case(
    app: App,
    case_type: str,
    *,
    event_day: date,
    by: str | Actor,
    now: datetime,
    reference: str | None,
    extended: bool,
    municipality: str | None = None,
) -> Impact:
    return _with_rules(
        app,
        now,
        _new_task_action(
            lambda session, book: open_case_service(
                session=session,
                book=book,
                case_type=case_type,
                event_day=event_day,
                by=by,
                now=now,
                reference=reference,
                extended=extended,
                municipality=municipality,
            )
        ),
    )


def audit_about_municipality(session: Session, code: str) -> ColumnElement[bool]:
    """Audit entries about one municipality: its tasks, programmes, themes, activities,
    crises, absences of its people, and the messages that carry its work."""
    check_municipality(session, code)
    programmes = select(Programme.id).where(Programme.municipality_code == code)

    def ids(column: Any, *where: ColumnElement[bool]) -> Select[tuple[str]]:
        return select(cast(column, String)).where(*where)

    crises = [str(c.id) for c in session.scalars(select(Crisis)) if code in c.municipalities]
    people = select(Person.email).where(Person.programme_id.in_(programmes))
    kinds = {
        "task": ids(Task.id, task_service.visible_in(code)),
        "programme": ids(Programme.id, Programme.id.in_(programmes)),
        "theme": ids(Theme.id, Theme.programme_id.in_(programmes)),
        "activity": ids(Activity.id, Activity.programme_id.in_(programmes)),
        "absence": ids(Absence.id, Absence.email.in_(people)),
        "email": ids(
            OutboxMessage.id,
            ("," + OutboxMessage.municipalities + ",").contains(f",{code},"),
        ),
    }
    return or_(
        and_(AuditEntry.object_type == "crisis", AuditEntry.object_id.in_(crises)),
        *(
            and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_(chosen))
            for kind, chosen in kinds.items()
        ),
    )


def explain(app: App, task_id: int, *, now: datetime) -> dict[str, Any]:
    """Why a task has its rank, status, responsible person and due date — at `now`."""
    book = app.rulebook()
    with view_at(app, now=now) as session:
        task = task_service.get_task(session=session, task_id=task_id)
        snaps = rules_service.Snapshots(session, select(Task.id).where(Task.id == task.id))
        world = rules_service.build_world(session, now, snaps.calendar(task.programme_id))
        decision = rules_service.decision_json(decide(snaps.of(task), world, book))
        order = [t.id for t in task_service.list_tasks(session=session)]
        return {
            "task": task_dict(task, order.index(task.id) + 1 if task.id in order else None),
            "steps": decision["steps"],
            "paused_by": decision["paused_by"],
            "facts": facts_for(snaps.of(task), world, book),
        }


def capacity_forecast(  # type: ignore[no-untyped-def]
    app: App, *, now: datetime, weeks: int, crisis_days: int = 0, municipality: str | None = None
):
    """Per person and week: load against capacity, and deadlines that will be missed; of one
    municipality's people and work, or of all."""
    today = local_date(now)
    with view_at(app, now=now) as session:
        people_query = select(Person)
        if municipality:
            check_municipality(session, municipality)
            people_query = people_query.join(Programme).where(
                Programme.municipality_code == municipality
            )
        tasks = task_service.list_tasks(
            session=session, filters=task_service.TaskFilter(municipality=municipality)
        )
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
            for t in tasks
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
