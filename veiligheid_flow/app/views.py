"""What the read side returns: frozen, plain values (no ORM rows, no session), and their JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, is_dataclass
from datetime import date, datetime
from typing import Any

from veiligheid_flow.clock import local_datetime


@dataclass(frozen=True)
class PersonRef:
    name: str  # the address itself when nobody of that address is known (e.g. "regels")
    email: str


@dataclass(frozen=True)
class CrisisView:
    id: int
    title: str
    grip: int
    municipalities: tuple[str, ...]
    themes: tuple[str, ...]
    staff: tuple[PersonRef, ...]
    declared_by: PersonRef
    declared_at: datetime
    expected_end: date
    ended_at: datetime | None
    ended_by: PersonRef | None
    active: bool
    paused_tasks: int  # tasks with an open pause period of this crisis


@dataclass(frozen=True)
class AbsenceView:
    id: int
    person: PersonRef
    start: date
    end: date
    reason: str | None
    created_by: PersonRef
    created_at: datetime
    cancelled: bool
    current: bool  # `now` falls within it and it is not cancelled


@dataclass(frozen=True)
class PauseView:
    crisis_id: int
    crisis_title: str
    since: date
    until: date | None  # open while the crisis pauses the task


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: PersonRef
    action: str
    object_type: str
    object_id: str
    object_label: str  # "taak 12 — <title>", "crisis 3 — <title>"
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    rule_ids: tuple[str, ...]


@dataclass(frozen=True)
class AuditPage:
    items: tuple[AuditView, ...]  # oldest first within the page
    total: int
    page: int
    pages: int
    limit: int


@dataclass(frozen=True)
class StepView:
    table: str
    rule_id: str
    version: int
    reason: str
    facts: dict[str, Any]


@dataclass(frozen=True)
class TaskDetail:
    id: int
    title: str
    programme: str
    municipality: str
    theme_code: str
    theme_name: str
    activity: str
    status: str
    status_label: str  # Dutch, "gepauzeerd" while a crisis pauses it
    paused: bool
    tier: int
    tier_label: str
    statutory: bool
    legal_basis: str | None
    planned_due: date
    due_date: date
    effort_hours: float
    owner: PersonRef
    backup: PersonRef
    responsible: PersonRef
    handed_over: bool
    council_item: str | None
    council_subject: str | None
    flags: tuple[str, ...]
    note: str | None
    status_changed_at: datetime | None
    status_changed_by: PersonRef | None
    steps: tuple[StepView, ...]
    paused_by: tuple[int, ...]
    pauses: tuple[PauseView, ...]
    history: tuple[AuditView, ...]


@dataclass(frozen=True)
class PersonView:
    name: str
    email: str
    municipality: str
    role: str
    hours_per_week: float
    absent_now: bool
    on_crisis_duty: bool


@dataclass(frozen=True)
class ThemeView:
    code: str
    name: str
    municipality: str
    kind: str
    holders: tuple[str, ...]
    owner: PersonRef
    backup: PersonRef
    open: int
    late: int
    paused: int


@dataclass(frozen=True)
class CouncilItemView:
    code: str
    subject: str
    municipality: str
    holder: str
    committee: str
    committee_date: date
    submission_deadline: date
    days_left: int  # calendar days from `now` to the submission deadline (negative: passed)
    at_risk: bool  # an open task of the item carries the rules' council_at_risk signal


def plain(value: Any) -> Any:
    """A view (or a list of them) as JSON-ready values: ISO dates, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def list_json(now: datetime, municipality: str | None, items: Any, **extra: Any) -> dict[str, Any]:
    """The one shape of a listing: {now, municipality, count, items} (+ paging for the log)."""
    rows = plain(list(items))
    return {
        "now": local_datetime(now).isoformat(),
        "municipality": municipality,
        "count": len(rows),
        **extra,
        "items": rows,
    }


def item_json(now: datetime, item: Any) -> dict[str, Any]:
    """The one shape of a `show`: {now, item}."""
    return {"now": local_datetime(now).isoformat(), "item": plain(item)}
