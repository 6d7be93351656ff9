"""Sign-in through the municipality's own OpenID Connect provider (Entra ID, Keycloak): the
code flow with PKCE (S256). authlib keeps state, nonce and code verifier in the cookie
session, checks state and nonce on the way back and validates the ID token (signature from
the provider's keys, issuer, audience, expiry). The person is the token's `email` (verified
when the provider says so), known in the programme files."""

from __future__ import annotations

import logging

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.integrations.starlette_client.apps import StarletteOAuth2App
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool

from veiligheid_flow.app import access
from veiligheid_flow.entrypoints.web.deps import SESSION_USER, page, reader, web
from veiligheid_flow.entrypoints.web.pages.auth import _next, sign_in_page
from veiligheid_flow.errors import NotFound
from veiligheid_flow.settings import Settings

router = APIRouter()
log = logging.getLogger("veiligheid_flow.web.oidc")
NEXT = "volgende"
# What can go wrong between us and the provider: its answer (OAuth), the ID token (JOSE),
# the connection, or metadata that is not JSON / lacks an endpoint.
PROVIDER_ERRORS = (AuthlibBaseError, JoseError, httpx.HTTPError, ValueError, KeyError, RuntimeError)
PROBLEMS = {
    "access_denied": "Het aanmelden bij je organisatie is afgebroken of geweigerd.",
    "mismatching_state": (
        "Het aanmelden is verlopen of niet op deze site begonnen. Probeer het opnieuw."
    ),
}
UNREACHABLE = (
    "Het aanmelden bij je organisatie lukt nu niet: de aanmeldserver is niet bereikbaar. "
    "Probeer het later opnieuw of vraag hieronder een aanmeldlink."
)
FAILED = (
    "Het aanmelden bij je organisatie is niet gelukt. "
    "Probeer het opnieuw of vraag hieronder een aanmeldlink."
)


def _register(settings: Settings) -> StarletteOAuth2App:
    """A confidential client (client_secret_basic) that also uses PKCE."""
    secret = settings.oidc_client_secret
    oauth = OAuth()
    return oauth.register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": settings.oidc_scopes,
            "code_challenge_method": "S256",
            "timeout": 10.0,
        },
    )


def _provider(request: Request) -> StarletteOAuth2App:
    """The provider client of this web app (one per app: it caches metadata and keys)."""
    settings = web(request).app.settings
    if not settings.oidc_issuer:
        raise NotFound("Aanmelden met een organisatieaccount staat niet aan.")
    state = request.app.state
    client = getattr(state, "oidc_client", None)
    if client is None:
        client = state.oidc_client = _register(settings)
    return client


def _callback_url(request: Request) -> str:
    base = web(request).app.settings.web_url
    return f"{base}/aanmelden/oidc/terug" if base else str(request.url_for("oidc_callback"))


def _problem(exc: Exception) -> tuple[str, int]:
    """One Dutch line and a status for what went wrong with the provider."""
    if isinstance(exc, httpx.HTTPError):  # no connection, or an error status
        return UNREACHABLE, 502
    if isinstance(exc, OAuthError) and exc.error in PROBLEMS:
        return PROBLEMS[exc.error], 400
    return FAILED, 400


def _failed(request: Request, exc: Exception) -> Response:
    line, status = _problem(exc)
    log.warning("OIDC-aanmelding mislukt: %s: %s", type(exc).__name__, exc)
    return sign_in_page(request, problem=line, status=status)


@router.get("/aanmelden/oidc")
async def oidc_start(request: Request, volgende: str | None = None) -> Response:
    provider = _provider(request)
    if await run_in_threadpool(reader, request) is not None:
        return RedirectResponse(_next(volgende), status_code=303)
    request.session[NEXT] = _next(volgende)
    try:
        return await provider.authorize_redirect(request, _callback_url(request))
    except PROVIDER_ERRORS as exc:
        return _failed(request, exc)


def _verified_email(claims: dict[str, object]) -> str | None:
    """The ID token's address; None without one or when the provider says it is unverified."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    if "email_verified" in claims and claims["email_verified"] not in (True, "true"):
        return None
    return email


def _refused(request: Request, email: str | None) -> Response:
    request.session.clear()  # nothing of the attempt stays: no session
    return page(request, "oidc_refused.html", None, email=email, title="Geen toegang", status=403)


@router.get("/aanmelden/oidc/terug", name="oidc_callback")
async def oidc_callback(request: Request) -> Response:
    provider = _provider(request)
    try:
        token = await provider.authorize_access_token(request)
    except PROVIDER_ERRORS as exc:
        return _failed(request, exc)
    claims = token.get("userinfo")  # the validated ID token; absent when none came back
    if not claims:
        return _failed(request, OAuthError(error="missing_id_token"))
    email = _verified_email(claims)
    actor = await run_in_threadpool(access.known, web(request).app, email) if email else None
    if actor is None:
        log.info("OIDC-aanmelding geweigerd voor %r", email)
        return _refused(request, email)
    target = _next(request.session.get(NEXT))
    request.session.clear()  # a new session: nothing of before the sign-in carries over
    request.session[SESSION_USER] = actor.email
    return RedirectResponse(target, status_code=303)
