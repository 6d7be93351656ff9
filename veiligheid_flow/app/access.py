"""Commands and queries of the web access: sign-in by link, who a session is, links in mail
that act on one task, calendar subscriptions and mail preferences. Each command is one unit
of work with an injected `now`; nothing here reads the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from veiligheid_flow.access import service as access
from veiligheid_flow.access.secrets import LinkError, TaskLink, client_digest, read_task_link
from veiligheid_flow.app.commands import _evaluate_task, _task_change
from veiligheid_flow.app.reading import read_only
from veiligheid_flow.app.views import TaskChange
from veiligheid_flow.authority import Actor, actor_for
from veiligheid_flow.bootstrap import App
from veiligheid_flow.errors import DomainError
from veiligheid_flow.limits import EMAIL_VALID
from veiligheid_flow.mail import compose
from veiligheid_flow.mail.sign_in import sign_in_link
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import TaskStatus


def _address(text: str) -> str:
    return text.strip().lower()[: EMAIL_VALID + 1]


def known(app: App, email: str) -> Actor | None:
    """The actor of a signed-in address, or None when nobody of that address serves any
    municipality (any more)."""
    with read_only(app) as session:
        actor = actor_for(session, _address(email))
    return actor if actor.roles else None


def request_sign_in(app: App, email: str, *, client_ip: str, now: datetime) -> bool:
    """Record a request for a sign-in link and, for a known address within the rate limit,
    put the link in the outbox. The caller shows the same answer either way; the return
    value (a link was written) is for tests and the log only."""
    address = _address(email)
    client = client_digest(client_ip, app.secret_key())
    with app.unit_of_work() as session:
        limited = access.limited(session, address, client, now)
        access.record_request(session, address, client, now)
        if limited or "@" not in address or not actor_for(session, address).roles:
            return False
        grant = access.grant_sign_in(session, address, client, now)
        url = f"{app.settings.web_url or ''}/aanmelden/link/{grant.token}"
        draft = sign_in_link(
            session,
            now=now,
            email=address,
            url=url,
            expires=grant.expires_at,
            request_id=grant.token[:12],
            site=app.site,
        )
        compose.enqueue(session, [draft], now=now, domain=app.settings.mail_domain)
    return True


def sign_in_state(app: App, token: str, *, now: datetime) -> str:
    with read_only(app) as session:
        return access.sign_in_state(session, token, now)


def redeem_sign_in(app: App, token: str, *, now: datetime) -> Actor | None:
    """The actor a valid link signs in (the link is then used up); None otherwise."""
    with app.unit_of_work() as session:
        email = access.redeem_sign_in(session, token, now)
    return known(app, email) if email else None


@dataclass(frozen=True)
class LinkCheck:
    """What a 'Gereed melden' link from a message may do: `problem` is a Dutch sentence when
    it may not (used, expired, someone else's)."""

    link: TaskLink | None
    problem: str | None


def _check(session: Session, key: str, token: str, actor: Actor | None, now: datetime) -> LinkCheck:
    try:
        link = read_task_link(key, token)
    except LinkError:
        return LinkCheck(None, "Deze link is niet geldig. Open de taak via Mijn werk.")
    if actor is not None and actor.email != link.email:
        return LinkCheck(link, "Deze link is voor iemand anders. Meld je af of open Mijn werk.")
    if link.expires <= now:
        return LinkCheck(link, "Deze link is verlopen. Meld de taak gereed via Mijn werk.")
    if access.link_used(session, link.digest):
        return LinkCheck(link, "Deze link is al gebruikt. De taak staat al gemeld.")
    return LinkCheck(link, None)


def check_task_link(app: App, token: str, actor: Actor | None, *, now: datetime) -> LinkCheck:
    """May this link from a message report its task done now (by `actor`, when signed in)?"""
    with read_only(app) as session:
        return _check(session, app.secret_key(), token, actor, now)


def finish_from_link(
    app: App, token: str, actor: Actor | None, *, now: datetime, note: str | None = None
) -> TaskChange:
    """Report the link's task done by the person the link was sent to, and use the link up,
    in one unit of work; raises DomainError with the Dutch reason when it may not."""
    try:
        with app.unit_of_work() as session:
            check = _check(session, app.secret_key(), token, actor, now)
            if check.problem or check.link is None:
                raise DomainError(check.problem or "ongeldige link")
            link = check.link
            access.use_link(session, link.digest, link.email, link.task_id, now)
            task = task_service.change_status(
                session=session,
                task_id=link.task_id,
                to=TaskStatus.DONE,
                by=link.email,
                now=now,
                note=note,
            )
            _evaluate_task(session, app, now, link.task_id)
            return _task_change(task)
    except IntegrityError as exc:  # the same link used at the same moment elsewhere
        raise DomainError("Deze link is al gebruikt. De taak staat al gemeld.") from exc


def new_calendar_feed(app: App, actor: Actor, *, now: datetime) -> str:
    """A new secret subscription address for the actor's deadlines (older ones stop)."""
    with app.unit_of_work() as session:
        return access.new_feed(session, actor.email, now)


def revoke_calendar_feed(app: App, actor: Actor, *, now: datetime) -> int:
    with app.unit_of_work() as session:
        return access.revoke_feeds(session, actor.email, now)


def calendar_feed_owner(app: App, secret: str) -> str | None:
    with read_only(app) as session:
        return access.feed_owner(session, secret)


def has_calendar_feed(app: App, actor: Actor) -> bool:
    with read_only(app) as session:
        return access.has_feed(session, actor.email)
