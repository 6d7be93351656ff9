"""Validation of a programme file: every kind of bad input is reported with its line and path.

Pure: no database. Edited copies of the example are written to tmp_path; expected line numbers
are found by searching the text that was written, never hard-coded.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE, ROOT
from veiligheid_flow.problems import InputInvalid, Problem
from veiligheid_flow.programme.loader import read_programme
from veiligheid_flow.rules.tables import load_rulebook

ORIGINAL = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE_DATA = yaml.safe_load(ORIGINAL)
CASES = set(load_rulebook(ROOT / "rules").cases)


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE_DATA)


def write(tmp_path: Path, text: str) -> tuple[Path, list[str]]:
    path = tmp_path / "programma.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def dump(tmp_path: Path, data: dict[str, Any]) -> tuple[Path, list[str]]:
    return write(tmp_path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def problems(path: Path) -> list[Problem]:
    with pytest.raises(InputInvalid) as info:
        read_programme(path, known_case_types=CASES)
    return info.value.problems


def line_of(lines: list[str], needle: str, after: int = 0) -> int:
    """1-based number of the first line after line `after` that contains `needle`."""
    return next(i for i in range(after, len(lines)) if needle in lines[i]) + 1


def column_of(lines: list[str], line: int, needle: str) -> int:
    return lines[line - 1].index(needle) + 1


def activity(data: dict[str, Any], theme: int, index: int) -> dict[str, Any]:
    return data["themes"][theme]["activities"][index]


def field_position(lines: list[str], code: str, key: str) -> tuple[int, int]:
    """Line and column of `key:` inside the activity (or item) that starts with `- code: X`."""
    line = line_of(lines, f"{key}:", after=line_of(lines, f"- code: {code}"))
    return line, column_of(lines, line, f"{key}:")


def item_position(lines: list[str], code: str) -> tuple[int, int]:
    """Where the list item `- code: X` starts (the first key of its mapping)."""
    line = line_of(lines, f"- code: {code}")
    return line, column_of(lines, line, "code:")


# --- the example -------------------------------------------------------------------------


def test_example_file_is_valid():
    loaded = read_programme(EXAMPLE, known_case_types=CASES)

    spec = loaded.spec
    assert spec.programme.code == "UPV-2023-2024"
    assert (spec.programme.start, spec.programme.end) == (date(2023, 3, 1), date(2024, 12, 31))
    assert len(spec.themes) == 10
    assert sum(len(t.activities) for t in spec.themes) == 44
    assert loaded.source == str(EXAMPLE)


def test_an_unedited_copy_is_valid_and_has_the_same_digest(tmp_path):
    path, _ = dump(tmp_path, example())

    assert read_programme(path).digest == read_programme(EXAMPLE).digest


# --- one kind of error at a time -----------------------------------------------------------
# Each case edits the example and says where the problem must be reported:
# (edit, path, locate(lines) -> (line, column), part of the message).

Edit = Callable[[dict[str, Any]], None]
Locate = Callable[[list[str]], tuple[int, int]]


def _set(target: Callable[[dict[str, Any]], dict[str, Any]], key: str, value: Any) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        target(data)[key] = value

    return edit


def _drop(target: Callable[[dict[str, Any]], dict[str, Any]], key: str) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        del target(data)[key]

    return edit


def _at_line(needle: str, key: str) -> Locate:
    def locate(lines: list[str]) -> tuple[int, int]:
        line = line_of(lines, needle)
        return line, column_of(lines, line, key)

    return locate


SINGLE_ERRORS = {
    "unknown person": (
        _set(lambda d: activity(d, 2, 1), "owner", "NIEMAND"),
        "themes[2].activities[1].owner",
        lambda lines: field_position(lines, "C02", "owner"),
        "onbekende persoon 'NIEMAND'",
    ),
    "backup equals owner (activity)": (
        _set(lambda d: activity(d, 0, 3), "backup", "OOV2"),
        "themes[0].activities[3].backup",
        lambda lines: field_position(lines, "A04", "backup"),
        "achtervang is dezelfde persoon",
    ),
    "backup equals owner (theme)": (
        _set(lambda d: d["themes"][1], "backup", "OOV1"),
        "themes[1].backup",
        lambda lines: field_position(lines, "DIGITALE_VEILIGHEID", "backup"),
        "achtervang is dezelfde persoon",
    ),
    "due date after the period": (
        _set(lambda d: activity(d, 1, 1), "due", date(2025, 1, 15)),
        "themes[1].activities[1].due",
        lambda lines: field_position(lines, "B02", "due"),
        "valt buiten de programmaperiode",
    ),
    "due date before the period": (
        _set(lambda d: activity(d, 1, 1), "due", date(2023, 2, 28)),
        "themes[1].activities[1].due",
        lambda lines: field_position(lines, "B02", "due"),
        "valt buiten de programmaperiode",
    ),
    "unparseable RRULE": (
        _set(lambda d: activity(d, 2, 5), "repeat", {"rrule": "FREQ=SOMETIMES;BYDAY=MO"}),
        "themes[2].activities[5].repeat.rrule",
        _at_line("rrule: FREQ=SOMETIMES", "rrule:"),
        "onleesbare RRULE",
    ),
    "unknown field": (
        _set(lambda d: activity(d, 3, 2), "deadline", date(2024, 1, 1)),
        "themes[3].activities[2].deadline",
        lambda lines: field_position(lines, "D03", "deadline"),
        "onbekend veld",
    ),
    "missing required field in an activity": (
        _drop(lambda d: activity(d, 5, 1), "effort_hours"),
        "themes[5].activities[1].effort_hours",
        lambda lines: item_position(lines, "F02"),
        "verplicht veld ontbreekt",
    ),
    "missing required field in the programme": (
        _drop(lambda d: d["programme"], "end"),
        "programme.end",
        _at_line("programme:", "programme:"),
        "verplicht veld ontbreekt",
    ),
    "not a date": (
        _set(lambda d: activity(d, 9, 0), "due", "2024-02-30"),
        "themes[9].activities[0].due",
        lambda lines: field_position(lines, "K03", "due"),
        "geen geldige datum",
    ),
    "unknown case type": (
        _set(lambda d: activity(d, 0, 0), "case", "brandmelding"),
        "themes[0].activities[0].case",
        lambda lines: field_position(lines, "A01", "case"),
        "onbekend zaaktype 'brandmelding'",
    ),
}


@pytest.mark.parametrize("kind", SINGLE_ERRORS)
def test_each_kind_of_error_is_reported_at_its_line_and_path(tmp_path, kind):
    edit, path_text, locate, message = SINGLE_ERRORS[kind]
    data = example()
    edit(data)
    path, lines = dump(tmp_path, data)

    found = problems(path)

    line, column = locate(lines)
    assert len(found) == 1, found
    (problem,) = found
    assert (problem.file, problem.line, problem.column, problem.path) == (
        str(path),
        line,
        column,
        path_text,
    )
    assert message in problem.message
    assert str(problem) == f"{path}:{line}:{column}: {path_text}: {problem.message}"


def test_duplicate_activity_code_is_reported_at_both_places(tmp_path):
    data = example()
    activity(data, 4, 2)["code"] = "A01"  # E03 becomes a second A01
    path, lines = dump(tmp_path, data)

    found = problems(path)

    first = line_of(lines, "- code: A01")
    second = line_of(lines, "- code: A01", after=first)
    assert [(p.path, p.line) for p in found] == [
        ("themes[0].activities[0].code", first),
        ("themes[4].activities[2].code", second),
    ]
    assert all("activiteitcode 'A01' komt meer dan eens voor" in p.message for p in found)


def test_invalid_email_is_reported_at_the_person(tmp_path):
    data = example()
    data["people"][1]["email"] = "b.jansen-at-example.nl"
    path, lines = dump(tmp_path, data)

    found = problems(path)

    line = line_of(lines, "email: b.jansen-at-example.nl")
    email = [p for p in found if p.path == "people[1].email"]
    assert [(p.line, p.column) for p in email] == [(line, column_of(lines, line, "email:"))]
    assert "ongeldig e-mailadres 'b.jansen-at-example.nl'" in email[0].message


def test_invalid_email_gives_no_false_unknown_person_errors(tmp_path):
    data = example()
    data["people"][1]["email"] = "b.jansen-at-example.nl"
    path, _ = dump(tmp_path, data)

    assert [p.path for p in problems(path)] == ["people[1].email"]


def test_duplicate_holder_and_budget_line_are_reported(tmp_path):
    data = example()
    theme = data["themes"][0]
    holder = theme["holders"][0]
    theme["holders"] = [holder, holder]
    theme["budget"].append(dict(theme["budget"][0]))
    path, _ = dump(tmp_path, data)

    found = {p.path: p.message for p in problems(path)}

    last = len(theme["budget"]) - 1
    assert set(found) == {"themes[0].holders[1]", f"themes[0].budget[{last}]"}
    assert f"portefeuillehouder '{holder}' staat er twee keer" in found["themes[0].holders[1]"]
    assert "staat er twee keer" in found[f"themes[0].budget[{last}]"]


def test_yaml_syntax_error_gives_the_line_of_the_error(tmp_path):
    good = "        title: Bibob-toetsen horeca en evenementen"
    bad = "        title: Bibob-toetsen: horeca en evenementen"
    assert ORIGINAL.count(good) == 1
    path, _ = write(tmp_path, ORIGINAL.replace(good, bad))

    found = problems(path)

    assert len(found) == 1
    assert found[0].line == ORIGINAL.splitlines().index(good) + 1
    assert found[0].path == ""
    assert found[0].message.startswith("YAML-syntaxfout")


def test_duplicate_key_is_reported_in_the_original_file(tmp_path):
    good = "        due: 2024-06-30\n        owner: OOV2\n"
    assert ORIGINAL.count(good) == 1
    text = ORIGINAL.replace(good, good + "        owner: JUR\n")
    path, lines = write(tmp_path, text)

    found = problems(path)

    duplicate = line_of(lines, "owner: JUR", after=line_of(lines, "due: 2024-06-30"))
    assert [(p.path, p.line, p.column) for p in found] == [
        ("themes[0].activities[4].owner", duplicate, column_of(lines, duplicate, "owner:"))
    ]
    assert "sleutel 'owner' staat er twee keer" in found[0].message


def test_flow_style_people_are_located_in_the_original_file(tmp_path):
    good = "{id: OOV3, name: Fatima El Amrani, email: f.elamrani@example.nl"
    bad = "{id: OOV3, name: Fatima El Amrani, email: f.elamrani.example.nl"
    assert ORIGINAL.count(good) == 1
    path, _ = write(tmp_path, ORIGINAL.replace(good, bad))

    found = [p for p in problems(path) if p.path == "people[2].email"]

    expected_line = next(i for i, s in enumerate(ORIGINAL.splitlines()) if good in s) + 1
    assert [p.line for p in found] == [expected_line]


# --- many errors at once -----------------------------------------------------------------


def test_a_file_with_several_errors_reports_all_of_them(tmp_path):
    data = example()
    activity(data, 2, 1)["owner"] = "NIEMAND"  # C02
    activity(data, 0, 3)["backup"] = "OOV2"  # A04: backup equals owner
    activity(data, 1, 1)["due"] = date(2025, 1, 15)  # B02
    activity(data, 4, 2)["code"] = "A01"  # E03 duplicates A01
    activity(data, 2, 5)["repeat"] = {"rrule": "FREQ=SOMETIMES"}  # C06
    activity(data, 3, 2)["deadline"] = date(2024, 1, 1)  # D03
    del activity(data, 5, 1)["effort_hours"]  # F02
    path, lines = dump(tmp_path, data)

    found = problems(path)

    first_a01 = line_of(lines, "- code: A01")
    expected = {
        ("themes[2].activities[1].owner", field_position(lines, "C02", "owner")[0]),
        ("themes[0].activities[3].backup", field_position(lines, "A04", "backup")[0]),
        ("themes[1].activities[1].due", field_position(lines, "B02", "due")[0]),
        ("themes[0].activities[0].code", first_a01),
        ("themes[4].activities[2].code", line_of(lines, "- code: A01", after=first_a01)),
        ("themes[2].activities[5].repeat.rrule", line_of(lines, "rrule: FREQ=SOMETIMES")),
        ("themes[3].activities[2].deadline", field_position(lines, "D03", "deadline")[0]),
        ("themes[5].activities[1].effort_hours", item_position(lines, "F02")[0]),
    }
    assert {(p.path, p.line) for p in found} == expected
    assert [p.line for p in found] == sorted(p.line for p in found)
