"""What the application layer adds to the CLI: `--json` on every write command (what it did,
as {now, item}), the outbox statuses in Dutch, `--by` on the read commands (only the
municipalities that person serves), and who may retry or confirm a message."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from tests.test_region import DISTRICT_ADVISER, laren_programme
from veiligheid_flow.app import commands
from veiligheid_flow.app.views import SYSTEM
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.bootstrap import App
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.mail.models import OutboxMessage, OutboxStatus
from veiligheid_flow.tasks.models import Task

ANNA = "a.devries@example.nl"  # coordinator of Huizen
LAREN_ANNA = "a.devries@laren.example.nl"  # coordinator of Laren
MAYOR, DELEGATE = "m.verbeek@example.nl", "p.vandijk@example.nl"  # BM and AOV of Huizen
STAFF = "f.elamrani@example.nl"  # OOV3: staff of Huizen, no coordinator
NOW = "2023-10-03T09:00"


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: Any) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def data(*args: Any) -> Any:
    return json.loads(ok(*args, "--json").stdout)


@pytest.fixture
def region(app: App, tmp_path: Any) -> App:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-03-01T09:00"))
    commands.load(app, laren_programme(tmp_path), by=SYSTEM, now=at("2023-03-01T09:00"))
    return app


# --- --by on the read commands -------------------------------------------------------------------

LISTINGS = [
    ["people"],
    ["themes"],
    ["termijnagenda"],
    ["crisis", "list"],
    ["absence", "list"],
    ["log"],
]


@pytest.mark.parametrize("command", LISTINGS, ids=lambda c: " ".join(c))
def test_by_limits_a_listing_to_the_municipalities_of_that_person(region, command):
    everyone = data(*command, "--now", NOW)
    anna = data(*command, "--by", ANNA, "--now", NOW)
    huizen = data(*command, "-g", "huizen", "--now", NOW)

    assert anna["items"] == huizen["items"]
    if command[0] in ("people", "themes", "termijnagenda"):
        assert {i["municipality"] for i in everyone["items"]} == {"huizen", "laren"}
        assert {i["municipality"] for i in anna["items"]} == {"huizen"}


def test_by_limits_tasks_and_week_like_the_municipality_does(region):
    def ids(*args: Any) -> list[int]:
        return [t["id"] for t in data(*args, "--now", NOW)]

    everyone, anna = ids("tasks"), ids("tasks", "--by", ANNA)
    assert anna == ids("tasks", "-g", "huizen") and set(anna) < set(everyone)
    # Someone serving both municipalities sees both, in the one order of work.
    assert ids("tasks", "--by", DISTRICT_ADVISER) == everyone
    assert ids("week", "--by", LAREN_ANNA) == ids("week", "-g", "laren")


@pytest.mark.parametrize(
    "command",
    [*LISTINGS, ["tasks"], ["week"], ["forecast"], ["outbox"]],
    ids=lambda c: " ".join(c),
)
def test_by_refuses_a_listing_of_another_municipality_in_one_dutch_line(region, command):
    moment = [] if command == ["outbox"] else ["--now", NOW]  # the outbox is what is stored
    result = run(*command, "-g", "laren", "--by", ANNA, *moment)

    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "werkt niet voor gemeente laren" in lines[0]
    assert "mag de gegevens van gemeente laren zien" in lines[0]


def test_by_refuses_one_object_of_a_municipality_the_person_does_not_serve(region):
    with region.sessions() as session:
        laren_only = session.scalars(
            select(Task.id).where(Task.title.startswith("Laren:")).order_by(Task.id)
        ).first()

    task = run("task", "show", laren_only, "--by", ANNA, "--now", NOW)
    why = run("explain", laren_only, "--by", ANNA, "--now", NOW)

    assert task.exit_code == 1 and f"taak {laren_only} zien" in task.output
    assert why.exit_code == 1 and "werkt niet voor gemeente laren" in why.output
    assert ok("task", "show", laren_only, "--by", LAREN_ANNA, "--now", NOW)
    assert ok("task", "show", laren_only, "--now", NOW)  # the operator sees all


def test_the_help_says_who_reads_without_by():
    text = " ".join(ok("people", "--help").output.split())
    assert "Zonder --by bent u de beheerder" in text and "alle gemeenten" in text


# --- --json on the write commands ----------------------------------------------------------------


def _item(result: Result, action: str) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out) == {"now", "item"} and out["now"].startswith("20")
    assert out["item"]["action"] == action
    return out["item"]


def test_every_write_command_reports_what_it_did_as_json(region):
    with region.sessions() as session:
        task = session.scalars(
            select(Task).where(Task.title.not_like("Laren:%")).order_by(Task.id)
        ).first()
        task_id, holder = task.id, task.theme.holders[0].email

    declared = _item(
        run("crisis", "declare", "Brand", "--grip", "1", "--by", MAYOR, "--theme",
            "ONDERMIJNING", "--json", "--now", NOW),
        "crisis.declare",
    )
    crisis = declared["id"]
    assert declared["paused"] > 0 and declared["changed"] >= declared["paused"]
    assert declared["municipalities"] == ["huizen"] and declared["announced"] is False
    assert "vastgelegd" in declared["message"]
    trial = _item(
        run("crisis", "update", crisis, "--by", DELEGATE, "--grip", "2", "--dry-run", "--json",
            "--now", NOW),
        "crisis.update",
    )
    assert trial["dry_run"] is True
    _item(run("crisis", "update", crisis, "--by", DELEGATE, "--grip", "2", "--json", "--now", NOW),
          "crisis.update")
    ended = _item(run("crisis", "end", crisis, "--by", MAYOR, "--json", "--now",
                      "2023-10-04T09:00"), "crisis.end")
    assert ended["resumed"] == declared["paused"]

    added = _item(run("absence", "add", ANNA, "--from", "2023-10-05", "--to", "2023-10-06",
                      "--by", ANNA, "--json", "--now", NOW), "absence.add")
    _item(run("absence", "cancel", added["id"], "--by", ANNA, "--json", "--now", NOW),
          "absence.cancel")
    set_ = _item(run("priority", "set", task_id, "--tier", "1", "--by", holder, "--reason",
                     "eerst", "--json", "--now", NOW), "priority.set")
    assert set_["id"] == task_id and set_["tier"] == 1
    _item(run("priority", "clear", task_id, "--by", holder, "--json", "--now", NOW),
          "priority.clear")
    case = _item(run("case", "open", "huisverbod", "--on", "2023-10-02", "--by", STAFF,
                     "--json", "--now", NOW), "case.open")
    assert case["task"]["id"] == case["id"] and case["task"]["statutory"] is True


# --- the outbox: Dutch statuses, and who may retry or confirm ------------------------------------


def _messages(app: App) -> list[OutboxMessage]:
    assert run("run", "--now", "2023-10-10T08:05").exit_code == 0
    with app.sessions() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_outbox_shows_statuses_in_dutch_and_accepts_both_languages(region):
    rows = _messages(region)
    assert rows and {r.status for r in rows} == {OutboxStatus.SENT}

    table = ok("outbox", "--status", "verstuurd").output
    dutch = data("outbox", "--status", "verstuurd")
    english = data("outbox", "--status", "sent")

    assert "verstuurd" in table and " sent " not in table
    assert dutch == english and {m["status"] for m in dutch} == {"sent"}  # JSON keeps English
    assert data("outbox", "--status", "mislukt") == data("outbox", "--status", "failed") == []


def test_only_a_coordinator_of_the_messages_municipality_may_retry_it(region):
    rows = _messages(region)
    huizen = next(r for r in rows if r.municipalities == "huizen")
    with region.unit_of_work() as session:
        session.get(OutboxMessage, huizen.id).status = OutboxStatus.FAILED

    staff = run("outbox", "retry", huizen.id, "--by", STAFF, "--now", NOW)
    other = run("outbox", "retry", huizen.id, "--by", LAREN_ANNA, "--now", NOW)
    unknown = run("outbox", "retry", huizen.id, "--by", "beheerder", "--now", NOW)
    with region.sessions() as session:
        assert session.get(OutboxMessage, huizen.id).status == OutboxStatus.FAILED
    done = _item(run("outbox", "retry", huizen.id, "--by", ANNA, "--json", "--now", NOW),
                 "email.retry")

    assert staff.exit_code == 1 and "Alleen de coördinator van gemeente huizen" in staff.output
    assert other.exit_code == 1 and "werkt niet voor gemeente huizen" in other.output
    assert unknown.exit_code == 1
    assert done == {
        "id": huizen.id, "status": "pending", "status_label": "wacht", "by": ANNA,
        "action": "email.retry", "message": f"Bericht {huizen.id} staat weer klaar.",
    }
    with region.sessions() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "email.retry")
        ).one()
        assert entry.actor == ANNA and entry.object_id == str(huizen.id)


def test_the_operator_without_by_may_confirm_and_is_audited_by_login(region, monkeypatch):
    rows = _messages(region)
    with region.unit_of_work() as session:
        session.get(OutboxMessage, rows[0].id).status = OutboxStatus.UNCERTAIN
    monkeypatch.setattr("getpass.getuser", lambda: "beheerder")

    header = rows[0].message_id  # as `outbox show` gives it
    done = _item(
        run("outbox", "confirm", rows[0].id, "--message-id", header, "--json", "--now", NOW),
        "email.confirm",
    )

    assert done["status"] == "sent" and done["status_label"] == "verstuurd"
    assert done["by"] == "beheerder"
    with region.sessions() as session:
        assert session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "email.confirm")
        ).all() == ["beheerder"]
