"""The `veiligheid` command for the core engine: validate, load, tasks, task done, log.

The `settings` fixture exports VEILIGHEID_* so every command uses this test's database; the
`app` fixture is used to look at that database directly.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.tasks.models import Task

ANNA = "a.devries@example.nl"
LOADED_AT = "2023-03-01T09:00"
PROBLEM_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<path>\S+): (?P<msg>.+)$")


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def bad_file(tmp_path: Path) -> tuple[Path, list[str]]:
    """The example with an unknown owner (C02) and a due date after the period (B02)."""
    data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    data["themes"][2]["activities"][1]["owner"] = "NIEMAND"
    data["themes"][1]["activities"][1]["due"] = date(2025, 1, 15)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path = tmp_path / "fout.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def position(lines: list[str], start: str, key: str) -> tuple[int, int]:
    """Line and column of `key` in the first line starting with it after the line `start`."""
    first = lines.index(start)
    index = next(i for i in range(first, len(lines)) if lines[i].strip().startswith(key))
    return index + 1, lines[index].index(key) + 1


def load_example() -> None:
    result = run("load", EXAMPLE, "--by", "OOV1", "--now", LOADED_AT)
    assert result.exit_code == 0, result.output
    assert "Geladen: UPV-2023-2024" in result.stdout


def tasks_json(*args: Any) -> list[dict[str, Any]]:
    result = run("tasks", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- validate ----------------------------------------------------------------------------------


def test_validate_accepts_the_example(settings):
    result = run("validate", EXAMPLE)

    assert result.exit_code == 0, result.output
    assert "UPV-2023-2024" in result.stdout
    assert "44 activiteiten" in result.stdout


def test_validate_reports_every_problem_as_file_line_column_path_message(
    settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "1000")  # wide enough that no line is wrapped
    path, lines = bad_file(tmp_path)

    result = run("validate", path)

    assert result.exit_code == 1
    assert result.stdout == ""
    header, *rest = result.stderr.splitlines()
    assert header == "2 fout(en) gevonden; er is niets gewijzigd:"
    found = [PROBLEM_LINE.match(line) for line in rest]
    assert all(found), rest
    assert [(m["file"], int(m["line"]), int(m["col"]), m["path"]) for m in found] == [
        (str(path), *position(lines, "  - code: B02", "due:"), "themes[1].activities[1].due"),
        (str(path), *position(lines, "  - code: C02", "owner:"), "themes[2].activities[1].owner"),
    ]
    assert "valt buiten de programmaperiode" in found[0]["msg"]
    assert "onbekende persoon 'NIEMAND'" in found[1]["msg"]


def test_validate_keeps_each_problem_on_one_line_in_an_80_column_console(
    settings, tmp_path, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "80")
    path, _ = bad_file(tmp_path)

    result = run("validate", path)

    assert result.exit_code == 1
    problems = result.stderr.splitlines()[1:]
    assert len(problems) == 2
    assert all(PROBLEM_LINE.match(line) for line in problems), problems


def test_load_refuses_a_bad_file_and_writes_nothing(settings, app, tmp_path):
    path, _ = bad_file(tmp_path)

    result = run("load", path, "--by", "OOV1", "--now", LOADED_AT)

    assert result.exit_code == 1
    assert "niets gewijzigd" in result.stderr
    with app.sessions() as session:
        assert session.scalar(select(func.count(Task.id))) == 0


# --- load, tasks, task done, log ----------------------------------------------------------------


def test_load_twice_reports_no_changes(settings, app):
    load_example()

    result = run("load", EXAMPLE, "--by", "OOV1", "--now", LOADED_AT)

    assert result.exit_code == 0, result.output
    assert "Geen wijzigingen: UPV-2023-2024 is al actueel." in result.stdout
    with app.sessions() as session:
        assert session.scalar(select(func.count(Task.id))) == 211


def test_tasks_for_one_person_before_a_date_in_rank_order(settings):
    load_example()

    items = tasks_json("--owner", ANNA, "--due-before", "2023-10-01", "--now", "2023-09-01T09:00")

    assert items
    assert [item["rank"] for item in items] == list(range(1, len(items) + 1))
    for item in items:
        assert ANNA in (item["owner"], item["responsible"]), item
        assert item["due_date"] < "2023-10-01", item
        assert item["status"] in ("open", "in_progress")
    order = [(i["paused"], i["tier"], i["due_date"], i["effort_hours"], i["id"]) for i in items]
    assert order == sorted(order)
    titles = {item["title"] for item in items}
    # C02 falls on Sunday 1 October 2023, so it is due on Friday 29 September
    assert "Week van de Veiligheid" in titles
    assert "Campagne online fraude ouderen" not in titles  # due 13 October
    # the filter must not lose any task: compare with all open tasks
    everything = tasks_json("--now", "2023-09-01T09:00")
    expected = {
        i["id"]
        for i in everything
        if ANNA in (i["owner"], i["responsible"]) and i["due_date"] < "2023-10-01"
    }
    assert {i["id"] for i in items} == expected


def test_task_done_shows_in_the_task_list_and_the_log(settings):
    load_example()
    (task,) = [
        i
        for i in tasks_json("--owner", ANNA, "--now", LOADED_AT)
        if i["title"] == "Week van de Veiligheid" and i["planned_due"] == "2023-09-29"
    ]

    result = run(
        "task",
        "done",
        task["id"],
        "--by",
        ANNA,
        "--note",
        "Georganiseerd met de politie",
        "--now",
        "2023-09-29T15:00",
    )

    assert result.exit_code == 0, result.output
    assert f"Taak {task['id']} is nu gereed." in result.stdout
    (shown,) = [
        i for i in tasks_json("--all", "--now", "2023-09-29T15:00") if i["id"] == task["id"]
    ]
    assert (shown["status"], shown["note"]) == ("done", "Georganiseerd met de politie")
    assert task["id"] not in {i["id"] for i in tasks_json("--now", "2023-09-29T15:00")}

    log = run("log", "--task", task["id"], "--json")
    assert log.exit_code == 0, log.output
    entries = json.loads(log.stdout)["items"]
    assert entries[0]["action"] == "task.create"
    last = entries[-1]
    assert last["action"] == "task.done"
    assert (last["object_type"], last["object_id"]) == ("task", str(task["id"]))
    assert last["actor"] == {"name": "Anna de Vries", "email": ANNA}
    assert last["before"] == {"status": "open", "note": None}
    assert last["after"] == {"status": "done", "note": "Georganiseerd met de politie"}
    assert last["reason"] == "Georganiseerd met de politie"
    assert last["at"].startswith("2023-09-29T15:00:00+02:00")  # local time


def test_task_done_is_refused_for_an_unknown_person_and_twice(settings):
    load_example()
    task_id = tasks_json("--owner", ANNA, "--now", LOADED_AT)[0]["id"]

    unknown = run("task", "done", task_id, "--by", "iemand@example.nl", "--now", LOADED_AT)
    first = run("task", "done", task_id, "--by", ANNA, "--now", LOADED_AT)
    again = run("task", "done", task_id, "--by", ANNA, "--now", LOADED_AT)

    assert unknown.exit_code == 1
    assert "geen medewerker of portefeuillehouder" in unknown.stderr
    assert first.exit_code == 0, first.output
    assert again.exit_code == 1
    assert f"taak {task_id} is 'gereed'" in again.stderr
    log = json.loads(run("log", "--task", task_id, "--json").stdout)
    actions = [e["action"] for e in log["items"]]
    assert actions.count("task.done") == 1
