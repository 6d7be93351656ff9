"""The web app, served for real: uvicorn on a loopback port in a thread, over a real database
(SQLite and PostgreSQL), with mail written as .eml files; a fixed clock the test can move;
sign-in by the link read from the written mail; Debian's Chromium through Playwright."""

from __future__ import annotations

import email
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import dispatch_outbox
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.entrypoints.web.clock import WebClock
from veiligheid_flow.entrypoints.web.server import create_app
from veiligheid_flow.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
START = "2023-10-02T09:00"  # a Monday inside the example programme
MAYOR = "m.verbeek@example.nl"  # burgemeester (crisis authority, portfolio holder)
COORDINATOR = "a.devries@example.nl"  # OOV1, roles.coordinators
STAFF = "b.jansen@example.nl"  # an adviser without extra roles


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Live:
    url: str
    app: App
    clock: WebClock
    mail_dir: Path

    def move(self, moment: str) -> None:
        self.clock.fixed = at(moment)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=20)

    def mails_to(self, address: str) -> list[Message]:
        """The .eml files written for `address`, oldest first."""
        dispatch_outbox(self.app, now=self.now)
        found = []
        for path in sorted(self.mail_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            message = email.message_from_bytes(path.read_bytes())
            if address in str(message["To"]):
                found.append(message)
        return found

    def sign_in_links(self, address: str) -> list[str]:
        """The paths of the sign-in links mailed to `address`, oldest first."""
        return [_link(m) for m in self.mails_to(address) if "aanmeldlink" in str(m["Subject"])]

    def sign_in_link(self, address: str, *, seen: set[str] | None = None, wait: float = 5.0) -> str:
        """The path of the newest sign-in link mailed to `address`; with `seen`, wait for one
        that is not among them (the mail of the request just made)."""
        deadline = time.monotonic() + wait
        while True:
            links = [link for link in self.sign_in_links(address) if link not in (seen or set())]
            if links or time.monotonic() > deadline:
                assert links, f"no (new) sign-in mail for {address}"
                return links[-1]
            time.sleep(0.1)


def body_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode()
    return ""


def _link(message: Message) -> str:
    return re.search(r"https?://[^/\s]+(/aanmelden/link/\S+)", body_text(message))[1]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html)[1]


def sign_in(live: Live, client: httpx.Client, address: str) -> None:
    """Sign `client` in as `address` the way a person does: ask for a link, open the mail,
    open the link, press the button."""
    seen = set(live.sign_in_links(address))
    form = client.get("/aanmelden")
    answer = client.post("/aanmelden", data={"csrf": csrf_of(form.text), "email": address})
    assert answer.status_code == 200, answer.text
    link = live.sign_in_link(address, seen=seen)
    confirm = client.get(link)
    assert confirm.status_code == 200, confirm.text
    done = client.post(link, data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 303, done.text


@contextmanager
def serve(settings: Settings, tmp_path: Path, **extra: Any) -> Iterator[Live]:
    """The example programme loaded at START and served by uvicorn on a free loopback port;
    `extra`: more settings (e.g. OpenID Connect)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    configured = settings.model_copy(
        update={"web_url": url, "web_secret_file": tmp_path / "web-secret", **extra}
    )
    app = bootstrap(configured)
    clock = WebClock(at(START))
    commands.load(app, EXAMPLE, by=SYSTEM, now=clock.now())
    server = uvicorn.Server(
        uvicorn.Config(create_app(app, clock), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    try:
        yield Live(url, app, clock, configured.mail_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.close()


@pytest.fixture
def live(settings: Settings, tmp_path: Path) -> Iterator[Live]:
    with serve(settings, tmp_path) as found:
        yield found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one module: a Playwright that stayed open across modules would hold an
    event loop that the Prefect tests' asyncio.run and other Playwright users refuse."""
    assert Path(CHROMIUM).exists(), "Chromium is needed: apt-get install -y chromium (.ci/run)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A 390 px wide phone that fails the test on anything the CSP blocks."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e], errors
