"""Scenario on the example programme: a large fire in Oostermeent in October 2023.

Loaded on Monday 2 October 2023 09:00 with nothing marked done; the mayor declares GRIP 2 at
10:00 with the IVP coordinator (OOV1) and the crisis adviser (AOV) on crisis duty and the theme
VERKEERSVEILIGHEID (road closures) in scope; OOV3 is ill that week. The crisis ends on Friday
13 October at 17:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.crisis.models import Crisis, TaskPause
from veiligheid_flow.programme.models import CouncilItem, Programme
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

DECLARED = "2023-10-02T10:00"
ENDED = "2023-10-13T17:00"
ON_DUTY = {"OOV1", "AOV"}
THEME = "VERKEERSVEILIGHEID"
FIRST, LAST_EXPECTED = date(2023, 10, 2), date(2023, 10, 16)


@dataclass
class Scenario:
    crisis_id: int
    calendar: WorkCalendar


def start(app: App, *, expected_days: int | None = None) -> Scenario:
    commands.load(app, EXAMPLE, now=at("2023-10-02T09:00"), by=SYSTEM)
    crisis_id = commands.declare_crisis(
        app,
        "Grote brand Oostermeent",
        grip=2,
        by="burgemeester",
        now=at(DECLARED),
        themes=[THEME],
        staff=sorted(ON_DUTY),
        expected_days=expected_days,
    ).subject_id
    commands.add_absence(
        app,
        "OOV3",
        start=date(2023, 10, 2),
        end=date(2023, 10, 6),
        by="a.devries@example.nl",
        now=at("2023-10-02T10:30"),
        reason="ziek",
    )
    with app.sessions() as session:
        days = session.scalars(select(Programme)).one().non_working_days
    return Scenario(crisis_id, WorkCalendar(date.fromisoformat(d) for d in days))


def tasks(app: App) -> dict[int, dict[str, Any]]:
    book = app.rulebook()
    with app.sessions() as session:
        stored = {
            t.id: rules_service.stored_explanation(session, t, book)
            for t in session.scalars(select(Task))
        }
        return {
            t.id: {
                "activity": t.activity.code,
                "theme": t.theme.code,
                "statutory": t.statutory,
                "owner": t.owner.key,
                "backup": t.backup.key,
                "responsible": t.responsible.key,
                "paused": t.paused,
                "planned_due": t.planned_due,
                "due_date": t.due_date,
                "flags": list(t.flags),
                "council_item": t.council_item.code if t.council_item else None,
                "council_deadline": (
                    t.council_item.submission_deadline if t.council_item else None
                ),
                "paused_by": stored[t.id]["paused_by"],
                "rules": stored[t.id]["rule_ids"],
            }
            for t in session.scalars(select(Task).order_by(Task.id))
        }


def in_scope(task: dict[str, Any]) -> bool:
    return task["owner"] in ON_DUTY or task["theme"] == THEME


def of_activity(rows: dict[int, dict[str, Any]], code: str) -> list[dict[str, Any]]:
    return [r for r in rows.values() if r["activity"] == code]


# --- declared -----------------------------------------------------------------------------


def test_declaration_records_scope_expected_end_and_audit(app: App) -> None:
    scenario = start(app)
    with app.sessions() as session:
        crisis = session.get(Crisis, scenario.crisis_id)
        assert (crisis.grip, crisis.declared_by) == (2, "m.verbeek@example.nl")
        assert crisis.staff == ["a.devries@example.nl", "p.vandijk@example.nl"]
        assert crisis.themes == [THEME]
        # Ten working days (the rules' default_crisis_days) after Monday 2 October.
        assert crisis.expected_end == LAST_EXPECTED
        actions = [
            e.action
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.in_(["crisis.declare", "absence.add"]))
                .order_by(AuditEntry.id)
            )
        ]
    assert actions == ["crisis.declare", "absence.add"]


def test_during_the_crisis_statutory_work_goes_on_and_planned_work_in_scope_pauses(
    app: App,
) -> None:
    scenario = start(app)
    rows = tasks(app)

    statutory = [r for r in rows.values() if r["statutory"] and r["owner"] in ON_DUTY]
    assert statutory
    for r in statutory:
        assert r["paused"] is False
        if r["backup"] in ON_DUTY:  # owner and backup are both on crisis duty
            assert r["responsible"] == r["owner"]
            assert {"unstaffed", "statutory_at_risk"} <= set(r["flags"])
        else:
            assert r["responsible"] == r["backup"]
            assert "VERANTW-CRISISDIENST" in r["rules"]
            assert "unstaffed" not in r["flags"]
    # Jaarwisseling (OOV1 + AOV), OTO and VR-risicoprofiel (AOV + OOV1): nobody left.
    for code in ("F03", "G01", "G02"):
        assert all("unstaffed" in r["flags"] for r in of_activity(rows, code))
    # Evaluatie cameratoezicht (OOV1, backup JUR): the jurist takes it over.
    assert {r["responsible"] for r in of_activity(rows, "C05")} == {"JUR"}

    planned = [r for r in rows.values() if not r["statutory"] and in_scope(r)]
    assert planned
    assert all(r["paused"] and r["paused_by"] == [scenario.crisis_id] for r in planned)
    assert all("unstaffed" not in r["flags"] for r in planned)
    assert all(r["responsible"] == r["owner"] for r in planned)
    # The fatbikes file (VKR, theme in scope) and OOV1's fraud campaign lie still.
    assert all(r["paused"] for r in of_activity(rows, "E01") + of_activity(rows, "B01"))

    outside = [r for r in rows.values() if not in_scope(r)]
    assert outside and not any(r["paused"] for r in outside)
    with app.sessions() as session:
        pauses = {
            row.task_id
            for row in session.scalars(
                select(TaskPause).where(TaskPause.crisis_id == scenario.crisis_id)
            )
        }
    assert pauses == {i for i, r in rows.items() if r["paused"]}


def test_absent_colleague_work_goes_to_the_backup(app: App) -> None:
    start(app)
    rows = tasks(app)
    mine = [r for r in rows.values() if r["owner"] == "OOV3"]
    assert mine
    for r in mine:
        assert r["responsible"] == r["backup"]
        assert "VERANTW-AFWEZIG" in r["rules"]
    # Back on Monday 9 October: work that is not overdue returns to OOV3.
    commands.refresh(app, now=at("2023-10-09T09:00"))
    rows = tasks(app)
    assert all(
        r["responsible"] == "OOV3"
        for r in rows.values()
        if r["owner"] == "OOV3" and r["planned_due"] >= date(2023, 10, 9)
    )


def _at_risk_expected(app: App, rows: dict[int, dict[str, Any]], last: date) -> set[str]:
    """Council items with a deadline inside the crisis window and a task the crisis touches."""
    with app.sessions() as session:
        in_window = {
            c.code
            for c in session.scalars(
                select(CouncilItem).where(CouncilItem.submission_deadline.between(FIRST, last))
            )
        }
    return {r["council_item"] for r in rows.values() if in_scope(r)} & in_window


def test_no_council_item_at_risk_within_the_expected_ten_days(app: App) -> None:
    start(app)
    rows = tasks(app)
    flagged = {r["council_item"] for r in rows.values() if "council_at_risk" in r["flags"]}
    assert flagged == _at_risk_expected(app, rows, LAST_EXPECTED) == set()
    # The fatbikes letter is in scope, but its deadline (19 October) is after 16 October.
    (fatbikes,) = of_activity(rows, "E01")
    assert fatbikes["council_item"] == "TA23-11-FATBIKES"
    assert fatbikes["council_deadline"] == date(2023, 10, 19)
    assert "council_at_risk" not in fatbikes["flags"]


def test_a_longer_expected_crisis_puts_the_fatbikes_letter_at_risk(app: App) -> None:
    start(app, expected_days=15)
    with app.sessions() as session:
        last = session.scalars(select(Crisis)).one().expected_end
    assert last == date(2023, 10, 23)
    rows = tasks(app)
    flagged = {r["council_item"] for r in rows.values() if "council_at_risk" in r["flags"]}
    assert flagged == _at_risk_expected(app, rows, last) == {"TA23-11-FATBIKES"}
    # TA23-11-BEGROTING has the same deadline but no task the crisis touches.
    (fatbikes,) = of_activity(rows, "E01")
    assert "SIGNAAL-TERMIJNAGENDA-RISICO" in fatbikes["rules"]


# --- ended --------------------------------------------------------------------------------


def test_after_the_crisis_resumed_tasks_shift_by_ten_working_days(app: App) -> None:
    scenario = start(app)
    during = tasks(app)
    paused = {i for i, r in during.items() if r["paused"]}
    assert paused

    impact = commands.end_crisis(app, scenario.crisis_id, by="BM", now=at(ENDED))
    cal = scenario.calendar
    shift = cal.working_days_between(date(2023, 10, 1), date(2023, 10, 13))
    assert shift == 10
    after = tasks(app)

    assert not any(r["paused"] for r in after.values())
    # Only the work the crisis displaced moves: due from 2 October up to 10 working days after
    # its end (27 October); work late before it, or due later, keeps its date.
    horizon = cal.add_working_days(date(2023, 10, 13), 10)
    displaced = {i for i in paused if FIRST <= after[i]["planned_due"] <= horizon}
    assert displaced and paused - displaced
    for i in paused:
        r = after[i]
        moved = cal.add_working_days(r["planned_due"], shift)
        assert r["due_date"] == (moved if i in displaced else r["planned_due"]), r
        assert ("CRISIS-VERSCHUIF-DEADLINE" in r["rules"]) == (i in displaced)
    assert {c.task_id for c in impact.changes if "due_date" in c.after} == displaced
    # Everything the crisis did not pause keeps its date, statutory work included.
    untouched = [r for i, r in after.items() if i not in paused]
    assert untouched and all(r["due_date"] == r["planned_due"] for r in untouched)
    # Nobody is on crisis duty any more: no task is unstaffed, statutory work is back home.
    assert not any("unstaffed" in r["flags"] for r in after.values())
    for code in ("F03", "G01", "G02", "C05"):
        assert all(r["responsible"] == r["owner"] for r in of_activity(after, code))
    # Resumed work that was not late before the crisis is with its owner again.
    assert all(
        after[i]["responsible"] == after[i]["owner"]
        for i in paused
        if after[i]["planned_due"] >= date(2023, 10, 13)
    )
    (fatbikes,) = of_activity(after, "E01")
    assert fatbikes["due_date"] == date(2023, 10, 27)


def test_work_late_before_the_crisis_keeps_its_date_and_displaced_work_is_not_late(app: App):
    scenario = start(app)
    commands.end_crisis(app, scenario.crisis_id, by="BM", now=at(ENDED))
    after = tasks(app)
    week = [r for r in after.values() if r["activity"] == "C02"]
    (late,) = [r for r in week if r["planned_due"] == date(2023, 9, 29)]
    assert late["due_date"] == date(2023, 9, 29)  # late before the crisis: not moved
    assert "overdue" in late["flags"]
    displaced = [
        r for r in after.values()
        if FIRST <= r["planned_due"] <= date(2023, 10, 13) and r["due_date"] != r["planned_due"]
    ]
    assert displaced
    for r in displaced:  # moved past the crisis: not late the day it ends
        assert r["due_date"] > date(2023, 10, 13) and "overdue" not in r["flags"]
