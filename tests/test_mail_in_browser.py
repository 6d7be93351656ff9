"""Issue 11, point 4: every kind of message renders in a real browser (Debian's Chromium,
driven by Playwright) at phone width (390 px) and desktop width (800 px) without horizontal
overflow. `sample_messages` is also what docs/make_mail_screenshots.py renders."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import access, commands
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.mail.models import OutboxMessage

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KINDS = {
    "summary", "reminder", "overdue", "escalation", "council", "council_risk", "digest", "crisis",
    "sign_in",
}
WIDTHS = (390, 800)


def sample_messages(app: App) -> dict[str, OutboxMessage]:
    """Two months of the example programme (daily runs, a crisis declared and ended, an
    absence): the longest message of each kind."""
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-01T07:00"))
    commands.add_absence(
        app, "b.jansen@example.nl", start=date(2023, 9, 18), end=date(2023, 9, 29),
        by="a.devries@example.nl", now=at("2023-09-01T09:00"), reason=None,
    )
    day = date(2023, 9, 1)
    while day <= date(2023, 10, 20):
        if day == date(2023, 10, 2):
            crisis = commands.declare_crisis(
                app, "Grote brand in het centrum", grip=2, by="BM", now=at("2023-10-02T10:00"),
                themes=["VEERKRACHTIGE_WIJKEN", "VERKEERSVEILIGHEID"], staff=["OOV3"],
                expected_days=15,
            )
        if day == date(2023, 10, 13):
            commands.end_crisis(app, crisis.subject_id, by="BM", now=at("2023-10-13T17:00"))
        run_due(app, now=at(f"{day}T08:05"))
        day += timedelta(days=1)
    morning = at(f"{day}T09:00")
    access.request_sign_in(app, "a.devries@example.nl", client_ip="127.0.0.1", now=morning)
    found: dict[str, OutboxMessage] = {}
    with app.sessions() as session:
        for row in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)):
            if row.kind not in found or len(row.html_body) > len(found[row.kind].html_body):
                found[row.kind] = row
        session.expunge_all()
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is needed: apt-get install -y chromium (.ci/run)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def overflow(browser: Browser, html: str, width: int) -> tuple[int, int, int]:
    """(viewport width, page scroll width, widest element's right edge) of `html`."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.set_content(html, wait_until="load")
        return page.evaluate(
            """() => [window.innerWidth, document.documentElement.scrollWidth,
                      Math.max(...[...document.querySelectorAll('body *')]
                          .map(e => e.getBoundingClientRect().right))]"""
        )
    finally:
        page.close()


def test_every_kind_fits_a_phone_and_a_desktop_without_horizontal_scrolling(app, browser):
    messages = sample_messages(app)
    assert set(messages) >= KINDS, sorted(set(messages))
    for kind in sorted(KINDS):
        html = messages[kind].html_body
        assert 'name="viewport"' in html
        for width in WIDTHS:
            viewport, scroll, right = overflow(browser, html, width)
            assert scroll <= viewport and right <= viewport + 0.5, (kind, width, scroll, right)


def test_the_check_sees_a_page_that_is_too_wide(browser):
    viewport, scroll, _ = overflow(browser, '<table width="640"><tr><td>x</td></tr></table>', 390)
    assert scroll > viewport  # the old fixed-width layout would have failed
