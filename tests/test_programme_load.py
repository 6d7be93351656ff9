"""Loading a programme into the database: first load, failed load, reload, edits, a second
programme, and the derived submission deadlines. Every database test runs on both backends."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.db import Base
from veiligheid_flow.models import import_all
from veiligheid_flow.problems import InputInvalid
from veiligheid_flow.programme.expand import occurrences
from veiligheid_flow.programme.loader import read_programme
from veiligheid_flow.programme.models import CouncilItem, Person, Programme
from veiligheid_flow.programme.schema import CouncilItemSpec
from veiligheid_flow.programme.service import submission_deadline
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.workdays import WorkCalendar

FIRST_LOAD = "2023-03-01T09:00"
EXAMPLE_DATA = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
# What the programme file decides about a task; the rules decide the rest (due_date, tier, ...).
PLANNED = (
    "id",
    "title",
    "statutory",
    "legal_basis",
    "owner_id",
    "backup_id",
    "planned_due",
    "effort_hours",
    "council_item_id",
    "theme_id",
    "status",
    "status_changed_at",
    "status_changed_by",
    "note",
)
ALL_COLUMNS = tuple(c.name for c in Task.__table__.columns)

TaskKey = tuple[str, str]  # (activity code, occurrence key)


def example() -> dict[str, Any]:
    return copy.deepcopy(EXAMPLE_DATA)


def dump(tmp_path: Path, data: dict[str, Any], name: str = "programma.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load(app: App, path: Path = EXAMPLE, now: str = FIRST_LOAD, actor: str = "OOV1"):
    return commands.load(app, path, now=at(now), by=actor)


def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    import_all()
    with app.engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def tasks(
    app: App, columns: tuple[str, ...] = PLANNED, programme: str = "UPV-2023-2024"
) -> dict[TaskKey, dict[str, Any]]:
    with app.sessions() as session:
        rows = session.scalars(
            select(Task)
            .join(Programme, Task.programme_id == Programme.id)
            .where(Programme.code == programme)
        )
        return {
            (t.activity.code, t.occurrence_key): {c: getattr(t, c) for c in columns} for t in rows
        }


def person_id(app: App, key: str, programme: str = "UPV-2023-2024") -> int:
    with app.sessions() as session:
        return session.scalar(
            select(Person.id)
            .join(Programme, Person.programme_id == Programme.id)
            .where(Person.key == key, Programme.code == programme)
        )


def audit_rows(app: App) -> list[AuditEntry]:
    with app.sessions() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def expected_task_count(path: Path) -> int:
    spec = read_programme(path).spec
    calendar = WorkCalendar(spec.non_working_days)
    return sum(
        len(occurrences(a, spec.programme, calendar)) for t in spec.themes for a in t.activities
    )


# --- first load ----------------------------------------------------------------------------


def test_example_loads_with_211_tasks(app):
    result = load(app)

    assert result.created and result.programme_code == "UPV-2023-2024"
    assert result.counts["task.created"] == 211 == expected_task_count(EXAMPLE)
    loaded = tasks(app, ALL_COLUMNS)
    assert len(loaded) == 211
    assert {row["status"] for row in loaded.values()} == {TaskStatus.OPEN}
    # due dates on a day off are moved back; the occurrence key stays the nominal date
    assert loaded[("A04", "2023-12-31")]["planned_due"] == date(2023, 12, 29)  # Sunday
    assert loaded[("D05", "2024-03-31")]["planned_due"] == date(2024, 3, 28)  # Easter
    assert loaded[("C02", "2023-10-01")]["planned_due"] == date(2023, 9, 29)  # Sunday
    assert all(row["responsible_id"] == row["owner_id"] for row in loaded.values())
    assert loaded[("A04", "2023-12-31")]["owner_id"] == person_id(app, "OOV2")
    assert loaded[("A04", "2023-12-31")]["backup_id"] == person_id(app, "JUR")
    actions = [(r.action, r.actor) for r in audit_rows(app)]
    assert actions.count(("task.create", "a.devries@example.nl")) == 211
    assert ("programme.load", "a.devries@example.nl") in actions


def test_submission_deadlines_are_working_days_before_the_committee(app):
    load(app)

    with app.sessions() as session:
        rows = session.execute(select(CouncilItem.code, CouncilItem.submission_deadline))
        deadline = {code: day for code, day in rows}
    # default: 10 working days before Thursday 2 November 2023
    assert deadline["TA23-11-FATBIKES"] == date(2023, 10, 19)
    # 8 working days before 16 May 2024, across Ascension Day and the extra day off on 10 May
    assert deadline["TA24-05-VEILIGHEIDSMONITOR"] == date(2024, 5, 2)
    # given explicitly in the file
    assert deadline["TA24-06-VERKEERSVEILIGHEIDSPLAN"] == date(2024, 5, 31)
    assert deadline["TA24-12-ALCOHOLPLAN"] == date(2024, 11, 20)
    calendar = read_programme(EXAMPLE).calendar
    for item in EXAMPLE_DATA["council_items"]:
        if "submission_deadline" not in item:
            days = item.get("submission_working_days", 10)
            between = calendar.working_days_between(deadline[item["code"]], item["committee_date"])
            assert between == days, item["code"]


def _item(committee: date, days: int) -> CouncilItemSpec:
    return CouncilItemSpec(
        code="X",
        subject="Onderwerp",
        type="mededeling",
        holder="BM",
        committee="commissie ABM",
        committee_date=committee,
        submission_working_days=days,
    )


def test_submission_deadline_counts_back_over_holidays():
    calendar = WorkCalendar()
    # 3 working days before Thursday 4 April 2024: 3 and 2 April and (past Easter) 28 March
    assert submission_deadline(_item(date(2024, 4, 4), 3), calendar, 10) == date(2024, 3, 28)
    # submission_working_days absent: the programme default applies
    item = _item(date(2024, 4, 4), 3).model_copy(update={"submission_working_days": None})
    assert submission_deadline(item, calendar, 1) == date(2024, 4, 3)
    # a committee on a day off (Easter Monday): still 3 working days (26-28 March) in between
    easter_monday = date(2024, 4, 1)
    deadline = submission_deadline(_item(easter_monday, 3), calendar, 10)
    assert deadline == date(2024, 3, 25)
    assert calendar.working_days_between(deadline, easter_monday) == 3


# --- a failed load changes nothing -----------------------------------------------------------


def _validation_error(data: dict[str, Any]) -> None:
    data["people"][0]["name"] = "Anna de Vries-Bakker"  # a valid change ...
    data["themes"][2]["activities"][1]["owner"] = "NIEMAND"  # ... next to an error


REFUSED_CODE = "Z99"


def _database_error(data: dict[str, Any]) -> None:
    # Valid changes that the loader writes first, then a new activity that the database refuses
    # (a trigger installed by the test), so the failure happens halfway through the writes.
    data["people"][0]["name"] = "Anna de Vries-Bakker"
    data["council_items"][0]["subject"] = "Fatbikes"
    # A deep copy: a shared `partners` list would be dumped as a YAML alias, which is refused.
    new = dict(copy.deepcopy(data["themes"][0]["activities"][-1]), code=REFUSED_CODE, title="Nieuw")
    data["themes"][0]["activities"].append(new)


def refuse_activity(app: App, code: str) -> None:
    """A real database error during the load: a trigger that aborts one activity insert."""
    with app.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON activity "
                f"WHEN NEW.code = '{code}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.code = '{code}' THEN RAISE EXCEPTION 'refused' "
                "USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NEW; END "
                "$$ LANGUAGE plpgsql"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON activity "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )


def allow_activity(app: App) -> None:
    with app.engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER IF EXISTS refuse"
            + ("" if conn.dialect.name == "sqlite" else " ON activity")
        )
        if conn.dialect.name != "sqlite":
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS refuse()")


@pytest.mark.parametrize("make_error", [_validation_error, _database_error])
def test_a_failed_load_leaves_every_table_unchanged(app, tmp_path, make_error):
    load(app)
    before = snapshot(app)
    data = example()
    make_error(data)
    path = dump(tmp_path, data)
    expected = InputInvalid
    if make_error is _database_error:
        refuse_activity(app, REFUSED_CODE)
        expected = IntegrityError

    try:
        with pytest.raises(expected):
            load(app, path, now="2023-10-02T09:00", actor=SYSTEM)
    finally:
        allow_activity(app)

    assert snapshot(app) == before
    assert len(before["task"]) == 211 and before["audit_entry"]


# --- reloading -------------------------------------------------------------------------------


def test_reloading_the_same_file_changes_nothing(app):
    load(app)
    before = snapshot(app)

    result = load(app, actor="a.devries@example.nl")

    assert not result.changed
    assert not result.created
    assert result.decisions_changed == 0
    assert snapshot(app) == before  # same task ids, due dates, statuses; no audit rows


def test_reloading_later_only_lets_the_rules_write(app):
    load(app)
    planned = tasks(app)
    audit_before = len(audit_rows(app))

    result = load(app, now="2023-10-02T09:00", actor="OOV1")

    assert not result.changed
    assert tasks(app) == planned
    new = audit_rows(app)[audit_before:]
    assert {(r.action, r.actor) for r in new} <= {("task.decision", "regels")}


# --- an edited programme -----------------------------------------------------------------------

EDIT_NOW = "2023-11-15T00:30"  # just after midnight in Amsterdam, still 14 November in UTC
NEW_ACTIVITY = {
    "code": "Z01",
    "title": "Nieuw overleg zorg en veiligheid",
    "repeat": {"every": "month", "day": 10},
    "owner": "OOV3",
    "backup": "ZV",
    "effort_hours": 12,
}


def _edit(data: dict[str, Any]) -> None:
    zorg = data["themes"][3]["activities"]
    c03 = data["themes"][2]["activities"][2]
    assert c03["code"] == "C03" and zorg[3]["code"] == "D04"
    c03["effort_hours"] = 50
    c03["owner"] = "OOV3"
    del zorg[3]  # D04 disappears
    zorg.append(NEW_ACTIVITY)


def _mark_done(app: App, key: TaskKey) -> None:
    task_id = tasks(app)[key]["id"]
    commands.change_status(
        app, task_id, TaskStatus.DONE, by="a.devries@example.nl", now=at("2023-03-02T10:00")
    )


DONE = {("C03", "2024-01-15"), ("D04", "2024-02-29")}  # marked done before the edit


def test_an_edit_changes_only_open_future_tasks(app, tmp_path):
    load(app)
    for key in DONE:
        _mark_done(app, key)
    before = tasks(app)
    done_before = {k: v for k, v in tasks(app, ALL_COLUMNS).items() if k in DONE}
    audit_before = len(audit_rows(app))
    data = example()
    _edit(data)
    path = dump(tmp_path, data)

    result = load(app, path, now=EDIT_NOW, actor="OOV1")

    today = local_date(at(EDIT_NOW))
    assert today == date(2023, 11, 15)
    after = tasks(app)
    after_all = tasks(app, ALL_COLUMNS)
    oov3, wijk = person_id(app, "OOV3"), person_id(app, "WIJK")

    # done tasks are never touched, not even a column the rules own
    for key, row in done_before.items():
        assert after_all[key] == row

    # C03: open tasks due today or later follow the edit; past ones stay as they were
    c03 = {k: v for k, v in after.items() if k[0] == "C03" and k not in done_before}
    assert c03[("C03", "2023-11-15")]["effort_hours"] == 50  # due today counts as future
    for key, row in c03.items():
        if row["planned_due"] >= today:
            assert (row["effort_hours"], row["owner_id"]) == (50, oov3)
            assert after_all[key]["responsible_id"] == oov3
            assert {k: v for k, v in row.items() if k not in ("effort_hours", "owner_id")} == {
                k: v for k, v in before[key].items() if k not in ("effort_hours", "owner_id")
            }
        else:
            assert row == before[key]
            assert (row["effort_hours"], row["owner_id"]) == (48, wijk)

    # D04: vanished open future occurrences are cancelled, past ones stay open
    d04 = {k: v for k, v in after.items() if k[0] == "D04" and k not in done_before}
    for key, row in d04.items():
        if row["planned_due"] >= today:
            assert row["status"] == TaskStatus.CANCELLED
            assert row["status_changed_by"] == "a.devries@example.nl"
            assert row["status_changed_at"] == at(EDIT_NOW)
        else:
            assert row == before[key]
    assert any(r["status"] == TaskStatus.CANCELLED for r in d04.values())
    assert any(r["status"] == TaskStatus.OPEN for r in d04.values())

    # Z01: only occurrences due today or later are created
    edited = read_programme(path)
    z01 = next(a for a in edited.spec.themes[3].activities if a.code == "Z01")
    future = occurrences(z01, edited.spec.programme, edited.calendar)
    new_keys = sorted(k[1] for k in after if k[0] == "Z01")
    assert new_keys == [o.key for o in future if o.due >= today]
    assert new_keys[0] == "2023-12-10" and len(new_keys) == 13  # not 2023-11-10

    # every other task is exactly as it was, and no task lost its id
    for key, row in before.items():
        if key[0] not in ("C03", "D04"):
            assert after[key] == row
        assert after[key]["id"] == row["id"]

    # the audit trail names the editor for each change the load made
    new = [r for r in audit_rows(app)[audit_before:] if r.actor == "a.devries@example.nl"]
    updated = {int(r.object_id) for r in new if r.action == "task.update"}
    cancelled = {int(r.object_id) for r in new if r.action == "task.cancel"}
    created = {int(r.object_id) for r in new if r.action == "task.create"}
    assert updated == {row["id"] for key, row in c03.items() if row["planned_due"] >= today}
    assert cancelled == {row["id"] for row in d04.values() if row["status"] == TaskStatus.CANCELLED}
    assert created == {after[("Z01", k)]["id"] for k in new_keys}
    assert result.counts["task.updated"] == len(updated)
    assert result.counts["task.cancelled"] == len(cancelled)
    assert result.counts["task.created"] == len(created)


def test_task_ids_stay_stable_when_an_edit_is_undone(app, tmp_path):
    load(app)
    ids = {k: v["id"] for k, v in tasks(app).items()}
    data = example()
    data["themes"][2]["activities"][2]["effort_hours"] = 50  # C03
    edited = dump(tmp_path, data)

    load(app, edited, now="2023-06-01T09:00")
    assert {v["effort_hours"] for k, v in tasks(app).items() if k[0] == "C03"} == {48, 50}
    load(app, EXAMPLE, now="2023-06-01T09:00")

    after = tasks(app)
    assert {k: v["id"] for k, v in after.items()} == ids
    assert {v["effort_hours"] for k, v in after.items() if k[0] == "C03"} == {48}


# --- a second programme ------------------------------------------------------------------------


def _two_years_later(value: Any) -> Any:
    if isinstance(value, date):
        return value.replace(year=value.year + 2)
    if isinstance(value, dict):
        return {k: _two_years_later(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_two_years_later(v) for v in value]
    return value


def test_a_second_programme_loads_beside_the_first(app, tmp_path):
    data = _two_years_later(example())
    data["programme"].update(code="UPV-2025-2026", name="Uitvoeringsprogramma Veiligheid 2025-2026")
    assert (data["programme"]["start"], data["programme"]["end"]) == (
        date(2025, 3, 1),
        date(2026, 12, 31),
    )
    second = dump(tmp_path, data)
    load(app)
    before = snapshot(app)
    first_tasks = tasks(app, ALL_COLUMNS)

    # Same clock as the first load, so the rules have no reason to revisit the first programme.
    result = load(app, second, actor="OOV1")

    assert result.created
    after = snapshot(app)
    for table, rows in before.items():  # new rows come after the old ones, which are intact
        assert after[table][: len(rows)] == rows, table
    assert tasks(app, ALL_COLUMNS) == first_tasks
    new_tasks = tasks(app, programme="UPV-2025-2026")
    assert len(new_tasks) == expected_task_count(second)
    nominal = {date.fromisoformat(key) for _, key in new_tasks}
    assert min(nominal) >= date(2025, 3, 1) and max(nominal) <= date(2026, 12, 31)
    assert not {t["id"] for t in new_tasks.values()} & {t["id"] for t in first_tasks.values()}
    assert person_id(app, "OOV1", "UPV-2025-2026") != person_id(app, "OOV1")
    with app.sessions() as session:
        assert session.scalar(select(func.count(Programme.id))) == 2


# --- files that pass validation must load ------------------------------------------------------


def _duplicate_budget_line(data: dict[str, Any]) -> None:
    data["themes"][0]["budget"].append(dict(data["themes"][0]["budget"][0]))


def _duplicate_holder(data: dict[str, Any]) -> None:
    data["themes"][0]["holders"] = ["BM", "BM"]


def _sub_daily_rrule(data: dict[str, Any]) -> None:
    data["themes"][2]["activities"][5]["repeat"] = {"rrule": "FREQ=DAILY;BYHOUR=8,14"}


@pytest.mark.parametrize("make_file", [_duplicate_budget_line, _duplicate_holder, _sub_daily_rrule])
def test_a_file_that_passes_validation_can_be_loaded(app, tmp_path, make_file):
    data = example()
    make_file(data)
    path = dump(tmp_path, data)
    try:
        read_programme(path)
    except InputInvalid:
        return  # refusing the file up front, with a line number, is fine too

    result = load(app, path)

    assert result.created
    with app.sessions() as session:
        assert session.scalar(select(func.count(Task.id))) == expected_task_count(path)
