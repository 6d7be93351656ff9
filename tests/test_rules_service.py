"""The rules service on both databases: evaluation, priorities, crises, cases and forecast."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands, queries
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.crisis.models import PriorityOverride, TaskPause
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme.models import Activity, Person, Programme, Theme
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules.forecast import PlannedTask, forecast
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

NOW = "2023-10-02T09:00"
BM = "m.verbeek@example.nl"
WV = "g.prins@example.nl"


def load(app: App, now: str = NOW) -> None:
    commands.load(app, EXAMPLE, now=at(now), by=SYSTEM)


def audit_rows(app: App, action: str | None = None) -> list[AuditEntry]:
    with app.sessions() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query))


def task_rows(app: App) -> dict[int, dict[str, Any]]:
    with app.sessions() as session:
        return {
            t.id: {
                "tier": t.tier,
                "paused": t.paused,
                "responsible": t.responsible.key,
                "owner": t.owner.key,
                "backup": t.backup.key,
                "due_date": t.due_date,
                "planned_due": t.planned_due,
                "flags": list(t.flags),
                "decision": t.decision,
                "theme": t.theme.code,
                "statutory": t.statutory,
                "title": t.title,
            }
            for t in session.scalars(select(Task).order_by(Task.id))
        }


def task_of(app: App, activity: str, planned_due: date | None = None) -> int:
    with app.sessions() as session:
        query = (
            select(Task.id)
            .join(Activity, Activity.id == Task.activity_id)
            .where(Activity.code == activity)
            .order_by(Task.planned_due)
        )
        if planned_due:
            query = query.where(Task.planned_due == planned_due)
        return session.scalars(query).first()


def calendar(app: App) -> WorkCalendar:
    with app.sessions() as session:
        programme = session.scalars(select(Programme)).one()
        return WorkCalendar(date.fromisoformat(d) for d in programme.non_working_days)


# --- evaluation is idempotent -------------------------------------------------------------


def test_reevaluating_with_unchanged_facts_changes_nothing(app: App) -> None:
    load(app)
    commands.declare_crisis(
        app,
        "Stroomstoring",
        grip=1,
        by="BM",
        now=at("2023-10-02T10:00"),
        themes=["DIGITALE_VEILIGHEID"],
        staff=["AOV"],
        expected_days=None,
    )
    before_audit, before_tasks = len(audit_rows(app)), task_rows(app)
    writes: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        # Same day, later hour: every fact is the same.
        assert commands.refresh(app, now=at("2023-10-02T15:00")) == 0
        assert commands.refresh(app, now=at("2023-10-02T15:00")) == 0
    finally:
        event.remove(app.engine, "before_cursor_execute", count)
    assert writes == []
    assert len(audit_rows(app)) == before_audit
    assert task_rows(app) == before_tasks


def test_reloading_the_same_programme_changes_nothing(app: App) -> None:
    load(app)
    before_audit, before_tasks = len(audit_rows(app)), task_rows(app)
    result = commands.load(app, EXAMPLE, now=at("2023-10-02T11:00"), by=SYSTEM)
    assert not result.changed
    assert result.decisions_changed == 0
    assert len(audit_rows(app)) == before_audit
    assert task_rows(app) == before_tasks


# --- priority by the portfolio holder -----------------------------------------------------


def test_priority_set_by_theme_holder_wins_and_is_audited(app: App) -> None:
    load(app)
    task_id = task_of(app, "E02", date(2023, 12, 29))  # VERKEERSVEILIGHEID: holders WV, BM
    assert task_rows(app)[task_id]["tier"] == 3

    impact = commands.set_priority(
        app, task_id, tier=1, by="WV", reason="Raadsvragen over snelheid", now=at(NOW)
    )
    assert [c.task_id for c in impact.changes] == [task_id]
    row = task_rows(app)[task_id]
    assert row["tier"] == 1
    assert row["decision"]["steps"][0]["rule_id"] == "OVERRIDE-PORTEFEUILLEHOUDER"

    (entry,) = audit_rows(app, "priority.set")
    assert (entry.actor, entry.object_id, entry.reason) == (
        WV,
        str(task_id),
        "Raadsvragen over snelheid",
    )
    assert (entry.before, entry.after) == ({"tier": 3}, {"tier": 1})
    decision = [e for e in audit_rows(app, "task.decision") if e.object_id == str(task_id)][-1]
    assert decision.after == {"tier": 1}
    assert "OVERRIDE-PORTEFEUILLEHOUDER" in decision.rule_ids

    explained = queries.explain(app, task_id, now=at(NOW))
    assert explained["task"]["tier"] == 1
    assert explained["task"]["rank"] is not None
    assert "Raadsvragen over snelheid" in explained["steps"][0]["reason"]


def test_priority_set_by_a_non_holder_is_refused(app: App) -> None:
    load(app)
    task_id = task_of(app, "E02", date(2023, 12, 29))
    before_audit, before_tasks = len(audit_rows(app)), task_rows(app)
    with pytest.raises(DomainError, match="portefeuillehouder"):
        commands.set_priority(
            app, task_id, tier=1, by="h.vermeulen@example.nl", reason="Zorg eerst", now=at(NOW)
        )
    assert len(audit_rows(app)) == before_audit
    assert task_rows(app) == before_tasks
    with app.sessions() as session:
        assert session.scalar(select(func.count(PriorityOverride.id))) == 0


# --- crises -------------------------------------------------------------------------------


def test_crisis_declare_update_end_are_audited_with_rule_ids(app: App) -> None:
    load(app)
    cal = calendar(app)
    declared = commands.declare_crisis(
        app,
        "Cyberaanval",
        grip=1,
        by="burgemeester",
        now=at("2023-10-02T10:00"),
        themes=["DIGITALE_VEILIGHEID"],
        staff=[],
        expected_days=5,
    )
    crisis_id = declared.subject_id
    (declare,) = audit_rows(app, "crisis.declare")
    assert (declare.actor, declare.object_id) == (BM, str(crisis_id))
    assert declare.after["title"] == "Cyberaanval"
    assert declare.after["themes"] == ["DIGITALE_VEILIGHEID"]
    assert declare.after["expected_end"] == cal.add_working_days(date(2023, 10, 2), 5).isoformat()

    rows = task_rows(app)
    paused = {i for i, r in rows.items() if r["paused"]}
    assert paused == {
        i for i, r in rows.items() if r["theme"] == "DIGITALE_VEILIGHEID" and not r["statutory"]
    }
    assert paused and {c.task_id for c in declared.changes} >= paused
    pause_rows = [
        e
        for e in audit_rows(app, "task.decision")
        if e.id > declare.id and int(e.object_id) in paused
    ]
    assert {int(e.object_id) for e in pause_rows} == paused
    for entry in pause_rows:
        assert entry.actor == "regels"
        assert entry.after["paused"] is True
        assert "PAUZE-CRISIS-GEPLAND-WERK" in entry.rule_ids

    commands.update_crisis(
        app,
        crisis_id,
        by="BM",
        now=at("2023-10-03T09:00"),
        themes=["DIGITALE_VEILIGHEID", "ONDERMIJNING"],
        staff=None,
        grip=2,
    )
    (update,) = audit_rows(app, "crisis.update")
    assert update.actor == BM
    assert (update.before["grip"], update.after["grip"]) == (1, 2)
    assert update.after["themes"] == ["DIGITALE_VEILIGHEID", "ONDERMIJNING"]
    rows = task_rows(app)
    assert all(
        r["paused"] for r in rows.values() if r["theme"] == "ONDERMIJNING" and not r["statutory"]
    )

    ended = commands.end_crisis(app, crisis_id, by="BM", now=at("2023-10-06T17:00"))
    (end,) = audit_rows(app, "crisis.end")
    assert (end.actor, end.before) == (BM, {"ended_at": None})
    assert end.after["ended_at"] is not None
    rows = task_rows(app)
    assert not any(r["paused"] for r in rows.values())
    shifted = {c.task_id for c in ended.changes if "due_date" in c.after}
    digital = {
        i for i, r in rows.items() if r["theme"] == "DIGITALE_VEILIGHEID" and not r["statutory"]
    }
    first, last = date(2023, 10, 2), date(2023, 10, 6)
    displaced = {i for i in digital if displaced_by(cal, rows[i]["planned_due"], first, last)}
    assert displaced and displaced <= shifted and digital - displaced
    for i in digital:  # paused 2..6 October: 5 working days, for the work it displaced
        expected = cal.add_working_days(rows[i]["planned_due"], 5 if i in displaced else 0)
        assert rows[i]["due_date"] == expected
    resume_rows = [
        e for e in audit_rows(app, "task.decision") if e.id > end.id and int(e.object_id) in shifted
    ]
    assert {int(e.object_id) for e in resume_rows} == shifted
    for entry in resume_rows:
        assert entry.after["paused"] is False
        assert "CRISIS-VERSCHUIF-DEADLINE" in entry.rule_ids
        assert entry.reason and "deadline" in entry.reason


def test_overlapping_crises_a_task_resumes_only_at_the_last_end(app: App) -> None:
    load(app)
    cal = calendar(app)
    first = commands.declare_crisis(
        app,
        "Overstroming",
        grip=2,
        by="BM",
        now=at("2023-10-02T10:00"),
        themes=["ONDERMIJNING"],
        staff=[],
        expected_days=None,
    ).subject_id
    second = commands.declare_crisis(
        app,
        "Hack",
        grip=1,
        by="BM",
        now=at("2023-10-04T10:00"),
        themes=["ONDERMIJNING", "DIGITALE_VEILIGHEID"],
        staff=[],
        expected_days=None,
    ).subject_id
    rows = task_rows(app)
    both = {i for i, r in rows.items() if r["theme"] == "ONDERMIJNING" and not r["statutory"]}
    only_second = {
        i for i, r in rows.items() if r["theme"] == "DIGITALE_VEILIGHEID" and not r["statutory"]
    }
    assert both and only_second
    assert all(rows[i]["paused"] for i in both | only_second)
    with app.sessions() as session:
        pairs = {tuple(r) for r in session.execute(select(TaskPause.task_id, TaskPause.crisis_id))}
    assert {(i, first) for i in both} | {(i, second) for i in both | only_second} == pairs

    commands.end_crisis(app, first, by="BM", now=at("2023-10-06T17:00"))
    rows = task_rows(app)
    assert all(rows[i]["paused"] for i in both | only_second)
    with app.sessions() as session:
        for i in both:
            task = session.get(Task, i)
            assert rules_service.stored_explanation(session, task, app.rulebook())[
                "paused_by"
            ] == [second]

    commands.end_crisis(app, second, by="BM", now=at("2023-10-13T17:00"))
    rows = task_rows(app)
    assert not any(r["paused"] for r in rows.values())
    # Paused 2..13 October (union of both crises): 10 working days; only the second: 4..13, 8;
    # for the work the pause displaced (due in it or up to 10 working days after).
    for ids, first, days in ((both, date(2023, 10, 2), 10), (only_second, date(2023, 10, 4), 8)):
        for i in ids:
            planned = rows[i]["planned_due"]
            moves = displaced_by(cal, planned, first, date(2023, 10, 13))
            assert rows[i]["due_date"] == cal.add_working_days(planned, days if moves else 0)


def test_absence_hands_work_to_backup_and_back(app: App) -> None:
    load(app)
    impact = commands.add_absence(
        app,
        "ZV",
        start=date(2023, 10, 2),
        end=date(2023, 10, 6),
        by="OOV1",
        now=at("2023-10-02T09:30"),
        reason="ziek",
    )
    rows = task_rows(app)
    mine = {
        i for i, r in rows.items() if r["owner"] == "ZV" and r["planned_due"] >= date(2023, 10, 9)
    }
    assert mine
    assert all(rows[i]["responsible"] == rows[i]["backup"] for i in mine)
    assert {c.task_id for c in impact.changes} >= mine
    commands.refresh(app, now=at("2023-10-09T09:00"))
    rows = task_rows(app)
    assert all(rows[i]["responsible"] == "ZV" for i in mine)


# --- statutory cases ----------------------------------------------------------------------


def test_open_huisverbod_case_creates_a_statutory_task_with_the_legal_due_date(app: App) -> None:
    load(app, "2023-06-09T09:00")
    impact = commands.open_case(
        app,
        "huisverbod",
        event_day=date(2023, 6, 9),
        by="f.elamrani@example.nl",
        now=at("2023-06-09T14:00"),
        reference="HV-2023-017",
        extended=False,
    )
    task_id = impact.subject_id
    row = task_rows(app)[task_id]
    assert row["statutory"] is True
    assert row["planned_due"] == row["due_date"] == date(2023, 6, 19)
    assert row["tier"] == 1
    assert (row["owner"], row["backup"], row["responsible"]) == ("OOV3", "ZV", "OOV3")
    assert "HV-2023-017" in row["title"]

    explained = queries.explain(app, task_id, now=at("2023-06-09T14:00"))
    assert "Wet tijdelijk huisverbod" in explained["task"]["note"]
    assert "10 dagen na 09-06-2023" in explained["task"]["note"]
    assert explained["task"]["legal_basis"].startswith("Wet tijdelijk huisverbod")
    assert [s["rule_id"] for s in explained["steps"] if s["table"] == "priority"] == [
        "PRIO-WETTELIJK"
    ]
    assert explained["facts"]["task.statutory"] is True
    assert explained["facts"]["task.working_days_to_due"] == 6

    (opened,) = audit_rows(app, "case.open")
    assert opened.after["due"] == "2023-06-19"
    assert opened.reason == explained["task"]["note"]


def displaced_by(cal, planned: date, first: date, last: date) -> bool:  # noqa: ANN001
    """The policy, written out: a pause moves work due from its first day up to 10 working days
    after its last (rules/settings.yaml crisis_shift.displaced_within_working_days)."""
    return first <= planned <= cal.add_working_days(last, 10)


def test_open_woo_case_moves_past_kings_day(app: App) -> None:
    load(app, "2023-03-30T09:00")
    task_id = commands.open_case(
        app,
        "woo_verzoek",
        event_day=date(2023, 3, 30),
        by="s.bakker@example.nl",
        now=at("2023-03-30T10:00"),
        reference=None,
        extended=False,
    ).subject_id
    row = task_rows(app)[task_id]
    # Thursday 27 April (King's Day); Friday 28 April 2023 is equated with a holiday by decree
    # (Atw art. 3 lid 3, rules/legal_terms.yaml): Monday 1 May.
    assert row["due_date"] == date(2023, 5, 1)
    with app.sessions() as session:
        note = session.get(Task, task_id).note
    assert "Koningsdag" in note and "Algemene termijnenwet art. 1" in note


def test_open_case_of_unknown_type_is_refused(app: App) -> None:
    load(app)
    count = len(task_rows(app))
    with pytest.raises(DomainError, match="zaaktype"):
        commands.open_case(
            app,
            "parkeerbon",
            event_day=date(2023, 10, 2),
            by="JUR",
            now=at(NOW),
            reference=None,
            extended=False,
        )
    assert len(task_rows(app)) == count


# --- capacity forecast --------------------------------------------------------------------


def test_forecast_rows_per_person_and_week_and_a_miss_under_a_15_day_crisis(app: App) -> None:
    now = "2023-09-18T09:00"
    load(app, now)
    with app.sessions() as session:
        people = {p.email: p.hours_per_week for p in session.scalars(select(Person))}
    weeks = 8
    rows, misses = queries.capacity_forecast(app, now=at(now), weeks=weeks)
    mondays = [date(2023, 9, 18) + timedelta(weeks=n) for n in range(weeks)]
    assert len(rows) == len(people) * weeks
    assert {(r.person, r.week) for r in rows} == {(p, m) for p in people for m in mondays}
    # Without a crisis a full week has the person's contract hours.
    anna = {r.week: r for r in rows if r.person == "a.devries@example.nl"}
    assert anna[date(2023, 10, 2)].capacity == 36.0

    crisis_rows, crisis_misses = queries.capacity_forecast(
        app, now=at(now), weeks=weeks, crisis_days=15
    )
    # 15 working days from Monday 18 September: three weeks without capacity for anyone.
    for r in crisis_rows:
        if r.week in mondays[:3]:
            assert r.capacity == 0.0
        elif r.week == mondays[3]:
            assert r.capacity == people[r.person]

    def key(m: Any) -> tuple[str, str, date]:
        return (m.task.person, m.task.title, m.task.due)

    new = {key(m) for m in crisis_misses} - {key(m) for m in misses}
    assert new
    # Bram Jansen's quarterly monitoring, due 29 September: on time without the crisis,
    # finished in the week of 9 October with it.
    target = (
        "b.jansen@example.nl",
        "Bewaken inzet politie en RIEC op ondermijningscasussen",
        date(2023, 9, 29),
    )
    assert target in new
    miss = next(m for m in crisis_misses if key(m) == target)
    assert miss.finished_week == date(2023, 10, 9)
    assert miss.finished_week > miss.task.due


def test_forecast_does_not_call_a_deadline_beyond_the_horizon_missed() -> None:
    today = date(2023, 9, 18)
    tasks = [
        PlannedTask(1, "Kort stuk", "a@example.nl", 8.0, date(2023, 9, 22)),
        PlannedTask(2, "Groot plan", "a@example.nl", 200.0, date(2024, 6, 28)),
    ]
    _, misses = forecast(
        tasks=tasks,
        hours_per_week={"a@example.nl": 36.0},
        today=today,
        weeks=2,
        calendar=WorkCalendar(),
        unavailable={},
    )
    # 72 hours in two weeks: the plan is not finished yet, but it is due next summer.
    assert misses == []


def test_themes_have_holders_for_priority(app: App) -> None:
    # Guard for the priority tests above: the data they rely on.
    load(app)
    with app.sessions() as session:
        theme = session.scalars(select(Theme).where(Theme.code == "VERKEERSVEILIGHEID")).one()
        assert {h.key for h in theme.holders} == {"WV", "BM"}


def test_task_added_to_the_scope_later_shifts_by_its_own_pause_only(app: App) -> None:
    load(app)
    cal = calendar(app)
    crisis_id = commands.declare_crisis(
        app,
        "Cyberaanval",
        grip=1,
        by="BM",
        now=at("2023-10-02T10:00"),
        themes=["DIGITALE_VEILIGHEID"],
        staff=[],
        expected_days=None,
    ).subject_id
    commands.update_crisis(
        app,
        crisis_id,
        by="BM",
        now=at("2023-10-04T09:00"),
        themes=["DIGITALE_VEILIGHEID", "ONDERMIJNING"],
        staff=None,
        grip=None,
    )
    commands.end_crisis(app, crisis_id, by="BM", now=at("2023-11-10T17:00"))
    rows = task_rows(app)
    late = {i for i, r in rows.items() if r["theme"] == "ONDERMIJNING" and not r["statutory"]}
    assert late
    # Paused from 4 October to 10 November: the working days of that pause, not of the whole
    # crisis (which began on 2 October), for the work that pause displaced.
    actual = {i: rows[i]["due_date"] for i in late}
    first, last = date(2023, 10, 4), date(2023, 11, 10)
    days = cal.working_days_between(first - timedelta(days=1), last)
    moves = {i for i in late if displaced_by(cal, rows[i]["planned_due"], first, last)}
    assert moves and late - moves
    assert actual == {
        i: cal.add_working_days(rows[i]["planned_due"], days if i in moves else 0) for i in late
    }
