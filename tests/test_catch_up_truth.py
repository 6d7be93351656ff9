"""Issue 11, point 1: every message is composed from the facts at its send moment. After missed
runs: days left are counted then, a deadline that has passed is never "naderend", and several
missed lead days give one message per person with what is true now. After the programme's end
no reminders, overdue notices, escalations or council alerts go out."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.tasks.models import Task


def _load(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))


def _run(app: App, job: str, when: str) -> list[OutboxMessage]:
    """Run one job at `when` and return the messages it wrote."""
    with app.sessions() as session:
        before = set(session.scalars(select(OutboxMessage.id)))
    run_job(app, JOBS_BY_NAME[job], now=at(when))
    with app.sessions() as session:
        rows = [r for r in session.scalars(select(OutboxMessage)) if r.id not in before]
        session.expunge_all()
    return rows


def _task_ids(row: OutboxMessage) -> set[int]:
    return {int(n) for n in re.findall(r"\(taak (\d+)", row.text_body)}


def test_after_a_missed_fortnight_no_past_deadline_is_a_coming_one(app: App) -> None:
    _load(app)
    _run(app, "reminders", "2023-10-02T08:05")
    rows = _run(app, "reminders", "2023-10-16T08:05")  # two weeks without a run
    assert rows
    listed = set().union(*(_task_ids(r) for r in rows))
    with app.sessions() as session:
        due = {t.id: t.due_date for t in session.scalars(select(Task).where(Task.id.in_(listed)))}
    assert listed and all(day >= date(2023, 10, 16) for day in due.values()), sorted(due.items())
    for row in rows:  # nor in the attachment
        days = re.findall(r"DTSTART;VALUE=DATE:(\d{8})", row.ics or "")
        assert all(day >= "20231016" for day in days), days


def test_a_late_council_alert_counts_the_days_left_once_per_person_and_item(app: App) -> None:
    _load(app)
    _run(app, "council_alerts", "2023-09-27T08:05")
    # Missed: 28 Sep (15 working days before 19 Oct) and 12 Oct (5 before). On 16 Oct 3 are left.
    rows = _run(app, "council_alerts", "2023-10-16T08:05")
    fatbikes = [r for r in rows if "Aanpak fatbikes" in r.subject]
    assert fatbikes
    people = [r.recipient for r in fatbikes]
    assert len(people) == len(set(people)), people  # one message per person for this item
    for row in fatbikes:
        assert "Over 3 werkdagen" in row.text_body, row.text_body
        assert "Over 15 werkdagen" not in row.text_body and "Over 5 werkdagen" not in row.text_body


def test_a_council_deadline_that_passed_during_a_stop_is_not_announced_as_coming(app: App):
    _load(app)
    _run(app, "council_alerts", "2023-10-11T08:05")
    rows = _run(app, "council_alerts", "2023-10-31T08:05")  # 19 Oct passed meanwhile
    assert not [r for r in rows if "Aanpak fatbikes" in r.subject]  # its deadline was 19 Oct


def test_after_the_programme_end_no_reminder_overdue_or_alert_goes_out(app: App) -> None:
    _load(app)
    for job in ("reminders", "overdue", "council_alerts"):
        _run(app, job, "2024-12-30T08:05")
    for job in ("reminders", "overdue", "council_alerts"):
        rows = _run(app, job, "2025-01-08T08:05")
        assert rows == [], (job, [r.subject for r in rows])


def test_one_working_day_left_is_singular(app: App) -> None:
    _load(app)
    _run(app, "council_alerts", "2023-10-11T08:05")  # the day before the 5-day lead (12 Oct)
    rows = _run(app, "council_alerts", "2023-10-18T08:05")  # 12 Oct missed; 1 day left
    fatbikes = [r for r in rows if "Aanpak fatbikes" in r.subject]
    assert fatbikes and all("Over 1 werkdag (" in r.text_body for r in fatbikes)
    assert all("Over <strong>1 werkdag</strong>" in r.html_body for r in fatbikes)


def test_the_first_run_after_a_mid_period_load_summarises_instead_of_mailing_history(app):
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-10-02T07:00"))  # months of backlog
    rows = _run(app, "overdue", "2023-10-02T08:05")
    assert rows and {r.kind for r in rows} == {"summary"}, sorted({r.kind for r in rows})
    people = [r.recipient for r in rows]
    assert len(people) == len(set(people))  # one per person
    for row in rows:
        assert row.subject.startswith("Stand van zaken")
        assert "geen nieuwe melding" in row.text_body
        assert "Escalatie" not in row.subject
    later = _run(app, "overdue", "2023-10-03T08:05")
    assert all(r.kind in {"overdue", "escalation"} for r in later)
    assert all(r.text_body.count("(taak ") < 30 for r in later if r.kind == "escalation")


def test_a_month_long_stop_is_summarised_too(app: App) -> None:
    _load(app)
    _run(app, "overdue", "2023-09-01T08:05")
    rows = _run(app, "overdue", "2023-10-02T08:05")
    assert rows and {r.kind for r in rows} == {"summary"}
    assert {r.kind for r in _run(app, "overdue", "2023-10-03T08:05")} <= {"overdue", "escalation"}


def test_the_summary_groups_an_activitys_occurrences_into_one_line(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-10-02T07:00"))
    rows = _run(app, "overdue", "2023-10-02T08:05")
    with app.sessions() as session:
        late = {}
        for task in session.scalars(select(Task).where(Task.due_date < date(2023, 10, 2))):
            if task.open and not task.paused:
                late.setdefault(task.responsible.email, []).append(task)
    grouped = False
    for row in rows:
        mine = late.get(row.recipient, [])
        text = " ".join(row.text_body.split())
        assert f"Te laat ({len(mine)} ta" in text or not mine
        text = text.partition("Binnenkort, tot en met")[0]  # the late part only
        titles = {t.title for t in mine}
        for title in titles:  # each late activity once, with its number of occurrences
            n = sum(1 for t in mine if t.title == title)
            line = f"- {n}× {title} — deadlines " if n > 1 else f"- {title} — deadline "
            assert text.count(line) == 1, (row.recipient, line)
            grouped |= n > 1
    assert grouped, "the example has recurring work late at this moment"
