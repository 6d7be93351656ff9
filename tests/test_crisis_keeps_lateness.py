"""Issue 11, point 2: a crisis does not hide lateness. A task that was late before the crisis
stays flagged late while the crisis pauses it; a task that falls due during the crisis is not
(its work was displaced, not neglected)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.tasks.models import Task, TaskStatus


def _tasks(app: App) -> list[Task]:
    with app.sessions() as session:
        rows = list(
            session.scalars(
                select(Task).where(Task.status == TaskStatus.OPEN, Task.statutory.is_(False))
            )
        )
        session.expunge_all()
    return rows


def test_late_before_the_crisis_stays_late_while_paused(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    commands.declare_crisis(
        app, "Grote brand", grip=2, by="BM", now=at("2023-10-02T10:00"),
        themes=["VEERKRACHTIGE_WIJKEN"], staff=[], expected_days=15,
    )
    commands.refresh(app, now=at("2023-10-18T09:00"))
    paused = [t for t in _tasks(app) if t.paused]
    late_before = [t for t in paused if t.due_date < date(2023, 10, 2)]
    due_during = [t for t in paused if date(2023, 10, 2) <= t.due_date < date(2023, 10, 18)]
    assert late_before and due_during
    assert all("overdue" in t.flags for t in late_before), [(t.id, t.flags) for t in late_before]
    assert not any("overdue" in t.flags for t in due_during)
