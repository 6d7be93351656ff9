"""Hours per case: a `case:` activity's `case_effort_hours` sets each case task's effort; without
it the case type's `effort_hours` in rules/legal_terms.yaml does. Both databases."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.problems import InputInvalid
from veiligheid_flow.programme.loader import read_programme
from veiligheid_flow.rules.tables import load_rulebook
from veiligheid_flow.tasks.models import Task

EXAMPLE_DATA = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
BOOK = load_rulebook(ROOT / "rules")
NOW = "2023-06-09T09:00"


def activity(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(a for t in data["themes"] for a in t.get("activities", []) if a["code"] == code)


def programme_file(tmp_path: Path, name: str = "programma.yaml", **a01: Any) -> Path:
    """The example with A01 (case bibob_advies) changed; a value None removes the key."""
    data = copy.deepcopy(EXAMPLE_DATA)
    spec = activity(data, "A01")
    for key, value in a01.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def open_case(app: App, case_type: str, by: str) -> float:
    task_id = commands.open_case(
        app,
        case_type,
        event_day=date(2023, 6, 9),
        by=by,
        now=at("2023-06-09T14:00"),
        reference=None,
        extended=False,
    ).subject_id
    with app.sessions() as session:
        return session.get(Task, task_id).effort_hours


def test_the_programmes_hours_per_case_are_the_case_tasks_effort(app: App, tmp_path: Path) -> None:
    assert BOOK.cases["bibob_advies"].effort_hours != 7.5  # else the test proves nothing
    commands.load(app, programme_file(tmp_path, case_effort_hours=7.5), now=at(NOW), by=SYSTEM)

    assert open_case(app, "bibob_advies", by="OOV2") == 7.5


def test_without_hours_per_case_the_legal_terms_default_holds(app: App, tmp_path: Path) -> None:
    assert "case_effort_hours" not in activity(EXAMPLE_DATA, "D01")
    commands.load(app, programme_file(tmp_path, case_effort_hours=None), now=at(NOW), by=SYSTEM)

    bibob = open_case(app, "bibob_advies", by="OOV2")
    huisverbod = open_case(app, "huisverbod", by="f.elamrani@example.nl")

    assert bibob == BOOK.cases["bibob_advies"].effort_hours
    assert bibob != activity(EXAMPLE_DATA, "A01")["effort_hours"]  # not the yearly total
    assert huisverbod == BOOK.cases["huisverbod"].effort_hours


def test_hours_per_case_on_an_activity_without_case_is_one_dutch_line(tmp_path: Path) -> None:
    data = copy.deepcopy(EXAMPLE_DATA)
    i, j = next(
        (i, j)
        for i, t in enumerate(data["themes"])
        for j, a in enumerate(t.get("activities", []))
        if "case" not in a
    )
    data["themes"][i]["activities"][j]["case_effort_hours"] = 4
    path = tmp_path / "programma.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    with pytest.raises(InputInvalid) as info:
        read_programme(path, known_case_types=set(BOOK.cases))

    (problem,) = info.value.problems
    text = str(problem)
    assert "\n" not in text
    assert "'case_effort_hours' hoort alleen bij een activiteit met 'case'" in text
    assert problem.path == f"themes[{i}].activities[{j}]"
    # The example as it is (A01 has case_effort_hours) is valid.
    assert activity(EXAMPLE_DATA, "A01").get("case_effort_hours") is not None
    read_programme(EXAMPLE, known_case_types=set(BOOK.cases))


def test_a_reload_that_changes_the_hours_per_case_is_a_change(app: App, tmp_path: Path) -> None:
    first = programme_file(tmp_path, "een.yaml", case_effort_hours=6)
    again = commands.load(app, first, now=at(NOW), by=SYSTEM)
    assert commands.load(app, first, now=at(NOW), by=SYSTEM).changed is False
    assert again.created

    second = programme_file(tmp_path, "twee.yaml", case_effort_hours=9)
    result = commands.load(app, second, now=at("2023-06-09T10:00"), by=SYSTEM)

    assert result.changed is True
    assert result.counts["activity.updated"] == 1
    with app.sessions() as session:
        (update,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "activity.update")
        )
    assert update.before == {"case_effort_hours": 6}
    assert update.after == {"case_effort_hours": 9}
    assert open_case(app, "bibob_advies", by="OOV2") == 9
