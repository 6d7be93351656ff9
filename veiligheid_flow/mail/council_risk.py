"""The council risk alert: a crisis event has just put a council deadline at risk; sent at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow.crisis.models import Crisis
from veiligheid_flow.mail.render import dutch_date
from veiligheid_flow.mail.site import Site
from veiligheid_flow.programme.models import CouncilItem
from veiligheid_flow.rules.service import Change
from veiligheid_flow.tasks.models import Task

from .context import SITE, Context, Draft, _open_tasks


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
    ctx = Context(session, now, site)
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
