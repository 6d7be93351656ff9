"""A broken rules folder is refused with file and line, and nothing is loaded with it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.problems import InputInvalid, Problem
from veiligheid_flow.programme.models import Person, Programme
from veiligheid_flow.rules.conditions import facts_of
from veiligheid_flow.rules.tables import load_rulebook
from veiligheid_flow.settings import Settings
from veiligheid_flow.tasks.models import Task

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"


def copy_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "regels"
    folder.mkdir()
    for path in RULES.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    return folder


def break_file(folder: Path, name: str, old: str, new: str) -> tuple[Path, int]:
    """Replace `old` (must occur once) by `new`; return the file and the 1-based line of it."""
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path, line


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(InputInvalid) as caught:
        load_rulebook(folder)
    return caught.value.problems


def in_file(problems: list[Problem], path: Path) -> list[Problem]:
    return [p for p in problems if Path(p.file) == path]


def test_the_shipped_rules_load() -> None:
    book = load_rulebook(RULES)
    assert set(book.tables) == {"priority", "pause", "responsibility", "flags"}
    assert "huisverbod" in book.cases
    assert book.settings.default_crisis_days == 10


def test_unknown_fact(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "{fact: owner.absent, eq: true}"
    path, line = break_file(folder, "responsibility.yaml", old, "{fact: owner.ziek, eq: true}")
    problems = problems_of(folder)
    assert len(problems) == 1
    (problem,) = in_file(problems, path)
    assert problem.line == line
    assert "owner.ziek" in problem.message
    assert problem.path == "rules[1].when.all[0].fact"


def test_unknown_action(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "then: {tier: 3}"
    path, line = break_file(folder, "priority.yaml", old, "then: {klasse: 3}")
    problems = problems_of(folder)
    assert len(problems) == 1
    (problem,) = in_file(problems, path)
    assert problem.line == line
    assert "klasse" in problem.message
    assert "tier" in problem.message  # says what is allowed


def test_action_of_another_table_is_unknown_here(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "then: {pause: true}"
    path, line = break_file(folder, "pause.yaml", old, "then: {responsible: backup}")
    (problem,) = in_file(problems_of(folder), path)
    assert problem.line == line
    assert "responsible" in problem.message


def test_wrong_value_type_for_a_fact(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "when: {fact: task.statutory, eq: true}\n    then: {tier: 1}"
    new = 'when: {fact: task.statutory, eq: "ja"}\n    then: {tier: 1}'
    path, line = break_file(folder, "priority.yaml", old, new)
    problems = problems_of(folder)
    assert len(problems) == 1
    (problem,) = in_file(problems, path)
    assert problem.line == line
    assert "task.statutory" in problem.message and "'ja'" in problem.message
    assert "bool" in problem.message


def test_number_for_an_int_fact_written_as_text(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "{fact: task.overdue_working_days, ge: 5}"
    path, line = break_file(
        folder, "responsibility.yaml", old, '{fact: task.overdue_working_days, ge: "5"}'
    )
    (problem,) = in_file(problems_of(folder), path)
    assert problem.line == line
    assert "int" in problem.message


def test_ordering_op_on_a_bool(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "when: {fact: crisis.in_scope, eq: true}"
    path, line = break_file(folder, "pause.yaml", old, "when: {fact: crisis.in_scope, gt: false}")
    problems = problems_of(folder)
    assert len(problems) == 1
    (problem,) = in_file(problems, path)
    assert problem.line == line
    assert "'gt'" in problem.message and "bool" in problem.message


def test_yaml_syntax_error(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "    then: {flag: overdue}\n"
    path, line = break_file(folder, "flags.yaml", old, "    then: flag: overdue\n")
    problems = in_file(problems_of(folder), path)
    assert len(problems) == 1
    assert problems[0].line == line
    assert "YAML" in problems[0].message


def test_decision_fact_in_the_priority_table(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "when: {fact: theme.council_priority, eq: true}"
    path, line = break_file(folder, "priority.yaml", old, "when: {fact: decision.paused, eq: true}")
    problems = problems_of(folder)
    assert len(problems) == 1
    (problem,) = in_file(problems, path)
    assert problem.line == line
    assert "decision.paused" in problem.message and "priority" in problem.message


def test_decision_fact_of_a_later_table_is_allowed_where_known(tmp_path: Path) -> None:
    # The same fact is fine in the flags table, which runs after pause.
    book = load_rulebook(copy_rules(tmp_path))
    assert any("decision.paused" in facts_of(rule.when) for rule in book.tables["flags"])
    assert any("decision.paused" in facts_of(r.when) for r in book.tables["responsibility"])


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    p1, l1 = break_file(
        folder,
        "priority.yaml",
        "{fact: council_item.linked, eq: true}",
        "{fact: council_item.gekoppeld, eq: true}",
    )
    p2, l2 = break_file(folder, "pause.yaml", "then: {pause: false}", "then: {pause: nee}")
    found = {(Path(p.file), p.line) for p in problems_of(folder)}
    assert {(p1, l1), (p2, l2)} <= found


# --- nothing changes in the database with a bad rules folder -------------------------------


def _counts(app: App) -> dict[str, int]:
    with app.sessions() as session:
        return {
            "programme": session.scalar(select(func.count(Programme.id))) or 0,
            "person": session.scalar(select(func.count(Person.id))) or 0,
            "task": session.scalar(select(func.count(Task.id))) or 0,
            "audit": session.scalar(select(func.count(AuditEntry.id))) or 0,
        }


def _task_state(app: App) -> list[tuple[object, ...]]:
    with app.sessions() as session:
        return [
            (t.id, t.tier, t.paused, t.responsible_id, t.due_date, tuple(t.flags))
            for t in session.scalars(select(Task).order_by(Task.id))
        ]


def _bad_folder(tmp_path: Path) -> Path:
    folder = copy_rules(tmp_path)
    break_file(
        folder,
        "priority.yaml",
        "when: {fact: task.statutory, eq: true}",
        'when: {fact: task.statutory, eq: "ja"}',
    )
    return folder


def test_load_with_bad_rules_changes_nothing_in_an_empty_db(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VEILIGHEID_RULES", str(_bad_folder(tmp_path)))
    app = bootstrap(Settings())
    try:
        assert app.settings.rules != settings.rules
        with pytest.raises(InputInvalid) as caught:
            commands.load(app, EXAMPLE, now=at("2023-10-02T09:00"), by=SYSTEM)
        assert any(Path(p.file).name == "priority.yaml" for p in caught.value.problems)
        assert _counts(app) == {"programme": 0, "person": 0, "task": 0, "audit": 0}
    finally:
        app.close()


def test_load_with_bad_rules_changes_nothing_in_a_loaded_db(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = bootstrap(settings)
    try:
        commands.load(good, EXAMPLE, now=at("2023-10-02T09:00"), by=SYSTEM)
        counts, state = _counts(good), _task_state(good)

        monkeypatch.setenv("VEILIGHEID_RULES", str(_bad_folder(tmp_path)))
        bad = bootstrap(Settings())
        try:
            with pytest.raises(InputInvalid):
                commands.load(bad, EXAMPLE, now=at("2023-10-20T09:00"), by=SYSTEM)
            with pytest.raises(InputInvalid):
                commands.refresh(bad, now=at("2023-10-20T09:00"))
        finally:
            bad.close()

        assert _counts(good) == counts
        assert _task_state(good) == state
        # With good rules the same moment does change decisions: the refusal mattered.
        assert commands.refresh(good, now=at("2023-10-20T09:00")) > 0
        assert _task_state(good) != state
    finally:
        good.close()
