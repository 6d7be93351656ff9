"""The read side of the mail: the outbox, a digest preview, a person's deadlines as a
calendar. Nothing is sent or stored; `actor` limits what is shown as in every query."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from veiligheid_flow.app.queries_tasks import listed
from veiligheid_flow.app.reading import Names, read_only, refuse_unseen, view_at, visible
from veiligheid_flow.app.views import DraftView, OutboxItemView
from veiligheid_flow.authority import Actor, resolve_holder, resolve_person
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.errors import NotFound
from veiligheid_flow.mail import compose
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.mail.render import Deadline, deadlines_ics
from veiligheid_flow.mail.site import calendar_description, calendar_uid
from veiligheid_flow.programme.models import Programme
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import TaskStatus


def _codes(text: str) -> tuple[str, ...]:
    return tuple(c for c in text.split(",") if c)


def outbox(
    app: App,
    *,
    status: OutboxStatus | None = None,
    municipality: str | None = None,
    actor: Actor | None = None,
) -> list[OutboxItemView]:
    """The messages in the outbox (oldest first), of one status or all; with a municipality
    or a reader: the messages that carry that municipality's work."""
    with read_only(app) as session:
        codes = visible(session, actor, municipality)
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if status:
            query = query.where(OutboxMessage.status == status)
        rows = [_item(r) for r in session.scalars(query)]
    if codes is None:
        return rows
    return [r for r in rows if set(r.municipalities) & set(codes)]


def message(app: App, message_id: int, *, actor: Actor | None = None) -> OutboxItemView:
    """One outbox message with its Message-ID (what to look for in the mail log)."""
    with read_only(app) as session:
        row = session.get(OutboxMessage, message_id)
        item = _item(row) if row is not None else None
        codes = visible(session, actor, None)
    if item is None or (codes is not None and not set(item.municipalities) & set(codes)):
        raise NotFound(f"bericht {message_id} bestaat niet (of u mag het niet zien)")
    return item


def _item(row: OutboxMessage) -> OutboxItemView:
    return OutboxItemView(
        id=row.id,
        status=OutboxStatus(row.status).value,
        kind=row.kind,
        to=row.recipient,
        subject=row.subject,
        attempts=row.attempts,
        error=row.last_error,
        key=row.key,
        municipalities=_codes(row.municipalities),
        message_id=row.message_id,
        cc=tuple(row.cc or ()),
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def digest_preview(
    app: App,
    *,
    now: datetime,
    holder: str,
    municipality: str | None = None,
    actor: Actor | None = None,
) -> DraftView:
    """The weekly digest a portfolio holder would get at `now` (email, id or title)."""
    with view_at(app, now=now) as session:
        visible(session, actor, municipality)
        found = resolve_holder(session, holder, municipality)
        home = session.scalar(
            select(Programme.municipality_code).where(Programme.id == found.programme_id)
        )
        refuse_unseen(actor, {home} if home else set(), f"het weekoverzicht van {found.name}")
        draft = compose.digest(
            session, now=now, holder=found, book=app.rulebook(), site=app.site
        )
        return DraftView(draft.subject, draft.text, draft.html, draft.recipient)


def deadlines_calendar(
    app: App,
    *,
    now: datetime,
    person: str,
    municipality: str | None = None,
    actor: Actor | None = None,
) -> str:
    """The deadlines a person is responsible for, as an .ics feed (RFC 5545 text) with a
    calendar name and a refresh interval; work done or cancelled in the last 90 days is in it
    as cancelled, so a subscribed calendar drops it."""
    with view_at(app, now=now) as session:
        email = resolve_person(session, person, municipality)
        codes = visible(session, actor, municipality)
        found = listed(session, task_service.TaskFilter(owner=email), codes)
        closed = listed(
            session,
            task_service.TaskFilter(
                owner=email,
                status=(TaskStatus.DONE, TaskStatus.CANCELLED),
                due_after=local_date(now) - timedelta(days=FEED_CLOSED_DAYS),
            ),
            codes,
        )
        name = Names(session).ref(email).name
        return deadlines_ics(
            [
                Deadline(
                    calendar_uid(t),
                    f"Deadline: {t.title}",
                    t.due_date,
                    calendar_description(t),
                    cancelled=t.status in (TaskStatus.DONE, TaskStatus.CANCELLED),
                )
                for t in (*found, *closed)
                if t.responsible.email == email or t.owner.email == email
            ],
            now,
            domain=app.settings.mail_domain,
            name=f"Deadlines {name} (veiligheid)",
            refresh=FEED_REFRESH,
        )


FEED_CLOSED_DAYS = 90  # done work stays in the feed this long, as cancelled
FEED_REFRESH = timedelta(hours=1)
