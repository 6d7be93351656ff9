"""Load a validated programme into the database: upsert reference data, sync task occurrences.

Idempotent: the same file changes nothing and writes no audit rows. An edited file updates
open tasks due today or later, adds new occurrences and cancels vanished ones; it never touches
a task that is done, cancelled or already past its due date. Does not commit.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from veiligheid_flow.audit import service as audit
from veiligheid_flow.audit.models import AuditEntry
from veiligheid_flow.clock import local_date
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme.expand import occurrences
from veiligheid_flow.programme.loader import LoadedProgramme
from veiligheid_flow.programme.models import (
    FROM_FILE,
    IMPORTED,
    REALISED_FROM_FILE,
    Activity,
    BudgetLine,
    BudgetRealised,
    CouncilItem,
    CouncilMeeting,
    Person,
    PortfolioHolder,
    Programme,
    Theme,
    theme_share,
)
from veiligheid_flow.programme.schema import (
    ActivitySpec,
    CouncilItemSpec,
    ProgrammeSpec,
    municipality_code,
)
from veiligheid_flow.tasks.models import Task, TaskStatus
from veiligheid_flow.workdays import WorkCalendar


@dataclass
class LoadReport:
    programme_code: str
    created: bool = False
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return self.created or any(self.counts.values())


@dataclass
class _Ctx:
    session: Session
    now: datetime
    actor: str
    report: LoadReport

    def upsert(self, model: type[Any], existing: Any, values: dict[str, Any], label: str) -> Any:
        """Create or update one row; audit the fields that changed."""
        if existing is None:
            row = model(**values)
            self.session.add(row)
            self.session.flush()
            self.report.counts[f"{label}.created"] += 1
            self.audit(f"{label}.create", label, row.id, None, values)
            return row
        before = {k: getattr(existing, k) for k, v in values.items() if getattr(existing, k) != v}
        if before:
            after = {k: values[k] for k in before}
            for key, value in after.items():
                setattr(existing, key, value)
            self.report.counts[f"{label}.updated"] += 1
            self.audit(f"{label}.update", label, existing.id, before, after)
        return existing

    def audit(
        self, action: str, kind: str, oid: Any, before: Any, after: Any, reason: str | None = None
    ) -> None:
        audit.record(
            session=self.session,
            at=self.now,
            actor=self.actor,
            action=action,
            object_type=kind,
            object_id=oid,
            before=before,
            after=after,
            reason=reason,
        )


def load_programme(
    loaded: LoadedProgramme, *, session: Session, now: datetime, actor: str
) -> LoadReport:
    spec = loaded.spec
    existing = session.scalars(
        select(Programme).where(Programme.code == spec.programme.code)
    ).one_or_none()
    _check_identity(session, spec.programme.code, spec.municipality, existing)
    report = LoadReport(spec.programme.code, created=existing is None)
    ctx = _Ctx(session, now, actor, report)
    calendar = loaded.calendar
    programme = ctx.upsert(
        Programme,
        existing,
        {
            "code": spec.programme.code,
            "name": spec.programme.name,
            "municipality": spec.municipality,
            "municipality_code": municipality_code(spec.municipality),
            "plan_name": spec.plan.name,
            "plan_adopted_on": spec.plan.adopted_on,
            "start": spec.programme.start,
            "end": spec.programme.end,
            "non_working_days": sorted(d.isoformat() for d in spec.non_working_days),
            "submission_working_days": spec.defaults.submission_working_days,
            "digest": loaded.digest,
            "roles": spec.roles.model_dump(),
            "council_import": spec.council_import.model_dump() if spec.council_import else None,
        }
        # The path a file was read from is recorded, but it is no change of the programme.
        | ({"loaded_at": now, "source_file": loaded.source} if existing is None else {}),
        "programme",
    )
    programme.source_file = loaded.source
    people = _sync_people(ctx, programme, spec)
    holders = _sync_holders(ctx, programme, spec)
    _sync_meetings(ctx, programme, spec)
    items = _sync_council_items(
        ctx, programme, spec.council_items, holders, calendar, spec.defaults.submission_working_days
    )
    activities = _sync_themes(ctx, programme, spec, people, holders, items)
    _sync_shared_themes(ctx, programme, spec, holders)
    _sync_tasks(ctx, programme, spec.programme, activities, calendar, first_load=report.created)
    if report.changed:
        programme.loaded_at = now
        ctx.audit(
            "programme.load",
            "programme",
            programme.id,
            None,
            {"file": loaded.source, "digest": loaded.digest, "changes": dict(report.counts)},
        )
    session.flush()
    return report


def _check_identity(
    session: Session, code: str, municipality: str, existing: Programme | None
) -> None:
    """A programme is its municipality's: a file never takes over another municipality's
    programme, and one municipality code never stands for two names."""
    slug = municipality_code(municipality)
    if existing is not None and existing.municipality_code != slug:
        raise DomainError(
            f"programmacode {code} hoort al bij gemeente {existing.municipality}; dit bestand "
            f"is van {municipality}: geef het programma een eigen programmacode"
        )
    other = session.scalar(
        select(Programme.municipality).where(
            Programme.municipality_code == slug, Programme.municipality != municipality
        )
    )
    if other is not None:
        raise DomainError(
            f"gemeente '{municipality}' krijgt code {slug}, en die hoort al bij '{other}': "
            f"schrijf de naam precies als '{other}'"
        )


def _by_key(
    session: Session, model: type[Any], programme: Programme, attr: str = "key"
) -> dict[str, Any]:
    rows = session.scalars(select(model).where(model.programme_id == programme.id))
    return {getattr(row, attr): row for row in rows}


def _sync_people(ctx: _Ctx, programme: Programme, spec: Any) -> dict[str, Person]:
    current = _by_key(ctx.session, Person, programme)
    people = {
        p.id: ctx.upsert(
            Person,
            current.get(p.id),
            {
                "programme_id": programme.id,
                "key": p.id,
                "name": p.name,
                "email": str(p.email).lower(),
                "role": p.role,
                "hours_per_week": p.hours_per_week,
            },
            "person",
        )
        for p in spec.people
    }
    _mark_leavers(ctx, current, people)
    return people


def _mark_leavers(ctx: _Ctx, current: dict[str, Person], wanted: dict[str, Person]) -> None:
    """A person no longer in the file has left (their rows stay: tasks refer to them); the
    retention job pseudonymises them later. Someone put back is no longer marked."""
    for key, person in current.items():
        if key not in wanted and person.left_at is None:
            person.left_at = ctx.now
            ctx.report.counts["person.left"] += 1
            ctx.audit("person.left", "person", person.id, None, {"left_at": ctx.now})
    for person in wanted.values():
        if person.left_at is not None:
            ctx.report.counts["person.return"] += 1
            ctx.audit("person.return", "person", person.id, {"left_at": person.left_at}, None)
            person.left_at = None


def _sync_holders(ctx: _Ctx, programme: Programme, spec: Any) -> dict[str, PortfolioHolder]:
    current = _by_key(ctx.session, PortfolioHolder, programme)
    return {
        h.id: ctx.upsert(
            PortfolioHolder,
            current.get(h.id),
            {
                "programme_id": programme.id,
                "key": h.id,
                "name": h.name,
                "title": h.title,
                "email": str(h.email).lower(),
                "portfolio": h.portfolio,
            },
            "holder",
        )
        for h in spec.portfolio_holders
    }


def _sync_meetings(ctx: _Ctx, programme: Programme, spec: Any) -> None:
    current = {
        (m.body, m.date): m for m in _by_key(ctx.session, CouncilMeeting, programme, "id").values()
    }
    wanted = {(m.body, m.date) for m in spec.council_meetings}
    for key in wanted - current.keys():
        ctx.upsert(
            CouncilMeeting,
            None,
            {"programme_id": programme.id, "body": key[0], "date": key[1]},
            "meeting",
        )
    for key in current.keys() - wanted:
        ctx.session.delete(current[key])
        ctx.report.counts["meeting.deleted"] += 1
        ctx.audit(
            "meeting.delete", "meeting", current[key].id, {"body": key[0], "date": key[1]}, None
        )


def check_municipality(session: Session, code: str) -> str:
    """A known municipality code, or a clear error listing the known ones."""
    known = sorted(set(session.scalars(select(Programme.municipality_code))))
    if code not in known:
        raise DomainError(f"onbekende gemeente '{code}' (bekend: {', '.join(known) or 'geen'})")
    return code


def municipal_calendar(session: Session) -> WorkCalendar:
    """Working days of the municipality: public holidays plus every loaded programme's days off."""
    days: set[date] = set()
    for values in session.scalars(select(Programme.non_working_days)):
        days.update(date.fromisoformat(d) for d in values)
    return WorkCalendar(days)


def submission_deadline(item: CouncilItemSpec, calendar: WorkCalendar, default_days: int) -> date:
    """Given, or N working days before the committee meeting."""
    if item.submission_deadline is not None:
        return item.submission_deadline
    days = (
        item.submission_working_days if item.submission_working_days is not None else default_days
    )
    return calendar.add_working_days(calendar.on_or_before(item.committee_date), -days)


def council_item_values(
    programme: Programme,
    item: CouncilItemSpec,
    holder: PortfolioHolder,
    calendar: WorkCalendar,
    default_days: int,
) -> dict[str, Any]:
    """A council item's row values, the same for the programme file and the import."""
    return {
        "programme_id": programme.id,
        "code": item.code,
        "subject": item.subject,
        "type": item.type,
        "holder_id": holder.id,
        "committee": item.committee,
        "committee_date": item.committee_date,
        "council_date": item.council_date,
        "submission_deadline": submission_deadline(item, calendar, default_days),
        "active": True,
    }


def _digest(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def _sync_council_items(
    ctx: _Ctx,
    programme: Programme,
    specs: list[CouncilItemSpec],
    holders: dict[str, PortfolioHolder],
    calendar: WorkCalendar,
    default_days: int,
) -> dict[str, CouncilItem]:
    """The file's termijnagenda. An item belongs to whoever wrote it last: one the import
    (`termijnagenda importeer`) changed after the file keeps the imported values until the
    file itself changes that item (`file_digest`: the item as the file gave it last); items
    only the import brought are never dropped by a reload."""
    current = _by_key(ctx.session, CouncilItem, programme, "code")
    result: dict[str, CouncilItem] = {}
    for c in specs:
        values = council_item_values(programme, c, holders[c.holder], calendar, default_days)
        digest = _digest(values)
        row = current.get(c.code)
        if row is not None and row.source == IMPORTED and row.file_digest == digest:
            result[c.code] = row  # the import wrote it after this file did: it stands
            continue
        row = ctx.upsert(CouncilItem, row, values | {"source": FROM_FILE}, "council_item")
        row.file_digest = digest  # bookkeeping, no change of the item: not audited
        result[c.code] = row
    for code in current.keys() - result.keys():
        if current[code].source == FROM_FILE:
            ctx.upsert(CouncilItem, current[code], {"active": False}, "council_item")
    return result


def _sync_themes(
    ctx: _Ctx,
    programme: Programme,
    spec: Any,
    people: dict[str, Person],
    holders: dict[str, PortfolioHolder],
    items: dict[str, CouncilItem],
) -> list[tuple[Activity, ActivitySpec]]:
    themes = _by_key(ctx.session, Theme, programme, "code")
    acts = _by_key(ctx.session, Activity, programme, "code")
    wanted_acts: list[tuple[Activity, ActivitySpec]] = []
    seen_themes = set()
    for t in spec.themes:
        seen_themes.add(t.code)
        theme = ctx.upsert(
            Theme,
            themes.get(t.code),
            {
                "programme_id": programme.id,
                "code": t.code,
                "name": t.name,
                "kind": t.kind,
                "council_priority": t.council_priority,
                "owner_id": people[t.owner].id,
                "backup_id": people[t.backup].id,
                "partners": list(t.partners),
                "active": True,
            },
            "theme",
        )
        wanted_holders = [holders[h] for h in sorted(t.holders)]
        ours = [h for h in theme.holders if h.programme_id == programme.id]
        if [h.id for h in ours] != [h.id for h in wanted_holders]:
            before = [h.key for h in ours]
            # Holders of municipalities that share this district theme keep their link.
            theme.holders = [h for h in theme.holders if h.programme_id != programme.id]
            theme.holders += wanted_holders
            ctx.report.counts["theme.holders"] += 1
            ctx.audit(
                "theme.update",
                "theme",
                theme.id,
                {"holders": before},
                {"holders": sorted(t.holders)},
            )
        _sync_budget(ctx, theme, t.budget)
        _sync_realised(ctx, theme, t.realised)
        for a in t.activities:
            owner = people[a.owner or t.owner]
            backup = people[a.backup or t.backup]
            activity = ctx.upsert(
                Activity,
                acts.get(a.code),
                {
                    "programme_id": programme.id,
                    "theme_id": theme.id,
                    "code": a.code,
                    "title": a.title,
                    "kind": a.kind,
                    "owner_id": owner.id,
                    "backup_id": backup.id,
                    "legal_basis": a.statutory,
                    "case_type": a.case,
                    "schedule": a.model_dump(
                        mode="json", include={"due", "repeat", "case"}, exclude_none=True
                    ),
                    "effort_hours": a.effort_hours,
                    "case_effort_hours": a.case_effort_hours,
                    "partners": list(a.partners),
                    "council_item_id": items[a.council_item].id if a.council_item else None,
                    "active": True,
                },
                "activity",
            )
            wanted_acts.append((activity, a))
    for code in themes.keys() - seen_themes:
        ctx.upsert(Theme, themes[code], {"active": False}, "theme")
    wanted_codes = {a.code for _, a in wanted_acts}
    for code in acts.keys() - wanted_codes:
        ctx.upsert(Activity, acts[code], {"active": False}, "activity")
    return wanted_acts


def _sync_shared_themes(
    ctx: _Ctx, programme: Programme, spec: Any, holders: dict[str, PortfolioHolder]
) -> None:
    """Share in other programmes' district themes: our holders are linked to them."""
    session = ctx.session
    current = set(
        session.scalars(
            select(theme_share.c.theme_id).where(theme_share.c.programme_id == programme.id)
        )
    )
    wanted: set[int] = set()
    for shared in spec.shared_themes:
        theme = session.scalar(
            select(Theme)
            .join(Programme, Theme.programme_id == Programme.id)
            .where(Programme.code == shared.programme, Theme.code == shared.theme)
        )
        name = f"{shared.programme}/{shared.theme}"
        if theme is None:
            raise DomainError(f"gedeeld thema {name} bestaat niet: laad eerst dat programma")
        if theme.kind != "district" or theme.programme_id == programme.id:
            raise DomainError(f"{name} is geen districtsthema van een ander programma")
        wanted.add(theme.id)
        ours = sorted(holders[h].id for h in shared.holders)
        if (
            theme.id not in current
            or sorted(h.id for h in theme.holders if h.programme_id == programme.id) != ours
        ):
            _link_holders(ctx, programme, theme, [holders[h] for h in sorted(shared.holders)])
            if theme.id not in current:
                session.execute(
                    theme_share.insert().values(theme_id=theme.id, programme_id=programme.id)
                )
    for theme_id in current - wanted:
        _link_holders(ctx, programme, session.get(Theme, theme_id), [])
        session.execute(
            theme_share.delete().where(
                theme_share.c.theme_id == theme_id, theme_share.c.programme_id == programme.id
            )
        )


def _link_holders(
    ctx: _Ctx, programme: Programme, theme: Theme, ours: list[PortfolioHolder]
) -> None:
    before = [h.key for h in theme.holders if h.programme_id == programme.id]
    theme.holders = [h for h in theme.holders if h.programme_id != programme.id] + ours
    ctx.report.counts["theme.shared"] += 1
    ctx.audit(
        "theme.share",
        "theme",
        theme.id,
        {"programme": programme.code, "holders": before},
        {"programme": programme.code, "holders": [h.key for h in ours]},
    )


def _sync_budget(ctx: _Ctx, theme: Theme, lines: list[Any]) -> None:
    wanted = sorted((b.year, b.amount, b.description) for b in lines)
    current = sorted((b.year, b.amount, b.description) for b in theme.budget_lines)
    if wanted != current:
        theme.budget_lines.clear()
        ctx.session.flush()  # delete first: the new lines share (theme, year, description)
        theme.budget_lines = [BudgetLine(year=y, amount=a, description=d) for y, a, d in wanted]
        ctx.report.counts["theme.budget"] += 1
        ctx.audit("theme.budget", "theme", theme.id, {"budget": current}, {"budget": wanted})


def _sync_realised(ctx: _Ctx, theme: Theme, lines: list[Any]) -> None:
    """The file's `realised:` lines: new ones added, vanished ones marked removed (never
    deleted, so a past moment still reads them); bookings made with the command are kept."""
    current = {
        (r.year, r.amount, r.description): r
        for r in ctx.session.scalars(
            select(BudgetRealised).where(
                BudgetRealised.theme_id == theme.id,
                BudgetRealised.source == REALISED_FROM_FILE,
                BudgetRealised.removed_at.is_(None),
            )
        )
    }
    wanted = {(b.year, b.amount, b.description) for b in lines}
    if wanted == current.keys():
        return
    for key in current.keys() - wanted:
        current[key].removed_at = ctx.now
    for year, amount, description in sorted(wanted - current.keys()):
        ctx.session.add(
            BudgetRealised(
                theme_id=theme.id,
                year=year,
                amount=amount,
                description=description,
                source=REALISED_FROM_FILE,
                recorded_at=ctx.now,
                recorded_by=ctx.actor,
            )
        )
    ctx.report.counts["theme.realised"] += 1
    ctx.audit(
        "theme.realised",
        "theme",
        theme.id,
        {"realised": sorted(current)},
        {"realised": sorted(wanted)},
    )


def _sync_tasks(
    ctx: _Ctx,
    programme: Programme,
    period: ProgrammeSpec,
    activities: list[tuple[Activity, ActivitySpec]],
    calendar: WorkCalendar,
    *,
    first_load: bool,
) -> None:
    today = local_date(ctx.now)
    existing = {
        (t.activity_id, t.occurrence_key): t
        for t in ctx.session.scalars(
            select(Task).where(
                Task.programme_id == programme.id, Task.occurrence_key.notlike("case:%")
            )
        )
    }
    wanted: set[tuple[int, str]] = set()
    new: list[dict[str, Any]] = []
    for activity, spec in activities:
        for occ in occurrences(spec, period, calendar):
            key = (activity.id, occ.key)
            wanted.add(key)
            values = {
                "title": activity.title,
                "statutory": activity.statutory,
                "legal_basis": activity.legal_basis,
                "owner_id": activity.owner_id,
                "backup_id": activity.backup_id,
                "planned_due": occ.due,
                "effort_hours": activity.effort_hours,
                "council_item_id": activity.council_item_id,
                "theme_id": activity.theme_id,
            }
            task = existing.get(key)
            if task is None:
                if first_load or occ.due >= today:
                    new.append(_new_task(programme, activity, occ.key, values))
            elif _editable(task, today):
                ctx.upsert(Task, task, values, "task")
    _insert_tasks(ctx, new)
    for key, task in existing.items():
        if key not in wanted and _editable(task, today):
            before = {"status": task.status.value}
            task.status = TaskStatus.CANCELLED
            task.status_changed_at, task.status_changed_by = ctx.now, ctx.actor
            ctx.report.counts["task.cancelled"] += 1
            ctx.audit(
                "task.cancel",
                "task",
                task.id,
                before,
                {"status": "cancelled"},
                "vervallen in het gewijzigde programma",
            )


def _editable(task: Task, today: date) -> bool:
    return task.open and task.planned_due >= today


def _new_task(
    programme: Programme, activity: Activity, key: str, values: dict[str, Any]
) -> dict[str, Any]:
    return {
        **values,
        "programme_id": programme.id,
        "activity_id": activity.id,
        "occurrence_key": key,
        "status": TaskStatus.OPEN,
        "handed_over": False,
        "due_date": values["planned_due"],
        "responsible_id": values["owner_id"],
        "tier": 9,
        "paused": False,
        "flags": [],
        "decision": {},
    }


def _insert_tasks(ctx: _Ctx, rows: list[dict[str, Any]]) -> None:
    """New tasks and their audit entries, in two batched statements (a first load of a
    programme adds thousands)."""
    if not rows:
        return
    ids = ctx.session.scalars(insert(Task).returning(Task.id, sort_by_parameter_order=True), rows)
    entries = [
        audit.entry_values(
            at=ctx.now,
            actor=ctx.actor,
            action="task.create",
            object_type="task",
            object_id=task_id,
            after=row,
        )
        for task_id, row in zip(ids.all(), rows, strict=True)
    ]
    ctx.session.execute(insert(AuditEntry), entries)
    ctx.report.counts["task.created"] += len(rows)
