"""Issue 11, points 3 and 4: every task in a message links to its page in the web app when its
base URL is configured; a deadline has one calendar UID, the same in every attachment and in
the personal feed, unique across installations; the crisis end notice carries the moved events
(with a higher SEQUENCE) and names whom to ask about one's work."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from icalendar import Calendar
from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands, queries_mail
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.settings import Settings

WEB = "https://veiligheid.huizen.nl"


@pytest.fixture
def linked(settings: Settings) -> Iterator[App]:
    application = bootstrap(
        settings.model_copy(update={"web_url": WEB, "mail_from": "oov@huizen.nl"})
    )
    yield application
    application.close()


def _messages(app: App, kind: str | None = None) -> list[OutboxMessage]:
    with app.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        rows = list(session.scalars(query))
        session.expunge_all()
    return rows


def _remind(app: App) -> list[OutboxMessage]:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-28T09:00"))
    run_job(app, JOBS_BY_NAME["reminders"], now=at("2023-09-29T08:05"))  # first run: summary
    run_job(app, JOBS_BY_NAME["reminders"], now=at("2023-10-02T08:05"))
    return _messages(app, "reminder")


def _uids(ics: str) -> dict[str, object]:
    return {str(e["uid"]): e for e in Calendar.from_ical(ics.encode()).walk("VEVENT")}


def test_every_task_in_a_reminder_links_to_its_page(linked: App) -> None:
    rows = _remind(linked)
    assert rows
    for row in rows:
        ids = {int(n) for n in re.findall(r"\(taak (\d+)", row.text_body)}
        assert ids
        for task_id in ids:
            assert f"{WEB}/taak/{task_id}\n" in row.text_body
            assert f'href="{WEB}/taak/{task_id}"' in row.html_body


def test_without_a_web_address_no_link_is_made(app: App) -> None:
    rows = _remind(app)
    assert rows and not any("/taak/" in r.text_body or "/taak/" in r.html_body for r in rows)


def test_the_attachment_and_the_feed_share_one_uid_under_the_mail_domain(linked: App) -> None:
    rows = _remind(linked)
    row = next(r for r in rows if r.ics)
    attached = _uids(row.ics)
    assert attached and all(
        re.fullmatch(r"UPV-2023-2024\.[A-Z0-9]+\.[^@]+@huizen\.nl", uid) for uid in attached
    ), sorted(attached)
    feed = _uids(
        queries_mail.deadlines_calendar(linked, now=at("2023-10-02T09:00"), person=row.recipient)
    )
    shared = set(attached) & set(feed)
    assert shared == set(attached) - {u for u in attached if u not in feed}
    assert shared, "the feed holds the reminded deadlines under the same UIDs"
    for uid in shared:
        assert str(attached[uid]["description"]) == str(feed[uid]["description"])
        assert "thema " in str(feed[uid]["description"])


def test_another_installation_gives_other_uids(app: App, linked: App) -> None:
    """The same programme file in two installations (mail domains example.nl and huizen.nl):
    a person subscribed to both keeps two events, not one overwritten by the other."""
    rows = _remind(app)
    person, now = rows[0].recipient, at("2023-10-02T09:00")
    ours = _uids(queries_mail.deadlines_calendar(app, now=now, person=person))
    theirs = _uids(queries_mail.deadlines_calendar(linked, now=now, person=person))
    assert ours and len(ours) == len(theirs) and set(ours).isdisjoint(theirs)
    assert {u.rpartition("@")[0] for u in ours} == {u.rpartition("@")[0] for u in theirs}


def test_the_crisis_end_notice_carries_the_moved_events_and_names_contacts(linked: App) -> None:
    commands.load(linked, EXAMPLE, by=SYSTEM, now=at("2023-10-02T09:00"))
    crisis = commands.declare_crisis(
        linked,
        "Grote brand",
        grip=2,
        by="burgemeester",
        now=at("2023-10-02T10:00"),
        themes=["VERKEERSVEILIGHEID"],
        staff=["OOV1", "AOV"],
        expected_days=None,
    ).subject_id
    declared = {r.recipient: r for r in _messages(linked, "crisis")}
    assert declared and not any(r.ics for r in declared.values())  # nothing moved yet
    commands.end_crisis(linked, crisis, by="burgemeester", now=at("2023-10-13T17:00"))
    ended = [r for r in _messages(linked, "crisis") if r.key.endswith(":end")]
    moving = [r for r in ended if "nieuwe deadline" in r.text_body]
    assert moving
    for row in moving:
        events = _uids(row.ics or "")
        ids = {int(n) for n in re.findall(r"taak (\d+), nieuwe deadline", row.text_body)}
        assert events and len(events) >= len(ids)
        assert all(
            int(e["sequence"]) > 0 and str(e["status"]) == "CONFIRMED" for e in events.values()
        )
    # The coordinator (roles.coordinators of the example: OOV1, Anna de Vries) is named to
    # everyone else as the one to ask about their work; the mayor about the crisis.
    coordinator = "a.devries@example.nl"
    assert {r.recipient for r in ended} - {coordinator}
    for row in ended:
        assert "Vragen over de crisis: Marieke Verbeek." in row.text_body
        asked = f"Vragen over je werk: Anna de Vries <{coordinator}>." in row.text_body
        assert asked == (row.recipient != coordinator), row.recipient
        assert (f'href="mailto:{coordinator}"' in row.html_body) == asked
