"""Berichten, for coordinators: the outbox of the municipalities they coordinate, by status;
one message's page with its Message-ID, and the two things to do with a message that did not
go out cleanly: queue it again, or confirm it was sent (typing the Message-ID found in the
mail log, so nobody confirms the wrong message by a click)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from veiligheid_flow.app import commands, queries, queries_admin
from veiligheid_flow.app.views import OUTBOX_LABELS, Actor, OutboxItemView, parse_outbox_status
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.entrypoints.web.security import check_csrf
from veiligheid_flow.errors import DomainError, NotFound, Refused

router = APIRouter()
DONE = {
    "opnieuw": "Het bericht staat weer klaar om te versturen.",
    "bevestigd": "Het bericht staat als verstuurd.",
}


@router.get("/berichten")
def outbox(
    request: Request, actor: Annotated[Actor, Depends(signed_in)], status: str | None = None
) -> Response:
    w = web(request)
    reader = queries_admin.as_coordinator(actor)
    problem, chosen = None, None
    if status:
        try:
            chosen = parse_outbox_status(status)
        except ValueError:
            problem = f"‘{status}’ is geen status van een bericht; alle berichten staan hieronder."
    items = queries.outbox(w.app, status=chosen, actor=reader)
    return page(
        request,
        "messages.html",
        actor,
        status=400 if problem else 200,
        items=list(reversed(items)),
        chosen=chosen.value if chosen else "",
        labels=OUTBOX_LABELS,
        kind=queries_admin.message_kind,
        problem=problem,
        active="berichten",
        title="Berichten",
    )


def _message(request: Request, actor: Actor, message_id: int) -> OutboxItemView:
    """The message, if the reader coordinates a municipality it concerns (else not found)."""
    reader = queries_admin.as_coordinator(actor)
    return queries.message(web(request).app, message_id, actor=reader)


def _message_page(
    request: Request,
    actor: Actor,
    item: OutboxItemView,
    *,
    problem: str | None = None,
    typed: str = "",
) -> Response:
    done = DONE.get(request.query_params.get("gedaan") or "")
    return page(
        request,
        "messages_show.html",
        actor,
        status=400 if problem else 200,
        item=item,
        kind=queries_admin.message_kind,
        problem=problem,
        done=done,
        typed=typed,
        active="berichten",
        title=f"Bericht {item.id}",
    )


@router.get("/berichten/{message_id}")
def show(
    request: Request, message_id: int, actor: Annotated[Actor, Depends(signed_in)]
) -> Response:
    return _message_page(request, actor, _message(request, actor, message_id))


@router.post("/berichten/{message_id}/opnieuw", dependencies=[Depends(check_csrf)])
def retry(
    request: Request, message_id: int, actor: Annotated[Actor, Depends(signed_in)]
) -> Response:
    w = web(request)
    item = _message(request, actor, message_id)
    try:
        commands.retry_message(w.app, message_id, by=actor, now=w.now())
    except (NotFound, Refused):
        raise
    except DomainError as exc:
        return _message_page(request, actor, item, problem=_sentence(str(exc)))
    return RedirectResponse(f"/berichten/{message_id}?gedaan=opnieuw", status_code=303)


@router.post("/berichten/{message_id}/bevestigen", dependencies=[Depends(check_csrf)])
def confirm(
    request: Request,
    message_id: int,
    actor: Annotated[Actor, Depends(signed_in)],
    message_id_header: Annotated[str, Form(alias="message_id")] = "",
) -> Response:
    w = web(request)
    item = _message(request, actor, message_id)
    typed = message_id_header.strip()[:400]
    if not typed:
        return _message_page(
            request, actor, item, problem="Typ de Message-ID uit de maillog over om te bevestigen."
        )
    try:
        commands.confirm_message(w.app, message_id, by=actor, now=w.now(), header=typed)
    except (NotFound, Refused):
        raise
    except DomainError as exc:
        said = _sentence(str(exc))
        if typed.strip("<>") != item.message_id.strip("<>"):  # the command's line names CLI flags
            said = (
                f"Deze Message-ID is niet die van bericht {message_id}; er is niets bevestigd. "
                "Zoek de Message-ID hierboven op in de maillog en typ hem precies over."
            )
        return _message_page(request, actor, item, problem=said, typed=typed)
    return RedirectResponse(f"/berichten/{message_id}?gedaan=bevestigd", status_code=303)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
