"""Hostile programme and rule files are refused in bounded time and memory, with one Dutch line.

The resource cases run the real CLI in a subprocess under a 1 GiB address-space limit and a
timeout; the rule mistakes are loaded from a copy of `rules/` and, through the CLI, must leave
the database as it was.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import commands
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.db import Base
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.models import import_all
from veiligheid_flow.problems import InputInvalid, Problem
from veiligheid_flow.programme.loader import read_programme
from veiligheid_flow.programme.models import BudgetLine
from veiligheid_flow.rules.tables import load_rulebook

RULES = ROOT / "rules"
VEILIGHEID = Path(sys.executable).with_name("veiligheid")
PROBLEM_LINE = re.compile(r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<rest>.+)$")
GIB = 1 << 30


# --- helpers ---------------------------------------------------------------------------------


def edited(tmp_path: Path, old: str, new: str, source: Path = EXAMPLE) -> tuple[Path, int]:
    """A copy of `source` with `old` (must occur once) replaced; the file and 1-based line."""
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once"
    path = tmp_path / source.name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path, text[: text.index(old)].count("\n") + 1


def copy_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "regels"
    folder.mkdir(exist_ok=True)
    for path in RULES.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    return folder


def break_rules(folder: Path, name: str, old: str, new: str) -> tuple[Path, int]:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} should occur once in {name}"
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path, line


def refused(call: Any) -> list[Problem]:
    with pytest.raises(InputInvalid) as caught:
        call()
    return caught.value.problems


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))


def cli_bounded(
    args: list[str], tmp_path: Path, rules: Path = RULES, timeout: float = 10
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `veiligheid ARGS` under 1 GiB of address space; its result and the seconds it took."""
    env = {
        **os.environ,
        "VEILIGHEID_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "VEILIGHEID_RULES": str(rules),
        "VEILIGHEID_MAIL_DIR": str(tmp_path / "mail"),
        "COLUMNS": "200",
    }
    started = time.monotonic()
    result = subprocess.run(
        [str(VEILIGHEID), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_memory,
    )
    return result, time.monotonic() - started


def one_problem_line(stderr: str) -> re.Match[str]:
    lines = stderr.strip().splitlines()
    assert len(lines) == 2, stderr  # "1 fout(en) gevonden; …" and the problem itself
    assert "niets gewijzigd" in lines[0]
    match = PROBLEM_LINE.match(lines[1])
    assert match, lines[1]
    return match


def dump(engine: Engine) -> dict[str, list[str]]:
    import_all()
    with engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


# --- 5. resource exhaustion: programme file, through the CLI ------------------------------------


def alias_bomb() -> str:
    """The 'billion laughs': nine levels of nine aliases, 9**9 strings once expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def _bomb(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "bom.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    return path, "verwijzing"


def _deep(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "diep.yaml"
    path.write_text("x: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    return path, "te diep genest"


def _huge_line(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "groot.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8") + "# " + "x" * 3_000_000 + "\n")
    return path, "te groot"


def _secondly(tmp_path: Path) -> tuple[Path, str]:
    path, _ = edited(tmp_path, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "FREQ=SECONDLY")
    return path, "SECONDLY"


def _hourly(tmp_path: Path) -> tuple[Path, str]:
    path, _ = edited(tmp_path, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "FREQ=HOURLY;INTERVAL=1")
    return path, "HOURLY"


def _never(tmp_path: Path) -> tuple[Path, str]:
    # No date ever matches: dateutil would look until the year 9999 (8 s for DAILY).
    rule = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"
    path, _ = edited(tmp_path, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", rule)
    return path, "geen enkele datum"


def _end_9999(tmp_path: Path) -> tuple[Path, str]:
    path, _ = edited(tmp_path, "  end: 2024-12-31", "  end: 9999-12-31")
    return path, "2100"


def _start_0001(tmp_path: Path) -> tuple[Path, str]:
    path, _ = edited(tmp_path, "  start: 2023-03-01", "  start: 0001-01-01")
    return path, "2000"


HOSTILE_PROGRAMMES = {
    "alias-bomb": _bomb,
    "100k-deep": _deep,
    "3-MB-line": _huge_line,
    "secondly": _secondly,
    "hourly": _hourly,
    "rrule-never": _never,
    "end-9999": _end_9999,
    "start-0001": _start_0001,
}


@pytest.mark.parametrize("case", HOSTILE_PROGRAMMES)
def test_validate_refuses_hostile_programme_in_bounded_time_and_memory(
    case: str, tmp_path: Path
) -> None:
    path, expected = HOSTILE_PROGRAMMES[case](tmp_path)

    result, seconds = cli_bounded(["validate", str(path)], tmp_path)

    assert result.returncode == 1, result.stderr[-2000:]
    match = one_problem_line(result.stderr)
    assert match["file"] == str(path)
    assert expected in match["rest"]
    assert seconds < 10


def test_alias_bomb_in_the_rules_folder_is_refused_in_bounded_time(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    bomb = folder / "bom.yaml"
    bomb.write_text("kind: settings\nversion: 1\n" + alias_bomb(), encoding="utf-8")

    result, seconds = cli_bounded(["validate", str(EXAMPLE)], tmp_path, rules=folder)

    assert result.returncode == 1, result.stderr[-2000:]
    match = one_problem_line(result.stderr)
    assert match["file"] == str(bomb) and "verwijzing" in match["rest"]
    assert seconds < 10


def test_a_deeply_nested_rule_file_is_refused(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    (folder / "diep.yaml").write_text("kind: " + "[" * 100_000 + "]" * 100_000 + "\n")
    (problem,) = refused(lambda: load_rulebook(folder))
    assert problem.file == str(folder / "diep.yaml") and "te diep genest" in problem.message


# --- 5. programme limits, in-process (fast) -----------------------------------------------------


def single(path: Path) -> Problem:
    problems = refused(lambda: read_programme(path))
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "adopted_on: 2023-02-09",
            "adopted_on: 2023-02-30",
            "'2023-02-30' is geen bestaande datum",
        ),
        (
            "adopted_on: 2023-02-09",
            "adopted_on: 2023-02-29",
            "'2023-02-29' is geen bestaande datum",
        ),
        (
            "adopted_on: 2023-02-09",
            "adopted_on: 0000-02-09",
            "'0000-02-09' is geen bestaande datum",
        ),
        ("due: 2024-10-31", "due: 2023-02-30", "'2023-02-30' is geen bestaande datum"),
        ("submission_working_days: 10", "submission_working_days: " + "9" * 5000, "te groot"),
        ("  end: 2024-12-31", "  end: 2031-01-01", "6 jaar"),
        ("  end: 2026-12-31", "  end: 9999-12-31", "2100"),
        ("  start: 2023-01-01", "  start: 1999-12-31", "2000"),
    ],
)
def test_impossible_or_out_of_range_values_give_one_dutch_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    path, line = edited(tmp_path, old, new)
    problem = single(path)
    assert problem.line == line
    assert expected in problem.message, problem.message


def test_a_huge_float_is_out_of_range(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    first = re.search(r"effort_hours: \d+", text)
    assert first
    path = tmp_path / "groot-getal.yaml"
    path.write_text(text[: first.start()] + "effort_hours: 1e999999" + text[first.end() :])
    line = text[: first.start()].count("\n") + 1
    problem = single(path)
    assert problem.line == line
    assert problem.message == "moet ≤ 2000 zijn"


def test_too_many_occurrences_for_one_activity(tmp_path: Path) -> None:
    path, line = edited(tmp_path, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "FREQ=DAILY")
    problem = single(path)
    assert problem.line == line
    assert "672 datums" in problem.message and "400" in problem.message


def test_a_recurrence_that_never_matches_is_refused_quickly(tmp_path: Path) -> None:
    rule = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"  # dateutil alone searches until 9999: ~8 s
    path, line = edited(tmp_path, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", rule)
    started = time.monotonic()
    problem = single(path)
    assert time.monotonic() - started < 1.5
    assert (problem.line, problem.message) == (
        line,
        "herhaling geeft geen enkele datum in de periode",
    )


def test_an_rrule_until_and_count_stay_inside_the_period(tmp_path: Path) -> None:
    rule = "FREQ=WEEKLY;BYDAY=TU;UNTIL=99991231T000000"
    path, _ = edited(tmp_path, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", rule)
    weekly = read_programme(path)
    path, _ = edited(tmp_path, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "FREQ=WEEKLY;COUNT=999999999")
    assert read_programme(path).digest != weekly.digest  # both load: bounded by the period


def test_too_many_occurrences_in_one_file(tmp_path: Path) -> None:
    # 60 activities of 336 dates each (every other day for 672 days): 20,160 > 20,000.
    extra = "".join(
        f"      - code: Z{i:02d}\n"
        f"        title: Herhaald werk {i}\n"
        '        repeat: {rrule: "FREQ=DAILY;INTERVAL=2"}\n'
        "        owner: WIJK\n"
        "        backup: OOV1\n"
        "        effort_hours: 1\n"
        for i in range(60)
    )
    path, line = edited(tmp_path, "      - code: C06\n", extra + "      - code: C06\n")
    problem = single(path)
    assert "20.000" in problem.message
    assert "20.371" in problem.message  # the example's 211 tasks and the 20,160 added
    assert problem.path.startswith("themes[2].activities[")


# --- 7. rule mistakes accepted silently -----------------------------------------------------------

OPS = ("eq", "ne", "lt", "le", "gt", "ge")


@pytest.mark.parametrize("op", OPS)
def test_a_comparison_with_null_is_refused(tmp_path: Path, op: str) -> None:
    folder = copy_rules(tmp_path)
    old = "{fact: task.overdue_working_days, ge: 5}"
    path, line = break_rules(
        folder, "responsibility.yaml", old, f"{{fact: task.overdue_working_days, {op}: null}}"
    )
    (problem,) = refused(lambda: load_rulebook(folder))
    assert (problem.file, problem.line) == (str(path), line)
    assert "null" in problem.message


@pytest.mark.parametrize("op", ("in", "not_in"))
def test_a_list_with_null_is_refused(tmp_path: Path, op: str) -> None:
    folder = copy_rules(tmp_path)
    old = "when: {fact: crisis.in_scope, eq: true}"
    path, line = break_rules(
        folder, "pause.yaml", old, f"when: {{fact: crisis.in_scope, {op}: [true, ~]}}"
    )
    (problem,) = refused(lambda: load_rulebook(folder))
    assert (problem.file, problem.line) == (str(path), line)
    assert "null" in problem.message


def test_eq_null_would_disable_the_crisis_pause(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    old = "when: {fact: crisis.in_scope, eq: true}"
    path, line = break_rules(folder, "pause.yaml", old, "when: {fact: crisis.in_scope, eq: ~}")
    (problem,) = refused(lambda: load_rulebook(folder))
    assert (problem.file, problem.line) == (str(path), line)
    assert "null" in problem.message


@pytest.mark.parametrize("extra", ["ne: false", "in_: [false]", "not_in: [false]"])
def test_two_operators_in_one_comparison_are_refused(tmp_path: Path, extra: str) -> None:
    folder = copy_rules(tmp_path)
    old = "when: {fact: crisis.in_scope, eq: true}"
    path, line = break_rules(
        folder, "pause.yaml", old, f"when: {{fact: crisis.in_scope, eq: true, {extra}}}"
    )
    (problem,) = refused(lambda: load_rulebook(folder))
    assert (problem.file, problem.line) == (str(path), line)
    assert "precies één vergelijking" in problem.message


def test_a_second_settings_file_is_refused_naming_both(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    shutil.copy(folder / "settings.yaml", folder / "settings2.yaml")
    (problem,) = refused(lambda: load_rulebook(folder))
    assert problem.file == str(folder / "settings2.yaml")
    assert "settings.yaml" in problem.message


def test_a_case_type_in_two_files_is_refused_naming_both(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    (folder / "legal_extra.yaml").write_text(
        "kind: legal_terms\nversion: 1\ncases:\n"
        "  huisverbod:\n"
        '    title: "Tweede huisverbod"\n'
        '    source: "Wet tijdelijk huisverbod art. 2"\n'
        "    term: {days: 20}\n"
        "    termijnenwet: false\n",
        encoding="utf-8",
    )
    (problem,) = refused(lambda: load_rulebook(folder))
    lines = (folder / "legal_terms.yaml").read_text(encoding="utf-8").splitlines()
    # legal_extra.yaml is read first (alphabetical): the second definition is the one refused.
    assert (problem.file, problem.line) == (
        str(folder / "legal_terms.yaml"),
        lines.index("  huisverbod:") + 1,
    )
    assert "'huisverbod'" in problem.message and "legal_extra.yaml" in problem.message


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("legal_terms.yaml", "term: {days: 10}", "term: {days: -10}", "≥ 0"),
        ("legal_terms.yaml", "term: {days: 10}", "term: {days: 1000000000}", "≤"),
        ("legal_terms.yaml", "term: {weeks: 12}", "term: {weeks: 0}", "minstens"),
        ("legal_terms.yaml", "extension: {weeks: 2}", "extension: {months: 1000}", "≤"),
        ("legal_terms.yaml", "effort_hours: 12", "effort_hours: 1e9", "≤"),
        ("settings.yaml", "[10, 2, 0]", "[10, 2, 1000000000]", "≤"),
        ("settings.yaml", "[15, 5]", "[15, -5]", "≥ 0"),
        ("settings.yaml", "default_crisis_days: 10", "default_crisis_days: 1000000000", "≤"),
        ("settings.yaml", "every_working_days: 5", "every_working_days: 100000", "≤"),
        (
            "responsibility.yaml",
            "overdue_working_days, ge: 5}",
            "overdue_working_days, ge: 10000000000}",
            "tussen",
        ),
        ("priority.yaml", "version: 1\ndefault_tier", "version: 100000000000\ndefault_tier", "≤"),
    ],
)
def test_every_number_in_the_rule_files_is_bounded(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    folder = copy_rules(tmp_path)
    path, line = break_rules(folder, name, old, new)
    (problem,) = refused(lambda: load_rulebook(folder))
    assert (problem.file, problem.line) == (str(path), line), problem
    assert expected in problem.message, problem.message


PAUSE_HEAD = "kind: table\ntable: pause\nversion: 1\nrules:\n"


def pause_rule(rule_id: str, when: str, pause: str) -> str:
    return (
        f"  - id: {rule_id}\n    version: 1\n    when: {when}\n"
        f'    then: {{pause: {pause}}}\n    reason: "Een reden voor deze regel."\n'
    )


STATUTORY_FIRST = pause_rule("PAUZE-WETTELIJK-NOOIT", "{fact: task.statutory, eq: true}", "false")
CRISIS = pause_rule("PAUZE-CRISIS", "{fact: crisis.in_scope, eq: true}", "true")


@pytest.mark.parametrize(
    "rules",
    [
        CRISIS,  # nothing keeps statutory work out
        CRISIS + STATUTORY_FIRST,  # the exclusion comes too late
        pause_rule("PAUZE-WETTELIJK", "{fact: task.statutory, eq: true}", "true"),
        pause_rule(
            "PAUZE-OF",
            "{any: [{fact: crisis.in_scope, eq: true}, {fact: task.statutory, eq: false}]}",
            "true",
        ),
        pause_rule("PAUZE-NIET", "{not: {fact: task.statutory, eq: false}}", "true"),
    ],
)
def test_a_pause_rule_that_could_pause_statutory_work_is_refused(
    tmp_path: Path, rules: str
) -> None:
    folder = copy_rules(tmp_path)
    (folder / "pause.yaml").write_text(PAUSE_HEAD + rules, encoding="utf-8")
    (problem,) = refused(lambda: load_rulebook(folder))
    assert problem.file == str(folder / "pause.yaml")
    assert "wettelijke taak" in problem.message and "task.statutory" in problem.message
    assert problem.path.endswith("then.pause")


@pytest.mark.parametrize(
    "rules",
    [
        STATUTORY_FIRST + CRISIS,  # the shipped order
        pause_rule(
            "PAUZE-CRISIS-NIET-WETTELIJK",
            "{all: [{fact: crisis.in_scope, eq: true}, {fact: task.statutory, eq: false}]}",
            "true",
        ),
        pause_rule(
            "PAUZE-NIET-WETTELIJK",
            "{all: [{fact: crisis.in_scope, eq: true}, {not: {fact: task.statutory, ne: false}}]}",
            "true",
        ),
        pause_rule("PAUZE-IN", "{fact: task.statutory, in: [false]}", "true"),
    ],
)
def test_a_pause_rule_that_excludes_statutory_work_loads(tmp_path: Path, rules: str) -> None:
    folder = copy_rules(tmp_path)
    (folder / "pause.yaml").write_text(PAUSE_HEAD + rules, encoding="utf-8")
    assert load_rulebook(folder).tables["pause"]


# --- 7. through the CLI: one line, exit 1, nothing changed --------------------------------------

BAD_RULES = {
    "eq-null": (
        "pause.yaml",
        "when: {fact: crisis.in_scope, eq: true}",
        "when: {fact: crisis.in_scope, eq: null}",
    ),
    "negative-term": ("legal_terms.yaml", "term: {days: 10}", "term: {days: -10}"),
    "pauses-statutory": (
        "pause.yaml",
        "    when: {fact: task.statutory, eq: true}\n    then: {pause: false}",
        "    when: {fact: task.statutory, eq: true}\n    then: {pause: true}",
    ),
}


@pytest.mark.parametrize("case", [*BAD_RULES, "second-settings"])
def test_cli_load_with_a_bad_rules_folder_changes_nothing(
    settings: Any, app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["load", str(EXAMPLE), "--by", "OOV1", "--now", "2023-03-01T09:00"])
    assert first.exit_code == 0, first.output
    before = dump(app.engine)
    folder = copy_rules(tmp_path)
    if case == "second-settings":
        path = folder / "settings2.yaml"
        shutil.copy(folder / "settings.yaml", path)
        line = 2
    else:
        name, old, new = BAD_RULES[case]
        path, line = break_rules(folder, name, old, new)
        line += new[: new.index("pause: true")].count("\n") if case == "pauses-statutory" else 0
    monkeypatch.setenv("VEILIGHEID_RULES", str(folder))

    result = runner.invoke(cli, ["load", str(EXAMPLE), "--by", "OOV1", "--now", "2023-10-02T09:00"])

    assert result.exit_code == 1
    match = one_problem_line(result.stderr)
    assert (match["file"], int(match["line"])) == (str(path), line), result.stderr
    assert dump(app.engine) == before


# --- found by tests/test_loader_fuzz.py ------------------------------------------------------


def test_a_reload_with_a_changed_budget_amount_works(app: Any, tmp_path: Path) -> None:
    # The new line has the same (theme, year, description): it used to be inserted before the
    # old one was deleted, and the unique constraint failed with a traceback.
    now = at("2023-03-01T09:00")
    commands.load(app, EXAMPLE, now=now, by=SYSTEM)
    path, _ = edited(tmp_path, "amount: 45000", "amount: 46000")

    result = commands.load(app, path, now=now, by=SYSTEM)

    assert result.counts["theme.budget"] == 1
    with app.sessions() as session:
        amounts = session.scalars(select(BudgetLine.amount).where(BudgetLine.year == 2023))
        assert 46000 in {int(a) for a in amounts}
