"""Publication: the static site for the municipal website (`veiligheid publiceer`) and the
quarterly report for the committee (`veiligheid rapport kwartaal`), over the simulated period
of tests/test_evaluation.py (an absence with its reason, crises with staff on duty, cases).

Neither may hold personal data of staff (the AVG): every output file is scanned for every
person's name, email address and role from the programme file, and for the reason of the
absence; the portfolio holders (public officials) must appear by name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser

import pytest
import yaml

from tests.conftest import EXAMPLE
from tests.test_evaluation import (
    ABSENCE,
    AT_END,
    CRISES,
    END,
    _pdf_text,
    count,
    progress_of,
    run,
    simulated_app,
)
from veiligheid_flow.app.publication import publication
from veiligheid_flow.bootstrap import App

PROGRAMME = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
STAFF = [(p["name"], p["email"], p["role"]) for p in PROGRAMME["people"]]
HOLDERS = [h["name"] for h in PROGRAMME["portfolio_holders"]]


@pytest.fixture(scope="module")
def period(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    yield from simulated_app(backend, request, tmp_path_factory.mktemp("publicatie"), END)


def _forbidden() -> list[str]:
    found = [ABSENCE[2]]
    for name, email, role in STAFF:
        found += [name, email, email.split("@")[0], role]
    return found


def _personal_data_in(text: str) -> list[str]:
    plain = " ".join(text.split()).lower()
    return [word for word in _forbidden() if word.lower() in plain]


class _Page(HTMLParser):
    """What the checks read from a page: tags, attributes, headings."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parsed(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def test_the_site_has_no_personal_data_of_staff(period, tmp_path):
    out = tmp_path / "site"

    result = run("publiceer", "--out", out, "--now", "2023-12-31T23:00")

    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(
        ["index.html", "site.css"]
        + [f"thema-{t['code'].lower().replace('_', '-')}.html" for t in PROGRAMME["themes"]]
    )
    everything = ""
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        everything += text
        assert _personal_data_in(text) == [], path.name
    for holder in HOLDERS:  # the scan finds names: the public officials' names are there
        assert holder in everything, holder
    assert _personal_data_in(" ".join(n for n, _, _ in STAFF)) != []


def test_the_site_is_accessible_and_self_contained(period, tmp_path):
    out = tmp_path / "site"
    assert run("publiceer", "--out", out, "--now", "2023-12-31T23:00").exit_code == 0

    pages = sorted(out.glob("*.html"))
    for path in pages:
        text = path.read_text(encoding="utf-8")
        page = _parsed(text)
        tags = [t for t, _ in page.tags]
        assert '<html lang="nl">' in text, path.name
        assert tags.count("h1") == 1 and tags.count("h2") >= 2, path.name
        assert "script" not in tags and "img" not in tags and "iframe" not in tags
        assert tags.count("table") == tags.count("caption") >= 2
        headers = [a for t, a in page.tags if t == "th"]
        assert headers and all(a.get("scope") in ("col", "row") for a in headers)
        links = [a["href"] for t, a in page.tags if t in ("a", "link") and "href" in a]
        for link in links:  # every link stays in the site and finds its file
            target = link.split("#")[0]
            assert not re.match(r"[a-z]+:|//", link), link
            assert not target or (out / target).exists(), link
        assert [a["href"] for t, a in page.tags if t == "link"] == ["site.css"]
    css = (out / "site.css").read_text(encoding="utf-8")
    assert "@import" not in css and "url(" not in css


def test_the_site_shows_activities_their_status_the_agenda_and_the_budget(period, tmp_path):
    out = tmp_path / "site"
    assert run("publiceer", "--out", out, "--now", "2023-12-31T23:00").exit_code == 0
    found = publication(period, now=AT_END)
    counted = count(period, AT_END)

    index = " ".join((out / "index.html").read_text(encoding="utf-8").split())
    for theme in found.themes:
        figures, _, _ = counted["themes"][theme.code]
        assert (theme.progress.planned, theme.progress.done) == (
            figures["planned"],
            figures["done"],
        )
        page = " ".join((out / theme.page).read_text(encoding="utf-8").split())
        assert f"<h1>{theme.name}</h1>" in page.replace("&#39;", "'")
        occurrences = [a for a in theme.activities if a.planned]
        assert sum(a.planned for a in occurrences) == figures["planned"]
        assert sum(a.done for a in occurrences) == figures["done"]
        for activity in theme.activities:
            assert activity.status in page
            if activity.planned:
                assert f"{activity.done} van {activity.planned}" in page
        assert f'href="{theme.page}"' in index
    statuses = {a.status for t in found.themes for a in t.activities}
    assert {"afgerond", "vertraagd", "gepland", "doorlopend"} <= statuses
    for item in found.council:
        assert item.subject in index
    assert "€ 65.250" in index  # the bookings up to the end of 2023 (sum in test_evaluation)


def test_the_quarterly_report_for_the_committee(period, tmp_path):
    target = tmp_path / "kwartaal.pdf"

    result = run(
        "rapport", "kwartaal", "-o", target, "--kwartaal", "2023-Q4", "--now", "2023-12-31T23:00"
    )

    assert result.exit_code == 0, result.output
    text = _pdf_text(target)
    assert _personal_data_in(text) == []
    lines = [" ".join(line.split()) for line in text.splitlines()]
    words = " ".join(lines)
    assert "Raadsinformatiebrief" in words and "vierde kwartaal 2023" in words
    # The quarter's figures, counted here: the activities with their deadline in Q4 2023.
    counted = count(period, AT_END)
    seen, calendar = counted["_seen"], counted["_calendar"]
    quarter = [
        t
        for t in seen.values()
        if not t.case
        and t.status != "cancelled"
        and date(2023, 10, 1) <= t.deadline() <= date(2023, 12, 31)
    ]
    figures, delays, overdue = progress_of(quarter, date(2023, 12, 31), calendar)
    assert (
        f"hadden {figures['planned']} activiteiten hun deadline. Op 31 december 2023 zijn er "
        f"{figures['done']} gereed, waarvan {figures['on_time']} op tijd en {figures['late']} "
        f"na de deadline; {figures['overdue']} zijn nog open en over de deadline"
    ) in words
    totals = f"Totaal {figures['planned']} {figures['done']} {figures['on_time']} "
    assert any(line.startswith(totals) for line in lines)
    assert figures["late"] + figures["overdue"] > 0  # so "what is late and why" has rows
    reading = " ".join(_pdf_text(target, layout=False).split())
    assert reading.count("werkdagen te laat") == figures["late"]
    assert reading.count("werkdagen over de deadline") == figures["overdue"]
    in_quarter = {task_id for task_id, t in seen.items() if t in quarter}
    escalated = {task_id for task_id, _ in counted["escalations"]} & in_quarter
    assert ("overgedragen aan de achtervang (escalatie)" in words) == bool(escalated)
    assert "heropend" in words  # E01: done, reopened, done again after its deadline
    for title, *_ in CRISES[:2]:
        assert title in words
    assert "Veiligheid in de begroting 2024" in words  # its deadline lies in Q4 2023
    assert "Budget 2023" in words
    assert _personal_data_in(" ".join(n for n, _, _ in STAFF)) != []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kwartaal", "2023-Q5"], "'2023-Q5' is geen kwartaal"),
        (["--kwartaal", "2022-Q3"], "valt buiten het programma"),
    ],
)
def test_a_bad_quarter_is_one_dutch_line(period, tmp_path, args, message):
    target = tmp_path / "kwartaal.pdf"

    result = run("rapport", "kwartaal", "-o", target, *args, "--now", "2023-12-31T23:00")

    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert not target.exists()


def test_the_quarter_as_html_is_accessible(period, tmp_path):
    target = tmp_path / "kwartaal.html"

    result = run(
        "rapport", "kwartaal", "-o", target, "--kwartaal", "2023-K4", "--now", "2023-12-31"
    )

    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    page = _parsed(text)
    tags = [t for t, _ in page.tags]
    assert '<html lang="nl">' in text
    assert tags.count("h1") == 1 and tags.count("h2") >= 4
    assert tags.count("table") == tags.count("caption")
    assert all(a.get("scope") in ("col", "row") for t, a in page.tags if t == "th")
    assert _personal_data_in(text) == []
