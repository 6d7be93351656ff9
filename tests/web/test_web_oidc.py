"""Issue 12: sign-in through the municipality's OpenID provider. A real provider
(oidc-provider-mock, a Flask app that signs real ID tokens) runs on loopback; the web app runs
for real with uvicorn; httpx follows every redirect by hand, as a browser would."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit

import httpx
import oidc_provider_mock
import pytest
from playwright.sync_api import Browser
from pydantic import SecretStr, ValidationError
from werkzeug.serving import make_server

from tests.web.conftest import COORDINATOR, Live, free_port, serve
from veiligheid_flow.settings import Settings

CLIENT_ID = "veiligheid-web"
UNKNOWN = "nobody@example.nl"


@dataclass
class Provider:
    """The mock provider, and the form bodies its token endpoint received."""

    url: str
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)

    def user(self, sub: str, claims: dict[str, Any]) -> None:
        answer = httpx.put(f"{self.url}/users/{quote(sub, safe='')}", json=claims)
        assert answer.status_code == 204, answer.text


def _recording(app: Callable[..., Iterable[bytes]], provider: Provider) -> Callable[..., Any]:
    """WSGI wrapper that keeps each token request's form (to check the PKCE verifier)."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/oauth2/token":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            provider.token_requests.append(parse_qs(body.decode()))
        return app(environ, start_response)

    return wsgi


@pytest.fixture
def provider() -> Iterator[Provider]:
    port = free_port()
    found = Provider(f"http://127.0.0.1:{port}")
    # require_nonce: the provider refuses an authorization request without a nonce
    mock = oidc_provider_mock.app(require_nonce=True, issue_refresh_token=False)
    server = make_server("127.0.0.1", port, _recording(mock, found), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def _serve(settings: Settings, tmp_path: Path, issuer: str):  # noqa: ANN202
    """tests/web/conftest.py's `live`, with OpenID Connect configured."""
    return serve(
        settings,
        tmp_path,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=SecretStr("geheim"),
        oidc_scopes="openid email",
    )


@pytest.fixture
def oidc_live(settings: Settings, tmp_path: Path, provider: Provider) -> Iterator[Live]:
    with _serve(settings, tmp_path, provider.url) as live:
        yield live


def _start(live: Live, client: httpx.Client, provider: Provider, target: str = "/") -> str:
    """Press the button on the sign-in page; the provider's authorization URL."""
    form = client.get("/aanmelden", params={"volgende": target})
    assert "Aanmelden met je organisatieaccount" in form.text
    button = re.search(r'href="(/aanmelden/oidc\?[^"]*)"', form.text)[1].replace("&amp;", "&")
    start = client.get(button)
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(f"{provider.url}/oauth2/authorize?")
    return authorize


def _authorize(authorize: str, sub: str) -> str:
    """Sign in at the provider as `sub`; the callback URL it sends the browser back to."""
    assert httpx.get(authorize).status_code == 200  # the provider's form
    answer = httpx.post(authorize, data={"sub": sub})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def _with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def _signed_out(client: httpx.Client) -> bool:
    answer = client.get("/")
    return answer.status_code == 303 and answer.headers["location"].startswith("/aanmelden")


def test_a_known_address_signs_in_with_pkce_and_sees_my_work(
    oidc_live: Live, provider: Provider
) -> None:
    # The provider's address differs in case from the programme file's.
    provider.user("anna-1", {"email": COORDINATOR.upper(), "email_verified": True})
    with oidc_live.client() as client:
        assert _signed_out(client)
        authorize = _start(oidc_live, client, provider, target="/?van=oidc")
        asked = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
        assert asked["client_id"] == CLIENT_ID and asked["response_type"] == "code"
        assert asked["code_challenge_method"] == "S256"
        assert asked["state"] and asked["nonce"]
        assert asked["redirect_uri"] == f"{oidc_live.url}/aanmelden/oidc/terug"

        back = _authorize(authorize, "anna-1")
        assert back.startswith(asked["redirect_uri"])
        done = client.get(back)
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/?van=oidc"
        home = client.get("/")
        assert home.status_code == 200
        assert "Mijn werk" in home.text and "Anna de Vries" in home.text

    # PKCE for real: the token request carried the verifier whose S256 is the challenge.
    (form,) = provider.token_requests
    verifier = form["code_verifier"][0]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == asked["code_challenge"]


def test_the_next_path_cannot_leave_the_site(oidc_live: Live, provider: Provider) -> None:
    provider.user("anna-2", {"email": COORDINATOR})
    with oidc_live.client() as client:
        start = client.get("/aanmelden/oidc", params={"volgende": "//evil.example/x"})
        done = client.get(_authorize(start.headers["location"], "anna-2"))
        assert done.status_code == 303 and done.headers["location"] == "/"


def test_an_unknown_address_is_refused_without_a_session(
    oidc_live: Live, provider: Provider
) -> None:
    with oidc_live.client() as client:
        back = _authorize(_start(oidc_live, client, provider), UNKNOWN)  # email = sub
        refused = client.get(back)
        assert refused.status_code == 403
        assert "Geen toegang" in refused.text and UNKNOWN in refused.text
        assert "niet in het programma" in refused.text
        assert _signed_out(client)


def test_an_unverified_address_is_refused(oidc_live: Live, provider: Provider) -> None:
    provider.user("anna-3", {"email": COORDINATOR, "email_verified": False})
    with oidc_live.client() as client:
        refused = client.get(_authorize(_start(oidc_live, client, provider), "anna-3"))
        assert refused.status_code == 403 and "bevestigd e-mailadres" in refused.text
        assert _signed_out(client)


@pytest.mark.parametrize("state", ["tampered", "missing", "other-browser", "replayed"])
def test_a_bad_state_is_refused(oidc_live: Live, provider: Provider, state: str) -> None:
    provider.user("anna-4", {"email": COORDINATOR})
    with oidc_live.client() as client:
        back = _authorize(_start(oidc_live, client, provider), "anna-4")
        if state == "tampered":
            real = parse_qs(urlsplit(back).query)["state"][0]
            answer = client.get(_with_query(back, state="x" + real))
        elif state == "missing":
            answer = client.get(_with_query(back, state=None))
        elif state == "other-browser":
            with oidc_live.client() as other:
                answer = other.get(back)
                assert _signed_out(other)
        else:
            assert client.get(back).status_code == 303  # the first use signs in
            assert client.post("/afmelden", data={"csrf": _csrf(client)}).status_code == 303
            answer = client.get(back)
        assert answer.status_code == 400
        assert "verlopen of niet op deze site begonnen" in answer.text
        assert "Traceback" not in answer.text
        assert _signed_out(client)


def _csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)[1]


def test_denied_at_the_provider_gives_one_line(oidc_live: Live, provider: Provider) -> None:
    with oidc_live.client() as client:
        authorize = _start(oidc_live, client, provider)
        denied = httpx.post(authorize, data={"action": "deny"})
        assert denied.status_code == 302
        answer = client.get(denied.headers["location"])
        assert answer.status_code == 400
        assert "afgebroken of geweigerd" in answer.text and "<h1>Aanmelden</h1>" in answer.text
        assert _signed_out(client)


def test_a_provider_that_is_down_gives_one_line(settings: Settings, tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with _serve(settings, tmp_path, nobody) as live, live.client() as client:
        answer = client.get("/aanmelden/oidc")
        assert answer.status_code == 502
        assert "niet bereikbaar" in answer.text and "<h1>Aanmelden</h1>" in answer.text
        assert "Traceback" not in answer.text and "ConnectError" not in answer.text


def test_without_an_issuer_there_is_no_button_and_no_route(live: Live) -> None:
    with live.client() as client:
        assert "/aanmelden/oidc" not in client.get("/aanmelden").text
        assert client.get("/aanmelden/oidc").status_code == 404


def test_sign_in_in_the_browser(oidc_live: Live, provider: Provider, browser: Browser) -> None:
    provider.user("anna-5", {"email": COORDINATOR, "email_verified": True})
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(f"{oidc_live.url}/aanmelden")
        tab.get_by_role("link", name="Aanmelden met je organisatieaccount").click()
        tab.get_by_placeholder("sub").fill("anna-5")
        tab.get_by_role("button", name="Authorize").click()
        tab.wait_for_url(f"{oidc_live.url}/")
        assert tab.get_by_role("heading", name="Mijn werk").is_visible()
    finally:
        context.close()


def test_the_oidc_settings_belong_together() -> None:
    given = {"oidc_client_id": CLIENT_ID, "oidc_client_secret": "geheim", "_env_file": None}
    assert Settings(oidc_issuer="https://login.example.nl/realm/", **given).oidc_issuer == (
        "https://login.example.nl/realm"
    )
    with pytest.raises(ValidationError, match="OIDC_CLIENT_SECRET"):
        Settings(oidc_issuer="https://login.example.nl", oidc_client_id=CLIENT_ID, _env_file=None)
    with pytest.raises(ValidationError, match="http:// of https://"):
        Settings(oidc_issuer="login.example.nl", **given)
    with pytest.raises(ValidationError, match="'openid'"):
        Settings(oidc_issuer="https://login.example.nl", oidc_scopes="email", **given)
