"""What every message kind shares: the draft, the read at `now` (`Context`: calendar, crises,
absences, names, task rows, rendering), the open-task selection, and `enqueue` to the outbox.

Keys are (kind, recipient, subject object, send slot): writing the same key twice is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from veiligheid_flow import limits
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis.models import Absence, Crisis
from veiligheid_flow.mail.headers import one_line
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.render import Deadline, count, deadlines_ics, render
from veiligheid_flow.mail.site import Site, calendar_description, calendar_uid
from veiligheid_flow.programme.models import Person, PortfolioHolder, Programme
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.tasks.views import task_dict
from veiligheid_flow.workdays import WorkCalendar

SITE = Site()  # no web address, the default domain: what tests and previews use


@dataclass(frozen=True)
class Draft:
    key: str
    kind: str
    recipient: str
    subject: str
    text: str
    html: str
    cc: tuple[str, ...] = ()
    ics: str | None = None
    municipalities: tuple[str, ...] = ()  # codes of the municipalities whose work it concerns

    def __post_init__(self) -> None:
        # A subject is built from titles: one line (the mail edge cleans again) that fits.
        subject = one_line(self.subject)
        if len(subject) > limits.TEXT:
            subject = subject[: limits.TEXT - 1] + "…"
        object.__setattr__(self, "subject", subject)
        # Defence in depth: input is validated at load, but a header must never carry a newline.
        for value in (self.key, self.recipient, *self.cc):
            if "\r" in value or "\n" in value:
                raise ValueError(f"regeleinde in kop van bericht {self.key!r}")
        for address in (self.recipient, *self.cc):
            if "@" not in address:
                raise ValueError(f"ongeldig adres {address!r} in bericht {self.key!r}")


@dataclass
class Context:
    session: Session
    now: datetime
    site: Site = field(default_factory=Site)

    @property
    def today(self) -> date:
        return local_date(self.now)

    @cached_property
    def calendar(self) -> WorkCalendar:
        return municipal_calendar(self.session)

    @cached_property
    def municipality(self) -> str:
        return (
            self.session.scalar(select(Programme.municipality).order_by(Programme.id.desc())) or ""
        )

    @cached_property
    def active_crises(self) -> list[Crisis]:
        """Crises running at `now` (declared, not ended)."""
        return list(
            self.session.scalars(
                select(Crisis)
                .where(
                    Crisis.declared_at <= self.now,
                    or_(Crisis.ended_at.is_(None), Crisis.ended_at > self.now),
                )
                .order_by(Crisis.id)
            )
        )

    @cached_property
    def absent_until(self) -> dict[str, date]:
        """Who is absent today, and until when (the last day of their absence)."""
        rows = self.session.execute(
            select(Absence.email, func.max(Absence.end))
            .where(
                Absence.cancelled.is_(False),
                Absence.start <= self.today,
                Absence.end >= self.today,
            )
            .group_by(Absence.email)
        )
        return {email: end for email, end in rows}

    def present(self, emails: Iterable[str]) -> tuple[str, ...]:
        """`emails` without those absent today: an absent person is not copied."""
        return tuple(sorted(set(emails) - set(self.absent_until)))

    def task_row(self, task: Task, recipient: str | None = None) -> dict[str, Any]:
        """A task as a message shows it; when someone stands in for the owner: for whom, why
        and until when. With `recipient`: their signed 'Gereed melden' link (`done_url`)."""
        row = task_dict(task) | {
            "theme_name": task.theme.name,
            "owner_name": task.owner.name,
            "backup_name": task.backup.name,
            "responsible_name": task.responsible.name,
            "url": self.site.task_url(task.id),
            "calendar_uid": calendar_uid(task),
            "calendar_what": calendar_description(task),
        }
        if task.responsible_id != task.owner_id:
            until = self.absent_until.get(task.owner.email)
            why = f"afwezig t/m {until:%d-%m-%Y}" if until else "overgedragen aan de achtervang"
            row["standing_in"] = {"for": task.owner.name, "why": why}
        if recipient is not None:
            row["done_url"] = self.site.done_url(task.id, recipient, self.now)
        return row

    def lead_day(self, deadline: date, working_days: int) -> date:
        """The working day `working_days` before `deadline` (the deadline itself, or the working
        day before it, for 0)."""
        return self.calendar.on_or_before(self.calendar.add_working_days(deadline, -working_days))

    def days_with_lead_in(self, since: date, lead: int) -> set[date]:
        """Deadlines whose lead day (`lead` working days before) fell in (since, today]."""
        day = self.calendar.add_working_days(since, lead) - timedelta(days=7)
        last = self.calendar.add_working_days(self.today, lead) + timedelta(days=7)
        found = set()
        while day <= last:
            if since < self.lead_day(day, lead) <= self.today:
                found.add(day)
            day += timedelta(days=1)
        return found

    def draft(
        self,
        kind: str,
        *,
        key: str,
        to: str,
        subject: str,
        heading: str,
        cc: tuple[str, ...] = (),
        ics: str | None = None,
        name: str | None = None,
        programmes: Iterable[Programme] = (),
        **context: Any,
    ) -> Draft:
        """Render a message kind's templates (text and HTML) into a draft; `programmes` are
        those whose work it concerns (their municipalities head the message)."""
        seen = {p.municipality_code: p.municipality for p in programmes}
        text, html = render(
            kind,
            name=name or self.name(to),
            municipality=" / ".join(sorted(seen.values())) or self.municipality,
            heading=heading,
            subject=subject,
            **context,
        )
        return Draft(key, kind, to, subject, text, html, cc, ics, tuple(sorted(seen)))

    @cached_property
    def names(self) -> dict[str, str]:
        """Display names by email: staff first, then portfolio holders."""
        return _names_of(self.session)

    def name(self, email: str) -> str:
        return self.names.get(email, email)


def _open_tasks(session: Session, **selection: Any) -> list[Task]:
    """Open tasks, in the order of work, matching any of the selections (see TaskFilter)."""
    return task_service.list_tasks(session=session, filters=task_service.TaskFilter(**selection))


def _ics_for(tasks: Iterable[dict], stamp: datetime, site: Site) -> str:
    """The deadlines of `tasks` (message rows) with the UIDs and descriptions the personal
    calendar feed uses, so an attachment updates the same event."""
    return deadlines_ics(
        [
            Deadline(
                t["calendar_uid"],
                f"Deadline: {t['title']}",
                date.fromisoformat(t["due_date"]),
                t["calendar_what"],
            )
            for t in tasks
        ],
        stamp,
        domain=site.domain,
    )


def _running(task: Task, today: date) -> bool:
    """The task's programme has not ended: after its end no reminders go out for it."""
    return task.programme.end >= today


def _count(tasks: list[Any]) -> str:
    return count(len(tasks), "taak", "taken")


NOTICE_LINES = 30  # a crisis notice lists the nearest deadlines; `veiligheid tasks` shows all


def enqueue(
    session: Session, drafts: Iterable[Draft], *, now: datetime, domain: str | None = None
) -> int:
    """Write drafts to the outbox; a key already there is skipped. Returns how many were new.
    `domain`: the installation's mail domain, under which each Message-ID lies."""
    drafts = list(drafts)
    if not drafts:
        return 0
    existing = set(
        session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.key.in_([d.key for d in drafts]))
        )
    )
    added = 0
    names = _names_of(session, {a for d in drafts for a in (d.recipient, *d.cc)})
    for draft in drafts:
        if draft.key in existing:
            continue
        existing.add(draft.key)
        session.add(
            OutboxMessage(
                key=draft.key,
                kind=draft.kind,
                recipient=draft.recipient,
                cc=list(draft.cc),
                names={a: names[a] for a in (draft.recipient, *draft.cc) if a in names},
                domain=domain,
                subject=draft.subject,
                text_body=draft.text,
                html_body=draft.html,
                ics=draft.ics,
                status=OutboxStatus.PENDING,
                attempts=0,
                created_at=now,
                next_attempt_at=now,
                municipalities=",".join(draft.municipalities),
            )
        )
        added += 1
    session.flush()
    return added


def _names_of(session: Session, addresses: set[str] | None = None) -> dict[str, str]:
    """The name of each address, or of everyone (staff before portfolio holders; the newest
    programme wins)."""
    names: dict[str, str] = {}
    for model in (PortfolioHolder, Person):
        query = select(model.email, model.name)
        if addresses is not None:
            query = query.where(model.email.in_(sorted(addresses)))
        for email, name in session.execute(query.order_by(model.id)):
            names[email] = name
    return names
