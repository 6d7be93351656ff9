"""Portefeuille: a portfolio holder's board (only the themes they hold: progress, late and
paused work, council items, this year's budget, what a crisis pauses) and the priority of
one task of their themes, set or cleared with a reason through the application's commands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from veiligheid_flow.app import commands, queries, queries_board
from veiligheid_flow.app.queries import LogFilter
from veiligheid_flow.app.views import Actor
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.entrypoints.web.security import check_csrf
from veiligheid_flow.errors import DomainError

router = APIRouter()
Reason = Annotated[str, Form(max_length=2000)]
Text = Annotated[str, Form(max_length=40)]
SAID = {"gezet": "De prioriteit is gezet.", "weggehaald": "De prioriteit is weggehaald."}


def holder(actor: Annotated[Actor, Depends(signed_in)]) -> Actor:
    """The signed-in portfolio holder; anyone else is refused (403)."""
    queries_board.require_holder(actor)
    return actor


Holder = Annotated[Actor, Depends(holder)]


@router.get("/portefeuille")
def board_page(request: Request, actor: Holder) -> Response:
    w = web(request)
    board = queries_board.board(w.app, now=w.now(), actor=actor)
    return page(
        request, "board.html", actor, board=board, active="portefeuille", title="Portefeuille"
    )


@router.get("/portefeuille/prioriteit")
def find_task(request: Request, actor: Holder, taak: str = "") -> Response:
    """The task-number field of the board: to that task's priority page."""
    if not taak.strip().isdigit():
        raise DomainError("Geef het nummer van een taak (bijvoorbeeld 143).")
    return RedirectResponse(f"/portefeuille/taak/{int(taak)}/prioriteit", status_code=303)


def _priority_page(
    request: Request, actor: Actor, task_id: int, *, problem: str | None = None
) -> Response:
    w = web(request)
    task = queries_board.priority_task(w.app, now=w.now(), task_id=task_id, actor=actor)
    history = queries.audit_log(
        w.app,
        now=w.now(),
        filters=LogFilter(task=task_id, action="priority", limit=10),
        actor=actor,
    )
    return page(
        request,
        "board_priority.html",
        actor,
        status=400 if problem else 200,
        task=task,
        tiers=queries_board.TIERS,
        history=history.items,
        problem=problem,
        said=SAID.get(request.query_params.get("gedaan", "")),
        active="portefeuille",
        title=f"Prioriteit: {task.title}",
    )


@router.get("/portefeuille/taak/{task_id}/prioriteit")
def priority_page(request: Request, task_id: int, actor: Holder) -> Response:
    return _priority_page(request, actor, task_id)


@router.post("/portefeuille/taak/{task_id}/prioriteit", dependencies=[Depends(check_csrf)])
def set_priority(
    request: Request, task_id: int, actor: Holder, klasse: Text = "", reden: Reason = ""
) -> Response:
    w = web(request)
    queries_board.priority_task(w.app, now=w.now(), task_id=task_id, actor=actor)  # 404/403
    tier = int(klasse) if klasse.strip().isdigit() else 0
    if tier not in queries_board.TIERS:
        return _priority_page(request, actor, task_id, problem="Kies een prioriteit.")
    if not reden.strip():
        return _priority_page(request, actor, task_id, problem="Geef een reden.")
    commands.set_priority(w.app, task_id, tier=tier, by=actor, reason=reden.strip(), now=w.now())
    return RedirectResponse(f"/portefeuille/taak/{task_id}/prioriteit?gedaan=gezet", 303)


@router.post("/portefeuille/taak/{task_id}/prioriteit/weghalen", dependencies=[Depends(check_csrf)])
def clear_priority(request: Request, task_id: int, actor: Holder) -> Response:
    w = web(request)
    queries_board.priority_task(w.app, now=w.now(), task_id=task_id, actor=actor)  # 404/403
    commands.clear_priority(w.app, task_id, by=actor, now=w.now())
    return RedirectResponse(f"/portefeuille/taak/{task_id}/prioriteit?gedaan=weggehaald", 303)
