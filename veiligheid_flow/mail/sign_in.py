"""The sign-in link message: one per request, sent at once; its body is blanked once sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from veiligheid_flow.clock import LOCAL_TZ
from veiligheid_flow.mail.context import SITE, Context, Draft
from veiligheid_flow.mail.dispatch import SECRET_KIND
from veiligheid_flow.mail.site import Site


def sign_in_link(
    session: Session,
    *,
    now: datetime,
    email: str,
    url: str,
    expires: datetime,
    request_id: str,
    site: Site = SITE,
) -> Draft:
    ctx = Context(session, now, site)
    subject = "Je aanmeldlink voor de webapp Veiligheid"
    return ctx.draft(
        SECRET_KIND,
        key=f"{SECRET_KIND}:{email}:{request_id}",
        to=email,
        subject=subject,
        heading="Aanmelden",
        url=url,
        expires=expires.astimezone(LOCAL_TZ),
        minutes=int((expires - now).total_seconds() // 60),
    )
