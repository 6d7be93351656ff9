"""Crises, absences and priority overrides. Each records the event and audits it; the caller
re-evaluates the rules in the same unit of work. Does not commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veiligheid_flow import limits
from veiligheid_flow.audit import service as audit
from veiligheid_flow.authority import (
    Actor,
    Role,
    require_role,
    require_shares,
    resolve_actor,
    resolve_person,
)
from veiligheid_flow.clock import local_date
from veiligheid_flow.crisis.models import Absence, Crisis, PriorityOverride
from veiligheid_flow.errors import DomainError, NotFound
from veiligheid_flow.programme.models import Programme, Theme
from veiligheid_flow.rules.tables import MAX_CRISIS_DAYS
from veiligheid_flow.tasks.service import get_task
from veiligheid_flow.workdays import WorkCalendar


def known_municipalities(session: Session) -> list[str]:
    return sorted(set(session.scalars(select(Programme.municipality_code))))


def _check_municipalities(session: Session, codes: Sequence[str]) -> list[str]:
    known = known_municipalities(session)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise DomainError(f"onbekende gemeente: {', '.join(unknown)} (bekend: {', '.join(known)})")
    return sorted(set(codes))


def _check_themes(
    session: Session, themes: Sequence[str], municipalities: Sequence[str]
) -> list[str]:
    known = set(
        session.scalars(
            select(Theme.code)
            .join(Programme, Theme.programme_id == Programme.id)
            .where(Programme.municipality_code.in_(municipalities))
        )
    )
    unknown = [t for t in themes if t not in known]
    if unknown:
        raise DomainError(
            f"onbekend thema: {', '.join(unknown)} (bekend: {', '.join(sorted(known))})"
        )
    return sorted(set(themes))


def declare(
    *,
    session: Session,
    title: str,
    grip: int,
    by: str | Actor,
    now: datetime,
    themes: Sequence[str] = (),
    staff: Sequence[str] = (),
    municipalities: Sequence[str] = (),
    expected_days: int,
    calendar: WorkCalendar,
) -> Crisis:
    """A crisis in `municipalities` (default: the declaring portfolio holder's own)."""
    if not 1 <= expected_days <= MAX_EXPECTED_DAYS:
        raise DomainError(f"de verwachte duur is 1 tot {MAX_EXPECTED_DAYS} werkdagen")
    _check_grip(grip)
    title = _check_title(title)
    first = municipalities[0] if len(municipalities) == 1 else None
    actor = resolve_actor(session, by, first)
    codes = _check_municipalities(session, municipalities or [_home(actor)])
    require_role(actor, Role.CRISIS, codes, "daar een crisis vastleggen")
    start = local_date(now)
    crisis = Crisis(
        title=title,
        grip=grip,
        declared_by=actor.label,
        declared_at=now,
        expected_end=calendar.add_working_days(start, expected_days),
        municipalities=codes,
        themes=_check_themes(session, themes, codes),
        staff=sorted({resolve_person(session, s, first) for s in staff}),
    )
    session.add(crisis)
    session.flush()
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="crisis.declare",
        object_type="crisis",
        object_id=crisis.id,
        after=_crisis_dict(crisis),
    )
    return crisis


GRIP_LEVELS = range(0, 6)  # GRIP 0 (routine) to 5
MAX_EXPECTED_DAYS = MAX_CRISIS_DAYS  # a year of working days, as in settings.yaml


def _check_grip(grip: int) -> None:
    if grip not in GRIP_LEVELS:
        raise DomainError(
            f"GRIP-niveau {grip} bestaat niet: kies {GRIP_LEVELS[0]} tot {GRIP_LEVELS[-1]}"
        )


def _check_title(title: str) -> str:
    title = title.strip()
    problem = limits.control_problem(title) or limits.length_problem(title, limits.TEXT)
    if problem or not title:
        raise DomainError(f"de titel {problem or 'mag niet leeg zijn'}: geef één regel")
    return title


def _crisis_dict(crisis: Crisis) -> dict[str, object]:
    return {
        "title": crisis.title,
        "grip": crisis.grip,
        "municipalities": crisis.municipalities,
        "themes": crisis.themes,
        "staff": crisis.staff,
        "expected_end": crisis.expected_end,
        "ended_at": crisis.ended_at,
    }


def _home(actor: Actor) -> str:
    """The one municipality where `actor` is crisis authority (the default scope)."""
    mine = sorted(code for code in actor.municipalities if actor.has(Role.CRISIS, code))
    if len(mine) == 1:
        return mine[0]
    if mine:
        raise DomainError(
            f"{actor.label} is crisisbevoegd in {', '.join(mine)}: geef --municipality"
        )
    if actor.municipalities:
        return min(actor.municipalities)  # refused by the role check, with its name
    raise DomainError(
        f"Alleen de {Role.CRISIS.value} van een gemeente mag een crisis vastleggen; "
        f"{actor.label} is dat niet."
    )


def _only(crisis: Crisis) -> str | None:
    return crisis.municipalities[0] if len(crisis.municipalities) == 1 else None


def get_crisis(session: Session, crisis_id: int) -> Crisis:
    crisis = session.get(Crisis, crisis_id)
    if crisis is None:
        raise NotFound(f"crisis {crisis_id} bestaat niet")
    return crisis


def update_scope(
    *,
    session: Session,
    crisis_id: int,
    by: str | Actor,
    now: datetime,
    themes: Sequence[str] | None = None,
    staff: Sequence[str] | None = None,
    grip: int | None = None,
) -> Crisis:
    crisis = get_crisis(session, crisis_id)
    if crisis.ended_at is not None:
        raise DomainError(f"crisis {crisis_id} is al beëindigd")
    actor = resolve_actor(session, by, _only(crisis))
    require_role(actor, Role.CRISIS, crisis.municipalities, "deze crisis wijzigen")
    if grip is not None:
        _check_grip(grip)
    before = _crisis_dict(crisis)
    only = _only(crisis)
    if themes is not None:
        crisis.themes = _check_themes(session, themes, crisis.municipalities)
    if staff is not None:
        crisis.staff = sorted({resolve_person(session, s, only) for s in staff})
    if grip is not None:
        crisis.grip = grip
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="crisis.update",
        object_type="crisis",
        object_id=crisis.id,
        before=before,
        after=_crisis_dict(crisis),
    )
    return crisis


def end(*, session: Session, crisis_id: int, by: str | Actor, now: datetime) -> Crisis:
    crisis = get_crisis(session, crisis_id)
    if crisis.ended_at is not None:
        raise DomainError(f"crisis {crisis_id} is al beëindigd")
    if now < crisis.declared_at:
        raise DomainError("een crisis kan niet eindigen vóór ze begon")
    actor = resolve_actor(session, by, _only(crisis))
    require_role(actor, Role.CRISIS, crisis.municipalities, "deze crisis beëindigen")
    crisis.ended_at, crisis.ended_by = now, actor.label
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="crisis.end",
        object_type="crisis",
        object_id=crisis.id,
        before={"ended_at": None},
        after={"ended_at": now},
    )
    return crisis


def add_absence(
    *,
    session: Session,
    person: str,
    start: date,
    end: date,
    by: str | Actor,
    now: datetime,
    reason: str | None = None,
) -> Absence:
    if end < start:
        raise DomainError("de einddatum van de afwezigheid ligt vóór de begindatum")
    actor = resolve_actor(session, by)
    email = resolve_person(session, person)
    if actor.email != email:  # one's own absence needs no coordinator
        require_shares(
            actor, resolve_actor(session, email), Role.COORDINATOR, "afwezigheid vastleggen"
        )
    absence = Absence(
        email=email,
        start=start,
        end=end,
        reason=reason,
        created_by=actor.label,
        created_at=now,
        cancelled=False,
    )
    session.add(absence)
    session.flush()
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="absence.add",
        object_type="absence",
        object_id=absence.id,
        after={"email": email, "start": start, "end": end, "reason": reason},
    )
    return absence


def cancel_absence(
    *, session: Session, absence_id: int, by: str | Actor, now: datetime
) -> Absence:
    absence = session.get(Absence, absence_id)
    if absence is None or absence.cancelled:
        raise NotFound(f"afwezigheid {absence_id} bestaat niet (meer)")
    actor = resolve_actor(session, by)
    absent = resolve_actor(session, absence.email)
    if actor.email != absence.email:
        require_shares(actor, absent, Role.COORDINATOR, "afwezigheid intrekken")
    absence.cancelled = True
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="absence.cancel",
        object_type="absence",
        object_id=absence.id,
        before={"cancelled": False},
        after={"cancelled": True},
    )
    return absence


def set_priority(
    *, session: Session, task_id: int, tier: int, by: str | Actor, reason: str, now: datetime
) -> PriorityOverride:
    """A portfolio holder of the task's theme sets its tier; this wins over the tables."""
    if not 1 <= tier <= 9:
        raise DomainError("prioriteitsklasse moet tussen 1 en 9 liggen")
    if not reason.strip():
        raise DomainError("geef een reden (--reason)")
    task = get_task(session=session, task_id=task_id)
    actor = _theme_holder(session, task, by, "de prioriteit van deze taak zetten")
    previous = _active_override(session, task_id)
    if previous:
        previous.active = False
    override = PriorityOverride(
        task_id=task_id, tier=tier, by=actor.label, reason=reason, at=now, active=True
    )
    session.add(override)
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="priority.set",
        object_type="task",
        object_id=task_id,
        before={"tier": previous.tier if previous else task.tier},
        after={"tier": tier},
        reason=reason,
    )
    return override


def clear_priority(*, session: Session, task_id: int, by: str | Actor, now: datetime) -> None:
    task = get_task(session=session, task_id=task_id)
    actor = _theme_holder(session, task, by, "de prioriteit van deze taak weghalen")
    previous = _active_override(session, task_id)
    if previous is None:
        raise DomainError(f"taak {task_id} heeft geen prioriteit van een portefeuillehouder")
    previous.active = False
    audit.record(
        session=session,
        at=now,
        actor=actor.label,
        action="priority.clear",
        object_type="task",
        object_id=task_id,
        before={"tier": previous.tier},
        after=None,
    )


def _theme_holder(session: Session, task: Any, by: str | Actor, action: str) -> Actor:
    """A portfolio holder of the task's theme, serving the task's municipality."""
    code = task.programme.municipality_code
    actor = resolve_actor(session, by, None if isinstance(by, Actor) else code)
    require_role(actor, Role.HOLDER, [code], action)
    holders = task.theme.holders
    if actor.email not in {h.email for h in holders}:
        names = ", ".join(f"{h.name} ({h.email})" for h in holders)
        raise DomainError(
            f"Alleen de portefeuillehouder van thema {task.theme.code} ({names}) mag {action}; "
            f"{actor.label} is dat niet."
        )
    return actor


def _active_override(session: Session, task_id: int) -> PriorityOverride | None:
    return session.scalars(
        select(PriorityOverride).where(
            PriorityOverride.task_id == task_id, PriorityOverride.active.is_(True)
        )
    ).first()
