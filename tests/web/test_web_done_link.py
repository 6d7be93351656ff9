"""Issue 12: 'Gereed melden' from the mail. A reminder carries, per task, a signed, short-lived,
single-use link for its recipient; opening it changes nothing, its one button reports the task
done (also without a session), after which no overdue notice comes for it. A used, expired,
someone else's or altered link is refused with a Dutch page and changes nothing."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta

import httpx
from playwright.sync_api import Browser

from tests.conftest import at
from tests.web.conftest import COORDINATOR, STAFF, Live, body_text, csrf_of, sign_in
from veiligheid_flow.app import queries
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.app.queries import TaskQuery
from veiligheid_flow.app.views import TaskView
from veiligheid_flow.clock import LOCAL_TZ
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.workdays import WorkCalendar


def _calendar(live: Live) -> WorkCalendar:
    with live.app.sessions() as session:
        return municipal_calendar(session)


def _two_due_together(live: Live) -> tuple[TaskView, TaskView]:
    """Two open tasks STAFF owns and holds, due the same day, well after the start."""
    tasks = queries.tasks(live.app, now=live.now, filters=TaskQuery(owner=STAFF))
    by_day: dict[date, list[TaskView]] = defaultdict(list)
    for t in tasks:
        if t.owner == t.responsible == STAFF and not t.paused and t.due_date > date(2023, 10, 20):
            by_day[t.due_date].append(t)
    day = min(d for d, found in by_day.items() if len(found) >= 2)
    return by_day[day][0], by_day[day][1]


def _local(moment: datetime) -> str:
    """A moment as the fixed clock takes it (naive is Europe/Amsterdam)."""
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def _run(live: Live, job: str, moment: datetime) -> None:
    live.move(_local(moment))
    run_job(live.app, JOBS_BY_NAME[job], now=moment)


def _reminder_link(live: Live, task: TaskView) -> tuple[str, datetime]:
    """Run the reminders job on the task's 'on the day' lead; its 'Gereed melden' link."""
    moment = at(f"{_calendar(live).on_or_before(task.due_date)}T08:05")
    _run(live, "reminders", moment)
    mails = [m for m in live.mails_to(STAFF) if "Herinnering" in str(m["Subject"])]
    assert mails, "no reminder for STAFF"
    text = body_text(mails[-1])
    found = re.search(rf"\(taak {task.id},.*?Gereed melden: (https?://\S+)", text, re.S)
    assert found, text
    html = next(
        p.get_payload(decode=True).decode()
        for p in mails[-1].walk()
        if p.get_content_type() == "text/html"
    )
    assert f'href="{found[1]}"' in html  # the HTML part carries the same link
    return found[1], moment


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def _status(live: Live, task_id: int) -> str:
    return queries.task_detail(live.app, now=live.now, task_id=task_id).status


def _overdue_ids(live: Live, moment: datetime) -> set[int]:
    """Task ids in the overdue and escalation notices the overdue job writes at `moment`."""
    before = {m.id for m in queries.outbox(live.app)}
    _run(live, "overdue", moment)
    new = [m.id for m in queries.outbox(live.app) if m.id not in before]
    kinds = {m.id: m.kind for m in queries.outbox(live.app)}
    ids: set[int] = set()
    for message in live.mails_to(STAFF):
        found = re.findall(r"\(taak (\d+),", body_text(message))
        if any(str(message["Subject"]).startswith(p) for p in ("Te laat", "Escalatie")):
            ids |= {int(n) for n in found}
    assert any(kinds[i] == "overdue" for i in new), "the overdue job wrote no notice"
    return ids


def test_done_from_the_mail_in_the_browser(live: Live, browser: Browser) -> None:
    task, sibling = _two_due_together(live)
    # The overdue job's first run is a summary; the next one sends notices.
    _run(live, "overdue", at(f"{_calendar(live).on_or_before(task.due_date)}T08:01"))
    url, moment = _reminder_link(live, task)
    live.move(_local(moment + timedelta(hours=1)))
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    assert page.get_by_role("heading", name=task.title).is_visible()
    assert _status(live, task.id) == "open"  # opening the link changed nothing
    page.get_by_role("button", name="Gereed melden").click()
    page.get_by_role("heading", name="Gereed gemeld").wait_for()
    context.close()
    detail = queries.task_detail(live.app, now=live.now, task_id=task.id)
    assert detail.status == "done" and detail.status_changed_by.email == STAFF
    next_day = _calendar(live).add_working_days(task.due_date, 1)
    late = _overdue_ids(live, at(f"{next_day}T08:05"))
    assert sibling.id in late  # the other task of that day is reported late
    assert task.id not in late  # the one done from the mail is not
    notice = next(m for m in live.mails_to(STAFF) if str(m["Subject"]).startswith("Te laat"))
    # An overdue notice copies the backup: a personal link would act in the owner's name for
    # whoever opens it, so with a copy there is none (the task page, after sign-in, is the way).
    assert notice["Cc"] and "/gereed/" not in body_text(notice)
    assert f"/taak/{sibling.id}" in body_text(notice)


def _link_for_staff(live: Live) -> tuple[TaskView, str, datetime]:
    task, _ = _two_due_together(live)
    url, moment = _reminder_link(live, task)
    live.move(_local(moment + timedelta(minutes=30)))
    return task, _path(url), moment


def _press(client: httpx.Client, link: str) -> httpx.Response:
    """POST the link's button with this session's CSRF token (a refused link's page has no
    form: the token then comes from another page of the same session)."""
    page = client.get(link)
    if 'name="csrf"' not in page.text:
        page = client.get("/aanmelden")
    return client.post(link, data={"csrf": csrf_of(page.text)})


def test_opening_changes_nothing_and_a_link_works_once(live: Live) -> None:
    task, link, _ = _link_for_staff(live)
    with live.client() as client:  # not signed in: the token names the person
        for _ in range(3):  # a mail scanner opening it
            page = client.get(link)
            assert page.status_code == 200 and task.title in page.text
        assert _status(live, task.id) == "open"
        done = client.post(link, data={"csrf": csrf_of(page.text)})
        assert done.status_code == 200 and "Gereed gemeld" in done.text
        assert _status(live, task.id) == "done"
        again = client.get(link)
        assert again.status_code == 410 and "al gebruikt" in again.text
    with live.client() as other:
        assert _press(other, link).status_code == 410
    marks = queries.audit_log(
        live.app, now=live.now, filters=queries.LogFilter(task=task.id, action="task.done")
    )
    assert [e.actor.email for e in marks.items] == [STAFF]  # reported once, by its recipient


def test_an_expired_link_changes_nothing(live: Live) -> None:
    task, link, moment = _link_for_staff(live)
    hours = live.app.settings.action_link_hours
    live.move(_local(moment + timedelta(hours=hours, minutes=1)))
    with live.client() as client:
        page = client.get(link)
        assert page.status_code == 410 and "verlopen" in page.text
        pressed = _press(client, link)
        assert pressed.status_code == 410 and "verlopen" in pressed.text
    assert _status(live, task.id) == "open"


def test_someone_elses_link_is_refused(live: Live) -> None:
    task, link, _ = _link_for_staff(live)
    with live.client() as client:
        sign_in(live, client, COORDINATOR)
        page = client.get(link)
        assert page.status_code == 403 and "iemand anders" in page.text
        pressed = _press(client, link)
        assert pressed.status_code == 403 and "iemand anders" in pressed.text
    assert _status(live, task.id) == "open"
    with live.client() as client:  # signed in as the recipient, it works
        sign_in(live, client, STAFF)
        assert _press(client, link).status_code == 200
    assert _status(live, task.id) == "done"


def test_an_altered_link_is_not_valid(live: Live) -> None:
    task, link, _ = _link_for_staff(live)
    head, token = link.rsplit("/", 1)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with live.client() as client:
        for bad in (f"{head}/{flipped}", f"{head}/verzonnen"):
            page = client.get(bad)
            assert page.status_code in (400, 410) and "niet geldig" in page.text
            pressed = _press(client, bad)
            assert pressed.status_code in (400, 410) and "niet geldig" in pressed.text
    assert _status(live, task.id) == "open"
