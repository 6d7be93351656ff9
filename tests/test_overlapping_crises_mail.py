"""Issue 11, point 2: with overlapping crises, "nieuwe deadline" is announced only when a task
really resumes: ending one crisis says nothing of a new deadline for work the other still
pauses."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.tasks.models import Task


def test_ending_one_of_two_crises_announces_no_new_deadline_for_work_still_paused(app: App):
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    wide = commands.declare_crisis(
        app, "Storm", grip=2, by="BM", now=at("2023-10-02T10:00"),
        themes=["VEERKRACHTIGE_WIJKEN", "VERKEERSVEILIGHEID"], staff=[], expected_days=20,
    )
    narrow = commands.declare_crisis(
        app, "Brand", grip=1, by="BM", now=at("2023-10-03T10:00"),
        themes=["VEERKRACHTIGE_WIJKEN"], staff=[], expected_days=5,
    )
    ended = commands.end_crisis(app, narrow.subject_id, by="BM", now=at("2023-10-06T17:00"))
    with app.sessions() as session:
        still = {t.id for t in session.scalars(select(Task).where(Task.paused.is_(True)))}
        notices = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.key.like(f"crisis:%:{narrow.subject_id}:end")
                )
            )
        )
    assert still and wide.subject_id and ended.changes
    for row in notices:  # the wide crisis still pauses these themes: no new deadline yet
        assert "nieuwe deadline" not in row.text_body, row.text_body
