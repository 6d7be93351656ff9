"""Retention: people removed from the programme file are marked as left; after the limits the
bodies of sent mail are blanked and people who left are pseudonymised, audited with counts,
idempotently, without breaking a reference. Time moves by `now` only."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_due, run_job
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.crisis.models import Absence
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.ops import retention
from veiligheid_flow.programme.models import Person
from veiligheid_flow.tasks.models import Task, TaskStatus

LEAVER = "ISO"  # Daan de Boer, informatiebeveiliger: owner of two activities
TAKE_OVER = ("OOV1", "OOV2", "OOV3")  # the first who is not the other of the pair
REMOVED_ON = "2024-10-15T09:00"  # after B03 (his, due 2024-09-30) fell due


def without_leaver(tmp_path: Path) -> Path:
    data: dict[str, Any] = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    data["people"] = [p for p in data["people"] if p["id"] != LEAVER]
    for theme in data["themes"]:
        for holder in (theme, *theme["activities"]):
            taken = {theme["owner"], theme["backup"], holder.get("owner"), holder.get("backup")}
            for role in ("owner", "backup"):
                if holder.get(role) == LEAVER:
                    holder[role] = next(p for p in TAKE_OVER if p not in taken)
    path = tmp_path / "zonder-iso.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def leaver(app: App) -> Person:
    with app.sessions() as session:
        return session.scalars(select(Person).where(Person.key == LEAVER)).one()


def audits(app: App, action: str) -> list[AuditEntry]:
    with app.sessions() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(session.scalars(query))


def test_a_person_removed_from_the_file_is_marked_as_left_and_back_when_restored(app, tmp_path):
    commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by=SYSTEM)
    assert leaver(app).left_at is None

    report = commands.load(app, without_leaver(tmp_path), now=at(REMOVED_ON), by=SYSTEM)

    assert report.counts["person.left"] == 1
    assert leaver(app).left_at == at(REMOVED_ON)
    (entry,) = audits(app, "person.left")
    assert (entry.object_id, entry.actor) == (str(leaver(app).id), "systeem")
    assert entry.at == at(REMOVED_ON)
    # Reloading the same file changes nothing; putting the person back clears the mark.
    again = commands.load(app, without_leaver(tmp_path), now=at("2024-10-16T09:00"), by=SYSTEM)
    assert not again.changed and leaver(app).left_at == at(REMOVED_ON)
    commands.load(app, EXAMPLE, now=at("2024-11-01T09:00"), by=SYSTEM)
    assert leaver(app).left_at is None
    assert len(audits(app, "person.return")) == 1


def _close_open_tasks_of(app: App, person_id: int, *, keep: int = 0) -> list[int]:
    """Mark the person's open tasks done (by the rules' own path), all but `keep` of them."""
    with app.sessions() as session:
        ids = sorted(
            session.scalars(
                select(Task.id).where(
                    Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS]),
                    (Task.owner_id == person_id)
                    | (Task.backup_id == person_id)
                    | (Task.responsible_id == person_id),
                )
            )
        )
    for task_id in ids[keep:]:
        commands.change_status(
            app, task_id, TaskStatus.DONE, by="a.devries@example.nl", now=at("2024-10-16T10:00")
        )
    return ids[:keep]


def test_people_who_left_are_pseudonymised_after_the_limit_once(app, tmp_path):
    commands.load(app, EXAMPLE, now=at("2023-03-01T09:00"), by=SYSTEM)
    commands.load(app, without_leaver(tmp_path), now=at(REMOVED_ON), by=SYSTEM)
    person = leaver(app)
    old_email = person.email
    with app.unit_of_work() as session:
        session.add_all(
            [
                Absence(
                    email=old_email,
                    start=at("2023-05-01T09:00").date(),
                    end=at("2023-05-05T09:00").date(),
                    reason="ziek",
                    created_by=old_email,
                    created_at=at("2023-04-28T09:00"),
                ),
                Absence(
                    email="a.devries@example.nl",
                    start=at("2023-05-01T09:00").date(),
                    end=at("2023-05-02T09:00").date(),
                    reason="vakantie",
                    created_by="a.devries@example.nl",
                    created_at=at("2023-04-28T09:00"),
                ),
            ]
        )
    (still_open,) = _close_open_tasks_of(app, person.id, keep=1)
    days = app.settings.retention_person_days
    with app.sessions() as session:
        tasks_before = session.scalar(select(func.count()).where(Task.owner_id == person.id))
    assert tasks_before >= 1  # B03: overdue, open, so the load left it with him

    # Not yet: one day short of the limit.
    early = at(REMOVED_ON) + timedelta(days=days - 1)
    with app.unit_of_work() as session:
        assert retention.pseudonymise_leavers(session, now=early, days=days).people == 0
    # Past the limit, but still named on an open task: kept, nothing audited.
    late = at(REMOVED_ON) + timedelta(days=days + 1)
    with app.unit_of_work() as session:
        kept = retention.pseudonymise_leavers(session, now=late, days=days)
    assert (kept.people, kept.kept) == (0, 1)
    assert leaver(app).email == old_email and audits(app, "retention.person") == []

    commands.change_status(
        app, still_open, TaskStatus.DONE, by="a.devries@example.nl", now=at("2024-10-17T10:00")
    )
    result = run_job(app, JOBS_BY_NAME["retention"], now=late.replace(hour=8, minute=5))
    assert result.error is None and result.applied == 2  # the person and their absence

    gone = leaver(app)
    assert (gone.id, gone.name) == (person.id, "verwijderd")
    assert gone.email == f"verwijderd-{person.id}@verwijderd.invalid"
    assert "boer" not in gone.email
    with app.sessions() as session:
        # References hold: the same tasks point at the same (now anonymous) row.
        assert session.scalar(select(func.count()).where(Task.owner_id == person.id)) == (
            tasks_before
        )
        absences = {a.reason: a for a in session.scalars(select(Absence))}
    assert absences[None].email == gone.email and absences[None].created_by == gone.email
    assert absences["vakantie"].email == "a.devries@example.nl"  # someone else's: untouched
    (entry,) = audits(app, "retention.person")
    assert entry.after["people"] == 1 and entry.after["absences"] == 1
    assert old_email not in str(entry.after) and "Daan" not in str(entry.after)
    # The audit trail itself is kept, including the load that created the person.
    assert audits(app, "person.create")

    with app.unit_of_work() as session:
        again = retention.pseudonymise_leavers(session, now=late + timedelta(days=3), days=days)
    assert (again.people, again.absences) == (0, 0)
    assert len(audits(app, "retention.person")) == 1


def test_bodies_of_old_sent_mail_are_blanked_once_and_their_eml_deleted(app, settings):
    commands.load(app, EXAMPLE, now=at("2023-09-29T09:00"), by=SYSTEM)
    run_due(app, now=at("2023-10-02T08:05"))
    run_due(app, now=at("2023-10-06T08:05"))
    with app.sessions() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    early = [r for r in rows if r.sent_at == at("2023-10-02T08:05")]
    later = [r for r in rows if r.sent_at == at("2023-10-06T08:05")]
    assert early and later and {r.status for r in rows} == {OutboxStatus.SENT}
    assert all((settings.mail_dir / r.file_name).exists() for r in rows)
    days = app.settings.retention_mail_days
    moment = at("2023-10-04T08:05") + timedelta(days=days)  # between the two sends + limit

    result = run_job(app, JOBS_BY_NAME["retention"], now=moment)

    assert result.error is None and result.applied == len(early)
    with app.sessions() as session:
        after = {r.id: r for r in session.scalars(select(OutboxMessage))}
    for row in early:
        kept = after[row.id]
        assert (kept.text_body, kept.html_body, kept.ics) == ("", "", None)
        assert (kept.key, kept.recipient, kept.subject, kept.status, kept.sent_at) == (
            row.key,
            row.recipient,
            row.subject,
            OutboxStatus.SENT,
            row.sent_at,
        )
        assert not (settings.mail_dir / row.file_name).exists()
    for row in later:
        assert after[row.id].text_body == row.text_body and after[row.id].html_body
        assert (settings.mail_dir / row.file_name).exists()
    (entry,) = audits(app, "retention.mail")
    assert entry.after["messages"] == entry.after["eml_files"] == len(early)

    with app.unit_of_work() as session:
        again = retention.blank_sent_mail(
            session, now=moment + timedelta(hours=1), days=days, mail_dir=settings.mail_dir
        )
    assert again == 0 and len(audits(app, "retention.mail")) == 1
