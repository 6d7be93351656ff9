"""The weekly digest: one message per portfolio holder on their themes, council items, budget
and running crises."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from veiligheid_flow.access import service as access
from veiligheid_flow.clock import LOCAL_TZ
from veiligheid_flow.mail.render import count, dutch_date
from veiligheid_flow.mail.site import Site
from veiligheid_flow.programme.budget import realised_by_theme
from veiligheid_flow.programme.models import (
    CouncilItem,
    PortfolioHolder,
    Programme,
    Theme,
    theme_holder,
)
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks.models import Task, TaskStatus

from .context import SITE, Context, Draft

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
    ctx = Context(session, now, site)
    horizon = ctx.today + timedelta(weeks=DIGEST_WEEKS)
    holders = _current_holders(session, ctx.today)[holder.email]
    data = _digest_data(session, ctx.today, horizon)
    return _digest(ctx, holders, data, book.escalation_rule_ids())


DIGEST_WEEKS = 6


def _digest(
    ctx: Context, holders: list[PortfolioHolder], data: _DigestData, escalations: frozenset[str]
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
    ctx = Context(session, now, site)
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
