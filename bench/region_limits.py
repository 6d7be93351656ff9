"""The limits of bench/region.py: for each operation the plainest hand-written SQL that computes
the same result, run in the same process on the same data, and the readers that pull our own
result back out of the database so the two can be compared.

Plain means: SQLAlchemy Core or text() statements, no ORM, no rules engine, no templates.
Dates that depend on the working-day calendar (lead days, overdue repeats, the shift after a
crisis) are precomputed in Python with the same calendar (public holidays plus the region's
days off) and passed in as lists; the thresholds come from the rule files in rules/.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from dateutil.rrule import rrulestr
from sqlalchemy import Connection, bindparam, delete, insert, select, text

from veiligheid_flow.clock import local_date
from veiligheid_flow.workdays import WorkCalendar

OPEN = ("open", "in_progress")
# The first-run rule as the README and jobs.py state it: the first run of the overdue job (or the
# first after a stop of more than a working week) sends each person one summary of their late
# work and of what is due within two working weeks, instead of overdue notices and escalations.
FRESH_AFTER_WORKING_DAYS = 5
SUMMARY_AHEAD_WORKING_DAYS = 10


# --- the rules as numbers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    reminder_leads: tuple[int, ...]
    council_leads: tuple[int, ...]
    overdue_every: int
    escalate_after: int  # working days overdue before the backup takes over
    council_tier_within: int  # working days to the council deadline for tier 2
    displaced_within: int  # a crisis moves work due from its first day to this long after it


def _compare_value(node: Any, fact: str) -> Any:
    """The value compared with `fact` somewhere in a rule's condition."""
    if isinstance(node, dict):
        if node.get("fact") == fact:
            return next(v for k, v in node.items() if k != "fact")
        for value in node.values():
            found = _compare_value(value, fact)
            if found is not None:
                return found
    if isinstance(node, list):
        for value in node:
            found = _compare_value(value, fact)
            if found is not None:
                return found
    return None


def thresholds(rules: Path) -> Thresholds:
    settings = yaml.safe_load((rules / "settings.yaml").read_text(encoding="utf-8"))
    responsibility = yaml.safe_load((rules / "responsibility.yaml").read_text(encoding="utf-8"))
    priority = yaml.safe_load((rules / "priority.yaml").read_text(encoding="utf-8"))
    escalation = next(r for r in responsibility["rules"] if r["id"] == "VERANTW-ESCALATIE")
    council = next(r for r in priority["rules"] if r["id"] == "PRIO-TERMIJNAGENDA")
    return Thresholds(
        tuple(settings["reminder_lead_working_days"]),
        tuple(settings["council_alert_lead_working_days"]),
        settings["overdue_repeat_every_working_days"],
        _compare_value(escalation["when"], "task.overdue_working_days"),
        _compare_value(council["when"], "council_item.working_days_to_deadline"),
        settings["crisis_shift"]["displaced_within_working_days"],
    )


def lead_day(cal: WorkCalendar, deadline: date, n: int) -> date:
    return cal.on_or_before(cal.add_working_days(deadline, -n))


def days_with_lead_in(
    cal: WorkCalendar, since: date, today: date, leads: tuple[int, ...]
) -> dict[date, list[int]]:
    """Deadlines whose lead day (n working days before) fell in (since, today], with the n's."""
    found: dict[date, list[int]] = defaultdict(list)
    day = since - timedelta(days=7)
    last = today + timedelta(days=3 * max(leads, default=0) + 14)
    while day <= last:
        for n in leads:
            if since < lead_day(cal, day, n) <= today:
                found[day].append(n)
        day += timedelta(days=1)
    return found


def escalation_day(cal: WorkCalendar, today: date, after: int) -> date:
    """The latest due date that is at least `after` working days late on `today`."""
    day = today
    while cal.working_days_between(day, today) < after:
        day -= timedelta(days=1)
    return day


# --- loading a programme -----------------------------------------------------------------------


def _nominal_dates(repeat: dict[str, Any], start: date, end: date) -> list[date]:
    if "rrule" in repeat:
        rule = rrulestr(repeat["rrule"], dtstart=datetime.combine(start, datetime.min.time()))
        stop = datetime.combine(end, datetime.max.time())
        return sorted({m.date() for m in rule.between(rule._dtstart, stop, inc=True)})
    if repeat.get("every") == "month":
        out = []
        for year in range(start.year, end.year + 1):
            for month in range(1, 13):
                last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
                day = date(year, month, min(repeat.get("day") or last, last))
                if start <= day <= end:
                    out.append(day)
        return out
    raise ValueError(f"schedule not handled by the plain loader: {repeat}")


def expand(doc: dict[str, Any], cal: WorkCalendar) -> list[tuple[str, str, date]]:
    """(activity code, occurrence key, planned due) of every task occurrence in a file."""
    start, end = doc["programme"]["start"], doc["programme"]["end"]
    out = []
    for theme in doc["themes"]:
        for act in theme["activities"]:
            if "due" in act:
                nominals = [act["due"]]
            elif "repeat" in act:
                nominals = _nominal_dates(act["repeat"], start, end)
            else:
                nominals = []
            out += [(act["code"], d.isoformat(), cal.on_or_before(d)) for d in nominals]
    return out


def read_yaml(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def plain_load(
    conn: Connection,
    tables: dict[str, Any],
    path: Path,
    *,
    now: datetime,
    cal: WorkCalendar,
    limits: Thresholds,
    code_of: Any,
) -> list[tuple[str, str, date, int]]:
    """Insert the programme's rows with executemany (no audit, no engine): the tier is the
    rule tables' first match, written in Python. Returns (activity, occurrence, due, tier)."""
    doc = read_yaml(path)
    spec = doc["programme"]
    t = tables
    today = local_date(now)
    prog_id = conn.execute(
        insert(t["programme"]).returning(t["programme"].c.id),
        {
            "code": spec["code"],
            "name": spec["name"],
            "municipality": doc["municipality"],
            "municipality_code": code_of(doc["municipality"]),
            "plan_name": doc["plan"]["name"],
            "plan_adopted_on": doc["plan"].get("adopted_on"),
            "start": spec["start"],
            "end": spec["end"],
            "non_working_days": [d.isoformat() for d in doc.get("non_working_days", [])],
            "submission_working_days": doc.get("defaults", {}).get("submission_working_days", 10),
            "source_file": str(path),
            "digest": hashlib.sha256(path.read_bytes()).hexdigest(),
            "loaded_at": now,
        },
    ).scalar_one()

    def ids(table: str, key: str) -> dict[str, int]:
        c = t[table].c
        rows = conn.execute(select(c[key], c.id).where(c.programme_id == prog_id))
        return {k: v for k, v in rows}

    conn.execute(
        insert(t["person"]),
        [
            {
                "programme_id": prog_id,
                "key": p["id"],
                "name": p["name"],
                "email": p["email"].lower(),
                "role": p["role"],
                "hours_per_week": p["hours_per_week"],
            }
            for p in doc["people"]
        ],
    )
    conn.execute(
        insert(t["portfolio_holder"]),
        [
            {
                "programme_id": prog_id,
                "key": h["id"],
                "name": h["name"],
                "title": h["title"],
                "email": h["email"].lower(),
                "portfolio": h.get("portfolio"),
            }
            for h in doc["portfolio_holders"]
        ],
    )
    people, holders = ids("person", "key"), ids("portfolio_holder", "key")
    conn.execute(
        insert(t["council_meeting"]),
        [
            {"programme_id": prog_id, "body": m["body"], "date": m["date"]}
            for m in doc["council_meetings"]
        ],
    )
    conn.execute(
        insert(t["council_item"]),
        [
            {
                "programme_id": prog_id,
                "code": c["code"],
                "subject": c["subject"],
                "type": c["type"],
                "holder_id": holders[c["holder"]],
                "committee": c["committee"],
                "committee_date": c["committee_date"],
                "council_date": c.get("council_date"),
                "submission_deadline": c["submission_deadline"],
                "active": True,
            }
            for c in doc["council_items"]
        ],
    )
    items = ids("council_item", "code")
    deadlines = {c["code"]: c["submission_deadline"] for c in doc["council_items"]}
    conn.execute(
        insert(t["theme"]),
        [
            {
                "programme_id": prog_id,
                "code": th["code"],
                "name": th["name"],
                "kind": th["kind"],
                "council_priority": th["council_priority"],
                "owner_id": people[th["owner"]],
                "backup_id": people[th["backup"]],
                "partners": th.get("partners", []),
                "active": True,
            }
            for th in doc["themes"]
        ],
    )
    themes = ids("theme", "code")
    conn.execute(
        insert(t["theme_holder"]),
        [
            {"theme_id": themes[th["code"]], "holder_id": holders[h]}
            for th in doc["themes"]
            for h in th["holders"]
        ],
    )
    conn.execute(
        insert(t["budget_line"]),
        [
            {"theme_id": themes[th["code"]], **b}
            for th in doc["themes"]
            for b in th.get("budget", [])
        ],
    )
    acts = []
    for th in doc["themes"]:
        for a in th["activities"]:
            schedule = {k: a[k] for k in ("due", "repeat", "case") if k in a}
            acts.append(
                {
                    "programme_id": prog_id,
                    "theme_id": themes[th["code"]],
                    "code": a["code"],
                    "title": a["title"],
                    "kind": a.get("kind", "deliver"),
                    "owner_id": people[a.get("owner") or th["owner"]],
                    "backup_id": people[a.get("backup") or th["backup"]],
                    "legal_basis": a.get("statutory"),
                    "schedule": schedule,
                    "case_type": a.get("case"),
                    "effort_hours": a["effort_hours"],
                    "partners": a.get("partners", []),
                    "council_item_id": items.get(a.get("council_item")),
                    "active": True,
                }
            )
    conn.execute(insert(t["activity"]), acts)
    activities = ids("activity", "code")
    by_code = {a["code"]: (a, th) for th in doc["themes"] for a in th["activities"]}
    rows, result = [], []
    for code, key, due in expand(doc, cal):
        a, th = by_code[code]
        owner = people[a.get("owner") or th["owner"]]
        item = a.get("council_item")
        if a.get("statutory"):
            tier = 1
        elif (
            item and cal.working_days_between(today, deadlines[item]) <= limits.council_tier_within
        ):
            tier = 2
        else:
            tier = 3 if th["council_priority"] else 4
        rows.append(
            {
                "programme_id": prog_id,
                "activity_id": activities[code],
                "theme_id": themes[th["code"]],
                "occurrence_key": key,
                "title": a["title"],
                "statutory": bool(a.get("statutory")),
                "legal_basis": a.get("statutory"),
                "owner_id": owner,
                "backup_id": people[a.get("backup") or th["backup"]],
                "planned_due": due,
                "effort_hours": a["effort_hours"],
                "council_item_id": items.get(item),
                "status": "open",
                "handed_over": False,
                "due_date": due,
                "tier": tier,
                "paused": False,
                "responsible_id": owner,
                "flags": [],
                "decision": {},
            }
        )
        result.append((code, key, due, tier))
    conn.execute(insert(t["task"]), rows)
    return result


def remove_programme(conn: Connection, tables: dict[str, Any], code: str) -> None:
    """Undo plain_load (not timed)."""
    t = tables
    prog = conn.execute(select(t["programme"].c.id).where(t["programme"].c.code == code)).scalar()
    if prog is None:
        return
    themes = select(t["theme"].c.id).where(t["theme"].c.programme_id == prog)
    conn.execute(delete(t["task"]).where(t["task"].c.programme_id == prog))
    conn.execute(delete(t["activity"]).where(t["activity"].c.programme_id == prog))
    conn.execute(delete(t["budget_line"]).where(t["budget_line"].c.theme_id.in_(themes)))
    conn.execute(delete(t["theme_holder"]).where(t["theme_holder"].c.theme_id.in_(themes)))
    conn.execute(delete(t["theme"]).where(t["theme"].c.programme_id == prog))
    for table in ("council_item", "council_meeting", "portfolio_holder", "person"):
        conn.execute(delete(t[table]).where(t[table].c.programme_id == prog))
    conn.execute(delete(t["programme"]).where(t["programme"].c.id == prog))


def stored_tasks(conn: Connection, code: str) -> list[tuple[str, str, date, int]]:
    """Our load's result: (activity, occurrence, due, tier) of a programme's tasks."""
    rows = conn.execute(
        text(
            "SELECT a.code, t.occurrence_key, t.planned_due, t.tier FROM task t "
            "JOIN activity a ON a.id = t.activity_id JOIN programme p ON p.id = t.programme_id "
            "WHERE p.code = :code"
        ),
        {"code": code},
    )
    return [(a, k, _as_date(d), tier) for a, k, d, tier in rows]


def plain_reload(conn: Connection, path: Path, cal: WorkCalendar) -> int:
    """Re-read the file and compare it with what is stored: the number of differences (no
    writes when there are none). Compares the tasks, activities and people."""
    doc = read_yaml(path)
    code = doc["programme"]["code"]
    wanted_tasks = {(a, k, d) for a, k, d in expand(doc, cal)}
    stored = {
        (a, k, _as_date(d))
        for a, k, d in conn.execute(
            text(
                "SELECT a.code, t.occurrence_key, t.planned_due FROM task t "
                "JOIN activity a ON a.id = t.activity_id "
                "JOIN programme p ON p.id = t.programme_id "
                "WHERE p.code = :code AND t.occurrence_key NOT LIKE 'case:%'"
            ),
            {"code": code},
        )
    }
    wanted_acts = {
        (a["code"], a["title"], a.get("kind", "deliver"), float(a["effort_hours"]))
        for th in doc["themes"]
        for a in th["activities"]
    }
    stored_acts = {
        (c, ti, k, float(e))
        for c, ti, k, e in conn.execute(
            text(
                "SELECT a.code, a.title, a.kind, a.effort_hours FROM activity a "
                "JOIN programme p ON p.id = a.programme_id WHERE p.code = :code"
            ),
            {"code": code},
        )
    }
    wanted_people = {(p["id"], p["name"], p["email"].lower()) for p in doc["people"]}
    stored_people = {
        (k, n, e)
        for k, n, e in conn.execute(
            text(
                "SELECT x.key, x.name, x.email FROM person x "
                "JOIN programme p ON p.id = x.programme_id WHERE p.code = :code"
            ),
            {"code": code},
        )
    }
    return (
        len(wanted_tasks ^ stored)
        + len(wanted_acts ^ stored_acts)
        + len(wanted_people ^ stored_people)
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# --- the daily sweep ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepDays:
    reminder: list[date]
    overdue: list[date]  # past due dates whose overdue notice repeats today
    escalate_after: date  # due on or before: the backup is responsible
    escalated_before: date  # due on or before: already escalated at the previous evaluation
    council: dict[date, list[int]]


def sweep_days(
    cal: WorkCalendar, since: date, today: date, evaluated: date, limits: Thresholds, first: date
) -> SweepDays:
    """The due dates the sweep of `today` acts on (the previous evaluation was on `evaluated`,
    the previous sweep covered `since`; `first` is the earliest due date stored)."""
    every = limits.overdue_every
    overdue = []
    day = first
    while day < today:
        late = cal.working_days_between(day, today)
        prev = max(cal.working_days_between(day, since), 0)
        if any((n - 1) % every == 0 for n in range(prev + 1, late + 1)):
            overdue.append(day)
        day += timedelta(days=1)
    return SweepDays(
        reminder=sorted(days_with_lead_in(cal, since, today, limits.reminder_leads)),
        overdue=overdue,
        escalate_after=escalation_day(cal, today, limits.escalate_after),
        escalated_before=escalation_day(cal, evaluated, limits.escalate_after),
        council=dict(days_with_lead_in(cal, since, today, limits.council_leads)),
    )


Pairs = dict[str, set[tuple[str, Any]]]


def fresh_start(conn: Connection, cal: WorkCalendar, today: date) -> bool:
    """The overdue job has never run, or its last slot lies more than a working week back."""
    last = conn.execute(
        text("SELECT last_slot FROM job_run WHERE job = 'overdue'")
    ).scalar_one_or_none()
    return (
        last is None
        or cal.working_days_between(date.fromisoformat(last), today) > FRESH_AFTER_WORKING_DAYS
    )


def plain_sweep(
    conn: Connection, days: SweepDays, *, fresh: bool, cal: WorkCalendar, today: date
) -> Pairs:
    """(recipient, task id) per kind — and (recipient, (item code, lead)) for council alerts —
    that the sweep must send, straight from the base rows: responsible is the backup when the
    task was handed over or is escalated, else the owner. On a fresh start no overdue notices
    or escalations but one summary per person: (recipient, (late, due soon))."""
    open_ = "t.status IN ('open', 'in_progress') AND t.paused = :false"
    escalated = "(t.handed_over = :true OR t.due_date <= :esc)"
    params = {"esc": days.escalate_after, "true": True, "false": False}
    pairs: Pairs = {"summary": set()}
    rows = conn.execute(
        text(
            "SELECT CASE WHEN " + escalated + " THEN b.email ELSE o.email END, t.id "
            "FROM task t JOIN person o ON o.id = t.owner_id JOIN person b ON b.id = t.backup_id "
            "WHERE " + open_ + " AND t.due_date IN :days"
        ).bindparams(bindparam("days", expanding=True)),
        {**params, "days": days.reminder},
    )
    pairs["reminder"] = {(r[0], r[1]) for r in rows}
    if fresh:
        pairs["overdue"], pairs["escalation"] = set(), set()
        pairs["summary"] = _summaries(conn, open_, escalated, params, cal, today)
    else:
        pairs |= _overdue_and_escalations(conn, open_, escalated, params, days)
    pairs["council"] = _council(conn, days)
    return pairs


def _summaries(
    conn: Connection, open_: str, escalated: str, params: dict, cal: WorkCalendar, today: date
) -> set[tuple[str, Any]]:
    """Per responsible person: (late, due from today up to the horizon), running programmes."""
    horizon = cal.add_working_days(today, SUMMARY_AHEAD_WORKING_DAYS)
    rows = conn.execute(
        text(
            "SELECT CASE WHEN " + escalated + " THEN b.email ELSE o.email END AS who, "
            "sum(CASE WHEN t.due_date < :today THEN 1 ELSE 0 END), "
            "sum(CASE WHEN t.due_date >= :today THEN 1 ELSE 0 END) "
            "FROM task t JOIN person o ON o.id = t.owner_id JOIN person b ON b.id = t.backup_id "
            'JOIN programme p ON p.id = t.programme_id WHERE p."end" >= :today AND '
            + open_
            + " AND t.due_date <= :horizon GROUP BY who"
        ),
        {**params, "today": today, "horizon": horizon},
    )
    return {(who, (int(late), int(soon))) for who, late, soon in rows}


def _overdue_and_escalations(
    conn: Connection, open_: str, escalated: str, params: dict, days: SweepDays
) -> Pairs:
    pairs: Pairs = {}
    rows = conn.execute(
        text(
            "SELECT o.email, t.id FROM task t JOIN person o ON o.id = t.owner_id "
            "WHERE " + open_ + " AND NOT " + escalated + " AND t.due_date IN :days"
        ).bindparams(bindparam("days", expanding=True)),
        {**params, "days": days.overdue},
    )
    pairs["overdue"] = {(r[0], r[1]) for r in rows}
    rows = conn.execute(
        text(
            "SELECT b.email, t.id FROM task t JOIN person b ON b.id = t.backup_id "
            "WHERE " + open_ + " AND t.handed_over = :false "
            "AND t.due_date <= :esc AND t.due_date > :before"
        ),
        {**params, "before": days.escalated_before},
    )
    pairs["escalation"] = {(r[0], r[1]) for r in rows}
    return pairs


def _council(conn: Connection, days: SweepDays) -> set[tuple[str, Any]]:
    council: set[tuple[str, Any]] = set()
    if days.council:
        items = conn.execute(
            text(
                "SELECT ci.id, ci.code, ci.submission_deadline, h.email FROM council_item ci "
                "JOIN portfolio_holder h ON h.id = ci.holder_id "
                "WHERE ci.active = :true AND ci.submission_deadline IN :days"
            ).bindparams(bindparam("days", expanding=True)),
            {"true": True, "days": sorted(days.council)},
        ).all()
        people: dict[int, set[str]] = defaultdict(set)
        if items:
            # By item only (its index), open ones kept in Python: with `status IN` in the WHERE,
            # SQLite (no ANALYZE statistics) walks ix_task_status_due_date over every open task.
            for item_id, status, owner, backup in conn.execute(
                text(
                    "SELECT t.council_item_id, t.status, o.email, b.email FROM task t "
                    "JOIN person o ON o.id = t.owner_id JOIN person b ON b.id = t.backup_id "
                    "WHERE t.council_item_id IN :items"
                ).bindparams(bindparam("items", expanding=True)),
                {"items": [i[0] for i in items]},
            ):
                if status in OPEN:
                    people[item_id] |= {owner, backup}
        for item_id, code, deadline, holder in items:
            for lead in days.council[_as_date(deadline)]:
                council |= {(email, (code, lead)) for email in people[item_id] | {holder}}
    return council


TASK_ID = re.compile(r"\(taak (\d+)")
SUMMARY_LATE = re.compile(r"(\d+) taa?ke?n? te laat")
SUMMARY_SOON = re.compile(r"(\d+) taa?ke?n? binnenkort")


def _number(pattern: re.Pattern[str], subject: str) -> int:
    found = pattern.search(subject)
    return int(found.group(1)) if found else 0


def outbox_pairs(conn: Connection, created_at: datetime, kinds: tuple[str, ...]) -> Pairs:
    """Our sweep's result: the same pairs, read from the messages it wrote (task ids from the
    text body, council alerts from the key `council:{email}:{item}:{lead}`, a summary's
    numbers from its subject "Stand van zaken: 3 taken te laat, 1 taak binnenkort")."""
    pairs: Pairs = {kind: set() for kind in kinds}
    rows = conn.execute(
        text(
            "SELECT kind, recipient, key, subject, text_body FROM outbox_message "
            "WHERE created_at = :at AND kind IN :kinds"
        ).bindparams(bindparam("kinds", expanding=True), bindparam("at", type_=_utc())),
        {"at": created_at, "kinds": list(kinds)},
    )
    for kind, recipient, key, subject, body in rows:
        if kind == "council":
            _, _, code, lead = key.rsplit(":", 3)
            pairs[kind].add((recipient, (code, int(lead))))
        elif kind == "summary":
            late, soon = _number(SUMMARY_LATE, subject), _number(SUMMARY_SOON, subject)
            pairs[kind].add((recipient, (late, soon)))
        else:
            pairs[kind] |= {(recipient, int(n)) for n in TASK_ID.findall(body)}
    return pairs


def _utc() -> Any:
    from veiligheid_flow.db import UTCDateTime

    return UTCDateTime()


# --- weekly digests ----------------------------------------------------------------------------


def plain_digest(conn: Connection, today: date, horizon: date) -> dict[tuple[str, str], tuple]:
    """(holder email, theme name) → (done, open, late) up to the horizon: one GROUP BY."""
    rows = conn.execute(
        text(
            "SELECT h.email, th.name, count(*), "
            "sum(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END), "
            "sum(CASE WHEN t.status IN ('open', 'in_progress') AND t.paused = :false "
            "AND t.due_date < :today THEN 1 ELSE 0 END) "
            "FROM task t JOIN theme th ON th.id = t.theme_id "
            "JOIN theme_holder x ON x.theme_id = th.id "
            "JOIN portfolio_holder h ON h.id = x.holder_id "
            "WHERE t.planned_due <= :horizon AND t.status <> 'cancelled' AND th.active = :true "
            "GROUP BY h.email, th.id, th.name"
        ),
        {"today": today, "horizon": horizon, "true": True, "false": False},
    )
    out: dict[tuple[str, str], tuple] = {}
    for email, name, total, done, late in rows:
        done, late = int(done or 0), int(late or 0)
        out[(email, name)] = (done, int(total) - done - late, late)
    return out


DIGEST_LINE = re.compile(r"^- (.+): (\d+) gereed, (\d+) open, (\d+) te laat \(", re.M)


def digest_counts(conn: Connection, created_at: datetime) -> dict[tuple[str, str], tuple]:
    """Our digests' progress lines, parsed from the text bodies."""
    out: dict[tuple[str, str], tuple] = {}
    rows = conn.execute(
        text(
            "SELECT recipient, text_body FROM outbox_message "
            "WHERE kind = 'digest' AND created_at = :at"
        ).bindparams(bindparam("at", type_=_utc())),
        {"at": created_at},
    )
    for recipient, body in rows:
        section = body.split("VOORTGANG PER THEMA", 1)[-1].split("TERMIJNAGENDA", 1)[0]
        for name, done, open_, late in DIGEST_LINE.findall(section):
            out[(recipient, name)] = (int(done), int(open_), int(late))
    return out


# --- crisis ------------------------------------------------------------------------------------


def _scope(conn: Connection, a: str = "t") -> str:
    """The crisis's tasks: open, not statutory, in its themes in its municipalities. Selected
    by theme (its index); on SQLite the unary + keeps the planner, which has no statistics,
    from walking ix_task_status_due_date over every open task instead."""
    plus = "+" if conn.dialect.name == "sqlite" else ""
    return (
        f"{a}.theme_id IN (SELECT th.id FROM theme th JOIN programme p ON p.id = th.programme_id "
        f"WHERE th.code IN :themes AND p.municipality_code IN :codes) "
        f"AND {plus}{a}.status IN ('open', 'in_progress') AND {a}.statutory = :false"
    )


def _scoped(sql: str) -> Any:
    return text(sql).bindparams(
        bindparam("themes", expanding=True), bindparam("codes", expanding=True)
    )


def scope_ids(conn: Connection, themes: list[str], codes: list[str]) -> set[int]:
    rows = conn.execute(
        _scoped("SELECT t.id FROM task t WHERE " + _scope(conn)),
        {"themes": themes, "codes": codes, "false": False},
    )
    return set(rows.scalars())


def plain_pause(conn: Connection, themes: list[str], codes: list[str]) -> int:
    """Declare: the plain UPDATE of the paused rows."""
    return conn.execute(
        _scoped("UPDATE task SET paused = :true WHERE paused = :false AND " + _scope(conn, "task")),
        {"themes": themes, "codes": codes, "true": True, "false": False},
    ).rowcount


def unpause(conn: Connection) -> None:
    """Undo plain_pause (not timed; no other crisis is running, so every paused row is its)."""
    conn.execute(
        text("UPDATE task SET paused = :false WHERE paused = :true"), {"true": True, "false": False}
    )


def shift_map(
    conn: Connection, cal: WorkCalendar, start: date, end: date, within: int
) -> dict[date, date]:
    """planned due → due after the crisis, for the paused tasks: moved by the working days
    they lay still (from the day it was declared to the day it ended, both included), but only
    work the crisis displaced: due from its first day up to `within` working days after its
    last (rules/settings.yaml crisis_shift.displaced_within_working_days); the rest keeps it."""
    days = sum(
        1 for n in range((end - start).days + 1) if cal.is_working_day(start + timedelta(days=n))
    )
    window_end = cal.add_working_days(end, within)
    planned = conn.execute(
        text("SELECT DISTINCT planned_due FROM task WHERE paused = :true"), {"true": True}
    ).scalars()
    return {
        due: cal.add_working_days(due, days) if start <= due <= window_end else due
        for due in map(_as_date, planned)
    }


def plain_resume(conn: Connection, themes: list[str], codes: list[str], shift: dict) -> int:  # type: ignore[type-arg]
    """End: unpause the rows and move their due dates (the mapping as a temporary table)."""
    conn.execute(text("CREATE TEMPORARY TABLE bench_shift (old DATE PRIMARY KEY, new DATE)"))
    conn.execute(
        text("INSERT INTO bench_shift (old, new) VALUES (:old, :new)"),
        [{"old": old, "new": new} for old, new in shift.items()],
    )
    count = conn.execute(
        _scoped(
            "UPDATE task SET paused = :false, due_date = "
            "(SELECT s.new FROM bench_shift s WHERE s.old = task.planned_due) "
            "WHERE paused = :true AND " + _scope(conn, "task")
        ),
        {"themes": themes, "codes": codes, "true": True, "false": False},
    ).rowcount
    conn.execute(text("DROP TABLE bench_shift"))
    return count


def repause(conn: Connection, themes: list[str], codes: list[str]) -> None:
    """Undo plain_resume (not timed)."""
    conn.execute(
        _scoped(
            "UPDATE task SET paused = :true, due_date = planned_due WHERE " + _scope(conn, "task")
        ),
        {"themes": themes, "codes": codes, "true": True, "false": False},
    )


def paused_ids(conn: Connection) -> set[int]:
    return set(
        conn.execute(text("SELECT id FROM task WHERE paused = :true"), {"true": True}).scalars()
    )


def scope_rows(
    conn: Connection, themes: list[str], codes: list[str]
) -> dict[int, tuple[date, date, bool]]:
    """id → (planned due, due, paused) of the tasks in the crisis's scope."""
    rows = conn.execute(
        _scoped(
            "SELECT t.id, t.planned_due, t.due_date, t.paused FROM task t WHERE " + _scope(conn)
        ),
        {"themes": themes, "codes": codes, "false": False},
    )
    return {i: (_as_date(p), _as_date(d), bool(x)) for i, p, d, x in rows}


# --- dispatch ----------------------------------------------------------------------------------


def pending_rows(conn: Connection, count: int) -> list[Any]:
    return conn.execute(
        text(
            "SELECT id, key, recipient, cc, subject, text_body, html_body, ics "
            "FROM outbox_message WHERE status = 'pending' ORDER BY id LIMIT :n"
        ),
        {"n": count},
    ).all()


def plain_send(rows: list[Any], port: int, sender: str, build: Any, outbox: Any) -> int:
    """Raw smtplib over one connection, the same bytes as ours (same builder). The Message-ID's
    domain is the sender's (MAIL_FROM's), taken here from `sender`, not from the stored row."""
    import json

    domain = sender.rpartition("@")[2].strip().lower()
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        for r in rows:
            cc = json.loads(r.cc) if isinstance(r.cc, str) else (r.cc or [])
            message = outbox(
                id=r.id,
                key=r.key,
                recipient=r.recipient,
                cc=cc,
                subject=r.subject,
                text_body=r.text_body,
                html_body=r.html_body,
                ics=r.ics,
                domain=domain,
            )
            smtp.sendmail(sender, [r.recipient, *cc], build(message, sender))
    finally:
        smtp.quit()
    return len(rows)


def mark_sent(conn: Connection, ids: list[int], now: datetime, status: str = "sent") -> int:
    return conn.execute(
        text("UPDATE outbox_message SET status = :s, sent_at = :at WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True), bindparam("at", type_=_utc())
        ),
        {"s": status, "at": now if status == "sent" else None, "ids": ids},
    ).rowcount
