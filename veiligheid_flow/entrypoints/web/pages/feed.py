"""The live calendar: GET /agenda/<secret>.ics, without sign-in (a calendar app subscribes
without a session). The secret names the feed's owner; an unknown or revoked one is 404."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from veiligheid_flow.app import access, queries
from veiligheid_flow.entrypoints.web.deps import web
from veiligheid_flow.errors import NotFound

router = APIRouter()
GONE = "Dit agenda-adres bestaat niet (meer). Maak een nieuw adres onder Instellingen."


@router.get("/agenda/{secret}.ics")
def calendar_feed(request: Request, secret: str) -> Response:
    w = web(request)
    owner = access.calendar_feed_owner(w.app, secret)
    actor = access.known(w.app, owner) if owner else None
    if owner is None or actor is None:  # unknown, revoked, or the owner left
        raise NotFound(GONE)
    feed = queries.deadlines_calendar(w.app, now=w.now(), person=owner, actor=actor)
    return Response(
        feed,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": 'inline; filename="deadlines.ics"'},
    )
