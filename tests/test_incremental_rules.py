"""Evaluating only the tasks a change can touch gives the decisions the pure engine gives for
every task: after random sequences of days and events, a full re-evaluation changes nothing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.crisis.models import Absence, Crisis
from veiligheid_flow.errors import DomainError
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.tasks.models import Task, TaskStatus

THEMES = ["ONDERMIJNING", "ZORG_EN_VEILIGHEID", "JEUGD_EN_VEILIGHEID", "VERKEERSVEILIGHEID"]
STAFF = ["OOV1", "OOV2", "OOV3", "AOV", "JUR", "ZV", "WIJK"]


def full_evaluation_changes(app: App, now: datetime) -> list[rules_service.Change]:
    """What the reference (the pure engine over every open task) would still change."""
    with app.sessions() as session:
        report = rules_service.evaluate(
            session=session, now=now, book=app.rulebook(), scope=rules_service.Scope(True)
        )
        session.rollback()
    return report.changes


def random_step(app: App, rng: random.Random, now: datetime) -> str:
    """One random thing that happens in the municipality at `now`; returns what it was."""
    with app.sessions() as session:
        open_crises = list(session.scalars(select(Crisis.id).where(Crisis.ended_at.is_(None))))
        absences = list(session.scalars(select(Absence.id).where(Absence.cancelled.is_(False))))
        tasks = list(
            session.scalars(
                select(Task.id).where(Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS]))
            )
        )
    choice = rng.choice(["crisis", "end", "update", "absence", "cancel", "status", "priority"])
    if choice == "crisis" or (choice in ("end", "update") and not open_crises):
        commands.declare_crisis(
            app,
            "Test",
            grip=rng.randint(1, 4),
            by="BM",
            now=now,
            themes=rng.sample(THEMES, rng.randint(0, 2)),
            staff=rng.sample(STAFF, rng.randint(0, 2)),
            expected_days=rng.randint(1, 15),
        )
        return "crisis"
    if choice == "end":
        commands.end_crisis(app, rng.choice(open_crises), by="BM", now=now)
    elif choice == "update":
        commands.update_crisis(
            app,
            rng.choice(open_crises),
            by="BM",
            now=now,
            themes=rng.sample(THEMES, rng.randint(0, 2)),
            staff=rng.sample(STAFF, rng.randint(0, 1)),
            grip=None,
        )
    elif choice == "cancel" and absences:
        commands.cancel_absence(app, rng.choice(absences), by="OOV1", now=now)
    elif choice in ("absence", "cancel"):
        start = now.date() + timedelta(days=rng.randint(-2, 10))
        commands.add_absence(
            app,
            rng.choice(STAFF),
            start=start,
            end=start + timedelta(days=rng.randint(0, 12)),
            by="OOV1",
            now=now,
            reason=None,
        )
    elif choice == "status":
        status = rng.choice([TaskStatus.DONE, TaskStatus.IN_PROGRESS, TaskStatus.CANCELLED])
        try:
            commands.change_status(
                app, rng.choice(tasks), status, by="a.devries@example.nl", now=now
            )
        except DomainError:
            return "status refused"
    else:
        try:
            commands.set_priority(
                app, rng.choice(tasks), tier=rng.randint(1, 6), by="BM", reason="test", now=now
            )
        except DomainError:
            return "priority refused"
    return choice


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_evaluation_equals_the_full_one(app: App, seed: int) -> None:
    rng = random.Random(seed)
    now = at("2023-02-01T09:00")
    commands.load(app, EXAMPLE, now=now, by=SYSTEM)
    assert full_evaluation_changes(app, now) == []
    history = []
    for _ in range(30):
        now += timedelta(days=rng.choice([0, 1, 1, 2, 3, 7, 12]), hours=rng.randint(0, 3))
        if rng.random() < 0.6:
            history.append(random_step(app, rng, now))
        else:
            commands.refresh(app, now=now)
            history.append("time")
        missed = full_evaluation_changes(app, now)
        assert missed == [], f"after {history} at {now}: {missed[:3]}"


def test_a_new_day_evaluates_only_the_tasks_near_a_threshold(app: App) -> None:
    now = at("2023-06-05T09:00")
    commands.load(app, EXAMPLE, now=now, by=SYSTEM)
    with app.sessions() as session:
        open_tasks = len(
            session.scalars(select(Task.id).where(Task.status == TaskStatus.OPEN)).all()
        )
        book = app.rulebook()
        report = rules_service.evaluate(session=session, now=now + timedelta(days=1), book=book)
        session.rollback()
    assert 0 < report.evaluated < open_tasks / 5, (report.evaluated, open_tasks)
