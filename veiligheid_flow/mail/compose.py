"""Compose messages from the stored decisions. Pure reads; `enqueue` writes them to the outbox.

Keys are (kind, recipient, subject object, send slot): writing the same key twice is a no-op.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from veiligheid_flow import limits
from veiligheid_flow.access import service as access
from veiligheid_flow.audit import service as audit
from veiligheid_flow.clock import LOCAL_TZ, local_date
from veiligheid_flow.crisis.models import Absence, Crisis
from veiligheid_flow.mail.headers import one_line
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.render import Deadline, count, deadlines_ics, dutch_date, render
from veiligheid_flow.mail.site import Site, calendar_description, calendar_uid
from veiligheid_flow.programme.budget import realised_by_theme
from veiligheid_flow.programme.models import (
    CouncilItem,
    Person,
    PortfolioHolder,
    Programme,
    Theme,
    theme_holder,
)
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.rules.service import Change, crisis_facts
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task, TaskStatus
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
class _Ctx:
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


def reminders(
    session: Session, *, now: datetime, book: RuleBook, since: date, site: Site = SITE
) -> list[Draft]:
    """One email per responsible person listing tasks whose lead day fell in (since, today].
    A person's own lead (Instellingen) replaces the rules' first (largest) lead; the rules'
    later leads below it stay."""
    ctx = _Ctx(session, now, site)
    rules = set(book.settings.reminder_lead_working_days)
    later = rules - {max(rules, default=None)}
    bounds = book.settings.reminder_personal_lead_working_days
    leads_of = {
        email: {lead} | {n for n in later if n < lead}
        for email, p in access.preferences(session).items()
        if p.lead_days is not None
        for lead in [min(max(p.lead_days, bounds.min), bounds.max)]  # bounds may have moved
    }
    days = {n: ctx.days_with_lead_in(since, n) for n in rules.union(*leads_of.values())}
    standard = set().union(*(days[n] for n in rules))
    due_for = {email: set().union(*(days[n] for n in leads)) for email, leads in leads_of.items()}
    due = standard.union(*due_for.values())
    by_person: dict[str, list[Task]] = defaultdict(list)
    for task in _open_tasks(session, due_on=frozenset(due)):
        email = task.responsible.email
        # After a missed run a lead day can lie behind a deadline that has passed: that task
        # is late (the overdue notice), not coming.
        if (
            task.due_date in due_for.get(email, standard)
            and not task.paused
            and task.due_date >= ctx.today
            and _running(task, ctx.today)
        ):
            by_person[email].append(task)
    drafts = []
    for email, tasks in sorted(by_person.items()):
        rows = [ctx.task_row(t, email) for t in tasks]
        drafts.append(
            ctx.draft(
                "reminder",
                key=f"reminder:{email}:{ctx.today}",
                to=email,
                subject=f"Herinnering: {_count(rows)} met een naderende deadline",
                heading="Herinnering: je taken",
                programmes=(t.programme for t in tasks),
                tasks=rows,
                ics=_ics_for(rows, now, ctx.site),
            )
        )
    return drafts


def _overdue_days(ctx: _Ctx, session: Session, since: date, every: int) -> set[date]:
    """Past due dates whose working days late reached 1, 1 + every, 1 + 2·every … since `since`."""
    first = session.scalar(
        select(func.min(Task.due_date)).where(
            Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS])
        )
    )
    found: set[date] = set()
    day = first
    while day is not None and day < ctx.today:
        late = ctx.calendar.working_days_between(day, ctx.today)
        prev = max(ctx.calendar.working_days_between(day, since), 0)
        if any((n - 1) % every == 0 for n in range(prev + 1, late + 1)):
            found.add(day)
        day += timedelta(days=1)
    return found


def overdue(
    session: Session, *, now: datetime, book: RuleBook, since: date, site: Site = SITE
) -> list[Draft]:
    """Overdue tasks, repeated every N working days, to the owner with the backup in copy."""
    ctx = _Ctx(session, now, site)
    every = book.settings.overdue_repeat_every_working_days
    by_owner: dict[str, list[Task]] = defaultdict(list)
    escalated: dict[str, list[Task]] = defaultdict(list)
    newly_escalated = _escalated_since(session, since, now, book.escalation_rule_ids())
    repeat_on = _overdue_days(ctx, session, since, every)
    candidates = _open_tasks(
        session, due_on=frozenset(repeat_on), task_ids=frozenset(newly_escalated)
    )
    for task in candidates:
        if task.paused or task.due_date >= ctx.today or not _running(task, ctx.today):
            continue
        if task.due_date in repeat_on and task.responsible_id == task.owner_id:
            by_owner[task.owner.email].append(task)
        if task.id in newly_escalated and task.responsible_id == task.backup_id:
            escalated[task.backup.email].append(task)
    drafts = [
        ctx.draft(
            "overdue",
            key=f"overdue:{email}:{ctx.today}",
            to=email,
            subject=f"Te laat: {_count(tasks)} over de deadline",
            heading="Over de deadline",
            cc=(copied := ctx.present({t.backup.email for t in tasks} - {email})),
            copied=[ctx.name(a) for a in copied],
            programmes=(t.programme for t in tasks),
            # A personal "Gereed melden" link would reach the copy too (and act in the
            # owner's name): with a copy, the task page (sign-in) is the way.
            tasks=[ctx.task_row(t, None if copied else email) for t in tasks],
        )
        for email, tasks in sorted(by_owner.items())
    ]
    drafts += [
        ctx.draft(
            "escalation",
            key=f"escalation:{email}:{ctx.today}",
            to=email,
            subject=f"Escalatie: je bent nu verantwoordelijk voor {_count(tasks)}",
            heading="Escalatie naar achtervang",
            programmes=(t.programme for t in tasks),
            tasks=[ctx.task_row(t, email) for t in tasks],
        )
        for email, tasks in sorted(escalated.items())
    ]
    return drafts


SUMMARY_AHEAD_WORKING_DAYS = 10  # a start summary also lists what is due this soon


def start_summaries(
    session: Session, *, now: datetime, book: RuleBook, site: Site = SITE
) -> list[Draft]:
    """On a fresh start (the first run after a load, or after a long stop): one message per
    person with their late and coming work, labelled as a summary, instead of the history of
    overdue notices and escalations that the stop piled up."""
    ctx = _Ctx(session, now, site)
    horizon = ctx.calendar.add_working_days(ctx.today, SUMMARY_AHEAD_WORKING_DAYS)
    late: dict[str, list[Task]] = defaultdict(list)
    coming: dict[str, list[Task]] = defaultdict(list)
    for task in _open_tasks(session, due_before=horizon + timedelta(days=1)):
        if task.paused or not _running(task, ctx.today):
            continue
        email = task.responsible.email
        (late if task.due_date < ctx.today else coming)[email].append(task)
    drafts = []
    for email in sorted(set(late) | set(coming)):
        overdue, soon = late[email], coming[email]
        rows = _occurrences(
            [
                ctx.task_row(t)
                | {"late": ctx.calendar.working_days_between(t.due_date, ctx.today)}
                for t in overdue
            ]
        )
        next_up = _occurrences([ctx.task_row(t) for t in soon])
        parts = [f"{_count(overdue)} te laat"] if overdue else []
        parts += [f"{_count(soon)} binnenkort"] if soon else []
        drafts.append(
            ctx.draft(
                "summary",
                key=f"summary:{email}:{ctx.today}",
                to=email,
                subject=f"Stand van zaken: {', '.join(parts)} (geen nieuwe melding)",
                heading="Stand van zaken",
                programmes={t.programme for t in (*overdue, *soon)},
                late=rows[:NOTICE_LINES],
                late_total=len(overdue),
                late_more=sum(g["count"] for g in rows[NOTICE_LINES:]),
                soon=next_up[:NOTICE_LINES],
                soon_total=len(soon),
                soon_more=sum(g["count"] for g in next_up[NOTICE_LINES:]),
                horizon=horizon,
                my_work=ctx.site.page_url("/"),
            )
        )
    return drafts


def _occurrences(rows: list[dict]) -> list[dict]:
    """Message rows of one activity's occurrences (same title, same stand-in) as one line:
    the first row, with `count`, the first and last deadline and the most days late."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        standing_in = row.get("standing_in") or {}
        groups[(row["title"], standing_in.get("for", ""))].append(row)
    lines = []
    for members in groups.values():
        members.sort(key=lambda r: (r["due_date"], r["id"]))
        first, last = members[0], members[-1]
        lines.append(
            first
            | {
                "count": len(members),
                "first": first["due_date"],
                "last": last["due_date"],
                "late": max((r.get("late", 0) for r in members), default=0),
                "ids": [r["id"] for r in members],
            }
        )
    return sorted(lines, key=lambda g: (g["first"], g["id"]))


def _escalated_since(
    session: Session, since: date, now: datetime, escalations: frozenset[str]
) -> set[int]:
    """Tasks an escalation rule handed to the backup after the last covered slot."""
    start = datetime.combine(since + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
    rows = audit.entries(session=session, object_type="task", action="task.decision", since=start)
    return {
        int(row.object_id)
        for row in rows
        if row.at <= now
        and escalations.intersection(row.rule_ids or [])
        and "responsible_id" in (row.after or {})
    }


def council_alerts(
    session: Session, *, now: datetime, book: RuleBook, since: date, site: Site = SITE
) -> list[Draft]:
    ctx = _Ctx(session, now, site)
    leads = book.settings.council_alert_lead_working_days
    deadlines = {d for n in leads for d in ctx.days_with_lead_in(since, n)}
    items = list(
        session.scalars(
            select(CouncilItem)
            .where(CouncilItem.active.is_(True), CouncilItem.submission_deadline.in_(deadlines))
            .order_by(CouncilItem.id)
        )
    )
    tasks = _open_tasks(session, council_items=frozenset(i.id for i in items)) if items else []
    drafts = []
    for item in items:
        # One alert per item and run, however many lead days a stop skipped: the latest (the
        # smallest lead) names the slot; the days left are counted today. A deadline that
        # passed meanwhile is not announced as coming; nor one of a programme that ended.
        fell = [
            n for n in leads if since < ctx.lead_day(item.submission_deadline, n) <= ctx.today
        ]
        if not fell or item.submission_deadline < ctx.today or item.programme.end < ctx.today:
            continue
        for lead in [min(fell)]:
            days_left = ctx.calendar.working_days_between(ctx.today, item.submission_deadline)
            linked = [t for t in tasks if t.council_item_id == item.id]
            at_risk = any("council_at_risk" in t.flags for t in linked)
            holders = {item.holder.email}
            recipients = (
                {t.owner.email for t in linked} | {t.backup.email for t in linked} | holders
            )
            data = [ctx.task_row(t) for t in linked]
            ics = deadlines_ics(
                [
                    Deadline(
                        f"{item.programme.code}.raad.{item.code}",
                        f"Aanleveren griffie: {item.subject}",
                        item.submission_deadline,
                        f"Aanleveren bij de griffie voor {item.committee}: {item.subject}",
                    )
                ],
                now,
                domain=ctx.site.domain,
            )
            subject = (
                f"{'IN GEVAAR — ' if at_risk else ''}Termijnagenda: {item.subject} "
                f"aanleveren op {dutch_date(item.submission_deadline)}"
            )
            drafts += [
                ctx.draft(
                    "council",
                    key=f"council:{email}:{item.code}:{lead}",
                    to=email,
                    subject=subject,
                    heading=f"Termijnagenda: {item.subject}",
                    ics=ics,
                    item=item,
                    days=days_left,
                    tasks=data,
                    at_risk=at_risk,
                    holder=item.holder.name,
                    programmes=[item.programme],
                )
                for email in sorted(recipients)
            ]
    return drafts


def council_risk_alerts(
    session: Session,
    *,
    now: datetime,
    crisis_id: int,
    changes: list[Change],
    site: Site = SITE,
) -> list[Draft]:
    """A council deadline a crisis event has just put at risk (a task gained the
    council_at_risk signal): one message at once to the item's portfolio holder and to the
    owners of its open work, not in Monday's digest."""
    ctx = _Ctx(session, now, site)
    crisis = session.get(Crisis, crisis_id)
    gained = [
        c.task_id
        for c in changes
        if "flags" in c.after
        and "council_at_risk" in c.after["flags"]
        and "council_at_risk" not in (c.before.get("flags") or [])
    ]
    if crisis is None or not gained:
        return []
    items = {
        t.council_item_id
        for t in session.scalars(select(Task).where(Task.id.in_(gained)))
        if t.council_item_id is not None
    }
    drafts = []
    for item in session.scalars(select(CouncilItem).where(CouncilItem.id.in_(sorted(items)))):
        linked = [
            t for t in _open_tasks(session, council_items=frozenset({item.id}))
            if t.council_item_id == item.id
        ]
        recipients = {item.holder.email} | {t.owner.email for t in linked}
        days = ctx.calendar.working_days_between(ctx.today, item.submission_deadline)
        for email in sorted(ctx.present(recipients)):
            drafts.append(
                ctx.draft(
                    "council_risk",
                    key=f"council-risk:{email}:{item.code}:{crisis.id}",
                    to=email,
                    subject=(
                        f"IN GEVAAR — Termijnagenda: {item.subject} "
                        f"(aanleveren {dutch_date(item.submission_deadline)})"
                    ),
                    heading=f"Termijnagenda in gevaar: {item.subject}",
                    item=item,
                    days=days,
                    crisis=crisis,
                    declared_by=ctx.name(crisis.declared_by),
                    holder=item.holder.name,
                    tasks=[ctx.task_row(t) for t in linked],
                    programmes=[item.programme],
                )
            )
    return drafts


_WHAT = {
    ("paused", True): "ligt stil door de crisis",
    ("paused", False): "wordt hervat",
}


def crisis_notices(
    session: Session,
    *,
    now: datetime,
    crisis_id: int,
    event: str,
    changes: list[Change],
    site: Site = SITE,
) -> list[Draft]:
    """One email per person whose work is paused, handed over or resumed by a crisis event.
    It opens with who declared what, when, the GRIP level and the expected end, and how many
    of your tasks change; occurrences of one activity with the same change are grouped."""
    ctx = _Ctx(session, now, site)
    crisis = session.get(Crisis, crisis_id)
    if crisis is None:
        return []
    people = {p.id: p for p in session.scalars(select(Person))}
    programmes = {p.id: p for p in session.scalars(select(Programme))}
    tasks = _rows_by_id(session, [c.task_id for c in changes])
    per_person: dict[str, list[dict]] = defaultdict(list)
    concerns: dict[str, set[Programme]] = defaultdict(set)
    for change in changes:
        task = tasks.get(change.task_id)
        if task is None:
            continue
        common = [_WHAT[("paused", change.after["paused"])]] if "paused" in change.after else []
        owner, backup = people[task.owner_id], people[task.backup_id]
        task_due = task.due_date
        whats = {owner.email: list(common)}
        if "responsible_id" in change.after:
            new = people.get(change.after["responsible_id"])
            if new is not None and new.id == backup.id:
                whats[owner.email].append(f"overgedragen aan {backup.name}")
                whats[backup.email] = [*common, f"jij neemt het over van {owner.name}"]
            else:
                whats[owner.email].append("weer bij jou")
                whats[backup.email] = [*common, f"terug bij {owner.name}"]
        # A new deadline is news only when the task resumes: another crisis may still pause it.
        moved = "due_date" in change.after and not task.paused
        for email, what in whats.items():
            if not what and not moved:
                continue
            concerns[email].add(programmes[task.programme_id])
            per_person[email].append(
                {
                    "id": task.id,
                    "title": task.title,
                    "what": "; ".join(what),
                    "deadline": date.fromisoformat(str(change.after.get("due_date", task_due))),
                    "paused": change.after.get("paused") is True,
                    "moved": moved,
                }
            )
    ended = event == "end"
    heading = ("Crisis beëindigd: " if ended else "Crisis: ") + crisis.title
    lead = {
        "declared_by": ctx.name(crisis.declared_by),
        "declared_at": crisis.declared_at.astimezone(LOCAL_TZ),
        "expected_end": crisis.expected_end,
        "ended_by": ctx.name(crisis.ended_by) if crisis.ended_by else None,
    }
    going_on = {} if ended else _statutory_going_on(session, crisis, set(per_person))
    moved_ids = {r["id"] for rows in per_person.values() for r in rows if r["moved"]}
    moved_tasks = {t.id: ctx.task_row(t) for t in _tasks_by_id(session, moved_ids)}
    drafts = []
    for email, rows in sorted(per_person.items()):
        groups = _grouped(rows, ctx.site)
        moved = [moved_tasks[r["id"]] for r in rows if r["moved"] and r["id"] in moved_tasks]
        drafts.append(
            ctx.draft(
                "crisis",
                key=f"crisis:{email}:{crisis.id}:{event}",
                to=email,
                subject=f"{heading} — {_count(rows)} gewijzigd",
                heading=heading,
                crisis=crisis,
                ended=ended,
                lead=lead,
                paused=sum(1 for r in rows if r["paused"]),
                total=len(rows),
                changes=groups[:NOTICE_LINES],
                more=sum(g["count"] for g in groups[NOTICE_LINES:]),
                going_on=going_on.get(email, []),
                recipient=email,
                contacts=_coordinators(ctx, concerns[email], email),
                programmes=concerns[email],
                ics=_ics_for(moved, now, ctx.site) if moved else None,
                my_work=ctx.site.page_url("/"),
            )
        )
    return drafts


def _statutory_going_on(session: Session, crisis: Crisis, emails: set[str]) -> dict[str, list]:
    """Per person: the titles of their open statutory work in the crisis's scope, which goes
    on (statutory work never pauses), nearest deadline first."""
    touched = or_(*crisis_facts(crisis).touching())
    found: dict[str, list[str]] = defaultdict(list)
    for task in _open_tasks(session, statutory=True):
        if task.responsible.email in emails:
            found[task.responsible.email].append(task.id)
    ids = {i for ids in found.values() for i in ids}
    inside = set(session.scalars(select(Task.id).where(Task.id.in_(sorted(ids)), touched)))
    titles = {t.id: t.title for t in session.scalars(select(Task).where(Task.id.in_(inside)))}
    return {
        email: list(dict.fromkeys(titles[i] for i in ids_ if i in inside))
        for email, ids_ in found.items()
        if any(i in inside for i in ids_)
    }


def _coordinators(ctx: _Ctx, programmes: Iterable[Programme], recipient: str) -> list[dict]:
    """Whom to ask about one's work: the coordinators of the programmes concerned (name and
    address), the recipient left out."""
    keys = {(p.id, k) for p in programmes for k in (p.roles or {}).get("coordinators", [])}
    found = {
        person.email: {"name": person.name, "email": person.email}
        for person in ctx.session.scalars(
            select(Person).where(
                Person.programme_id.in_(sorted({pid for pid, _ in keys})),
                Person.left_at.is_(None),
            )
        )
        if (person.programme_id, person.key) in keys and person.email != recipient
    }
    return [found[e] for e in sorted(found)]


def _tasks_by_id(session: Session, ids: set[int]) -> list[Task]:
    """Whole tasks (with programme, activity and theme) for calendar events, in chunks."""
    found: list[Task] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), 5000):
        found += session.scalars(
            select(Task)
            .options(
                selectinload(Task.programme), selectinload(Task.activity), selectinload(Task.theme)
            )
            .where(Task.id.in_(ordered[start : start + 5000]))
        )
    return found


def _grouped(rows: list[dict], site: Site = SITE) -> list[dict]:
    """Rows of one title and one change as one line ("15× …, 14 mrt t/m 8 aug"), nearest
    deadline first; a line of one task links to its page."""
    groups: dict[tuple[str, str, bool], list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["title"], row["what"], row["moved"])].append(row)
    lines = []
    for (title, what, moved), members in groups.items():
        days = sorted(r["deadline"] for r in members)
        lines.append(
            {
                "title": title,
                "what": what,
                "moved": moved,
                "count": len(members),
                "ids": sorted(r["id"] for r in members),
                "first": days[0],
                "last": days[-1],
                "url": site.task_url(members[0]["id"]) if len(members) == 1 else None,
            }
        )
    return sorted(lines, key=lambda g: (g["first"], g["ids"][0]))


NOTICE_LINES = 30  # a crisis notice lists the nearest deadlines; `veiligheid tasks` shows all


def _rows_by_id(session: Session, ids: list[int]) -> dict[int, Any]:
    """Title, due date, owner, backup, programme and paused of many tasks, read in chunks."""
    found = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for row in session.execute(
            select(
                Task.id,
                Task.title,
                Task.due_date,
                Task.owner_id,
                Task.backup_id,
                Task.programme_id,
                Task.paused,
            ).where(Task.id.in_(chunk))
        ):
            found[row.id] = row
    return found


SEVERITY = (
    "Wettelijk in gevaar",
    "Onbemand",
    "Te laat, geëscaleerd naar achtervang",
    "Te laat",
    "Stil door crisis",
)


def _exception_label(task: Task, escalations: frozenset[str]) -> str | None:
    """The most serious thing about an open task that a portfolio holder should see, if any."""
    if "statutory_at_risk" in task.flags:
        return SEVERITY[0]
    if "unstaffed" in task.flags:
        return SEVERITY[1]
    if "overdue" in task.flags:
        steps = task.decision.get("steps", [])
        escalated = any(step["rule_id"] in escalations for step in steps)
        return SEVERITY[2] if escalated else SEVERITY[3]
    return SEVERITY[4] if task.paused else None


def _task_exceptions(
    tasks: Iterable[Task], escalations: frozenset[str]
) -> list[dict[str, str]]:
    """One line per (label, activity): repeated occurrences are counted, not listed."""
    groups: dict[tuple[str, int], list[Task]] = defaultdict(list)
    for task in tasks:
        label = _exception_label(task, escalations) if task.open else None
        if label:
            groups[(label, task.activity_id)].append(task)
    lines = []
    for (label, _), group in sorted(
        groups.items(), key=lambda kv: (SEVERITY.index(kv[0][0]), min(t.due_date for t in kv[1]))
    ):
        first = min(group, key=lambda t: t.due_date)
        people = ", ".join(sorted({t.responsible.name for t in group}))
        if len(group) == 1:
            detail = f"taak {first.id}, deadline {first.due_date}, verantwoordelijk {people}"
        else:
            detail = (
                f"{len(group)} keer (taken {', '.join(str(t.id) for t in group[:5])}"
                f"{', …' if len(group) > 5 else ''}), oudste deadline {first.due_date}, "
                f"verantwoordelijk {people}"
            )
        lines.append({"label": label, "title": first.title, "detail": detail})
    return lines


@dataclass
class _DigestData:
    """What every digest of one week reads, fetched set-based once for all holders."""

    progress: dict[int, tuple[int, int, int]]  # theme id → (tasks, done, late) up to the horizon
    exceptions: dict[int, list[Task]]  # theme id → open tasks that are flagged or paused
    items_at_risk: set[int]  # council items with an open task flagged council_at_risk
    themes_of: dict[int, list[Theme]]  # holder id → active themes (budget lines loaded)
    items_of: dict[int, list[CouncilItem]]  # holder id → council items due within the horizon


def _digest_data(session: Session, today: date, horizon: date) -> _DigestData:
    open_ = Task.status.in_([TaskStatus.OPEN, TaskStatus.IN_PROGRESS])
    # Late: past due and not paused, or paused but late already before the crisis (the
    # rules keep its 'overdue' signal: SIGNAAL-TE-LAAT-VOOR-CRISIS).
    kept_late = cast(Task.flags, String).like('%"overdue"%')
    late = and_(open_, Task.due_date < today, or_(Task.paused.is_(False), kept_late))
    rows = session.execute(
        select(
            Task.theme_id,
            func.count(),
            func.sum(case((Task.status == TaskStatus.DONE, 1), else_=0)),
            func.sum(case((late, 1), else_=0)),
        )
        .where(Task.planned_due <= horizon, Task.status != TaskStatus.CANCELLED)
        .group_by(Task.theme_id)
    )
    progress = {theme: (total, done or 0, late or 0) for theme, total, done, late in rows}
    flagged = list(
        session.scalars(
            select(Task)
            .options(selectinload(Task.responsible))
            .where(open_, or_(Task.paused.is_(True), cast(Task.flags, String) != "[]"))
            .order_by(Task.id)
        )
    )
    exceptions: dict[int, list[Task]] = defaultdict(list)
    for task in flagged:
        exceptions[task.theme_id].append(task)
    at_risk = {t.council_item_id for t in flagged if "council_at_risk" in t.flags}
    themes = {
        t.id: t
        for t in session.scalars(
            select(Theme)
            .options(selectinload(Theme.budget_lines), selectinload(Theme.programme))
            .where(Theme.active.is_(True))
            .order_by(Theme.id)
        )
    }
    themes_of: dict[int, list[Theme]] = defaultdict(list)
    for theme_id, holder_id in session.execute(
        select(theme_holder.c.theme_id, theme_holder.c.holder_id).order_by(theme_holder.c.theme_id)
    ):
        if theme_id in themes:
            themes_of[holder_id].append(themes[theme_id])
    items_of: dict[int, list[CouncilItem]] = defaultdict(list)
    for item in session.scalars(
        select(CouncilItem)
        .where(
            CouncilItem.active.is_(True),
            CouncilItem.submission_deadline >= today,
            CouncilItem.submission_deadline <= horizon,
        )
        .order_by(CouncilItem.submission_deadline, CouncilItem.id)
    ):
        items_of[item.holder_id].append(item)
    return _DigestData(
        progress, exceptions, {i for i in at_risk if i is not None}, themes_of, items_of
    )


def _current_holders(session: Session, today: date) -> dict[str, list[PortfolioHolder]]:
    """Portfolio holders by email: their rows in programmes running today (else the newest)."""
    rows: dict[str, list[tuple[PortfolioHolder, Programme]]] = defaultdict(list)
    for holder, programme in session.execute(
        select(PortfolioHolder, Programme)
        .join(Programme, PortfolioHolder.programme_id == Programme.id)
        .order_by(PortfolioHolder.id.desc())
    ):
        rows[holder.email].append((holder, programme))
    return {
        email: [h for h, p in found if p.start <= today <= p.end] or [found[0][0]]
        for email, found in rows.items()
    }


def digest(
    session: Session, *, now: datetime, holder: PortfolioHolder, book: RuleBook, site: Site = SITE
) -> Draft:
    ctx = _Ctx(session, now, site)
    horizon = ctx.today + timedelta(weeks=DIGEST_WEEKS)
    holders = _current_holders(session, ctx.today)[holder.email]
    data = _digest_data(session, ctx.today, horizon)
    return _digest(ctx, holders, data, book.escalation_rule_ids())


DIGEST_WEEKS = 6


def _digest(
    ctx: _Ctx, holders: list[PortfolioHolder], data: _DigestData, escalations: frozenset[str]
) -> Draft:
    holder = holders[0]
    ids = {h.id for h in holders}
    themes = sorted(
        {t.id: t for h in holders for t in data.themes_of[h.id]}.values(), key=lambda t: t.id
    )
    exceptions = _task_exceptions(
        (t for theme in themes for t in data.exceptions[theme.id]), escalations
    )
    items = sorted(
        (i for h in ids for i in data.items_of[h]),
        key=lambda i: (i.submission_deadline, i.id),
    )
    council = []
    for item in items:
        risk = item.id in data.items_at_risk
        council.append(
            {
                "subject": item.subject,
                "submission_deadline": item.submission_deadline,
                "committee": item.committee,
                "committee_date": item.committee_date,
                "at_risk": risk,
            }
        )
        if risk:
            exceptions.append(
                {
                    "label": "Termijnagenda in gevaar",
                    "title": item.subject,
                    "detail": f"aanleveren {dutch_date(item.submission_deadline)}",
                }
            )
    progress = []
    for theme in sorted(themes, key=lambda t: (t.name, t.id)):
        total, done, late = data.progress.get(theme.id, (0, 0, 0))
        whole = max(total, 1)
        progress.append(
            {
                "name": theme.name,
                "done": done,
                "open": total - done - late,
                "late": late,
                "pct_done": round(100 * done / whole),
                "pct_late": round(100 * late / whole),
                "pct_open": 100 - round(100 * done / whole) - round(100 * late / whole),
            }
        )
    budget = [
        {
            "theme": t.name,
            "year": b.year,
            "description": b.description,
            "amount": _euro(b.amount),
        }
        for t in sorted(themes, key=lambda t: (t.name, t.id))
        for b in t.budget_lines
        if b.year == ctx.today.year
    ]
    realised = realised_by_theme(ctx.session, [t.id for t in themes], ctx.today.year, ctx.now)
    budget_totals = [
        {
            "theme": t.name,
            "year": ctx.today.year,
            "planned": _euro(sum(b.amount for b in lines)),
            "realised": _euro(realised.get(t.id, 0)),
        }
        for t in sorted(themes, key=lambda t: (t.name, t.id))
        if (lines := [b for b in t.budget_lines if b.year == ctx.today.year]) or t.id in realised
    ]
    week = ctx.today.isocalendar()
    attention = (
        f"{count(len(exceptions), 'punt', 'punten')} voor uw aandacht"
        if exceptions
        else "niets vraagt uw aandacht"
    )
    totals = [sum(p[k] for p in progress) for k in ("done", "open", "late")]
    summary = (
        f"Op uw thema's: {totals[0]} gereed, {count(totals[1], 'taak', 'taken')} open, "
        f"{totals[2]} te laat; {attention}."
    )
    ended = _ended(themes, ctx.today)
    if ended:
        names = ", ".join(f"{p.code} ({p.municipality})" for p in ended)
        summary = (
            f"Het programma {names} is geëindigd op {dutch_date(max(p.end for p in ended))}. "
            f"Dit is het laatste weekoverzicht; hieronder de eindstand. " + summary
        )
        attention = "laatste weekoverzicht, het programma is geëindigd"
    codes = {t.programme.municipality_code for t in themes}
    crises = [
        {
            "title": c.title,
            "grip": c.grip,
            "since": c.declared_at.astimezone(LOCAL_TZ).date(),
            "until": c.expected_end,
            "by": ctx.name(c.declared_by),
        }
        for c in ctx.active_crises
        if not c.municipalities or codes & set(c.municipalities)
    ]
    return ctx.draft(
        "digest",
        key=f"digest:{holder.email}:{week.year}-W{week.week:02d}",
        to=holder.email,
        subject=f"Weekoverzicht veiligheid week {week.week}: {attention}",
        heading=f"Weekoverzicht veiligheid, week {week.week}",
        name=holder.name,
        programmes=(t.programme for t in themes),
        exceptions=exceptions,
        themes=progress,
        council_items=council,
        budget=budget,
        budget_totals=budget_totals,
        summary=summary,
        crises=crises,
    )


def _euro(amount: Any) -> str:
    """An amount as Dutch readers write it, whole euros: 45.000."""
    return f"{amount:,.0f}".replace(",", ".")


def digests(
    session: Session, *, now: datetime, book: RuleBook, site: Site = SITE
) -> list[Draft]:
    """One digest per portfolio holder (by email), over their portfolios in running programmes;
    not to a holder who switched it off (Instellingen)."""
    ctx = _Ctx(session, now, site)
    data = _digest_data(session, ctx.today, ctx.today + timedelta(weeks=DIGEST_WEEKS))
    escalations = book.escalation_rule_ids()
    declined = {email for email, p in access.preferences(session).items() if p.digest is False}
    drafts = []
    for email, holders in sorted(_current_holders(session, ctx.today).items()):
        if email in declined:
            continue
        themes = [t for h in holders for t in data.themes_of[h.id]]
        ended = _ended(themes, ctx.today)
        # After the end one last digest with the final state, then none.
        if ended and ctx.today > max(p.end for p in ended) + timedelta(days=7):
            continue
        drafts.append(_digest(ctx, holders, data, escalations))
    return drafts


def _ended(themes: Iterable[Theme], today: date) -> list[Programme]:
    """The programmes of `themes` if every one of them has ended by `today`, else []."""
    programmes = {t.programme.id: t.programme for t in themes}
    if not programmes or any(p.end >= today for p in programmes.values()):
        return []
    return sorted(programmes.values(), key=lambda p: p.code)


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
