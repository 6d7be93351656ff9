"""Afwezigheid: everyone registers and cancels their own absences; a coordinator also those
of the people of their municipality. The commands check who may (a refusal is 403 and
changes nothing); input that cannot be read gives one Dutch line on the page."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from veiligheid_flow.app import commands, queries_admin
from veiligheid_flow.app.views import Actor
from veiligheid_flow.clock import local_date
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.entrypoints.web.security import check_csrf
from veiligheid_flow.errors import DomainError, NotFound, Refused

router = APIRouter()
REASON_MAX = 200
Field = Annotated[str, Form()]
DONE = {
    "vastgelegd": "De afwezigheid is vastgelegd.",
    "ingetrokken": "De afwezigheid is ingetrokken.",
}


class BadInput(ValueError):
    pass


def _day(text: str, name: str) -> date:
    if not text.strip():
        raise BadInput(f"Vul de {name} in.")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"De {name} is geen geldige datum; kies een dag (jjjj-mm-dd).") from None


def _absence_page(
    request: Request,
    actor: Actor,
    *,
    problem: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    w = web(request)
    view = queries_admin.absences(w.app, now=w.now(), actor=actor)
    today = local_date(w.now())
    return page(
        request,
        "absence.html",
        actor,
        status=400 if problem else 200,
        view=view,
        current=[a for a in view.absences if not a.cancelled and a.end >= today],
        past=[a for a in view.absences if a.cancelled or a.end < today],
        problem=problem,
        done=DONE.get(request.query_params.get("gedaan") or ""),
        form=form or {"person": actor.email, "start": "", "end": "", "reason": ""},
        reason_max=REASON_MAX,
        active="afwezigheid",
        title="Afwezigheid",
    )


@router.get("/afwezigheid")
def absences(request: Request, actor: Annotated[Actor, Depends(signed_in)]) -> Response:
    return _absence_page(request, actor)


@router.post("/afwezigheid", dependencies=[Depends(check_csrf)])
def add(
    request: Request,
    actor: Annotated[Actor, Depends(signed_in)],
    person: Field = "",
    start: Field = "",
    end: Field = "",
    reason: Field = "",
) -> Response:
    w = web(request)
    form = {"person": person.strip(), "start": start.strip(), "end": end.strip(), "reason": reason}
    try:
        if not form["person"]:
            raise BadInput("Kies voor wie de afwezigheid is.")
        first, last = _day(start, "begindatum"), _day(end, "einddatum")
        text = " ".join(reason.split())
        if len(text) > REASON_MAX:
            raise BadInput(f"De reden is te lang: hoogstens {REASON_MAX} tekens.")
        commands.add_absence(
            w.app, form["person"], start=first, end=last, by=actor, now=w.now(), reason=text or None
        )
    except (NotFound, Refused):
        raise
    except (BadInput, DomainError) as exc:
        return _absence_page(request, actor, problem=_sentence(str(exc)), form=form)
    return RedirectResponse("/afwezigheid?gedaan=vastgelegd", status_code=303)


@router.post("/afwezigheid/{absence_id}/intrekken", dependencies=[Depends(check_csrf)])
def cancel(
    request: Request, absence_id: int, actor: Annotated[Actor, Depends(signed_in)]
) -> Response:
    w = web(request)
    commands.cancel_absence(w.app, absence_id, by=actor, now=w.now())
    return RedirectResponse("/afwezigheid?gedaan=ingetrokken", status_code=303)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
