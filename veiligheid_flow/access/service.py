"""Web access in one session (the caller's unit of work commits): sign-in links with their
rate limit, used mail links, calendar feeds and preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from veiligheid_flow.access.models import (
    CalendarFeed,
    Preference,
    SignInRequest,
    SignInToken,
    UsedLink,
)
from veiligheid_flow.access.secrets import digest, new_token

SIGN_IN_VALID = timedelta(minutes=15)
RATE_WINDOW = timedelta(hours=1)
PER_ADDRESS = 5  # sign-in requests per address per hour
PER_CLIENT = 20  # sign-in requests per IP address per hour


@dataclass(frozen=True)
class SignInGrant:
    """A new sign-in link's secret (mail it; only its digest is stored)."""

    token: str
    expires_at: datetime


def limited(session: Session, email: str, client: str, now: datetime) -> bool:
    """Has this address or this client asked too often in the last hour?"""
    since = now - RATE_WINDOW
    recent = select(func.count()).select_from(SignInRequest).where(SignInRequest.at > since)
    by_address = session.scalar(recent.where(SignInRequest.email == email)) or 0
    by_client = session.scalar(recent.where(SignInRequest.client == client)) or 0
    return by_address >= PER_ADDRESS or by_client >= PER_CLIENT


def record_request(session: Session, email: str, client: str, now: datetime) -> None:
    session.add(SignInRequest(email=email, client=client, at=now))


def grant_sign_in(session: Session, email: str, client: str, now: datetime) -> SignInGrant:
    token = new_token()
    expires = now + SIGN_IN_VALID
    session.add(
        SignInToken(
            digest=digest(token), email=email, client=client, created_at=now, expires_at=expires
        )
    )
    return SignInGrant(token, expires)


def redeem_sign_in(session: Session, token: str, now: datetime) -> str | None:
    """The address a valid, unused, unexpired link was sent to (and the link is used up);
    None otherwise. One UPDATE, so two tabs cannot both use it."""
    if not token or len(token) > 200:
        return None
    key = digest(token)
    used = session.execute(
        update(SignInToken)
        .where(
            SignInToken.digest == key,
            SignInToken.used_at.is_(None),
            SignInToken.expires_at > now,
            SignInToken.created_at <= now,
        )
        .values(used_at=now)
        .returning(SignInToken.email)
    ).first()
    return used[0] if used else None


def sign_in_state(session: Session, token: str, now: datetime) -> str:
    """'geldig', 'gebruikt', 'verlopen' or 'onbekend', for the page a link opens."""
    row = session.scalar(select(SignInToken).where(SignInToken.digest == digest(token[:200])))
    if row is None:
        return "onbekend"
    if row.used_at is not None:
        return "gebruikt"
    return "verlopen" if row.expires_at <= now or row.created_at > now else "geldig"


def link_used(session: Session, link_digest: str) -> bool:
    return session.get(UsedLink, link_digest) is not None


def use_link(session: Session, link_digest: str, email: str, task_id: int, now: datetime) -> None:
    """Mark a mail link used (the primary key refuses a second use, also a concurrent one)."""
    session.add(UsedLink(digest=link_digest, email=email, task_id=task_id, used_at=now))
    session.flush()


def new_feed(session: Session, email: str, now: datetime) -> str:
    """A new secret calendar address for `email`; earlier ones stop working."""
    revoke_feeds(session, email, now)
    secret = new_token()
    session.add(CalendarFeed(digest=digest(secret), email=email, created_at=now))
    return secret


def revoke_feeds(session: Session, email: str, now: datetime) -> int:
    result = session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.email == email, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount or 0


def feed_owner(session: Session, secret: str) -> str | None:
    if not secret or len(secret) > 200:
        return None
    return session.scalar(
        select(CalendarFeed.email).where(
            CalendarFeed.digest == digest(secret), CalendarFeed.revoked_at.is_(None)
        )
    )


def has_feed(session: Session, email: str) -> bool:
    query = select(CalendarFeed.id).where(
        CalendarFeed.email == email, CalendarFeed.revoked_at.is_(None)
    )
    return session.scalar(query) is not None


def preference(session: Session, email: str) -> Preference | None:
    return session.get(Preference, email)


def preferences(session: Session) -> dict[str, Preference]:
    return {p.email: p for p in session.scalars(select(Preference))}


def set_preference(
    session: Session, email: str, *, lead_days: int | None, digest_wanted: bool, now: datetime
) -> Preference:
    row = session.get(Preference, email)
    if row is None:
        row = Preference(email=email)
        session.add(row)
    row.lead_days, row.digest, row.updated_at = lead_days, digest_wanted, now
    session.flush()
    return row
