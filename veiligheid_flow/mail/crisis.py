"""The crisis notice: one message per person whose work a crisis event pauses, hands over or
resumes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from veiligheid_flow.clock import LOCAL_TZ
from veiligheid_flow.crisis.models import Crisis
from veiligheid_flow.mail.site import Site
from veiligheid_flow.programme.models import Person, Programme
from veiligheid_flow.rules.service import Change, crisis_facts
from veiligheid_flow.tasks.models import Task

from .context import NOTICE_LINES, SITE, Context, Draft, _count, _ics_for, _open_tasks

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
    ctx = Context(session, now, site)
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


def _coordinators(ctx: Context, programmes: Iterable[Programme], recipient: str) -> list[dict]:
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
