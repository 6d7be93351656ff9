"""CLI of the email side: run, outbox, retry, digest preview and the calendar feed."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from click.testing import Result
from icalendar import Calendar
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus


def run(*args: Any) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def test_run_writes_eml_once_and_outbox_lists_them(app, settings):
    assert run("load", EXAMPLE, "--by", "OOV1", "--now", "2023-09-29T09:00").exit_code == 0

    first = run("run", "--now", "2023-10-10T08:05")
    again = run("run", "--now", "2023-10-10T11:00")

    assert first.exit_code == 0, first.output
    assert "reminders:" in first.output
    files = sorted(p.name for p in settings.mail_dir.glob("*.eml"))
    listed = json.loads(run("outbox", "--status", "sent", "--json").stdout)
    assert files and len(files) == len(listed)
    assert {m["status"] for m in listed} == {"sent"}
    assert "niet aan de beurt" in again.output
    assert sorted(p.name for p in settings.mail_dir.glob("*.eml")) == files


def test_outbox_retry_only_takes_failed_or_uncertain(app, settings):
    assert run("load", EXAMPLE, "--by", "OOV1", "--now", "2023-09-29T09:00").exit_code == 0
    assert run("run", "--now", "2023-10-10T08:05").exit_code == 0
    with app.unit_of_work() as session:
        row = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
        row.status = OutboxStatus.FAILED
        failed_id, other_id = row.id, row.id + 1

    refused = run("outbox", "retry", other_id)
    accepted = run("outbox", "retry", failed_id, "--now", "2023-10-10T09:00")

    assert refused.exit_code == 1 and "alleen mislukte of onzekere" in refused.output
    assert accepted.exit_code == 0
    with app.sessions() as session:
        assert session.get(OutboxMessage, failed_id).status == OutboxStatus.PENDING


def test_digest_preview_writes_html_and_sends_nothing(app, settings, tmp_path):
    assert run("load", EXAMPLE, "--by", "OOV1", "--now", "2023-09-29T09:00").exit_code == 0
    target = tmp_path / "digest.html"

    result = run(
        "digest", "--holder", "burgemeester", "--html", target, "--now", "2023-10-09T08:05"
    )

    assert result.exit_code == 0, result.output
    assert "Weekoverzicht veiligheid week 41" in result.output
    assert target.read_text().startswith("<!doctype html>")
    with app.sessions() as session:
        assert session.scalars(select(OutboxMessage)).first() is None


def test_calendar_exports_the_persons_deadlines(app, settings, tmp_path):
    assert run("load", EXAMPLE, "--by", "OOV1", "--now", "2023-09-29T09:00").exit_code == 0
    tasks = json.loads(
        run(
            "tasks", "--owner", "a.devries@example.nl", "--json", "--now", "2023-09-29T09:00"
        ).stdout
    )
    mine = {t["id"] for t in tasks if t["responsible"] == "a.devries@example.nl"}
    target = tmp_path / "a.ics"

    result = run("calendar", "OOV1", "-o", target, "--now", "2023-09-29T09:00")

    assert result.exit_code == 0, result.output
    events = Calendar.from_ical(target.read_bytes()).walk("VEVENT")
    described = {int(re.search(r"taak (\d+)", str(e["DESCRIPTION"]))[1]) for e in events}
    assert described == mine and len({str(e["UID"]) for e in events}) == len(events)


def test_eml_file_names_never_collide():
    keys = [
        "reminder:a@b_c.nl:2023-10-02",
        "reminder:a_b@c.nl:2023-10-02",
        "x" * 300,
        "x" * 300 + "y",
    ]
    names = {OutboxMessage(key=k).file_name for k in keys}
    assert len(names) == len(keys)
    assert all(len(n) < 200 and n.endswith(".eml") for n in names)


def test_sent_mail_is_audited_and_uncertain_can_be_confirmed(app, settings):
    assert run("load", EXAMPLE, "--by", "OOV1", "--now", "2023-09-29T09:00").exit_code == 0
    assert run("run", "--now", "2023-10-10T08:05").exit_code == 0
    with app.unit_of_work() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        rows[0].status = OutboxStatus.UNCERTAIN
        uncertain, sent = rows[0].id, rows[1].id
        header, other = rows[0].message_id, rows[1].message_id

    refused = run("outbox", "confirm", sent, "--message-id", other)
    shown = json.loads(run("outbox", "show", uncertain, "--json").stdout)
    assert shown["message_id"] == header and shown["status"] == "uncertain"
    wrong = run("outbox", "confirm", uncertain, "--message-id", other, "--by", "OOV1")
    assert wrong.exit_code == 1 and "is niet die van bericht" in wrong.output
    assert "Traceback" not in wrong.output
    with app.sessions() as session:
        assert session.get(OutboxMessage, uncertain).status == OutboxStatus.UNCERTAIN
    confirmed = run(
        "outbox", "confirm", uncertain, "--message-id", header.strip("<>"), "--by", "OOV1",
        "--now", "2023-10-10T12:00",
    )  # the coordinator of huizen, whose work the message carries (or, without --by, the operator)

    assert refused.exit_code == 1
    assert confirmed.exit_code == 0, confirmed.output
    log = json.loads(run("log", "--action", "email.", "--limit", 10000, "--json").stdout)
    log = log["items"]
    assert sum(1 for e in log if e["action"] == "email.sent") == len(rows)
    confirmed_by = [e["actor"]["email"] for e in log if e["action"] == "email.confirm"]
    assert confirmed_by == ["a.devries@example.nl"]
    with app.sessions() as session:
        assert session.get(OutboxMessage, uncertain).status == OutboxStatus.SENT


def test_dispatch_sends_the_outbox_without_running_the_jobs(app, settings):
    assert run("load", EXAMPLE, "--by", "OOV1", "--now", "2023-09-29T09:00").exit_code == 0
    with app.sessions() as session:
        assert session.scalars(select(OutboxMessage)).first() is None
    nothing = run("dispatch", "--now", "2023-10-10T08:05")
    assert nothing.exit_code == 0 and "0 verstuurd" in nothing.output
    with app.sessions() as session:
        assert session.scalars(select(OutboxMessage)).first() is None  # no job ran
    assert run("run", "--now", "2023-10-10T08:05").exit_code == 0
    with app.unit_of_work() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.status = OutboxStatus.PENDING
    again = run("dispatch", "--now", "2023-10-10T09:00")
    assert again.exit_code == 0, again.output
    with app.sessions() as session:
        statuses = {r.status for r in session.scalars(select(OutboxMessage))}
    assert statuses == {OutboxStatus.SENT}


def test_the_personal_feed_names_itself_refreshes_and_drops_done_work(app, settings):
    from veiligheid_flow.app import commands, queries
    from veiligheid_flow.authority import SYSTEM
    from veiligheid_flow.mail.site import calendar_uid
    from veiligheid_flow.tasks.models import Task, TaskStatus

    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    with app.sessions() as session:
        task = session.scalars(
            select(Task).where(Task.due_date >= date(2023, 10, 2)).order_by(Task.due_date)
        ).first()
        task_id, owner = task.id, task.owner.email
        uid = f"{calendar_uid(task)}@{settings.mail_domain}"
    commands.change_status(
        app, task_id, TaskStatus.DONE, by=owner, now=at("2023-10-02T09:00"), note=None
    )
    feed = queries.deadlines_calendar(app, now=at("2023-10-02T10:00"), person=owner)
    calendar = Calendar.from_ical(feed.encode())
    assert str(calendar["x-wr-calname"]).startswith("Deadlines ")
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT60M" in feed
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    done = events[uid]
    assert str(done["status"]) == "CANCELLED"
    assert all(str(e["transp"]) == "TRANSPARENT" for e in events.values())
    assert any(str(e["status"]) == "CONFIRMED" for e in events.values())
    assert "thema " in str(done["description"])
