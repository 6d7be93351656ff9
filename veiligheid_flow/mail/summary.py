"""The start summary: after a load or a long stop, one message per person with their late and
coming work, instead of the notices the stop piled up."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from veiligheid_flow.mail.site import Site
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks.models import Task

from .context import NOTICE_LINES, SITE, Context, Draft, _count, _open_tasks, _running

SUMMARY_AHEAD_WORKING_DAYS = 10  # a start summary also lists what is due this soon


def start_summaries(
    session: Session, *, now: datetime, book: RuleBook, site: Site = SITE
) -> list[Draft]:
    """On a fresh start (the first run after a load, or after a long stop): one message per
    person with their late and coming work, labelled as a summary, instead of the history of
    overdue notices and escalations that the stop piled up."""
    ctx = Context(session, now, site)
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
