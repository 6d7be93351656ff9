"""What every route needs: the application, the clock, who is signed in, and the page
renderer that puts the frame (crisis banner, fixed clock, programme ended) on every page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from veiligheid_flow.app import access, queries_web
from veiligheid_flow.app.views import Actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.web.clock import WebClock
from veiligheid_flow.entrypoints.web.security import csrf_token
from veiligheid_flow.wording import count, dutch_date, dutch_moment

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"
SESSION_USER = "user"


@dataclass(frozen=True)
class Web:
    app: App
    clock: WebClock
    templates: Jinja2Templates

    def now(self) -> datetime:
        return self.clock.now()


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters["datum"] = dutch_date
    env.filters["moment"] = dutch_moment
    env.globals["aantal"] = count
    return templates


def web(request: Request) -> Web:
    return request.app.state.web


class SignInRequired(Exception):
    """No (valid) session: the handler sends the reader to the sign-in page."""


def reader(request: Request) -> Actor | None:
    """The signed-in person, checked against the programme files on every request (someone
    who left is signed out)."""
    email = request.session.get(SESSION_USER)
    if not email:
        return None
    actor = access.known(web(request).app, email)
    if actor is None:
        request.session.clear()
    return actor


def signed_in(request: Request) -> Actor:
    actor = reader(request)
    if actor is None:
        raise SignInRequired(request.url.path)
    return actor


def page(
    request: Request, template: str, actor: Actor | None, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page with the frame: who is signed in, the active crises they may see, a
    fixed clock, programmes that ended, and the CSRF token for its forms."""
    w = web(request)
    now = w.now()
    frame = queries_web.frame(w.app, now=now, actor=actor) if actor else None
    return w.templates.TemplateResponse(
        request,
        template,
        {
            "actor": actor,
            "frame": frame,
            "now": now,
            "fixed_clock": w.clock.fixed is not None,
            "csrf": csrf_token(request),
            **context,
        },
        status_code=status,
    )
