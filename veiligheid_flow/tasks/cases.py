"""Open a statutory case: a task with a legal deadline computed from the rules. No commit."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veiligheid_flow import limits
from veiligheid_flow.audit import service as audit
from veiligheid_flow.authority import Actor, Role, require_role, resolve_actor
from veiligheid_flow.errors import DomainError
from veiligheid_flow.programme.models import Activity, Programme
from veiligheid_flow.rules.legal import legal_deadline
from veiligheid_flow.rules.service import programme_calendar
from veiligheid_flow.rules.tables import RuleBook
from veiligheid_flow.tasks.models import Task, TaskStatus


def open_case(
    *,
    session: Session,
    book: RuleBook,
    case_type: str,
    event_day: date,
    by: str | Actor,
    now: datetime,
    reference: str | None = None,
    extended: bool = False,
    municipality: str | None = None,
) -> Task:
    actor = resolve_actor(session, by, municipality)
    served = {code for code in actor.municipalities if actor.has(Role.STAFF, code)}
    if municipality:
        require_role(actor, Role.STAFF, [municipality], "daar een wettelijke zaak openen")
        served &= {municipality}
    elif not served:
        require_role(actor, Role.STAFF, actor.municipalities or ["?"], "een wettelijke zaak openen")
    case = book.cases.get(case_type)
    if case is None:
        raise DomainError(
            f"onbekend zaaktype '{case_type}' (bekend: {', '.join(sorted(book.cases))})"
        )
    if reference and (limits.control_problem(reference) or len(reference) > 120):
        raise DomainError("kenmerk moet één regel van hooguit 120 tekens zijn")
    found = session.execute(
        select(Activity, Programme.municipality_code)
        .join(Programme, Programme.id == Activity.programme_id)
        .where(
            Activity.case_type == case_type,
            Activity.active.is_(True),
            Programme.start <= event_day,
            Programme.end >= event_day,
            Programme.municipality_code.in_(served),
        )
        .order_by(Programme.start.desc())
    ).all()
    if not found:
        raise DomainError(
            f"geen activiteit met 'case: {case_type}' in een programma dat {event_day} omvat "
            f"(gemeente {', '.join(sorted(served))})"
        )
    if len({code for _, code in found}) > 1:
        raise DomainError(f"{actor.label} werkt voor meer dan één gemeente: geef --municipality")
    activity = found[0][0]
    office = programme_calendar(session.get(Programme, activity.programme_id))
    deadline = legal_deadline(
        case, event_day, extended=extended, equated=book.equated_days, office=office
    )
    number = 1 + (
        session.scalar(select(func.count(Task.id)).where(Task.activity_id == activity.id)) or 0
    )
    label = reference or f"{event_day:%d-%m-%Y}"
    task = Task(
        programme_id=activity.programme_id,
        activity_id=activity.id,
        theme_id=activity.theme_id,
        occurrence_key=f"case:{number}",
        title=f"{case.title} ({label})"[:300],
        statutory=True,
        legal_basis=case.source,
        owner_id=activity.owner_id,
        backup_id=activity.backup_id,
        planned_due=deadline.due,
        # The programme's hours per case win over the case type's default.
        effort_hours=(
            case.effort_hours if activity.case_effort_hours is None else activity.case_effort_hours
        ),
        council_item_id=activity.council_item_id,
        status=TaskStatus.OPEN,
        handed_over=False,
        note=deadline.explanation,
        due_date=deadline.due,
        tier=1,
        paused=False,
        responsible_id=activity.owner_id,
        flags=[],
        decision={},
    )
    session.add(task)
    session.flush()
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="case.open",
        object_type="task",
        object_id=task.id,
        after={
            "case": case_type,
            "event_day": event_day,
            "due": deadline.due,
            "reference": reference,
        },
        reason=deadline.explanation,
    )
    return task
