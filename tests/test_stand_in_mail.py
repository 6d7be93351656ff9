"""Issue 11, point 3: stand-in mail says for whom and until when; an absent person is not
copied."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from tests.test_catch_up_truth import _run
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.tasks.models import Task

ANNA = "a.devries@example.nl"  # coordinator: may register absences


def _task_due(app: App, day: date) -> Task:
    with app.sessions() as session:
        task = session.scalars(
            select(Task).where(Task.due_date == day).order_by(Task.id)
        ).first()
        assert task is not None
        session.expunge_all()
        return task


def test_a_stand_in_reminder_says_for_whom_and_until_when(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    task = _task_due(app, date(2023, 10, 13))
    with app.sessions() as session:
        owner = session.get(Task, task.id).owner
        owner_email, owner_name = owner.email, owner.name
        backup_email = session.get(Task, task.id).backup.email
    commands.add_absence(
        app, owner_email, start=date(2023, 10, 9), end=date(2023, 10, 20), by=ANNA,
        now=at("2023-10-06T09:00"), reason=None,
    )
    _run(app, "reminders", "2023-10-10T08:05")
    rows = _run(app, "reminders", "2023-10-11T08:05")  # 2 working days before 13 Oct
    mine = [r for r in rows if r.recipient == backup_email and f"(taak {task.id}," in r.text_body]
    assert mine, [(r.recipient, r.subject) for r in rows]
    expected = f"Je neemt waar voor {owner_name} (afwezig t/m 20-10-2023)"
    assert expected in mine[0].text_body and expected in mine[0].html_body
    assert not [r for r in rows if r.recipient == owner_email]  # the absent owner: no mail


def test_an_absent_backup_is_not_copied_on_an_overdue_notice(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    _run(app, "overdue", "2023-10-10T08:05")  # the first run: a summary
    copied = [r for r in _run(app, "overdue", "2023-10-11T08:05") if r.cc]
    assert copied, "the example has an overdue notice with the backup in copy on 11 Oct"
    absent = copied[0].cc[0]
    commands.add_absence(
        app, absent, start=date(2023, 10, 12), end=date(2023, 10, 31), by=ANNA,
        now=at("2023-10-11T09:00"), reason=None,
    )
    later = _run(app, "overdue", "2023-10-16T08:05")
    assert [r for r in later if r.recipient == copied[0].recipient], "the owner still hears"
    assert all(absent not in r.cc for r in later), [(r.recipient, r.cc) for r in later]
    assert all(r.recipient != absent for r in later)
