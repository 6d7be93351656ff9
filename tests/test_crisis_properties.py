"""Issue 11, "done means": a crisis hides no lateness and sets no deadline in the past.

Each case is a random programme (the helpers of tests/test_setbased_matches_engine.py, one or
two municipalities) and a random script: two crises whose periods overlap, with different
scopes (themes, staff, municipalities, or all planned work), then more crises, updates,
absences, status changes and days passing; declares and looks fall on weekends too. The
script runs on the real database (set-based path as the app runs it) and after every step,
and at a moment between steps, the test looks as a user does:

(a) no task that was late before a crisis is shown as on time while it runs: in `tasks`,
    `week` and the portfolio holders' digest preview. "Late before" is derived here, not
    read from the engine: the task was open, not paused and due before the declare moment's
    local date when the crisis was declared (a look just before the declare). Such a task
    that no crisis pauses follows the ordinary rule (SIGNAAL-TE-LAAT: a working day past its
    due date), which no crisis changes: due on Friday, it is not yet "te laat" on Saturday.
(b) no moved deadline lies in the past: every task whose due date changed has its new date
    on or after the local date of that moment, and no "nieuwe deadline" line in a crisis
    notice names a date before the day it was composed.

Three real bugs turned up and are fixed; their smallest scenarios are regression tests at
the end. Any violation fails. Cases per backend: CRISIS_PROPERTY_CASES (default 8); each
runs once for its three tests.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from tests.conftest import EXAMPLE, at
from tests.test_setbased_matches_engine import (
    DELEGATE,
    Step,
    _absence,
    _end,
    _task_command,
    _update,
    random_programme,
    second_municipality,
)
from veiligheid_flow.app import commands
from veiligheid_flow.app.queries_mail import digest_preview
from veiligheid_flow.app.queries_tasks import TaskQuery, tasks, week
from veiligheid_flow.app.views import TaskView
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import local_date
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.mail.render import dutch_date
from veiligheid_flow.programme.models import Programme, Theme
from veiligheid_flow.rules import setbased
from veiligheid_flow.tasks.models import Task
from veiligheid_flow.workdays import WorkCalendar

SEEDS = range(int(os.environ.get("CRISIS_PROPERTY_CASES", "8")))
OPEN = ("open", "in_progress")
# Digest labels that do not say "on time" (the most serious one is shown; see compose.SEVERITY)
LATE_LABELS = ("Wettelijk in gevaar", "Onbemand", "Te laat, geëscaleerd naar achtervang", "Te laat")


# --- the script ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    when: datetime
    kind: str  # declare, end, update, absence, task, time
    title: str  # the crisis (declare, end, update), else a label
    run: Step


def _later(rng: random.Random, now: datetime) -> datetime:
    now += timedelta(days=rng.choice([0, 0, 1, 1, 2, 3, 5, 8, 13]), minutes=rng.randint(1, 300))
    if rng.random() < 0.25:  # a weekend day: work due on Friday is late, not yet "overdue"
        now += timedelta(days=(5 - now.weekday()) % 7 + rng.randint(0, 1))
    return now


def _declare(
    rng: random.Random, now: datetime, title: str, codes: dict[str, Any], taken: set[tuple]
) -> Move:
    """A crisis with a scope no other crisis had: themes, staff, both, or all planned work,
    in one or both municipalities (the first: all, or themes, so it displaces work)."""
    kinds = ["all", "themes", "themes", "staff", "both"][: 3 if not taken else 5]
    while True:
        where = sorted(rng.sample(sorted(codes), rng.randint(1, len(codes))))
        themes = sorted({t["code"] for c in where for t in codes[c]["themes"]})
        emails = sorted({p["email"] for c in where for p in codes[c]["people"]})
        kind = rng.choice(kinds)
        chosen = sorted(rng.sample(themes, rng.randint(1, 3))) if kind in ("themes", "both") else []
        staff = sorted(rng.sample(emails, rng.randint(1, 2))) if kind in ("staff", "both") else []
        scope = (tuple(where), tuple(chosen), tuple(staff))
        if scope not in taken:
            break
    taken.add(scope)
    grip, days = rng.randint(1, 4), rng.randint(1, 15)

    def run(app: App) -> object:
        return commands.declare_crisis(
            app, title, grip=grip, by=DELEGATE, now=now, themes=chosen, staff=staff,
            expected_days=days, municipalities=where,
        )

    return Move(now, "declare", title, run)


def _absence_moves(rng: random.Random, now: datetime, docs: list[dict[str, Any]]) -> list[Move]:
    """Someone away, often a task's owner and backup at once (then nobody is there for it)."""
    doc = rng.choice(docs)
    people = {p["id"]: p["email"] for p in doc["people"]}
    theme = rng.choice([t for t in doc["themes"] if t["activities"]])
    task = rng.choice(theme["activities"])
    duo = [people[task.get(role, theme[role])] for role in ("owner", "backup")]
    start = now.date() + timedelta(days=rng.randint(-2, 6))
    end = start + timedelta(days=rng.choice([0, 3, 12, 30]))
    who = duo if rng.random() < 0.6 else [rng.choice(list(people.values()))]
    return [Move(now, "absence", f"afwezig {e}", _absence(now, e, start, end)) for e in who]


def crisis_script(rng: random.Random, docs: list[dict[str, Any]]) -> list[Move]:
    """Crisis 1, then (while it runs) crisis 2 with another scope, then a random mix; every
    crisis ends before the script does."""
    codes = {d["municipality"].lower(): d for d in docs}
    now = at("2023-05-01T08:30") + timedelta(days=rng.randint(0, 330), minutes=rng.randint(0, 600))
    moves: list[Move] = []
    running: list[str] = []
    taken: set[tuple] = set()
    filler = ["absence", "task", "time", "update"]
    plan = ["declare", *rng.sample(filler, rng.randint(0, 2)), "declare"]
    plan += rng.sample(filler, rng.randint(0, 2))
    for n in range(len(plan) + rng.randint(3, 8)):
        kind = plan[n] if n < len(plan) else rng.choice(
            ["declare", "end", "end", "update", "absence", "absence", "task", "time"]
        )
        if kind in ("end", "update") and not running:
            kind = "declare"
        if kind == "declare" and len(running) >= 3:
            kind = "end"
        if n:
            now = _later(rng, now)
        if kind == "declare":
            title = f"Crisis {sum(m.kind == 'declare' for m in moves) + 1}"
            running.append(title)
            moves.append(_declare(rng, now, title, codes, taken))
        elif kind == "end":
            title = running.pop(rng.randrange(len(running)))
            moves.append(Move(now, "end", title, _end(now, title)))
        elif kind == "update":
            title = rng.choice(running)
            moves.append(Move(now, "update", title, _update(rng, now, title, codes)))
        elif kind == "absence":
            moves += _absence_moves(rng, now, docs)
        elif kind == "task":
            moves.append(Move(now, "task", "taak", _task_command(rng, now)))
        else:
            moves.append(Move(now, "time", "tijd", _refresh(now)))
    for title in running:
        now = _later(rng, now)
        moves.append(Move(now, "end", title, _end(now, title)))
    now = _later(rng, now) + timedelta(days=1)
    moves.append(Move(now, "time", "tijd", _refresh(now)))
    return moves


def _refresh(now: datetime) -> Step:
    return lambda app: commands.refresh(app, now=now, by=SYSTEM)


# --- looking as a user does ------------------------------------------------------------------


@dataclass
class Look:
    when: datetime
    all: dict[int, TaskView]  # every task (include_closed)
    listed: dict[int, TaskView]  # `veiligheid tasks`: open work
    week: dict[int, TaskView]  # `veiligheid week`

    def open(self, task_id: int) -> bool:
        return self.all[task_id].status in OPEN


def look(app: App, when: datetime) -> Look:
    everything = tasks(app, now=when, filters=TaskQuery(include_closed=True))
    return Look(
        when,
        {t.id: t for t in everything},
        {t.id: t for t in tasks(app, now=when)},
        {t.id: t for t in week(app, now=when).tasks},
    )


_EXCEPTION = re.compile(r"^- \[(?P<label>[^\]]+)\] (?P<rest>.*)$")
_PROGRESS = re.compile(r"^- (?P<name>.+): (\d+) gereed, (\d+) open, (?P<late>\d+) te laat \(")


def digest_of(app: App, when: datetime, holder: str) -> tuple[list[tuple[str, str, str]], dict]:
    """The holder's digest preview: its exception lines (label, title, detail) and the
    number late per theme name."""
    text = digest_preview(app, now=when, holder=holder).text
    exceptions, late = [], {}
    for line in text.splitlines():
        if m := _PROGRESS.match(line):
            late[m["name"]] = int(m["late"])
        elif (m := _EXCEPTION.match(line)) and " — " in m["rest"]:
            title, detail = m["rest"].rsplit(" — ", 1)
            exceptions.append((m["label"], title, detail))
    return exceptions, late


def _names_task(detail: str, task_id: int) -> bool:
    """Whether an exception line's detail names the task: 'taak 12, …' or 'n keer (taken
    3, 5, 9, …), …' (the first five by id, so a higher id may hide behind the '…')."""
    if m := re.match(r"taak (\d+),", detail):
        return int(m[1]) == task_id
    if m := re.match(r"\d+ keer \(taken ([\d, ]+?)(, …)?\)", detail):
        ids = [int(i) for i in m[1].split(", ")]
        return task_id in ids or (m[2] is not None and task_id > max(ids))
    return False


DATES = {
    dutch_date(date(2022, 1, 1) + timedelta(days=n)): date(2022, 1, 1) + timedelta(days=n)
    for n in range(6 * 366)
}
_DATE = re.compile(r"\S+ \d{1,2} \S+ \d{4}")


def new_deadlines(body: str) -> list[tuple[str, list[date]]]:
    """The 'nieuwe deadline(s)' lines of a crisis notice with the dates they name."""
    found = []
    for line in body.splitlines():
        if "nieuwe deadline" in line:
            after = line.split("nieuwe deadline", 1)[1]
            found.append((line, [DATES[d] for d in _DATE.findall(after) if d in DATES]))
    return found


# --- the properties --------------------------------------------------------------------------

# Three bugs this property found, fixed since (their smallest scenarios are the regression
# tests at the end): the digest counted paused late work as open (mail/compose.py
# _digest_data); an update that widened a running crisis to work already due hid its lateness
# (rules/facts.py task.late_before_crisis now compares with the day the pause began); and the
# set-based path paused work due on Friday on a Saturday without its signal (setbased._plain
# now takes only work not yet due). Every violation fails.


@dataclass
class Case:
    """What one run saw: the violations per property, the known bugs, how much was checked."""

    seed: int
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    known: Counter[str] = field(default_factory=Counter)
    seen: Counter[str] = field(default_factory=Counter)


@dataclass
class Inputs:
    """What the test knows from its own input: per task its programme and theme; per
    programme its document and working days."""

    docs: dict[str, dict[str, Any]]  # programme code → document
    task_of: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (programme, theme)
    calendars: dict[str, WorkCalendar] = field(default_factory=dict)

    def read(self, app: App) -> None:
        with app.sessions() as session:
            themes = dict(session.execute(select(Theme.id, Theme.code)).all())
            rows = session.execute(
                select(Task.id, Programme.code, Task.theme_id).join(
                    Programme, Programme.id == Task.programme_id
                )
            ).all()
        self.task_of = {i: (code, themes[theme]) for i, code, theme in rows}
        self.calendars = {
            code: WorkCalendar(doc.get("non_working_days") or []) for code, doc in self.docs.items()
        }

    def theme(self, task_id: int) -> tuple[str, list[str]]:
        """The task's theme name and its holders' emails."""
        programme, code = self.task_of[task_id]
        doc = self.docs[programme]
        emails = {h["id"]: h["email"] for h in doc["portfolio_holders"]}
        theme = next(t for t in doc["themes"] if t["code"] == code)
        return theme["name"], [emails[h] for h in theme.get("holders", [])]

    def overdue_days(self, task_id: int, due: date, today: date) -> int:
        return self.calendars[self.task_of[task_id][0]].working_days_between(due, today)


@dataclass
class Pauses:
    """When each running crisis began (local date), and for each paused task the move that
    began its pause: (kind, crisis title)."""

    declared: dict[str, date] = field(default_factory=dict)
    began: dict[int, tuple[str, str]] = field(default_factory=dict)

    def note(self, before: Look, after: Look, move: Move | None) -> None:
        for task_id, view in after.all.items():
            if not view.paused:
                self.began.pop(task_id, None)
            elif task_id not in self.began or not getattr(before.all.get(task_id), "paused", 0):
                self.began[task_id] = (move.kind, move.title) if move else ("look", "")


def why_not_late(inputs: Inputs, view: TaskView, today: date, pauses: Pauses) -> str | None:
    """Why a task late before a running crisis may be shown without 'te laat': "running"
    (not paused, and no working day past its due date yet: the ordinary rule SIGNAAL-TE-LAAT,
    which no crisis changes), or None: it may not."""
    fresh = inputs.overdue_days(view.id, view.due_date, today) <= 0
    if not view.paused:
        return "running" if fresh else None
    return None


def check_lateness(
    app: App,
    case: Case,
    inputs: Inputs,
    seen: Look,
    late: dict[str, dict[int, date]],
    pauses: Pauses,
) -> None:
    """(a): every task late before a running crisis, still open, is shown as late."""
    where, today = f"at {seen.when:%a %Y-%m-%d %H:%M}", local_date(seen.when)
    per_holder: dict[str, dict[int, str | None]] = defaultdict(dict)
    for title, before in late.items():
        for task_id, due in sorted(before.items()):
            if not seen.open(task_id):
                continue
            view = seen.all[task_id]
            case.seen["late task looked at"] += 1
            case.seen["late task looked at while paused"] += view.paused
            about = (
                f"{where}: task {task_id} ({view.title}) due {due} before {title} began, now "
                f"due {view.due_date}, paused={view.paused} ({pauses.began.get(task_id)}), "
                f"flags={list(view.flags)}"
            )
            excuse = why_not_late(inputs, view, today, pauses)
            for prop, shown in (("tasks", seen.listed), ("week", seen.week)):
                if task_id not in shown:
                    case.problems[prop].append(f"{about}; not listed")
                elif "overdue" not in shown[task_id].flags:
                    _violation(case, prop, about, excuse)
            for holder in inputs.theme(task_id)[1]:
                per_holder[holder][task_id] = excuse
    holders = sorted(per_holder)  # (a digest read is slow: two of them per look)
    for holder in random.Random(f"{case.seed}:{seen.when}").sample(holders, min(2, len(holders))):
        check_digest(app, case, inputs, seen, holder, per_holder[holder])


def _violation(case: Case, prop: str, about: str, excuse: str | None) -> None:
    if excuse is None:
        case.problems[prop].append(about)
    else:
        case.known[excuse] += 1


def check_digest(
    app: App, case: Case, inputs: Inputs, seen: Look, holder: str, found: dict[int, str | None]
) -> None:
    """(a) in the holder's digest preview: each such task under a label that says it is
    late (or worse), and counted late in its theme's progress line."""
    where = f"at {seen.when:%a %Y-%m-%d %H:%M}"
    exceptions, late_per_theme = digest_of(app, seen.when, holder)
    case.seen["digest looked at"] += 1
    expected: dict[str, list[int]] = defaultdict(list)
    for task_id, excuse in found.items():
        expected[inputs.theme(task_id)[0]].append(task_id)
        view = seen.all[task_id]
        if not any(
            label in LATE_LABELS and title == view.title and _names_task(detail, task_id)
            for label, title, detail in exceptions
        ):
            about = f"{where}: task {task_id} ({view.title}) not late in {holder}'s digest"
            _violation(case, "digest attention", f"{about}, flags={list(view.flags)}", excuse)
    for name, ids in expected.items():
        shown = late_per_theme.get(name, -1)
        paused = sum(seen.all[i].paused for i in ids)
        if shown < len(ids):
            about = (
                f"{where}: {holder}'s digest counts {shown} late on '{name}', but tasks {ids} "
                f"({paused} paused) were late before a running crisis"
            )
            _violation(case, "digest progress", about, None)


def check_deadlines(case: Case, before: Look, after: Look) -> None:
    """(b): a due date that moved lies on or after the local date of the moment it moved."""
    today = local_date(after.when)
    for task_id, view in after.all.items():
        old = before.all.get(task_id)
        if old is None or view.status not in OPEN:
            continue
        case.seen["resumed"] += old.paused and not view.paused
        if old.due_date == view.due_date:
            continue
        case.seen["deadline moved"] += 1
        if view.due_date < today:
            case.problems["moved deadline"].append(
                f"at {after.when:%a %Y-%m-%d %H:%M}: task {task_id} ({view.title}) moved from "
                f"{old.due_date} to {view.due_date}, before today {today} "
                f"(paused={view.paused}, planned {view.planned_due})"
            )


def check_outbox(app: App, case: Case, done: set[int]) -> None:
    """(b): no crisis notice announces a new deadline before the day it was composed."""
    with app.sessions() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "crisis", OutboxMessage.id.not_in(done or {0}))
            .order_by(OutboxMessage.id)
        ).all()
        for row in rows:
            done.add(row.id)
            composed = local_date(row.created_at)
            for line, days in new_deadlines(row.text_body):
                case.seen["new deadline announced"] += 1
                if not days or min(days) < composed:
                    case.problems["announced deadline"].append(
                        f"{row.recipient}, composed {composed}: {line.strip()!r}"
                    )


def run_case(app: App, tmp_path: Path, seed: int) -> Case:
    started = time.perf_counter()
    rng = random.Random(seed)
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    docs = [random_programme(rng, example)]
    if rng.random() < 0.5:
        docs.append(second_municipality(rng, example))
    moves = crisis_script(rng, docs)
    inputs = Inputs({d["programme"]["code"]: d for d in docs})
    for i, doc in enumerate(docs):
        path = tmp_path / f"programma-{i}.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
        commands.load(app, path, now=moves[0].when - timedelta(hours=1), by=SYSTEM)
    inputs.read(app)
    case, mailed, pauses = Case(seed), set[int](), Pauses()
    late: dict[str, dict[int, date]] = {}  # running crisis → task id → due when it began
    previous = look(app, moves[0].when)
    for n, move in enumerate(moves):
        if move.kind == "declare":  # a look just before: what is late when it begins
            ahead = look(app, move.when)
            check_deadlines(case, previous, ahead)
            pauses.note(previous, ahead, None)
            today = pauses.declared[move.title] = local_date(move.when)
            late[move.title] = {
                i: v.due_date
                for i, v in ahead.all.items()
                if v.status in OPEN and not v.paused and v.due_date < today
            }
            case.seen["late before a crisis"] += len(late[move.title])
            previous = ahead
        move.run(app)
        if move.kind == "end":
            late.pop(move.title)
        after = look(app, move.when)
        check_deadlines(case, previous, after)
        pauses.note(previous, after, move)
        check_lateness(app, case, inputs, after, late, pauses)
        check_outbox(app, case, mailed)
        previous = after
        following = moves[n + 1].when if n + 1 < len(moves) else move.when
        if following - move.when > timedelta(hours=2):  # and a look between two steps
            share = random.Random(seed * 1000 + n).random()
            middle = look(app, move.when + (following - move.when) * share)
            check_deadlines(case, previous, middle)
            pauses.note(previous, middle, None)
            check_lateness(app, case, inputs, middle, late, pauses)
            previous = middle
    print(
        f"case {seed}: {len(moves)} steps, {dict(case.seen)}, known bugs "
        f"{[(bug.split(':')[0], n) for bug, n in case.known.items()]}, "
        f"{time.perf_counter() - started:.1f}s"
    )
    return case


_RUNS: dict[tuple[str, int], Case] = {}  # each case runs once for its three tests


@pytest.fixture
def case(app: App, tmp_path: Path, backend: str, seed: int) -> Case:
    if (backend, seed) not in _RUNS:
        _RUNS[backend, seed] = run_case(app, tmp_path, seed)
    return _RUNS[backend, seed]


def _holds(case: Case, *props: str) -> None:
    broken = {p: case.problems[p] for p in props if case.problems.get(p)}
    assert not broken, f"seed {case.seed}: " + "\n".join(
        f"{p} ({len(v)}×): {v[0]}" for p, v in broken.items()
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_work_late_before_a_crisis_stays_late_in_tasks_and_week(case: Case) -> None:
    assert case.seen["late task looked at while paused"] > 0  # there was lateness to hide
    _holds(case, "tasks", "week")


@pytest.mark.parametrize("seed", SEEDS)
def test_work_late_before_a_crisis_stays_late_in_the_digest(case: Case) -> None:
    assert case.seen["digest looked at"] > 0
    _holds(case, "digest attention", "digest progress")


@pytest.mark.parametrize("seed", SEEDS)
def test_no_resumed_task_gets_a_deadline_in_the_past(case: Case) -> None:
    assert case.seen["resumed"] > 0  # (not every crisis displaces work: some move nothing)
    _holds(case, "moved deadline", "announced deadline")


# --- the bugs found, each as its smallest scenario (regression tests) -------------------------

WIJKEN = "VEERKRACHTIGE_WIJKEN"


def _theme_of_example(code: str) -> tuple[str, str]:
    """A theme of the example programme: its name and its first holder's email."""
    doc = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    theme = next(t for t in doc["themes"] if t["code"] == code)
    emails = {h["id"]: h["email"] for h in doc["portfolio_holders"]}
    return theme["name"], emails[theme["holders"][0]]


def _of_theme(app: App, when: datetime) -> dict[int, TaskView]:
    return {t.id: t for t in tasks(app, now=when) if t.theme == WIJKEN and not t.statutory}


def test_bug_the_digest_counts_paused_late_work_as_open(app: App) -> None:
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    before = _of_theme(app, at("2023-10-02T10:00")).values()
    late = [t.id for t in before if t.due_date < date(2023, 10, 2)]
    if not late:
        pytest.fail("the scenario needs work late before the crisis")
    commands.declare_crisis(
        app, "Grote brand", grip=2, by="BM", now=at("2023-10-02T10:00"), themes=[WIJKEN],
        staff=[], expected_days=15,
    )
    name, holder = _theme_of_example(WIJKEN)
    _, late_per_theme = digest_of(app, at("2023-10-04T09:00"), holder)
    assert late_per_theme[name] >= len(late), f"{late_per_theme[name]} te laat, {late} were"


def test_bug_an_update_that_reaches_late_work_hides_its_lateness(app: App) -> None:
    """Crisis A (another theme) runs while a task falls due; crisis B begins with the task
    late; then A's scope widens to the task's theme: paused, and no longer 'te laat'."""
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-29T09:00"))
    a = commands.declare_crisis(
        app, "A", grip=1, by="BM", now=at("2023-10-02T10:00"), themes=["ONDERMIJNING"],
        staff=[], expected_days=10,
    )
    before_b = _of_theme(app, at("2023-10-12T10:00"))
    fell_due = [
        t.id for t in before_b.values()
        if date(2023, 10, 3) <= t.due_date < date(2023, 10, 12) and "overdue" in t.flags
    ]
    if not fell_due:
        pytest.fail("the scenario needs work falling due during A, late before B")
    commands.declare_crisis(
        app, "B", grip=1, by="BM", now=at("2023-10-12T10:00"), themes=["DIGITALE_VEILIGHEID"],
        staff=[], expected_days=10,
    )
    commands.update_crisis(
        app, a.subject_id, by="BM", now=at("2023-10-13T10:00"),
        themes=["ONDERMIJNING", WIJKEN], staff=None, grip=None,
    )
    during_b = _of_theme(app, at("2023-10-13T10:05"))
    if not all(during_b[i].paused for i in fell_due):
        pytest.fail("the update should pause the work")
    assert all("overdue" in during_b[i].flags for i in fell_due), [during_b[i] for i in fell_due]


@pytest.mark.parametrize(
    "path",
    [
        "engine",
        "set-based",  # seed 35
    ],
)
def test_bug_work_due_friday_paused_on_saturday_loses_its_lateness(
    app: App, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """Due on Friday, not yet a working day overdue on Saturday, when a crisis pauses it: the
    engine flags it late before the crisis, the set-based path (which takes it as plain)
    does not."""
    if path == "engine":
        monkeypatch.setattr(setbased, "fast_path", lambda book: False)
    commands.load(app, EXAMPLE, by=SYSTEM, now=at("2023-09-01T09:00"))
    saturday = at("2023-09-30T12:00")
    friday = [i for i, t in _of_theme(app, saturday).items() if t.due_date == date(2023, 9, 29)]
    if not friday or any(_of_theme(app, saturday)[i].flags for i in friday):
        pytest.fail("the scenario needs plain work due on Friday 29 September")
    commands.declare_crisis(
        app, "Brand", grip=2, by="BM", now=saturday, themes=[WIJKEN], staff=[], expected_days=5
    )
    paused = _of_theme(app, saturday + timedelta(minutes=5))
    if not all(paused[i].paused for i in friday):
        pytest.fail("the crisis should pause the work")
    assert all("overdue" in paused[i].flags for i in friday), [paused[i] for i in friday]
