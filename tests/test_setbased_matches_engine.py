"""The set-based crisis path (rules/setbased.py) decides exactly what the pure engine decides.

Each case is a random programme (the example with owners, backups, due dates, statutory status,
council links, theme priorities and days off shuffled; sometimes a second municipality beside
it) and a random script of crises (themes, staff, municipalities, overlapping, updated, ended),
absences (often of a task's owner and backup at once), status changes, priorities, hand-overs
and days passing. The script runs twice on the real database: as the app runs it
(plain tasks paused and resumed set-based) and with the set-based path switched off (the engine
decides every task). After every step both runs must show the same decisions, the same
explanations (`stored_explanation`, the decision's steps, the pause periods), the same changes
reported, audited and mailed.
"""

from __future__ import annotations

import copy
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, text

from tests.conftest import EXAMPLE, at
from veiligheid_flow.app import commands
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import SYSTEM
from veiligheid_flow.bootstrap import App
from veiligheid_flow.crisis.models import Crisis, TaskPause
from veiligheid_flow.db import Base
from veiligheid_flow.errors import DomainError
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.models import import_all
from veiligheid_flow.programme.models import Person
from veiligheid_flow.rules import service as rules_service
from veiligheid_flow.rules import setbased
from veiligheid_flow.tasks.models import Task, TaskStatus

# Cases per backend (each runs its script twice); more: SETBASED_CASES=200 pytest this file.
SEEDS = range(int(os.environ.get("SETBASED_CASES", "6")))
# The crisis adviser (a crisis delegate) and the coordinator serve both municipalities: they
# declare, update and end every crisis and record the absences.
DELEGATE, COORDINATOR = "p.vandijk@example.nl", "a.devries@example.nl"
Step = Callable[[App], object]


# --- random programmes -----------------------------------------------------------------------


def random_programme(rng: random.Random, doc: dict[str, Any]) -> dict[str, Any]:
    """The programme `doc` with its work shuffled (stays a valid programme)."""
    doc = copy.deepcopy(doc)
    people = [p["id"] for p in doc["people"]]
    items = [c["code"] for c in doc["council_items"]]
    start, end = doc["programme"]["start"], doc["programme"]["end"]
    span = (end - start).days
    doc["non_working_days"] = sorted(
        set(doc.get("non_working_days") or [])
        | {start + timedelta(days=rng.randrange(span)) for _ in range(rng.randint(0, 6))}
    )
    for theme in doc["themes"]:
        theme["council_priority"] = rng.random() < 0.5
        theme["kind"] = rng.choice(["district", "local", "other"])
        kept = [a for a in theme["activities"] if "case" in a or rng.random() < 0.7]
        theme["activities"] = kept
        for activity in kept:
            if rng.random() < 0.7:
                activity["owner"], activity["backup"] = rng.sample(people, 2)
            activity["effort_hours"] = rng.choice([2, 8, 16, 40, 120])
            if "case" in activity:
                continue
            activity["kind"] = rng.choice(["deliver", "deliver", "monitor"])
            if "due" in activity:
                activity["due"] = start + timedelta(days=rng.randrange(span))
            if rng.random() < 0.2:
                activity["statutory"] = "Testwet, artikel 1"
            elif rng.random() < 0.3:
                activity.pop("statutory", None)
            if rng.random() < 0.3:
                activity["council_item"] = rng.choice(items)
            elif rng.random() < 0.3:
                activity.pop("council_item", None)
    return doc


def second_municipality(rng: random.Random, doc: dict[str, Any]) -> dict[str, Any]:
    """A smaller random programme of Laren: own people (but the crisis delegate and the
    coordinator), holders and programme code."""
    doc = random_programme(rng, doc)
    doc["municipality"] = "Laren"
    doc["programme"]["code"] = "UPV-LAREN"
    for who in (*doc["people"], *doc["portfolio_holders"]):
        if who["email"] not in (DELEGATE, COORDINATOR):
            who["email"] = who["email"].replace("@example.nl", "@laren.example.nl")
    doc.pop("shared_themes", None)
    for theme in doc["themes"]:
        theme["activities"] = [a for a in theme["activities"] if rng.random() < 0.5]
    return doc


# --- random scripts --------------------------------------------------------------------------


def script(rng: random.Random, docs: list[dict[str, Any]]) -> list[tuple[datetime, str, Step]]:
    """Steps (when, what, how) of one case: random crises, absences and days passing. The
    first crisis reaches planned work and ends before another begins (so the set-based path
    has work to pause and to resume); every crisis ends before the script does."""
    codes = {d["municipality"].lower(): d for d in docs}
    now = at("2023-03-06T09:00") + timedelta(days=rng.randint(0, 420))
    open_crises: list[str] = []
    steps: list[tuple[datetime, str, Step]] = []
    first = ["declare", *rng.sample(["absence", "time"], rng.randint(1, 2)), "end"]
    for n in range(len(first) + rng.randint(3, 7)):
        now += timedelta(days=rng.choice([0, 1, 1, 2, 3, 5, 8, 13]), minutes=rng.randint(1, 90))
        kind = rng.choice(["declare", "declare", "end", "end", "update", "absence", "task", "time"])
        if n < len(first):
            kind = first[n]
        elif kind in ("end", "update") and not open_crises:
            kind = "declare"
        if kind == "declare":
            title = f"Crisis {len(steps) + 1}"
            open_crises.append(title)
            steps.append((now, title, _declare(rng, now, title, codes, first=n == 0)))
        elif kind == "end":
            title = open_crises.pop(rng.randrange(len(open_crises)))
            steps.append((now, f"einde {title}", _end(now, title)))
        elif kind == "update":
            title = rng.choice(open_crises)
            steps.append((now, f"wijzig {title}", _update(rng, now, title, codes)))
        elif kind == "absence":  # someone, or a task's duo: then nobody is there for it
            doc = rng.choice(docs)
            people = {p["id"]: p["email"] for p in doc["people"]}
            theme = rng.choice([t for t in doc["themes"] if t["activities"]])
            task = rng.choice(theme["activities"])
            duo = [people[task.get(role, theme[role])] for role in ("owner", "backup")]
            start: date = now.date() + timedelta(days=rng.randint(-2, 6))
            end = start + timedelta(days=rng.choice([0, 3, 12, 30]))
            for email in duo if rng.random() < 0.6 else [rng.choice(list(people.values()))]:
                steps.append((now, f"afwezig {email}", _absence(now, email, start, end)))
        elif kind == "task":
            steps.append((now, "taak", _task_command(rng, now)))
        else:
            steps.append((now, "tijd", lambda app, now=now: commands.refresh(app, now=now)))
    for title in open_crises:
        now += timedelta(days=rng.choice([1, 4, 9]))
        steps.append((now, f"einde {title}", _end(now, title)))
    later = now + timedelta(days=rng.choice([1, 6, 20]))
    steps.append((later, "tijd", lambda app: commands.refresh(app, now=later)))
    return steps


def _declare(
    rng: random.Random, now: datetime, title: str, codes: dict[str, Any], *, first: bool
) -> Step:
    where = rng.sample(sorted(codes), rng.randint(1, len(codes)))
    if first and "huizen" not in where:
        where.append("huizen")
    themes = sorted({t["code"] for code in where for t in codes[code]["themes"]})
    emails = sorted({p["email"] for code in where for p in codes[code]["people"]})
    chosen = rng.sample(themes, rng.choice([0, 1, 1, 2]))
    staff = rng.sample(emails, rng.choice([0, 1, 2]))
    if first:  # no staff, so all planned work of the themes (or of no themes: all of it)
        chosen, staff = chosen[: rng.choice([0, 2])], []
    grip, days = rng.randint(1, 4), rng.randint(1, 15)

    def run(app: App) -> object:
        return commands.declare_crisis(
            app,
            title,
            grip=grip,
            by=DELEGATE,
            now=now,
            themes=chosen,
            staff=staff,
            expected_days=days,
            municipalities=where,
        )

    return run


def _crisis_id(app: App, title: str) -> int:
    with app.sessions() as session:
        return session.scalars(select(Crisis.id).where(Crisis.title == title)).one()


def _end(now: datetime, title: str) -> Step:
    return lambda app: commands.end_crisis(app, _crisis_id(app, title), by=DELEGATE, now=now)


def _update(rng: random.Random, now: datetime, title: str, codes: dict[str, Any]) -> Step:
    """New themes and staff, from the crisis's own municipalities (known when it runs)."""
    seed = rng.random()

    def run(app: App) -> object:
        crisis_id = _crisis_id(app, title)
        with app.sessions() as session:
            crisis = session.get(Crisis, crisis_id)
            assert crisis is not None
            where = [codes[code] for code in sorted(crisis.municipalities)]
        themes = sorted({t["code"] for d in where for t in d["themes"]})
        emails = sorted({p["email"] for d in where for p in d["people"]})
        local = random.Random(seed)  # the same draw in both runs
        return commands.update_crisis(
            app,
            crisis_id,
            by=DELEGATE,
            now=now,
            themes=local.sample(themes, local.randint(0, 2)),
            staff=local.sample(emails, local.randint(0, 1)),
            grip=None,
        )

    return run


def _task_command(rng: random.Random, now: datetime) -> Step:
    """A status change, a priority or a hand-over, of a random open task (or refused)."""
    what, seed = rng.choice(["done", "progress", "priority", "reassign"]), rng.random()
    tier = rng.randint(1, 6)

    def run(app: App) -> object:
        with app.sessions() as session:
            open_ids = (
                session.execute(
                    select(Task.id).where(Task.status.in_(rules_service.OPEN)).order_by(Task.id)
                )
                .scalars()
                .all()
            )
            task_id = random.Random(seed).choice(open_ids)
            task = session.get(Task, task_id)
            assert task is not None
            holder = sorted(h.email for h in task.theme.holders)[0]  # of the task's theme
        try:
            if what == "priority":
                return commands.set_priority(
                    app, task_id, tier=tier, by=holder, reason="test", now=now
                )
            if what == "reassign":
                return commands.reassign(app, task_id, by=COORDINATOR, now=now, reason="test")
            status = TaskStatus.DONE if what == "done" else TaskStatus.IN_PROGRESS
            return commands.change_status(app, task_id, status, by=COORDINATOR, now=now)
        except DomainError as refused:
            return str(refused)

    return run


def _absence(now: datetime, email: str, start: date, end: date) -> Step:
    return lambda app: commands.add_absence(
        app, email, start=start, end=end, by=COORDINATOR, now=now, reason=None
    )


# --- what the two runs must agree on ----------------------------------------------------------


def state(app: App, impact: object) -> dict[str, Any]:
    """Every task's decision and explanation, by natural key; the step's reported changes."""
    book = app.rulebook()
    with app.sessions() as session:
        crises = dict(session.execute(select(Crisis.id, Crisis.title)).all())
        people = dict(session.execute(select(Person.id, Person.email)).all())
        periods = defaultdict(list)
        for p in session.scalars(select(TaskPause)):
            periods[p.task_id].append((crises[p.crisis_id], p.since, p.until, p.rule_id))
        keys, tasks = {}, {}
        for t in session.scalars(select(Task)):
            key = keys[t.id] = f"{t.programme.code}/{t.activity.code}/{t.occurrence_key}"
            explanation = rules_service.stored_explanation(session, t, book)
            tasks[key] = {
                "status": t.status,
                "tier": t.tier,
                "paused": t.paused,
                "responsible": people[t.responsible_id],
                "due_date": t.due_date,
                "flags": list(t.flags),
                "rule_ids": explanation["rule_ids"],
                "paused_by": sorted(crises[c] for c in explanation["paused_by"]),
                "steps": [
                    (s["table"], s["rule_id"], s["version"], s["reason"])
                    for s in (t.decision or {}).get("steps", [])
                ],
                "periods": sorted(periods[t.id], key=repr),
            }
        decisions = select(AuditEntry).where(AuditEntry.action == "task.decision")
        audit = sorted(
            (
                (keys[int(e.object_id)], e.at, e.before, e.after, e.reason, e.rule_ids)
                for e in session.scalars(decisions)
            ),
            key=repr,
        )
        mail = sorted(
            (m.key, m.recipient, m.subject, m.text_body)
            for m in session.scalars(select(OutboxMessage))
        )
    changes = sorted(
        (keys[c.task_id], _named(c.before, people), _named(c.after, people), c.rule_ids)
        for c in getattr(impact, "changes", [])
    )
    refused = impact if isinstance(impact, str) else None
    return {"tasks": tasks, "changes": changes, "audit": audit, "mail": mail, "refused": refused}


def _named(values: dict[str, Any], people: dict[int, str]) -> str:
    named = {k: people[v] if k == "responsible_id" else v for k, v in values.items()}
    return repr(sorted(named.items()))


def wipe(app: App) -> None:
    """Empty every table and restart the ids: the second run starts where the first did."""
    import_all()
    tables = list(reversed(Base.metadata.sorted_tables))
    with app.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        for table in tables:
            conn.execute(table.delete())
        if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
            conn.execute(text("DELETE FROM sqlite_sequence"))


def run_case(
    app: App, paths: list[Path], steps: list[tuple[datetime, str, Step]]
) -> list[dict[str, Any]]:
    for path in paths:
        commands.load(app, path, now=steps[0][0] - timedelta(hours=1), by=SYSTEM)
    return [state(app, step(app)) for _, _, step in steps]


def first_difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    for part in a:
        if a[part] != b[part]:
            if part == "tasks":
                key = next(k for k in sorted(a[part]) if a[part][k] != b[part].get(k))
                return f"task {key}:\n  set-based {a[part][key]}\n  engine    {b[part].get(key)}"
            extra = [x for x in a[part] if x not in b[part]][:2]
            missing = [x for x in b[part] if x not in a[part]][:2]
            return f"{part}: set-based only {extra}; engine only {missing}"
    return ""


@pytest.mark.parametrize("seed", SEEDS)
def test_setbased_path_matches_the_engine_on_random_programmes_and_crises(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    docs = [random_programme(rng, example)]
    if rng.random() < 0.5:
        docs.append(second_municipality(rng, example))
    paths = []
    for i, doc in enumerate(docs):
        paths.append(tmp_path / f"programma-{i}.yaml")
        paths[-1].write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False))
    steps = script(rng, docs)

    bulk: Counter[str] = Counter()  # tasks the set-based path decided itself

    def counting(name: str) -> Callable[..., setbased.Bulk]:
        real = getattr(setbased, name)

        def run(*args: Any) -> setbased.Bulk:
            done = real(*args)
            bulk[name] += len(done.changes)
            return done

        return run

    started = time.perf_counter()
    with monkeypatch.context() as patch:
        patch.setattr(setbased, "pause", counting("pause"))
        patch.setattr(setbased, "resume", counting("resume"))
        fast = run_case(app, paths, steps)
    wipe(app)
    with monkeypatch.context() as patch:
        patch.setattr(setbased, "fast_path", lambda book: False)  # the engine decides it all
        reference = run_case(app, paths, steps)
    refused = sum(1 for s in fast if s["refused"])
    print(
        f"case {seed}: {len(steps)} steps ({refused} refused), set-based {dict(bulk)}, "
        f"{len(fast[-1]['tasks'])} tasks, {time.perf_counter() - started:.1f}s"
    )

    assert bulk["pause"] > 0 and bulk["resume"] > 0, bulk  # the path under test did run
    for (when, what, _), mine, theirs in zip(steps, fast, reference, strict=True):
        assert mine == theirs, f"after '{what}' at {when}: {first_difference(mine, theirs)}"
