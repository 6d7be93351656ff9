"""Instellingen: a person's reminder lead and (for portfolio holders) the weekly digest, and
the live calendar subscription: make a new secret address (shown once) or revoke it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from veiligheid_flow.app import access, preferences
from veiligheid_flow.app.views import Actor
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.entrypoints.web.security import check_csrf
from veiligheid_flow.errors import DomainError

router = APIRouter()
SAVED = {
    "opgeslagen": "Je instellingen zijn opgeslagen.",
    "ingetrokken": "Het agenda-adres is ingetrokken: een agenda met dit abonnement krijgt "
    "niets meer.",
}


def settings_page(
    request: Request,
    actor: Actor,
    *,
    problem: str | None = None,
    notice: str | None = None,
    feed_url: str | None = None,
    status: int = 200,
) -> Response:
    w = web(request)
    return page(
        request,
        "settings.html",
        actor,
        prefs=preferences.preferences(w.app, actor=actor),
        has_feed=access.has_calendar_feed(w.app, actor),
        feed_url=feed_url,
        problem=problem,
        notice=notice,
        active="instellingen",
        title="Instellingen",
        status=status,
    )


@router.get("/instellingen")
def show(
    request: Request, actor: Annotated[Actor, Depends(signed_in)], gedaan: str | None = None
) -> Response:
    return settings_page(request, actor, notice=SAVED.get(gedaan or ""))


@router.post("/instellingen", dependencies=[Depends(check_csrf)])
def save(
    request: Request,
    actor: Annotated[Actor, Depends(signed_in)],
    lead: Annotated[str, Form(max_length=10)] = "",
    digest: Annotated[str, Form(max_length=10)] = "ja",
) -> Response:
    w = web(request)
    try:
        days = int(lead) if lead.strip() else None
    except ValueError:
        return settings_page(request, actor, problem="Kies een aantal werkdagen.", status=400)
    try:
        preferences.set_preferences(
            w.app, by=actor, now=w.now(), lead_days=days, digest=digest != "nee"
        )
    except DomainError as exc:
        return settings_page(request, actor, problem=str(exc), status=400)
    return RedirectResponse("/instellingen?gedaan=opgeslagen", status_code=303)


def _feed_url(request: Request, secret: str) -> str:
    base = web(request).app.settings.web_url or str(request.base_url)
    return f"{base.rstrip('/')}/agenda/{secret}.ics"


@router.post("/instellingen/agenda", dependencies=[Depends(check_csrf)])
def new_feed(request: Request, actor: Annotated[Actor, Depends(signed_in)]) -> Response:
    """A new secret address, shown on this answer only (never stored, never in a URL)."""
    w = web(request)
    secret = access.new_calendar_feed(w.app, actor, now=w.now())
    return settings_page(request, actor, feed_url=_feed_url(request, secret))


@router.post("/instellingen/agenda/intrekken", dependencies=[Depends(check_csrf)])
def revoke_feed(request: Request, actor: Annotated[Actor, Depends(signed_in)]) -> Response:
    w = web(request)
    access.revoke_calendar_feed(w.app, actor, now=w.now())
    return RedirectResponse("/instellingen?gedaan=ingetrokken", status_code=303)
