"""Use cases: one unit of work each. The CLI, the scheduler and the Prefect flows call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.programme.loader import LoadedProgramme, read_programme
from veiligheid_flow.programme.service import LoadReport, load_programme
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules.tables import RuleBook, load_rulebook
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task, TaskStatus


def rulebook(app: App) -> RuleBook:
    return load_rulebook(app.settings.rules)


def validate(app: App, path: Path) -> LoadedProgramme:
    return read_programme(path, known_case_types=set(rulebook(app).cases))


@dataclass
class LoadResult:
    report: LoadReport
    decisions_changed: int


def load(app: App, path: Path, *, now: datetime, actor: str) -> LoadResult:
    """Validate, load and evaluate the rules in one transaction; nothing changes on error."""
    book = rulebook(app)
    loaded = read_programme(path, known_case_types=set(book.cases))
    with app.unit_of_work() as session:
        report = load_programme(loaded, session=session, now=now, actor=actor)
        evaluation = rules_service.evaluate(session=session, now=now, book=book)
    return LoadResult(report, len(evaluation.changes))


def refresh(app: App, *, now: datetime) -> int:
    """Re-evaluate every open task at `now` (e.g. a new day); returns the number changed."""
    book = rulebook(app)
    with app.unit_of_work() as session:
        return len(rules_service.evaluate(session=session, now=now, book=book).changes)


def week(app: App, *, now: datetime) -> tuple[datetime, list[Task]]:
    """Open work due in the current week (Mon–Sun, Europe/Amsterdam) and everything overdue."""
    today = local_date(now)
    monday = today - timedelta(days=today.weekday())
    refresh(app, now=now)
    with app.sessions() as session:
        tasks = task_service.list_tasks(
            session=session, filters=task_service.TaskFilter(due_before=monday + timedelta(days=7))
        )
    return monday, tasks


def change_status(
    app: App, task_id: int, to: TaskStatus, *, by: str, now: datetime, note: str | None = None
) -> Task:
    book = rulebook(app)
    with app.unit_of_work() as session:
        task = task_service.change_status(
            session=session, task_id=task_id, to=to, by=by, now=now, note=note
        )
        rules_service.evaluate(session=session, now=now, book=book)
    return task


def reassign(app: App, task_id: int, *, by: str, now: datetime, reason: str | None) -> Task:
    book = rulebook(app)
    with app.unit_of_work() as session:
        task = task_service.reassign_to_backup(
            session=session, task_id=task_id, by=by, now=now, reason=reason
        )
        rules_service.evaluate(session=session, now=now, book=book)
    return task
