"""The web app: `create_app(app, clock)` wires middleware, static files, error pages and every
page module in `pages/` (each exposes a `router`)."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from veiligheid_flow.app.errors import infrastructure_problem
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.web import pages
from veiligheid_flow.entrypoints.web.clock import WebClock
from veiligheid_flow.entrypoints.web.deps import SignInRequired, Web, make_templates, page, reader
from veiligheid_flow.entrypoints.web.security import SecurityHeaders
from veiligheid_flow.errors import DomainError, NotFound, Refused

STATIC = Path(__file__).resolve().parent / "static"
SESSION_HOURS = 8
log = logging.getLogger("veiligheid_flow.web")


def create_app(app: App, clock: WebClock | None = None) -> FastAPI:
    web = FastAPI(title="Veiligheid", docs_url=None, redoc_url=None, openapi_url=None)
    web.state.web = Web(app=app, clock=clock or WebClock(), templates=make_templates())
    https = (app.settings.web_url or "").startswith("https://")
    web.add_middleware(
        SessionMiddleware,
        secret_key=app.secret_key(),
        session_cookie="veiligheid_sessie",
        max_age=SESSION_HOURS * 3600,
        same_site="lax",
        https_only=https,
    )
    web.add_middleware(SecurityHeaders, https=https)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in pkgutil.iter_modules(pages.__path__):
        web.include_router(importlib.import_module(f"{pages.__name__}.{module.name}").router)
    _error_pages(web)
    return web


def _error_pages(web: FastAPI) -> None:
    @web.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(f"/aanmelden?volgende={exc.args[0]}", status_code=303)

    @web.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _problem(request, 404, "Niet gevonden", str(exc))

    @web.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return _problem(request, 403, "Geen toegang", str(exc))

    @web.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        return _problem(request, 400, "Dat kan niet", str(exc))

    @web.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 403 and exc.detail == "csrf":
            text = "Het formulier is verlopen of niet van deze site. Laad de pagina opnieuw."
            return _problem(request, 403, "Formulier verlopen", text)
        if exc.status_code == 404:
            return _problem(request, 404, "Niet gevonden", "Deze pagina bestaat niet.")
        if exc.status_code == 405:
            return _problem(request, 405, "Niet toegestaan", "Deze handeling kan hier niet.")
        return _problem(request, exc.status_code, "Fout", "Het verzoek kon niet worden verwerkt.")

    @web.exception_handler(Exception)
    async def _broken(request: Request, exc: Exception) -> Response:
        line = infrastructure_problem(exc)
        if line:
            return _problem(request, 503, "Even niet beschikbaar", line[0].upper() + line[1:])
        log.exception("fout in %s", request.url.path)
        text = "Er ging iets mis aan onze kant. Er is niets gewijzigd; probeer het opnieuw."
        return _problem(request, 500, "Er ging iets mis", text)


def _problem(request: Request, status: int, title: str, text: str) -> HTMLResponse:
    try:
        actor = reader(request)
    except Exception:  # noqa: BLE001 - an error page must come out even when the database is down
        actor = None
    try:
        return page(request, "problem.html", actor, status=status, title=title, text=text)
    except Exception:  # noqa: BLE001
        return HTMLResponse(f"<!doctype html><title>{status}</title><p>{status}</p>", status)
