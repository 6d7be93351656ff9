"""Issue 13 in the web app: Rapporten over real HTTP — the exports as files that read back to
the app's own listings, the evaluation as a page (its figures the query's), as PDF and its
charts as SVG; staff only the tasks download; another municipality never this one's tasks."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from openpyxl import load_workbook
from playwright.sync_api import Page

from tests.test_region import laren_programme
from tests.web.conftest import COORDINATOR, MAYOR, STAFF, Live, sign_in
from tests.web.test_web_in_browser import browser_sign_in, overflow
from veiligheid_flow.app import commands, queries
from veiligheid_flow.app.access import known
from veiligheid_flow.app.evaluation import evaluation
from veiligheid_flow.app.views import TaskStatus
from veiligheid_flow.authority import SYSTEM

SVG = "{http://www.w3.org/2000/svg}"
SHARED_THEME = "ONDERMIJNING"  # the district theme Huizen shares with Laren
LAREN_COORDINATOR = "a.devries@laren.example.nl"  # OOV1 of the Laren copy of the example


@contextmanager
def _client(live: Live, address: str) -> Iterator[httpx.Client]:
    with live.client() as client:
        sign_in(live, client, address)
        yield client


def _xlsx_ids(data: bytes) -> list[int]:
    sheet = load_workbook(io.BytesIO(data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    column = rows[0].index("id")
    return [row[column] for row in rows[1:]]


def _csv_ids(data: bytes) -> list[int]:
    text = data.decode("utf-8-sig")
    return [int(row["id"]) for row in csv.DictReader(io.StringIO(text), delimiter=";")]


def _task_ids(live: Live, address: str) -> list[int]:
    return [t.id for t in queries.tasks(live.app, now=live.now, actor=known(live.app, address))]


def test_a_coordinator_downloads_the_tasks_as_xlsx_with_the_app_listing(live: Live) -> None:
    with _client(live, COORDINATOR) as client:
        answer = client.get("/rapporten/taken.xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert re.search(
        r'attachment; filename="taken-2023-10-02\.xlsx"', answer.headers["content-disposition"]
    )
    expected = _task_ids(live, COORDINATOR)
    assert expected  # the example has open work
    assert _xlsx_ids(answer.content) == expected


def test_the_evaluation_report_as_pdf_says_evaluatie(live: Live, tmp_path: Path) -> None:
    with _client(live, COORDINATOR) as client:
        answer = client.get("/rapporten/evaluatie.pdf")
        html = client.get("/rapporten/evaluatie.html")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert (
        'filename="evaluatie-UPV-2023-2024-2023-10-02.pdf"' in answer.headers["content-disposition"]
    )
    assert answer.content.startswith(b"%PDF")
    path = tmp_path / "evaluatie.pdf"
    path.write_bytes(answer.content)
    text = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Evaluatie" in text
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "attachment" in html.headers["content-disposition"]
    assert "<svg" in html.text  # the report's charts inline: a file of its own, no page CSP


def test_the_evaluation_page_shows_the_query_figures_and_its_charts_are_svg(live: Live) -> None:
    live.move("2024-03-04T09:00")  # later in the programme: work late
    mine = queries.tasks(live.app, now=live.now, actor=known(live.app, COORDINATOR))[0]
    commands.change_status(live.app, mine.id, TaskStatus.DONE, by=COORDINATOR, now=live.now)
    with _client(live, COORDINATOR) as client:
        answer = client.get("/rapporten/evaluatie")
        assert answer.status_code == 200, answer.text
        charts = re.findall(r'<img src="(/rapporten/evaluatie/grafiek/[a-z]+\.svg)"', answer.text)
        images = [client.get(src) for src in charts]
        missing = client.get("/rapporten/evaluatie/grafiek/bestaatniet.svg")
    result = evaluation(live.app, now=live.now, actor=known(live.app, COORDINATOR)).total
    figures = dict(re.findall(r'data-cijfer="([a-z-]+)">(\d+)', answer.text))
    assert result.progress.planned > 0 and result.progress.done > 0
    assert int(figures["gepland"]) == result.progress.planned
    assert int(figures["gereed"]) == result.progress.done
    assert int(figures["open-te-laat"]) == result.progress.overdue
    assert int(figures["escalaties"]) == result.escalations
    assert len(charts) == 3
    for image in images:
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/svg+xml"
        root = ET.fromstring(image.content)
        assert root.tag == f"{SVG}svg"
        assert root.find(f"{SVG}title") is not None
    assert missing.status_code == 404
    assert 'href="/rapporten"' in answer.text  # the nav link for a coordinator


def test_a_holder_gets_the_termijnagenda_and_evaluation_figures(live: Live) -> None:
    with _client(live, MAYOR) as client:
        agenda = client.get("/rapporten/termijnagenda.csv")
        figures = client.get("/rapporten/evaluatie.xlsx")
        index = client.get("/rapporten")
    assert index.status_code == 200 and "Rapporten" in index.text
    assert agenda.status_code == 200, agenda.text
    rows = list(csv.DictReader(io.StringIO(agenda.content.decode("utf-8-sig")), delimiter=";"))
    mayor = known(live.app, MAYOR)
    assert [r["code"] for r in rows] == [
        i.code for i in queries.council_agenda(live.app, now=live.now, actor=mayor)
    ]
    sheet = load_workbook(io.BytesIO(figures.content), read_only=True).active
    last = list(sheet.iter_rows(values_only=True))[-1]
    total = evaluation(live.app, now=live.now, actor=mayor).total
    assert last[1] == total.name and last[2] == total.progress.planned


def test_staff_gets_only_the_tasks_download(live: Live) -> None:
    with _client(live, STAFF) as client:
        refused = [
            client.get(path)
            for path in (
                "/rapporten",
                "/rapporten/evaluatie",
                "/rapporten/evaluatie.pdf",
                "/rapporten/evaluatie/grafiek/voortgang.svg",
                "/rapporten/termijnagenda.xlsx",
            )
        ]
        tasks = client.get("/rapporten/taken.csv")
        home = client.get("/")
    assert [r.status_code for r in refused] == [403] * 5
    assert "Geen toegang" in refused[1].text
    assert tasks.status_code == 200, tasks.text
    assert tasks.headers["content-type"].startswith("text/csv")
    assert _csv_ids(tasks.content) == _task_ids(live, STAFF)
    assert 'href="/rapporten"' not in home.text


def test_another_municipality_never_gets_this_municipalitys_tasks(
    live: Live, tmp_path: Path
) -> None:
    commands.load(live.app, laren_programme(tmp_path), by=SYSTEM, now=live.now)
    huizen = {
        t.id: t for t in queries.tasks(live.app, now=live.now, actor=known(live.app, COORDINATOR))
    }
    with _client(live, LAREN_COORDINATOR) as client:
        tasks = client.get("/rapporten/taken.xlsx")
        page = client.get("/rapporten/evaluatie")
        other = client.get("/rapporten/evaluatie.csv?programma=UPV-2023-2024")
        agenda = client.get("/rapporten/termijnagenda.csv")
    ids = _xlsx_ids(tasks.content)
    assert ids == _task_ids(live, LAREN_COORDINATOR) and ids
    assert ids != list(huizen)
    # Only Huizen's shared district theme (ONDERMIJNING) may come through, nothing else.
    leaked = [i for i in ids if i in huizen and huizen[i].theme != SHARED_THEME]
    assert leaked == []
    assert page.status_code == 200 and "UPV-LAREN-2023-2024" in page.text
    assert "UPV-2023-2024)" not in page.text
    assert other.status_code == 403
    subjects = [
        r["onderwerp"]
        for r in csv.DictReader(io.StringIO(agenda.content.decode("utf-8-sig")), delimiter=";")
    ]
    assert subjects and all(s.startswith("Laren:") for s in subjects)


def test_the_report_pages_fit_a_phone_and_draw_their_charts(live: Live, phone: Page) -> None:
    browser_sign_in(live, phone, COORDINATOR)
    phone.get_by_role("link", name="Rapporten").click()
    phone.get_by_role("heading", name="Rapporten", level=1).wait_for()
    assert overflow(phone) <= 0, "/rapporten scrolls sideways at 390 px"
    phone.get_by_role("link", name="Evaluatie bekijken").click()
    phone.get_by_role("heading", name="Samenvatting").wait_for()
    phone.wait_for_load_state("load")
    assert overflow(phone) <= 0, "/rapporten/evaluatie scrolls sideways at 390 px"
    drawn = phone.evaluate(
        "[...document.querySelectorAll('figure.chart img')].map(i => i.naturalWidth)"
    )
    assert len(drawn) == 3 and all(width > 0 for width in drawn), drawn
    assert phone.locator("figure.chart img:not([alt])").count() == 0
