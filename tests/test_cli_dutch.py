"""One language in the CLI: Click's and Typer's own texts in Dutch, Dutch statuses, both date
forms, unknown filter values refused with suggestions, YAML syntax errors that explain
themselves, and no traceback for a missing rules folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from tests.conftest import EXAMPLE
from veiligheid_flow.clock import parse_now
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.entrypoints.cli.support import parse_day

ANNA = "a.devries@example.nl"
LOADED_AT = "2023-03-01T09:00"
ENGLISH = ("Usage:", "Options", "Show this message", "Missing option", "Invalid value", "<bool>")


def run(*args: Any) -> Result:
    return CliRunner().invoke(
        cli, [str(a) for a in args], env={"COLUMNS": "200"}, prog_name="veiligheid"
    )


def assert_dutch(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    for word in ENGLISH:
        assert word not in result.output, (word, result.output)
    assert "Traceback" not in result.output


# --- Click's and Typer's own texts -------------------------------------------------------------


def test_main_help_is_dutch():
    result = run("--help")

    assert result.exit_code == 0
    assert_dutch(result)
    assert "Gebruik: veiligheid [OPTIES] OPDRACHT [ARGUMENTEN]..." in result.output
    assert "Opties" in result.output and "Opdrachten" in result.output
    assert "Toon deze hulp en stop." in result.output


def test_subcommand_help_shows_flags_as_flags():
    result = run("tasks", "--help")

    assert result.exit_code == 0
    assert_dutch(result)
    line = next(row for row in result.output.splitlines() if "--all" in row)
    assert "Ook afgeronde" in line and "<" not in line  # a flag takes no value
    assert "gereed" in result.output  # statuses offered in Dutch


def test_missing_option_is_dutch():
    result = run("task", "done", "1")

    assert result.exit_code == 2
    assert_dutch(result)
    assert "Ontbrekende optie '--by'." in result.output
    assert "Fout" in result.output
    assert "Probeer 'veiligheid task done --help' voor hulp." in result.output


def test_invalid_choice_is_dutch():
    result = run("outbox", "--status", "kwijt")

    assert result.exit_code == 2
    assert_dutch(result)
    assert "Ongeldige waarde voor '--status': 'kwijt' is geen van" in result.output


def test_bad_int_is_dutch():
    result = run("log", "--limit", "abc")

    assert result.exit_code == 2
    assert_dutch(result)
    assert "Ongeldige waarde voor '--limit': 'abc' is geen geheel getal" in result.output


def test_unknown_command_and_option_are_dutch():
    command = run("taken")
    option = run("tasks", "--eigenaar", "x")

    assert command.exit_code == option.exit_code == 2
    assert "Onbekende opdracht 'taken'" in command.output
    assert "Bedoelde u" in command.output  # 'tasks', 'task'
    assert "Onbekende optie: --eigenaar" in option.output


# --- dates and moments -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2023-10-02", "02-10-2023", "2-10-2023"])
def test_parse_day_takes_both_forms(text):
    assert parse_day(text, "--on").isoformat() == "2023-10-02"


@pytest.mark.parametrize("text", ["31-02-2023", "02-10-1999", "2023/10/02", "10-2023"])
def test_parse_day_refuses_in_dutch(text):
    import typer

    with pytest.raises(typer.BadParameter, match="JJJJ-MM-DD of DD-MM-JJJJ|buiten 2000"):
        parse_day(text, "--on")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("02-10-2023 09:00", "2023-10-02T07:00:00+00:00"),
        ("02-10-2023", "2023-10-01T22:00:00+00:00"),
        ("2023-10-02T09:00", "2023-10-02T07:00:00+00:00"),
    ],
)
def test_now_takes_dutch_day_first(text, iso):
    assert parse_now(text).isoformat() == iso


def test_now_keeps_the_year_bounds():
    with pytest.raises(ValueError, match="buiten 2000"):
        parse_now("02-10-2200 09:00")


# --- statuses, people, themes (real database) --------------------------------------------------


def load_example() -> None:
    result = run("load", EXAMPLE, "--by", "OOV1", "--now", LOADED_AT)
    assert result.exit_code == 0, result.output


def tasks_json(*args: Any) -> list[dict[str, Any]]:
    result = run("tasks", "--json", "--now", LOADED_AT, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_status_in_dutch_on_input_and_output(settings):
    load_example()
    first = tasks_json()[0]["id"]

    done = run("task", "done", first, "--by", ANNA, "--now", LOADED_AT)
    assert done.exit_code == 0, done.output
    assert f"Taak {first} is nu gereed." in done.output

    by_dutch = tasks_json("--status", "gereed")
    by_english = tasks_json("--status", "done")
    assert [t["id"] for t in by_dutch] == [t["id"] for t in by_english] == [first]
    started = tasks_json("--status", "in behandeling")
    assert started == []
    bad = run("tasks", "--status", "klaar")
    assert bad.exit_code == 2
    assert "'klaar' is geen status" in bad.output and "gereed" in bad.output


def test_owner_by_id_email_or_name_alike(settings):
    load_example()

    by_email = [t["id"] for t in tasks_json("--owner", ANNA)]
    assert by_email
    assert [t["id"] for t in tasks_json("--owner", "OOV1")] == by_email
    assert [t["id"] for t in tasks_json("--owner", "oov1")] == by_email
    assert [t["id"] for t in tasks_json("--owner", "Anna de Vries")] == by_email
    assert [t["id"] for t in tasks_json("--owner", "anna  DE vries", "-g", "huizen")] == by_email
    theme = tasks_json("--theme", "ondermijning")
    assert theme and theme == tasks_json("--theme", "ONDERMIJNING", "-g", "huizen")


def test_unknown_owner_or_theme_is_an_error_with_suggestions(settings):
    load_example()

    owner = run("tasks", "--owner", "Ana de Vries", "--now", LOADED_AT)
    theme = run("tasks", "--theme", "ONDERMIJNIG", "--now", LOADED_AT)

    assert owner.exit_code == theme.exit_code == 1
    assert "onbekende persoon 'Ana de Vries'" in owner.output
    assert "Anna de Vries" in owner.output
    assert "onbekend thema 'ONDERMIJNIG'" in theme.output
    assert "ONDERMIJNING" in theme.output
    assert "0 taken" not in owner.output + theme.output


def test_due_dates_accept_day_first(settings):
    load_example()

    iso = tasks_json("--due-after", "2023-10-02", "--due-before", "2023-11-01")
    dutch = tasks_json("--due-after", "02-10-2023", "--due-before", "01-11-2023")
    assert iso and [t["id"] for t in iso] == [t["id"] for t in dutch]


def test_task_command_reports_in_json(settings):
    load_example()
    first = tasks_json()[0]["id"]

    result = run("task", "start", first, "--by", ANNA, "--now", LOADED_AT, "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["id"], data["status"], data["status_label"]) == (first, "in_progress",
                                                                 "in behandeling")


def test_load_reports_in_json(settings):
    result = run("load", EXAMPLE, "--by", "OOV1", "--now", LOADED_AT, "--json")

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["programme"] == "UPV-2023-2024"
    assert data["changed"] is True and data["created"] is True
    assert data["counts"]["task.created"] > 40, data["counts"]

    again = run("load", EXAMPLE, "--by", "OOV1", "--now", LOADED_AT, "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["changed"] is False


# --- environment and files ---------------------------------------------------------------------


def test_missing_rules_folder_is_one_line(settings, monkeypatch, tmp_path):
    missing = tmp_path / "nergens"
    monkeypatch.setenv("VEILIGHEID_RULES", str(missing))

    result = run("tasks", "--now", LOADED_AT)

    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"map met regels {missing} bestaat niet" in result.output


def test_empty_rules_folder_is_one_line(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("VEILIGHEID_RULES", str(tmp_path))

    result = run("tasks", "--now", LOADED_AT)

    assert result.exit_code == 1
    assert f"map met regels {tmp_path} bevat geen regelbestanden (*.yaml)" in result.output


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "people: [a, b\nthemes: x\n",
            "2:7",
            "'[' op regel 1, kolom 9 is niet gesloten; sluit de lijst met ']'",
        ),
        (
            'name: "Huizen\n',
            "2:1",
            "aanhalingsteken op regel 1, kolom 7 is niet gesloten; sluit de tekst met '\"'",
        ),
        (
            "programme:\n  name: a: b\n",
            "2:10",
            "zet tekst met ':' tussen aanhalingstekens",
        ),
        (
            "people: {a: 1\n",
            "2:1",
            "'{' op regel 1, kolom 9 is niet gesloten; sluit het blok met '}'",
        ),
        ("a:\n\tb: 1\n", "2:1", "tab gevonden; spring in met spaties"),
        ("a: 1\nb 2\n", "3:1", "de sleutel op regel 2, kolom 1 mist een ':'"),
        ("a: @x\n", "1:4", "teken '@' kan geen waarde beginnen"),
    ],
)
def test_yaml_syntax_error_explains_itself(tmp_path, text, where, message):
    path = tmp_path / "kapot.yaml"
    path.write_text(text, encoding="utf-8")

    result = run("validate", path)

    assert result.exit_code == 1, result.output
    assert_dutch(result)
    lines = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"{path}:{where}: YAML-syntaxfout: ")
    assert message in lines[0]
    assert "while " not in lines[0] and "expected" not in lines[0]  # libyaml's English is gone


def test_no_traceback_from_the_real_command(tmp_path):
    """The installed entry point in a real process: Dutch, exit 2, nothing on a traceback."""
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("veiligheid")
    done = subprocess.run(
        [str(exe), "task", "done", "x", "--by", ANNA],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "200", "HOME": str(tmp_path)},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "'x' is geen geheel getal" in done.stderr
