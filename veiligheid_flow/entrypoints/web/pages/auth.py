"""Sign-in by a one-time link in mail, and sign-out. The answer to a request is the same
whether the address is known or not; the link opens a confirm page (mail scanners open
links), and only its button signs in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from veiligheid_flow.app import access
from veiligheid_flow.app.jobs import dispatch_outbox
from veiligheid_flow.entrypoints.web.deps import SESSION_USER, page, reader, web
from veiligheid_flow.entrypoints.web.security import check_csrf

router = APIRouter()
STATES = {
    "gebruikt": "Deze aanmeldlink is al gebruikt. Vraag hieronder een nieuwe aan.",
    "verlopen": "Deze aanmeldlink is verlopen (hij werkt 15 minuten). Vraag een nieuwe aan.",
    "onbekend": "Deze aanmeldlink kennen we niet. Vraag hieronder een nieuwe aan.",
}


def _next(target: str | None) -> str:
    """Only a path on this site (no //host, no scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def sign_in_page(
    request: Request,
    *,
    problem: str | None = None,
    sent: bool = False,
    target: str = "/",
    status: int = 200,
) -> Response:
    oidc = bool(web(request).app.settings.oidc_issuer)
    label = web(request).app.settings.oidc_label
    return page(
        request,
        "sign_in.html",
        None,
        problem=problem,
        sent=sent,
        target=target,
        oidc=oidc,
        oidc_label=label,
        title="Aanmelden",
        status=status,
    )


@router.get("/aanmelden")
def sign_in_form(request: Request, volgende: str | None = None) -> Response:
    if reader(request) is not None:
        return RedirectResponse(_next(volgende), status_code=303)
    return sign_in_page(request, target=_next(volgende))


@router.post("/aanmelden", dependencies=[Depends(check_csrf)])
def ask_for_link(
    request: Request,
    background: BackgroundTasks,
    email: Annotated[str, Form(max_length=400)] = "",
    volgende: Annotated[str, Form(max_length=400)] = "/",
) -> Response:
    w = web(request)
    if not email.strip():
        return sign_in_page(request, problem="Vul je e-mailadres in.", status=400)
    now = w.now()
    ip = request.client.host if request.client else "onbekend"
    request.session["volgende"] = _next(volgende)
    if access.request_sign_in(w.app, email, client_ip=ip, now=now):
        background.add_task(dispatch_outbox, w.app, now=now)  # after the answer: same timing
    return sign_in_page(request, sent=True)


@router.get("/aanmelden/link/{token}")
def link_page(request: Request, token: str) -> Response:
    w = web(request)
    state = access.sign_in_state(w.app, token, now=w.now())
    if state != "geldig":
        return sign_in_page(request, problem=STATES[state], status=410)
    return page(request, "sign_in_confirm.html", None, token=token, title="Aanmelden")


@router.post("/aanmelden/link/{token}", dependencies=[Depends(check_csrf)])
def use_link(request: Request, token: str) -> Response:
    w = web(request)
    actor = access.redeem_sign_in(w.app, token, now=w.now())
    if actor is None:
        state = access.sign_in_state(w.app, token, now=w.now())
        return sign_in_page(request, problem=STATES.get(state, STATES["onbekend"]), status=410)
    target = _next(request.session.get("volgende"))
    request.session.clear()  # a new session: nothing of before the sign-in carries over
    request.session[SESSION_USER] = actor.email
    return RedirectResponse(target, status_code=303)


@router.post("/afmelden", dependencies=[Depends(check_csrf)])
def sign_out(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/aanmelden", status_code=303)
