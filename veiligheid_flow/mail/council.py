"""The council alert: a council item's submission deadline is coming (termijnagenda)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow.mail.render import Deadline, deadlines_ics, dutch_date
from veiligheid_flow.mail.site import Site
from veiligheid_flow.programme.models import CouncilItem
from veiligheid_flow.rules.tables import RuleBook

from .context import SITE, Context, Draft, _open_tasks


def council_alerts(
    session: Session, *, now: datetime, book: RuleBook, since: date, site: Site = SITE
) -> list[Draft]:
    ctx = Context(session, now, site)
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
