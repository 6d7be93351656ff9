"""Issue 12, "done means": in a real browser (Debian's Chromium via Playwright) a person signs
in with the link read from the written .eml, sees Mijn werk, reports a task done with a note,
and every page fits a 390 px phone without horizontal scrolling; keyboard use reaches the
main content first."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.web.conftest import COORDINATOR, MAYOR, STAFF, Live
from veiligheid_flow.app import queries

PAGES = (
    "/",
    "/termijnagenda",
    "/afwezigheid",
    "/instellingen",
    "/portefeuille",
    "/crisis",
    "/capaciteit",
    "/logboek",
    "/berichten",
)


def browser_sign_in(live: Live, page: Page, address: str) -> None:
    """What a person does: fill in the address, open the mail, follow its link, press the
    button."""
    seen = set(live.sign_in_links(address))
    page.goto(f"{live.url}/")
    assert "/aanmelden" in page.url
    page.get_by_label("E-mailadres").fill(address)
    page.get_by_role("button", name="Stuur mij een aanmeldlink").click()
    page.get_by_text("staat er binnen een minuut een aanmeldlink").wait_for()
    page.goto(f"{live.url}{live.sign_in_link(address, seen=seen)}")
    page.get_by_role("button", name="Aanmelden").click()
    page.get_by_role("heading", name="Mijn werk").wait_for()


def overflow(page: Page) -> int:
    """How far the page reaches beyond the viewport (0: no horizontal scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_sign_in_from_the_eml_and_report_done_in_the_browser(live: Live, phone: Page) -> None:
    browser_sign_in(live, phone, STAFF)
    assert "Bram Jansen" in phone.content()
    first = phone.locator("li.task a.title").first
    title = first.inner_text()
    first.click()
    phone.get_by_role("heading", name=title).wait_for()
    task_id = int(phone.url.rsplit("/", 1)[1])
    phone.get_by_label("Notitie (niet verplicht)").fill("Afgerond in de browser")
    phone.get_by_role("button", name="Gereed melden").click()
    phone.get_by_text("De taak is gereed").wait_for()
    detail = queries.task_detail(live.app, now=live.now, task_id=task_id)
    assert detail.status == "done" and detail.note == "Afgerond in de browser"
    assert any(h.actor.email == STAFF and h.action == "task.done" for h in detail.history)


def test_every_page_fits_a_phone(live: Live, phone: Page) -> None:
    browser_sign_in(live, phone, COORDINATOR)
    task = phone.locator("li.task a.title").first.get_attribute("href")
    for path in (*PAGES, task):
        answer = phone.goto(f"{live.url}{path}")
        assert answer is not None
        if path in ("/portefeuille", "/crisis"):  # she holds no portfolio, declares no crisis
            assert answer.status == 403, path
        else:
            assert answer.status == 200, path
        assert overflow(phone) <= 0, f"{path} scrolls sideways at 390 px"


def test_the_holders_pages_fit_a_phone(live: Live, phone: Page) -> None:
    browser_sign_in(live, phone, MAYOR)
    for path in ("/portefeuille", "/crisis"):
        answer = phone.goto(f"{live.url}{path}")
        assert answer is not None and answer.status == 200, path
        assert overflow(phone) <= 0, f"{path} scrolls sideways at 390 px"


def test_the_keyboard_reaches_the_content_first(live: Live, phone: Page) -> None:
    browser_sign_in(live, phone, STAFF)
    phone.keyboard.press("Tab")
    focused = phone.evaluate("document.activeElement.textContent")
    assert focused == "Naar de inhoud"
    phone.keyboard.press("Enter")
    assert phone.evaluate("document.activeElement.id") == "inhoud"
