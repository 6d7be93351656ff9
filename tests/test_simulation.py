"""Two simulated years of the example programme, `now` stepping day by day.

The issue asks that "a simulated two years of the example programme (--now stepping day by day,
including a crisis and an absence) produces exactly the expected count of reminders per person
with no duplicate keys". Only the reminders job runs (through `jobs.run_job`, as `run`, `serve`
and the flows do); the outbox rows are counted, nothing is dispatched.

The expectation is computed here, from first principles, by a small model of the rules that
matter for reminders: a lead day is the working day n working days before the due date (on or
before it for 0); a run at R covers the lead days in (last covered slot, R]; a paused task gets
no reminder; the responsible person is the backup while the owner is absent or (for work that
goes on) on crisis duty, or once the task is five working days overdue, if the backup is
available; after the crisis a paused task's due date moves by the working days it lay still.
Only the task list itself (owner, backup, statutory, planned due date) is read from the loaded
programme.

SQLite only: one run is about 460 job runs with a full rules evaluation each; the PostgreSQL
half would double the suite's time without testing anything the other tests of `run_job` and
the outbox do not.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

import pytest
from sqlalchemy import select

from tests.conftest import EXAMPLE, at, ics_task_ids
from veiligheid_flow.app import commands
from veiligheid_flow.app.jobs import JOBS_BY_NAME, JobResult, run_job
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.programme.models import Person
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.rules.tables import load_rulebook
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

LEADS = (10, 2, 0)
LOADED = "2023-03-01T07:00"
START, END = date(2023, 3, 1), date(2024, 12, 31)
SEND = "08:05"

ABSENT, ABSENCE_FROM, ABSENCE_TO = "OOV3", date(2023, 6, 12), date(2023, 6, 23)
ABSENCE_ADDED = "2023-06-12T07:30"  # before that Monday's run
ON_DUTY = "OOV1"
DECLARED, ENDED = "2023-10-02T10:00", "2023-10-13T17:00"  # after those days' runs

# The gapped run: Mondays and Thursdays only, and three whole weeks not at all (one of them the
# second week of the crisis, so the first run after it catches up across the crisis's end).
SKIPPED_WEEKS = {(2023, 33), (2023, 41), (2024, 7)}


# --- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    id: int
    owner: str
    backup: str
    statutory: bool
    planned_due: date


@dataclass(frozen=True)
class CrisisSpec:
    declared: datetime
    ended: datetime
    staff: frozenset[str]  # emails; no themes: scope is the staff's own work


def back(cal: WorkCalendar, day: date, n: int) -> date:
    """The lead day: n working days before `day`; for 0, `day` or the working day before it."""
    while not cal.is_working_day(day):
        day -= timedelta(days=1)
    while n:
        day -= timedelta(days=1)
        n -= cal.is_working_day(day)
    return day


def forward(cal: WorkCalendar, day: date, n: int) -> date:
    while n:
        day += timedelta(days=1)
        n -= cal.is_working_day(day)
    return day


def working_days(cal: WorkCalendar, first: date, last: date) -> int:
    """Working days in the closed range [first, last]."""
    return sum(cal.is_working_day(first + timedelta(n)) for n in range((last - first).days + 1))


Expected = dict[tuple[str, date], set[int]]  # (recipient, send day) -> task ids


def model(
    tasks: list[Spec],
    cal: WorkCalendar,
    runs: list[datetime],
    *,
    absences: dict[str, tuple[date, date]],
    crisis: CrisisSpec | None,
) -> Expected:
    out: Expected = defaultdict(set)
    last: date | None = None
    leads = cache(lambda due: tuple(back(cal, due, n) for n in LEADS))
    still = (
        working_days(cal, local_date(crisis.declared), local_date(crisis.ended)) if crisis else 0
    )
    for now in runs:
        today = local_date(now)
        if not cal.is_working_day(today) or (last is not None and today <= last):
            continue  # no slot, or the slot is covered already
        since = last or today - timedelta(days=1)
        last = today
        active = crisis is not None and crisis.declared <= now < crisis.ended
        ended = crisis is not None and crisis.ended <= now
        on_duty = crisis.staff if active and crisis else frozenset()

        def absent(email: str, today: date = today) -> bool:
            span = absences.get(email)
            return span is not None and span[0] <= today <= span[1]

        def available(email: str, on_duty: frozenset[str] = on_duty) -> bool:
            return not absent(email) and email not in on_duty

        for t in tasks:
            in_scope = crisis is not None and t.owner in crisis.staff
            paused = active and in_scope and not t.statutory
            if paused:
                continue
            due = t.planned_due
            # only the work the crisis displaced: due from its start to 10 working days after
            displaced = crisis is not None and (
                local_date(crisis.declared) <= due <= forward(cal, local_date(crisis.ended), 10)
            )
            if ended and in_scope and not t.statutory and displaced:
                due = forward(cal, due, still)  # moved by the working days it lay still
            if not any(since < day <= today for day in leads(due)):
                continue
            if due < today:
                continue  # a catch-up never calls a passed deadline coming (issue 11)
            if available(t.backup) and (absent(t.owner) or t.owner in on_duty):
                who = t.backup
            else:
                who = t.owner
            out[(who, today)].add(t.id)
    return dict(out)


# --- running it --------------------------------------------------------------------------------


def specs(app: App) -> tuple[list[Spec], WorkCalendar, dict[str, str]]:
    with app.sessions() as session:
        tasks = [
            Spec(t.id, t.owner.email, t.backup.email, t.statutory, t.planned_due)
            for t in session.scalars(select(Task).order_by(Task.id))
        ]
        emails = {p.key: p.email for p in session.scalars(select(Person))}
        return tasks, municipal_calendar(session), emails


def simulate(
    app: App, run_on: Callable[[date], bool], *, events: bool, extra: tuple[str, ...] = ()
) -> tuple[dict[datetime, JobResult], float]:
    """Step day by day from START to END: the reminders job at 08:05 on the days `run_on`
    picks (and at the `extra` moments), the absence and the crisis at their moments. Returns
    each run's result by its moment, and the seconds the timeline took."""
    book = load_rulebook(app.settings.rules)
    assert tuple(book.settings.reminder_lead_working_days) == LEADS, "rules/settings.yaml"
    job = JOBS_BY_NAME["reminders"]
    timeline: list[tuple[datetime, Callable[[datetime], object]]] = []
    crisis_id: list[int] = []
    results: dict[datetime, JobResult] = {}

    def run(now: datetime) -> object:
        results[now] = run_job(app, job, now=now, book=book)
        return results[now]

    day = START
    while day <= END:
        if run_on(day):
            timeline.append((at(f"{day}T{SEND}"), run))
        day += timedelta(days=1)
    timeline += [(at(moment), run) for moment in extra]
    if events:
        timeline += [
            (
                at(ABSENCE_ADDED),
                lambda now: commands.add_absence(
                    app,
                    ABSENT,
                    start=ABSENCE_FROM,
                    end=ABSENCE_TO,
                    by="a.devries@example.nl",
                    now=now,
                    reason="ziek",
                ),
            ),
            (
                at(DECLARED),
                lambda now: crisis_id.append(
                    commands.declare_crisis(
                        app,
                        "Grote brand",
                        grip=2,
                        by="BM",
                        now=now,
                        themes=[],
                        staff=[ON_DUTY],
                        expected_days=None,
                    ).subject_id
                ),
            ),
            (at(ENDED), lambda now: commands.end_crisis(app, crisis_id[0], by="BM", now=now)),
        ]
    timeline.sort(key=lambda item: item[0])
    started = time.perf_counter()
    for now, action in timeline:
        action(now)
    return results, time.perf_counter() - started


@dataclass
class Sent:
    key: str
    recipient: str
    day: date
    tasks: set[int]


def reminders_sent(app: App) -> list[Sent]:
    with app.sessions() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "reminder").order_by(OutboxMessage.id)
        ).all()
        return [
            Sent(
                row.key,
                row.recipient,
                local_date(
                    row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
                ),
                ics_task_ids(row.ics),
            )
            for row in rows
        ]


def check_keys(sent: list[Sent], cal: WorkCalendar) -> None:
    """(a): no duplicate keys, one reminder per person per working day, keyed by that day."""
    keys = [s.key for s in sent]
    assert len(keys) == len(set(keys)), [k for k, n in Counter(keys).items() if n > 1]
    per_day = Counter((s.recipient, s.day) for s in sent)
    assert max(per_day.values(), default=1) == 1, [k for k, n in per_day.items() if n > 1]
    for s in sent:
        kind, recipient, day = s.key.split(":")
        assert (kind, recipient) == ("reminder", s.recipient), s.key
        assert date.fromisoformat(day) == s.day, s.key
        assert cal.is_working_day(s.day), s.key
        assert s.tasks, f"{s.key}: a reminder without tasks"


def compare(sent: list[Sent], expected: Expected, names: dict[str, str], seconds: float) -> None:
    actual = {(s.recipient, s.day): s.tasks for s in sent}
    per_person_actual = Counter(who for who, _ in actual)
    per_person_expected = Counter(who for who, _ in expected)
    table = "\n".join(
        f"  {names.get(who, who):6} expected {per_person_expected[who]:4}  "
        f"sent {per_person_actual[who]:4}"
        for who in sorted(set(per_person_actual) | set(per_person_expected))
    )
    diff = [
        f"  {who} {day}: expected tasks {sorted(expected.get((who, day), ()))}, "
        f"sent {sorted(actual.get((who, day), ()))}"
        for who, day in sorted(set(actual) | set(expected), key=lambda k: (k[1], k[0]))
        if actual.get((who, day)) != expected.get((who, day))
    ]
    summary = (
        f"{len(actual)} reminder emails sent, {len(expected)} expected, "
        f"{sum(map(len, actual.values()))} task lines ({seconds:.1f} s of job runs)\n"
        f"per person:\n{table}"
    )
    print(summary)
    assert not diff, summary + f"\n{len(diff)} differences:\n" + "\n".join(diff[:30])
    assert per_person_actual == per_person_expected, summary


@pytest.fixture
def sqlite_app(backend: str, request: pytest.FixtureRequest) -> Iterator[App]:
    if backend != "sqlite":
        pytest.skip(
            "runtime: two simulated years are ~460 full job runs; the SQLite run covers them "
            "(PostgreSQL runs the job and outbox in the other tests)"
        )
    yield request.getfixturevalue("app")


def load(app: App) -> tuple[list[Spec], WorkCalendar, dict[str, str]]:
    commands.load(app, EXAMPLE, now=at(LOADED), by=SYSTEM)
    tasks, cal, keys = specs(app)
    return tasks, cal, {email: key for key, email in keys.items()}


def event_specs(keys: dict[str, str]) -> tuple[dict[str, tuple[date, date]], CrisisSpec]:
    emails = {key: email for email, key in keys.items()}
    return (
        {emails[ABSENT]: (ABSENCE_FROM, ABSENCE_TO)},
        CrisisSpec(at(DECLARED), at(ENDED), frozenset({emails[ON_DUTY]})),
    )


# --- the tests -----------------------------------------------------------------------------------


def test_two_years_day_by_day_with_a_crisis_and_an_absence(sqlite_app):
    app = sqlite_app
    tasks, cal, names = load(app)
    results, seconds = simulate(app, lambda day: True, events=True)

    sent = reminders_sent(app)
    check_keys(sent, cal)
    absences, crisis = event_specs(names)
    runs = sorted(results)
    expected = model(tasks, cal, runs, absences=absences, crisis=crisis)
    assert sum(r.enqueued for r in results.values()) == len(sent)
    compare(sent, expected, names, seconds)

    # The events mattered: without them the expectation differs, in both directions.
    quiet = model(tasks, cal, runs, absences={}, crisis=None)
    assert set(quiet) - set(expected) and set(expected) - set(quiet)
    by_id = {t.id: t for t in tasks}
    absent, on_duty = next(iter(absences)), next(iter(crisis.staff))
    # During the absence the backup got OOV3's reminders; OOV3 got none.
    handed = [
        (who, day)
        for (who, day), ids in expected.items()
        if ABSENCE_FROM <= day <= ABSENCE_TO and any(by_id[i].owner == absent for i in ids)
    ]
    assert handed and all(who != absent for who, _ in handed)
    # During the crisis no planned work of the adviser on duty was reminded to anybody.
    in_crisis = [
        i
        for (_, day), ids in expected.items()
        if date(2023, 10, 3) <= day <= date(2023, 10, 13)
        for i in ids
        if by_id[i].owner == on_duty
    ]
    assert all(by_id[i].statutory for i in in_crisis)


def test_two_years_on_mondays_and_thursdays_catch_up_once(sqlite_app):
    """The same two years, but the job only runs on Mondays and Thursdays (and never in three
    whole weeks): each run covers everything since the last covered slot, once; a second run
    the same morning adds nothing."""
    app = sqlite_app
    tasks, cal, names = load(app)

    def run_on(day: date) -> bool:
        year, week, weekday = day.isocalendar()
        return weekday in (1, 4) and (year, week) not in SKIPPED_WEEKS

    again = ("2023-10-16T09:00", "2024-02-19T09:30", "2024-07-01T12:00")
    results, seconds = simulate(app, run_on, events=True, extra=again)

    sent = reminders_sent(app)
    check_keys(sent, cal)
    absences, crisis = event_specs(names)
    expected = model(tasks, cal, sorted(results), absences=absences, crisis=crisis)
    compare(sent, expected, names, seconds)
    assert sum(r.enqueued for r in results.values()) == len(sent)
    for moment in again:  # the slot was covered at 08:05: nothing new, no error
        assert (results[at(moment)].slot, results[at(moment)].enqueued) == (None, 0)
    # A catch-up run lists several lead days' tasks in one email per person.
    assert any(len(s.tasks) > 1 for s in sent if s.day.weekday() == 0)


def test_two_years_with_a_missed_day_a_missed_week_and_a_month_long_stop(sqlite_app):
    """Issue 11: daily runs, except one missed day, one missed week and a stop of a month (with
    the crisis and the absence). Every catch-up matches the independent model, which never
    calls a passed deadline coming; no reminder lists a deadline before the day it is sent."""
    app = sqlite_app
    tasks, cal, names = load(app)
    missed_day = date(2023, 5, 17)
    missed_week = {(2023, 47)}
    month = (date(2024, 4, 2), date(2024, 5, 1))

    def run_on(day: date) -> bool:
        year, week, _ = day.isocalendar()
        stopped = month[0] <= day <= month[1]
        return day != missed_day and (year, week) not in missed_week and not stopped

    results, seconds = simulate(app, run_on, events=True)

    sent = reminders_sent(app)
    check_keys(sent, cal)
    absences, crisis = event_specs(names)
    expected = model(tasks, cal, sorted(results), absences=absences, crisis=crisis)
    compare(sent, expected, names, seconds)
    due = {t.id: t.planned_due for t in tasks}
    with app.sessions() as session:
        current = {t.id: t.due_date for t in session.scalars(select(Task))}
    for s in sent:  # the due date then was the planned one or the crisis-moved one: not past
        assert all(max(due[i], current[i]) >= s.day for i in s.tasks), s
    after_stop = [s for s in sent if s.day == date(2024, 5, 2)]
    assert after_stop and any(len(s.tasks) > 1 for s in after_stop)  # a month in one email


def test_two_years_without_events_match_the_due_dates(sqlite_app):
    """(c) No crisis, no absence: the expectation is just the planned due dates. For every task
    and lead n the lead day inside the programme gets one line in the owner's email of that
    day; an owner gets one email per distinct lead day of their tasks."""
    app = sqlite_app
    tasks, cal, names = load(app)
    results, seconds = simulate(app, lambda day: True, events=False)

    expected: Expected = defaultdict(set)
    for t in tasks:
        for n in LEADS:
            day = back(cal, t.planned_due, n)
            if START <= day <= END:
                expected[(t.owner, day)].add(t.id)
    sent = reminders_sent(app)
    check_keys(sent, cal)
    compare(sent, dict(expected), names, seconds)
    assert model(tasks, cal, sorted(results), absences={}, crisis=None) == dict(expected)
