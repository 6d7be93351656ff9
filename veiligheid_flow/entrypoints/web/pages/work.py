"""Mijn werk, one task's page, and what a person does with a task: start, report done with a
note, hand over to the backup, reopen. Every change goes through the application layer's
commands with the signed-in person, so it is checked and audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from veiligheid_flow.app import commands, queries, queries_web
from veiligheid_flow.app.views import Actor, TaskStatus
from veiligheid_flow.entrypoints.web.deps import page, signed_in, web
from veiligheid_flow.entrypoints.web.security import check_csrf
from veiligheid_flow.errors import NotFound, Refused

router = APIRouter()
Note = Annotated[str, Form(max_length=2000)]


@router.get("/")
def my_work(request: Request, actor: Annotated[Actor, Depends(signed_in)]) -> Response:
    w = web(request)
    work = queries_web.my_work(w.app, now=w.now(), actor=actor)
    return page(request, "work.html", actor, work=work, active="werk", title="Mijn werk")


def task_or_404(request: Request, actor: Actor, task_id: int):  # type: ignore[no-untyped-def]
    """The task's detail; another municipality's task is not found (it does not exist for
    this reader), not merely refused."""
    w = web(request)
    try:
        return queries.task_detail(w.app, now=w.now(), task_id=task_id, actor=actor)
    except Refused as exc:
        raise NotFound(f"taak {task_id} bestaat niet") from exc


@router.get("/taak/{task_id}")
def task_page(
    request: Request, task_id: int, actor: Annotated[Actor, Depends(signed_in)]
) -> Response:
    task = task_or_404(request, actor, task_id)
    done = request.query_params.get("gedaan")
    return page(request, "task.html", actor, task=task, done=done, title=task.title)


def _act(
    request: Request, task_id: int, actor: Actor, change: Callable[[], object], said: str
) -> Response:
    task_or_404(request, actor, task_id)
    change()
    return RedirectResponse(f"/taak/{task_id}?gedaan={said}", status_code=303)


@router.post("/taak/{task_id}/start", dependencies=[Depends(check_csrf)])
def start(request: Request, task_id: int, actor: Annotated[Actor, Depends(signed_in)]) -> Response:
    w = web(request)
    return _act(
        request,
        task_id,
        actor,
        lambda: commands.change_status(
            w.app, task_id, TaskStatus.IN_PROGRESS, by=actor, now=w.now()
        ),
        "gestart",
    )


@router.post("/taak/{task_id}/gereed", dependencies=[Depends(check_csrf)])
def done(
    request: Request, task_id: int, actor: Annotated[Actor, Depends(signed_in)], note: Note = ""
) -> Response:
    w = web(request)
    return _act(
        request,
        task_id,
        actor,
        lambda: commands.change_status(
            w.app, task_id, TaskStatus.DONE, by=actor, now=w.now(), note=note.strip() or None
        ),
        "gereed",
    )


@router.post("/taak/{task_id}/overdragen", dependencies=[Depends(check_csrf)])
def hand_over(
    request: Request, task_id: int, actor: Annotated[Actor, Depends(signed_in)], note: Note = ""
) -> Response:
    w = web(request)
    return _act(
        request,
        task_id,
        actor,
        lambda: commands.reassign(
            w.app, task_id, by=actor, now=w.now(), reason=note.strip() or None
        ),
        "overgedragen",
    )


@router.post("/taak/{task_id}/heropenen", dependencies=[Depends(check_csrf)])
def reopen(
    request: Request, task_id: int, actor: Annotated[Actor, Depends(signed_in)], note: Note = ""
) -> Response:
    w = web(request)
    return _act(
        request,
        task_id,
        actor,
        lambda: commands.change_status(
            w.app, task_id, TaskStatus.OPEN, by=actor, now=w.now(), note=note.strip() or None
        ),
        "heropend",
    )
