"""'Gereed melden' from a message: GET /gereed/<token> only shows what the task is and one
button (mail scanners open links); POST reports it done for the person the link was sent to.
No sign-in needed (the signed token names the person, for this one action); signed in as
someone else, the link is refused. Used, expired or altered links change nothing."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from veiligheid_flow.app import access, queries
from veiligheid_flow.app.access import LinkCheck
from veiligheid_flow.app.views import Actor
from veiligheid_flow.entrypoints.web.deps import page, reader, web
from veiligheid_flow.entrypoints.web.security import check_csrf
from veiligheid_flow.errors import DomainError

router = APIRouter()
OPEN = ("open", "in_progress")


def _status(check: LinkCheck, actor: Actor | None) -> int:
    """400: not a link of ours; 403: someone else's; 410: expired or used."""
    if check.link is None:
        return 400
    return 403 if actor is not None and actor.email != check.link.email else 410


def _problem(request: Request, actor: Actor | None, text: str, status: int) -> Response:
    return page(
        request, "done_link_problem.html", actor, text=text, status=status, title="Gereed melden"
    )


@router.get("/gereed/{token}")
def confirm(request: Request, token: str) -> Response:
    w = web(request)
    actor, now = reader(request), w.now()
    check = access.check_task_link(w.app, token, actor, now=now)
    if check.problem or check.link is None:
        return _problem(request, actor, check.problem or "", _status(check, actor))
    task = queries.task_detail(w.app, now=now, task_id=check.link.task_id)
    if task.status not in OPEN:
        text = f"Deze taak is al {task.status_label}; er is niets meer te melden."
        return _problem(request, actor, text, 410)
    person = access.known(w.app, check.link.email)
    return page(
        request,
        "done_link.html",
        actor,
        task=task,
        token=token,
        person=person.name if person else check.link.email,
        title="Gereed melden",
    )


@router.post("/gereed/{token}", dependencies=[Depends(check_csrf)])
def finish(request: Request, token: str) -> Response:
    w = web(request)
    actor, now = reader(request), w.now()
    try:
        change = access.finish_from_link(w.app, token, actor, now=now)
    except DomainError as exc:
        check = access.check_task_link(w.app, token, actor, now=now)
        if check.problem:
            return _problem(request, actor, check.problem, _status(check, actor))
        return _problem(request, actor, str(exc), 400)
    task = queries.task_detail(w.app, now=now, task_id=change.id)
    return page(request, "done_link_done.html", actor, task=task, title="Gereed gemeld")
