"""What the municipality publishes (issue 13, item 3): the programme for the website
(`veiligheid publiceer`) and the quarterly status report for the committee (`veiligheid
rapport kwartaal`). Both read the same replay of the audit trail as the evaluation.

No personal data of staff: no names, addresses, hours, absences or crisis duty; portfolio
holders (public officials) by name and title only. Why something is late is told from what
the organisation did (a crisis, a moved deadline, an escalation), never from a person; the
notes people write with a status change are not published."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from veiligheid_flow.app.evaluation import (
    BudgetRow,
    CouncilRow,
    Evaluator,
    Progress,
    TaskState,
    evaluating,
    quarter_range,
)
from veiligheid_flow.app.exports_evaluation import report_suffix, write_file
from veiligheid_flow.authority import Actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import YEARS, local_date
from veiligheid_flow.crisis.models import Crisis
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme.models import Activity
from veiligheid_flow.reports.publication import quarter_html, quarter_pdf, site_files

KIND_LABELS = {"district": "regionaal thema", "local": "lokaal thema", "other": "overig onderwerp"}
PUBLIC_STATES = {
    "op tijd": "op tijd aangeleverd",
    "te laat": "na de aanleverdatum aangeleverd",
    "niet aangeleverd": "nog niet aangeleverd",
    "nog niet aan de orde": "in voorbereiding",
    "geen taak": "in voorbereiding",
}


@dataclass(frozen=True)
class PublicActivity:
    code: str
    title: str
    kind: str  # "activiteit", "monitoring", "wettelijke taak per zaak"
    legal_basis: str | None
    partners: tuple[str, ...]
    planned: int  # occurrences, not cancelled (0 for a task per case: cases are not counted)
    done: int
    late: int  # open and past the deadline
    next_deadline: date | None
    status: str


@dataclass(frozen=True)
class PublicCouncilItem:
    code: str
    subject: str
    type: str
    holder: str
    committee: str
    committee_date: date
    council_date: date | None
    submission_deadline: date
    state: str


@dataclass(frozen=True)
class PublicTheme:
    code: str
    name: str
    kind: str
    council_priority: bool
    holders: tuple[str, ...]  # "Marieke Verbeek, burgemeester"
    partners: tuple[str, ...]
    progress: Progress
    activities: tuple[PublicActivity, ...]
    council: tuple[PublicCouncilItem, ...]
    budget: tuple[BudgetRow, ...]

    @property
    def page(self) -> str:
        return "thema-" + re.sub(r"[^a-z0-9]+", "-", self.code.lower()).strip("-") + ".html"


@dataclass(frozen=True)
class Publication:
    programme: str
    programme_name: str
    municipality: str
    plan_name: str
    start: date
    end: date
    now: datetime
    today: date
    themes: tuple[PublicTheme, ...]
    council: tuple[PublicCouncilItem, ...]
    budget: tuple[BudgetRow, ...]

    @property
    def budget_planned(self) -> Decimal:
        return sum((b.planned for b in self.budget), Decimal(0))

    @property
    def budget_realised(self) -> Decimal:
        return sum((b.realised for b in self.budget), Decimal(0))


def _public_item(row: CouncilRow) -> PublicCouncilItem:
    return PublicCouncilItem(
        code=row.code,
        subject=row.subject,
        type=row.type,
        holder=row.holder,
        committee=row.committee,
        committee_date=row.committee_date,
        council_date=row.council_date,
        submission_deadline=row.submission_deadline,
        state=PUBLIC_STATES.get(row.state, row.state),
    )


def _activity(activity: Activity, tasks: list[TaskState], ev: Evaluator) -> PublicActivity:
    live = [t for t in tasks if t.status != "cancelled" and t.case is None]
    done = sum(1 for t in live if t.status == "done")
    waiting = [t for t in live if t.status != "done"]
    paused = sum(1 for t in waiting if t.paused)
    late = sum(1 for t in waiting if not t.paused and ev.late_by(t.deadline, ev.today))
    if activity.case_type:
        kind, status = "wettelijke taak per zaak", "doorlopend"
    else:
        kind = "monitoring" if activity.kind == "monitor" else "activiteit"
        if live and done == len(live):
            status = "afgerond"
        elif paused:
            status = "tijdelijk stilgelegd"
        elif late:
            status = "vertraagd"
        elif done or any(t.status == "in_progress" for t in live):
            status = "loopt"
        else:
            status = "gepland"
    return PublicActivity(
        code=activity.code,
        title=activity.title,
        kind=kind,
        legal_basis=activity.legal_basis,
        partners=tuple(activity.partners or ()),
        planned=len(live),
        done=done,
        late=late,
        next_deadline=min((t.due for t in waiting if t.due), default=None),
        status=status,
    )


def publication(
    app: App, *, now: datetime, programme: str | None = None, actor: Actor | None = None
) -> Publication:
    """The programme as the website shows it, at `now`."""
    with evaluating(app, now=now, programme=programme, actor=actor) as (ev, money):
        rows = ev.council_rows()
        budget = ev.budget(money)
        activities = ev.session.scalars(
            select(Activity).where(Activity.programme_id == ev.programme.id).order_by(Activity.id)
        ).all()
        of_activity: dict[int, list[TaskState]] = defaultdict(list)
        for task in ev.tasks.values():
            of_activity[task.activity_id].append(task)
        themes = []
        for theme in ev.themes:
            mine = [a for a in activities if a.theme_id == theme.id]
            tasks = [t for t in ev.tasks.values() if t.theme_id == theme.id and t.case is None]
            themes.append(
                PublicTheme(
                    code=theme.code,
                    name=theme.name,
                    kind=KIND_LABELS.get(theme.kind, theme.kind),
                    council_priority=theme.council_priority,
                    holders=tuple(f"{h.name}, {h.title}" for h in theme.holders),
                    partners=tuple(theme.partners or ()),
                    progress=ev.progress(tasks),
                    activities=tuple(
                        _activity(a, of_activity[a.id], ev)
                        for a in mine
                        if a.active or of_activity[a.id]
                    ),
                    council=tuple(_public_item(r) for r in rows if theme.code in r.themes),
                    budget=tuple(b for b in budget if b.theme_code == theme.code),
                )
            )
        return Publication(
            programme=ev.programme.code,
            programme_name=ev.programme.name,
            municipality=ev.programme.municipality,
            plan_name=ev.programme.plan_name,
            start=ev.programme.start,
            end=ev.programme.end,
            now=ev.now,
            today=ev.today,
            themes=tuple(themes),
            council=tuple(_public_item(r) for r in rows),
            budget=tuple(budget),
        )


def publish(
    app: App,
    out: Path,
    *,
    now: datetime,
    programme: str | None = None,
    actor: Actor | None = None,
) -> list[Path]:
    """Write the static site (index.html, a page per theme, one CSS file) into `out`."""
    if not out.parent.is_dir():
        raise DomainError(f"map {out.parent} bestaat niet: maak haar eerst of kies een andere")
    if out.exists() and not out.is_dir():
        raise DomainError(f"{out} is een bestand, geen map")
    site = site_files(publication(app, now=now, programme=programme, actor=actor))
    out.mkdir(exist_ok=True)
    written = []
    for name, text in site.items():
        write_file(out / name, text.encode("utf-8"))
        written.append(out / name)
    return written


# --- the quarterly report ------------------------------------------------------------------------


@dataclass(frozen=True)
class LateItem:
    title: str
    theme: str
    deadline: date
    done_on: date | None  # None: still open
    working_days: int  # after the deadline (so far, when open)
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QuarterTheme:
    code: str
    name: str
    holders: tuple[str, ...]
    progress: Progress  # the activities with their deadline in the quarter


@dataclass(frozen=True)
class QuarterCrisis:
    title: str
    grip: int
    first: date
    last: date | None  # None: still going on
    tasks_paused: int


@dataclass(frozen=True)
class QuarterReport:
    programme: str
    programme_name: str
    municipality: str
    quarter: str  # "2024-K3"
    label: str  # "derde kwartaal 2024"
    first: date
    last: date
    now: datetime
    today: date
    holders: tuple[str, ...]
    themes: tuple[QuarterTheme, ...]
    total: Progress
    late: tuple[LateItem, ...]
    council: tuple[PublicCouncilItem, ...]
    crises: tuple[QuarterCrisis, ...]
    budget_year: int
    budget: tuple[BudgetRow, ...]


ORDINALS = ("eerste", "tweede", "derde", "vierde")


def parse_quarter(text: str) -> str:
    """'2024-Q3' or '2024-K3' (also lower case, or with a space) → '2024-K3'."""
    found = re.fullmatch(r"\s*(\d{4})[-\s]?[QqKk]([1-4])\s*", text)
    if not found or int(found.group(1)) not in YEARS:
        raise DomainError(f"'{text}' is geen kwartaal: schrijf bv. 2024-Q3 (of 2024-K3)")
    return f"{found.group(1)}-K{found.group(2)}"


def _reasons(task: TaskState, ev: Evaluator, titles: dict[int, str]) -> tuple[str, ...]:
    found = []
    for pause in ev.pauses_of(task.id):
        last = min(pause.until or ev.today, ev.today)
        days = ev.calendar.working_days_between(pause.since - timedelta(days=1), last)
        found.append(
            f"stilgelegd door de crisis ‘{titles.get(pause.crisis_id, pause.crisis_id)}’ "
            f"({days} werkdagen)"
        )
    for entry in task.history:
        after, before = entry.after or {}, entry.before or {}
        if entry.action == "task.open" and before.get("status") == "done":
            found.append("na de gereedmelding heropend")
        if entry.action != "task.decision":
            continue
        if "due_date" in after and ev.shift_rule in (entry.rule_ids or ()):
            found.append(
                f"deadline na de crisis verschoven van {before.get('due_date')} "
                f"naar {after['due_date']}"
            )
        if "responsible_id" in after and ev.escalating.intersection(entry.rule_ids or ()):
            found.append("te laat: overgedragen aan de achtervang (escalatie)")
    return tuple(dict.fromkeys(found)) or ("geen oorzaak vastgelegd",)


def quarter_report(
    app: App,
    *,
    now: datetime,
    quarter: str,
    programme: str | None = None,
    actor: Actor | None = None,
) -> QuarterReport:
    """The state of the quarter's work at `now`, for the committee."""
    label = parse_quarter(quarter)
    first, last = quarter_range(label)
    with evaluating(app, now=now, programme=programme, actor=actor) as (ev, money):
        if last < ev.programme.start or first > ev.programme.end:
            raise DomainError(
                f"kwartaal {label} valt buiten het programma {ev.programme.code} "
                f"({ev.programme.start:%d-%m-%Y} – {ev.programme.end:%d-%m-%Y})"
            )
        names = {t.id: t.name for t in ev.themes}
        tasks = [
            t
            for t in ev.tasks.values()
            if t.case is None and t.status != "cancelled" and first <= t.deadline <= last
        ]
        themes = tuple(
            QuarterTheme(
                t.code,
                t.name,
                tuple(f"{h.name}, {h.title}" for h in t.holders),
                ev.progress([x for x in tasks if x.theme_id == t.id]),
            )
            for t in ev.themes
        )
        titles = dict(ev.session.execute(select(Crisis.id, Crisis.title)).all())
        late = sorted(_late(tasks, ev, names, titles), key=lambda i: (i.deadline, i.title))
        crises = tuple(
            QuarterCrisis(
                c.title,
                c.grip,
                c.declared_at.date(),
                c.ended_at.date() if c.ended_at else None,
                c.tasks_paused,
            )
            for c in ev.crisis_rows()
            if c.declared_at.date() <= last and (c.ended_at is None or c.ended_at.date() >= first)
        )
        council = tuple(
            _public_item(r)
            for r in ev.council_rows()
            if first <= r.submission_deadline <= last or first <= r.committee_date <= last
        )
        holders = tuple(dict.fromkeys(f"{h.name}, {h.title}" for t in ev.themes for h in t.holders))
        year = first.year
        return QuarterReport(
            programme=ev.programme.code,
            programme_name=ev.programme.name,
            municipality=ev.programme.municipality,
            quarter=label,
            label=f"{ORDINALS[(first.month - 1) // 3]} kwartaal {year}",
            first=first,
            last=last,
            now=ev.now,
            today=ev.today,
            holders=holders,
            themes=themes,
            total=ev.progress(tasks),
            late=tuple(late),
            council=council,
            crises=crises,
            budget_year=year,
            budget=tuple(b for b in ev.budget(money) if b.year == year),
        )


def _late(
    tasks: Iterable[TaskState], ev: Evaluator, names: dict[int, str], titles: dict[int, str]
) -> Iterable[LateItem]:
    for task in tasks:
        deadline = task.deadline
        if task.status == "done" and task.done_at is not None:
            done_on: date | None = local_date(task.done_at)
            days = ev.late_by(deadline, local_date(task.done_at))
        elif task.paused:
            continue
        else:
            done_on, days = None, ev.late_by(deadline, ev.today)
        if days:
            yield LateItem(
                task.title,
                names[task.theme_id],
                deadline,
                done_on,
                days,
                _reasons(task, ev, titles),
            )


def write_quarter_report(
    app: App,
    path: Path,
    *,
    now: datetime,
    quarter: str,
    programme: str | None = None,
    actor: Actor | None = None,
) -> QuarterReport:
    """The quarterly report as PDF (or HTML), by the suffix of `path`."""
    suffix = report_suffix(path, (".pdf", ".html"))
    report = quarter_report(app, now=now, quarter=quarter, programme=programme, actor=actor)
    data = quarter_pdf(report) if suffix == ".pdf" else quarter_html(report).encode("utf-8")
    write_file(path, data)
    return report
