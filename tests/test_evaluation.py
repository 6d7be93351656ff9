"""The evaluation report over a simulated period of the example programme.

`simulate` loads the example at 2023-03-01 and drives the application as people would: tasks
reported done on time and late (one reopened and done again, one cancelled), two crises, an
absence, statutory cases, and the daily jobs (`jobs.run_due`) every Monday, so escalations to
the backup happen. Every figure of the evaluation is then checked against a count made here,
straight from the audit_entry table (and task_pause_period for the crises), with its own
reading of the counting conventions in `app/evaluation.py`'s docstring. The PDF is read back
with pdftotext and pdftoppm. docs/make_evaluation.py builds the same period up to 2024-12-31.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import create_engine, distinct, func, select, text
from typer.testing import CliRunner

from tests.conftest import EXAMPLE, ROOT, at
from veiligheid_flow.app import budget, commands
from veiligheid_flow.app.evaluation import (
    Evaluation,
    bucket_of,
    evaluation,
    quarter_range,
    quarters_between,
)
from veiligheid_flow.app.exports_evaluation import evaluation_table
from veiligheid_flow.app.jobs import run_due
from veiligheid_flow.app.publication import parse_quarter
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App, bootstrap
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis.models import Crisis, TaskPause
from veiligheid_flow.db import Base
from veiligheid_flow.entrypoints.cli.main import app as cli
from veiligheid_flow.errors import DomainError
from veiligheid_flow.models import import_all
from veiligheid_flow.programme.models import (
    Activity,
    BudgetLine,
    BudgetRealised,
    CouncilItem,
    Person,
    Programme,
    Theme,
)
from veiligheid_flow.reports.charts import delay_chart
from veiligheid_flow.settings import Settings
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.workdays import WorkCalendar

COORDINATOR = "a.devries@example.nl"
LOADED = "2023-03-01T07:00"
CRISES = (  # title, grip, themes, staff, declared, ended
    (
        "Grote brand De Kostmand",
        2,
        ["VEERKRACHTIGE_WIJKEN"],
        ["p.vandijk@example.nl"],
        "2023-10-02T10:00",
        "2023-10-13T17:00",
    ),
    (
        "Stroomstoring centrum",
        1,
        ["ZORG_EN_VEILIGHEID", "JEUGD_EN_VEILIGHEID"],
        [],
        "2023-11-20T09:00",
        "2023-11-24T16:00",
    ),
    (
        "Storm en wateroverlast",
        1,
        ["VERKEERSVEILIGHEID", "VERTROUWEN_RADICALISERING"],
        [],
        "2024-06-03T09:00",
        "2024-06-07T16:00",
    ),
)
BOOKINGS = (  # theme, year, amount, description, when
    ("ONDERMIJNING", 2023, "12.500,00", "Bijdrage RIEC 2023", "2023-04-14T10:00"),
    ("VERKEERSVEILIGHEID", 2023, "8000", "Snelheidsdisplays", "2023-09-01T10:00"),
    ("ONDERMIJNING", 2023, "-500", "Correctie bijdrage RIEC", "2023-10-02T11:00"),
    ("STURING_BUDGET", 2023, "4.250,50", "Veiligheidsmonitor 2023", "2023-12-15T10:00"),
    ("ZORG_EN_VEILIGHEID", 2023, "41.000,00", "Zorg- en Veiligheidshuis 2023", "2023-12-20T10:00"),
    ("ONDERMIJNING", 2024, "47200", "Bijdrage RIEC 2024", "2024-03-15T10:00"),
    ("VERKEERSVEILIGHEID", 2024, "52.750,25", "Schoolomgevingen", "2024-09-20T10:00"),
    ("DIGITALE_VEILIGHEID", 2024, "16.400,00", "Oefening cyberincident", "2024-10-04T10:00"),
    ("ZORG_EN_VEILIGHEID", 2024, "58.900,00", "Zorg- en Veiligheidshuis 2024", "2024-12-18T10:00"),
)
ABSENT = "f.elamrani@example.nl"
ABSENCE = (date(2023, 6, 12), date(2023, 6, 23), "Knieoperatie (verzonnen)", "2023-06-12T07:30")
CASES = (  # case type, by, event day, opened, reported done (None: stays open)
    (
        "huisverbod",
        "f.elamrani@example.nl",
        date(2023, 5, 4),
        "2023-05-04T16:00",
        "2023-05-10T11:00",
    ),
    (
        "woo_verzoek",
        "s.bakker@example.nl",
        date(2023, 9, 1),
        "2023-09-04T09:00",
        "2023-10-06T15:00",
    ),
    ("damocles", "b.jansen@example.nl", date(2023, 11, 1), "2023-11-01T10:00", None),
    ("bibob_advies", "b.jansen@example.nl", date(2023, 12, 1), "2023-12-01T10:00", None),
    (
        "evenementenvergunning",
        "s.bakker@example.nl",
        date(2024, 3, 1),
        "2024-03-01T10:00",
        "2024-04-19T10:00",
    ),
    (
        "woo_verzoek",
        "s.bakker@example.nl",
        date(2024, 9, 2),
        "2024-09-02T10:00",
        "2024-10-18T10:00",
    ),
    ("gebiedsverbod", COORDINATOR, date(2024, 11, 1), "2024-11-01T10:00", None),
)
REOPENED = "E01"  # done on time, reopened, done again late
CANCELLED = "B02"  # cancelled by the coordinator


Event = tuple[datetime, int, Callable[[datetime], object]]


def _moment(day: date, clock: str) -> datetime:
    return at(f"{day.isoformat()}T{clock}")


def _fates(app: App, calendar: WorkCalendar) -> list[tuple[datetime, int, TaskStatus]]:
    """When each planned task is reported (status, task id): by its id, four in seven done
    three working days early (one of them started a week before), one two working days late,
    one nine working days late (escalated by then), one left open."""
    with app.sessions() as session:
        tasks = session.execute(
            select(Task.id, Task.planned_due, Activity.code)
            .join(Activity, Activity.id == Task.activity_id)
            .order_by(Task.id)
        ).all()
    found: list[tuple[datetime, int, TaskStatus]] = []
    for task_id, planned, code in tasks:
        if code == CANCELLED:
            found.append((_moment(date(2023, 4, 3), "10:00"), task_id, TaskStatus.CANCELLED))
            continue
        if code == REOPENED:
            found += [
                (
                    _moment(calendar.add_working_days(planned, -3), "14:00"),
                    task_id,
                    TaskStatus.DONE,
                ),
                (_moment(calendar.add_working_days(planned, 1), "09:00"), task_id, TaskStatus.OPEN),
                (_moment(calendar.add_working_days(planned, 4), "16:00"), task_id, TaskStatus.DONE),
            ]
            continue
        offset = {0: -3, 1: -3, 2: -3, 3: -3, 4: 2, 5: 9}.get(task_id % 7)
        if offset is None:
            continue  # stays open
        day = calendar.add_working_days(planned, offset)
        if task_id % 7 == 3:
            started = calendar.add_working_days(day, -5)
            found.append((_moment(started, "09:30"), task_id, TaskStatus.IN_PROGRESS))
        found.append((_moment(day, "14:00"), task_id, TaskStatus.DONE))
    return found


def simulate(app: App, until: date, jobs_every: int = 7) -> None:
    """The example programme from 2023-03-01 up to the end of `until`, as described above;
    the jobs run every `jobs_every` days from Monday 6 March 2023 at 08:05."""
    commands.load(app, EXAMPLE, by=SYSTEM, now=at(LOADED))
    calendar = WorkCalendar([date(2023, 12, 27), date(2024, 5, 10), date(2024, 12, 27)])
    events: list[Event] = []
    made: dict[object, int] = {}  # crisis title or case number → its id

    def later(moment: datetime, run: Callable[[datetime], object]) -> None:
        if local_date(moment) <= until:
            events.append((moment, len(events), run))

    for moment, task_id, to in _fates(app, calendar):
        later(
            moment,
            lambda now, t=task_id, s=to: commands.change_status(app, t, s, by=COORDINATOR, now=now),
        )
    mayor = "m.verbeek@example.nl"
    for title, grip, themes, staff, declared, ended in CRISES:

        def declare(now: datetime, title=title, grip=grip, themes=themes, staff=staff) -> None:
            made[title] = commands.declare_crisis(
                app,
                title,
                grip=grip,
                by=mayor,
                now=now,
                themes=themes,
                staff=staff,
                expected_days=None,
            ).subject_id

        later(at(declared), declare)
        later(
            at(ended),
            lambda now, title=title: commands.end_crisis(app, made[title], by=mayor, now=now),
        )
    start, end, reason, added = ABSENCE
    later(
        at(added),
        lambda now: commands.add_absence(
            app, ABSENT, start=start, end=end, by=COORDINATOR, now=now, reason=reason
        ),
    )
    for number, (case_type, by, event_day, opened, done) in enumerate(CASES):

        def open_case(now: datetime, n=number, kind=case_type, by=by, day=event_day) -> None:
            made[n] = commands.open_case(
                app, kind, event_day=day, by=by, now=now, reference=None, extended=False
            ).subject_id

        later(at(opened), open_case)
        if done is not None:
            later(
                at(done),
                lambda now, n=number, by=by: commands.change_status(
                    app, made[n], TaskStatus.DONE, by=by, now=now
                ),
            )
    for theme, year, amount, description, when in BOOKINGS:
        later(
            at(when),
            lambda now, t=theme, y=year, a=amount, d=description: budget.book(
                app, t, y, a, description=d, by=COORDINATOR, now=now
            ),
        )
    day = date(2023, 3, 6)
    while day <= until:
        later(_moment(day, "08:05"), lambda now: run_due(app, now=now))
        day += timedelta(days=jobs_every)
    for moment, _, run in sorted(events, key=lambda e: (e[0], e[1])):
        run(moment)


# --- the count made here, from the audit trail ---------------------------------------------------

END = date(2023, 12, 31)
AT_END, EARLIER = at("2023-12-31T23:00"), at("2023-08-01T12:00")
ESCALATION_RULE = "VERANTW-ESCALATIE"  # rules/responsibility.yaml: late → the backup
SHIFT_RULE = "CRISIS-VERSCHUIF-DEADLINE"  # rules/settings.yaml: the crisis shift


def _working_days_after(first: date, last: date, calendar: WorkCalendar) -> int:
    """Working days d with first < d <= last, counted one by one (0 when last <= first)."""
    return sum(
        1
        for n in range(1, (last - first).days + 1)
        if calendar.is_working_day(first + timedelta(days=n))
    )


@dataclass
class Seen:
    """One task as this test reads the audit trail."""

    theme: str
    effort: float
    council_item: int | None
    case: bool = False
    status: str = ""
    due: date | None = None
    paused: bool = False
    responsible: int | None = None
    done_on: date | None = None
    due_when_done: date | None = None

    def deadline(self) -> date:
        day = self.due_when_done if self.status == "done" else self.due
        assert day is not None
        return day


def progress_of(
    tasks: list[Seen], today: date, calendar: WorkCalendar
) -> tuple[dict[str, int], list[int], list[int]]:
    """(figures, working days late of those done late, of those open and late)."""
    figures = dict.fromkeys(
        ("planned", "due", "done", "on_time", "late", "overdue", "paused", "cancelled"), 0
    )
    delays, over = [], []
    for task in tasks:
        if task.status == "cancelled":
            figures["cancelled"] += 1
            continue
        figures["planned"] += 1
        figures["due"] += task.deadline() <= today
        if task.status == "done":
            figures["done"] += 1
            late = _working_days_after(task.deadline(), task.done_on, calendar)
            figures["late" if late else "on_time"] += 1
            delays += [late] if late else []
        elif task.paused:
            figures["paused"] += 1
        elif late := _working_days_after(task.deadline(), today, calendar):
            figures["overdue"] += 1
            over.append(late)
    return figures, sorted(delays), sorted(over)


def count(app: App, now: datetime) -> dict[str, Any]:
    """Every figure of the evaluation, counted straight from the tables."""
    today = local_date(now)
    with app.sessions() as session:
        programme = session.scalars(select(Programme)).one()
        calendar = WorkCalendar(date.fromisoformat(d) for d in programme.non_working_days)
        static = {
            row.id: row
            for row in session.execute(
                select(Task.id, Theme.code, Task.effort_hours, Task.council_item_id).join(
                    Theme, Theme.id == Task.theme_id
                )
            )
        }
        entries = session.execute(
            select(
                AuditEntry.at,
                AuditEntry.action,
                AuditEntry.object_id,
                AuditEntry.before,
                AuditEntry.after,
                AuditEntry.rule_ids,
            )
            .where(AuditEntry.object_type == "task", AuditEntry.at <= now)
            .order_by(AuditEntry.id)
        ).all()
        pauses = session.execute(
            select(TaskPause.crisis_id, func.count(distinct(TaskPause.task_id)))
            .where(TaskPause.since <= today)
            .group_by(TaskPause.crisis_id)
        ).all()
        paused_per_theme = session.execute(
            select(Theme.code, func.count(distinct(TaskPause.task_id)))
            .join(Task, Task.id == TaskPause.task_id)
            .join(Theme, Theme.id == Task.theme_id)
            .where(TaskPause.since <= today)
            .group_by(Theme.code)
        ).all()
        crises = session.execute(
            select(Crisis.id, Crisis.title, Crisis.ended_at).where(Crisis.declared_at <= now)
        ).all()
        items = session.execute(
            select(CouncilItem.id, CouncilItem.code, CouncilItem.submission_deadline)
        ).all()
        people = session.execute(select(Person.id, Person.name, Person.hours_per_week)).all()
        planned_money = session.execute(
            select(Theme.code, BudgetLine.year, func.sum(BudgetLine.amount))
            .join(Theme, Theme.id == BudgetLine.theme_id)
            .group_by(Theme.code, BudgetLine.year)
        ).all()
        spent = session.execute(
            select(
                Theme.code,
                BudgetRealised.year,
                BudgetRealised.amount,
                BudgetRealised.recorded_at,
                BudgetRealised.removed_at,
            ).join(Theme, Theme.id == BudgetRealised.theme_id)
        ).all()
    seen: dict[int, Seen] = {}
    escalations: list[tuple[int, date]] = []
    moves: list[tuple[datetime, int, date, date]] = []
    for when, action, object_id, before, after, rule_ids in entries:
        task_id = int(object_id)
        after, before, rule_ids = after or {}, before or {}, rule_ids or []
        if action in ("task.create", "case.open"):
            row = static[task_id]
            seen[task_id] = Seen(row.code, row.effort_hours, row.council_item_id)
        task = seen.get(task_id)
        if task is None:
            continue
        if action == "case.open":
            task.case, task.status, task.due = True, "open", date.fromisoformat(after["due"])
        if "status" in after:
            task.status = after["status"]
        if "due_date" in after:
            task.due = date.fromisoformat(after["due_date"])
        task.paused = after.get("paused", task.paused)
        task.responsible = after.get("responsible_id", task.responsible)
        if action == "task.done":
            task.done_on, task.due_when_done = local_date(when), task.due
        if action == "task.decision" and ESCALATION_RULE in rule_ids and "responsible_id" in after:
            escalations.append((task_id, local_date(when)))
        if action == "task.decision" and SHIFT_RULE in rule_ids and "due_date" in after:
            moves.append((when, task_id, date.fromisoformat(before["due_date"]), task.due))
    result: dict[str, Any] = {"themes": {}, "cases": {}, "council": {}, "load": {}}
    themes: dict[str, list[Seen]] = {}
    for task in seen.values():
        if not task.case:
            themes.setdefault(task.theme, []).append(task)
            themes.setdefault("", []).append(task)
    for code, tasks in themes.items():
        result["themes"][code] = progress_of(tasks, today, calendar)
    per_theme: Counter[tuple[str, str, str]] = Counter()  # (theme, kind, state)
    for task_id, task in seen.items():
        if task.case and task.status != "cancelled":
            if task.status == "done":
                state = "gehaald" if task.done_on <= task.due else "overschreden"
            else:
                state = "overschreden" if today > task.due else "loopt"
            result["cases"][task_id] = state
            per_theme[(task.theme, "zaak", state)] += 1
    for item_id, code, deadline in items:
        linked = [t for t in seen.values() if t.council_item == item_id and t.status != "cancelled"]
        if not linked:
            continue
        if all(t.status == "done" for t in linked):
            state = "op tijd" if max(t.done_on for t in linked) <= deadline else "te laat"
        else:
            state = "niet aangeleverd" if deadline < today else "nog niet aan de orde"
        result["council"][code] = state
        for theme in {t.theme for t in linked}:
            per_theme[(theme, "raadsstuk", state)] += 1
    result["per_theme"] = per_theme
    result["escalations"] = sorted(escalations)
    result["paused_per_theme"] = dict(paused_per_theme)
    themes_of = {t_id: t.theme for t_id, t in seen.items()}
    result["escalations_per_theme"] = Counter(themes_of[t] for t, _ in escalations)
    paused = dict(pauses)
    ended = {title: when for _, title, when in crises if when is not None and when <= now}
    result["crises"] = {
        title: (
            paused.get(crisis_id, 0),
            sorted(
                (task_id, old, new, _working_days_after(old, new, calendar))
                for when, task_id, old, new in moves
                if title in ended and when == ended[title]
            ),
        )
        for crisis_id, title, _ in crises
    }
    assert sum(len(m) for _, m in result["crises"].values()) == len(moves)  # each move is one's
    hours: Counter[tuple[int, str]] = Counter()
    for task in seen.values():
        if task.status != "cancelled":
            deadline = task.deadline()
            hours[(task.responsible, f"{deadline.year}-K{(deadline.month - 1) // 3 + 1}")] += (
                task.effort
            )
    for person_id, name, per_week in people:
        for year, part in (
            (2023, 1),
            (2023, 2),
            (2023, 3),
            (2023, 4),
            (2024, 1),
            (2024, 2),
            (2024, 3),
            (2024, 4),
        ):
            first = max(date(year, 3 * part - 2, 1), programme.start)
            last = min(
                date(year + part // 4, 3 * part % 12 + 1, 1) - timedelta(days=1), programme.end
            )
            days = _working_days_after(first - timedelta(days=1), last, calendar)
            result["load"][(name, f"{year}-K{part}")] = (
                round(hours[(person_id, f"{year}-K{part}")], 1),
                round(per_week / 5 * days, 1),
            )
    realised: Counter[tuple[str, int]] = Counter()
    for code, year, amount, recorded, removed in spent:
        if recorded <= now and (removed is None or removed > now):
            realised[(code, year)] += amount
    result["budget"] = {
        (code, year): (amount, realised[(code, year)]) for code, year, amount in planned_money
    }
    result["_seen"], result["_calendar"] = seen, calendar
    return result


def figures_of(evaluation: Evaluation) -> dict[str, Any]:
    """The same figures, as the evaluation gives them."""
    keys = ("planned", "due", "done", "on_time", "late", "overdue", "paused", "cancelled")
    themes = {
        t.code: (
            {k: getattr(t.progress, k) for k in keys},
            list(t.progress.delays),
            list(t.progress.overdue_days),
        )
        for t in (*evaluation.themes, evaluation.total)
        if t.progress.planned or t.progress.cancelled
    }
    return {
        "themes": themes,
        "cases": {c.task_id: c.state for c in evaluation.cases},
        "council": {c.code: c.state for c in evaluation.council if c.state != "geen taak"},
        "escalations": sorted((e.task_id, e.at.date()) for e in evaluation.escalations),
        "escalations_per_theme": Counter(
            {t.code: t.escalations for t in evaluation.themes if t.escalations}
        ),
        "crises": {
            c.title: (
                c.tasks_paused,
                sorted((m.task_id, m.before, m.after, m.working_days) for m in c.moves),
            )
            for c in evaluation.crises
        },
        "paused_per_theme": {t.code: t.paused_tasks for t in evaluation.themes if t.paused_tasks},
        "per_theme": Counter(
            {
                (t.code, kind, state): n
                for t in evaluation.themes
                for kind, counts in (("zaak", t.cases), ("raadsstuk", t.council))
                for state, n in zip(
                    ("gehaald", "overschreden", "loopt")
                    if kind == "zaak"
                    else ("op tijd", "te laat", "niet aangeleverd", "nog niet aan de orde"),
                    (counts.met, counts.missed, counts.running)
                    if kind == "zaak"
                    else (counts.met, counts.missed, counts.failed, counts.running),
                    strict=True,
                )
                if n
            }
        ),
        "load": {(r.person, r.quarter): (r.load, r.capacity) for r in evaluation.load},
        "budget": {(b.theme_code, b.year): (b.planned, b.realised) for b in evaluation.budget},
    }


# --- the simulated period, once per backend --------------------------------------------------


def simulated_app(
    backend: str, request: pytest.FixtureRequest, work: Path, until: date, jobs_every: int = 7
) -> Iterator[App]:
    """A database of its own (a SQLite file, or the session's PostgreSQL schema, emptied
    after) with the period simulated up to `until`; its settings exported for CLI runs."""
    if backend == "sqlite":
        path = work / "veiligheid.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("pg_url")
    values = {
        "DATABASE_URL": url,
        "MAIL_DIR": str(work / "mail"),
        "RULES": str(ROOT / "rules"),
        "PROGRAMME": str(EXAMPLE),
    }
    patch = pytest.MonkeyPatch()
    for key, value in values.items():
        patch.setenv(f"VEILIGHEID_{key}", value)
    for key in ("SMTP_HOST", "SMTP_USER", "SMTP_PASSWORD"):
        patch.delenv(f"VEILIGHEID_{key}", raising=False)
    app = bootstrap(Settings())
    try:
        simulate(app, until, jobs_every)
        yield app
    finally:
        app.close()
        patch.undo()
        if backend == "postgresql":
            import_all()
            engine = create_engine(url)
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            engine.dispose()


@pytest.fixture(scope="module")
def period(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    """The example up to 31 December 2023 (tests here only read it)."""
    yield from simulated_app(backend, request, tmp_path_factory.mktemp("evaluatie"), END)


def run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args])


# --- the figures -------------------------------------------------------------------------------


@pytest.mark.parametrize("now", [AT_END, EARLIER], ids=["eind-2023", "augustus-2023"])
def test_every_figure_equals_a_count_from_the_audit_trail(period, now):
    started = time.perf_counter()
    found = evaluation(period, now=now)
    seconds = time.perf_counter() - started

    expected = {k: v for k, v in count(period, now).items() if not k.startswith("_")}
    assert figures_of(found) == expected
    print(f"evaluatie op {now:%Y-%m-%d}: {seconds:.2f} s")


def test_the_simulated_period_has_every_kind_of_figure(period):
    """The count above compares something: late work, escalations, moved deadlines, every
    state of a legal term and of a council item, bookings."""
    found = count(period, AT_END)
    figures, delays, overdue = found["themes"][""]
    assert figures["late"] >= 5 and figures["overdue"] >= 5 and figures["cancelled"] == 1
    assert len(set(delays)) >= 2 and max(overdue) > 40  # several buckets
    assert len(found["escalations"]) >= 5
    assert set(found["cases"].values()) == {"gehaald", "overschreden", "loopt"}
    assert {"op tijd", "nog niet aan de orde"} <= set(found["council"].values())
    assert [len(moves) > 0 for _, moves in found["crises"].values()] == [True, True]
    assert [paused > 0 for paused, _ in found["crises"].values()] == [True, True]
    assert sum(r for _, r in found["budget"].values()) > 0
    # The absence handed work to the backup, but that is no escalation (not about lateness).
    with period.sessions() as session:
        handed = session.scalars(
            select(AuditEntry.rule_ids).where(AuditEntry.action == "task.decision")
        ).all()
    assert any("VERANTW-AFWEZIG" in (r or []) for r in handed)


def test_a_past_now_shows_the_period_as_it_was(period):
    earlier, later = evaluation(period, now=EARLIER), evaluation(period, now=AT_END)

    assert [c.title for c in earlier.crises] == []
    assert [c.title for c in later.crises] == [c[0] for c in CRISES[:2]]
    assert [c.state for c in earlier.cases] == ["gehaald"]  # only the huisverbod was open(ed)
    assert len(later.cases) == 4
    assert earlier.total.budget_realised == 12500  # the correction and the rest came later
    assert later.total.budget_realised == sum(
        r for _, r in count(period, AT_END)["budget"].values()
    )
    assert earlier.total.budget_planned == later.total.budget_planned
    # Work done since then: more done, and the escalations then are the first ones now.
    assert earlier.total.progress.done < later.total.progress.done
    assert later.escalations[: len(earlier.escalations)] == earlier.escalations
    assert earlier.total.progress.planned == later.total.progress.planned  # one cancelled early
    assert earlier.now.date() == EARLIER.date() and earlier.today == date(2023, 8, 1)


def test_the_table_for_the_export_has_the_same_figures(period):
    found = evaluation(period, now=AT_END)
    columns, rows = evaluation_table(found)

    keys = [c.key for c in columns]
    by_code = {row[0]: dict(zip(keys, row, strict=True)) for row in rows}
    assert len(rows) == len(found.themes) + 1
    whole = by_code[None]
    p = found.total.progress
    assert (whole["planned"], whole["done"], whole["on_time"], whole["late"]) == (
        p.planned,
        p.done,
        p.on_time,
        p.late,
    )
    assert whole["late_days"] == sum(p.delays)
    assert whole["escalations"] == len(found.escalations)
    assert whole["budget_realised"] == found.total.budget_realised
    for theme in found.themes:
        assert by_code[theme.code]["overdue"] == theme.progress.overdue
        assert by_code[theme.code]["cases_met"] == theme.cases.met


# --- the report as a file ----------------------------------------------------------------------


def _pdf_text(path: Path, page: int | None = None, layout: bool = True) -> str:
    """The text of the PDF (or one page): laid out as on paper, or in reading order."""
    pages = ["-f", str(page), "-l", str(page)] if page else []
    done = subprocess.run(
        ["pdftotext", *(["-layout"] if layout else []), *pages, str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def _coloured_pixels(path: Path, page: int, colours: list[tuple[int, int, int]]) -> int:
    """Pixels of the page (rendered at 50 dpi) within a small distance of any of `colours`."""
    prefix = path.with_name(f"{path.stem}-{page}")
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "50",
            "-png",
            "-f",
            str(page),
            "-l",
            str(page),
            "-singlefile",
            str(path),
            str(prefix),
        ],
        check=True,
        timeout=60,
    )
    image = Image.open(f"{prefix}.png").convert("RGB")
    return sum(
        n
        for n, pixel in image.getcolors(1 << 24) or []
        if any(sum(abs(a - b) for a, b in zip(pixel, c, strict=True)) < 40 for c in colours)
    )


ON_TIME, LATE, OVERDUE = (0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00), (0xD5, 0x5E, 0x00)


def test_the_pdf_holds_the_figures_and_the_charts(period, tmp_path):
    target = tmp_path / "evaluatie.pdf"

    result = run("rapport", "evaluatie", "-o", target, "--now", "2023-12-31T23:00", "--by", "OOV1")

    assert result.exit_code == 0, result.output
    assert "Evaluatie geschreven" in result.stdout
    found = evaluation(period, now=AT_END)
    p, t = found.total.progress, found.total
    whole = _pdf_text(target)
    lines = [" ".join(line.split()) for line in whole.splitlines()]
    for label, value in (
        ("Geplande activiteiten (niet vervallen)", p.planned),
        ("Gereed", p.done),
        ("gereed op tijd", p.on_time),
        ("gereed na de deadline", p.late),
        ("Open en over de deadline", p.overdue),
        ("Escalaties naar de achtervang", t.escalations),
        ("Taken ooit stilgelegd door een crisis", t.paused_tasks),
    ):
        assert f"{label} {value}" in lines, label
    compact = [line.replace(" ", "") for line in lines]
    assert (
        f"Wettelijkezaken:termijngehaald/overschreden/lopend"
        f"{t.cases.met}/{t.cases.missed}/{t.cases.running}"
    ) in compact
    for theme in (*found.themes, found.total):
        q = theme.progress
        numbers = f"{q.planned} {q.due} {q.done} {q.on_time} {q.late} {q.overdue} {q.paused} "
        assert any(numbers + str(q.cancelled) in line for line in lines), theme.name
    for case in found.cases:
        assert f"(taak {case.task_id})" in whole
    for label, done, still in p.distribution():
        assert any(line.startswith(f"{label} {done} {still}") for line in lines), label
    assert f"{len(found.escalations)} keer werd een taak overgedragen" in " ".join(lines)
    realised = f"€ {t.budget_realised:,.0f}".replace(",", ".")
    assert realised in whole
    # The chart pages: the colours of the bars are there (text alone is black and grey).
    pages = int(re.search(r"Pagina 1 van (\d+)", whole).group(1))
    charts = {
        title: next(n for n in range(1, pages + 1) if title in _pdf_text(target, n))
        for title in ("2. Voortgang per thema", "3. Hoe laat", "8. Belasting en capaciteit")
    }
    assert _coloured_pixels(target, charts["2. Voortgang per thema"], [ON_TIME, LATE]) > 500
    assert _coloured_pixels(target, charts["3. Hoe laat"], [LATE, OVERDUE]) > 300
    assert _coloured_pixels(target, charts["8. Belasting en capaciteit"], [ON_TIME]) > 300
    # Page numbers and the running header.
    assert f"Pagina {pages} van {pages}" in whole
    assert "Gemeente Huizen" in _pdf_text(target, 2)


def test_the_html_is_accessible(period, tmp_path):
    target = tmp_path / "evaluatie.html"

    result = run("rapport", "evaluatie", "-o", target, "--now", "2023-08-01T12:00")

    assert result.exit_code == 0, result.output
    html = target.read_text(encoding="utf-8")
    assert '<html lang="nl">' in html
    assert html.count("<h1>") == 1 and html.count("<h2 ") >= 9
    assert html.count("<svg") == 3
    for chart in ("grafiek-voortgang", "grafiek-vertraging", "grafiek-belasting"):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in html
        assert re.search(rf'<title id="{chart}-title">[^<]+</title>', html)
    tables = html.count("<table")
    assert tables == html.count("<caption>") and tables >= 10
    assert 'scope="col"' in html and 'scope="row"' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//|url\((?!#)""", html)  # only own
    assert "stand op 1 augustus 2023 12:00" in " ".join(html.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{tmp}/evaluatie.docx"], "onbekend bestandstype ('.docx'); kies een naam op .pdf"),
        (["-o", "{tmp}/nergens/evaluatie.pdf"], "bestaat niet"),
        (["-o", "{tmp}/evaluatie.pdf", "--programme", "UPV-1999"], "programma 'UPV-1999' is"),
        (["-o", "{tmp}/evaluatie.pdf", "--by", "niemand@example.nl"], "niemand@example.nl"),
    ],
)
def test_bad_input_is_one_dutch_line_and_writes_nothing(period, tmp_path, args, message):
    result = run("rapport", "evaluatie", *(a.format(tmp=tmp_path) for a in args))

    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert os.listdir(tmp_path) == []


# --- the pure parts ----------------------------------------------------------------------------


def test_quarters_and_delay_buckets():
    assert quarters_between(date(2023, 3, 1), date(2024, 12, 31)) == (
        "2023-K1", "2023-K2", "2023-K3", "2023-K4", "2024-K1", "2024-K2", "2024-K3", "2024-K4",
    )  # fmt: skip
    assert quarter_range("2024-Q4") == (date(2024, 10, 1), date(2024, 12, 31))
    assert quarter_range("2024-K1") == (date(2024, 1, 1), date(2024, 3, 31))
    assert parse_quarter("2024-q3") == parse_quarter("2024 K3") == "2024-K3"
    with pytest.raises(DomainError):
        parse_quarter("2024-Q0")
    assert [bucket_of(d) for d in (1, 2, 5, 6, 10, 11, 20, 21, 40, 41, 400)] == [
        0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5,
    ]  # fmt: skip
    with pytest.raises(ValueError):
        bucket_of(0)


def test_a_chart_is_an_accessible_svg_with_its_figures_in_words():
    svg = delay_chart([("1", 3, 0), ("2–5", 0, 7)])

    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert '<title id="grafiek-vertraging-title">Hoe laat: verdeling in werkdagen</title>' in svg
    assert "1 werkdagen: 3 te laat gereed, 0 open en te laat" in svg
    assert "<metadata>" not in svg and "<?xml" not in svg


def test_export_evaluatie_writes_the_table_as_xlsx(period, tmp_path):
    from openpyxl import load_workbook

    target = tmp_path / "evaluatie.xlsx"

    result = run("export", "evaluatie", "-o", target, "--now", "2023-12-31T23:00")

    assert result.exit_code == 0, result.output
    columns, rows = evaluation_table(evaluation(period, now=AT_END))
    sheet = load_workbook(target).active
    read = list(sheet.iter_rows(values_only=True))
    assert read[0] == tuple(c.header for c in columns)
    assert [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows] == [
        tuple(float(v) if isinstance(v, int | float) else v for v in r) for r in read[1:]
    ]
    assert run("export", "evaluatie", "-o", tmp_path / "x.pdf").exit_code == 1
