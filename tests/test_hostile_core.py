"""Issue 9, the core's share: a hostile tester's attempts that did not hold, each now refused
with one Dutch line and nothing changed (both backends where the database is involved)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, at
from tests.test_region import laren_programme
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS_BY_NAME, run_job
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.crisis.models import Crisis
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.errors import DomainError
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.problems import InputInvalid
from veiligheid_flow.programme.models import Programme
from veiligheid_flow.tasks.models import Task

HUIZEN_MAYOR = "m.verbeek@example.nl"
LAREN_MAYOR = "m.verbeek@laren.example.nl"
LOADED = "2023-03-01T09:00"


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def example_with(tmp_path: Path, name: str = "variant.yaml", **changes: Any) -> Path:
    """The example with top-level changes; `programme_code` sets programme.code."""
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if "programme_code" in changes:
        doc["programme"]["code"] = changes.pop("programme_code")
    doc.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def snapshot(app: App) -> dict[str, Any]:
    """Every row a refused command must leave as it was."""
    with app.sessions() as session:
        return {
            "programmes": session.execute(
                select(Programme.id, Programme.code, Programme.municipality, Programme.digest)
                .order_by(Programme.id)
            ).all(),
            "tasks": session.execute(
                select(Task.id, Task.status, Task.paused, Task.due_date, Task.tier, Task.flags)
                .order_by(Task.id)
            ).all(),
            "audit": session.scalar(select(func.count(AuditEntry.id))),
            "crises": session.execute(select(Crisis.id, Crisis.grip, Crisis.ended_at)).all(),
            "outbox": session.scalar(select(func.count(OutboxMessage.id))),
        }


@pytest.fixture
def huizen(app: App) -> App:
    commands.load(app, EXAMPLE, now=at(LOADED), by=SYSTEM)
    return app


@pytest.fixture
def region(huizen: App, tmp_path: Path) -> App:
    commands.load(huizen, laren_programme(tmp_path), now=at(LOADED), by=SYSTEM)
    return huizen


# --- 1. one municipality's file never takes over another's programme -----------------------


def test_a_file_of_another_municipality_with_the_same_code_is_refused(
    huizen: App, tmp_path: Path
) -> None:
    before = snapshot(huizen)
    laren = example_with(tmp_path, municipality="Laren")  # keeps the template's code
    with pytest.raises(DomainError, match="UPV-2023-2024.*Huizen.*Laren"):
        commands.load(huizen, laren, now=at("2023-03-02T09:00"), by=SYSTEM)
    assert snapshot(huizen) == before
    result = run("load", laren, "--by", "OOV1", "--now", "2023-03-02T09:00")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "programmacode" in result.output
    assert snapshot(huizen) == before


# --- 10. municipality codes are unique ------------------------------------------------------


def test_a_second_name_for_the_same_municipality_code_is_refused(
    huizen: App, tmp_path: Path
) -> None:
    before = snapshot(huizen)
    other = example_with(tmp_path, municipality="HUIZEN!", programme_code="UPV-HUIZEN2")
    with pytest.raises(DomainError, match="huizen.*Huizen"):
        commands.load(huizen, other, now=at("2023-03-02T09:00"), by=SYSTEM)
    assert snapshot(huizen) == before


def test_digest_municipality_filter_is_never_ignored(region: App) -> None:
    # BM names a mayor in both municipalities: -g picks Laren's; an address of another
    # municipality's holder with -g is refused, not silently used.
    laren = run("digest", "--holder", "BM", "-g", "laren", "--now", "2023-10-02T09:00")
    assert laren.exit_code == 0, laren.output
    assert "Laren:" in laren.output
    huizen = run("digest", "--holder", "BM", "-g", "huizen", "--now", "2023-10-02T09:00")
    assert huizen.exit_code == 0, huizen.output
    assert "Laren:" not in huizen.output
    wrong = run("digest", "--holder", HUIZEN_MAYOR, "-g", "laren", "--now", "2023-10-02T09:00")
    assert wrong.exit_code == 1, wrong.output
    assert "laren" in wrong.output and "Traceback" not in wrong.output


# --- 9. listing never writes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["tasks"],
        ["tasks", "--json"],
        ["week"],
        ["explain", "1"],
        ["forecast", "--weeks", "2"],
        ["digest", "--holder", HUIZEN_MAYOR],
        ["calendar", "a.devries@example.nl"],
    ],
)
def test_reading_changes_no_stored_state(huizen: App, command: list[str]) -> None:
    before = snapshot(huizen)
    for moment in ("2023-10-02T09:00", "2023-03-02T09:00", "2024-06-03T09:00"):
        result = run(*command, "--now", moment)
        assert result.exit_code == 0, result.output
    assert snapshot(huizen) == before


def test_a_listing_shows_the_decisions_at_its_now_without_storing_them(huizen: App) -> None:
    before = snapshot(huizen)
    later = run("tasks", "--json", "--now", "2024-06-03T09:00")
    assert later.exit_code == 0, later.output
    # By June 2024 many 2023 tasks are overdue: the listing says so; the rows do not change.
    assert '"overdue"' in later.output
    assert snapshot(huizen) == before


# --- 6. crisis authority and GRIP range -----------------------------------------------------


def test_a_mayor_cannot_declare_a_crisis_in_another_municipality(region: App) -> None:
    before = snapshot(region)
    with pytest.raises(DomainError, match="laren"):
        commands.declare_crisis(
            region, "Brand", grip=2, by=HUIZEN_MAYOR, now=at("2023-10-02T09:00"),
            themes=[], staff=[], expected_days=5, municipalities=["laren"],
        )
    result = run(
        "crisis", "declare", "Brand", "--grip", "2", "--by", HUIZEN_MAYOR,
        "--municipality", "laren", "--now", "2023-10-02T09:00",
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert snapshot(region) == before


def test_another_municipalitys_holder_cannot_update_or_end_a_crisis(region: App) -> None:
    impact = commands.declare_crisis(
        region, "Brand", grip=2, by=LAREN_MAYOR, now=at("2023-10-02T09:00"),
        themes=[], staff=[], expected_days=5,
    )
    before = snapshot(region)
    for attempt in (
        lambda: commands.update_crisis(
            region, impact.subject_id, by=HUIZEN_MAYOR, now=at("2023-10-03T09:00"),
            themes=None, staff=None, grip=3,
        ),
        lambda: commands.end_crisis(
            region, impact.subject_id, by=HUIZEN_MAYOR, now=at("2023-10-03T09:00")
        ),
    ):
        with pytest.raises(DomainError, match="laren"):
            attempt()
    assert snapshot(region) == before


@pytest.mark.parametrize("grip", [99, -7, 6])
def test_grip_out_of_range_is_refused_on_update_too(huizen: App, grip: int) -> None:
    impact = commands.declare_crisis(
        huizen, "Brand", grip=1, by=HUIZEN_MAYOR, now=at("2023-10-02T09:00"),
        themes=[], staff=[], expected_days=5,
    )
    before = snapshot(huizen)
    result = run(
        "crisis", "update", impact.subject_id, "--grip", grip, "--by", HUIZEN_MAYOR,
        "--now", "2023-10-03T09:00",
    )
    assert result.exit_code == 1, result.output
    assert "GRIP" in result.output and "Traceback" not in result.output
    assert snapshot(huizen) == before


def test_an_absence_by_someone_of_another_municipality_is_refused(region: App) -> None:
    before = snapshot(region)
    result = run(
        "absence", "add", "a.devries@laren.example.nl", "--from", "2023-10-02",
        "--to", "2023-10-06", "--by", HUIZEN_MAYOR, "--now", "2023-10-02T09:00",
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "laren" in result.output
    assert snapshot(region) == before


# --- 4. text that fits every column, on both backends ---------------------------------------


def test_a_long_council_subject_is_alerted_on_both_backends(
    app: App, tmp_path: Path
) -> None:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["council_items"][0]["subject"] = "Lange titel " + "x" * 280  # validation allows 300
    path = tmp_path / "lang.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    commands.load(app, path, now=at(LOADED), by=SYSTEM)
    # Its alerts fall 15 and 5 working days before 2023-10-19: one catch-up run covers both.
    job = JOBS_BY_NAME["council_alerts"]
    sent = run_job(app, job, now=at("2023-09-01T09:00")).enqueued
    sent += run_job(app, job, now=at("2023-10-13T09:00")).enqueued
    with app.sessions() as session:
        subjects = session.scalars(
            select(OutboxMessage.subject).where(OutboxMessage.kind == "council")
        ).all()
    assert sent and any("Lange titel" in s for s in subjects)
    assert all(len(s) <= 300 for s in subjects)


@pytest.mark.parametrize("bad", ["met\x00nul", "met\x0bvt", "met\x1cfs"])
def test_control_characters_in_programme_text_are_refused(tmp_path: Path, bad: str) -> None:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["council_items"][0]["subject"] = bad
    doc["themes"][0]["partners"] = [bad]
    path = tmp_path / "ctrl.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run("validate", path)
    assert result.exit_code == 1
    assert "council_items[0].subject" in result.output and "themes[0].partners[0]" in result.output
    assert "stuurteken" in result.output


def test_a_non_ascii_address_is_refused_at_validation(tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    doc["people"][0]["email"] = "josé.jansen@example.nl"
    path = tmp_path / "jose.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = run("validate", path)
    assert result.exit_code == 1
    assert "people[0].email" in result.output and "josé" in result.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["crisis", "declare", "x" * 400, "--grip", "1"], "titel"),
        (["crisis", "declare", "Brand\rX-Injected: ja", "--grip", "1"], "titel"),
        (["crisis", "declare", "Brand", "--grip", "1", "--expected-days", "10" * 30], "duur"),
        (["crisis", "declare", "Brand", "--grip", "1", "--expected-days", "100000"], "duur"),
    ],
)
def test_bad_crisis_input_gets_one_line_and_changes_nothing(
    huizen: App, args: list[str], needle: str
) -> None:
    before = snapshot(huizen)
    result = run(*args, "--by", HUIZEN_MAYOR, "--now", "2023-10-02T09:00")
    assert result.exit_code in (1, 2), result.output
    assert needle in result.output.lower() and "Traceback" not in result.output
    assert snapshot(huizen) == before


def test_a_by_longer_than_any_name_is_refused(huizen: App) -> None:
    before = snapshot(huizen)
    for args in (
        ["task", "done", "1", "--by", "a" * 250 + "@example.nl"],
        ["load", EXAMPLE, "--by", "b" * 400],
        ["case", "open", "huisverbod", "--on", "2023-10-02", "--by", "c" * 300],
    ):
        result = run(*args, "--now", "2023-10-02T09:00")
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
    assert snapshot(huizen) == before


# --- 8. tracebacks instead of one clear line ------------------------------------------------


@pytest.mark.parametrize("moment", ["0001-01-01T00:00", "9999-12-31T23:59", "1999-12-31T09:00"])
def test_now_outside_sane_years_is_one_line(huizen: App, moment: str) -> None:
    result = run("tasks", "--now", moment)
    assert result.exit_code == 2, result.output
    assert "--now" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["calendar", "a.devries@example.nl", "-o", "{missing}/agenda.ics"],
        ["digest", "--holder", HUIZEN_MAYOR, "--html", "{missing}/digest.html"],
    ],
)
def test_an_output_path_into_a_missing_folder_is_one_line(
    huizen: App, tmp_path: Path, args: list[str]
) -> None:
    missing = tmp_path / "bestaat-niet"
    result = run(*[a.format(missing=missing) for a in args], "--now", "2023-10-02T09:00")
    assert result.exit_code == 1, result.output
    assert "bestaat-niet" in result.output and "Traceback" not in result.output


def test_a_locked_sqlite_database_is_one_line(
    huizen: App, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("locking by another process is a SQLite matter")
    monkeypatch.setenv("VEILIGHEID_SQLITE_BUSY_TIMEOUT", "1")
    path = huizen.engine.url.database
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "veiligheid_flow.entrypoints.cli.main", "task", "done", "1",
             "--by", "a.devries@example.nl", "--now", "2023-10-02T09:00"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bezet" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    with huizen.sessions() as session:
        assert session.get(Task, 1).status.value == "open"


def test_an_unreachable_database_is_one_line_with_the_password_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "VEILIGHEID_DATABASE_URL", "postgresql+psycopg://u:geheim@127.0.0.1:1/none"
    )
    result = run("tasks", "--now", "2023-10-02T09:00")
    assert result.exit_code == 1
    assert "127.0.0.1:1" in result.output and "geheim" not in result.output
    assert "Traceback" not in result.output


def test_nothing_from_an_invalid_load_reaches_the_database(huizen: App, tmp_path: Path) -> None:
    before = snapshot(huizen)
    bad = example_with(tmp_path, municipality="Huizen", programme_code="UPV 2023")
    with pytest.raises(InputInvalid):
        commands.load(huizen, bad, now=at("2023-03-02T09:00"), by=SYSTEM)
    with huizen.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM programme")).scalar() == 1
    assert snapshot(huizen) == before


@pytest.mark.parametrize(
    "args",
    [
        ["forecast", "--crisis-days", "10" * 20],
        ["absence", "add", "OOV3", "--from", "0001-01-01", "--to", "9999-12-31", "--by", "OOV1"],
        ["case", "open", "huisverbod", "--on", "9999-12-31", "--by", "JUR"],
    ],
)
def test_huge_numbers_and_far_dates_in_options_are_one_line(
    huizen: App, args: list[str]
) -> None:
    before = snapshot(huizen)
    result = run(*args, "--now", "2023-10-02T09:00")
    assert result.exit_code == 2, result.output
    assert "ligt buiten" in result.output and "Traceback" not in result.output
    assert snapshot(huizen) == before


def test_someone_who_left_the_programme_can_no_longer_act(huizen: App, tmp_path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    leaver = {"id": "TIJD", "name": "Tijdelijke Kracht", "email": "t.kracht@example.nl",
              "role": "Inhuur", "hours_per_week": 16}
    doc["people"].append(leaver)
    doc["roles"]["coordinators"].append("TIJD")  # absences are a coordinator's
    path = tmp_path / "met-inhuur.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    commands.load(huizen, path, now=at("2023-03-02T09:00"), by=SYSTEM)
    assert run("absence", "add", "OOV3", "--from", "2023-03-06", "--to", "2023-03-06",
               "--by", leaver["email"], "--now", "2023-03-03T09:00").exit_code == 0
    commands.load(huizen, EXAMPLE, now=at("2023-03-06T09:00"), by=SYSTEM)  # TIJD left
    before = snapshot(huizen)
    for args in (
        ["task", "done", "1", "--by", leaver["email"]],
        ["absence", "add", "OOV3", "--from", "2023-10-02", "--to", "2023-10-03",
         "--by", leaver["email"]],
    ):
        result = run(*args, "--now", "2023-10-02T09:00")
        assert result.exit_code == 1, (args, result.output)
        assert "Traceback" not in result.output
    assert snapshot(huizen) == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("non_working_days", ["9999-01-01"]),
        ("council_meetings", [{"body": "raad", "date": "1900-01-05"}]),
    ],
)
def test_far_dates_anywhere_in_a_programme_file_are_refused(
    tmp_path: Path, field: str, value: Any
) -> None:
    path = example_with(tmp_path, **{field: value})
    result = run("validate", path)
    assert result.exit_code == 1
    assert "buiten de jaren 2000–2100" in result.output and field in result.output
