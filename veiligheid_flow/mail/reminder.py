"""The reminder: one message per responsible person listing tasks whose lead day has come."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlalchemy.orm import Session

from veiligheid_flow.access import service as access
from veiligheid_flow.mail.site import Site
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks.models import Task

from .context import SITE, Context, Draft, _count, _ics_for, _open_tasks, _running


def reminders(
    session: Session, *, now: datetime, book: RuleBook, since: date, site: Site = SITE
) -> list[Draft]:
    """One email per responsible person listing tasks whose lead day fell in (since, today].
    A person's own lead (Instellingen) replaces the rules' first (largest) lead; the rules'
    later leads below it stay."""
    ctx = Context(session, now, site)
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
