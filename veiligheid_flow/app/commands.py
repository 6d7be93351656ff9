"""The write side: every state change, one unit of work each. Each command takes who acts
(`by`: a name the command resolves, or an Actor) and `now`, and returns frozen views
(`app/views.py`), never ORM rows. The CLI, the scheduler and the Prefect flows call these."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow.app.views import (
    IMPACT_KINDS,
    OUTBOX_LABELS,
    ChangeView,
    Impact,
    LoadResult,
    MessageChange,
    TaskChange,
)
from veiligheid_flow.authority import (
    SYSTEM,
    Actor,
    Role,
    require_loader,
    require_role,
    resolve_actor,
)
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis import service as crisis_service
from veiligheid_flow.crisis.models import TaskPause
from veiligheid_flow.db import refresh_statistics
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.events import emit_crisis_event
from veiligheid_flow.mail import compose
from veiligheid_flow.mail import dispatch as mail_dispatch
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.ops import backup as backups
from veiligheid_flow.programme.loader import read_programme
from veiligheid_flow.programme.service import load_programme, municipal_calendar, municipality_code
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules import setbased
from veiligheid_flow.settings import Settings
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.cases import open_case as open_case_service
from veiligheid_flow.tasks.models import Task, TaskStatus

# --- programme and time ------------------------------------------------------------------------


def load(app: App, path: Path, *, by: str | Actor, now: datetime) -> LoadResult:
    """Validate, load and evaluate the rules in one transaction; nothing changes on error.
    `by`: a coordinator of the file's municipality (`authority.require_loader`) or SYSTEM."""
    book = app.rulebook()
    loaded = read_programme(path, known_case_types=set(book.cases))
    with app.unit_of_work() as session:
        who = require_loader(session, loaded.spec, by)
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
    if report.changed:
        refresh_statistics(app.engine)
    return LoadResult(
        programme_code=report.programme_code,
        created=report.created,
        changed=report.changed,
        counts=Counter(report.counts),
        decisions_changed=len(evaluation.changes),
        municipality=municipality_code(loaded.spec.municipality),
    )


def refresh(app: App, *, now: datetime, by: str | Actor = SYSTEM) -> int:
    """Re-evaluate every open task at `now` (e.g. a new day); returns the number changed.
    Time moving changes nothing a person decided: `by` must be SYSTEM or a person known to
    the programmes (an unknown name is refused)."""
    book = app.rulebook()
    with app.unit_of_work() as session:
        resolve_actor(session, by)
        return len(rules_service.evaluate(session=session, now=now, book=book).changes)


# --- one task ----------------------------------------------------------------------------------


def _task_change(task: Task) -> TaskChange:
    status = TaskStatus(task.status)
    return TaskChange(
        id=task.id,
        status=status.value,
        status_label=task_service.STATUS_LABELS[status],
        handed_over=task.handed_over,
        responsible=task.responsible.email,
        note=task.note,
    )


def _evaluate_task(session: Session, app: App, now: datetime, task_id: int) -> None:
    rules_service.evaluate(
        session=session,
        now=now,
        book=app.rulebook(),
        scope=rules_service.Scope(task_ids=frozenset({task_id})),
    )


def change_status(
    app: App,
    task_id: int,
    to: TaskStatus,
    *,
    by: str | Actor,
    now: datetime,
    note: str | None = None,
) -> TaskChange:
    with app.unit_of_work() as session:
        task = task_service.change_status(
            session=session, task_id=task_id, to=to, by=by, now=now, note=note
        )
        _evaluate_task(session, app, now, task_id)
        return _task_change(task)


def reassign(
    app: App, task_id: int, *, by: str | Actor, now: datetime, reason: str | None
) -> TaskChange:
    with app.unit_of_work() as session:
        task = task_service.reassign_to_backup(
            session=session, task_id=task_id, by=by, now=now, reason=reason
        )
        _evaluate_task(session, app, now, task_id)
        return _task_change(task)


# --- rules: crises, absences, priorities, cases ------------------------------------------------


def _titles(
    session: Session, changes: list[rules_service.Change], first: int = 3
) -> dict[str, tuple[str, ...]]:
    kinds = ("paused", "handed_over", "council_at_risk")
    ids = {kind: [c.task_id for c in changes if IMPACT_KINDS[kind](c)] for kind in kinds}
    wanted = sorted({i for chosen in ids.values() for i in chosen[:first]})
    names = dict(session.execute(select(Task.id, Task.title).where(Task.id.in_(wanted))).all())
    return {kind: tuple(names[i] for i in chosen[:first]) for kind, chosen in ids.items()}


def _with_rules(  # type: ignore[no-untyped-def]
    app: App, now: datetime, action, crisis_event: str | None = None, dry_run: bool = False
) -> Impact:
    """Run `action`, re-evaluate the tasks it can touch and (for a crisis) queue the notices:
    one transaction. `action(session, book)` returns (subject, Scope). With `dry_run` the same
    runs in a transaction that is rolled back: the Impact says what would happen.

    The rules are brought up to `now` first, so the changes reported (and mailed) are the ones
    the action caused, not those the mere passing of time would have made anyway."""
    book = app.rulebook()
    with app.unit_of_work(dry_run=dry_run) as session:
        rules_service.evaluate(session=session, now=now, book=book)
        subject, scope, *bulk = action(session, book)
        report = rules_service.evaluate(session=session, now=now, book=book, scope=scope)
        for done in bulk:
            done.finish()
        changes = [
            *(rules_service.Change(*c) for done in bulk for c in done.changes),
            *report.changes,
        ]
        if crisis_event and crisis_event.startswith("update") and subject is not None:
            changes = _merged(changes, _late_when_paused(session, book, subject.id, now))
        subject_id = subject.id if subject is not None else 0
        municipalities: tuple[str, ...] = ()
        titles: dict[str, tuple[str, ...]] = {}
        if crisis_event:
            municipalities = tuple(subject.municipalities)
            titles = _titles(session, changes)
        if crisis_event and not dry_run:
            drafts = compose.crisis_notices(
                session,
                now=now,
                crisis_id=subject_id,
                event=crisis_event,
                changes=changes,
                site=app.site,
            )
            drafts += compose.council_risk_alerts(
                session, now=now, crisis_id=subject_id, changes=changes, site=app.site
            )
            compose.enqueue(session, drafts, now=now, domain=app.settings.mail_domain)
    return Impact(
        subject_id=subject_id,
        changes=tuple(
            ChangeView(c.task_id, dict(c.before), dict(c.after), tuple(c.rule_ids or ()))
            for c in changes
        ),
        dry_run=dry_run,
        municipalities=municipalities,
        titles=titles,
    )


def _late_when_paused(
    session: Session, book: Any, crisis_id: int, now: datetime
) -> list[rules_service.Change]:
    """After an update widened a crisis: the work it paused today that was already due is
    decided once more, now that its pause (and so `task.late_before_crisis`) is stored."""
    today = local_date(now)
    late = (
        select(TaskPause.task_id)
        .join(Task, Task.id == TaskPause.task_id)
        .where(
            TaskPause.crisis_id == crisis_id,
            TaskPause.until.is_(None),
            TaskPause.since == today,
            Task.due_date < today,
        )
    )
    scope = rules_service.Scope(where=(Task.id.in_(late),))
    return rules_service.evaluate(session=session, now=now, book=book, scope=scope).changes


def _merged(
    first: list[rules_service.Change], then: list[rules_service.Change]
) -> list[rules_service.Change]:
    """One change per task: the first `before`, the later values over the earlier."""
    found = {c.task_id: c for c in first}
    order = [c.task_id for c in first]
    for change in then:
        if change.task_id in found:
            old = found[change.task_id]
            rule_ids = list(dict.fromkeys([*(old.rule_ids or []), *(change.rule_ids or [])]))
            before = {**change.before, **old.before}
            found[change.task_id] = rules_service.Change(
                change.task_id, before, {**old.after, **change.after}, rule_ids
            )
        else:
            found[change.task_id] = change
            order.append(change.task_id)
    return [found[i] for i in order]


def _crisis_action(run, bulk=None):  # type: ignore[no-untyped-def]
    """A crisis command's action: the crisis and every task it could touch. With `bulk`
    (setbased.pause or .resume), the plain tasks are done set-based first, when the rule
    files allow it; the engine decides the rest."""

    def action(session, book):  # type: ignore[no-untyped-def]
        crisis = run(session, book)
        scope = rules_service.crisis_scope(crisis)
        if bulk is None or not setbased.fast_path(book):
            return crisis, scope
        done = bulk(session, crisis, book, _now_of(crisis))
        return crisis, scope | rules_service.Scope(exclude=(done.done,)), done

    return action


def _now_of(crisis: Any) -> datetime:
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


def announce_crisis(crisis_id: int, event: str) -> bool:
    """After the commit: tell a Prefect server, if one is configured, so crisis-response runs
    now. Returns whether an event went out (none without PREFECT_API_URL)."""
    return emit_crisis_event(crisis_id, event)


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


# --- the outbox --------------------------------------------------------------------------------


def operator(login: str) -> Actor:
    """The person at the shell who names nobody with --by: the operator, who may retry and
    confirm any message (as the scheduler may). The audit trail records their login name."""
    return Actor(email=login, name=login, system=True)


def _message_actor(session: Session, message_id: int, by: str | Actor, action: str) -> Actor:
    """Who may retry or confirm a message: SYSTEM (or the operator at the shell), or a
    coordinator of a municipality the message concerns."""
    row = session.get(OutboxMessage, message_id)
    if row is None:
        raise NotFound(f"bericht {message_id} bestaat niet")
    if isinstance(by, Actor) and by.system:
        return by
    actor = resolve_actor(session, by)
    codes = sorted(c for c in row.municipalities.split(",") if c)
    if not codes:
        raise DomainError(
            f"bericht {message_id} hoort bij geen gemeente: alleen de beheerder (zonder --by) "
            f"mag {action}; {actor.label} is dat niet."
        )
    if not any(actor.has(Role.COORDINATOR, code) for code in codes):
        require_role(actor, Role.COORDINATOR, codes, action)  # always refuses here, naming why
    return actor


def _message_change(row: OutboxMessage, by: Actor) -> MessageChange:
    status = OutboxStatus(row.status)
    return MessageChange(row.id, status.value, OUTBOX_LABELS[status], by.label)


def retry_message(app: App, message_id: int, *, by: str | Actor, now: datetime) -> MessageChange:
    """Queue a failed or uncertain message again (uncertain: only when the mail log shows it
    never arrived)."""
    with app.unit_of_work() as session:
        actor = _message_actor(session, message_id, by, f"bericht {message_id} opnieuw klaarzetten")
        row = mail_dispatch.retry(session, message_id, now=now, by=actor.label)
        return _message_change(row, actor)


def confirm_message(
    app: App, message_id: int, *, by: str | Actor, now: datetime, header: str
) -> MessageChange:
    """An uncertain message the mail log shows as delivered: mark it sent, never resend.
    `header` is the Message-ID the operator found in the mail log: it must be this message's."""
    with app.unit_of_work() as session:
        actor = _message_actor(session, message_id, by, f"bericht {message_id} bevestigen")
        expected = session.get(OutboxMessage, message_id).message_id
        if header.strip().strip("<>") != expected.strip("<>"):
            raise DomainError(
                f"Message-ID '{header.strip()}' is niet die van bericht {message_id}: zoek "
                f"{expected} in de maillog ('veiligheid outbox show {message_id}' toont hem) "
                "en geef hem met --message-id"
            )
        row = mail_dispatch.confirm_sent(session, message_id, now=now, by=actor.label)
        return _message_change(row, actor)


# --- operations on the database file (no unit of work: the file itself) ------------------------


def backup_database(settings: Settings, target: Path, *, overwrite: bool = False) -> Any:
    """A consistent copy of the SQLite database, also while the scheduler runs."""
    return backups.backup(settings, target, overwrite=overwrite)


def restore_database(settings: Settings, copy: Path, *, overwrite: bool = False) -> Any:
    """Put a copy made by `backup_database` back over the SQLite database."""
    return backups.restore(settings, copy, overwrite=overwrite)
