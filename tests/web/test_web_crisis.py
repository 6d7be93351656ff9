"""Issue 12, the crisis pages: the mayor declares a crisis in the browser after a preview, the
portfolio board shows what it pauses, the mayor ends it and the board is back; the whole
municipality needs its own confirmation; nobody but the crisis authority gets in (403, and
nothing changes)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import MAYOR, STAFF, Live, csrf_of, sign_in
from veiligheid_flow.app import commands, queries
from veiligheid_flow.app.access import known

THEME = "ONDERMIJNING"
THEME_NAME = "Aanpak ondermijnende criminaliteit"
DELEGATE = "p.vandijk@example.nl"  # AOV, roles.crisis_delegates
ALDERMAN = "g.prins@example.nl"  # a portfolio holder, not crisis authority


def _signed_in_page(live: Live, browser: Browser, address: str) -> Page:
    with live.client() as client:
        sign_in(live, client, address)
        cookie = client.cookies["veiligheid_sessie"]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies([{"name": "veiligheid_sessie", "value": cookie, "url": live.url}])
    return context.new_page()


def _paused_on_board(page: Page, live: Live) -> int:
    page.goto(f"{live.url}/portefeuille")
    text = page.locator(f"#thema-{THEME} .paused-count").inner_text()
    return int(re.match(r"(\d+) stil", text)[1])


def _fits(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_mayor_declares_after_a_preview_and_ends_it_in_the_browser(
    live: Live, browser: Browser
) -> None:
    page = _signed_in_page(live, browser, MAYOR)
    try:
        before = _paused_on_board(page, live)
        assert _fits(page)

        page.goto(f"{live.url}/crisis")
        expect(page.get_by_role("heading", name="Crisis", exact=True)).to_be_visible()
        page.get_by_label("Titel").fill("Grote brand bedrijventerrein")
        page.get_by_label("GRIP-niveau").select_option("2")
        page.get_by_label("Verwachte duur in werkdagen").fill("5")
        page.get_by_label(re.compile(f"^{THEME_NAME}")).check()
        page.get_by_label(re.compile("^Pieter van Dijk")).check()  # on crisis duty
        page.get_by_role("button", name="Bekijk wat er stil komt te liggen").click()

        expect(page.get_by_role("heading", name="Voorbeeld: crisis vastleggen")).to_be_visible()
        summary = page.locator("ul.summary").inner_text()
        previewed = int(re.search(r"(\d+) taken liggen stil", summary)[1])
        assert previewed > 0
        assert page.locator("table.data tbody tr").count() > 0  # grouped by title
        expect(page.locator("ul.takeovers")).to_contain_text("over van Pieter van Dijk")
        assert _fits(page)
        assert queries.crises(live.app, now=live.now) == []  # a preview records nothing

        page.get_by_role("button", name="Crisis vastleggen").click()
        expect(page.get_by_role("status")).to_contain_text("is vastgelegd")
        [crisis] = queries.crises(live.app, now=live.now)
        assert crisis.active and crisis.themes == (THEME,) and crisis.grip == 2
        assert [p.email for p in crisis.staff] == [DELEGATE]
        assert crisis.paused_tasks == previewed  # the preview told the truth
        assert crisis.declared_by.email == MAYOR

        during = _paused_on_board(page, live)
        assert during > before
        expect(page.locator(".crisis-lines")).to_contain_text(THEME_NAME)

        live.move("2023-10-02T11:00")
        page.goto(f"{live.url}/crisis")
        page.get_by_role("button", name="Crisis beëindigen…").click()
        expect(page.get_by_role("heading", name=f"Crisis {crisis.id} beëindigen?")).to_be_visible()
        page.get_by_role("button", name="Ja, beëindig de crisis").click()
        expect(page.get_by_role("status")).to_contain_text("is beëindigd")
        [ended] = queries.crises(live.app, now=live.now)
        assert not ended.active and ended.ended_by and ended.ended_by.email == MAYOR

        assert _paused_on_board(page, live) == before
        assert page.locator(".crisis-lines").count() == 0
    finally:
        page.context.close()


def _declare_fields(csrf: str, **extra: str) -> dict[str, str]:
    return {"csrf": csrf, "titel": "Stroomstoring", "grip": "1", "werkdagen": "3", **extra}


def test_the_whole_municipality_needs_its_own_confirmation(live: Live) -> None:
    with live.client() as client:
        sign_in(live, client, MAYOR)
        csrf = csrf_of(client.get("/crisis").text)
        fields = _declare_fields(csrf, gemeente="huizen", reikwijdte="gemeente")
        preview = client.post("/crisis/voorbeeld", data=fields)
        assert preview.status_code == 200
        assert 'name="hele_gemeente"' in preview.text and "de hele gemeente" in preview.text
        unconfirmed = client.post("/crisis", data=fields)
        assert unconfirmed.status_code == 400 and "Vink de bevestiging aan" in unconfirmed.text
        assert queries.crises(live.app, now=live.now) == []
        done = client.post("/crisis", data={**fields, "hele_gemeente": "ja"})
        assert done.status_code == 303
    [crisis] = queries.crises(live.app, now=live.now)
    assert crisis.themes == () and crisis.staff == () and crisis.paused_tasks > 0


def test_an_empty_partial_scope_is_asked_again_and_records_nothing(live: Live) -> None:
    with live.client() as client:
        sign_in(live, client, MAYOR)
        csrf = csrf_of(client.get("/crisis").text)
        answer = client.post("/crisis/voorbeeld", data=_declare_fields(csrf, reikwijdte="deel"))
        assert answer.status_code == 400 and "Kies minstens één thema" in answer.text
        assert 'value="Stroomstoring"' in answer.text  # the form again, as typed
    assert queries.crises(live.app, now=live.now) == []


def test_the_scope_is_updated_after_a_preview(live: Live) -> None:
    with live.client() as client:
        sign_in(live, client, MAYOR)
        csrf = csrf_of(client.get("/crisis").text)
        client.post("/crisis", data=_declare_fields(csrf, thema=THEME))
        [crisis] = queries.crises(live.app, now=live.now)
        fields = {"csrf": csrf, "grip": "3", "thema": ["ONDERMIJNING", "DIGITALE_VEILIGHEID"]}
        preview = client.post(f"/crisis/{crisis.id}/bijwerken", data=fields)
        assert preview.status_code == 200 and "Voorbeeld: crisis" in preview.text
        assert queries.crisis(live.app, now=live.now, crisis_id=crisis.id).grip == 1
        done = client.post(f"/crisis/{crisis.id}/bijwerken", data={**fields, "stap": "bevestigen"})
        assert done.status_code == 303
    after = queries.crisis(live.app, now=live.now, crisis_id=crisis.id)
    assert after.grip == 3 and set(after.themes) == {"ONDERMIJNING", "DIGITALE_VEILIGHEID"}
    assert after.paused_tasks > crisis.paused_tasks


def test_a_crisis_delegate_may_open_the_crisis_page(live: Live) -> None:
    with live.client() as client:
        sign_in(live, client, DELEGATE)
        answer = client.get("/crisis")
        assert answer.status_code == 200 and "Crisis vastleggen" in answer.text


def _refused_everywhere(live: Live, client: httpx.Client, crisis_id: int) -> None:
    assert client.get("/crisis").status_code == 403
    csrf = csrf_of(client.get("/").text)
    fields = _declare_fields(csrf, gemeente="huizen", thema=THEME)
    for path, data in (
        ("/crisis/voorbeeld", fields),
        ("/crisis", fields),
        ("/crisis", {**fields, "reikwijdte": "gemeente", "hele_gemeente": "ja"}),
        (f"/crisis/{crisis_id}/bijwerken", {**fields, "stap": "bevestigen"}),
        (f"/crisis/{crisis_id}/beeindigen", {"csrf": csrf, "bevestigd": "ja"}),
    ):
        answer = client.post(path, data=data)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "Geen toegang" in answer.text


def test_staff_get_403_on_the_crisis_page_and_no_crisis_exists(live: Live) -> None:
    with live.client() as client:
        sign_in(live, client, STAFF)
        assert client.get("/crisis").status_code == 403
        csrf = csrf_of(client.get("/").text)
        fields = _declare_fields(csrf, gemeente="huizen", reikwijdte="gemeente", hele_gemeente="ja")
        answer = client.post("/crisis", data=fields)
        assert answer.status_code == 403 and "Geen toegang" in answer.text
    assert queries.crises(live.app, now=live.now) == []


def test_staff_and_other_holders_cannot_touch_a_running_crisis(live: Live) -> None:
    mayor = known(live.app, MAYOR)
    commands.declare_crisis(
        live.app, "Oefening", grip=1, by=mayor, now=live.now, themes=["COMMUNICATIE"],
        staff=[], expected_days=2,
    )  # fmt: skip
    [before] = queries.crises(live.app, now=live.now)
    clients = []
    try:
        for address in (STAFF, ALDERMAN):
            clients.append(live.client())
            sign_in(live, clients[-1], address)
        log = queries.audit_log(live.app, now=live.now).total
        for client in clients:
            _refused_everywhere(live, client, before.id)
    finally:
        for client in clients:
            client.close()
    [after] = queries.crises(live.app, now=live.now)
    assert after == before
    assert queries.audit_log(live.app, now=live.now).total == log
