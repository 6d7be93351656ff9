"""Retention (AVG, Archiefwet): blank the bodies of old sent mail, pseudonymise people who left.

Rows are changed in place, so every reference (tasks, outbox, audit) still points at its row.
Each application is audited with counts only; the audit trail itself is kept. Idempotent: a
second run on the same day changes nothing and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from veiligheid_flow.audit import service as audit
from veiligheid_flow.crisis.models import Absence
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.programme.models import Person
from veiligheid_flow.settings import Settings
from veiligheid_flow.tasks.models import Task, TaskStatus

ACTOR = "bewaartermijn"
REMOVED_NAME = "verwijderd"
PLACEHOLDER_DOMAIN = "verwijderd.invalid"  # RFC 2606: never delivered
CHUNK = 5000


def placeholder_email(person_id: int) -> str:
    """Derived from the row id only, so nothing of the address can be recovered from it."""
    return f"verwijderd-{person_id}@{PLACEHOLDER_DOMAIN}"


def apply(session: Session, *, now: datetime, settings: Settings) -> int:
    """Both retention rules at `now`; returns how many rows were changed."""
    mail = blank_sent_mail(
        session, now=now, days=settings.retention_mail_days, mail_dir=settings.mail_dir
    )
    people = pseudonymise_leavers(session, now=now, days=settings.retention_person_days)
    return mail + people.people + people.absences


def blank_sent_mail(session: Session, *, now: datetime, days: int, mail_dir: Path) -> int:
    """Empty text, HTML and .ics of messages sent more than `days` ago (recipient, subject and
    dates stay: they prove what was sent when); their .eml files are deleted too."""
    cutoff = now - timedelta(days=days)
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.key).where(
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.sent_at < cutoff,
            or_(
                OutboxMessage.text_body != "",
                OutboxMessage.html_body != "",
                OutboxMessage.ics.is_not(None),
            ),
        )
    ).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    for start in range(0, len(ids), CHUNK):
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[start : start + CHUNK]))
            .values(text_body="", html_body="", ics=None)
            .execution_options(synchronize_session=False)
        )
    files = 0
    for row in rows:
        path = mail_dir / OutboxMessage(key=row.key).file_name
        if path.exists():
            path.unlink()
            files += 1
    audit.record(
        session=session,
        at=now,
        actor=ACTOR,
        action="retention.mail",
        object_type="retention",
        object_id="mail",
        after={"messages": len(ids), "eml_files": files, "sent_before": cutoff, "days": days},
        reason=f"inhoud van verstuurde berichten ouder dan {days} dagen gewist",
    )
    return len(ids)


@dataclass
class Pseudonymised:
    people: int = 0
    absences: int = 0
    kept: int = 0  # left long enough ago, but still named on an open task


def pseudonymise_leavers(session: Session, *, now: datetime, days: int) -> Pseudonymised:
    """People who left the programme more than `days` ago: name → "verwijderd", email → a
    placeholder; their absences lose address and reason (unless the address still belongs to
    someone in a programme). Someone still named on an open task is kept until it is closed."""
    cutoff = now - timedelta(days=days)
    found = Pseudonymised()
    leavers = list(
        session.scalars(
            select(Person)
            .where(
                Person.left_at.is_not(None),
                Person.left_at < cutoff,
                ~Person.email.endswith(f"@{PLACEHOLDER_DOMAIN}"),
            )
            .order_by(Person.id)
        )
    )
    if not leavers:
        return found
    busy = _on_open_tasks(session, [p.id for p in leavers])
    active = set(session.scalars(select(Person.email).where(Person.left_at.is_(None))))
    for person in leavers:
        if person.id in busy:
            found.kept += 1
            continue
        old, new = person.email, placeholder_email(person.id)
        person.name, person.email = REMOVED_NAME, new
        found.people += 1
        if old in active:
            continue  # the same address serves another programme: its absences are theirs
        for absence in session.scalars(select(Absence).where(Absence.email == old)):
            absence.email, absence.reason = new, None
            if absence.created_by == old:
                absence.created_by = new
            found.absences += 1
    if found.people:
        audit.record(
            session=session,
            at=now,
            actor=ACTOR,
            action="retention.person",
            object_type="retention",
            object_id="person",
            after={
                "people": found.people,
                "absences": found.absences,
                "kept_open_tasks": found.kept,
                "left_before": cutoff,
                "days": days,
            },
            reason=f"gegevens van medewerkers die langer dan {days} dagen weg zijn vervangen",
        )
    session.flush()
    return found


def _on_open_tasks(session: Session, person_ids: list[int]) -> set[int]:
    open_ = Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS])
    found: set[int] = set()
    for column in (Task.owner_id, Task.backup_id, Task.responsible_id):
        found.update(
            session.scalars(select(column).where(open_, column.in_(person_ids)).distinct())
        )
    return found
