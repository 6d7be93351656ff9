"""The read side: every read. Each query brings the decisions to `now` in a rolled-back
transaction (`app/reading.py`) and returns frozen views built inside it; nothing here writes.

`actor` is who reads (a person named with --by): a listing then shows only the municipalities
they serve, and asking for another municipality (or one object of it) is refused in one line.
Without an actor the reader is the operator at the shell, who sees every municipality.

The tasks queries live in `queries_tasks.py`, the mail queries in `queries_mail.py`; both are
re-exported here, so an entry point needs only `app.queries`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from veiligheid_flow.app.queries_mail import deadlines_calendar, digest_preview, message, outbox
from veiligheid_flow.app.queries_tasks import (
    TaskQuery,
    capacity_forecast,
    explain,
    tasks,
    week,
)
from veiligheid_flow.app.reading import (
    Names,
    programmes_of,
    read_only,
    refuse_unseen,
    view_at,
    visible,
)
from veiligheid_flow.app.views import (
    AbsenceView,
    AuditPage,
    AuditView,
    CouncilItemView,
    CrisisView,
    PauseView,
    PersonView,
    StepView,
    TaskDetail,
    ThemeView,
)
from veiligheid_flow.audit import service as audit_service
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.authority import Actor, resolve_actor
from veiligheid_flow.bootstrap import App
from veiligheid_flow.clock import LOCAL_TZ, local_date, local_datetime
from veiligheid_flow.crisis.models import Absence, Crisis, TaskPause
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.mail.models import OutboxMessage
from veiligheid_flow.ops.status import Status, check
from veiligheid_flow.programme.loader import LoadedProgramme, read_programme
from veiligheid_flow.programme.models import (
    Activity,
    CouncilItem,
    Person,
    PortfolioHolder,
    Programme,
    Theme,
    theme_share,
)
from veiligheid_flow.programme.service import municipal_calendar
from veiligheid_flow.rules.service import build_world
from veiligheid_flow.settings import Settings
from veiligheid_flow.tasks import service as task_service
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.tasks.views import TIER_LABELS, state_label

__all__ = [
    "LogFilter",
    "TaskQuery",
    "absences",
    "actor",
    "audit_log",
    "capacity_forecast",
    "council_agenda",
    "crises",
    "crisis",
    "deadlines_calendar",
    "digest_preview",
    "explain",
    "outbox",
    "message",
    "people",
    "system_status",
    "task_detail",
    "tasks",
    "themes",
    "validate",
    "week",
]

OPEN = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


# --- who reads, a file, the system -------------------------------------------------------------


def actor(app: App, by: str, municipality: str | None = None) -> Actor:
    """The person `--by` names (address, id, title, or whatever `authority.resolve_actor`
    accepts), for the queries' `actor`."""
    with read_only(app) as session:
        return resolve_actor(session, by, municipality)


def validate(app: App, path: Path) -> LoadedProgramme:
    """A programme file read and checked (all problems at once); nothing is stored."""
    return read_programme(path, known_case_types=set(app.rulebook().cases))


def system_status(settings: Settings, *, now: datetime) -> Status:
    """Whether everything runs: database, last run per job, outbox (`veiligheid status`)."""
    return check(settings, now=now)


# --- crises and absences -------------------------------------------------------------------------


def _crisis_view(session: Session, crisis: Crisis, names: Names, now: datetime) -> CrisisView:
    ended = crisis.ended_at is not None and crisis.ended_at <= now
    paused = session.scalar(
        select(func.count())
        .select_from(TaskPause)
        .where(TaskPause.crisis_id == crisis.id, TaskPause.until.is_(None))
    )
    return CrisisView(
        id=crisis.id,
        title=crisis.title,
        grip=crisis.grip,
        municipalities=tuple(crisis.municipalities or ()),
        themes=tuple(crisis.themes or ()),
        staff=tuple(names.ref(s) for s in crisis.staff or ()),
        declared_by=names.ref(crisis.declared_by),
        declared_at=local_datetime(crisis.declared_at),
        expected_end=crisis.expected_end,
        ended_at=local_datetime(crisis.ended_at) if ended and crisis.ended_at else None,
        ended_by=names.maybe(crisis.ended_by) if ended else None,
        active=not ended,
        paused_tasks=paused or 0,
    )


def crises(
    app: App, *, now: datetime, municipality: str | None = None, actor: Actor | None = None
) -> list[CrisisView]:
    """The crises declared up to `now` (newest first), of one municipality or of all."""
    with view_at(app, now=now) as session:
        codes = visible(session, actor, municipality)
        names = Names(session)
        rows = session.scalars(
            select(Crisis).where(Crisis.declared_at <= now).order_by(Crisis.id.desc())
        )
        return [
            _crisis_view(session, c, names, now)
            for c in rows
            if codes is None or set(codes) & set(c.municipalities or ())
        ]


def crisis(app: App, *, now: datetime, crisis_id: int, actor: Actor | None = None) -> CrisisView:
    with view_at(app, now=now) as session:
        row = session.get(Crisis, crisis_id)
        if row is None or row.declared_at > now:
            raise NotFound(f"crisis {crisis_id} bestaat niet (op dit moment)")
        refuse_unseen(actor, tuple(row.municipalities or ()), f"crisis {crisis_id}")
        return _crisis_view(session, row, Names(session), now)


def absences(
    app: App, *, now: datetime, municipality: str | None = None, actor: Actor | None = None
) -> list[AbsenceView]:
    """Registered absences (also cancelled ones, marked), by start date."""
    with view_at(app, now=now) as session:
        codes = visible(session, actor, municipality)
        names = Names(session)
        query = select(Absence).where(Absence.created_at <= now)
        if codes is not None:
            people = select(Person.email).where(Person.programme_id.in_(programmes_of(codes)))
            query = query.where(Absence.email.in_(people))
        today = local_date(now)
        return [
            AbsenceView(
                id=a.id,
                person=names.ref(a.email),
                start=a.start,
                end=a.end,
                reason=a.reason,
                created_by=names.ref(a.created_by),
                created_at=local_datetime(a.created_at),
                cancelled=a.cancelled,
                current=not a.cancelled and a.start <= today <= a.end,
            )
            for a in session.scalars(query.order_by(Absence.start, Absence.id))
        ]


# --- one task ------------------------------------------------------------------------------------


def task_detail(app: App, *, now: datetime, task_id: int, actor: Actor | None = None) -> TaskDetail:
    """Every field of a task at `now`, its reasons, pause periods and audit history."""
    with read_only(app) as session:
        last_stored = session.scalar(select(func.max(AuditEntry.id))) or 0
    explanation = explain(app, task_id, now=now, actor=actor, rank=False)
    with view_at(app, now=now) as session:
        task = task_service.get_task(session=session, task_id=task_id)
        names = Names(session)
        pauses = session.execute(
            select(TaskPause, Crisis.title)
            .join(Crisis, TaskPause.crisis_id == Crisis.id)
            .where(TaskPause.task_id == task.id)
            .order_by(TaskPause.since, TaskPause.id)
        )
        history = session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.object_type == "task",
                AuditEntry.object_id == str(task.id),
                AuditEntry.at <= now,
                AuditEntry.id <= last_stored,  # not what this read's evaluation just decided
            )
            .order_by(AuditEntry.id)
        ).all()
        item = task.council_item
        return TaskDetail(
            id=task.id,
            title=task.title,
            programme=task.programme.code,
            municipality=task.programme.municipality_code,
            theme_code=task.theme.code,
            theme_name=task.theme.name,
            activity=task.activity.code,
            status=TaskStatus(task.status).value,
            status_label=state_label(task),
            paused=task.paused,
            tier=task.tier,
            tier_label=TIER_LABELS.get(task.tier, f"klasse {task.tier}"),
            statutory=task.statutory,
            legal_basis=task.legal_basis,
            planned_due=task.planned_due,
            due_date=task.due_date,
            effort_hours=task.effort_hours,
            owner=names.ref(task.owner.email),
            backup=names.ref(task.backup.email),
            responsible=names.ref(task.responsible.email),
            handed_over=task.handed_over,
            council_item=item.code if item else None,
            council_subject=item.subject if item else None,
            flags=tuple(task.flags),
            note=task.note,
            status_changed_at=local_datetime(task.status_changed_at)
            if task.status_changed_at
            else None,
            status_changed_by=names.maybe(task.status_changed_by),
            steps=tuple(
                StepView(s["table"], s["rule_id"], s["version"], s["reason"], dict(s["facts"]))
                for s in explanation["steps"]
            ),
            paused_by=tuple(explanation["paused_by"]),
            pauses=tuple(PauseView(p.crisis_id, title, p.since, p.until) for p, title in pauses),
            history=tuple(_audit_views(session, list(history), names)),
        )


# --- people, themes, council agenda --------------------------------------------------------------


def people(
    app: App, *, now: datetime, municipality: str | None = None, actor: Actor | None = None
) -> list[PersonView]:
    """The current people per municipality, with whether they are absent or on crisis duty."""
    with view_at(app, now=now) as session:
        codes = visible(session, actor, municipality)
        world = build_world(session, now, municipal_calendar(session))
        query = (
            select(Person, Programme.municipality_code)
            .join(Programme, Person.programme_id == Programme.id)
            .where(Person.left_at.is_(None))
            .order_by(Programme.municipality_code, Person.name, Person.id)
        )
        if codes is not None:
            query = query.where(Programme.municipality_code.in_(codes))
        return [
            PersonView(
                name=p.name,
                email=p.email,
                municipality=code,
                role=p.role,
                hours_per_week=p.hours_per_week,
                absent_now=world.absent(p.email),
                on_crisis_duty=world.on_crisis_duty(p.email),
            )
            for p, code in session.execute(query)
        ]


def themes(
    app: App, *, now: datetime, municipality: str | None = None, actor: Actor | None = None
) -> list[ThemeView]:
    """Active themes (of a municipality: its own and the district themes it shares in) with
    their open, late and paused tasks at `now`."""
    with view_at(app, now=now) as session:
        codes = visible(session, actor, municipality)
        names = Names(session)
        today = local_date(now)
        query = (
            select(Theme, Programme.municipality_code)
            .join(Programme, Theme.programme_id == Programme.id)
            .where(Theme.active.is_(True))
            .order_by(Programme.municipality_code, Theme.id)
        )
        if codes is not None:
            own = programmes_of(codes)
            shared = select(theme_share.c.theme_id).where(theme_share.c.programme_id.in_(own))
            query = query.where(or_(Theme.programme_id.in_(own), Theme.id.in_(shared)))
        counts = {
            row.theme_id: row
            for row in session.execute(
                select(
                    Task.theme_id,
                    func.count().label("open"),
                    func.count()
                    .filter(Task.due_date < today, Task.paused.is_(False))
                    .label("late"),
                    func.count().filter(Task.paused.is_(True)).label("paused"),
                )
                .where(Task.status.in_(OPEN))
                .group_by(Task.theme_id)
            )
        }
        views = []
        for theme, code in session.execute(query):
            row = counts.get(theme.id)
            views.append(
                ThemeView(
                    code=theme.code,
                    name=theme.name,
                    municipality=code,
                    kind=theme.kind,
                    holders=tuple(f"{h.name} ({h.title})" for h in theme.holders),
                    owner=names.ref(theme.owner.email),
                    backup=names.ref(theme.backup.email),
                    open=row.open if row else 0,
                    late=row.late if row else 0,
                    paused=row.paused if row else 0,
                )
            )
        return views


def council_agenda(
    app: App, *, now: datetime, municipality: str | None = None, actor: Actor | None = None
) -> list[CouncilItemView]:
    """The termijnagenda: active council items by submission deadline."""
    with view_at(app, now=now) as session:
        codes = visible(session, actor, municipality)
        today = local_date(now)
        query = (
            select(CouncilItem, Programme.municipality_code)
            .join(Programme, CouncilItem.programme_id == Programme.id)
            .where(CouncilItem.active.is_(True))
            .order_by(CouncilItem.submission_deadline, CouncilItem.id)
        )
        if codes is not None:
            query = query.where(Programme.municipality_code.in_(codes))
        at_risk = {
            item_id
            for item_id, flags in session.execute(
                select(Task.council_item_id, Task.flags).where(
                    Task.status.in_(OPEN), Task.council_item_id.is_not(None)
                )
            )
            if "council_at_risk" in (flags or ())
        }
        return [
            CouncilItemView(
                code=item.code,
                subject=item.subject,
                municipality=code,
                holder=f"{item.holder.name} ({item.holder.title})",
                committee=item.committee,
                committee_date=item.committee_date,
                submission_deadline=item.submission_deadline,
                days_left=(item.submission_deadline - today).days,
                at_risk=item.id in at_risk,
            )
            for item, code in session.execute(query)
        ]


# --- the audit trail -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogFilter:
    task: int | None = None
    action: str | None = None
    person: str | None = None  # address or id (OOV1): by them, or about their tasks/absences
    crisis: int | None = None  # the crisis and the tasks it paused, while it lasted
    start: date | None = None  # local dates, both inclusive
    end: date | None = None
    municipality: str | None = None
    limit: int = 50
    page: int = 1


def audit_log(
    app: App, *, now: datetime, filters: LogFilter = LogFilter(), actor: Actor | None = None
) -> AuditPage:
    """One page of the stored audit trail up to `now` (1 = the newest), names for addresses
    and objects, local times. A plain read: nothing is evaluated, nothing written."""
    with read_only(app) as session:
        codes = visible(session, actor, filters.municipality)
        where = _log_conditions(session, now, filters, codes)
        rows, total = audit_service.page_of(
            session=session, where=where, limit=filters.limit, page=filters.page
        )
        pages = max(1, -(-total // filters.limit))
        return AuditPage(
            items=tuple(_audit_views(session, rows, Names(session))),
            total=total,
            page=filters.page,
            pages=pages,
            limit=filters.limit,
        )


def _log_conditions(
    session: Session, now: datetime, filters: LogFilter, codes: tuple[str, ...] | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [AuditEntry.at <= now]
    if codes is not None:
        where.append(_about_municipalities(session, codes))
    if filters.task is not None:
        where += [AuditEntry.object_type == "task", AuditEntry.object_id == str(filters.task)]
    if filters.action:
        where.append(AuditEntry.action.startswith(filters.action))
    if filters.start:
        where.append(AuditEntry.at >= _local_midnight(filters.start))
    if filters.end:
        where.append(AuditEntry.at < _local_midnight(filters.end + timedelta(days=1)))
    if filters.person:
        where.append(_about_person(session, filters.person))
    if filters.crisis is not None:
        where.append(_about_crisis(session, filters.crisis))
    return where


def _about_municipalities(session: Session, codes: tuple[str, ...]) -> ColumnElement[bool]:
    return or_(*(_about_municipality(session, code) for code in codes))


def _about_municipality(session: Session, code: str) -> ColumnElement[bool]:
    """Audit entries about one municipality: its tasks, programmes, themes, activities,
    crises, absences of its people, and the messages that carry its work."""
    programmes = programmes_of(code)

    def ids(column: Any, *where: ColumnElement[bool]) -> Select[tuple[str]]:
        return select(cast(column, String)).where(*where)

    crises = [str(c.id) for c in session.scalars(select(Crisis)) if code in c.municipalities]
    people = select(Person.email).where(Person.programme_id.in_(programmes))
    kinds = {
        "task": ids(Task.id, task_service.visible_in(code)),
        "programme": ids(Programme.id, Programme.id.in_(programmes)),
        "theme": ids(Theme.id, Theme.programme_id.in_(programmes)),
        "activity": ids(Activity.id, Activity.programme_id.in_(programmes)),
        "absence": ids(Absence.id, Absence.email.in_(people)),
        "email": ids(
            OutboxMessage.id,
            ("," + OutboxMessage.municipalities + ",").contains(f",{code},"),
        ),
    }
    return or_(
        and_(AuditEntry.object_type == "crisis", AuditEntry.object_id.in_(crises)),
        *(
            and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_(chosen))
            for kind, chosen in kinds.items()
        ),
    )


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)


def _about_person(session: Session, who: str) -> ColumnElement[bool]:
    needle = who.strip().lower()
    emails = set(
        session.scalars(
            select(Person.email).where(
                or_(Person.email == needle, func.lower(Person.key) == needle)
            )
        )
    ) | set(
        session.scalars(
            select(PortfolioHolder.email).where(
                or_(PortfolioHolder.email == needle, func.lower(PortfolioHolder.key) == needle)
            )
        )
    )
    if not emails:
        raise DomainError(f"onbekende persoon '{who}' (geef een e-mailadres of id, bv. OOV1)")
    people = select(Person.id).where(Person.email.in_(emails))
    tasks = select(cast(Task.id, String)).where(
        or_(
            Task.owner_id.in_(people),
            Task.backup_id.in_(people),
            Task.responsible_id.in_(people),
        )
    )
    absences = select(cast(Absence.id, String)).where(Absence.email.in_(emails))
    return or_(
        AuditEntry.actor.in_(emails),
        and_(AuditEntry.object_type == "task", AuditEntry.object_id.in_(tasks)),
        and_(AuditEntry.object_type == "absence", AuditEntry.object_id.in_(absences)),
    )


def _about_crisis(session: Session, crisis_id: int) -> ColumnElement[bool]:
    row = session.get(Crisis, crisis_id)
    if row is None:
        raise NotFound(f"crisis {crisis_id} bestaat niet")
    paused = select(cast(TaskPause.task_id, String)).where(TaskPause.crisis_id == crisis_id)
    during = AuditEntry.at >= row.declared_at
    if row.ended_at is not None:
        during = and_(during, AuditEntry.at <= row.ended_at)
    return or_(
        and_(AuditEntry.object_type == "crisis", AuditEntry.object_id == str(crisis_id)),
        and_(AuditEntry.object_type == "task", AuditEntry.object_id.in_(paused), during),
    )


def _audit_views(session: Session, rows: list[AuditEntry], names: Names) -> list[AuditView]:
    labels = _object_labels(session, rows)
    people = dict(session.execute(select(Person.id, Person.name)).all())
    return [
        AuditView(
            id=r.id,
            at=local_datetime(r.at),
            actor=names.ref(r.actor),
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            object_label=labels.get((r.object_type, r.object_id), f"{r.object_type} {r.object_id}"),
            before=_named(r.before, people),
            after=_named(r.after, people),
            reason=r.reason,
            rule_ids=tuple(r.rule_ids or ()),
        )
        for r in rows
    ]


_PERSON_FIELDS = {"responsible_id": "responsible", "owner_id": "owner", "backup_id": "backup"}


def _named(values: dict[str, Any] | None, people: dict[int, str]) -> dict[str, Any] | None:
    """Person ids in a before/after as names: {"responsible_id": 2} → {"responsible": "…"}."""
    if values is None:
        return None
    return {
        _PERSON_FIELDS.get(k, k): people.get(v, v) if k in _PERSON_FIELDS else v
        for k, v in values.items()
    }


_LABELLED: dict[str, tuple[str, Any, Any]] = {
    "task": ("taak", Task.id, Task.title),
    "crisis": ("crisis", Crisis.id, Crisis.title),
    "theme": ("thema", Theme.id, Theme.name),
    "activity": ("activiteit", Activity.id, Activity.title),
    "programme": ("programma", Programme.id, Programme.code),
    "person": ("medewerker", Person.id, Person.name),
    "council_item": ("termijnagenda", CouncilItem.id, CouncilItem.subject),
    "absence": ("afwezigheid", Absence.id, Absence.email),
}


def _object_labels(session: Session, rows: list[AuditEntry]) -> dict[tuple[str, str], str]:
    """ "taak 12 — <title>" for every object on the page, read in one query per kind."""
    wanted: dict[str, set[int]] = {}
    for r in rows:
        if r.object_type in _LABELLED and r.object_id.isdigit():
            wanted.setdefault(r.object_type, set()).add(int(r.object_id))
    names = Names(session) if "absence" in wanted else None
    labels: dict[tuple[str, str], str] = {}
    for kind, ids in wanted.items():
        word, id_column, text_column = _LABELLED[kind]
        for oid, text in session.execute(select(id_column, text_column).where(id_column.in_(ids))):
            if names is not None and kind == "absence":
                text = names.ref(text).name
            labels[(kind, str(oid))] = f"{word} {oid} — {text}"
    return labels
