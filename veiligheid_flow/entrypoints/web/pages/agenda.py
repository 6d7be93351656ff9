"""De termijnagenda: the council items of the reader's municipalities by submission
deadline, nearest first; items whose deadline passed are listed apart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from veiligheid_flow.app import queries
from veiligheid_flow.app.views import Actor
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web

router = APIRouter()


@router.get("/termijnagenda")
def agenda(request: Request, actor: Annotated[Actor, Depends(signed_in)]) -> Response:
    w = web(request)
    items = queries.council_agenda(w.app, now=w.now(), actor=actor)
    coming = [i for i in items if i.days_left >= 0]
    passed = sorted((i for i in items if i.days_left < 0), key=lambda i: -i.days_left)
    return page(
        request,
        "agenda.html",
        actor,
        coming=coming,
        passed=passed,
        several=len({i.municipality for i in items}) > 1,
        active="termijnagenda",
        title="Termijnagenda",
    )
