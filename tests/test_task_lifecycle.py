"""Task life cycle: open → in progress → done (or cancelled), who may do it, and handing a task
over to the backup. Every test runs on both database backends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.audit import service as audit_service
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.programme.models import Activity
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task, TaskStatus

OPEN, IN_PROGRESS, DONE, CANCELLED = (
    TaskStatus.OPEN,
    TaskStatus.IN_PROGRESS,
    TaskStatus.DONE,
    TaskStatus.CANCELLED,
)
OWNER = "b.jansen@example.nl"  # OOV2, owner of A04
BACKUP = "s.bakker@example.nl"  # JUR, backup of A04
COLLEAGUE = "a.devries@example.nl"  # OOV1


@pytest.fixture
def loaded(app: App) -> App:
    commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by=SYSTEM)
    return app


def task_id(app: App, code: str = "A04", key: str = "2023-12-31") -> int:
    with app.sessions() as session:
        return session.scalar(
            select(Task.id)
            .join(Activity, Task.activity_id == Activity.id)
            .where(Activity.code == code, Task.occurrence_key == key)
        )


def row(app: App, tid: int) -> dict[str, Any]:
    with app.sessions() as session:
        task = session.get(Task, tid)
        return {c.name: getattr(task, c.name) for c in Task.__table__.columns}


def audit_count(app: App) -> int:
    with app.sessions() as session:
        return session.scalar(select(func.count(AuditEntry.id)))


def task_audit(app: App, tid: int, action: str) -> list[AuditEntry]:
    with app.sessions() as session:
        return audit_service.entries(
            session=session, object_type="task", object_id=str(tid), action=action
        )


def change(
    app: App,
    tid: int,
    to: TaskStatus,
    by: str = OWNER,
    when: str = "2023-03-02T10:00",
    note: str | None = None,
) -> Task:
    if to == CANCELLED and by == OWNER:
        by = COLLEAGUE  # cancelling is the coordinator's (OOV1)
    return commands.change_status(app, tid, to, by=by, now=at(when), note=note)


# --- the normal path ---------------------------------------------------------------------------


def test_open_to_in_progress_to_done_records_who_when_and_why(loaded):
    tid = task_id(loaded)

    change(
        loaded,
        tid,
        IN_PROGRESS,
        by=" B.Jansen@Example.nl ",
        when="2023-03-02T10:00",
        note="Gestart met de inventarisatie",
    )
    started = row(loaded, tid)
    change(loaded, tid, DONE, by=BACKUP, when="2023-12-20T16:30", note="Beleid vastgesteld")
    done = row(loaded, tid)

    assert started["status"] == IN_PROGRESS
    assert started["status_changed_by"] == OWNER  # trimmed and lower-cased
    assert started["status_changed_at"] == at("2023-03-02T10:00")
    assert (done["status"], done["status_changed_by"]) == (DONE, BACKUP)
    assert done["status_changed_at"] == at("2023-12-20T16:30")
    assert done["note"] == "Beleid vastgesteld"

    (begin,) = task_audit(loaded, tid, "task.in_progress")
    (end,) = task_audit(loaded, tid, "task.done")
    assert (begin.actor, begin.at, begin.reason) == (
        OWNER,
        at("2023-03-02T10:00"),
        "Gestart met de inventarisatie",
    )
    assert begin.before == {"status": "open", "note": None}
    assert begin.after == {"status": "in_progress", "note": "Gestart met de inventarisatie"}
    assert (end.actor, end.at) == (BACKUP, at("2023-12-20T16:30"))
    assert end.before == {"status": "in_progress", "note": "Gestart met de inventarisatie"}
    assert end.after == {"status": "done", "note": "Beleid vastgesteld"}


def test_a_done_task_leaves_the_open_work_and_can_be_reopened(loaded):
    tid = task_id(loaded)
    change(loaded, tid, DONE, note="klaar")

    with loaded.sessions() as session:
        open_ids = {t.id for t in task_service.list_tasks(session=session)}
    assert tid not in open_ids

    change(loaded, tid, OPEN, by=COLLEAGUE, when="2023-03-03T09:00", note="toch niet klaar")
    reopened = row(loaded, tid)
    assert (reopened["status"], reopened["status_changed_by"]) == (OPEN, COLLEAGUE)
    assert reopened["note"] == "toch niet klaar"
    history = [
        (e.action, e.actor, e.after["status"])
        for e in task_audit(loaded, tid, "task.")
        if e.action in ("task.done", "task.open")
    ]
    assert history == [("task.done", OWNER, "done"), ("task.open", COLLEAGUE, "open")]


def test_the_coordinator_may_cancel_a_task(loaded):  # a holder may not: tests/test_roles.py
    tid = task_id(loaded)

    change(loaded, tid, CANCELLED, by=COLLEAGUE, note="vervalt")

    assert row(loaded, tid)["status"] == CANCELLED
    assert row(loaded, tid)["status_changed_by"] == COLLEAGUE


# --- what is refused changes nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], OPEN),
        ([DONE], IN_PROGRESS),
        ([DONE], CANCELLED),
        ([DONE], DONE),
        ([CANCELLED], DONE),
        ([CANCELLED], IN_PROGRESS),
        ([IN_PROGRESS], IN_PROGRESS),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(loaded, path, illegal):
    tid = task_id(loaded)
    for status in path:
        change(loaded, tid, status)
    before, audits = row(loaded, tid), audit_count(loaded)

    with pytest.raises(DomainError, match=f"taak {tid} is"):
        change(loaded, tid, illegal, when="2023-03-05T10:00", note="mag niet")

    assert row(loaded, tid) == before
    assert audit_count(loaded) == audits


@pytest.mark.parametrize("by", ["onbekend@example.nl", "ONBEKEND", ""])
def test_an_unknown_person_is_refused(loaded, by):
    tid = task_id(loaded)
    before, audits = row(loaded, tid), audit_count(loaded)

    with pytest.raises(DomainError, match="geen medewerker of portefeuillehouder|niet leeg"):
        change(loaded, tid, DONE, by=by)
    with pytest.raises(DomainError, match="geen medewerker of portefeuillehouder|niet leeg"):
        commands.reassign(loaded, tid, by=by, now=at("2023-03-02T10:00"), reason="ziek")

    assert row(loaded, tid) == before
    assert audit_count(loaded) == audits


def test_an_unknown_task_is_not_found(loaded):
    audits = audit_count(loaded)

    with pytest.raises(NotFound, match="taak 999999 bestaat niet"):
        change(loaded, 999999, DONE)

    assert audit_count(loaded) == audits


# --- handing over to the backup ------------------------------------------------------------------


def test_reassign_makes_the_backup_responsible(loaded):
    tid = task_id(loaded)
    original = row(loaded, tid)

    commands.reassign(loaded, tid, by=OWNER, now=at("2023-03-02T10:00"), reason="Langdurig ziek")

    task = row(loaded, tid)
    assert task["handed_over"] is True
    assert task["responsible_id"] == task["backup_id"] == original["backup_id"]
    assert task["owner_id"] == original["owner_id"]  # the owner stays the owner
    (entry,) = task_audit(loaded, tid, "task.reassign")
    assert (entry.actor, entry.reason) == (OWNER, "Langdurig ziek")
    assert (entry.before, entry.after) == ({"handed_over": False}, {"handed_over": True})
    with loaded.sessions() as session:
        mine = task_service.list_tasks(
            session=session, filters=task_service.TaskFilter(owner=BACKUP)
        )
    assert tid in {t.id for t in mine}

    # a later re-evaluation keeps the backup responsible
    commands.refresh(loaded, now=at("2023-06-01T09:00"))
    assert row(loaded, tid)["responsible_id"] == original["backup_id"]


def test_reassign_twice_or_after_closing_is_refused(loaded):
    first, second = task_id(loaded), task_id(loaded, "H03", "2023-12-31")
    commands.reassign(loaded, first, by=OWNER, now=at("2023-03-02T10:00"), reason=None)
    change(loaded, second, DONE, by=COLLEAGUE)
    before = row(loaded, first), row(loaded, second)
    audits = audit_count(loaded)

    with pytest.raises(DomainError, match="al overgedragen"):
        commands.reassign(loaded, first, by=OWNER, now=at("2023-03-03T10:00"), reason=None)
    with pytest.raises(DomainError, match="al afgesloten"):
        commands.reassign(loaded, second, by=COLLEAGUE, now=at("2023-03-03T10:00"), reason=None)

    assert (row(loaded, first), row(loaded, second)) == before
    assert audit_count(loaded) == audits
