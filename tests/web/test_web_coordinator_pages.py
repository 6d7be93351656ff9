"""Issue 12: the coordinators' pages over real HTTP — termijnagenda, capaciteit (chart as SVG
and the numbers as a table), logboek, berichten (retry, confirm with the typed Message-ID),
afwezigheid (own for everyone, anyone's for a coordinator); a role that is missing is 403
and changes nothing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.web.conftest import COORDINATOR, STAFF, Live, csrf_of, sign_in
from veiligheid_flow.app import queries
from veiligheid_flow.app.access import known
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus

SVG = "{http://www.w3.org/2000/svg}"
OTHER_STAFF = "f.elamrani@example.nl"  # Fatima El Amrani, adviser without extra roles


@contextmanager
def _client(live: Live, address: str) -> Iterator[httpx.Client]:
    with live.client() as client:
        sign_in(live, client, address)
        yield client


def _main(html: str) -> str:
    return html.split("<main", 1)[1].split("</main>", 1)[0]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", _main(html)))


def _absences(live: Live, email: str) -> list:
    return [a for a in queries.absences(live.app, now=live.now) if a.person.email == email]


def _message_in(live: Live, status: OutboxStatus) -> int:
    """A real message of the example's jobs (written out as .eml), then put in `status` as a
    lost SMTP reply or a refused delivery would leave it."""
    run_due(live.app, now=live.now)
    item = next(m for m in queries.outbox(live.app) if "huizen" in m.municipalities)
    with live.app.unit_of_work() as session:
        row = session.get(OutboxMessage, item.id)
        row.status, row.last_error = status, "421 verbinding verbroken na DATA"
    return item.id


# --- the pages render, with the example's content ------------------------------------------------


def test_termijnagenda_nearest_first_and_passed_apart(live: Live) -> None:
    items = queries.council_agenda(live.app, now=live.now, actor=known(live.app, STAFF))
    with _client(live, STAFF) as client:
        page = client.get("/termijnagenda")
        assert page.status_code == 200
        text = _text(page.text)
        places = [text.index(i.subject) for i in items]
        assert places == sorted(places)  # nearest submission deadline first
        first = items[0]
        assert f"nog {first.days_left} dagen" in text and first.committee in text
        assert "Aanleverdatum voorbij" not in text

        live.move("2023-10-25T09:00")  # the two October deadlines have passed
        later = _text(client.get("/termijnagenda").text)
        coming, passed = later.split("Aanleverdatum voorbij")
        assert first.subject in passed and first.subject not in coming
        assert "6 dagen geleden" in passed
        assert items[2].subject in coming


def test_capacity_page_has_the_chart_and_the_forecasts_numbers(live: Live) -> None:
    rows, _ = queries.capacity_forecast(
        live.app, now=live.now, weeks=8, actor=known(live.app, COORDINATOR)
    )
    anna = next(r for r in rows if r.person == COORDINATOR)  # her first week: all that is late
    with _client(live, COORDINATOR) as client:
        page = client.get("/capaciteit")
        assert page.status_code == 200
        assert re.search(r'<img src="/capaciteit/grafiek.svg\?per=week" alt="[^"]{40,}"', page.text)
        row = re.search(
            r'<th scope="row" data-label="Medewerker">Anna de Vries.*?</tr>', page.text, re.S
        )[0]
        assert f"{anna.load:g} / {anna.capacity:g}" in row
        assert ("(te veel)" in row) is anna.over

        chart = client.get("/capaciteit/grafiek.svg")
        assert chart.status_code == 200
        assert chart.headers["content-type"].startswith("image/svg+xml")
        svg = ET.fromstring(chart.content)
        assert svg.tag.endswith("svg")
        texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
        people = queries.people(live.app, now=live.now, actor=known(live.app, COORDINATOR))
        names = {p.email for p in people}
        assert people and all(p.name in texts for p in people)
        hatched = [p for p in svg.iter(f"{SVG}path") if "url(#h" in str(p.get("style"))]
        over = sum(r.over for r in rows if r.person in names)
        assert over and len(hatched) == over + 1  # a hatched bar per week over, and the legend

        month = client.get("/capaciteit?per=maand")
        assert month.status_code == 200 and "okt 2023" in month.text and "nov 2023" in month.text
        assert client.get("/capaciteit/grafiek.svg?per=maand&smal=1").content != chart.content


def test_logboek_pages_and_filters(live: Live) -> None:
    with _client(live, COORDINATOR) as client:
        first = client.get("/logboek")
        assert first.status_code == 200
        assert "beslissing van de regels" in first.text and "pagina 1 van" in first.text
        older = re.search(r'href="(/logboek\?pagina=2)"', first.text)[1]
        second = client.get(older)
        assert second.status_code == 200 and "pagina 2 van" in second.text
        assert "Nieuwere regels" in second.text

        empty = client.get("/logboek?van=2023-10-03&tot=2023-10-05")
        assert empty.status_code == 200 and "Geen regels met deze filters" in empty.text
        bad = client.get("/logboek?van=2023-02-30")
        assert bad.status_code == 400 and "geen geldige datum" in bad.text
        nobody = client.get("/logboek?persoon=niemand")
        assert nobody.status_code == 400 and "Onbekende persoon" in nobody.text


def test_berichten_list_and_one_message(live: Live) -> None:
    message_id = _message_in(live, OutboxStatus.FAILED)
    item = queries.message(live.app, message_id)
    with _client(live, COORDINATOR) as client:
        listing = client.get("/berichten")
        assert listing.status_code == 200 and item.subject in listing.text
        failed = client.get("/berichten?status=failed")
        assert f'href="/berichten/{message_id}"' in failed.text
        assert "verstuurd" in _text(client.get("/berichten?status=sent").text)
        assert f'href="/berichten/{message_id}"' not in client.get("/berichten?status=sent").text
        show = client.get(f"/berichten/{message_id}")
        assert show.status_code == 200
        for part in (item.message_id, item.to, "mislukt", "421 verbinding verbroken na DATA"):
            assert part.replace("<", "&lt;").replace(">", "&gt;") in show.text

        retried = client.post(f"/berichten/{message_id}/opnieuw", data={"csrf": csrf_of(show.text)})
        assert retried.status_code == 303
        assert "weer klaar" in client.get(retried.headers["location"]).text
    assert queries.message(live.app, message_id).status == "pending"


def test_confirm_needs_the_right_message_id(live: Live) -> None:
    message_id = _message_in(live, OutboxStatus.UNCERTAIN)
    header = queries.message(live.app, message_id).message_id
    with _client(live, COORDINATOR) as client:
        show = client.get(f"/berichten/{message_id}")
        assert 'name="message_id" type="text"' in show.text
        csrf = csrf_of(show.text)
        for typed, said in (
            ("", "Typ de Message-ID"),
            ("<verkeerd@example.nl>", "niet die van bericht"),
        ):
            wrong = client.post(
                f"/berichten/{message_id}/bevestigen", data={"csrf": csrf, "message_id": typed}
            )
            assert wrong.status_code == 400
            problem = re.findall(r'<p class="problem" role="alert">([^<]*)</p>', wrong.text)
            assert len(problem) == 1 and said in problem[0], _text(wrong.text)
            assert queries.message(live.app, message_id).status == "uncertain"
        right = client.post(
            f"/berichten/{message_id}/bevestigen", data={"csrf": csrf, "message_id": header}
        )
        assert right.status_code == 303
    assert queries.message(live.app, message_id).status == "sent"


# --- staff: no coordinator pages; only their own absences ----------------------------------------


def test_staff_get_403_on_the_coordinator_pages_and_retry(live: Live) -> None:
    message_id = _message_in(live, OutboxStatus.FAILED)
    with _client(live, STAFF) as client:
        home = client.get("/afwezigheid")
        assert home.status_code == 200 and 'href="/capaciteit"' not in home.text
        for path in (
            "/capaciteit",
            "/capaciteit/grafiek.svg",
            "/logboek",
            "/berichten",
            f"/berichten/{message_id}",
        ):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "Geen toegang" in answer.text and "coördinator" in answer.text
        refused = client.post(f"/berichten/{message_id}/opnieuw", data={"csrf": csrf_of(home.text)})
        assert refused.status_code == 403
    assert queries.message(live.app, message_id).status == "failed"


def test_staff_add_and_cancel_their_own_absence(live: Live) -> None:
    with _client(live, STAFF) as client:
        form = client.get("/afwezigheid")
        csrf = csrf_of(form.text)
        added = client.post(
            "/afwezigheid",
            data={
                "csrf": csrf,
                "person": STAFF,
                "start": "2023-10-09",
                "end": "2023-10-13",
                "reason": "vakantie",
            },
        )
        assert added.status_code == 303, _text(added.text)
        assert "De afwezigheid is vastgelegd" in client.get(added.headers["location"]).text
        (mine,) = _absences(live, STAFF)
        assert (str(mine.start), str(mine.end), mine.reason) == (
            "2023-10-09",
            "2023-10-13",
            "vakantie",
        )
        assert mine.created_by.email == STAFF
        cancelled = client.post(f"/afwezigheid/{mine.id}/intrekken", data={"csrf": csrf})
        assert cancelled.status_code == 303
        assert _absences(live, STAFF)[0].cancelled is True


def test_staff_may_not_touch_someone_elses_absence_a_coordinator_may(live: Live) -> None:
    with _client(live, STAFF) as client:
        form = client.get("/afwezigheid")
        assert form.status_code == 200
        assert f'value="{OTHER_STAFF}"' not in form.text  # staff choose only themselves
        theirs = client.post(
            "/afwezigheid",
            data={
                "csrf": csrf_of(form.text),
                "person": OTHER_STAFF,
                "start": "2023-10-09",
                "end": "2023-10-10",
            },
        )
        assert theirs.status_code == 403 and "Geen toegang" in theirs.text
    assert _absences(live, OTHER_STAFF) == []

    with _client(live, COORDINATOR) as coordinator:
        page = coordinator.get("/afwezigheid")
        assert f'value="{STAFF}"' in page.text  # a coordinator chooses anyone of the municipality
        made = coordinator.post(
            "/afwezigheid",
            data={
                "csrf": csrf_of(page.text),
                "person": OTHER_STAFF,
                "start": "2023-10-16",
                "end": "2023-10-20",
                "reason": "cursus",
            },
        )
        assert made.status_code == 303
        (other,) = _absences(live, OTHER_STAFF)
        assert other.created_by.email == COORDINATOR and not other.cancelled
        listed = _text(coordinator.get("/afwezigheid").text)
        assert "Fatima El Amrani" in listed and "cursus" in listed

    with _client(live, STAFF) as client:
        page = client.get("/afwezigheid")
        assert "Fatima El Amrani" not in _text(page.text)  # staff see their own absences only
        refused = client.post(
            f"/afwezigheid/{other.id}/intrekken", data={"csrf": csrf_of(page.text)}
        )
        assert refused.status_code == 403
    assert _absences(live, OTHER_STAFF)[0].cancelled is False

    with _client(live, COORDINATOR) as coordinator:
        page = coordinator.get("/afwezigheid")
        done = coordinator.post(
            f"/afwezigheid/{other.id}/intrekken", data={"csrf": csrf_of(page.text)}
        )
        assert done.status_code == 303
    assert _absences(live, OTHER_STAFF)[0].cancelled is True


def test_bad_absence_input_gives_one_dutch_line_and_changes_nothing(live: Live) -> None:
    with _client(live, COORDINATOR) as client:
        csrf = csrf_of(client.get("/afwezigheid").text)
        for start, end, said in (
            ("", "2023-10-10", "Vul de begindatum in."),
            ("2023-10-32", "2023-10-10", "De begindatum is geen geldige datum"),
            ("2023-10-12", "2023-10-10", "De einddatum van de afwezigheid ligt vóór de begindatum"),
        ):
            answer = client.post(
                "/afwezigheid", data={"csrf": csrf, "person": STAFF, "start": start, "end": end}
            )
            assert answer.status_code == 400
            problems = re.findall(r'<p class="problem" role="alert">([^<]*)</p>', answer.text)
            assert len(problems) == 1 and problems[0].startswith(said), problems
            assert f'value="{end}"' in answer.text  # what was typed stays in the form
    assert _absences(live, STAFF) == []


# --- the logboek names who did it through the web ------------------------------------------------


def test_logboek_shows_the_signed_in_person_for_a_change_made_in_the_web(live: Live) -> None:
    task = next(
        t
        for t in queries.tasks(live.app, now=live.now, actor=known(live.app, STAFF))
        if t.responsible == STAFF and t.status == "open"
    )
    with _client(live, STAFF) as client:
        page = client.get(f"/taak/{task.id}")
        done = client.post(f"/taak/{task.id}/gereed", data={"csrf": csrf_of(page.text)})
        assert done.status_code == 303
    with _client(live, COORDINATOR) as client:
        page = client.get("/afwezigheid")
        client.post(
            "/afwezigheid",
            data={
                "csrf": csrf_of(page.text),
                "person": STAFF,
                "start": "2023-10-09",
                "end": "2023-10-09",
            },
        )
        (absence,) = _absences(live, STAFF)
        log = client.get(f"/logboek?persoon={STAFF}&van=2023-10-02&tot=2023-10-02")
        assert log.status_code == 200
        rows = re.findall(r"<tr>.*?</tr>", log.text, re.S)
        by_staff = next(r for r in rows if "taak: gereed gemeld" in r)
        assert "Bram Jansen" in by_staff and f"taak {task.id}" in by_staff
        assert "ma 2 okt 2023 09:00" in by_staff  # local time
        by_coordinator = next(r for r in rows if "afwezigheid: vastgelegd" in r)
        assert "Anna de Vries" in by_coordinator and f"afwezigheid {absence.id}" in by_coordinator
