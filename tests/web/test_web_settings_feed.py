"""Issue 12: Instellingen. A person's own reminder lead changes which reminders the next job
run sends them; a portfolio holder who switches the digest off gets none while others do;
the live calendar address serves the person's deadlines without sign-in, stops when revoked,
and a new one works."""

from __future__ import annotations

import re
from datetime import date

import httpx

from tests.conftest import at
from tests.web.conftest import COORDINATOR, MAYOR, STAFF, Live, body_text, csrf_of, sign_in
from veiligheid_flow.app import access, preferences, queries
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.app.queries import LogFilter, TaskQuery
from veiligheid_flow.app.views import Actor
from veiligheid_flow.programme.service import municipal_calendar

HOLDER = "g.prins@example.nl"  # a wethouder who keeps the digest


def _save(client: httpx.Client, **form: str) -> httpx.Response:
    page = client.get("/instellingen")
    assert page.status_code == 200, page.text
    return client.post("/instellingen", data={"csrf": csrf_of(page.text), **form})


def _reminded(live: Live, moment: str) -> set[int]:
    """Run the reminders job at `moment`; the task ids of STAFF's new reminder mail."""
    seen = len(live.mails_to(STAFF))
    live.move(moment)
    run_job(live.app, JOBS_BY_NAME["reminders"], now=at(moment))
    new = [m for m in live.mails_to(STAFF)[seen:] if "Herinnering" in str(m["Subject"])]
    return {int(n) for m in new for n in re.findall(r"\(taak (\d+),", body_text(m))}


def _lead_day(live: Live, due: date, lead: int) -> date:
    """What compose counts: the working day `lead` working days before `due`."""
    with live.app.sessions() as session:
        calendar = municipal_calendar(session)
    return calendar.on_or_before(calendar.add_working_days(due, -lead))


def test_an_own_lead_changes_which_reminders_come(live: Live) -> None:
    with live.client() as client:
        sign_in(live, client, STAFF)
        saved = _save(client, lead="5")
        assert saved.status_code == 303
        page = client.get(saved.headers["location"])
        assert "opgeslagen" in page.text
        assert re.search(r'<option value="5" selected>5 werkdagen vooraf', page.text)
        assert 'name="digest"' not in page.text  # no portfolio: no digest choice
        refused = _save(client, lead="40")
        assert refused.status_code == 400 and "tot en met 15" in refused.text
    assert preferences.preferences(live.app, actor=_actor(live, STAFF)).lead_days == 5
    tasks = queries.tasks(live.app, now=live.now, filters=TaskQuery(owner=STAFF))
    task = next(
        t
        for t in tasks
        if t.responsible == STAFF
        and not t.paused
        and _lead_day(live, t.due_date, 10) > date(2023, 10, 3)
    )
    ten, five = _lead_day(live, task.due_date, 10), _lead_day(live, task.due_date, 5)
    # The rules' first reminder (10 working days) no longer comes; the own one (5) does.
    assert task.id not in _reminded(live, f"{ten}T08:05")
    assert task.id in _reminded(live, f"{five}T08:05")
    log = queries.audit_log(live.app, now=live.now, filters=LogFilter(action="preference.set"))
    assert [(e.actor.email, e.after) for e in log.items] == [
        (STAFF, {"lead_days": 5, "digest": True})
    ]


def _actor(live: Live, email: str) -> Actor:
    actor = access.known(live.app, email)
    assert actor is not None
    return actor


def _digests(live: Live, moment: str) -> set[str]:
    live.move(moment)
    before = {m.id for m in queries.outbox(live.app)}
    run_job(live.app, JOBS_BY_NAME["weekly_digest"], now=at(moment))
    return {
        m.to for m in queries.outbox(live.app) if m.kind == "digest" and m.id not in before
    }


def test_a_holder_who_opts_out_gets_no_digest_others_do(live: Live) -> None:
    first = _digests(live, "2023-10-09T08:05")
    assert {MAYOR, HOLDER} <= first
    with live.client() as client:
        sign_in(live, client, MAYOR)
        page = client.get("/instellingen")
        assert 'name="digest"' in page.text and 'id="lead"' not in page.text
        assert _save(client, digest="nee").status_code == 303
    with live.client() as client:  # not a holder: a digest choice is not theirs to make
        sign_in(live, client, STAFF)
        assert _save(client, digest="nee").status_code == 303
    assert preferences.preferences(live.app, actor=_actor(live, STAFF)).digest is True
    second = _digests(live, "2023-10-16T08:05")
    assert HOLDER in second and MAYOR not in second


def _feed(client: httpx.Client, url: str) -> httpx.Response:
    return client.get(url.removeprefix(str(client.base_url)))


def _new_address(client: httpx.Client) -> str:
    page = client.get("/instellingen")
    made = client.post("/instellingen/agenda", data={"csrf": csrf_of(page.text)})
    assert made.status_code == 200
    return re.search(r'<textarea id="feed-url"[^>]*>([^<]+)</textarea>', made.text)[1]


def test_the_calendar_address_serves_the_feed_until_revoked(live: Live) -> None:
    # One session throughout: a second sign-in of the same address in one test could read
    # the first (used) link from the mail folder.
    with live.client() as client, live.client() as anonymous:  # a calendar app: no session
        sign_in(live, client, COORDINATOR)
        assert "nog geen agenda-abonnement" in client.get("/instellingen").text
        url = _new_address(client)
        assert re.fullmatch(rf"{live.url}/agenda/[\w-]+\.ics", url)
        again = client.get("/instellingen")
        assert "Je hebt een agenda-abonnement" in again.text and url not in again.text
        served = _feed(anonymous, url)
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/calendar")
        expected = queries.deadlines_calendar(live.app, now=live.now, person=COORDINATOR)
        assert served.text == expected and "BEGIN:VEVENT" in served.text
        page = client.get("/instellingen")
        revoked = client.post("/instellingen/agenda/intrekken", data={"csrf": csrf_of(page.text)})
        assert revoked.status_code == 303
        assert "ingetrokken" in client.get(revoked.headers["location"]).text
        assert _feed(anonymous, url).status_code == 404
        fresh = _new_address(client)
        assert fresh != url
        assert _feed(anonymous, url).status_code == 404
        assert _feed(anonymous, fresh).status_code == 200
        assert anonymous.get("/agenda/verzonnen.ics").status_code == 404
