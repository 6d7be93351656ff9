"""The read side (`veiligheid_flow.app.queries` via the CLI): real content, one JSON shape,
and nothing written. Both backends through CliRunner."""

from __future__ import annotations

import json
import shutil
from typing import Any

from click.testing import Result
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.db import Base
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.models import import_all

ANNA = "a.devries@example.nl"
NOW = "2023-10-03T09:00"


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def ok(*args: Any) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output
    return result


def as_json(*args: Any) -> dict[str, Any]:
    return json.loads(ok(*args, "--json").stdout)


def scenario() -> None:
    ok("load", EXAMPLE, "--by", ANNA, "--now", "2023-03-01T09:00")
    ok(
        "crisis",
        "declare",
        "Grote brand",
        "--grip",
        "2",
        "--by",
        "BM",
        "--theme",
        "ONDERMIJNING",
        "--expected-days",
        "5",
        "--now",
        "2023-10-02T09:00",
    )
    ok(
        "absence",
        "add",
        ANNA,
        "--from",
        "2023-10-02",
        "--to",
        "2023-10-06",
        "--by",
        ANNA,
        "--now",
        "2023-10-02T10:00",
    )
    ok("task", "done", "5", "--by", ANNA, "--note", "klaar", "--now", "2023-10-02T11:00")


def snapshot(app) -> dict[str, Any]:
    """Every table's rows (as text), to show a read stored nothing."""
    import_all()
    with app.engine.connect() as conn:
        return {
            t.name: sorted(map(str, conn.execute(t.select()).all()))
            for t in Base.metadata.sorted_tables
        }


def count(app, sql: str) -> int:
    with app.engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def test_every_read_command_shows_names_and_counts_in_one_json_shape_and_writes_nothing(
    settings, app, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "250")  # tables wide enough that no name is wrapped
    scenario()
    before = snapshot(app)

    people = as_json("people", "-g", "huizen", "--now", NOW)
    themes = as_json("themes", "--now", NOW)
    agenda = as_json("termijnagenda", "-g", "huizen", "--now", NOW)
    crises = as_json("crisis", "list", "--now", NOW)
    crisis = as_json("crisis", "show", "1", "--now", NOW)
    absences = as_json("absence", "list", "--now", NOW)
    task = as_json("task", "show", "5", "--now", NOW)
    log = as_json("log", "--now", NOW)
    tables = [
        ok(*cmd, "--now", NOW).stdout
        for cmd in (
            ("people",),
            ("themes",),
            ("termijnagenda",),
            ("crisis", "list"),
            ("crisis", "show", 1),
            ("absence", "list"),
            ("task", "show", 5),
            ("log",),
        )
    ]

    assert snapshot(app) == before  # no read wrote anything
    for listing in (people, themes, agenda, crises, absences, log):
        assert set(listing) >= {"now", "municipality", "count", "items"}
        assert listing["count"] == len(listing["items"])
        assert listing["now"] == "2023-10-03T09:00:00+02:00"
    assert set(crisis) == set(task) == {"now", "item"}
    assert people["municipality"] == "huizen" and themes["municipality"] is None

    assert people["count"] == count(app, "SELECT count(*) FROM person WHERE left_at IS NULL")
    anna = next(p for p in people["items"] if p["email"] == ANNA)
    assert (anna["name"], anna["absent_now"], anna["on_crisis_duty"]) == (
        "Anna de Vries",
        True,
        False,
    )
    assert themes["count"] == count(app, "SELECT count(*) FROM theme WHERE active")
    assert sum(t["open"] for t in themes["items"]) == count(
        app, "SELECT count(*) FROM task WHERE status IN ('open', 'in_progress')"
    )
    assert agenda["count"] == count(app, "SELECT count(*) FROM council_item WHERE active")
    assert all(i["holder"] for i in agenda["items"])

    (only,) = crises["items"]
    assert only == crisis["item"]
    assert only["declared_by"] == {"name": "Marieke Verbeek", "email": "m.verbeek@example.nl"}
    assert only["active"] and only["paused_tasks"] == count(
        app, "SELECT count(*) FROM task_pause_period WHERE crisis_id = 1 AND until IS NULL"
    )
    assert absences["items"][0]["person"]["name"] == "Anna de Vries"
    assert absences["items"][0]["current"] is True

    item = task["item"]
    assert (item["status"], item["status_label"], item["note"]) == ("done", "gereed", "klaar")
    assert item["owner"]["name"] == "Bram Jansen" and item["theme_code"] == "ONDERMIJNING"
    assert [p["crisis_title"] for p in item["pauses"]] == ["Grote brand"]
    assert item["steps"] and item["steps"][0]["rule_id"]
    assert [h["action"] for h in item["history"]][0] == "task.create"
    done = item["history"][-1]
    assert (done["action"], done["actor"]["name"], done["at"]) == (
        "task.done",
        "Anna de Vries",
        "2023-10-02T11:00:00+02:00",
    )
    assert len(item["history"]) == count(
        app, "SELECT count(*) FROM audit_entry WHERE object_type = 'task' AND object_id = '5'"
    )

    assert log["count"] == 50 and log["total"] == count(app, "SELECT count(*) FROM audit_entry")
    assert log["items"][-1]["object_label"].startswith("taak 5 — Bewaken inzet politie")
    assert "Anna de Vries" in tables[0] and "Grote brand" in tables[3]
    assert "02-10-2023 11:00" in tables[6] and "Anna de Vries" in tables[7]


def test_log_pages_and_filters_by_person_crisis_and_period(settings, app):
    scenario()
    total = count(app, "SELECT count(*) FROM audit_entry")

    first = as_json("log", "--limit", 10, "--now", NOW)
    second = as_json("log", "--limit", 10, "--page", 2, "--now", NOW)
    person = as_json("log", "--person", "OOV1", "--limit", 1000, "--now", NOW)
    day = as_json(
        "log", "--from", "2023-10-02", "--to", "2023-10-02", "--limit", 1000, "--now", NOW
    )
    crisis = as_json("log", "--crisis", 1, "--limit", 1000, "--now", NOW)
    past = as_json("log", "--limit", 1000, "--now", "2023-03-02T09:00")

    assert first["pages"] == -(-total // 10) and first["page"] == 1
    assert second["items"][-1]["id"] < first["items"][0]["id"]  # page 2 is older
    assert [e["id"] for e in first["items"]] == sorted(e["id"] for e in first["items"])
    assert {e["actor"]["email"] for e in person["items"]} >= {ANNA}
    assert any(e["object_type"] == "absence" for e in person["items"])
    assert all(e["at"].startswith("2023-10-02") for e in day["items"])
    assert day["total"] == count(
        app,
        "SELECT count(*) FROM audit_entry WHERE at >= '2023-10-01 22:00' "
        "AND at < '2023-10-02 22:00'",
    )
    assert "crisis 1 — Grote brand" in {e["object_label"] for e in crisis["items"]}
    assert crisis["total"] > 1  # the crisis and the tasks it paused
    assert all(e["object_type"] in {"crisis", "task"} for e in crisis["items"])
    assert past["total"] == count(
        app, "SELECT count(*) FROM audit_entry WHERE at <= '2023-03-02 08:00'"
    )
    unknown = run("log", "--person", "niemand@example.nl", "--now", NOW)
    assert unknown.exit_code == 1 and "onbekende persoon" in unknown.stderr


def test_reloading_an_unchanged_file_from_another_path_says_geen_wijzigingen(
    settings, app, tmp_path
):
    ok("load", EXAMPLE, "--by", ANNA, "--now", "2023-03-01T09:00")
    copy = tmp_path / "elders.yaml"
    shutil.copy(EXAMPLE, copy)
    with app.sessions() as session:
        rows = session.scalar(select(func.count()).select_from(AuditEntry))

    again = ok("load", copy, "--by", ANNA, "--now", "2023-03-01T10:00")

    assert "Geen wijzigingen" in again.stdout
    with app.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == rows


def test_a_write_at_a_past_moment_does_not_decide_every_task_back_and_forth(settings, app):
    scenario()
    rows = count(app, "SELECT count(*) FROM audit_entry WHERE action = 'task.decision'")

    ok("task", "start", "6", "--by", "b.jansen@example.nl", "--now", "2023-03-05T09:00")
    ok("task", "start", "7", "--by", "b.jansen@example.nl", "--now", "2023-10-03T09:00")

    assert count(app, "SELECT count(*) FROM audit_entry WHERE action = 'task.decision'") <= rows + 2
